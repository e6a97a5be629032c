//! Parties: create, read, update, list, search, verification.

use std::time::Duration;

use crm_auth::{Principal, Role};
use crm_platform::Violations;
use crm_platform::paging::{decode_parts, decode_token, finish_walked_page, key_of, next_token, page_size};
use crm_proto::customers::v1::{self as pb, ContactPointKind, LifecycleStage, PartyStatus};
use serde_json::{Value, json};

use crm_platform::errors::etag_version;
use crm_proto::customers::v1::events as ev;

use super::{CustomersApi, party_for_read, party_for_write, prefixed, require_id};
use crate::domain::duplicates::{normalize_email, normalize_phone};
use crate::domain::party as rules;
use crate::error::{Error, Result, invalid};
use crate::events;
use crate::storage::{audit, parties, regions, requests};

/// The audit view of some fields of a party.
pub(super) fn fields_json(party: &pb::Party, fields: &[String]) -> Value {
    let mut map = serde_json::Map::new();
    for field in fields {
        let value = match field.as_str() {
            "kind" => json!(party.kind),
            "given_name" => json!(party.given_name),
            "family_name" => json!(party.family_name),
            "organization_name" => json!(party.organization_name),
            "contact_points" => json!(
                party
                    .contact_points
                    .iter()
                    .map(
                        |c| json!({"kind": c.kind, "value": c.value, "label": c.label, "primary": c.primary})
                    )
                    .collect::<Vec<_>>()
            ),
            "industry" => json!(party.industry),
            "company_size" => json!(party.company_size),
            "region_code" => json!(party.region_code),
            "tags" => json!(party.tags),
            "attributes" => json!(party.attributes),
            "owner_id" => json!(party.owner_id),
            "team_id" => json!(party.team_id),
            "source" => json!(party.source),
            "lifecycle_stage" => json!(party.lifecycle_stage),
            "birth_date" => json!(party.birth_date),
            _ => continue,
        };
        map.insert(field.clone(), value);
    }
    Value::Object(map)
}

pub(super) fn all_fields() -> Vec<String> {
    std::iter::once("kind")
        .chain(rules::UPDATABLE_FIELDS.iter().copied())
        .map(str::to_string)
        .collect()
}

/// Checks that a region code names a configured region.
async fn check_region(
    conn: &mut crm_storage::Conn,
    code: &str,
    field: &str,
    v: &mut Violations,
) -> Result<()> {
    if !code.is_empty() && rules::is_region_code(code) && !regions::exists(conn, code).await? {
        v.add(field, format!("unknown region {code:?}"));
    }
    Ok(())
}

impl CustomersApi {
    pub(super) async fn handle_create_party(
        &self,
        principal: &Principal,
        req: pb::CreatePartyRequest,
    ) -> Result<pb::CreatePartyResponse> {
        let mut party = req.party.ok_or_else(|| invalid("party", "required"))?;
        // Output-only fields are ignored on create.
        party.id.clear();
        party.value = None;
        party.merged_into_id.clear();
        party.etag.clear();
        if party.lifecycle_stage == LifecycleStage::Unspecified as i32 {
            party.lifecycle_stage = LifecycleStage::Prospect as i32;
        }
        if party.owner_id.is_empty() && principal.has_role(Role::SalesRep) {
            party.owner_id = principal.user_id.clone();
            party.team_id = principal.team_id.clone().unwrap_or_default();
        }
        let mut v = prefixed("party", rules::validate(&party));
        v.check(req.request_id.len() > 128, "request_id", "at most 128 characters");
        let mut tx = self.store.begin().await?;
        if !req.request_id.is_empty()
            && let Some(id) = requests::party_of(&mut tx, &req.request_id).await?
        {
            return self.created_before(principal, &id).await;
        }
        check_region(&mut tx, &party.region_code, "party.region_code", &mut v).await?;
        v.finish()?;
        rules::normalise(&mut party);
        parties::insert(
            &mut tx,
            &mut party,
            &self.config.reporting_currency,
            self.store.now_micros(),
        )
        .await?;
        if !req.request_id.is_empty()
            && let Err(err) =
                requests::record(&mut tx, &req.request_id, &party.id, self.store.now_micros()).await
        {
            // The same request, sent twice at once: the other one created the party.
            if crm_storage::is_unique_violation(&err) {
                drop(tx);
                let mut conn = self.store.conn().await?;
                if let Some(id) = requests::party_of(&mut conn, &req.request_id).await? {
                    return self.created_before(principal, &id).await;
                }
            }
            return Err(err.into());
        }
        crate::duplicates::check_new(&mut tx, &party).await?;
        // The insert left the party as a read would return it.
        let stored = party;
        audit::record(
            &mut tx,
            &principal.user_id,
            "party",
            &stored.id,
            "created",
            fields_json(&stored, &all_fields()),
            self.store.now_micros(),
        )
        .await?;
        events::party_created(&mut tx, &stored).await?;
        self.store.commit(tx).await?;
        Ok(pb::CreatePartyResponse { party: Some(stored) })
    }

    /// The answer to a repeated creation request: the party as it is now, read as the caller.
    async fn created_before(&self, principal: &Principal, id: &str) -> Result<pb::CreatePartyResponse> {
        let mut conn = self.store.conn().await?;
        let party = party_for_read(&mut conn, principal, id).await?;
        Ok(pb::CreatePartyResponse { party: Some(party) })
    }

    pub(super) async fn handle_get_party(
        &self,
        principal: &Principal,
        req: pb::GetPartyRequest,
    ) -> Result<pb::GetPartyResponse> {
        if req.id.is_empty() {
            return Err(invalid("id", "required"));
        }
        let mut conn = self.store.conn().await?;
        let mut party = party_for_read(&mut conn, principal, &req.id).await?;
        let mut redirected_from_id = String::new();
        // Follow redirects left by merges (chains are flattened on merge; the bound is a guard).
        for _ in 0..8 {
            if party.status != PartyStatus::Merged as i32 || party.merged_into_id.is_empty() {
                break;
            }
            if redirected_from_id.is_empty() {
                redirected_from_id = req.id.clone();
            }
            party = party_for_read(&mut conn, principal, &party.merged_into_id.clone()).await?;
        }
        Ok(pb::GetPartyResponse {
            party: Some(party),
            redirected_from_id,
        })
    }

    pub(super) async fn handle_update_party(
        &self,
        principal: &Principal,
        req: pb::UpdatePartyRequest,
    ) -> Result<pb::UpdatePartyResponse> {
        let patch = req.party.ok_or_else(|| invalid("party", "required"))?;
        let mut v = Violations::new();
        require_id(&mut v, "party.id", &patch.id);
        let paths = match &req.update_mask {
            Some(mask) => mask.paths.clone(),
            None => {
                v.add("update_mask", "required");
                Vec::new()
            }
        };
        let version = etag_version(&patch.etag, "party.etag", true, &mut v);
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let current = party_for_write(&mut tx, principal, &patch.id, version).await?;
        let self_service = rules::is_self_service(principal, &current);
        if !rules::may_write(principal, &current) {
            let beyond = rules::beyond(&paths, rules::correctable_fields(principal, &current));
            if !beyond.is_empty() {
                return Err(Error::PermissionDenied(format!(
                    "{} may correct only {} of party {}, not {}",
                    principal.user_id,
                    rules::correctable_fields(principal, &current).join(" and "),
                    current.id,
                    beyond.join(", ")
                )));
            }
        }
        let mut next = rules::apply_mask(&current, &patch, &paths)?;
        let mut v = prefixed("party", rules::validate(&next));
        if paths.iter().any(|p| p == "region_code") {
            check_region(&mut tx, &next.region_code, "party.region_code", &mut v).await?;
        }
        v.finish()?;
        rules::normalise(&mut next);
        let changed = rules::changed_fields(&current, &next);
        if changed.is_empty() && !self_service {
            return Ok(pb::UpdatePartyResponse { party: Some(current) });
        }
        let expected: i64 = current.etag.parse().unwrap_or_default();
        if !changed.is_empty() {
            if !parties::update(&mut tx, &mut next, &current, expected, self.store.now_micros()).await? {
                return Err(Error::Stale(format!("party {}", next.id)));
            }
            crate::duplicates::check(&mut tx, std::slice::from_ref(&next.id)).await?;
        }
        if self_service {
            // The customer looked at their contact data: confirmed, corrected or both.
            self.mark_verified(&mut tx, principal, &next.id).await?;
        }
        let mut stored = parties::get(&mut tx, &next.id)
            .await?
            .ok_or_else(|| Error::NotFound("party".into()))?;
        if !changed.is_empty() {
            audit::record(
                &mut tx,
                &principal.user_id,
                "party",
                &stored.id,
                "updated",
                fields_json(&stored, &changed),
                self.store.now_micros(),
            )
            .await?;
            events::party_updated(&mut tx, &current, &stored, changed).await?;
        }
        self.store.commit(tx).await?;
        rules::redact_for(principal, &mut stored);
        Ok(pb::UpdatePartyResponse { party: Some(stored) })
    }

    pub(super) async fn handle_list_parties(
        &self,
        principal: &Principal,
        req: pb::ListPartiesRequest,
    ) -> Result<pb::ListPartiesResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 50, 500, &mut v);
        let after = decode_token(&req.page_token, &mut v);
        v.finish()?;
        let filter = parties::ListFilter {
            kind: req.kind,
            tag: req.tag.trim().to_lowercase(),
            region_code: req.region_code,
            industry: req.industry,
            owner_id: req.owner_id,
            team_id: req.team_id,
            lifecycle_stage: req.lifecycle_stage,
            tier: req.tier,
            only_id: None,
        };
        let mut conn = self.store.conn().await?;
        let mut found = parties::list(&mut conn, &filter, &after, size).await?;
        let next_page_token = next_token(found.len(), size, found.last().map(|p| p.id.clone()));
        found.retain(|p| rules::may_read(principal, p));
        Ok(pb::ListPartiesResponse {
            parties: found,
            next_page_token,
        })
    }

    pub(super) async fn handle_search_parties(
        &self,
        principal: &Principal,
        req: pb::SearchPartiesRequest,
    ) -> Result<pb::SearchPartiesResponse> {
        let query = req.query.trim();
        let mut v = Violations::new();
        v.check(query.chars().count() < 2, "query", "at least 2 characters");
        let size = page_size(req.page_size, 20, 100, &mut v);
        let after = decode_parts(&req.page_token, 2, &mut v).map(|k| (k[0].clone(), k[1].clone()));
        v.finish()?;
        let email = query.contains('@').then(|| normalize_email(query)).flatten();
        let phone = if email.is_none() && query.chars().filter(char::is_ascii_digit).count() >= 7 {
            normalize_phone(query)
        } else {
            None
        };
        let name = (email.is_none() && phone.is_none()).then(|| query.to_lowercase());
        let mut conn = self.store.conn().await?;
        let contact = email
            .map(|e| (ContactPointKind::Email, e))
            .or(phone.map(|p| (ContactPointKind::Phone, p)));
        let page = match (&name, &contact) {
            (Some(name), _) => {
                let walk = parties::NAME_ENTRIES_PER_PAGE;
                parties::search_name(&mut conn, name, after, size + 1, walk).await?
            }
            (None, Some((kind, value))) => parties::SearchPage {
                parties: parties::search_contact(&mut conn, *kind, value, after, size + 1).await?,
                walked_to: None,
            },
            (None, None) => parties::SearchPage::default(),
        };
        // A name search that walked as many entries as it may ends short; the next page goes on
        // from the last entry it walked.
        let walked_to = page.walked_to.map(|(name_key, id)| key_of(&[name_key, id]));
        let (mut found, next_page_token) = finish_walked_page(
            page.parties,
            size,
            |p| key_of(&[rules::name_key(p), p.id.clone()]),
            walked_to,
        );
        found.retain(|p| rules::may_read(principal, p));
        Ok(pb::SearchPartiesResponse {
            parties: found,
            next_page_token,
        })
    }

    pub(super) async fn handle_verify_party(
        &self,
        principal: &Principal,
        req: pb::VerifyPartyRequest,
    ) -> Result<pb::VerifyPartyResponse> {
        if req.id.is_empty() {
            return Err(invalid("id", "required"));
        }
        let mut v = Violations::new();
        let etag = etag_version(&req.etag, "etag", false, &mut v);
        v.finish()?;
        let mut tx = self.store.begin().await?;
        party_for_write(&mut tx, principal, &req.id, etag).await?;
        self.mark_verified(&mut tx, principal, &req.id).await?;
        let mut stored = parties::get(&mut tx, &req.id).await?;
        self.store.commit(tx).await?;
        if let Some(party) = stored.as_mut() {
            rules::redact_for(principal, party);
        }
        Ok(pb::VerifyPartyResponse { party: stored })
    }

    /// Records that `principal` confirmed party `id`'s data now (audited, announced).
    async fn mark_verified(&self, tx: &mut crm_storage::Tx, principal: &Principal, id: &str) -> Result<()> {
        let current = parties::get(tx, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("party {id}")))?;
        let now = self.store.now_micros();
        if !parties::verify(tx, id, current.etag.parse().unwrap_or_default(), now).await? {
            return Err(Error::Stale(format!("party {id}")));
        }
        audit::record(tx, &principal.user_id, "party", id, "verified", json!({}), now).await?;
        events::publish(
            tx,
            ev::PARTY_VERIFIED,
            id,
            &pb::PartyVerified {
                party_id: id.to_string(),
            },
        )
        .await?;
        Ok(())
    }

    pub(super) async fn handle_list_verification_due(
        &self,
        principal: &Principal,
        req: pb::ListVerificationDueRequest,
    ) -> Result<pb::ListVerificationDueResponse> {
        let mut v = Violations::new();
        let period = match req.not_verified_for {
            Some(d) if d.seconds <= 0 && d.nanos <= 0 => {
                v.add("not_verified_for", "must be positive");
                Duration::ZERO
            }
            Some(d) => Duration::new(d.seconds.max(0) as u64, d.nanos.max(0) as u32),
            None => self.config.verification_period,
        };
        let size = page_size(req.page_size, 50, 500, &mut v);
        let token = decode_token(&req.page_token, &mut v);
        let after = if token.is_empty() {
            None
        } else {
            match token
                .split_once(':')
                .and_then(|(t, id)| Some((t.parse::<i64>().ok()?, id.to_string())))
            {
                Some(key) => Some(key),
                None => {
                    v.add("page_token", "not a token returned by this list");
                    None
                }
            }
        };
        v.finish()?;
        let cutoff = self.store.now_micros() - period.as_micros() as i64;
        let mut conn = self.store.conn().await?;
        let mut due = parties::verification_due(&mut conn, cutoff, after, size).await?;
        let last = due.last().map(|p| {
            let t = p.verify_time.unwrap_or_default();
            format!("{}:{}", t.seconds * 1_000_000 + i64::from(t.nanos) / 1000, p.id)
        });
        let next_page_token = next_token(due.len(), size, last);
        due.retain(|p| rules::may_read(principal, p));
        Ok(pb::ListVerificationDueResponse {
            parties: due,
            next_page_token,
        })
    }
}
