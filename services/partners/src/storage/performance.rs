//! Performance figures added up in SQL: targets pro-rated to a window and sales, per cell of a
//! drill-down, over a partner's tree; and the cells under target. A figure reads its cells, not
//! the channel's partners, targets and sales.

use crm_storage::{Conn, SqlBuilder};
use sqlx::Row as _;

use super::partners::{Reach, tree};
use crate::domain::performance::{Dimension, Share};

/// What narrows a figure: its currency, and the drill-down's category and region ("" for any).
#[derive(Debug, Clone, Copy)]
pub struct Filter<'a> {
    /// Currency of targets and sales.
    pub currency: &'a str,
    /// Product category.
    pub category: &'a str,
    /// Region.
    pub region: &'a str,
}

/// Targets of one cell, pro-rated to its window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSum {
    /// The cell's key (empty for the region view, which splits by `regions`).
    pub key: String,
    /// The region codes (JSON) the partners behind the sum serve, when the figure is split or
    /// filtered by region; empty otherwise.
    pub regions: String,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// Units.
    pub quantity: i64,
}

/// Sales of one cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleSum {
    /// The cell's key (for the period view, the month `YYYY-MM`).
    pub key: String,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// Units.
    pub quantity: i64,
}

/// A target's category: its own, or its product's when it names only a product.
const CATEGORY: &str = "CASE WHEN g.product_category = '' AND g.product_id <> '' THEN COALESCE(c.category, '') ELSE g.product_category END";

/// The partner column a row is keyed by: the tree's root, or the partner itself.
fn partner_column(reach: Reach<'_>, table: &str) -> String {
    if reach == Reach::All {
        format!("{table}.partner_id")
    } else {
        "t.root".to_string()
    }
}

/// A `VALUES` list of the shares, one row each: (window key, target period, num, den, extra...).
fn shares_values(
    q: &mut SqlBuilder,
    shares: &[Share],
    extra: impl Fn(&mut SqlBuilder, &Share) -> String,
) -> String {
    shares
        .iter()
        .map(|s| {
            let window = q.arg(s.window.as_str());
            let period = q.arg(s.period.as_str());
            let more = extra(q, s);
            format!("({window}, {period}, {}, {}{more})", s.num, s.den)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The targets covered by `reach` that overlap the windows of `shares`, each pro-rated to its
/// window (rounded per target), added up per cell of `dimension`.
pub async fn targets(
    conn: &mut Conn,
    reach: Reach<'_>,
    dimension: Dimension,
    shares: &[Share],
    filter: Filter<'_>,
) -> sqlx::Result<Vec<TargetSum>> {
    let mut q = SqlBuilder::new("");
    let tree = tree(&mut q, reach);
    let windows = shares_values(&mut q, shares, |_, _| String::new());
    let partner = partner_column(reach, "g");
    let key = match dimension {
        Dimension::Partner => partner.as_str(),
        Dimension::Category => CATEGORY,
        Dimension::Product => "g.product_id",
        Dimension::Period => "w.k",
        Dimension::Region => "''",
    };
    let by_region = dimension == Dimension::Region || !filter.region.is_empty();
    let with_category = dimension == Dimension::Category || !filter.category.is_empty();
    let ctes: Vec<String> = tree
        .into_iter()
        .chain([format!("w (k, period, num, den) AS (VALUES {windows})")])
        .collect();
    q.push(&format!(
        "WITH RECURSIVE {} SELECT {key} AS k, {} AS regions, \
         CAST(SUM((g.amount_minor * w.num * 2 + w.den) / (2 * w.den)) AS BIGINT) AS amount, \
         CAST(SUM((g.quantity * w.num * 2 + w.den) / (2 * w.den)) AS BIGINT) AS quantity \
         FROM targets g JOIN w ON w.period = g.period",
        ctes.join(", "),
        if by_region { "p.region_codes" } else { "''" },
    ));
    if reach != Reach::All {
        q.push(" JOIN tree t ON t.id = g.partner_id");
    }
    if by_region {
        q.push(" JOIN partners p ON p.id = g.partner_id");
    }
    if with_category {
        q.push(" LEFT JOIN products c ON c.id = g.product_id");
    }
    q.push(" WHERE 1 = 1");
    q.and("g.currency_code = {}", filter.currency);
    if dimension == Dimension::Product {
        q.push(" AND g.product_id <> ''");
    }
    if !filter.category.is_empty() {
        q.and(&format!("{CATEGORY} = {{}}"), filter.category);
    }
    // PostgreSQL refuses a constant in GROUP BY: the region view groups by regions alone.
    let group: Vec<&str> = [
        (dimension != Dimension::Region).then_some(key),
        by_region.then_some("p.region_codes"),
    ]
    .into_iter()
    .flatten()
    .collect();
    q.push(&format!(" GROUP BY {}", group.join(", ")));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(TargetSum {
                key: r.try_get("k")?,
                regions: r.try_get("regions")?,
                amount_minor: r.try_get("amount")?,
                quantity: r.try_get("quantity")?,
            })
        })
        .collect()
}

/// The sales in `[from, to)` (days) covered by `reach`, added up per cell of `dimension` (per
/// month for the period view).
pub async fn sales(
    conn: &mut Conn,
    reach: Reach<'_>,
    dimension: Dimension,
    from: &str,
    to: &str,
    filter: Filter<'_>,
) -> sqlx::Result<Vec<SaleSum>> {
    let mut q = SqlBuilder::new("");
    if let Some(tree) = tree(&mut q, reach) {
        q.push(&format!("WITH RECURSIVE {tree} "));
    }
    let partner = partner_column(reach, "s");
    let key = match dimension {
        Dimension::Partner => partner.as_str(),
        Dimension::Category => "s.product_category",
        Dimension::Product => "s.product_id",
        Dimension::Period => "SUBSTR(s.sold_on, 1, 7)",
        Dimension::Region => "s.region_code",
    };
    q.push(&format!(
        "SELECT {key} AS k, CAST(SUM(s.amount_minor) AS BIGINT) AS amount, \
         CAST(SUM(s.quantity) AS BIGINT) AS quantity FROM sell_through s"
    ));
    if reach != Reach::All {
        q.push(" JOIN tree t ON t.id = s.partner_id");
    }
    q.push(" WHERE 1 = 1");
    q.and("s.currency_code = {}", filter.currency);
    q.and("s.sold_on >= {}", from).and("s.sold_on < {}", to);
    if !filter.category.is_empty() {
        q.and("s.product_category = {}", filter.category);
    }
    if !filter.region.is_empty() {
        q.and("s.region_code = {}", filter.region);
    }
    q.push(&format!(" GROUP BY {key}"));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(SaleSum {
                key: r.try_get("k")?,
                amount_minor: r.try_get("amount")?,
                quantity: r.try_get("quantity")?,
            })
        })
        .collect()
}

/// A partner x month x (category / product) cell under its threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionCell {
    /// Partner.
    pub partner_id: String,
    /// Month (`YYYY-MM`).
    pub month: String,
    /// Category ("" for range targets).
    pub category: String,
    /// Product ("" for category and range targets).
    pub product_id: String,
    /// The target's share of the month.
    pub target_minor: i64,
    /// The share expected by now.
    pub expected_minor: i64,
    /// Sold in the month.
    pub actual_minor: i64,
}

/// A cell's attainment as SQL figures it, as `domain::performance::ratio_bps` does: an
/// exception's expected share is positive, returns that outweigh its sales make it 0, and the
/// division of the rest rounds down.
const ATTAINMENT: &str = "(CASE WHEN actual < 0 THEN 0 ELSE CAST(actual AS BIGINT) * 10000 / expected END)";

/// The cell key as SQL writes it (see `domain::performance::exception_key`).
const EXCEPTION_KEY: &str = "partner_id || '|' || month || '|' || category || '|' || product_id";

/// Partners whose target cells are figured by one statement.
pub const PARTNERS_PER_BATCH: i64 = 100;

/// What exception cells are looked for: the partners covered, the months begun (each with its
/// overlapping target periods, keyed by the month, and its elapsed share), the currency, and the
/// share of the target expected by now under which a cell is an exception.
#[derive(Debug, Clone, Copy)]
pub struct Under<'a> {
    /// The partners covered.
    pub reach: Reach<'a>,
    /// The months begun.
    pub months: &'a [(Vec<Share>, i32)],
    /// Currency of targets and sales.
    pub currency: &'a str,
    /// Basis points of the expected share.
    pub threshold_bps: i32,
}

/// The order exception cells are read in, and the cell a page follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order<'a> {
    /// By key, after a key: the exception job's walk.
    ByKey(Option<&'a str>),
    /// The lowest share of the expected sales first (attainment in basis points, rounded down),
    /// then by key, after a cell's (attainment, key): what `ListExceptions` shows.
    WorstFirst(Option<(i32, &'a str)>),
}

/// Up to `limit` target cells of `under` whose month's sales are under the threshold, in
/// `order`.
///
/// By key, the cells are figured [`PARTNERS_PER_BATCH`] partners at a time until the page is
/// full: a page figures the cells up to its last (and the rest of its last batch), not every cell
/// of the period, so that walking every page figures each cell about once. A key starts with its
/// partner's id, a UUID (of one length), so key order is partner order first. Worst first, a page
/// is one statement over every cell of the period: an aggregate like the performance figures.
pub async fn exceptions(
    conn: &mut Conn,
    under: &Under<'_>,
    order: Order<'_>,
    limit: i64,
) -> sqlx::Result<Vec<ExceptionCell>> {
    let Order::ByKey(after) = order else {
        return exception_cells(conn, under, EVERY_PARTNER, order, limit).await;
    };
    let mut found = Vec::new();
    if under.months.is_empty() {
        return Ok(found);
    }
    // The page's first batch starts at the partner of the key it follows.
    let mut from = after
        .and_then(|key| key.split('|').next())
        .unwrap_or_default()
        .to_string();
    let mut first_batch = true;
    while i64::try_from(found.len()).unwrap_or(i64::MAX) < limit {
        let partners = target_partners(conn, under, &from, first_batch, PARTNERS_PER_BATCH).await?;
        let (Some(first), Some(last)) = (partners.first(), partners.last()) else {
            break;
        };
        let left = limit - i64::try_from(found.len()).unwrap_or(i64::MAX);
        found.extend(exception_cells(conn, under, (first, last), order, left).await?);
        if i64::try_from(partners.len()).unwrap_or(i64::MAX) < PARTNERS_PER_BATCH {
            break;
        }
        from = last.clone();
        first_batch = false;
    }
    Ok(found)
}

/// Up to `limit` partners covered by `under` with a target in its currency, by id, from `from`
/// (included when `inclusive`).
async fn target_partners(
    conn: &mut Conn,
    under: &Under<'_>,
    from: &str,
    inclusive: bool,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    let mut q = SqlBuilder::new("");
    let tree = tree(&mut q, under.reach);
    let head = match &tree {
        Some(tree) => format!(
            "WITH RECURSIVE {tree} SELECT DISTINCT g.partner_id FROM targets g JOIN tree t ON t.id = g.partner_id"
        ),
        None => "SELECT DISTINCT g.partner_id FROM targets g".to_string(),
    };
    q.push(&head);
    q.push(" WHERE 1 = 1");
    q.and("g.currency_code = {}", under.currency);
    q.and(
        if inclusive {
            "g.partner_id >= {}"
        } else {
            "g.partner_id > {}"
        },
        from,
    );
    q.order_limit("g.partner_id", limit);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get("partner_id"))
        .collect()
}

/// Every partner id, as a range for [`exception_cells`] (`~` sorts after every character of a
/// UUID).
pub const EVERY_PARTNER: (&str, &str) = ("", "~");

/// Up to `limit` target cells of `under` of the partners from `partners.0` to `partners.1` (by
/// id, both included), whose month's sales are under the threshold, in `order`: one statement.
pub async fn exception_cells(
    conn: &mut Conn,
    under: &Under<'_>,
    partners: (&str, &str),
    order: Order<'_>,
    limit: i64,
) -> sqlx::Result<Vec<ExceptionCell>> {
    let Under {
        reach,
        months,
        currency,
        threshold_bps,
    } = *under;
    if months.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = SqlBuilder::new("");
    let tree = tree(&mut q, reach);
    let rows: Vec<String> = months
        .iter()
        .map(|(shares, elapsed)| {
            shares_values(&mut q, shares, |q, s| {
                // The month's days, so that its sales are read by range from the partner index.
                let first = format!("{}-01", s.window);
                let next = crm_calendar::Period::parse(&s.window)
                    .map(|m| m.end_exclusive().format("%Y-%m-%d").to_string())
                    .unwrap_or_default();
                format!(", {elapsed}, {}, {}", q.arg(first), q.arg(next))
            })
        })
        .collect();
    let currency = q.arg(currency);
    let (first, last) = (q.arg(partners.0), q.arg(partners.1));
    let ctes: Vec<String> = tree
        .into_iter()
        .chain([format!(
            "m (k, period, num, den, elapsed, first_day, next_day) AS (VALUES {})",
            rows.join(", ")
        )])
        .collect();
    q.push(&format!(
        "WITH RECURSIVE {}, \
         cells AS (SELECT g.partner_id AS partner_id, m.k AS month, {CATEGORY} AS category, \
         g.product_id AS product_id, (g.amount_minor * m.num * 2 + m.den) / (2 * m.den) AS target, \
         m.elapsed AS elapsed, m.first_day AS first_day, m.next_day AS next_day \
         FROM targets g JOIN m ON m.period = g.period{} LEFT JOIN products c ON c.id = g.product_id \
         WHERE g.currency_code = {currency} AND g.partner_id >= {first} AND g.partner_id <= {last}), \
         figured AS (SELECT partner_id, month, category, product_id, target, \
         (target * elapsed * 2 + 10000) / 20000 AS expected, \
         COALESCE((SELECT SUM(s.amount_minor) FROM sell_through s WHERE s.partner_id = cells.partner_id \
         AND s.sold_on >= cells.first_day AND s.sold_on < cells.next_day AND s.currency_code = {currency} \
         AND (cells.category = '' OR s.product_category = cells.category) \
         AND (cells.product_id = '' OR s.product_id = cells.product_id)), 0) AS actual \
         FROM cells WHERE target > 0) \
         SELECT partner_id, month, category, product_id, CAST(target AS BIGINT) AS target, \
         CAST(expected AS BIGINT) AS expected, CAST(actual AS BIGINT) AS actual FROM figured WHERE 1 = 1",
        ctes.join(", "),
        if reach == Reach::All {
            ""
        } else {
            " JOIN tree t ON t.id = g.partner_id"
        },
    ));
    q.and("actual * 10000 < expected * {}", i64::from(threshold_bps));
    match order {
        Order::ByKey(after) => {
            if let Some(after) = after {
                q.and(&format!("{EXCEPTION_KEY} > {{}}"), after);
            }
            q.order_limit(EXCEPTION_KEY, limit);
        }
        Order::WorstFirst(after) => {
            if let Some((attainment, key)) = after {
                let (attainment, key) = (q.arg(i64::from(attainment)), q.arg(key));
                q.push(&format!(
                    " AND ({ATTAINMENT} > {attainment} OR ({ATTAINMENT} = {attainment} AND {EXCEPTION_KEY} > {key}))"
                ));
            }
            q.order_limit(&format!("{ATTAINMENT}, {EXCEPTION_KEY}"), limit);
        }
    }
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(ExceptionCell {
                partner_id: r.try_get("partner_id")?,
                month: r.try_get("month")?,
                category: r.try_get("category")?,
                product_id: r.try_get("product_id")?,
                target_minor: r.try_get("target")?,
                expected_minor: r.try_get("expected")?,
                actual_minor: r.try_get("actual")?,
            })
        })
        .collect()
}
