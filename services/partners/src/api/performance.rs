//! Performance against target with drill-down, and exceptions.

use std::collections::{HashMap, HashSet};

use crm_auth::Principal;
use crm_platform::Violations;
use crm_platform::paging::{decode_parts, finish_page, key_of, page_size};
use crm_proto::common::v1::Money;
use crm_proto::partners::v1::events as ev;
use crm_proto::partners::v1::{self as pb, Dimension};

use super::sales::period_range;
use super::{PartnersApi, children, subtree, visible, visible_partner};
use crate::domain::performance::{self, Cell, SaleFact, TargetFact};
use crate::error::{Result, invalid};
use crate::events;
use crate::storage::{catalog, partners as store, sales, targets};

fn money(amount_minor: i64, currency: &str) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency_code: currency.to_string(),
    })
}

/// Everything the computations need for one period and currency.
struct Facts {
    partners: Vec<pb::Partner>,
    targets: Vec<TargetFact>,
    sales: Vec<SaleFact>,
    product_names: HashMap<String, String>,
}

async fn load_facts(conn: &mut crm_storage::Conn, from: &str, to: &str, currency: &str) -> Result<Facts> {
    let partners = store::all(conn).await?;
    let regions: HashMap<String, Vec<String>> = partners
        .iter()
        .map(|p| (p.id.clone(), p.region_codes.clone()))
        .collect();
    let products = catalog::all(conn).await?;
    let category_of: HashMap<&str, &str> = products
        .iter()
        .map(|p| (p.id.as_str(), p.category.as_str()))
        .collect();
    let targets = targets::for_span(conn, currency, from, to)
        .await?
        .into_iter()
        .filter_map(|t| {
            let period = crm_calendar::Period::parse(&t.period)?;
            let category = if t.product_category.is_empty() && !t.product_id.is_empty() {
                category_of
                    .get(t.product_id.as_str())
                    .map(|c| c.to_string())
                    .unwrap_or_default()
            } else {
                t.product_category.clone()
            };
            Some(TargetFact {
                regions: regions.get(&t.partner_id).cloned().unwrap_or_default(),
                partner_id: t.partner_id,
                period,
                category,
                product_id: t.product_id,
                amount_minor: t.amount.map(|m| m.amount_minor).unwrap_or_default(),
                quantity: t.quantity,
            })
        })
        .collect();
    let sales = sales::monthly(conn, currency, from, to)
        .await?
        .into_iter()
        .filter_map(
            |(partner_id, product_id, category, region, month, quantity, amount_minor)| {
                Some(SaleFact {
                    // The month's first day stands for the month's sales.
                    sold_on: chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?,
                    partner_id,
                    product_id,
                    category,
                    region,
                    quantity,
                    amount_minor,
                })
            },
        )
        .collect();
    let product_names = products.into_iter().map(|p| (p.id, p.name)).collect();
    Ok(Facts {
        partners,
        targets,
        sales,
        product_names,
    })
}

impl PartnersApi {
    pub(super) async fn handle_get_performance(
        &self,
        principal: &Principal,
        req: pb::GetPerformanceRequest,
    ) -> Result<pb::GetPerformanceResponse> {
        let (period, from, to) = period_range(&req.period, "period")?;
        let dimension = match Dimension::try_from(req.dimension) {
            Ok(Dimension::Partner) => performance::Dimension::Partner,
            Ok(Dimension::ProductCategory) => performance::Dimension::Category,
            Ok(Dimension::Product) => performance::Dimension::Product,
            Ok(Dimension::Period) => performance::Dimension::Period,
            Ok(Dimension::Region) => performance::Dimension::Region,
            _ => {
                return Err(invalid(
                    "dimension",
                    "PARTNER, PRODUCT_CATEGORY, PRODUCT, PERIOD or REGION",
                ));
            }
        };
        let currency = if req.currency_code.is_empty() {
            "USD".to_string()
        } else {
            req.currency_code.clone()
        };
        let mut conn = self.store.conn().await?;
        let mut facts = load_facts(&mut conn, &from, &to, &currency).await?;
        // The scope: one partner and its sub-partners, or everything the principal may see.
        let allowed = visible(principal, &facts.partners);
        let (scope, scope_label): (Option<HashSet<String>>, String) = if req.partner_id.is_empty() {
            (allowed.clone(), "All channels".to_string())
        } else {
            let (partner, _) = visible_partner(&mut conn, principal, &req.partner_id).await?;
            (Some(subtree(&facts.partners, &partner.id)), partner.name)
        };
        if allowed.is_some() && req.partner_id.is_empty() && principal.partner_id.is_none() {
            return Ok(pb::GetPerformanceResponse::default());
        }
        // Drill filters.
        if !req.product_category.is_empty() {
            facts.targets.retain(|t| t.category == req.product_category);
            facts.sales.retain(|s| s.category == req.product_category);
        }
        if !req.region_code.is_empty() {
            facts.sales.retain(|s| s.region == req.region_code);
            for t in &mut facts.targets {
                // Only the region's share of targets.
                let n = t.regions.len().max(1) as i64;
                if t.regions.contains(&req.region_code) {
                    t.amount_minor /= n;
                    t.quantity /= n;
                    t.regions = vec![req.region_code.clone()];
                } else {
                    t.amount_minor = 0;
                    t.quantity = 0;
                }
            }
        }
        // Partner rows: the partners directly below the scope (or the top-level ones) with
        // everything below each rolled up.
        let kids = children(&facts.partners);
        let row_roots: Vec<String> = if req.partner_id.is_empty() {
            match &allowed {
                Some(_) => principal.partner_id.iter().cloned().collect(),
                None => kids.get("").cloned().unwrap_or_default(),
            }
        } else {
            let mut rows = vec![req.partner_id.clone()];
            rows.extend(kids.get(&req.partner_id).cloned().unwrap_or_default());
            rows
        };
        let mut row_of: HashMap<String, String> = HashMap::new();
        for root in &row_roots {
            let under = if *root == req.partner_id {
                HashSet::from([root.clone()])
            } else {
                subtree(&facts.partners, root)
            };
            for id in under {
                row_of.insert(id, root.clone());
            }
        }
        let in_scope = |id: &str| scope.as_ref().is_none_or(|s| s.contains(id));
        let partner_key = |id: &str| -> Option<String> {
            if !in_scope(id) {
                return None;
            }
            Some(if dimension == performance::Dimension::Partner {
                row_of.get(id).cloned()?
            } else {
                String::new()
            })
        };
        let cells = performance::cells(&facts.targets, &facts.sales, dimension, &period, &partner_key);
        let today = self.today();
        let names: HashMap<&str, &str> = facts
            .partners
            .iter()
            .map(|p| (p.id.as_str(), p.name.as_str()))
            .collect();
        let label = |key: &str| -> String {
            match dimension {
                performance::Dimension::Partner => names.get(key).map(|n| n.to_string()).unwrap_or_default(),
                performance::Dimension::Product => facts
                    .product_names
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| key.to_string()),
                _ => key.to_string(),
            }
        };
        let row = |cell: &Cell, path: Vec<String>| {
            let cell_period = if dimension == performance::Dimension::Period {
                crm_calendar::Period::parse(&cell.key).unwrap_or(period)
            } else {
                period
            };
            pb::PerformanceRow {
                key: cell.key.clone(),
                label: label(&cell.key),
                target: money(cell.target_minor, &currency),
                actual: money(cell.actual_minor, &currency),
                target_quantity: cell.target_quantity,
                actual_quantity: cell.actual_quantity,
                attainment_bps: cell.attainment_bps(),
                expected: money(
                    performance::expected(cell.target_minor, &cell_period, today),
                    &currency,
                ),
                path,
            }
        };
        let base_path: Vec<String> = [
            Some(scope_label),
            Some(period.code()),
            (!req.product_category.is_empty()).then(|| req.product_category.clone()),
            (!req.region_code.is_empty()).then(|| req.region_code.clone()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let total = Cell {
            key: String::new(),
            target_minor: cells.iter().map(|c| c.target_minor).sum(),
            target_quantity: cells.iter().map(|c| c.target_quantity).sum(),
            actual_minor: cells.iter().map(|c| c.actual_minor).sum(),
            actual_quantity: cells.iter().map(|c| c.actual_quantity).sum(),
        };
        let rows = cells
            .iter()
            .map(|c| {
                let mut path = base_path.clone();
                path.push(label(&c.key));
                row(c, path)
            })
            .collect();
        Ok(pb::GetPerformanceResponse {
            rows,
            total: Some(row(&total, base_path.clone())),
        })
    }

    pub(super) async fn handle_list_exceptions(
        &self,
        principal: &Principal,
        req: pb::ListExceptionsRequest,
    ) -> Result<pb::ListExceptionsResponse> {
        let (period, _, _) = period_range(&req.period, "period")?;
        let mut v = Violations::new();
        v.check(
            !(0..=10_000).contains(&req.threshold_bps),
            "threshold_bps",
            "0 to 10000 (0 means the configured default)",
        );
        let size = page_size(req.page_size, 100, 500, &mut v);
        let after = decode_parts(&req.page_token, 1, &mut v).map(|mut k| k.remove(0));
        v.finish()?;
        let threshold = if req.threshold_bps == 0 {
            self.config.exception_threshold_bps
        } else {
            req.threshold_bps
        };
        let currency = if req.currency_code.is_empty() {
            "USD".to_string()
        } else {
            req.currency_code.clone()
        };
        let mut tx = self.store.begin().await?;
        let all = store::all(&mut tx).await?;
        let allowed = visible(principal, &all);
        let now = self.store.now_micros();
        let mut cells = exceptions(&mut tx, &period, now, threshold, &currency, allowed.as_ref()).await?;
        self.store.commit(tx).await?;
        // The cells are one aggregate of the period's targets and sales; pages cut it by key.
        cells.sort_by(|a, b| a.key.cmp(&b.key));
        cells.retain(|c| after.as_ref().is_none_or(|after| &c.key > after));
        cells.truncate(usize::try_from(size + 1).unwrap_or(usize::MAX));
        let (exceptions, next_page_token) = finish_page(cells, size, |c| key_of(&[&c.key]));
        Ok(pb::ListExceptionsResponse {
            exceptions,
            next_page_token,
        })
    }
}

/// The exception cells of `period` as of `now` (partners limited to `allowed` when given),
/// announcing each cell the first time it falls under `threshold`.
pub async fn exceptions(
    tx: &mut crm_storage::Tx,
    period: &crm_calendar::Period,
    now: i64,
    threshold: i32,
    currency: &str,
    allowed: Option<&HashSet<String>>,
) -> Result<Vec<pb::PerformanceRow>> {
    let today = crm_platform::time::naive_utc(now).date();
    let from = period.start.format("%Y-%m-%d").to_string();
    let to = period.end_exclusive().format("%Y-%m-%d").to_string();
    let mut facts = load_facts(tx, &from, &to, currency).await?;
    if let Some(allowed) = allowed {
        facts.targets.retain(|t| allowed.contains(&t.partner_id));
    }
    let found = performance::exceptions(&facts.targets, &facts.sales, period, today, threshold);
    let names: HashMap<&str, &str> = facts
        .partners
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    let mut rows = Vec::new();
    for e in found {
        let mut path = vec![
            names
                .get(e.partner_id.as_str())
                .map(|n| n.to_string())
                .unwrap_or_default(),
            e.month.code(),
        ];
        if !e.category.is_empty() {
            path.push(e.category.clone());
        }
        if !e.product_id.is_empty() {
            path.push(
                facts
                    .product_names
                    .get(&e.product_id)
                    .cloned()
                    .unwrap_or_else(|| e.product_id.clone()),
            );
        }
        let row = pb::PerformanceRow {
            key: e.key(),
            label: path.join(" -> "),
            target: money(e.target_minor, currency),
            actual: money(e.actual_minor, currency),
            target_quantity: 0,
            actual_quantity: 0,
            attainment_bps: performance::ratio_bps(e.actual_minor, e.target_minor),
            expected: money(e.expected_minor, currency),
            path,
        };
        // A cell is announced once, when it first falls under.
        if sales::mark_exception(tx, &format!("{threshold}|{currency}|{}", e.key()), now).await? {
            events::publish(
                tx,
                ev::PERFORMANCE_EXCEPTION,
                &e.partner_id,
                &pb::PerformanceException {
                    cell: Some(row.clone()),
                    threshold_bps: threshold,
                },
            )
            .await?;
        }
        rows.push(row);
    }
    Ok(rows)
}
