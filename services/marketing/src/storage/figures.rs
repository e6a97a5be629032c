//! Customers' purchase figures per currency, and the RFM boundaries computed from them.

use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;

use crate::domain::rfm::Cuts;
use crate::storage::profiles::Purchase;

/// One customer's counted purchases (placed or fulfilled) in one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Figures {
    /// Orders that count.
    pub orders: i64,
    /// Their total, minor units.
    pub total_minor: i64,
    /// The first (µs).
    pub first_at: i64,
    /// The last (µs).
    pub last_at: i64,
    /// Day of the last, since the epoch.
    pub last_day: i64,
}

/// Adds purchases new to the view to their customers' figures, without reading any customer's
/// history: the counted ones are summed per customer and currency, then added with one upsert
/// per 500 customers.
pub async fn add(conn: &mut Conn, purchases: &[Purchase]) -> sqlx::Result<()> {
    let mut sums: std::collections::BTreeMap<(&str, &str), Figures> = std::collections::BTreeMap::new();
    for p in purchases.iter().filter(|p| p.counts()) {
        let f = sums
            .entry((p.party_id.as_str(), p.currency_code.as_str()))
            .or_insert(Figures {
                orders: 0,
                total_minor: 0,
                first_at: p.placed_at,
                last_at: p.placed_at,
                last_day: 0,
            });
        f.orders += 1;
        f.total_minor += p.amount_minor;
        f.first_at = f.first_at.min(p.placed_at);
        f.last_at = f.last_at.max(p.placed_at);
        f.last_day = f.last_at / DAY_MICROS;
    }
    let rows: Vec<((&str, &str), Figures)> = sums.into_iter().collect();
    if !rows.is_empty() {
        hold_count(conn).await?;
    }
    for chunk in crm_storage::insert_chunks(&rows, 500) {
        // Figures are only added here: the chunk's parties without any before are new to the count.
        let mut parties: Vec<&str> = chunk.iter().map(|((party, _), _)| *party).collect();
        parties.dedup();
        let new = parties.len() as i64 - with_figures(conn, &parties).await?;
        count_customers(conn, new).await?;
        let mut q = SqlBuilder::insert_rows(
            "customer_figures (party_id, currency_code, orders, total_minor, first_at, last_at, last_day)",
            chunk.iter().map(|((party, currency), f)| {
                [
                    Arg::from(*party),
                    Arg::from(*currency),
                    Arg::Int(f.orders),
                    Arg::Int(f.total_minor),
                    Arg::Int(f.first_at),
                    Arg::Int(f.last_at),
                    Arg::Int(f.last_day),
                ]
            }),
        );
        // MIN and MAX of two values are spelled differently by the two backends; CASE is not.
        q.push(
            " ON CONFLICT (party_id, currency_code) DO UPDATE SET \
             orders = customer_figures.orders + excluded.orders, \
             total_minor = customer_figures.total_minor + excluded.total_minor, \
             first_at = CASE WHEN excluded.first_at < customer_figures.first_at THEN excluded.first_at \
             ELSE customer_figures.first_at END, \
             last_at = CASE WHEN excluded.last_at > customer_figures.last_at THEN excluded.last_at \
             ELSE customer_figures.last_at END, \
             last_day = CASE WHEN excluded.last_day > customer_figures.last_day THEN excluded.last_day \
             ELSE customer_figures.last_day END",
        );
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Microseconds in a day: `last_day` is the day of `last_at` since the epoch.
const DAY_MICROS: i64 = 86_400_000_000;

/// The parties whose figures are re-added per statement.
const PARTIES_PER_STATEMENT: usize = 500;

/// Adds up the figures of `party_ids` again from their purchases (after purchases of theirs
/// arrived, changed status, moved on a merge or were erased): upserted in place, and removed
/// where no counted purchase is left.
pub async fn refresh(conn: &mut Conn, party_ids: &[String]) -> sqlx::Result<()> {
    let mut ids: Vec<&str> = party_ids.iter().map(String::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    if !ids.is_empty() {
        hold_count(conn).await?;
    }
    for chunk in ids.chunks(PARTIES_PER_STATEMENT) {
        let before = with_figures(conn, chunk).await?;
        let mut q = SqlBuilder::new(
            "INSERT INTO customer_figures (party_id, currency_code, orders, total_minor, first_at, last_at, last_day) \
             SELECT party_id, currency_code, COUNT(*), SUM(amount_minor), MIN(placed_at), MAX(placed_at), \
             MAX(placed_at) / 86400000000 FROM purchases WHERE status IN ('placed', 'fulfilled') AND party_id IN (",
        );
        let list = q.in_list(chunk.iter().copied());
        q.push(&format!(
            "{list}) GROUP BY party_id, currency_code \
             ON CONFLICT (party_id, currency_code) DO UPDATE SET orders = excluded.orders, \
             total_minor = excluded.total_minor, first_at = excluded.first_at, last_at = excluded.last_at, \
             last_day = excluded.last_day"
        ));
        q.build().execute(&mut *conn).await?;
        let mut q = SqlBuilder::new("DELETE FROM customer_figures WHERE party_id IN (");
        let list = q.in_list(chunk.iter().copied());
        q.push(&format!(
            "{list}) AND NOT EXISTS (SELECT 1 FROM purchases p WHERE p.party_id = customer_figures.party_id \
             AND p.currency_code = customer_figures.currency_code AND p.status IN ('placed', 'fulfilled'))"
        ));
        q.build().execute(&mut *conn).await?;
        let after = with_figures(conn, chunk).await?;
        count_customers(conn, after - before).await?;
    }
    Ok(())
}

/// How many of `parties` (distinct ids) have figures in some currency.
async fn with_figures(conn: &mut Conn, parties: &[&str]) -> sqlx::Result<i64> {
    let mut q =
        SqlBuilder::new("SELECT COUNT(DISTINCT party_id) AS n FROM customer_figures WHERE party_id IN (");
    let list = q.in_list(parties.iter().copied());
    q.push(&format!("{list})"));
    q.build().fetch_one(&mut *conn).await?.try_get("n")
}

/// Locks the count of customers with figures until the transaction ends: a writer that counts
/// a party's figures before and after its change must not miss another's uncommitted ones.
async fn hold_count(conn: &mut Conn) -> sqlx::Result<()> {
    sqlx::query("UPDATE figures_count SET customers = customers WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Moves the count of customers with figures by `delta`.
async fn count_customers(conn: &mut Conn, delta: i64) -> sqlx::Result<()> {
    if delta != 0 {
        sqlx::query("UPDATE figures_count SET customers = customers + $1 WHERE id = 1")
            .bind(delta)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Customers with counted purchases in any currency (the N of support and lift), as kept by
/// [`add`] and [`refresh`].
pub async fn customers(conn: &mut Conn) -> sqlx::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT customers FROM figures_count WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await?
            .unwrap_or(0),
    )
}

/// A customer's figures in `currency` (None without counted purchases in it).
pub async fn of(conn: &mut Conn, party_id: &str, currency: &str) -> sqlx::Result<Option<Figures>> {
    sqlx::query_as(
        "SELECT orders, total_minor, first_at, last_at, last_day FROM customer_figures \
         WHERE party_id = $1 AND currency_code = $2",
    )
    .bind(party_id)
    .bind(currency)
    .fetch_optional(&mut *conn)
    .await
}

/// Stores the boundaries of `currency` computed at view version `version`.
pub async fn save_cuts(
    conn: &mut Conn,
    currency: &str,
    version: i64,
    cuts: &Cuts,
    customers: i64,
) -> sqlx::Result<()> {
    // The version row first: it is created or locked until the transaction ends, so that two
    // writers (the job, a first read, another replica) replace the boundaries one after the
    // other. Otherwise both could find none to delete and insert the same keys.
    sqlx::query(
        "INSERT INTO rfm_cut_versions (currency_code, version, customers) VALUES ($1, $2, $3) \
         ON CONFLICT (currency_code) DO UPDATE SET version = excluded.version, customers = excluded.customers",
    )
    .bind(currency)
    .bind(version)
    .bind(customers)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM rfm_cuts WHERE currency_code = $1")
        .bind(currency)
        .execute(&mut *conn)
        .await?;
    let rows: Vec<[Arg; 5]> = [("r", &cuts.r), ("f", &cuts.f), ("m", &cuts.m)]
        .into_iter()
        .flat_map(|(dimension, list)| {
            list.iter().map(move |(score, value, id)| {
                [
                    Arg::from(currency),
                    Arg::from(dimension),
                    Arg::Int(i64::from(*score)),
                    Arg::Int(*value),
                    Arg::from(id.as_str()),
                ]
            })
        })
        .collect();
    if !rows.is_empty() {
        SqlBuilder::insert_rows(
            "rfm_cuts (currency_code, dimension, score, value, party_id)",
            rows,
        )
        .build()
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The stored boundaries of `currency` and the view version they were computed at (None
/// before the first computation).
pub async fn cuts(conn: &mut Conn, currency: &str) -> sqlx::Result<Option<(i64, Cuts)>> {
    let Some(version) =
        sqlx::query_scalar::<_, i64>("SELECT version FROM rfm_cut_versions WHERE currency_code = $1")
            .bind(currency)
            .fetch_optional(&mut *conn)
            .await?
    else {
        return Ok(None);
    };
    let rows = sqlx::query(
        "SELECT dimension, score, value, party_id FROM rfm_cuts WHERE currency_code = $1 ORDER BY score",
    )
    .bind(currency)
    .fetch_all(&mut *conn)
    .await?;
    let mut cuts = Cuts::default();
    for row in rows {
        let entry = (
            u8::try_from(row.try_get::<i64, _>("score")?).unwrap_or(1),
            row.try_get("value")?,
            row.try_get("party_id")?,
        );
        match row.try_get::<String, _>("dimension")?.as_str() {
            "r" => cuts.r.push(entry),
            "f" => cuts.f.push(entry),
            _ => cuts.m.push(entry),
        }
    }
    Ok(Some((version, cuts)))
}
