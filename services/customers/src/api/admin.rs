//! Reference and administrative records: competitors (administrators only), regions, the audit
//! trail.

use crm_auth::Principal;
use crm_platform::Violations;
use crm_platform::paging::{decode_parts, decode_token, finish_page, key_of, next_token, page_size};
use crm_proto::customers::v1 as pb;
use serde_json::json;

use crm_platform::errors::etag_version;
use crm_proto::customers::v1::events as ev;

use super::CustomersApi;
use crate::domain::party::is_region_code;
use crate::error::{Error, Result, invalid};
use crate::events;
use crate::storage::{audit, competitors, regions};

fn validate_competitor(c: &pb::Competitor) -> Violations {
    let mut v = Violations::new();
    v.check(
        c.name.trim().is_empty() || c.name.len() > 200,
        "competitor.name",
        "1 to 200 characters",
    );
    let is_url = c.website.starts_with("https://") || c.website.starts_with("http://");
    v.check(
        !(c.website.is_empty() || is_url) || c.website.len() > 500,
        "competitor.website",
        "an http(s) URL up to 500 characters",
    );
    for (field, list) in [("strengths", &c.strengths), ("weaknesses", &c.weaknesses)] {
        v.check(
            list.len() > 20,
            format!("competitor.{field}"),
            "at most 20 entries",
        );
        for (i, item) in list.iter().enumerate() {
            v.check(
                item.trim().is_empty() || item.len() > 500,
                format!("competitor.{field}[{i}]"),
                "1 to 500 characters",
            );
        }
    }
    v.check(
        c.notes.len() > 10_000,
        "competitor.notes",
        "at most 10000 characters",
    );
    v
}

fn competitor_json(c: &pb::Competitor) -> serde_json::Value {
    json!({"name": c.name, "website": c.website, "strengths": c.strengths, "weaknesses": c.weaknesses, "notes": c.notes})
}

/// Maps a unique-name violation to ALREADY_EXISTS.
fn name_taken(err: sqlx::Error, name: &str) -> Error {
    if crm_storage::is_unique_violation(&err) {
        Error::AlreadyExists(format!("competitor named {name:?}"))
    } else {
        err.into()
    }
}

impl CustomersApi {
    pub(super) async fn handle_create_competitor(
        &self,
        principal: &Principal,
        req: pb::CreateCompetitorRequest,
    ) -> Result<pb::CreateCompetitorResponse> {
        let mut c = req.competitor.ok_or_else(|| invalid("competitor", "required"))?;
        c.name = c.name.trim().to_string();
        validate_competitor(&c).finish()?;
        let mut tx = self.store.begin().await?;
        competitors::insert(&mut tx, &mut c, self.store.now_micros())
            .await
            .map_err(|e| name_taken(e, &c.name))?;
        audit::record(
            &mut tx,
            &principal.user_id,
            "competitor",
            &c.id,
            "created",
            competitor_json(&c),
            self.store.now_micros(),
        )
        .await?;
        events::publish(
            &mut tx,
            ev::COMPETITOR_CHANGED,
            &c.id,
            &pb::CompetitorChanged {
                competitor: Some(c.clone()),
                deleted: false,
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::CreateCompetitorResponse { competitor: Some(c) })
    }

    pub(super) async fn handle_get_competitor(
        &self,
        _principal: &Principal,
        req: pb::GetCompetitorRequest,
    ) -> Result<pb::GetCompetitorResponse> {
        let mut conn = self.store.conn().await?;
        let c = competitors::get(&mut conn, &req.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("competitor {}", req.id)))?;
        Ok(pb::GetCompetitorResponse { competitor: Some(c) })
    }

    pub(super) async fn handle_list_competitors(
        &self,
        _principal: &Principal,
        req: pb::ListCompetitorsRequest,
    ) -> Result<pb::ListCompetitorsResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 50, 500, &mut v);
        let after = decode_token(&req.page_token, &mut v);
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let found = competitors::list(&mut conn, &after, size).await?;
        let next_page_token = next_token(found.len(), size, found.last().map(|c| c.id.clone()));
        Ok(pb::ListCompetitorsResponse {
            competitors: found,
            next_page_token,
        })
    }

    pub(super) async fn handle_update_competitor(
        &self,
        principal: &Principal,
        req: pb::UpdateCompetitorRequest,
    ) -> Result<pb::UpdateCompetitorResponse> {
        let patch = req.competitor.ok_or_else(|| invalid("competitor", "required"))?;
        let mut v = Violations::new();
        v.check(patch.id.is_empty(), "competitor.id", "required");
        let version = etag_version(&patch.etag, "competitor.etag", true, &mut v);
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        v.check(paths.is_empty(), "update_mask", "name at least one field");
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let mut c = competitors::get(&mut tx, &patch.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("competitor {}", patch.id)))?;
        if Some(c.etag.parse::<i64>().unwrap_or_default()) != version {
            return Err(Error::Stale(format!("competitor {}", c.id)));
        }
        let mut v = Violations::new();
        for path in &paths {
            match path.as_str() {
                "name" => c.name = patch.name.trim().to_string(),
                "website" => c.website.clone_from(&patch.website),
                "strengths" => c.strengths.clone_from(&patch.strengths),
                "weaknesses" => c.weaknesses.clone_from(&patch.weaknesses),
                "notes" => c.notes.clone_from(&patch.notes),
                other => v.add("update_mask", format!("{other:?} cannot be updated")),
            }
        }
        v.finish()?;
        validate_competitor(&c).finish()?;
        if !competitors::update(&mut tx, &c, version.unwrap_or_default(), self.store.now_micros())
            .await
            .map_err(|e| name_taken(e, &c.name))?
        {
            return Err(Error::Stale(format!("competitor {}", c.id)));
        }
        let stored = competitors::get(&mut tx, &c.id)
            .await?
            .ok_or_else(|| Error::NotFound("competitor".into()))?;
        audit::record(
            &mut tx,
            &principal.user_id,
            "competitor",
            &c.id,
            "updated",
            competitor_json(&stored),
            self.store.now_micros(),
        )
        .await?;
        events::publish(
            &mut tx,
            ev::COMPETITOR_CHANGED,
            &c.id,
            &pb::CompetitorChanged {
                competitor: Some(stored.clone()),
                deleted: false,
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::UpdateCompetitorResponse {
            competitor: Some(stored),
        })
    }

    pub(super) async fn handle_delete_competitor(
        &self,
        principal: &Principal,
        req: pb::DeleteCompetitorRequest,
    ) -> Result<pb::DeleteCompetitorResponse> {
        let mut tx = self.store.begin().await?;
        let c = competitors::get(&mut tx, &req.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("competitor {}", req.id)))?;
        competitors::delete(&mut tx, &req.id).await?;
        audit::record(
            &mut tx,
            &principal.user_id,
            "competitor",
            &req.id,
            "deleted",
            json!({}),
            self.store.now_micros(),
        )
        .await?;
        events::publish(
            &mut tx,
            ev::COMPETITOR_CHANGED,
            &req.id,
            &pb::CompetitorChanged {
                competitor: Some(c),
                deleted: true,
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::DeleteCompetitorResponse {})
    }

    pub(super) async fn handle_upsert_region(
        &self,
        principal: &Principal,
        req: pb::UpsertRegionRequest,
    ) -> Result<pb::UpsertRegionResponse> {
        let mut r = req.region.ok_or_else(|| invalid("region", "required"))?;
        r.name = r.name.trim().to_string();
        let mut v = Violations::new();
        v.check(
            !is_region_code(&r.code),
            "region.code",
            "upper-case letters, digits and '-', up to 16",
        );
        v.check(
            r.name.is_empty() || r.name.len() > 200,
            "region.name",
            "1 to 200 characters",
        );
        v.check(
            !r.parent_code.is_empty() && r.parent_code == r.code,
            "region.parent_code",
            "a region cannot contain itself",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        // The parent must exist and must not lie below this region.
        let mut ancestor = r.parent_code.clone();
        let mut steps = 0;
        while !ancestor.is_empty() {
            match regions::parent_of(&mut tx, &ancestor).await? {
                None => return Err(invalid("region.parent_code", "unknown region")),
                Some(_) if ancestor == r.code || steps > 32 => {
                    return Err(invalid("region.parent_code", "would make a cycle"));
                }
                Some(parent) => ancestor = parent,
            }
            steps += 1;
        }
        regions::upsert(&mut tx, &r).await?;
        audit::record(
            &mut tx,
            &principal.user_id,
            "region",
            &r.code,
            "upserted",
            json!({"name": r.name, "parent_code": r.parent_code}),
            self.store.now_micros(),
        )
        .await?;
        events::publish(
            &mut tx,
            ev::REGION_UPSERTED,
            &r.code,
            &pb::RegionUpserted {
                region: Some(r.clone()),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::UpsertRegionResponse { region: Some(r) })
    }

    pub(super) async fn handle_list_regions(
        &self,
        _principal: &Principal,
        req: pb::ListRegionsRequest,
    ) -> Result<pb::ListRegionsResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 500, &mut v);
        let after = decode_parts(&req.page_token, 1, &mut v).map(|mut k| k.remove(0));
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let rows = regions::list(&mut conn, after, size + 1).await?;
        let (regions, next_page_token) = finish_page(rows, size, |r| key_of(&[&r.code]));
        Ok(pb::ListRegionsResponse {
            regions,
            next_page_token,
        })
    }

    pub(super) async fn handle_list_audit_entries(
        &self,
        _principal: &Principal,
        req: pb::ListAuditEntriesRequest,
    ) -> Result<pb::ListAuditEntriesResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 1000, &mut v);
        let token = decode_token(&req.page_token, &mut v);
        let after = if token.is_empty() {
            0
        } else {
            token.parse().unwrap_or(-1)
        };
        v.check(after < 0, "page_token", "not a token returned by this list");
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let entries = audit::list(&mut conn, &req.entity_id, after, size).await?;
        let next_page_token = next_token(
            entries.len(),
            size,
            entries.last().map(|e| e.sequence.to_string()),
        );
        Ok(pb::ListAuditEntriesResponse {
            entries,
            next_page_token,
        })
    }
}
