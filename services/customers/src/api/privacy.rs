//! Privacy: export everything held about a party, and erase it.

use crm_auth::Principal;
use crm_platform::export;
use crm_platform::service::ResponseStream;
use crm_proto::customers::v1::events as ev;
use crm_proto::customers::v1::{self as pb, PartyStatus};
use crm_storage::Conn;
use futures::StreamExt as _;
use prost::Message as _;
use serde_json::json;

use super::{CustomersApi, party_for_read};
use crate::error::{Error, Result, invalid};
use crate::events;
use crate::storage::{audit, parties, relationships, timestamp};

/// The largest ExportParty response: gRPC clients refuse messages over 4 MiB by default.
const EXPORT_LIMIT_BYTES: usize = 3 << 20;

/// Where an export of a party has got to: its parts in order, each read a page at a time from
/// its index, so a hub with a million edges is read a page at a time too.
#[derive(Debug, Clone)]
enum ExportPart {
    /// Edges on either side, after this id.
    Relationships(String),
    /// The audit trail, after this sequence.
    Audit(i64),
    /// Parties merged into this one, after this id.
    Merged(String),
}

impl ExportPart {
    fn first() -> Self {
        ExportPart::Relationships(String::new())
    }
}

/// One page of `party`'s export at `at`, and where the next begins (None: the export is done).
async fn export_page(
    conn: &mut Conn,
    principal: &Principal,
    party: &str,
    at: ExportPart,
) -> Result<(pb::ExportPartyResponse, Option<ExportPart>)> {
    let mut page = pb::ExportPartyResponse::default();
    let next = match at {
        ExportPart::Relationships(after) => {
            let both = relationships::Sides {
                outgoing: true,
                incoming: true,
            };
            page.relationships = relationships::page_of(conn, party, both, &[], &after, export::PAGE).await?;
            let last = page.relationships.last().map(|r| r.id.clone());
            Some(
                export::next_key(page.relationships.len(), export::PAGE, last)
                    .map_or(ExportPart::Audit(0), ExportPart::Relationships),
            )
        }
        ExportPart::Audit(after) => {
            page.audit_entries = audit::list(conn, party, after, export::PAGE).await?;
            let last = page.audit_entries.last().map(|e| e.sequence);
            let next = export::next_key(page.audit_entries.len(), export::PAGE, last);
            crate::domain::party::redact_audit_for(principal, &mut page.audit_entries);
            Some(next.map_or(ExportPart::Merged(String::new()), ExportPart::Audit))
        }
        ExportPart::Merged(after) => {
            page.merged_party_ids = parties::merged_into(conn, party, &after, export::PAGE).await?;
            let last = page.merged_party_ids.last().cloned();
            export::next_key(page.merged_party_ids.len(), export::PAGE, last).map(ExportPart::Merged)
        }
    };
    Ok((page, next))
}

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
        let mut export = pb::ExportPartyResponse {
            party: Some(party),
            ..Default::default()
        };
        // The pages' repeated fields encode one after another, so the answer's size is the sum.
        let mut size = export.encoded_len();
        let mut at = Some(ExportPart::first());
        while let Some(part) = at {
            let (page, next) = export_page(&mut conn, principal, &req.id, part).await?;
            size += page.encoded_len();
            export.relationships.extend(page.relationships);
            export.audit_entries.extend(page.audit_entries);
            export.merged_party_ids.extend(page.merged_party_ids);
            // Stop reading as soon as the answer could not be sent.
            if size > EXPORT_LIMIT_BYTES {
                return Err(Error::FailedPrecondition(format!(
                    "the export of party {} is larger than {} MiB: ExportPartyStream returns it in pages",
                    req.id,
                    EXPORT_LIMIT_BYTES >> 20
                )));
            }
            at = next;
        }
        Ok(export)
    }

    pub(super) async fn handle_export_party_stream(
        &self,
        principal: Principal,
        req: pb::ExportPartyStreamRequest,
    ) -> Result<ResponseStream<pb::ExportPartyStreamResponse>> {
        if req.id.is_empty() {
            return Err(invalid("id", "required"));
        }
        // Refused or missing parties fail the call before the stream begins.
        let party = party_for_read(&mut *self.store.conn().await?, &principal, &req.id).await?;
        let first = pb::ExportPartyStreamResponse {
            party: Some(party),
            ..Default::default()
        };
        let db = self.store.db().clone();
        let id = req.id;
        let rest = export::keyset_pages(ExportPart::first(), move |at| {
            let (db, principal, id) = (db.clone(), principal.clone(), id.clone());
            async move {
                let mut conn = db.pool().acquire().await?;
                let (page, next) = export_page(&mut conn, &principal, &id, at).await?;
                let message = pb::ExportPartyStreamResponse {
                    party: None,
                    relationships: page.relationships,
                    audit_entries: page.audit_entries,
                    merged_party_ids: page.merged_party_ids,
                };
                let empty = message.relationships.is_empty()
                    && message.audit_entries.is_empty()
                    && message.merged_party_ids.is_empty();
                Ok((Some(message).filter(|_| !empty), next))
            }
        });
        Ok(Box::pin(futures::stream::once(async { Ok(first) }).chain(rest)))
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
