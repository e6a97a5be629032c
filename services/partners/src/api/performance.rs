//! Performance against target with drill-down, and exceptions: the cells are added up in SQL
//! (`storage::performance`); this layer picks what a principal may see and labels the rows.

use std::collections::BTreeMap;

use crm_auth::Principal;
use crm_platform::Violations;
use crm_platform::paging::{decode_parts, finish_page, key_of, page_size};
use crm_proto::common::v1::Money;
use crm_proto::partners::v1::events as ev;
use crm_proto::partners::v1::{self as pb, Dimension};

use super::sales::period_range;
use super::{PartnersApi, is_staff, visible_partner};
use crate::domain::performance::{self, Cell, Figure};
use crate::error::{Result, invalid};
use crate::events;
use crate::storage::partners::{self as store, Reach};
use crate::storage::performance::{self as figures, ExceptionCell, Filter};
use crate::storage::{catalog, sales};

fn money(amount_minor: i64, currency: &str) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency_code: currency.to_string(),
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
        // The scope: one partner and its sub-partners, or everything the principal may see.
        let by_partner = dimension == performance::Dimension::Partner;
        let (reach, scope_label) = if !req.partner_id.is_empty() {
            let partner = visible_partner(&mut conn, principal, &req.partner_id).await?;
            let reach = if by_partner {
                Reach::Children(&req.partner_id)
            } else {
                Reach::Tree(&req.partner_id)
            };
            (reach, partner.name)
        } else if is_staff(principal) {
            let reach = if by_partner { Reach::TopLevel } else { Reach::All };
            (reach, "All channels".to_string())
        } else {
            match principal.partner_id.as_deref() {
                Some(own) => (Reach::Tree(own), "All channels".to_string()),
                None => return Ok(pb::GetPerformanceResponse::default()),
            }
        };
        let filter = Filter {
            currency: &currency,
            category: &req.product_category,
            region: &req.region_code,
        };
        let shares = performance::windows(&period, dimension);
        let targets = figures::targets(&mut conn, reach, dimension, &shares, filter).await?;
        let sales = figures::sales(&mut conn, reach, dimension, &from, &to, filter).await?;
        let mut cells: BTreeMap<String, Cell> = BTreeMap::new();
        if dimension == performance::Dimension::Period {
            for sub in performance::sub_periods(&period) {
                performance::add(
                    &mut cells,
                    &sub.code(),
                    Figure::Actual {
                        amount: 0,
                        quantity: 0,
                    },
                );
            }
        }
        let by_region = dimension == performance::Dimension::Region || !req.region_code.is_empty();
        for t in &targets {
            if !by_region {
                let figure = Figure::Target {
                    amount: t.amount_minor,
                    quantity: t.quantity,
                };
                performance::add(&mut cells, &t.key, figure);
                continue;
            }
            // A partner's target is split evenly across the regions it serves.
            let mut regions: Vec<String> = serde_json::from_str(&t.regions).unwrap_or_default();
            if regions.is_empty() {
                regions.push(String::new());
            }
            let n = regions.len();
            let figure = Figure::Target {
                amount: performance::regional(t.amount_minor, n),
                quantity: performance::regional(t.quantity, n),
            };
            for region in regions
                .iter()
                .filter(|r| req.region_code.is_empty() || **r == req.region_code)
            {
                let key = if dimension == performance::Dimension::Region {
                    region
                } else {
                    &t.key
                };
                performance::add(&mut cells, key, figure);
            }
        }
        for s in &sales {
            let key = if dimension == performance::Dimension::Period {
                performance::sub_period_of(&period, &s.key).unwrap_or_default()
            } else {
                s.key.clone()
            };
            let figure = Figure::Actual {
                amount: s.amount_minor,
                quantity: s.quantity,
            };
            performance::add(&mut cells, &key, figure);
        }
        let cells: Vec<Cell> = cells.into_values().collect();
        let keys: Vec<String> = cells.iter().map(|c| c.key.clone()).collect();
        let names = match dimension {
            performance::Dimension::Partner => store::names(&mut conn, &keys).await?,
            performance::Dimension::Product => catalog::names(&mut conn, &keys).await?,
            _ => Default::default(),
        };
        let today = self.today();
        let label = |key: &str| -> String { names.get(key).cloned().unwrap_or_else(|| key.to_string()) };
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
        // The token is the last cell's (attainment, key): the page's order.
        let after = decode_parts(&req.page_token, 2, &mut v).and_then(|k| match k[0].parse::<i32>() {
            Ok(attainment) => Some((attainment, k[1].clone())),
            Err(_) => {
                v.add("page_token", "not a token of this list");
                None
            }
        });
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
        let reach = if is_staff(principal) {
            Reach::All
        } else {
            match principal.partner_id.as_deref() {
                Some(own) => Reach::Tree(own),
                None => return Ok(pb::ListExceptionsResponse::default()),
            }
        };
        let now = self.store.now_micros();
        let mut tx = self.store.begin().await?;
        let scan = Scan {
            reach,
            period: &period,
            threshold,
            currency: &currency,
        };
        let order = figures::Order::WorstFirst(
            after
                .as_ref()
                .map(|(attainment, key)| (*attainment, key.as_str())),
        );
        let cells = exceptions(&mut tx, &scan, now, order, size + 1).await?;
        self.store.commit(tx).await?;
        let (exceptions, next_page_token) = finish_page(cells, size, |c| {
            key_of(&[c.attainment_bps.to_string(), c.key.clone()])
        });
        Ok(pb::ListExceptionsResponse {
            exceptions,
            next_page_token,
        })
    }
}

/// Which exception cells to look for.
#[derive(Debug, Clone, Copy)]
pub struct Scan<'a> {
    /// The partners covered.
    pub reach: Reach<'a>,
    /// The period whose months are looked at.
    pub period: &'a crm_calendar::Period,
    /// Under this share of the expected target (basis points) a cell is an exception.
    pub threshold: i32,
    /// Currency of targets and sales.
    pub currency: &'a str,
}

/// Up to `limit` exception cells of `scan` as of `now`, in `order`, each announced the first
/// time it is found.
pub async fn exceptions(
    tx: &mut crm_storage::Tx,
    scan: &Scan<'_>,
    now: i64,
    order: figures::Order<'_>,
    limit: i64,
) -> Result<Vec<pb::PerformanceRow>> {
    let Scan {
        reach,
        period,
        threshold,
        currency,
    } = *scan;
    let today = crm_platform::time::naive_utc(now).date();
    let months = performance::exception_months(period, today);
    let under = figures::Under {
        reach,
        months: &months,
        currency,
        threshold_bps: threshold,
    };
    let found = figures::exceptions(tx, &under, order, limit).await?;
    let partner_ids: Vec<String> = found.iter().map(|e| e.partner_id.clone()).collect();
    let product_ids: Vec<String> = found
        .iter()
        .filter(|e| !e.product_id.is_empty())
        .map(|e| e.product_id.clone())
        .collect();
    let partner_names = store::names(tx, &partner_ids).await?;
    let product_names = catalog::names(tx, &product_ids).await?;
    let key =
        |e: &ExceptionCell| performance::exception_key(&e.partner_id, &e.month, &e.category, &e.product_id);
    // A cell is announced once, when it is first found under.
    let marks: Vec<String> = found
        .iter()
        .map(|e| format!("{threshold}|{currency}|{}", key(e)))
        .collect();
    let new = sales::mark_exceptions(tx, &marks, now).await?;
    let mut rows = Vec::with_capacity(found.len());
    for (e, mark) in found.iter().zip(&marks) {
        let mut path = vec![
            partner_names.get(&e.partner_id).cloned().unwrap_or_default(),
            e.month.clone(),
        ];
        if !e.category.is_empty() {
            path.push(e.category.clone());
        }
        if !e.product_id.is_empty() {
            path.push(
                product_names
                    .get(&e.product_id)
                    .cloned()
                    .unwrap_or_else(|| e.product_id.clone()),
            );
        }
        let row = pb::PerformanceRow {
            key: key(e),
            label: path.join(" -> "),
            target: money(e.target_minor, currency),
            actual: money(e.actual_minor, currency),
            target_quantity: 0,
            actual_quantity: 0,
            attainment_bps: performance::ratio_bps(e.actual_minor, e.expected_minor),
            expected: money(e.expected_minor, currency),
            path,
        };
        if new.contains(mark) {
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
