//! Partners: records, hierarchy, lifecycle.

use crm_auth::Principal;
use crm_platform::Violations;
use crm_platform::errors::etag_version;
use crm_platform::paging::{decode_token, next_token, page_size};
use crm_proto::partners::v1::events as ev;
use crm_proto::partners::v1::{self as pb, PartnerStatus};
use crm_storage::Conn;

use super::{PartnersApi, children, confined_to, visible_partner};
use crate::domain::rules::{allowed_transition, is_date, validate_partner};
use crate::error::{Error, Result, invalid};
use crate::events;
use crate::storage::{partners as store, timestamp};

const UPDATABLE: &[&str] = &[
    "name",
    "type",
    "parent_id",
    "region_codes",
    "tier",
    "operating_model",
    "contacts",
    "agreement_start",
    "agreement_end",
    "manager_id",
    "party_id",
];

/// Checks that `parent` exists and is not `id` or below it.
async fn check_parent(conn: &mut Conn, id: &str, parent: &str, v: &mut Violations) -> Result<()> {
    if parent.is_empty() {
        return Ok(());
    }
    if !store::exists(conn, parent).await? {
        v.add("partner.parent_id", "no such partner");
    } else if !id.is_empty() && store::is_within(conn, parent, id).await? {
        v.add("partner.parent_id", "would put the partner below itself");
    }
    Ok(())
}

impl PartnersApi {
    pub(super) async fn handle_create_partner(
        &self,
        principal: &Principal,
        req: pb::CreatePartnerRequest,
    ) -> Result<pb::CreatePartnerResponse> {
        let mut p = req.partner.ok_or_else(|| invalid("partner", "required"))?;
        p.name = p.name.trim().to_string();
        p.status = PartnerStatus::Onboarding as i32;
        p.status_history.clear();
        if p.manager_id.is_empty() {
            p.manager_id = principal.user_id.clone();
        }
        let mut v = validate_partner(&p);
        let mut tx = self.store.begin().await?;
        check_parent(&mut tx, "", &p.parent_id, &mut v).await?;
        v.finish()?;
        store::insert(&mut tx, &mut p, self.store.now_micros())
            .await
            .map_err(|e| {
                if crm_storage::is_unique_violation(&e) {
                    Error::AlreadyExists(format!("partner {:?}", p.name))
                } else {
                    e.into()
                }
            })?;
        let stored = store::get(&mut tx, &p.id)
            .await?
            .ok_or_else(|| Error::NotFound("partner".into()))?;
        events::publish(
            &mut tx,
            ev::PARTNER_CHANGED,
            &stored.id,
            &pb::PartnerChanged {
                partner: Some(stored.clone()),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::CreatePartnerResponse {
            partner: Some(stored),
        })
    }

    pub(super) async fn handle_get_partner(
        &self,
        principal: &Principal,
        req: pb::GetPartnerRequest,
    ) -> Result<pb::GetPartnerResponse> {
        let mut conn = self.store.conn().await?;
        let partner = visible_partner(&mut conn, principal, &req.id).await?;
        Ok(pb::GetPartnerResponse {
            partner: Some(partner),
        })
    }

    pub(super) async fn handle_update_partner(
        &self,
        _principal: &Principal,
        req: pb::UpdatePartnerRequest,
    ) -> Result<pb::UpdatePartnerResponse> {
        let patch = req.partner.ok_or_else(|| invalid("partner", "required"))?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let mut v = Violations::new();
        let expected = etag_version(&patch.etag, "partner.etag", true, &mut v);
        v.check(paths.is_empty(), "update_mask", "name at least one field");
        for path in &paths {
            v.check(
                !UPDATABLE.contains(&path.as_str()),
                "update_mask",
                format!("{path:?} cannot be updated"),
            );
        }
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let mut p = store::get(&mut tx, &patch.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("partner {}", patch.id)))?;
        if Some(p.etag.parse().unwrap_or_default()) != expected {
            return Err(Error::Stale(format!("partner {}", p.id)));
        }
        for path in &paths {
            match path.as_str() {
                "name" => p.name = patch.name.trim().to_string(),
                "type" => p.r#type = patch.r#type,
                "parent_id" => p.parent_id.clone_from(&patch.parent_id),
                "region_codes" => p.region_codes.clone_from(&patch.region_codes),
                "tier" => p.tier.clone_from(&patch.tier),
                "operating_model" => p.operating_model = patch.operating_model,
                "contacts" => p.contacts.clone_from(&patch.contacts),
                "agreement_start" => p.agreement_start.clone_from(&patch.agreement_start),
                "agreement_end" => p.agreement_end.clone_from(&patch.agreement_end),
                "party_id" => p.party_id.clone_from(&patch.party_id),
                _ => p.manager_id.clone_from(&patch.manager_id),
            }
        }
        let mut v = validate_partner(&p);
        check_parent(&mut tx, &p.id, &p.parent_id, &mut v).await?;
        v.finish()?;
        if !store::update(&mut tx, &p, expected.unwrap_or_default()).await? {
            return Err(Error::Stale(format!("partner {}", p.id)));
        }
        let stored = store::get(&mut tx, &p.id)
            .await?
            .ok_or_else(|| Error::NotFound("partner".into()))?;
        events::publish(
            &mut tx,
            ev::PARTNER_CHANGED,
            &stored.id,
            &pb::PartnerChanged {
                partner: Some(stored.clone()),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::UpdatePartnerResponse {
            partner: Some(stored),
        })
    }

    pub(super) async fn handle_list_partners(
        &self,
        principal: &Principal,
        req: pb::ListPartnersRequest,
    ) -> Result<pb::ListPartnersResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 1000, &mut v);
        let after = decode_token(&req.page_token, &mut v);
        v.check(
            req.name_prefix.chars().count() > 200,
            "name_prefix",
            "at most 200 characters",
        );
        v.finish()?;
        let name_prefix = req.name_prefix.trim().to_lowercase();
        let mut conn = self.store.conn().await?;
        let filter = store::ListFilter {
            r#type: req.r#type,
            status: req.status,
            region_code: &req.region_code,
            parent_id: &req.parent_id,
            within: confined_to(principal),
            name_prefix: &name_prefix,
        };
        let matching = store::list(&mut conn, filter, &after, size).await?;
        let next_page_token = next_token(matching.len(), size, matching.last().map(|p| p.id.clone()));
        Ok(pb::ListPartnersResponse {
            partners: matching,
            next_page_token,
        })
    }

    pub(super) async fn handle_get_partner_tree(
        &self,
        principal: &Principal,
        req: pb::GetPartnerTreeRequest,
    ) -> Result<pb::GetPartnerTreeResponse> {
        let mut conn = self.store.conn().await?;
        // The partners the tree shows, and where it starts.
        let (all, roots): (Vec<pb::Partner>, Vec<String>) = if !req.root_id.is_empty() {
            visible_partner(&mut conn, principal, &req.root_id).await?;
            (
                store::subtree(&mut conn, &req.root_id).await?,
                vec![req.root_id.clone()],
            )
        } else {
            match confined_to(principal) {
                // A partner user's tree starts at its own partner.
                Some("") => (Vec::new(), Vec::new()),
                Some(own) => (store::subtree(&mut conn, own).await?, vec![own.to_string()]),
                None => {
                    let all = store::all(&mut conn).await?;
                    let roots = all
                        .iter()
                        .filter(|p| p.parent_id.is_empty())
                        .map(|p| p.id.clone())
                        .collect();
                    (all, roots)
                }
            }
        };
        let kids = children(&all);
        let by_id: std::collections::HashMap<&str, &pb::Partner> =
            all.iter().map(|p| (p.id.as_str(), p)).collect();
        let mut nodes = Vec::new();
        let mut stack: Vec<(String, i32)> = roots.into_iter().rev().map(|r| (r, 0)).collect();
        let mut seen = std::collections::HashSet::new();
        while let Some((id, depth)) = stack.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            let Some(p) = by_id.get(id.as_str()) else { continue };
            nodes.push(pb::PartnerTreeNode {
                partner: Some((*p).clone()),
                depth,
            });
            let mut below: Vec<&String> = kids.get(&id).map(|k| k.iter().collect()).unwrap_or_default();
            below.sort_by_key(|k| by_id.get(k.as_str()).map(|p| p.name.clone()).unwrap_or_default());
            for child in below.into_iter().rev() {
                stack.push((child.clone(), depth + 1));
            }
        }
        Ok(pb::GetPartnerTreeResponse { nodes })
    }

    pub(super) async fn handle_change_partner_status(
        &self,
        principal: &Principal,
        req: pb::ChangePartnerStatusRequest,
    ) -> Result<pb::ChangePartnerStatusResponse> {
        let target = PartnerStatus::try_from(req.status).unwrap_or(PartnerStatus::Unspecified);
        let mut v = Violations::new();
        let expected = etag_version(&req.etag, "etag", true, &mut v);
        v.check(
            target == PartnerStatus::Unspecified || target == PartnerStatus::Onboarding,
            "status",
            "ACTIVE, PROBATION or TERMINATED",
        );
        v.check(
            matches!(target, PartnerStatus::Probation | PartnerStatus::Terminated)
                && req.reason.trim().is_empty(),
            "reason",
            "required for probation and termination",
        );
        v.check(
            !req.effective_date.is_empty() && !is_date(&req.effective_date),
            "effective_date",
            "a date YYYY-MM-DD",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let mut p = store::get(&mut tx, &req.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("partner {}", req.id)))?;
        if Some(p.etag.parse().unwrap_or_default()) != expected {
            return Err(Error::Stale(format!("partner {}", p.id)));
        }
        let current = PartnerStatus::try_from(p.status).unwrap_or(PartnerStatus::Unspecified);
        if !allowed_transition(current, target) {
            return Err(Error::FailedPrecondition(format!(
                "partner {} cannot go from {current:?} to {target:?}",
                p.id
            )));
        }
        let now = self.store.now_micros();
        let change = pb::StatusChange {
            from_status: current as i32,
            to_status: target as i32,
            reason: req.reason.trim().to_string(),
            effective_date: if req.effective_date.is_empty() {
                self.today().format("%Y-%m-%d").to_string()
            } else {
                req.effective_date
            },
            actor_id: principal.user_id.clone(),
            change_time: Some(timestamp(now)),
        };
        p.status = target as i32;
        if !store::update(&mut tx, &p, expected.unwrap_or_default()).await? {
            return Err(Error::Stale(format!("partner {}", p.id)));
        }
        store::record_change(&mut tx, &p.id, &change, now).await?;
        let stored = store::get(&mut tx, &p.id)
            .await?
            .ok_or_else(|| Error::NotFound("partner".into()))?;
        events::publish(
            &mut tx,
            ev::PARTNER_STATUS_CHANGED,
            &stored.id,
            &pb::PartnerStatusChanged {
                partner: Some(stored.clone()),
                change: Some(change),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::ChangePartnerStatusResponse {
            partner: Some(stored),
        })
    }
}
