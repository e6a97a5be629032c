//! Bulk import of partners (with their hierarchy) and targets from another system, idempotent
//! per (source, external id).

use std::collections::HashMap;

use crm_auth::Principal;
use crm_platform::Violations;
use crm_platform::import::{Disposition, ImportRun, check_external_id};
use crm_proto::partners::v1::events as ev;
use crm_proto::partners::v1::{self as pb, PartnerStatus};
use crm_storage::imports::{self, NewImportKey};
use prost::Message as _;

use super::PartnersApi;
use crate::domain::rules::{validate_partner, validate_target};
use crate::error::{Error, Result};
use crate::events;
use crate::storage::{partners as store, targets};

/// Import-key entity names.
const PARTNER: &str = "partner";
const TARGET: &str = "target";

/// Fields an import sets on a partner (everything a channel manager may set).
fn imported_fields(stored: &mut pb::Partner, row: &pb::Partner) {
    stored.name = row.name.trim().to_string();
    stored.r#type = row.r#type;
    stored.parent_id.clone_from(&row.parent_id);
    stored.region_codes.clone_from(&row.region_codes);
    stored.tier.clone_from(&row.tier);
    stored.operating_model = row.operating_model;
    stored.contacts.clone_from(&row.contacts);
    stored.agreement_start.clone_from(&row.agreement_start);
    stored.agreement_end.clone_from(&row.agreement_end);
    stored.manager_id.clone_from(&row.manager_id);
    stored.party_id.clone_from(&row.party_id);
}

fn reject_all(run: &mut ImportRun, row: i64, external_id: &str, v: Violations) {
    let mut out = Violations::new();
    for (field, reason) in v.iter() {
        out.add(field.trim_start_matches("partner.").to_string(), reason.clone());
    }
    run.reject(row, external_id, &out);
}

impl PartnersApi {
    pub(super) async fn handle_import_partners(
        &self,
        principal: &Principal,
        stream: tonic::Streaming<pb::ImportPartnersRequest>,
    ) -> Result<pb::ImportPartnersResponse> {
        let summary = crm_platform::run_import!(stream, pb::ImportPartnersRequest, |run, rows| {
            self.import_partner_batch(principal, run, rows)
        });
        Ok(pb::ImportPartnersResponse {
            summary: Some(summary),
        })
    }

    /// Rows are applied in order, so a parent earlier in the batch is known to its children.
    async fn import_partner_batch(
        &self,
        principal: &Principal,
        run: &mut ImportRun,
        rows: Vec<pb::PartnerImportRow>,
    ) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let mut wanted: Vec<String> = rows.iter().map(|r| r.external_id.trim().to_string()).collect();
        wanted.extend(rows.iter().map(|r| r.parent_external_id.trim().to_string()));
        wanted.retain(|e| !e.is_empty());
        wanted.sort();
        wanted.dedup();
        let mut known = imports::lookup(&mut tx, PARTNER, &run.source, &wanted).await?;
        let mut seen = HashMap::new();
        let mut keys = Vec::new();
        for row in rows {
            let external_id = row.external_id.trim().to_string();
            let mut v = Violations::new();
            check_external_id(&mut v, "external_id", &external_id);
            let mut p = row.partner.unwrap_or_default();
            p.name = p.name.trim().to_string();
            let parent = row.parent_external_id.trim();
            p.parent_id = if parent.is_empty() {
                String::new()
            } else {
                match known.get(parent) {
                    Some(k) => k.record_id.clone(),
                    None => {
                        v.add(
                            "parent_external_id",
                            format!(
                                "no partner {parent:?} imported from {} (parents come first)",
                                run.source
                            ),
                        );
                        String::new()
                    }
                }
            };
            let status = match PartnerStatus::try_from(row.status) {
                Ok(PartnerStatus::Unspecified) => PartnerStatus::Onboarding,
                Ok(s) => s,
                Err(_) => {
                    v.add("status", "ONBOARDING, ACTIVE, PROBATION or TERMINATED");
                    PartnerStatus::Onboarding
                }
            };
            for (field, reason) in validate_partner(&p).iter() {
                v.add(field.clone(), reason.clone());
            }
            if !v.is_empty() {
                reject_all(run, row.row, &external_id, v);
                continue;
            }
            let mut canonical = p.clone();
            canonical.status = status as i32;
            let hash = imports::content_hash(&canonical.encode_to_vec());
            let disposition = run.classify(&external_id, row.row, &hash, known.get(&external_id), &mut seen);
            let record_id = match disposition {
                Disposition::Duplicate(first) => {
                    run.reject_one(
                        row.row,
                        &external_id,
                        "external_id",
                        format!("appears again in this import (first in row {first})"),
                    );
                    continue;
                }
                Disposition::Unchanged(ref id) => {
                    run.count(&disposition);
                    id.clone()
                }
                _ if run.validate_only => {
                    // Nothing is stored, but later rows may still name it as their parent.
                    run.count(&disposition);
                    String::new()
                }
                Disposition::Update(ref id) => {
                    let Some(mut stored) = store::get(&mut tx, id).await? else {
                        run.reject_one(
                            row.row,
                            &external_id,
                            "external_id",
                            format!("partner {id} no longer exists"),
                        );
                        continue;
                    };
                    if !p.parent_id.is_empty() && store::is_within(&mut tx, &p.parent_id, id).await? {
                        run.reject_one(
                            row.row,
                            &external_id,
                            "parent_external_id",
                            "would put the partner below itself",
                        );
                        continue;
                    }
                    let previous = stored.status;
                    imported_fields(&mut stored, &p);
                    stored.status = status as i32;
                    let expected: i64 = stored.etag.parse().unwrap_or_default();
                    if !store::update(&mut tx, &stored, expected).await? {
                        return Err(Error::Stale(format!("partner {id}")));
                    }
                    if previous != stored.status {
                        self.record_imported_status(&mut tx, principal, id, previous, stored.status)
                            .await?;
                    }
                    self.announce(&mut tx, id).await?;
                    run.count(&disposition);
                    id.clone()
                }
                Disposition::Create => {
                    let mut new = p.clone();
                    new.status = status as i32;
                    new.external_id = external_id.clone();
                    new.source = run.source.clone();
                    if new.manager_id.is_empty() {
                        new.manager_id = principal.user_id.clone();
                    }
                    if let Err(err) = store::insert(&mut tx, &mut new, self.store.now_micros()).await {
                        if crm_storage::is_unique_violation(&err) {
                            run.reject_one(
                                row.row,
                                &external_id,
                                "name",
                                format!("a partner named {:?} exists", new.name),
                            );
                            continue;
                        }
                        return Err(err.into());
                    }
                    if status != PartnerStatus::Onboarding {
                        self.record_imported_status(
                            &mut tx,
                            principal,
                            &new.id,
                            PartnerStatus::Onboarding as i32,
                            status as i32,
                        )
                        .await?;
                    }
                    self.announce(&mut tx, &new.id).await?;
                    run.count(&disposition);
                    new.id
                }
            };
            // Later rows of this batch may name it as their parent.
            known.insert(
                external_id.clone(),
                imports::ImportKey {
                    record_id: record_id.clone(),
                    content_hash: hash.clone(),
                    run_id: run.run_id.clone(),
                    row: row.row,
                },
            );
            if !run.validate_only {
                keys.push(NewImportKey {
                    external_id,
                    record_id,
                    content_hash: hash,
                    row: row.row,
                });
            }
        }
        if !run.validate_only {
            imports::record(&mut tx, PARTNER, &run.source, &run.run_id, &keys).await?;
            self.store.commit(tx).await?;
        }
        Ok(())
    }

    async fn record_imported_status(
        &self,
        tx: &mut crm_storage::Tx,
        principal: &Principal,
        id: &str,
        from: i32,
        to: i32,
    ) -> Result<()> {
        let change = pb::StatusChange {
            from_status: from,
            to_status: to,
            reason: "imported".into(),
            effective_date: self.today().to_string(),
            actor_id: principal.user_id.clone(),
            change_time: None,
        };
        store::record_change(tx, id, &change, self.store.now_micros()).await?;
        Ok(())
    }

    /// Announces a partner as it is stored now.
    async fn announce(&self, tx: &mut crm_storage::Tx, id: &str) -> Result<()> {
        let stored = store::get(tx, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("partner {id}")))?;
        events::publish(
            tx,
            ev::PARTNER_CHANGED,
            &stored.id,
            &pb::PartnerChanged {
                partner: Some(stored.clone()),
            },
        )
        .await?;
        Ok(())
    }

    pub(super) async fn handle_import_targets(
        &self,
        _principal: &Principal,
        stream: tonic::Streaming<pb::ImportTargetsRequest>,
    ) -> Result<pb::ImportTargetsResponse> {
        let summary = crm_platform::run_import!(stream, pb::ImportTargetsRequest, |run, rows| {
            self.import_target_batch(run, rows)
        });
        Ok(pb::ImportTargetsResponse {
            summary: Some(summary),
        })
    }

    async fn import_target_batch(&self, run: &mut ImportRun, rows: Vec<pb::TargetImportRow>) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let partners: Vec<String> = rows
            .iter()
            .map(|r| r.partner_external_id.trim().to_string())
            .collect();
        let known = imports::lookup(&mut tx, PARTNER, &run.source, &partners).await?;
        let mut prepared = Vec::new();
        for row in rows {
            let partner = row.partner_external_id.trim().to_string();
            let mut t = row.target.unwrap_or_default();
            let mut v = Violations::new();
            match known.get(&partner) {
                Some(k) => t.partner_id = k.record_id.clone(),
                None if partner.is_empty() => v.add("partner_external_id", "required"),
                None => v.add(
                    "partner_external_id",
                    format!("no partner {partner:?} imported from {}", run.source),
                ),
            }
            for (field, reason) in validate_target(&mut t).iter() {
                v.add(field.clone(), reason.clone());
            }
            // A target is known by its partner, period and scope.
            let key = format!("{partner}|{}|{}|{}", t.period, t.product_category, t.product_id);
            if !v.is_empty() {
                run.reject(row.row, &key, &v);
                continue;
            }
            prepared.push((row.row, key, t));
        }
        let keys_wanted: Vec<String> = prepared.iter().map(|(_, k, _)| k.clone()).collect();
        let stored = imports::lookup(&mut tx, TARGET, &run.source, &keys_wanted).await?;
        let mut seen = HashMap::new();
        let mut keys = Vec::new();
        for (row, key, t) in prepared {
            let hash = imports::content_hash(&t.encode_to_vec());
            let disposition = run.classify(&key, row, &hash, stored.get(&key), &mut seen);
            if let Disposition::Duplicate(first) = disposition {
                run.reject_one(
                    row,
                    &key,
                    "period",
                    format!("the same target appears again in this import (first in row {first})"),
                );
                continue;
            }
            run.count(&disposition);
            if run.validate_only {
                continue;
            }
            if !matches!(disposition, Disposition::Unchanged(_)) {
                targets::set(&mut tx, &t).await?;
            }
            keys.push(NewImportKey {
                external_id: key.clone(),
                record_id: key,
                content_hash: hash,
                row,
            });
        }
        if !run.validate_only {
            imports::record(&mut tx, TARGET, &run.source, &run.run_id, &keys).await?;
            self.store.commit(tx).await?;
        }
        Ok(())
    }
}
