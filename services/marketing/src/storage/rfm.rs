//! RFM scores of the whole base in SQL. Today's compare each customer's figures with the stored
//! boundaries. A past day's either rank the purchases up to its end against each other (an
//! aggregate of the whole base), or compare each customer's purchases up to it with that day's
//! boundaries, computed once by [`boundaries`]: a page then reads only its own customers'
//! purchases. All give the columns `party_id, orders, total_minor, last_at, last_day, r, f, m` for
//! the customers scored (active, with counted purchases in the currency).

use crm_storage::{Conn, SqlBuilder};
use sqlx::Row as _;

use crate::domain::rfm::{Cuts, cut_positions};

/// How scores are computed.
#[derive(Debug, Clone, Copy)]
pub enum Scoring<'a> {
    /// Now: each customer's figures compared with the stored boundaries (the same score a
    /// profile read gives).
    Current(&'a Cuts),
    /// At the end of a past day (µs): the purchases placed before it, ranked.
    Before(i64),
    /// At the end of a past day (µs): each customer's purchases placed before it compared with
    /// that day's boundaries (see [`boundaries`]). Gives the scores [`Scoring::Before`] gives.
    BeforeAgainst(i64, &'a Cuts),
}

/// Which of the customers scored a subquery holds.
#[derive(Debug, Clone, Copy)]
enum Among<'a> {
    /// Those after this id ("" for all).
    After(&'a str),
    /// These.
    Ids(&'a [String]),
}

/// Appends the arguments of the condition "the `table` row's party is an active customer among
/// `among`" and returns it. A page's customers are checked one by one (EXISTS), each profile
/// bounded by the page's position: SQLite would otherwise list every later profile for an IN,
/// and PostgreSQL merge-join the figures with every profile before the page's.
fn active(q: &mut SqlBuilder, table: &str, among: Among<'_>) -> String {
    let exists = |bound: &str| {
        format!(
            "EXISTS (SELECT 1 FROM profiles p WHERE p.party_id = {table}.party_id AND p.status = 'active'{bound})"
        )
    };
    match among {
        Among::After("") => {
            format!("{table}.party_id IN (SELECT party_id FROM profiles WHERE status = 'active')")
        }
        Among::After(after) => {
            let after = q.arg(after);
            format!(
                "{table}.party_id > {after} AND {}",
                exists(&format!(" AND p.party_id > {after}"))
            )
        }
        Among::Ids(ids) => {
            let list = q.in_list(ids.iter().map(String::as_str));
            format!("{table}.party_id IN ({list}) AND {}", exists(""))
        }
    }
}

/// Appends the argument of "the figures are in `currency`" for a page, which reads the figures
/// in id order, and returns the condition. It is written so that no index can serve it: SQLite
/// without statistics would otherwise walk a currency's figures through an index leading with
/// the currency and sort them all, instead of reading the next ids from the key.
fn paged_currency(q: &mut SqlBuilder, currency: &str) -> String {
    format!("currency_code || '' = {}", q.arg(currency))
}

/// Appends the arguments of the figures of the customers scored (among `among`) and returns
/// their subquery (`party_id, orders, total_minor, last_at, last_day`): now from the kept
/// figures, before `end` (µs) from the purchases.
fn figures(q: &mut SqlBuilder, currency: &str, end: Option<i64>, among: Among<'_>) -> String {
    match end {
        None => {
            let currency = match among {
                Among::After("") => format!("currency_code = {}", q.arg(currency)),
                _ => paged_currency(q, currency),
            };
            let active = active(q, "customer_figures", among);
            format!(
                "SELECT party_id, orders, total_minor, last_at, last_day FROM customer_figures \
                 WHERE {currency} AND {active}"
            )
        }
        Some(end) => {
            let currency = q.arg(currency);
            let end = q.arg(end);
            let active = active(q, "purchases", among);
            format!(
                "SELECT party_id, COUNT(*) AS orders, CAST(SUM(amount_minor) AS BIGINT) AS total_minor, \
                 MAX(placed_at) AS last_at, MAX(placed_at) / 86400000000 AS last_day FROM purchases \
                 WHERE status IN ('placed', 'fulfilled') AND currency_code = {currency} AND placed_at < {end} \
                 AND {active} GROUP BY party_id"
            )
        }
    }
}

/// Appends the arguments of the customers scored (among `among`) and returns their subquery (to
/// be aliased).
fn scored_among(q: &mut SqlBuilder, currency: &str, scoring: Scoring<'_>, among: Among<'_>) -> String {
    let (end, cuts) = match scoring {
        Scoring::Current(cuts) => (None, cuts),
        Scoring::BeforeAgainst(end, cuts) => (Some(end), cuts),
        Scoring::Before(end) => {
            // Ranked over the whole base first; only then are the others left out.
            let figures = figures(q, currency, Some(end), Among::After(""));
            let rank = |column: &str| {
                format!(
                    "1 + (ROW_NUMBER() OVER (ORDER BY a.{column}, a.party_id) - 1) * 5 / COUNT(*) OVER ()"
                )
            };
            let ranked = format!(
                "SELECT a.party_id, a.orders, a.total_minor, a.last_at, a.last_day, {} AS r, {} AS f, {} AS m \
                 FROM ({figures}) a",
                rank("last_day"),
                rank("orders"),
                rank("total_minor"),
            );
            return match among {
                Among::After("") => ranked,
                Among::After(after) => {
                    let after = q.arg(after);
                    format!("SELECT * FROM ({ranked}) ranked WHERE party_id > {after}")
                }
                Among::Ids(ids) => {
                    let list = q.in_list(ids.iter().map(String::as_str));
                    format!("SELECT * FROM ({ranked}) ranked WHERE party_id IN ({list})")
                }
            };
        }
    };
    let figures = figures(q, currency, end, among);
    let mut score = |column: &str, cuts: &[(u8, i64, String)]| {
        let mut expr = String::from("1");
        for (_, value, id) in cuts {
            let (value, id) = (q.arg(*value), q.arg(id.as_str()));
            expr.push_str(&format!(
                " + CASE WHEN (f.{column}, f.party_id) >= ({value}, {id}) THEN 1 ELSE 0 END"
            ));
        }
        expr
    };
    let (r, f, m) = (
        score("last_day", &cuts.r),
        score("orders", &cuts.f),
        score("total_minor", &cuts.m),
    );
    format!(
        "SELECT f.party_id, f.orders, f.total_minor, f.last_at, f.last_day, {r} AS r, {f} AS f, {m} AS m \
         FROM ({figures}) f"
    )
}

/// Appends the arguments of every customer scored and returns their subquery (to be aliased).
pub fn scored(q: &mut SqlBuilder, currency: &str, scoring: Scoring<'_>) -> String {
    scored_among(q, currency, scoring, Among::After(""))
}

/// [`scored`], of the customers after `after` ("" for all): for a page in id order, which
/// then reads the figures from its own position instead of from the first customer.
pub fn scored_after(q: &mut SqlBuilder, currency: &str, scoring: Scoring<'_>, after: &str) -> String {
    scored_among(q, currency, scoring, Among::After(after))
}

/// Computes the RFM boundaries of the customers scored in `currency`, now or at `end` (µs), in
/// one statement: every customer is placed in the worst-first order of each dimension, and only
/// the rows where a score begins (and the first, which carries the count) come back. Returns
/// them with the number of customers scored.
pub async fn boundaries(conn: &mut Conn, currency: &str, end: Option<i64>) -> sqlx::Result<(Cuts, i64)> {
    let mut q = SqlBuilder::new("");
    let figures = figures(&mut q, currency, end, Among::After(""));
    let position = |column: &str| format!("ROW_NUMBER() OVER (ORDER BY s.{column}, s.party_id) - 1");
    // Position p begins a score when p * 5 / n (integer division) differs from the previous
    // position's: the bins of `domain::rfm::cut_positions`.
    let begins = |p: &str| format!("({p} > 0 AND {p} * 5 / n <> ({p} - 1) * 5 / n)");
    q.push(&format!(
        "SELECT party_id, last_day, orders, total_minor, pr, pf, pm, n FROM (SELECT s.party_id, s.last_day, \
         s.orders, s.total_minor, {} AS pr, {} AS pf, {} AS pm, COUNT(*) OVER () AS n FROM ({figures}) s) ranked \
         WHERE pr = 0 OR {} OR {} OR {}",
        position("last_day"),
        position("orders"),
        position("total_minor"),
        begins("pr"),
        begins("pf"),
        begins("pm"),
    ));
    let rows = q.build().fetch_all(&mut *conn).await?;
    let n: i64 = match rows.first() {
        Some(row) => row.try_get("n")?,
        None => 0,
    };
    let mut cuts = Cuts::default();
    for (position, value, into) in [
        ("pr", "last_day", &mut cuts.r),
        ("pf", "orders", &mut cuts.f),
        ("pm", "total_minor", &mut cuts.m),
    ] {
        for (score, at) in cut_positions(usize::try_from(n).unwrap_or_default()) {
            for row in &rows {
                if row.try_get::<i64, _>(position)? == at as i64 {
                    into.push((score, row.try_get(value)?, row.try_get("party_id")?));
                }
            }
        }
    }
    Ok((cuts, n))
}

/// One scored customer.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ScoredRow {
    /// Customer.
    pub party_id: String,
    /// Counted orders.
    pub orders: i64,
    /// Their total.
    pub total_minor: i64,
    /// The last (µs).
    pub last_at: i64,
    /// Recency score 1-5.
    pub r: i64,
    /// Frequency score 1-5.
    pub f: i64,
    /// Monetary score 1-5.
    pub m: i64,
}

/// Customers and revenue per cell, as ((r, f, m), customers, revenue).
pub async fn cells(
    conn: &mut Conn,
    currency: &str,
    scoring: Scoring<'_>,
) -> sqlx::Result<Vec<((i64, i64, i64), i64, i64)>> {
    let mut q = SqlBuilder::new("");
    let scored = scored(&mut q, currency, scoring);
    q.push(&format!(
        "SELECT r, f, m, COUNT(*) AS customers, CAST(SUM(total_minor) AS BIGINT) AS revenue FROM ({scored}) s \
         GROUP BY r, f, m"
    ));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| {
            Ok((
                (row.try_get("r")?, row.try_get("f")?, row.try_get("m")?),
                row.try_get("customers")?,
                row.try_get("revenue")?,
            ))
        })
        .collect()
}

/// Customers whose figures a page reads at a time, at most.
const CANDIDATES: i64 = 1000;

/// Customers a page of one cell looks at, at most: a page of a rare cell ends short (even empty)
/// with a position past them, instead of reading the whole base for its page.
pub const CELL_PAGE_LOOKS_AT: i64 = 20 * CANDIDATES;

/// A page of scores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The scores, by party id.
    pub rows: Vec<ScoredRow>,
    /// Where the next page starts when this one ended short of its size having looked at as many
    /// customers as it may (the last one it looked at); None when the rows say it (or none is
    /// left).
    pub looked_to: Option<String>,
}

/// Up to `limit` scored customers after `after` by id, only those of `cell` when given, having
/// looked at `look_at` customers at most when a cell is given.
///
/// A past day's page ([`Scoring::BeforeAgainst`]) and a page of one cell score a batch of
/// candidates at a time: the next customers by id with figures (for a past day, those whose first
/// counted purchase came before its end), so that a past page reads only those customers'
/// purchases. Without a cell each candidate is scored, and one batch of `limit` fills the page.
pub async fn page(
    conn: &mut Conn,
    currency: &str,
    scoring: Scoring<'_>,
    cell: Option<(i64, i64, i64)>,
    after: &str,
    limit: i64,
    look_at: i64,
) -> sqlx::Result<Page> {
    let end = match scoring {
        Scoring::BeforeAgainst(end, _) => Some(end),
        Scoring::Current(_) if cell.is_some() => None,
        _ => {
            let rows = scored_page(conn, currency, scoring, cell, Among::After(after), limit).await?;
            return Ok(Page {
                rows,
                looked_to: None,
            });
        }
    };
    let batch = if cell.is_some() {
        CANDIDATES.max(limit).min(look_at.max(1))
    } else {
        limit
    };
    let mut after = after.to_string();
    let (mut rows, mut looked) = (Vec::new(), 0);
    loop {
        let ids = candidates(conn, currency, end, &after, batch).await?;
        let Some(last) = ids.last().cloned() else { break };
        rows.extend(scored_page(conn, currency, scoring, cell, Among::Ids(&ids), limit).await?);
        looked += ids.len() as i64;
        if rows.len() as i64 >= limit || (ids.len() as i64) < batch {
            break;
        }
        if cell.is_some() && looked >= look_at {
            return Ok(Page {
                rows,
                looked_to: Some(last),
            });
        }
        after = last;
    }
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(Page {
        rows,
        looked_to: None,
    })
}

/// Up to `batch` customers with figures in `currency` after `after` by id (with a first counted
/// purchase before `end`, when given).
async fn candidates(
    conn: &mut Conn,
    currency: &str,
    end: Option<i64>,
    after: &str,
    batch: i64,
) -> sqlx::Result<Vec<String>> {
    let mut q = SqlBuilder::new("SELECT party_id FROM customer_figures WHERE ");
    let in_currency = paged_currency(&mut q, currency);
    q.push(&in_currency);
    if let Some(end) = end {
        q.and("first_at < {}", end);
    }
    let active = active(&mut q, "customer_figures", Among::After(after));
    let batch = q.arg(batch);
    q.push(&format!(" AND {active} ORDER BY party_id LIMIT {batch}"));
    Ok(q.build()
        .fetch_all_as::<(String,)>(&mut *conn)
        .await?
        .into_iter()
        .map(|(id,)| id)
        .collect())
}

/// Up to `limit` scored customers among `among` by id, only those of `cell` when given.
async fn scored_page(
    conn: &mut Conn,
    currency: &str,
    scoring: Scoring<'_>,
    cell: Option<(i64, i64, i64)>,
    among: Among<'_>,
    limit: i64,
) -> sqlx::Result<Vec<ScoredRow>> {
    let mut q = SqlBuilder::new("");
    let scored = scored_among(&mut q, currency, scoring, among);
    q.push(&format!(
        "SELECT party_id, orders, total_minor, last_at, r, f, m FROM ({scored}) s WHERE 1 = 1"
    ));
    if let Some((r, f, m)) = cell {
        q.and("s.r = {}", r).and("s.f = {}", f).and("s.m = {}", m);
    }
    let limit = q.arg(limit);
    q.push(&format!(" ORDER BY s.party_id LIMIT {limit}"));
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter().map(sqlx::FromRow::from_row).collect()
}
