//! Orders: direct placement (idempotent per external reference), status changes.

use crm_auth::Principal;
use crm_platform::Violations;
use crm_platform::paging::{decode_token, next_token, page_size};
use crm_proto::common::v1::Money;
use crm_proto::sales::v1::events as ev;
use crm_proto::sales::v1::{self as pb, OrderStatus};

use super::{SalesApi, version};
use crate::domain::rules;
use crate::error::{Error, Result, invalid};
use crate::events;
use crate::storage::{catalog, orders};

/// Whether `principal` may read order `o` (record rules).
pub(super) fn readable(principal: &Principal, o: &pb::Order) -> bool {
    rules::may_read(principal, &o.owner_id, &o.team_id, "")
}

impl SalesApi {
    pub(super) async fn handle_place_order(
        &self,
        principal: &Principal,
        req: pb::PlaceOrderRequest,
    ) -> Result<pb::PlaceOrderResponse> {
        let mut order = req.order.ok_or_else(|| invalid("order", "required"))?;
        let mut v = Violations::new();
        v.check(order.party_id.is_empty(), "order.party_id", "required");
        v.check(req.price_book_id.is_empty(), "price_book_id", "required");
        v.check(
            order.external_ref.len() > 200,
            "order.external_ref",
            "at most 200 characters",
        );
        order.campaign_code = order.campaign_code.trim().to_uppercase();
        v.check(
            order.campaign_code.len() > 32,
            "order.campaign_code",
            "at most 32 characters",
        );
        v.finish()?;
        super::check_assignment(
            principal,
            &rules::Assignment {
                owner_id: Some(&order.owner_id),
                team_id: Some(&order.team_id),
                territory_id: None,
            },
        )?;
        let partner_id = order.channel.clone().unwrap_or_default().partner_id;
        self.fetch_party(principal, &order.party_id, "order.party_id")
            .await?;
        let mut tx = self.store.begin().await?;
        // A retried placement returns the order it placed the first time.
        if !order.external_ref.is_empty()
            && let Some(existing) = orders::by_external_ref(&mut tx, &partner_id, &order.external_ref).await?
        {
            // The same answer as GetOrder would give: someone else's order is not shown.
            if !readable(principal, &existing) {
                return Err(Error::PermissionDenied(format!(
                    "{} may not read order {}",
                    principal.user_id, existing.id
                )));
            }
            return Ok(pb::PlaceOrderResponse {
                order: Some(existing),
                created: false,
            });
        }
        self.ensure_party(&mut tx, &order.party_id, "order.party_id")
            .await?;
        let book = catalog::price_book_by_id(&mut tx, &req.price_book_id)
            .await?
            .ok_or_else(|| invalid("price_book_id", "no such price book"))?;
        let totals = super::quotes::price_lines(&mut tx, &book, &mut order.lines, 0, true)
            .await
            .map_err(|e| match e {
                Error::Invalid(v) => {
                    let mut out = Violations::new();
                    out.extend_prefixed("order", v);
                    Error::Invalid(out)
                }
                other => other,
            })?;
        order.total = Some(Money {
            amount_minor: totals.total_minor,
            currency_code: book.currency_code.clone(),
        });
        order.status = OrderStatus::Placed as i32;
        order.quote_id.clear();
        order.status_reason.clear();
        order.channel = Some(pb::Channel { partner_id });
        if order.owner_id.is_empty() {
            order.owner_id = principal.user_id.clone();
            order.team_id = principal.team_id.clone().unwrap_or_default();
        }
        if let Err(err) = orders::insert(&mut tx, &mut order, self.store.now_micros()).await {
            if crm_storage::is_unique_violation(&err) {
                // Placed concurrently by a retry of the same request.
                drop(tx);
                let mut conn = self.store.conn().await?;
                let partner = order.channel.clone().unwrap_or_default().partner_id;
                let existing = orders::by_external_ref(&mut conn, &partner, &order.external_ref).await?;
                return Ok(pb::PlaceOrderResponse {
                    order: existing,
                    created: false,
                });
            }
            return Err(err.into());
        }
        let stored = orders::get(&mut tx, &order.id)
            .await?
            .ok_or_else(|| Error::NotFound("order".into()))?;
        events::publish(
            &mut tx,
            ev::ORDER_PLACED,
            &stored.party_id,
            &pb::OrderPlaced {
                order: Some(stored.clone()),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::PlaceOrderResponse {
            order: Some(stored),
            created: true,
        })
    }

    pub(super) async fn handle_get_order(
        &self,
        principal: &Principal,
        req: pb::GetOrderRequest,
    ) -> Result<pb::GetOrderResponse> {
        let mut conn = self.store.conn().await?;
        let order = orders::get(&mut conn, &req.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("order {}", req.id)))?;
        if !readable(principal, &order) {
            return Err(Error::PermissionDenied(format!(
                "{} may not read order {}",
                principal.user_id, order.id
            )));
        }
        Ok(pb::GetOrderResponse { order: Some(order) })
    }

    pub(super) async fn handle_list_orders(
        &self,
        principal: &Principal,
        req: pb::ListOrdersRequest,
    ) -> Result<pb::ListOrdersResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 50, 500, &mut v);
        let after = decode_token(&req.page_token, &mut v);
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let found = orders::list(
            &mut conn,
            &rules::ReadScope::of(principal),
            &req.party_id,
            req.status,
            &req.partner_id,
            &after,
            size,
        )
        .await?;
        let next_page_token = next_token(found.len(), size, found.last().map(|o| o.id.clone()));
        Ok(pb::ListOrdersResponse {
            orders: found,
            next_page_token,
        })
    }

    pub(super) async fn handle_summarize_customer_orders(
        &self,
        principal: &Principal,
        req: pb::SummarizeCustomerOrdersRequest,
    ) -> Result<pb::SummarizeCustomerOrdersResponse> {
        let mut v = Violations::new();
        v.check(req.party_id.is_empty(), "party_id", "required");
        v.check(!(0..=100).contains(&req.recent), "recent", "0 to 100");
        v.finish()?;
        let recent = if req.recent == 0 {
            10
        } else {
            i64::from(req.recent)
        };
        let scope = rules::ReadScope::of(principal);
        let mut conn = self.store.conn().await?;
        let summary = orders::summary(&mut conn, &req.party_id, &scope, recent, 100).await?;
        Ok(pb::SummarizeCustomerOrdersResponse {
            recent_orders: summary.recent,
            lifetime_value: summary
                .totals
                .iter()
                .map(|(currency, _, total)| Money {
                    amount_minor: *total,
                    currency_code: currency.clone(),
                })
                .collect(),
            order_count: summary.totals.iter().map(|(_, n, _)| n).sum(),
            latest_owner_id: summary.latest_owner,
            partner_ids: summary.partners,
        })
    }

    pub(super) async fn handle_update_order_status(
        &self,
        principal: &Principal,
        req: pb::UpdateOrderStatusRequest,
    ) -> Result<pb::UpdateOrderStatusResponse> {
        let target = OrderStatus::try_from(req.status).unwrap_or(OrderStatus::Unspecified);
        let mut v = Violations::new();
        v.check(
            !matches!(
                target,
                OrderStatus::Fulfilled | OrderStatus::Cancelled | OrderStatus::Returned
            ),
            "status",
            "FULFILLED, CANCELLED or RETURNED",
        );
        v.check(
            matches!(target, OrderStatus::Cancelled | OrderStatus::Returned) && req.reason.trim().is_empty(),
            "reason",
            "required to cancel or return",
        );
        v.finish()?;
        let expected = version(&req.etag, "etag")?;
        let mut tx = self.store.begin().await?;
        let order = orders::get(&mut tx, &req.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("order {}", req.id)))?;
        if !rules::may_write(principal, &order.owner_id, &order.team_id, "") {
            return Err(Error::PermissionDenied(format!(
                "{} may not change order {}",
                principal.user_id, order.id
            )));
        }
        if order.etag != expected.to_string() {
            return Err(Error::Stale(format!("order {}", order.id)));
        }
        let current = OrderStatus::try_from(order.status).unwrap_or(OrderStatus::Unspecified);
        let allowed = matches!(
            (current, target),
            (
                OrderStatus::Placed,
                OrderStatus::Fulfilled | OrderStatus::Cancelled
            ) | (OrderStatus::Fulfilled, OrderStatus::Returned)
        );
        if !allowed {
            return Err(Error::FailedPrecondition(format!(
                "order {} cannot go from {current:?} to {target:?}",
                order.id
            )));
        }
        if !orders::set_status(
            &mut tx,
            &order.id,
            target as i32,
            req.reason.trim(),
            expected,
            self.store.now_micros(),
        )
        .await?
        {
            return Err(Error::Stale(format!("order {}", order.id)));
        }
        let stored = orders::get(&mut tx, &order.id)
            .await?
            .ok_or_else(|| Error::NotFound("order".into()))?;
        let key = stored.party_id.clone();
        match target {
            OrderStatus::Fulfilled => {
                events::publish(
                    &mut tx,
                    ev::ORDER_FULFILLED,
                    &key,
                    &pb::OrderFulfilled {
                        order: Some(stored.clone()),
                    },
                )
                .await?
            }
            OrderStatus::Cancelled => {
                events::publish(
                    &mut tx,
                    ev::ORDER_CANCELLED,
                    &key,
                    &pb::OrderCancelled {
                        order: Some(stored.clone()),
                    },
                )
                .await?
            }
            _ => {
                events::publish(
                    &mut tx,
                    ev::ORDER_RETURNED,
                    &key,
                    &pb::OrderReturned {
                        order: Some(stored.clone()),
                    },
                )
                .await?
            }
        }
        self.store.commit(tx).await?;
        Ok(pb::UpdateOrderStatusResponse { order: Some(stored) })
    }
}
