//! Bulk import of historical orders and export of orders.

use std::collections::{BTreeSet, HashMap};

use crm_auth::Principal;
use crm_events::{NewEvent, outbox};
use crm_platform::client::forwarded;
use crm_platform::export;
use crm_platform::import::{Disposition, ImportRun};
use crm_platform::service::ResponseStream;
use crm_proto::customers::v1 as customers;
use crm_proto::sales::v1::events as ev;
use crm_proto::sales::v1::{self as pb, OrderStatus};
use crm_storage::imports::{NewImportKey, NewRowKey};

use super::SalesApi;
use crate::domain::import::{self as import_rules, PreparedOrder};
use crate::domain::rules;
use crate::error::{Error, Result};
use crate::storage::{accounts, catalog, channel_partners, orders};

/// The event announcing that an order reached `status`.
fn status_event(order: &pb::Order) -> NewEvent {
    let key = order.party_id.clone();
    let o = Some(order.clone());
    match OrderStatus::try_from(order.status) {
        Ok(OrderStatus::Fulfilled) => {
            NewEvent::of(ev::ORDER_FULFILLED, key, &pb::OrderFulfilled { order: o })
        }
        Ok(OrderStatus::Cancelled) => {
            NewEvent::of(ev::ORDER_CANCELLED, key, &pb::OrderCancelled { order: o })
        }
        Ok(OrderStatus::Returned) => NewEvent::of(ev::ORDER_RETURNED, key, &pb::OrderReturned { order: o }),
        _ => NewEvent::of(ev::ORDER_PLACED, key, &pb::OrderPlaced { order: o }),
    }
}

impl SalesApi {
    pub(super) async fn handle_import_orders(
        &self,
        principal: &Principal,
        stream: tonic::Streaming<pb::ImportOrdersRequest>,
    ) -> Result<pb::ImportOrdersResponse> {
        let summary = crm_platform::run_import_concurrently!(
            stream,
            pb::ImportOrdersRequest,
            self.store.db().bulk_write_concurrency(),
            |row| &row.external_id,
            |run, rows| self.import_order_batch(principal, run, rows)
        );
        Ok(pb::ImportOrdersResponse {
            summary: Some(summary),
        })
    }

    /// The party ids of customers imported from `source`, by external id: from the account copy,
    /// else asked of the customers service as the caller (outside any transaction) and kept.
    pub(super) async fn resolve_parties(
        &self,
        principal: &Principal,
        source: &str,
        external_ids: Vec<String>,
    ) -> Result<HashMap<String, accounts::Account>> {
        let mut conn = self.store.conn().await?;
        let mut found = accounts::by_external_ids(&mut conn, source, &external_ids).await?;
        let missing: Vec<String> = external_ids
            .into_iter()
            .filter(|e| !found.contains_key(e))
            .collect();
        if missing.is_empty() {
            return Ok(found);
        }
        let asked = customers::ResolveExternalIdsRequest {
            source: source.to_string(),
            external_ids: missing,
        };
        let reply = self
            .ask_customers(|mut client| {
                let request = forwarded(principal, asked.clone());
                async move { client.resolve_external_ids(request).await }
            })
            .await
            .map_err(|status| match status.code() {
                tonic::Code::PermissionDenied => {
                    Error::PermissionDenied(format!("customers: {}", status.message()))
                }
                _ => Error::Unavailable(format!("customers service: {}", status.message())),
            })?;
        drop(conn);
        // Kept in one statement: sales may be far behind customers' events during an import.
        let fetched: Vec<accounts::Account> =
            reply.parties.iter().map(accounts::Account::from_party).collect();
        let mut tx = self.store.begin().await?;
        accounts::upsert_many(&mut tx, &fetched).await?;
        tx.commit().await?;
        for account in fetched {
            found.insert(account.external_id.clone(), account);
        }
        Ok(found)
    }

    async fn import_order_batch(
        &self,
        principal: &Principal,
        run: &mut ImportRun,
        rows: Vec<pb::OrderImportRow>,
    ) -> Result<()> {
        let now = self.store.now_micros();
        let mut prepared = Vec::with_capacity(rows.len());
        for row in rows {
            let (number, external_id) = (row.row, row.external_id.clone());
            match import_rules::prepare(row, now) {
                Ok(p) => prepared.push(p),
                Err(v) => run.reject(number, &external_id, &v),
            }
        }
        let wanted: Vec<String> = prepared
            .iter()
            .map(|p| p.party_external_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let parties = if wanted.is_empty() {
            HashMap::new()
        } else {
            self.resolve_parties(principal, &run.source, wanted).await?
        };
        let channel_ids: Vec<String> = prepared
            .iter()
            .map(|p| p.partner_external_id.clone())
            .filter(|e| !e.is_empty())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let skus: Vec<String> = prepared
            .iter()
            .flat_map(|p| p.line_skus.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut tx = self.store.begin().await?;
        let channels = channel_partners::by_external_ids(&mut tx, &run.source, &channel_ids).await?;
        let products = catalog::products_by_skus(&mut tx, &skus).await?;
        let external_ids: Vec<String> = prepared.iter().map(|p| p.external_id.clone()).collect();
        let stored = orders::IMPORT_KEYS
            .lookup(&mut tx, &run.source, &external_ids)
            .await?;
        let mut seen = HashMap::new();
        let mut creates: Vec<PreparedOrder> = Vec::new();
        let mut changes = Vec::new();
        let mut keys = Vec::new();
        for mut p in prepared {
            match parties.get(&p.party_external_id) {
                Some(account) if account.status == "active" => p.order.party_id = account.party_id.clone(),
                Some(account) => {
                    let reason = format!("party {} is {}", account.party_id, account.status);
                    run.reject_one(p.row, &p.external_id, "party_external_id", reason);
                    continue;
                }
                None => {
                    let reason = format!("no party {:?} imported from {}", p.party_external_id, run.source);
                    run.reject_one(p.row, &p.external_id, "party_external_id", reason);
                    continue;
                }
            }
            if !p.partner_external_id.is_empty() {
                match channels.get(&p.partner_external_id) {
                    Some(id) => {
                        p.order.channel = Some(pb::Channel {
                            partner_id: id.clone(),
                        })
                    }
                    None => {
                        let reason = format!(
                            "no partner {:?} imported from {} (known once the partners service has announced it)",
                            p.partner_external_id, run.source
                        );
                        run.reject_one(p.row, &p.external_id, "partner_external_id", reason);
                        continue;
                    }
                }
            }
            if let Err((field, reason)) = import_rules::attach_products(&mut p, &products) {
                run.reject_one(p.row, &p.external_id, &field, reason);
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
                Disposition::Duplicate(first) => run.reject_one(
                    p.row,
                    &p.external_id,
                    "external_id",
                    format!("appears again in this import (first in row {first})"),
                ),
                Disposition::Create => creates.push(p),
                Disposition::Update(id) => changes.push((id, p)),
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
            for (id, _) in changes {
                run.count(&Disposition::Update(id));
            }
            return Ok(());
        }
        let mut events = Vec::new();
        for (id, p) in changes {
            match self.update_imported(&mut tx, &id, &p).await? {
                Ok(order) => {
                    run.count(&Disposition::Update(id.clone()));
                    events.push(status_event(&order));
                    keys.push(key(&p, &id));
                }
                Err((field, reason)) => run.reject_one(p.row, &p.external_id, field, reason),
            }
        }
        if !creates.is_empty() {
            let mut new_orders: Vec<pb::Order> = creates.iter().map(|p| p.order.clone()).collect();
            let new_keys: Vec<NewRowKey> = creates.iter().map(|p| run.row_key(&p.hash, p.row)).collect();
            orders::insert_many(&mut tx, &mut new_orders, &new_keys).await?;
            for _ in &creates {
                run.count(&Disposition::Create);
            }
            // New orders are announced in bulk, so that consumers apply them in bulk.
            events.extend(outbox::batch_events(
                ev::ORDERS_IMPORTED,
                &run.run_id,
                new_orders,
                |orders| pb::OrdersImported { orders },
            ));
        }
        outbox::enqueue_many(&mut tx, events).await?;
        // Orders seen again (changed or not) move to this run; new ones carry their key.
        orders::IMPORT_KEYS
            .record(&mut tx, &run.source, &run.run_id, &keys)
            .await?;
        orders::IMPORT_KEYS.analyze_if_grown(&mut tx).await?;
        self.store.commit(tx).await?;
        Ok(())
    }

    /// Moves an imported order to the status a changed row gives it. Refused (field, reason)
    /// when the row changes what an order keeps for good, or moves its status backwards.
    async fn update_imported(
        &self,
        tx: &mut crm_storage::Tx,
        id: &str,
        p: &PreparedOrder,
    ) -> Result<std::result::Result<pb::Order, (&'static str, String)>> {
        let Some(stored) = orders::get(tx, id).await? else {
            return Ok(Err(("external_id", format!("order {id} no longer exists"))));
        };
        let frozen = import_rules::frozen_changes(&stored, &p.order);
        if let Some(field) = frozen.first() {
            return Ok(Err((
                field,
                format!("order {id} was imported with another value; only its status may change"),
            )));
        }
        let from = OrderStatus::try_from(stored.status).unwrap_or(OrderStatus::Unspecified);
        let to = OrderStatus::try_from(p.order.status).unwrap_or(OrderStatus::Unspecified);
        if from != to && !import_rules::may_move(from, to) {
            return Ok(Err((
                "status",
                format!("order {id} cannot go from {from:?} to {to:?}"),
            )));
        }
        let status_at = p.order.status_time.as_ref().map_or(0, crate::storage::micros);
        let expected: i64 = stored.etag.parse().unwrap_or_default();
        if !orders::set_imported_status(
            tx,
            id,
            p.order.status,
            &p.order.status_reason,
            status_at,
            expected,
        )
        .await?
        {
            return Err(Error::Stale(format!("order {id}")));
        }
        orders::get(tx, id)
            .await?
            .map(Ok)
            .ok_or_else(|| Error::NotFound(format!("order {id}")))
    }

    pub(super) async fn handle_export_orders(
        &self,
        principal: Principal,
        req: pb::ExportOrdersRequest,
    ) -> Result<ResponseStream<pb::ExportOrdersResponse>> {
        let db = self.store.db().clone();
        Ok(export::keyset_pages(String::new(), move |after: String| {
            let (db, req, scope) = (db.clone(), req.clone(), rules::ReadScope::of(&principal));
            async move {
                let mut conn = db.pool().acquire().await?;
                let page = orders::list(
                    &mut conn,
                    &scope,
                    &req.party_id,
                    req.status,
                    &req.partner_id,
                    &after,
                    export::PAGE,
                )
                .await?;
                let next = export::next_key(page.len(), export::PAGE, page.last().map(|o| o.id.clone()));
                Ok((
                    (!page.is_empty()).then_some(pb::ExportOrdersResponse { orders: page }),
                    next,
                ))
            }
        }))
    }
}

fn key(p: &PreparedOrder, record_id: &str) -> NewImportKey {
    NewImportKey {
        external_id: p.external_id.clone(),
        record_id: record_id.to_string(),
        content_hash: p.hash.clone(),
        row: p.row,
    }
}
