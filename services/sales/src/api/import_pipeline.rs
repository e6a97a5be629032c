//! Bulk imports of the catalog (products with prices), leads, opportunities and activities,
//! idempotent per (source, external id; a product by its SKU). Records keep their source times;
//! an open opportunity's stage clock starts at the import.

use std::collections::{BTreeSet, HashMap};

use crm_auth::Principal;
use crm_platform::Violations;
use crm_platform::import::{Disposition, ImportRun, check_external_id};
use crm_proto::sales::v1::events as ev;
use crm_proto::sales::v1::{self as pb, LeadStatus, OpportunityStatus};
use crm_storage::Tx;
use crm_storage::imports::{self, ImportKey, NewImportKey};
use prost::Message as _;

use super::SalesApi;
use crate::domain::rules::{
    is_currency, validate_activity, validate_lead, validate_opportunity, validate_product,
};
use crate::error::{Error, Result};
use crate::events;
use crate::storage::{activities, catalog, leads, micros, opportunities, stages};

/// Import-key entity names.
const PRODUCT: &str = "product";
const LEAD: &str = "lead";
const OPPORTUNITY: &str = "opportunity";
const ACTIVITY: &str = "activity";

/// Violations of `v` without `prefix.` (rows name their fields relative to the record).
fn unprefixed(prefix: &str, v: &Violations, out: &mut Violations) {
    for (field, reason) in v.iter() {
        out.add(
            field.strip_prefix(prefix).unwrap_or(field).to_string(),
            reason.clone(),
        );
    }
}

fn duplicate(run: &mut ImportRun, row: i64, key: &str, first: i64) {
    run.reject_one(
        row,
        key,
        "external_id",
        format!("appears again in this import (first in row {first})"),
    );
}

fn new_key(external_id: &str, record_id: &str, hash: &str, row: i64) -> NewImportKey {
    NewImportKey {
        external_id: external_id.to_string(),
        record_id: record_id.to_string(),
        content_hash: hash.to_string(),
        row,
    }
}

impl SalesApi {
    /// Party ids of customers imported from `source` (the account copy, else the customers
    /// service as the caller).
    async fn imported_parties(
        &self,
        principal: &Principal,
        source: &str,
        external_ids: impl Iterator<Item = String>,
    ) -> Result<HashMap<String, String>> {
        let wanted: Vec<String> = external_ids
            .filter(|e| !e.is_empty())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if wanted.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(self
            .resolve_parties(principal, source, wanted)
            .await?
            .into_iter()
            .filter(|(_, a)| a.status == "active")
            .map(|(e, a)| (e, a.party_id))
            .collect())
    }

    pub(super) async fn handle_import_products(
        &self,
        _principal: &Principal,
        stream: tonic::Streaming<pb::ImportProductsRequest>,
    ) -> Result<pb::ImportProductsResponse> {
        let summary = crm_platform::run_import!(stream, pb::ImportProductsRequest, |run, rows| {
            self.import_product_batch(run, rows)
        });
        Ok(pb::ImportProductsResponse {
            summary: Some(summary),
        })
    }

    /// One message of products in one transaction, row by row (a catalog is small).
    async fn import_product_batch(&self, run: &mut ImportRun, rows: Vec<pb::ProductImportRow>) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let mut seen = HashMap::new();
        for row in rows {
            self.import_product(&mut tx, run, row, &mut seen).await?;
        }
        if !run.validate_only {
            self.store.commit(tx).await?;
        }
        Ok(())
    }

    /// One product row: created or changed by SKU, its price set in the named book.
    async fn import_product(
        &self,
        tx: &mut Tx,
        run: &mut ImportRun,
        row: pb::ProductImportRow,
        seen: &mut HashMap<String, i64>,
    ) -> Result<()> {
        let mut p = row.product.unwrap_or_default();
        p.name = p.name.trim().to_string();
        p.sku = p.sku.trim().to_string();
        let mut v = Violations::new();
        unprefixed("product.", &validate_product(&p), &mut v);
        let book_name = row.price_book_name.trim().to_string();
        if let Some(price) = &row.unit_price {
            v.check(book_name.is_empty(), "price_book_name", "required with a price");
            v.check(
                price.amount_minor < 0,
                "unit_price.amount_minor",
                "must not be negative",
            );
            v.check(
                !is_currency(&price.currency_code),
                "unit_price.currency_code",
                format!("unknown currency {:?}", price.currency_code),
            );
        }
        if !v.is_empty() {
            run.reject(row.row, &p.sku, &v);
            return Ok(());
        }
        let hash = imports::content_hash(
            &[
                p.encode_to_vec(),
                book_name.clone().into_bytes(),
                row.unit_price
                    .as_ref()
                    .map(prost::Message::encode_to_vec)
                    .unwrap_or_default(),
            ]
            .concat(),
        );
        let stored = imports::lookup(tx, PRODUCT, &run.source, std::slice::from_ref(&p.sku)).await?;
        // A product made here before carries no key yet: the SKU finds it.
        let existing = catalog::product_by_sku(tx, &p.sku).await?;
        let key = stored.get(&p.sku).cloned().or_else(|| {
            existing.as_ref().map(|e| ImportKey {
                record_id: e.id.clone(),
                content_hash: String::new(),
                run_id: String::new(),
                row: 0,
            })
        });
        let disposition = run.classify(&p.sku, row.row, &hash, key.as_ref(), seen);
        let id = match disposition {
            Disposition::Duplicate(first) => {
                run.reject_one(
                    row.row,
                    &p.sku,
                    "sku",
                    format!("appears again in this import (first in row {first})"),
                );
                return Ok(());
            }
            Disposition::Unchanged(ref id) => id.clone(),
            _ if run.validate_only => {
                run.count(&disposition);
                return Ok(());
            }
            Disposition::Create => {
                catalog::insert_product(tx, &mut p, self.store.now_micros()).await?;
                p.id.clone()
            }
            Disposition::Update(ref id) => {
                let current = existing.ok_or_else(|| Error::NotFound(format!("product {id}")))?;
                let mut next = current.clone();
                next.name.clone_from(&p.name);
                next.description.clone_from(&p.description);
                next.product_line.clone_from(&p.product_line);
                next.category.clone_from(&p.category);
                next.unit.clone_from(&p.unit);
                next.active = p.active;
                let expected: i64 = current.etag.parse().unwrap_or_default();
                if !catalog::update_product(tx, &next, expected, self.store.now_micros()).await? {
                    return Err(Error::Stale(format!("product {id}")));
                }
                id.clone()
            }
        };
        if !matches!(disposition, Disposition::Unchanged(_)) {
            if let Some(price) = &row.unit_price {
                let book = match catalog::price_book_by_name(tx, &book_name).await? {
                    Some(book) if book.currency_code != price.currency_code => {
                        let reason = format!("the price book {book_name:?} is in {}", book.currency_code);
                        run.reject_one(row.row, &p.sku, "unit_price.currency_code", reason);
                        return Ok(());
                    }
                    Some(book) => book,
                    None => {
                        // The first book of a currency is its default, which partner e-orders
                        // and other unpriced orders are priced from.
                        let first = catalog::default_price_book(tx, &price.currency_code)
                            .await?
                            .is_none();
                        let mut book = pb::PriceBook {
                            id: String::new(),
                            name: book_name.clone(),
                            currency_code: price.currency_code.clone(),
                            is_default: first,
                        };
                        catalog::insert_price_book(tx, &mut book).await?;
                        book
                    }
                };
                catalog::set_price(tx, &book.id, &id, price.amount_minor).await?;
            }
            let stored = catalog::product_by_id(tx, &id)
                .await?
                .ok_or_else(|| Error::NotFound(format!("product {id}")))?;
            events::publish(
                tx,
                ev::PRODUCT_CHANGED,
                &id,
                &pb::ProductChanged {
                    product: Some(stored),
                },
            )
            .await?;
        }
        run.count(&disposition);
        imports::record(
            tx,
            PRODUCT,
            &run.source,
            &run.run_id,
            &[new_key(&p.sku, &id, &hash, row.row)],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn handle_import_leads(
        &self,
        principal: &Principal,
        stream: tonic::Streaming<pb::ImportLeadsRequest>,
    ) -> Result<pb::ImportLeadsResponse> {
        let summary = crm_platform::run_import!(stream, pb::ImportLeadsRequest, |run, rows| {
            self.import_lead_batch(principal, run, rows)
        });
        Ok(pb::ImportLeadsResponse {
            summary: Some(summary),
        })
    }

    async fn import_lead_batch(
        &self,
        principal: &Principal,
        run: &mut ImportRun,
        rows: Vec<pb::LeadImportRow>,
    ) -> Result<()> {
        let now = self.store.now_micros();
        let parties = self
            .imported_parties(
                principal,
                &run.source,
                rows.iter().map(|r| r.party_external_id.trim().to_string()),
            )
            .await?;
        let mut tx = self.store.begin().await?;
        let ids: Vec<String> = rows.iter().map(|r| r.external_id.trim().to_string()).collect();
        let stored = imports::lookup(&mut tx, LEAD, &run.source, &ids).await?;
        let mut seen = HashMap::new();
        let mut keys = Vec::new();
        for row in rows {
            let external_id = row.external_id.trim().to_string();
            let mut l = row.lead.clone().unwrap_or_default();
            let mut v = Violations::new();
            check_external_id(&mut v, "external_id", &external_id);
            let party = row.party_external_id.trim();
            if !party.is_empty() {
                match parties.get(party) {
                    Some(id) => l.party_id = id.clone(),
                    None => v.add(
                        "party_external_id",
                        format!("no party {party:?} imported from {}", run.source),
                    ),
                }
            }
            l.status = match LeadStatus::try_from(row.status) {
                Ok(LeadStatus::Unspecified) => LeadStatus::New as i32,
                Ok(LeadStatus::Converted) | Err(_) => {
                    v.add(
                        "status",
                        "NEW, WORKING, QUALIFIED or DISQUALIFIED (conversion happens here)",
                    );
                    0
                }
                Ok(s) => s as i32,
            };
            unprefixed("lead.", &validate_lead(&l), &mut v);
            let created_at = row.create_time.as_ref().map_or(now, micros);
            v.check(created_at > now, "create_time", "in the future");
            if !v.is_empty() {
                run.reject(row.row, &external_id, &v);
                continue;
            }
            let hash = imports::content_hash(&row.encode_to_vec()[..]);
            let disposition = run.classify(&external_id, row.row, &hash, stored.get(&external_id), &mut seen);
            let id = match disposition {
                Disposition::Duplicate(first) => {
                    duplicate(run, row.row, &external_id, first);
                    continue;
                }
                Disposition::Unchanged(ref id) => id.clone(),
                _ if run.validate_only => {
                    run.count(&disposition);
                    continue;
                }
                Disposition::Create => {
                    if let Err(err) = leads::insert_at(&mut tx, &mut l, created_at).await {
                        if crm_storage::is_unique_violation(&err) {
                            run.reject_one(
                                row.row,
                                &external_id,
                                "source_ref",
                                "another lead has this source reference",
                            );
                            continue;
                        }
                        return Err(err.into());
                    }
                    let stored = leads::get(&mut tx, &l.id).await?;
                    let person = stored.as_ref().map(|s| s.party_id.clone()).unwrap_or_default();
                    events::publish_about(
                        &mut tx,
                        ev::LEAD_CREATED,
                        &l.id,
                        &person,
                        &pb::LeadCreated { lead: stored },
                    )
                    .await?;
                    l.id.clone()
                }
                Disposition::Update(ref id) => {
                    let current = leads::get(&mut tx, id)
                        .await?
                        .ok_or_else(|| Error::NotFound(format!("lead {id}")))?;
                    let mut next = l.clone();
                    next.id = id.clone();
                    next.opportunity_id = current.opportunity_id.clone();
                    next.create_time = current.create_time;
                    let expected: i64 = current.etag.parse().unwrap_or_default();
                    if !leads::replace(&mut tx, &next, expected).await? {
                        return Err(Error::Stale(format!("lead {id}")));
                    }
                    id.clone()
                }
            };
            run.count(&disposition);
            keys.push(new_key(&external_id, &id, &hash, row.row));
        }
        if !run.validate_only {
            imports::record(&mut tx, LEAD, &run.source, &run.run_id, &keys).await?;
            self.store.commit(tx).await?;
        }
        Ok(())
    }

    pub(super) async fn handle_import_opportunities(
        &self,
        principal: &Principal,
        stream: tonic::Streaming<pb::ImportOpportunitiesRequest>,
    ) -> Result<pb::ImportOpportunitiesResponse> {
        let summary = crm_platform::run_import!(stream, pb::ImportOpportunitiesRequest, |run, rows| {
            self.import_opportunity_batch(principal, run, rows)
        });
        Ok(pb::ImportOpportunitiesResponse {
            summary: Some(summary),
        })
    }

    async fn import_opportunity_batch(
        &self,
        principal: &Principal,
        run: &mut ImportRun,
        rows: Vec<pb::OpportunityImportRow>,
    ) -> Result<()> {
        let now = self.store.now_micros();
        let parties = self
            .imported_parties(
                principal,
                &run.source,
                rows.iter().map(|r| r.party_external_id.trim().to_string()),
            )
            .await?;
        let mut tx = self.store.begin().await?;
        let pipeline = stages::list(&mut tx).await?;
        let ids: Vec<String> = rows.iter().map(|r| r.external_id.trim().to_string()).collect();
        let stored = imports::lookup(&mut tx, OPPORTUNITY, &run.source, &ids).await?;
        let mut seen = HashMap::new();
        let mut keys = Vec::new();
        for row in rows {
            let external_id = row.external_id.trim().to_string();
            let mut o = row.opportunity.clone().unwrap_or_default();
            o.name = o.name.trim().to_string();
            let mut v = Violations::new();
            check_external_id(&mut v, "external_id", &external_id);
            let party = row.party_external_id.trim();
            match parties.get(party) {
                Some(id) => o.party_id = id.clone(),
                None if party.is_empty() => v.add("party_external_id", "required"),
                None => v.add(
                    "party_external_id",
                    format!("no party {party:?} imported from {}", run.source),
                ),
            }
            let stage = pipeline.iter().find(|s| s.code == row.stage_code.trim());
            match stage {
                None => v.add(
                    "stage_code",
                    format!("no stage {:?} in the pipeline", row.stage_code.trim()),
                ),
                Some(s) => {
                    o.stage_code = s.code.clone();
                    o.status = if s.is_won {
                        OpportunityStatus::Won
                    } else if s.is_lost {
                        OpportunityStatus::Lost
                    } else {
                        OpportunityStatus::Open
                    } as i32;
                }
            }
            let closed = stage.is_some_and(|s| s.is_won || s.is_lost);
            let created_at = row.create_time.as_ref().map(micros);
            match created_at {
                None => v.add("create_time", "required"),
                Some(at) => v.check(at > now, "create_time", "in the future"),
            }
            let closed_at = row.close_time.as_ref().map(micros);
            v.check(
                closed && closed_at.is_none(),
                "close_time",
                "required for a won or lost opportunity",
            );
            v.check(
                !closed && closed_at.is_some(),
                "close_time",
                "only a won or lost opportunity has one",
            );
            v.check(
                closed_at.is_some_and(|c| c > now || created_at.is_some_and(|o| c < o)),
                "close_time",
                "between the create time and now",
            );
            o.lost_reason = row.lost_reason.trim().to_string();
            o.close_time = row.close_time;
            for (field, reason) in validate_opportunity(&o).iter() {
                let field = field.strip_prefix("opportunity.").unwrap_or(field);
                if field == "party_id" {
                    continue;
                }
                v.add(field.to_string(), reason.clone());
            }
            if !v.is_empty() {
                run.reject(row.row, &external_id, &v);
                continue;
            }
            let hash = imports::content_hash(&row.encode_to_vec());
            let disposition = run.classify(&external_id, row.row, &hash, stored.get(&external_id), &mut seen);
            let id = match disposition {
                Disposition::Duplicate(first) => {
                    duplicate(run, row.row, &external_id, first);
                    continue;
                }
                Disposition::Unchanged(ref id) => id.clone(),
                _ if run.validate_only => {
                    run.count(&disposition);
                    continue;
                }
                Disposition::Create => {
                    if o.territory_id.is_empty() {
                        o.territory_id =
                            crate::assignment::territory_for_opportunity(&mut tx, &o.party_id, &[]).await?;
                    }
                    let created_at = created_at.unwrap_or(now);
                    // A closed deal's last stage began when it closed; an open one's stage
                    // clock starts now.
                    let entered = closed_at.unwrap_or(now);
                    opportunities::insert_at(&mut tx, &mut o, created_at, entered).await?;
                    let stored = self.opportunity(&mut tx, &o.id).await?;
                    events::publish(
                        &mut tx,
                        ev::OPPORTUNITY_CREATED,
                        &o.id,
                        &pb::OpportunityCreated {
                            opportunity: Some(stored.clone()),
                        },
                    )
                    .await?;
                    if o.status == OpportunityStatus::Won as i32 {
                        events::publish(
                            &mut tx,
                            ev::OPPORTUNITY_WON,
                            &o.id,
                            &pb::OpportunityWon {
                                opportunity: Some(stored),
                            },
                        )
                        .await?;
                    } else if o.status == OpportunityStatus::Lost as i32 {
                        events::publish(
                            &mut tx,
                            ev::OPPORTUNITY_LOST,
                            &o.id,
                            &pb::OpportunityLost {
                                opportunity: Some(stored),
                            },
                        )
                        .await?;
                    }
                    o.id.clone()
                }
                Disposition::Update(ref id) => {
                    let current = self.opportunity(&mut tx, id).await?;
                    if current.stage_code != o.stage_code || current.status != o.status {
                        run.reject_one(
                            row.row,
                            &external_id,
                            "stage_code",
                            format!(
                                "opportunity {id} was imported in another stage; move it through the pipeline"
                            ),
                        );
                        continue;
                    }
                    let mut next = current.clone();
                    next.name = o.name.clone();
                    next.amount = o.amount.clone();
                    next.expected_close_date = o.expected_close_date.clone();
                    next.owner_id = o.owner_id.clone();
                    next.team_id = o.team_id.clone();
                    next.next_step = o.next_step.clone();
                    next.competitor_ids = o.competitor_ids.clone();
                    next.lost_reason = o.lost_reason.clone();
                    let expected: i64 = current.etag.parse().unwrap_or_default();
                    let closed_at = current.close_time.as_ref().map(micros);
                    if !opportunities::update(&mut tx, &next, expected, closed_at).await? {
                        return Err(Error::Stale(format!("opportunity {id}")));
                    }
                    id.clone()
                }
            };
            run.count(&disposition);
            keys.push(new_key(&external_id, &id, &hash, row.row));
        }
        if !run.validate_only {
            imports::record(&mut tx, OPPORTUNITY, &run.source, &run.run_id, &keys).await?;
            self.store.commit(tx).await?;
        }
        Ok(())
    }

    pub(super) async fn handle_import_activities(
        &self,
        principal: &Principal,
        stream: tonic::Streaming<pb::ImportActivitiesRequest>,
    ) -> Result<pb::ImportActivitiesResponse> {
        let summary = crm_platform::run_import!(stream, pb::ImportActivitiesRequest, |run, rows| {
            self.import_activity_batch(principal, run, rows)
        });
        Ok(pb::ImportActivitiesResponse {
            summary: Some(summary),
        })
    }

    async fn import_activity_batch(
        &self,
        principal: &Principal,
        run: &mut ImportRun,
        rows: Vec<pb::ActivityImportRow>,
    ) -> Result<()> {
        let parties = self
            .imported_parties(
                principal,
                &run.source,
                rows.iter().map(|r| r.party_external_id.trim().to_string()),
            )
            .await?;
        let mut tx = self.store.begin().await?;
        let deals: Vec<String> = rows
            .iter()
            .map(|r| r.opportunity_external_id.trim().to_string())
            .collect();
        let deals = imports::lookup(&mut tx, OPPORTUNITY, &run.source, &deals).await?;
        let ids: Vec<String> = rows.iter().map(|r| r.external_id.trim().to_string()).collect();
        let stored = imports::lookup(&mut tx, ACTIVITY, &run.source, &ids).await?;
        let mut seen = HashMap::new();
        let mut keys = Vec::new();
        for row in rows {
            let external_id = row.external_id.trim().to_string();
            let mut a = row.activity.clone().unwrap_or_default();
            let mut v = Violations::new();
            check_external_id(&mut v, "external_id", &external_id);
            let party = row.party_external_id.trim();
            if !party.is_empty() {
                match parties.get(party) {
                    Some(id) => a.party_id = id.clone(),
                    None => v.add(
                        "party_external_id",
                        format!("no party {party:?} imported from {}", run.source),
                    ),
                }
            }
            let deal = row.opportunity_external_id.trim();
            if !deal.is_empty() {
                match deals.get(deal) {
                    Some(k) => a.opportunity_id = k.record_id.clone(),
                    None => v.add(
                        "opportunity_external_id",
                        format!("no opportunity {deal:?} imported from {}", run.source),
                    ),
                }
            }
            v.check(a.occur_time.is_none(), "occur_time", "required");
            if v.is_empty() {
                for (field, reason) in validate_activity(&a).iter() {
                    let field = match field.strip_prefix("activity.").unwrap_or(field) {
                        "party_id" => "party_external_id",
                        other => other,
                    };
                    v.add(field.to_string(), reason.clone());
                }
            }
            if !v.is_empty() {
                run.reject(row.row, &external_id, &v);
                continue;
            }
            let hash = imports::content_hash(&row.encode_to_vec());
            let disposition = run.classify(&external_id, row.row, &hash, stored.get(&external_id), &mut seen);
            let id = match disposition {
                Disposition::Duplicate(first) => {
                    duplicate(run, row.row, &external_id, first);
                    continue;
                }
                Disposition::Unchanged(ref id) => id.clone(),
                _ if run.validate_only => {
                    run.count(&disposition);
                    continue;
                }
                Disposition::Create => {
                    activities::insert(&mut tx, &mut a).await?;
                    a.id.clone()
                }
                Disposition::Update(ref id) => {
                    a.id = id.clone();
                    activities::replace(&mut tx, &a).await?;
                    id.clone()
                }
            };
            run.count(&disposition);
            keys.push(new_key(&external_id, &id, &hash, row.row));
        }
        if !run.validate_only {
            imports::record(&mut tx, ACTIVITY, &run.source, &run.run_id, &keys).await?;
            self.store.commit(tx).await?;
        }
        Ok(())
    }
}
