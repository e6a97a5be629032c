//! Privacy: export everything held about a party, and erase it.

use crm_auth::Principal;
use crm_proto::customers::v1::events as ev;
use crm_proto::customers::v1::{self as pb, PartyStatus};
use serde_json::json;

use super::{CustomersApi, party_for_read};
use crate::error::{Error, Result, invalid};
use crate::events;
use crate::storage::{audit, parties, relationships, timestamp};

impl CustomersApi {
    pub(super) async fn handle_export_party(
        &self,
        principal: &Principal,
        req: pb::ExportPartyRequest,
    ) -> Result<pb::ExportPartyResponse> {
        if req.id.is_empty() {
            return Err(invalid("id", "required"));
        }
        let mut conn = self.store.conn().await?;
        let party = party_for_read(&mut conn, principal, &req.id).await?;
        let relationships =
            relationships::touching(&mut conn, std::slice::from_ref(&req.id), true, true, &[]).await?;
        let mut audit_entries = Vec::new();
        let mut after = 0;
        loop {
            let page = audit::list(&mut conn, &req.id, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.sequence;
            audit_entries.extend(page);
        }
        crate::domain::party::redact_audit_for(principal, &mut audit_entries);
        let merged_party_ids = parties::merged_into(&mut conn, &req.id).await?;
        Ok(pb::ExportPartyResponse {
            party: Some(party),
            relationships,
            audit_entries,
            merged_party_ids,
        })
    }

    pub(super) async fn handle_erase_party(
        &self,
        principal: &Principal,
        req: pb::ErasePartyRequest,
    ) -> Result<pb::ErasePartyResponse> {
        if req.id.is_empty() {
            return Err(invalid("id", "required"));
        }
        let mut tx = self.store.begin().await?;
        let party = parties::get(&mut tx, &req.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("party {}", req.id)))?;
        if party.status == PartyStatus::Erased as i32 {
            return Err(Error::FailedPrecondition(format!(
                "party {} is already erased",
                req.id
            )));
        }
        relationships::delete_all_of(&mut tx, &req.id).await?;
        let erased_at = parties::erase(&mut tx, &req.id, self.store.now_micros()).await?;
        let version = parties::get(&mut tx, &req.id)
            .await?
            .map(|p| p.version())
            .unwrap_or_default();
        crate::duplicates::check(&mut tx, std::slice::from_ref(&req.id)).await?;
        // The trail keeps who did what and when, not the erased data itself.
        audit::scrub(&mut tx, &req.id).await?;
        // Nor does the outbox; the stream is purged once the erasure is published (see
        // crate::erasure).
        crm_events::privacy::scrub_outbox(&mut tx, &req.id).await?;
        audit::record(
            &mut tx,
            &principal.user_id,
            "party",
            &req.id,
            "erased",
            json!({"reason": req.reason}),
            self.store.now_micros(),
        )
        .await?;
        events::publish(
            &mut tx,
            ev::PARTY_ERASED,
            &req.id,
            &pb::PartyErased {
                party_id: req.id.clone(),
                version,
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::ErasePartyResponse {
            erase_time: Some(timestamp(erased_at)),
        })
    }
}
