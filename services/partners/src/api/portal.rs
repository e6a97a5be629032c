//! The partner portal: catalog with roadmap and availability, e-ordering, deal registration.

use crm_auth::Principal;
use crm_platform::Violations;
use crm_platform::paging::{decode_key, decode_parts, finish_page, key_of, page_size, time_and_id};
use crm_platform::time::micros;
use crm_proto::partners::v1::events as ev;
use crm_proto::partners::v1::{self as pb, PartnerOrderStatus, RegistrationStatus};

use super::{PartnersApi, visible_partner};
use crate::domain::rules::is_date;
use crate::error::{Error, Result, invalid};
use crate::events;
use crate::storage::{catalog, portal, timestamp};

/// Roadmap entries of products not in the catalog yet, shown at most.
const MAX_UPCOMING: i64 = 100;

impl PartnersApi {
    pub(super) async fn handle_get_portal_catalog(
        &self,
        _p: &Principal,
        req: pb::GetPortalCatalogRequest,
    ) -> Result<pb::GetPortalCatalogResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 500, &mut v);
        let after = decode_parts(&req.page_token, 2, &mut v).map(|k| (k[0].clone(), k[1].clone()));
        v.finish()?;
        let mut conn = self.store.conn().await?;
        // A page of active products with their availability, and the roadmap of those only.
        let rows = portal::catalog_page(&mut conn, &req.category, after.as_ref(), size + 1).await?;
        let (mut products, next_page_token) = finish_page(rows, size, |p| key_of(&[&p.name, &p.product_id]));
        let ids: Vec<String> = products.iter().map(|p| p.product_id.clone()).collect();
        let mut roadmap = portal::roadmap_of(&mut conn, &ids).await?;
        for p in &mut products {
            p.roadmap = roadmap.remove(&p.product_id).unwrap_or_default();
        }
        let upcoming = if after.is_none() {
            portal::upcoming(&mut conn, MAX_UPCOMING).await?
        } else {
            Vec::new()
        };
        Ok(pb::GetPortalCatalogResponse {
            products,
            upcoming,
            next_page_token,
        })
    }

    pub(super) async fn handle_upsert_roadmap_entry(
        &self,
        _p: &Principal,
        req: pb::UpsertRoadmapEntryRequest,
    ) -> Result<pb::UpsertRoadmapEntryResponse> {
        let mut e = req.entry.ok_or_else(|| invalid("entry", "required"))?;
        e.title = e.title.trim().to_string();
        let mut v = Violations::new();
        v.check(
            e.title.is_empty() || e.title.len() > 200,
            "entry.title",
            "1 to 200 characters",
        );
        v.check(
            e.description.len() > 4000,
            "entry.description",
            "at most 4000 characters",
        );
        v.check(
            !e.available_from.is_empty() && !is_date(&e.available_from),
            "entry.available_from",
            "a date YYYY-MM-DD",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        portal::upsert_roadmap(&mut tx, &mut e).await?;
        self.store.commit(tx).await?;
        Ok(pb::UpsertRoadmapEntryResponse { entry: Some(e) })
    }

    pub(super) async fn handle_set_availability(
        &self,
        _p: &Principal,
        req: pb::SetAvailabilityRequest,
    ) -> Result<pb::SetAvailabilityResponse> {
        let mut a = req
            .availability
            .ok_or_else(|| invalid("availability", "required"))?;
        let mut v = Violations::new();
        v.check(a.product_id.is_empty(), "availability.product_id", "required");
        v.check(a.in_stock < 0, "availability.in_stock", "must not be negative");
        v.check(
            !(0..=3650).contains(&a.lead_time_days),
            "availability.lead_time_days",
            "0 to 3650",
        );
        v.check(
            a.weekly_capacity < 0,
            "availability.weekly_capacity",
            "must not be negative",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        if catalog::by_ids(&mut tx, std::slice::from_ref(&a.product_id))
            .await?
            .is_empty()
        {
            return Err(invalid(
                "availability.product_id",
                "no such product in the catalog",
            ));
        }
        let at = portal::set_availability(&mut tx, &a, self.store.now_micros()).await?;
        a.update_time = Some(timestamp(at));
        self.store.commit(tx).await?;
        Ok(pb::SetAvailabilityResponse {
            availability: Some(a),
        })
    }

    pub(super) async fn handle_submit_order(
        &self,
        principal: &Principal,
        req: pb::SubmitOrderRequest,
    ) -> Result<pb::SubmitOrderResponse> {
        let mut order = req.order.ok_or_else(|| invalid("order", "required"))?;
        order.external_ref = order.external_ref.trim().to_string();
        if order.currency_code.is_empty() {
            order.currency_code = "USD".into();
        }
        let mut v = Violations::new();
        v.check(order.partner_id.is_empty(), "order.partner_id", "required");
        v.check(
            order.external_ref.is_empty() || order.external_ref.len() > 200,
            "order.external_ref",
            "1 to 200 characters",
        );
        v.check(
            order.lines.is_empty() || order.lines.len() > 200,
            "order.lines",
            "1 to 200 lines",
        );
        for (i, l) in order.lines.iter().enumerate() {
            v.check(
                l.product_id.is_empty(),
                format!("order.lines[{i}].product_id"),
                "required",
            );
            v.check(
                !(1..=1_000_000).contains(&l.quantity),
                format!("order.lines[{i}].quantity"),
                "1 to 1000000",
            );
        }
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let partner = visible_partner(&mut tx, principal, &order.partner_id).await?;
        // The same reference again is the same order.
        if let Some(existing) = portal::order_by_ref(&mut tx, &partner.id, &order.external_ref).await? {
            return Ok(pb::SubmitOrderResponse {
                order: Some(existing),
                created: false,
            });
        }
        if partner.status != pb::PartnerStatus::Active as i32 {
            return Err(Error::FailedPrecondition(format!(
                "partner {} is not active",
                partner.name
            )));
        }
        if partner.party_id.is_empty() {
            return Err(Error::FailedPrecondition(format!(
                "partner {} has no customer party to sell to",
                partner.name
            )));
        }
        let ids: Vec<String> = order.lines.iter().map(|l| l.product_id.clone()).collect();
        let products = catalog::by_ids(&mut tx, &ids).await?;
        let mut v = Violations::new();
        for (i, l) in order.lines.iter().enumerate() {
            v.check(
                !products.get(&l.product_id).is_some_and(|p| p.active),
                format!("order.lines[{i}].product_id"),
                "not an active product",
            );
        }
        v.finish()?;
        order.status = PartnerOrderStatus::Submitted as i32;
        order.sales_order_id.clear();
        portal::insert_order(&mut tx, &mut order, self.store.now_micros()).await?;
        events::publish(
            &mut tx,
            ev::PARTNER_ORDER_SUBMITTED,
            &partner.id,
            &pb::PartnerOrderSubmitted {
                order: Some(order.clone()),
                party_id: partner.party_id.clone(),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::SubmitOrderResponse {
            order: Some(order),
            created: true,
        })
    }

    pub(super) async fn handle_list_partner_orders(
        &self,
        principal: &Principal,
        req: pb::ListPartnerOrdersRequest,
    ) -> Result<pb::ListPartnerOrdersResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 500, &mut v);
        let before = decode_key(&req.page_token, &mut v, time_and_id);
        v.finish()?;
        let mut conn = self.store.conn().await?;
        visible_partner(&mut conn, principal, &req.partner_id).await?;
        let rows = portal::orders(&mut conn, &req.partner_id, before, size + 1).await?;
        let (orders, next_page_token) = finish_page(rows, size, |o| {
            format!("{}|{}", o.submit_time.as_ref().map_or(0, micros), o.id)
        });
        Ok(pb::ListPartnerOrdersResponse {
            orders,
            next_page_token,
        })
    }

    pub(super) async fn handle_register_deal(
        &self,
        principal: &Principal,
        req: pb::RegisterDealRequest,
    ) -> Result<pb::RegisterDealResponse> {
        let mut d = req
            .registration
            .ok_or_else(|| invalid("registration", "required"))?;
        d.company_name = d.company_name.trim().to_string();
        let mut v = Violations::new();
        v.check(d.partner_id.is_empty(), "registration.partner_id", "required");
        v.check(
            d.company_name.is_empty() || d.company_name.len() > 200,
            "registration.company_name",
            "1 to 200 characters",
        );
        v.check(
            !d.email.is_empty() && (d.email.matches('@').count() != 1 || d.email.contains(' ')),
            "registration.email",
            "not an email address",
        );
        v.check(
            !d.expected_close_date.is_empty() && !is_date(&d.expected_close_date),
            "registration.expected_close_date",
            "a date YYYY-MM-DD",
        );
        if let Some(m) = &d.estimated_amount {
            v.check(
                m.amount_minor < 0,
                "registration.estimated_amount.amount_minor",
                "must not be negative",
            );
            v.check(
                m.currency_code.len() != 3,
                "registration.estimated_amount.currency_code",
                "an ISO 4217 code",
            );
        }
        v.check(
            d.notes.len() > 4000,
            "registration.notes",
            "at most 4000 characters",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        visible_partner(&mut tx, principal, &d.partner_id).await?;
        d.status = RegistrationStatus::Pending as i32;
        d.review_reason.clear();
        d.reviewer_id.clear();
        portal::insert_registration(&mut tx, &mut d, self.store.now_micros()).await?;
        let stored = portal::registration_by_id(&mut tx, &d.id).await?;
        self.store.commit(tx).await?;
        Ok(pb::RegisterDealResponse { registration: stored })
    }

    pub(super) async fn handle_review_deal_registration(
        &self,
        principal: &Principal,
        req: pb::ReviewDealRegistrationRequest,
    ) -> Result<pb::ReviewDealRegistrationResponse> {
        if !req.approve && req.reason.trim().is_empty() {
            return Err(invalid("reason", "required when rejecting"));
        }
        let mut tx = self.store.begin().await?;
        let d = portal::registration_by_id(&mut tx, &req.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("deal registration {}", req.id)))?;
        let status = if req.approve {
            RegistrationStatus::Approved
        } else {
            RegistrationStatus::Rejected
        };
        if !portal::review(
            &mut tx,
            &d.id,
            status as i32,
            req.reason.trim(),
            &principal.user_id,
        )
        .await?
        {
            return Err(Error::FailedPrecondition(format!(
                "deal registration {} was already reviewed",
                d.id
            )));
        }
        let stored = portal::registration_by_id(&mut tx, &d.id)
            .await?
            .ok_or_else(|| Error::NotFound("registration".into()))?;
        if req.approve {
            events::publish(
                &mut tx,
                ev::DEAL_REGISTRATION_APPROVED,
                &stored.partner_id,
                &pb::DealRegistrationApproved {
                    registration: Some(stored.clone()),
                },
            )
            .await?;
        }
        self.store.commit(tx).await?;
        Ok(pb::ReviewDealRegistrationResponse {
            registration: Some(stored),
        })
    }

    pub(super) async fn handle_list_deal_registrations(
        &self,
        principal: &Principal,
        req: pb::ListDealRegistrationsRequest,
    ) -> Result<pb::ListDealRegistrationsResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 500, &mut v);
        let before = decode_key(&req.page_token, &mut v, time_and_id);
        v.finish()?;
        let mut conn = self.store.conn().await?;
        if !req.partner_id.is_empty() {
            visible_partner(&mut conn, principal, &req.partner_id).await?;
        }
        let within = super::confined_to(principal);
        let rows =
            portal::registrations(&mut conn, &req.partner_id, within, req.status, before, size + 1).await?;
        let (found, next_page_token) = finish_page(rows, size, |d| {
            format!("{}|{}", d.register_time.as_ref().map_or(0, micros), d.id)
        });
        Ok(pb::ListDealRegistrationsResponse {
            registrations: found,
            next_page_token,
        })
    }
}
