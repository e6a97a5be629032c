//! Bulk import and export: parties and relationships in from another system, idempotent per
//! (source, external id); parties out, page by page, under the caller's record rules.

use std::collections::{BTreeSet, HashMap};

use crm_auth::Principal;
use crm_events::outbox;
use crm_platform::Violations;
use crm_platform::export;
use crm_platform::import::{Disposition, ImportRun, check_external_id};
use crm_platform::service::ResponseStream;
use crm_proto::customers::v1::events as ev;
use crm_proto::customers::v1::{self as pb, PartyStatus};
use crm_storage::imports::{self, NewImportKey, NewRowKey};
use serde_json::json;

use super::CustomersApi;
use super::parties::{all_fields, fields_json};
use crate::domain::import::{self as import_rules, PreparedParty};
use crate::domain::party as rules;
use crate::domain::relationship as rel_rules;
use crate::error::{Error, Result};
use crate::events;
use crate::storage::{audit, parties, regions, relationships};

/// Import-key entity name of relationships (parties keep their keys on their rows).
const RELATIONSHIP: &str = "relationship";

impl CustomersApi {
    pub(super) async fn handle_import_parties(
        &self,
        principal: &Principal,
        stream: tonic::Streaming<pb::ImportPartiesRequest>,
    ) -> Result<pb::ImportPartiesResponse> {
        let summary = crm_platform::run_import_concurrently!(
            stream,
            pb::ImportPartiesRequest,
            self.store.db().bulk_write_concurrency(),
            |row| &row.external_id,
            |run, rows| self.import_party_batch(principal, run, rows)
        );
        Ok(pb::ImportPartiesResponse {
            summary: Some(summary),
        })
    }

    /// Validates, classifies and stores one batch in one transaction.
    async fn import_party_batch(
        &self,
        principal: &Principal,
        run: &mut ImportRun,
        rows: Vec<pb::PartyImportRow>,
    ) -> Result<()> {
        let now = self.store.now_micros();
        let mut prepared = Vec::with_capacity(rows.len());
        for row in rows {
            let (number, external_id) = (row.row, row.external_id.clone());
            match import_rules::prepare(row, &run.source, now) {
                Ok(p) => prepared.push(p),
                Err(v) => run.reject(number, &external_id, &v),
            }
        }
        let mut tx = self.store.begin().await?;
        // Region codes must name configured regions, as on create.
        let codes: BTreeSet<String> = prepared
            .iter()
            .map(|p| p.party.region_code.clone())
            .filter(|c| !c.is_empty())
            .collect();
        let mut unknown_regions = BTreeSet::new();
        for code in codes {
            if !regions::exists(&mut tx, &code).await? {
                unknown_regions.insert(code);
            }
        }
        let external_ids: Vec<String> = prepared.iter().map(|p| p.external_id.clone()).collect();
        let stored = parties::IMPORT_KEYS
            .lookup(&mut tx, &run.source, &external_ids)
            .await?;
        let mut seen = HashMap::new();
        let mut creates: Vec<PreparedParty> = Vec::new();
        let mut keys = Vec::new();
        let mut changes = Vec::new();
        for p in prepared {
            if unknown_regions.contains(&p.party.region_code) {
                let reason = format!("unknown region {:?}", p.party.region_code);
                run.reject_one(p.row, &p.external_id, "region_code", reason);
                continue;
            }
            let disposition = run.classify(
                &p.external_id,
                p.row,
                &p.hash,
                stored.get(&p.external_id),
                &mut seen,
            );
            match disposition {
                Disposition::Duplicate(first) => {
                    run.reject_one(
                        p.row,
                        &p.external_id,
                        "external_id",
                        format!("appears again in this import (first in row {first})"),
                    );
                    continue;
                }
                Disposition::Create => creates.push(p),
                Disposition::Update(ref id) => changes.push((id.clone(), p)),
                Disposition::Unchanged(ref id) => {
                    run.count(&disposition);
                    keys.push(key(&p, id));
                }
            }
        }
        if run.validate_only {
            for _ in &creates {
                run.count(&Disposition::Create);
            }
            for (id, _) in &changes {
                run.count(&Disposition::Update(id.clone()));
            }
            return Ok(());
        }
        for (id, p) in changes {
            match self.update_imported(&mut tx, principal, &id, &p).await? {
                Ok(changed) => {
                    run.count(&if changed {
                        Disposition::Update(id.clone())
                    } else {
                        Disposition::Unchanged(id.clone())
                    });
                    keys.push(key(&p, &id));
                }
                Err(reason) => run.reject_one(p.row, &p.external_id, "external_id", reason),
            }
        }
        if !creates.is_empty() {
            let created_at: Vec<i64> = creates.iter().map(|p| p.created_at).collect();
            let mut new_parties: Vec<pb::Party> = creates.iter().map(|p| p.party.clone()).collect();
            let new_keys: Vec<NewRowKey> = creates.iter().map(|p| run.row_key(&p.hash, p.row)).collect();
            parties::insert_many(
                &mut tx,
                &mut new_parties,
                &created_at,
                &new_keys,
                &self.config.reporting_currency,
            )
            .await?;
            // Checked for duplicates by the job, a batch at a time once the import goes quiet,
            // not row by row here.
            self.bulk.touch();
            let ids: Vec<String> = new_parties.iter().map(|p| p.id.clone()).collect();
            crate::storage::duplicates::mark_due(&mut tx, &ids, true).await?;
            // insert_many leaves each party as stored: no need to read them back.
            let entries: Vec<(String, String, serde_json::Value)> = new_parties
                .iter()
                .map(|p| {
                    (
                        p.id.clone(),
                        "imported".to_string(),
                        fields_json(p, &all_fields()),
                    )
                })
                .collect();
            audit::record_many(
                &mut tx,
                &principal.user_id,
                "party",
                &entries,
                self.store.now_micros(),
            )
            .await?;
            for _ in &creates {
                run.count(&Disposition::Create);
            }
            // New parties are announced in bulk, so that consumers apply them in bulk.
            let events = outbox::batch_events(ev::PARTIES_IMPORTED, &run.run_id, new_parties, |parties| {
                pb::PartiesImported { parties }
            })
            .into_iter()
            .map(crm_events::NewEvent::about_people)
            .collect();
            outbox::enqueue_many(&mut tx, events).await?;
        }
        // Parties seen again (changed or not) move to this run; new ones carry their key.
        parties::IMPORT_KEYS
            .record(&mut tx, &run.source, &run.run_id, &keys)
            .await?;
        parties::IMPORT_KEYS.analyze_if_grown(&mut tx).await?;
        // Every table a load grows, or a party's reads plan a full scan of its contact points.
        for table in ["contact_points", "party_tags", "duplicate_check_due"] {
            crm_storage::statistics::analyze_if_grown(&mut tx, table).await?;
        }
        self.store.commit(tx).await?;
        Ok(())
    }

    /// Applies a changed import row to the party it created. `Ok(false)` when no stored field
    /// differs; `Err(reason)` when the party can no longer be changed (merged or erased).
    async fn update_imported(
        &self,
        tx: &mut crm_storage::Tx,
        principal: &Principal,
        id: &str,
        p: &PreparedParty,
    ) -> Result<std::result::Result<bool, String>> {
        let Some(current) = parties::get(tx, id).await? else {
            return Ok(Err(format!("party {id} no longer exists")));
        };
        match PartyStatus::try_from(current.status) {
            Ok(PartyStatus::Merged) => {
                return Ok(Err(format!(
                    "party {id} was merged into {}",
                    current.merged_into_id
                )));
            }
            Ok(PartyStatus::Erased) => return Ok(Err(format!("party {id} was erased"))),
            _ => {}
        }
        let sets_lifecycle = p.party.lifecycle_stage != pb::LifecycleStage::Prospect as i32;
        let mut next = rules::apply_mask(&current, &p.party, &import_rules::updated_fields(sets_lifecycle))
            .map_err(Error::Invalid)?;
        rules::normalise(&mut next);
        let changed = rules::changed_fields(&current, &next);
        if changed.is_empty() {
            return Ok(Ok(false));
        }
        let expected: i64 = current.etag.parse().unwrap_or_default();
        if !parties::update(tx, &mut next, &current, expected, self.store.now_micros()).await? {
            return Err(Error::Stale(format!("party {id}")));
        }
        self.bulk.touch();
        crate::storage::duplicates::mark_due(tx, std::slice::from_ref(&next.id), false).await?;
        let stored = parties::get(tx, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("party {id}")))?;
        audit::record(
            tx,
            &principal.user_id,
            "party",
            id,
            "updated",
            fields_json(&stored, &changed),
            self.store.now_micros(),
        )
        .await?;
        events::party_updated(tx, &current, &stored, changed).await?;
        Ok(Ok(true))
    }

    pub(super) async fn handle_import_relationships(
        &self,
        principal: &Principal,
        stream: tonic::Streaming<pb::ImportRelationshipsRequest>,
    ) -> Result<pb::ImportRelationshipsResponse> {
        let summary = crm_platform::run_import!(stream, pb::ImportRelationshipsRequest, |run, rows| {
            self.import_relationship_batch(principal, run, rows)
        });
        Ok(pb::ImportRelationshipsResponse {
            summary: Some(summary),
        })
    }

    async fn import_relationship_batch(
        &self,
        principal: &Principal,
        run: &mut ImportRun,
        rows: Vec<pb::RelationshipImportRow>,
    ) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let endpoints: Vec<String> = rows
            .iter()
            .flat_map(|r| {
                [
                    r.from_party_external_id.trim().to_string(),
                    r.to_party_external_id.trim().to_string(),
                ]
            })
            .filter(|id| !id.is_empty())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let party_keys = parties::IMPORT_KEYS
            .lookup(&mut tx, &run.source, &endpoints)
            .await?;
        let ids: Vec<String> = rows.iter().map(|r| r.external_id.trim().to_string()).collect();
        let stored = imports::lookup(&mut tx, RELATIONSHIP, &run.source, &ids).await?;
        let mut seen = HashMap::new();
        let mut keys = Vec::new();
        let mut creates = Vec::new();
        for row in rows {
            let external_id = row.external_id.trim().to_string();
            let mut v = Violations::new();
            check_external_id(&mut v, "external_id", &external_id);
            let mut resolve = |field: &str, ext: &str| -> String {
                match party_keys.get(ext.trim()) {
                    Some(k) => k.record_id.clone(),
                    None if ext.trim().is_empty() => {
                        v.add(field, "required");
                        String::new()
                    }
                    None => {
                        v.add(
                            field,
                            format!("no party {:?} imported from {}", ext.trim(), run.source),
                        );
                        String::new()
                    }
                }
            };
            let from = resolve("from_party_external_id", &row.from_party_external_id);
            let to = resolve("to_party_external_id", &row.to_party_external_id);
            let mut r = pb::Relationship {
                id: String::new(),
                from_party_id: from,
                to_party_id: to,
                r#type: row.r#type,
                custom_type: row.custom_type.trim().to_string(),
                role: row.role.trim().to_string(),
                since: row.since.trim().to_string(),
                until: row.until.trim().to_string(),
                create_time: None,
            };
            if v.is_empty() {
                for (field, problem) in rel_rules::validate(&r).iter() {
                    let field = match field.as_str() {
                        "from_party_id" => "from_party_external_id",
                        "to_party_id" => "to_party_external_id",
                        other => other,
                    };
                    v.add(field, problem.clone());
                }
            }
            if !v.is_empty() {
                run.reject(row.row, &external_id, &v);
                continue;
            }
            let hash = imports::content_hash(
                format!(
                    "{}\0{}\0{}\0{}\0{}\0{}\0{}",
                    r.from_party_id, r.to_party_id, r.r#type, r.custom_type, r.role, r.since, r.until
                )
                .as_bytes(),
            );
            let disposition = run.classify(&external_id, row.row, &hash, stored.get(&external_id), &mut seen);
            if let Disposition::Duplicate(first) = disposition {
                run.reject_one(
                    row.row,
                    &external_id,
                    "external_id",
                    format!("appears again in this import (first in row {first})"),
                );
                continue;
            }
            run.count(&disposition);
            if run.validate_only {
                continue;
            }
            let record_id = match disposition {
                Disposition::Unchanged(id) => id,
                other => {
                    if let Disposition::Update(old) = other {
                        // An edge's endpoints and type are its identity: a changed row replaces
                        // it (before the new edges are written, so that it cannot clash).
                        self.delete_imported_relationship(&mut tx, principal, &old)
                            .await?;
                    }
                    r.id = crate::storage::new_id();
                    let id = r.id.clone();
                    creates.push(r);
                    id
                }
            };
            keys.push(NewImportKey {
                external_id,
                record_id,
                content_hash: hash,
                row: row.row,
            });
        }
        if !creates.is_empty() {
            let now = self.store.now_micros();
            relationships::insert_many(&mut tx, &mut creates, now).await?;
            let entries: Vec<(String, String, serde_json::Value)> = creates
                .iter()
                .map(|r| {
                    let fields = json!({"from_party_id": r.from_party_id, "to_party_id": r.to_party_id,
                        "type": r.r#type, "custom_type": r.custom_type, "role": r.role, "since": r.since,
                        "until": r.until});
                    (r.id.clone(), "imported".to_string(), fields)
                })
                .collect();
            audit::record_many(&mut tx, &principal.user_id, "relationship", &entries, now).await?;
            let events = outbox::batch_events(
                ev::RELATIONSHIPS_IMPORTED,
                &run.run_id,
                creates,
                |relationships| pb::RelationshipsImported { relationships },
            );
            outbox::enqueue_many(&mut tx, events).await?;
        }
        imports::record(&mut tx, RELATIONSHIP, &run.source, &run.run_id, &keys).await?;
        self.store.commit(tx).await?;
        Ok(())
    }

    /// Deletes the edge a changed import row replaces, with its audit entry and event.
    async fn delete_imported_relationship(
        &self,
        tx: &mut crm_storage::Tx,
        principal: &Principal,
        id: &str,
    ) -> Result<()> {
        let Some(previous) = relationships::get(tx, id).await? else {
            return Ok(());
        };
        relationships::delete(tx, id).await?;
        audit::record(
            tx,
            &principal.user_id,
            "relationship",
            id,
            "deleted",
            json!({}),
            self.store.now_micros(),
        )
        .await?;
        let key = previous.from_party_id.clone();
        let deleted = pb::RelationshipDeleted {
            relationship: Some(previous),
        };
        events::publish(tx, ev::RELATIONSHIP_DELETED, &key, &deleted).await?;
        Ok(())
    }

    pub(super) async fn handle_resolve_external_ids(
        &self,
        principal: &Principal,
        req: pb::ResolveExternalIdsRequest,
    ) -> Result<pb::ResolveExternalIdsResponse> {
        let mut v = Violations::new();
        v.check(
            !crm_platform::import::is_source_name(&req.source),
            "source",
            "required: lower_snake_case, up to 64 characters",
        );
        v.check(req.external_ids.len() > 1000, "external_ids", "at most 1000");
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let keys = parties::IMPORT_KEYS
            .lookup(&mut conn, &req.source, &req.external_ids)
            .await?;
        let ids: Vec<String> = req
            .external_ids
            .iter()
            .filter_map(|e| keys.get(e).map(|k| k.record_id.clone()))
            .collect();
        let mut found = parties::load(&mut conn, &ids).await?;
        found.retain(|p| rules::may_read(principal, p));
        for p in &mut found {
            rules::redact_for(principal, p);
        }
        Ok(pb::ResolveExternalIdsResponse { parties: found })
    }

    pub(super) async fn handle_export_parties(
        &self,
        principal: Principal,
        req: pb::ExportPartiesRequest,
    ) -> Result<ResponseStream<pb::ExportPartiesResponse>> {
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
        let db = self.store.db().clone();
        Ok(export::keyset_pages(String::new(), move |after: String| {
            let (db, filter, principal) = (db.clone(), filter.clone(), principal.clone());
            async move {
                let mut conn = db.pool().acquire().await?;
                let mut page = parties::list(&mut conn, &filter, &after, export::PAGE).await?;
                let next = export::next_key(page.len(), export::PAGE, page.last().map(|p| p.id.clone()));
                // Read by id; the record rules then drop what the caller may not see.
                page.retain(|p| rules::may_read(&principal, p));
                for p in &mut page {
                    rules::redact_for(&principal, p);
                }
                let message = (!page.is_empty()).then_some(pb::ExportPartiesResponse { parties: page });
                Ok((message, next))
            }
        }))
    }
}

fn key(p: &PreparedParty, record_id: &str) -> NewImportKey {
    NewImportKey {
        external_id: p.external_id.clone(),
        record_id: record_id.to_string(),
        content_hash: p.hash.clone(),
        row: p.row,
    }
}
