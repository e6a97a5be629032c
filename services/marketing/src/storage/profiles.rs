//! Profiles (from customers events) and purchases (from sales order events).

use std::collections::HashMap;

use crm_proto::customers::v1 as customers;
use crm_proto::sales::v1 as sales;
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;

/// A customer as marketing sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// Party id.
    pub party_id: String,
    /// Name.
    pub display_name: String,
    /// Industry.
    pub industry: String,
    /// Region.
    pub region_code: String,
    /// Custom attributes.
    pub attributes: HashMap<String, String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Birthday.
    pub birth_date: String,
    /// active, merged or erased.
    pub status: String,
}

/// A purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    /// Sales order.
    pub order_id: String,
    /// Buyer.
    pub party_id: String,
    /// µs since the epoch.
    pub placed_at: i64,
    /// Total.
    pub amount_minor: i64,
    /// Its currency.
    pub currency_code: String,
    /// placed, fulfilled, cancelled or returned.
    pub status: String,
    /// Products on it.
    pub product_ids: Vec<String>,
}

impl Purchase {
    /// Whether it counts (not cancelled or returned).
    pub fn counts(&self) -> bool {
        self.status == "placed" || self.status == "fulfilled"
    }
}

/// Inserts or refreshes a profile from a customer record.
pub async fn upsert(conn: &mut Conn, p: &customers::Party) -> sqlx::Result<()> {
    upsert_many(conn, std::slice::from_ref(p)).await
}

/// Inserts or refreshes the profiles of distinct customer records with multi-row statements; a
/// profile already at a later version, merged or erased is left as it is.
pub async fn upsert_many(conn: &mut Conn, parties: &[customers::Party]) -> sqlx::Result<()> {
    if parties.is_empty() {
        return Ok(());
    }
    for chunk in crm_storage::insert_chunks(parties, 500) {
        let mut q = SqlBuilder::insert_rows(
            "profiles (party_id, display_name, industry, region_code, attributes, tags, birth_date, status, source, \
             external_id, version)",
            chunk.iter().map(|p| {
                let attributes: std::collections::BTreeMap<_, _> = p.attributes.iter().collect();
                [
                    Arg::from(p.id.as_str()),
                    Arg::from(p.display_name.as_str()),
                    Arg::from(p.industry.as_str()),
                    Arg::from(p.region_code.as_str()),
                    Arg::from(serde_json::to_string(&attributes).unwrap_or_default()),
                    Arg::from(serde_json::to_string(&p.tags).unwrap_or_default()),
                    Arg::from(p.birth_date.as_str()),
                    Arg::from(p.status_name()),
                    Arg::from(if p.external_id.is_empty() {
                        ""
                    } else {
                        p.source.as_str()
                    }),
                    Arg::from(p.external_id.as_str()),
                    Arg::Int(p.version()),
                ]
            }),
        );
        q.push(
            " ON CONFLICT (party_id) DO UPDATE SET display_name = excluded.display_name, industry = excluded.industry, \
             region_code = excluded.region_code, attributes = excluded.attributes, tags = excluded.tags, \
             birth_date = excluded.birth_date, status = excluded.status, source = excluded.source, \
             external_id = excluded.external_id, version = excluded.version",
        );
        q.push(&crm_storage::copies::newer_than_stored("profiles"));
        q.build().execute(&mut *conn).await?;
    }
    bump_version(conn).await
}

/// Which of `party_ids` are erased: their purchases are not kept.
pub async fn erased_among(
    conn: &mut Conn,
    party_ids: &[&str],
) -> sqlx::Result<std::collections::HashSet<String>> {
    let mut erased = std::collections::HashSet::new();
    for chunk in party_ids.chunks(500) {
        let mut q = SqlBuilder::new("SELECT party_id FROM profiles WHERE status = 'erased'");
        let list = q.in_list(chunk.iter().copied());
        q.push(&format!(" AND party_id IN ({list})"));
        for row in q.build().fetch_all(&mut *conn).await? {
            erased.insert(row.try_get("party_id")?);
        }
    }
    Ok(erased)
}

/// Holds `party_ids` until the transaction ends, so that recording their purchases and erasing
/// one of them take turns (see `crm_storage::copies::lock_parties`).
pub async fn lock(conn: &mut Conn, party_ids: &[&str]) -> sqlx::Result<()> {
    crm_storage::copies::lock_parties(conn, "marketing-party", party_ids).await
}

/// How many profiles are active.
pub async fn active_count(conn: &mut Conn) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM profiles WHERE status = 'active'")
        .fetch_one(&mut *conn)
        .await
}

/// The profile of a party (any status).
pub async fn get(conn: &mut Conn, party_id: &str) -> sqlx::Result<Option<Profile>> {
    let row = sqlx::query(
        "SELECT party_id, display_name, industry, region_code, attributes, tags, birth_date, status FROM profiles WHERE party_id = $1",
    )
    .bind(party_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Profile {
            party_id: r.try_get("party_id")?,
            display_name: r.try_get("display_name")?,
            industry: r.try_get("industry")?,
            region_code: r.try_get("region_code")?,
            attributes: serde_json::from_str(&r.try_get::<String, _>("attributes")?).unwrap_or_default(),
            tags: serde_json::from_str(&r.try_get::<String, _>("tags")?).unwrap_or_default(),
            birth_date: r.try_get("birth_date")?,
            status: r.try_get("status")?,
        })
    })
    .transpose()
}

/// Moves everything of a merged party to the survivor; the merged profile is a tombstone at
/// `version` (the merged party's last).
pub async fn rekey(conn: &mut Conn, from: &str, to: &str, version: i64) -> sqlx::Result<()> {
    for sql in [
        "UPDATE purchases SET party_id = $1 WHERE party_id = $2",
        "UPDATE campaign_members SET party_id = $1 WHERE party_id = $2 AND NOT EXISTS \
         (SELECT 1 FROM campaign_members s WHERE s.campaign_id = campaign_members.campaign_id AND s.party_id = $1)",
    ] {
        sqlx::query(sql).bind(to).bind(from).execute(&mut *conn).await?;
    }
    sqlx::query("DELETE FROM campaign_members WHERE party_id = $1")
        .bind(from)
        .execute(&mut *conn)
        .await?;
    crm_storage::copies::tombstone(conn, "profiles", from, "merged", version, "").await?;
    bump_version(conn).await
}

/// Removes an erased customer from marketing: profile data, purchases, consent, campaign
/// membership. The profile stays erased at `version` whatever arrives later.
pub async fn erase(conn: &mut Conn, party_id: &str, version: i64) -> sqlx::Result<()> {
    lock(conn, &[party_id]).await?;
    for sql in [
        "DELETE FROM purchases WHERE party_id = $1",
        "DELETE FROM campaign_members WHERE party_id = $1",
        "DELETE FROM consent WHERE party_id = $1",
    ] {
        sqlx::query(sql).bind(party_id).execute(&mut *conn).await?;
    }
    let blank = ", display_name = '', industry = '', region_code = '', attributes = '{}', tags = '[]', birth_date = ''";
    crm_storage::copies::tombstone(conn, "profiles", party_id, "erased", version, blank).await?;
    bump_version(conn).await
}

/// What recording purchases did: the ones new to the view, and the customers of those that were
/// known already (their status changed).
#[derive(Debug, Default)]
pub struct Recorded {
    /// Purchases stored for the first time (the last of each order given).
    pub new: Vec<Purchase>,
    /// Customers of the purchases that were stored before, whose status was updated.
    pub changed_parties: Vec<String>,
}

/// Stores purchases, one per order (the last given wins): new orders are inserted, known ones
/// take the new status if it is further along the order's life cycle. Which were new comes from the insert itself, so two writers cannot
/// both count one order as new.
pub async fn record_purchases(conn: &mut Conn, purchases: &[Purchase]) -> sqlx::Result<Recorded> {
    let unique = crm_storage::last_per_key(purchases, |p| p.order_id.as_str());
    let mut inserted = std::collections::HashSet::new();
    for chunk in crm_storage::insert_chunks(&unique, 500) {
        let mut q = SqlBuilder::insert_rows(
            "purchases (order_id, party_id, placed_at, amount_minor, currency_code, status, product_ids)",
            chunk.iter().map(|p| {
                [
                    Arg::from(p.order_id.as_str()),
                    Arg::from(p.party_id.as_str()),
                    Arg::Int(p.placed_at),
                    Arg::Int(p.amount_minor),
                    Arg::from(p.currency_code.as_str()),
                    Arg::from(p.status.as_str()),
                    Arg::from(serde_json::to_string(&p.product_ids).unwrap_or_default()),
                ]
            }),
        );
        q.push(" ON CONFLICT (order_id) DO NOTHING RETURNING order_id");
        for row in q.build().fetch_all(&mut *conn).await? {
            inserted.insert(row.try_get::<String, _>("order_id")?);
        }
    }
    let (new, known): (Vec<&Purchase>, Vec<&Purchase>) =
        unique.into_iter().partition(|p| inserted.contains(&p.order_id));
    for chunk in crm_storage::insert_chunks(&known, 500) {
        let mut q = SqlBuilder::new("UPDATE purchases SET status = CASE order_id");
        let mut ids = Vec::with_capacity(chunk.len());
        let stored = sales::OrderStatus::stage_sql("status");
        for p in chunk {
            let (id, status) = (q.arg(p.order_id.as_str()), q.arg(p.status.as_str()));
            // Only forward: a late order.placed does not undo a cancellation.
            let incoming = sales::OrderStatus::stage_sql(&status);
            q.push(&format!(
                " WHEN {id} THEN (CASE WHEN {stored} < {incoming} THEN {status} ELSE status END)"
            ));
            ids.push(p.order_id.as_str());
        }
        let list = q.in_list(ids);
        q.push(&format!(" ELSE status END WHERE order_id IN ({list})"));
        q.build().execute(&mut *conn).await?;
    }
    if !new.is_empty() || !known.is_empty() {
        bump_version(conn).await?;
    }
    let mut changed_parties: Vec<String> = known.iter().map(|p| p.party_id.clone()).collect();
    changed_parties.sort_unstable();
    changed_parties.dedup();
    Ok(Recorded {
        new: new.into_iter().cloned().collect(),
        changed_parties,
    })
}

/// One customer's purchases, by time.
pub async fn purchases_of(conn: &mut Conn, party_id: &str) -> sqlx::Result<Vec<Purchase>> {
    let rows = sqlx::query(
        "SELECT order_id, party_id, placed_at, amount_minor, currency_code, status, product_ids FROM purchases \
         WHERE party_id = $1 ORDER BY placed_at",
    )
    .bind(party_id)
    .fetch_all(&mut *conn)
    .await?;
    to_purchases(&rows)
}

fn to_purchases(rows: &[sqlx::any::AnyRow]) -> sqlx::Result<Vec<Purchase>> {
    rows.iter()
        .map(|r| {
            Ok(Purchase {
                order_id: r.try_get("order_id")?,
                party_id: r.try_get("party_id")?,
                placed_at: r.try_get("placed_at")?,
                amount_minor: r.try_get("amount_minor")?,
                currency_code: r.try_get("currency_code")?,
                status: r.try_get("status")?,
                product_ids: serde_json::from_str(&r.try_get::<String, _>("product_ids")?)
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Marks the view's data as changed (in the caller's transaction).
async fn bump_version(conn: &mut Conn) -> sqlx::Result<()> {
    sqlx::query("UPDATE view_version SET version = version + 1 WHERE id = 1")
        .execute(conn)
        .await?;
    Ok(())
}

/// The version of the view's data: changes whenever a profile or purchase does.
pub async fn view_version(conn: &mut Conn) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT version FROM view_version WHERE id = 1")
        .fetch_one(conn)
        .await
}

/// Party ids by external id, for live customers imported from `source`.
pub async fn by_external_ids(
    conn: &mut Conn,
    source: &str,
    external_ids: &[String],
) -> sqlx::Result<std::collections::HashMap<String, String>> {
    let mut found = std::collections::HashMap::new();
    for chunk in external_ids.chunks(1000) {
        let mut q = crm_storage::SqlBuilder::new(
            "SELECT party_id, external_id FROM profiles WHERE status = 'active'",
        );
        // A literal, so that the partial index on external ids applies to a generic plan too.
        q.and("source = {}", source).push(" AND external_id <> ''");
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND external_id IN ({list})"));
        for row in q.build().fetch_all(&mut *conn).await? {
            found.insert(row.try_get("external_id")?, row.try_get("party_id")?);
        }
    }
    Ok(found)
}

/// Name, region and external id of each of `party_ids` (for exports), by party id.
pub async fn summaries(
    conn: &mut Conn,
    party_ids: &[String],
) -> sqlx::Result<std::collections::HashMap<String, (String, String, String)>> {
    let mut found = std::collections::HashMap::new();
    for chunk in party_ids.chunks(1000) {
        let mut q = crm_storage::SqlBuilder::new(
            "SELECT party_id, display_name, region_code, external_id FROM profiles WHERE 1 = 1",
        );
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND party_id IN ({list})"));
        for row in q.build().fetch_all(&mut *conn).await? {
            found.insert(
                row.try_get("party_id")?,
                (
                    row.try_get("display_name")?,
                    row.try_get("region_code")?,
                    row.try_get("external_id")?,
                ),
            );
        }
    }
    Ok(found)
}
