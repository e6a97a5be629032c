//! Targets, partner-reported sales and sell-through.

use crm_auth::{Principal, Role};
use crm_calendar::Period;
use crm_platform::Violations;
use crm_platform::paging::{decode_key, decode_parts, finish_page, key_of, page_size, text_pair};
use crm_proto::partners::v1::{self as pb, SaleSource};

use super::{PartnersApi, visible_partner};
use crate::domain::rules::{is_date, validate_target};
use crate::error::{Error, Result, invalid};
use crate::events;
use crate::storage::{catalog, sales, targets};
use crm_platform::money::is_currency;
use crm_proto::partners::v1::events as ev;

/// The [from, to) date range of a period code, or a violation of `field`.
pub(super) fn period_range(code: &str, field: &str) -> Result<(Period, String, String)> {
    let period = Period::parse(code).ok_or_else(|| invalid(field, "YYYY, YYYY-Qn or YYYY-MM"))?;
    Ok((
        period,
        period.start.format("%Y-%m-%d").to_string(),
        period.end_exclusive().format("%Y-%m-%d").to_string(),
    ))
}

impl PartnersApi {
    pub(super) async fn handle_set_target(
        &self,
        principal: &Principal,
        req: pb::SetTargetRequest,
    ) -> Result<pb::SetTargetResponse> {
        let mut t = req.target.ok_or_else(|| invalid("target", "required"))?;
        let mut v = Violations::new();
        v.check(t.partner_id.is_empty(), "target.partner_id", "required");
        v.extend_prefixed("target", validate_target(&mut t));
        v.finish()?;
        let mut tx = self.store.begin().await?;
        visible_partner(&mut tx, principal, &t.partner_id).await?;
        if !t.product_id.is_empty()
            && catalog::by_ids(&mut tx, std::slice::from_ref(&t.product_id))
                .await?
                .is_empty()
        {
            return Err(invalid("target.product_id", "no such product in the catalog"));
        }
        targets::set(&mut tx, &t).await?;
        self.store.commit(tx).await?;
        Ok(pb::SetTargetResponse { target: Some(t) })
    }

    pub(super) async fn handle_list_targets(
        &self,
        principal: &Principal,
        req: pb::ListTargetsRequest,
    ) -> Result<pb::ListTargetsResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 500, &mut v);
        let after = decode_parts(&req.page_token, 4, &mut v)
            .map(|k| (k[0].clone(), k[1].clone(), k[2].clone(), k[3].clone()));
        v.finish()?;
        let mut conn = self.store.conn().await?;
        if !req.partner_id.is_empty() {
            visible_partner(&mut conn, principal, &req.partner_id).await?;
        }
        let within = super::confined_to(principal);
        let rows = targets::list(&mut conn, &req.partner_id, within, &req.period, after, size + 1).await?;
        let (found, next_page_token) = finish_page(rows, size, |t| {
            key_of(&[&t.partner_id, &t.period, &t.product_category, &t.product_id])
        });
        Ok(pb::ListTargetsResponse {
            targets: found,
            next_page_token,
        })
    }

    pub(super) async fn handle_report_sales(
        &self,
        principal: &Principal,
        req: pb::ReportSalesRequest,
    ) -> Result<pb::ReportSalesResponse> {
        let mut v = Violations::new();
        v.check(
            req.report_id.trim().is_empty() || req.report_id.len() > 200,
            "report_id",
            "1 to 200 characters",
        );
        v.check(req.partner_id.is_empty(), "partner_id", "required");
        v.check(
            req.lines.is_empty() || req.lines.len() > 10_000,
            "lines",
            "1 to 10000 lines",
        );
        for (i, line) in req.lines.iter().enumerate() {
            v.check(
                line.product_id.is_empty(),
                format!("lines[{i}].product_id"),
                "required",
            );
            v.check(
                line.quantity <= 0,
                format!("lines[{i}].quantity"),
                "must be positive",
            );
            v.check(
                !is_date(&line.sold_on),
                format!("lines[{i}].sold_on"),
                "a date YYYY-MM-DD",
            );
            match &line.amount {
                None => v.add(format!("lines[{i}].amount"), "required"),
                Some(m) => {
                    v.check(
                        m.amount_minor < 0,
                        format!("lines[{i}].amount.amount_minor"),
                        "must not be negative",
                    );
                    v.check(
                        !is_currency(&m.currency_code),
                        format!("lines[{i}].amount.currency_code"),
                        "an ISO 4217 code",
                    );
                }
            }
        }
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let partner = visible_partner(&mut tx, principal, &req.partner_id).await?;
        if principal.has_role(Role::PartnerUser)
            && principal.partner_id.as_deref() != Some(partner.id.as_str())
            && !principal.has_any_role(crate::policy::MANAGERS)
        {
            return Err(Error::PermissionDenied("a partner reports its own sales".into()));
        }
        let report_key = format!("{}:{}", partner.id, req.report_id.trim());
        if !sales::receive_report(
            &mut tx,
            &report_key,
            &partner.id,
            req.lines.len() as i64,
            self.store.now_micros(),
        )
        .await?
        {
            return Ok(pb::ReportSalesResponse {
                recorded: 0,
                duplicate: true,
            });
        }
        let ids: Vec<String> = req.lines.iter().map(|l| l.product_id.clone()).collect();
        let products = catalog::by_ids(&mut tx, &ids).await?;
        let mut recorded = 0;
        for (i, line) in req.lines.iter().enumerate() {
            let category = products.get(&line.product_id).map(|p| p.category.clone());
            let record = pb::SellThrough {
                partner_id: partner.id.clone(),
                product_category: category.unwrap_or_else(|| line.product_category.clone()),
                region_code: if line.region_code.is_empty() {
                    partner.region_codes.first().cloned().unwrap_or_default()
                } else {
                    line.region_code.clone()
                },
                source: SaleSource::PartnerReport as i32,
                source_ref: req.report_id.trim().to_string(),
                ..line.clone()
            };
            if sales::record(&mut tx, &format!("report:{report_key}:{i}"), &record).await? {
                recorded += 1;
            }
        }
        events::publish(
            &mut tx,
            ev::SALES_REPORTED,
            &partner.id,
            &pb::SalesReported {
                report_id: req.report_id.trim().to_string(),
                partner_id: partner.id.clone(),
                lines: recorded,
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::ReportSalesResponse {
            recorded,
            duplicate: false,
        })
    }

    pub(super) async fn handle_list_sell_through(
        &self,
        principal: &Principal,
        req: pb::ListSellThroughRequest,
    ) -> Result<pb::ListSellThroughResponse> {
        if req.partner_id.is_empty() {
            return Err(invalid("partner_id", "required"));
        }
        let (_, from, to) = period_range(&req.period, "period")?;
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 1000, &mut v);
        let after = decode_key(&req.page_token, &mut v, text_pair);
        v.finish()?;
        let mut conn = self.store.conn().await?;
        visible_partner(&mut conn, principal, &req.partner_id).await?;
        let rows = sales::page(&mut conn, &req.partner_id, &from, &to, after.as_ref(), size + 1).await?;
        let (rows, next_page_token) = finish_page(rows, size, |(key, s)| format!("{}|{key}", s.sold_on));
        Ok(pb::ListSellThroughResponse {
            records: rows.into_iter().map(|(_, s)| s).collect(),
            next_page_token,
        })
    }
}
