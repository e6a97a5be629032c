//! The read copy of customers: name, tier and phone numbers.

use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;

/// What the desk keeps about a customer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Customer {
    /// Party id.
    pub party_id: String,
    /// Name.
    pub display_name: String,
    /// Value tier.
    pub tier: String,
    /// Normalised phone numbers.
    pub phones: Vec<String>,
}

/// What a customers event says of a party: the fields the copy keeps from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartyCopy {
    /// Party id.
    pub party_id: String,
    /// Name.
    pub display_name: String,
    /// Normalised phone numbers.
    pub phones: Vec<String>,
    /// `YYYY-MM-DD`, or empty.
    pub birth_date: String,
    /// The system the party was imported from (empty when it was not).
    pub source: String,
    /// The party's id in that system (empty when it was not imported).
    pub external_id: String,
    /// The party's version (its etag).
    pub version: i64,
}

/// Inserts or refreshes name, phones and birth date of distinct parties with multi-row
/// statements, keeping each tier; the source and external id are recorded when the event
/// carries them and kept when it does not. A copy already at a later version, merged or erased
/// is left as it is.
pub async fn upsert_many(conn: &mut Conn, copies: &[PartyCopy]) -> sqlx::Result<()> {
    for chunk in crm_storage::insert_chunks(copies, 500) {
        let mut q = SqlBuilder::insert_rows(
            "customers (party_id, display_name, phones, birth_date, status, source, external_id, version)",
            chunk.iter().map(|c| {
                let imported = !c.external_id.is_empty();
                [
                    Arg::from(c.party_id.as_str()),
                    Arg::from(c.display_name.as_str()),
                    Arg::from(serde_json::to_string(&c.phones).unwrap_or_default()),
                    Arg::from(c.birth_date.as_str()),
                    Arg::from("active"),
                    Arg::from(if imported { c.source.as_str() } else { "" }),
                    Arg::from(c.external_id.as_str()),
                    Arg::Int(c.version),
                ]
            }),
        );
        q.push(
            " ON CONFLICT (party_id) DO UPDATE SET display_name = excluded.display_name, phones = excluded.phones, \
             birth_date = excluded.birth_date, status = 'active', \
             source = CASE WHEN excluded.external_id <> '' THEN excluded.source ELSE customers.source END, \
             external_id = CASE WHEN excluded.external_id <> '' THEN excluded.external_id ELSE customers.external_id END, \
             version = excluded.version",
        );
        q.push(&crm_storage::copies::newer_than_stored("customers"));
        q.push(" RETURNING party_id");
        let applied: std::collections::HashSet<String> = q
            .build()
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| row.try_get("party_id"))
            .collect::<sqlx::Result<_>>()?;
        let applied: Vec<PartyCopy> = chunk
            .iter()
            .filter(|c| applied.contains(&c.party_id))
            .cloned()
            .collect();
        set_phones(conn, &applied).await?;
    }
    Ok(())
}

/// Replaces the indexed phone numbers of `copies` with the ones they carry.
async fn set_phones(conn: &mut Conn, copies: &[PartyCopy]) -> sqlx::Result<()> {
    if copies.is_empty() {
        return Ok(());
    }
    let mut q = SqlBuilder::new("DELETE FROM customer_phones WHERE 1 = 1");
    let list = q.in_list(copies.iter().map(|c| c.party_id.as_str()));
    q.push(&format!(" AND party_id IN ({list})"));
    q.build().execute(&mut *conn).await?;
    let mut phones: Vec<(&str, &str)> = copies
        .iter()
        .flat_map(|c| c.phones.iter().map(|p| (p.as_str(), c.party_id.as_str())))
        .collect();
    phones.sort_unstable();
    phones.dedup();
    for chunk in crm_storage::insert_chunks(&phones, 500) {
        let q = SqlBuilder::insert_rows(
            "customer_phones (phone, party_id)",
            chunk
                .iter()
                .map(|(phone, party)| [Arg::from(*phone), Arg::from(*party)]),
        );
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
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
            "SELECT party_id, external_id FROM customers WHERE status = 'active'",
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

/// Sets the tiers of distinct customers, (party id, tier) each, with multi-row statements.
pub async fn set_tiers(conn: &mut Conn, tiers: &[(String, String)]) -> sqlx::Result<()> {
    for chunk in crm_storage::insert_chunks(tiers, 500) {
        let mut q = SqlBuilder::insert_rows(
            "customers (party_id, tier)",
            chunk
                .iter()
                .map(|(party, tier)| [Arg::from(party.as_str()), Arg::from(tier.as_str())]),
        );
        q.push(" ON CONFLICT (party_id) DO UPDATE SET tier = excluded.tier");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

fn from_row(r: &sqlx::any::AnyRow) -> sqlx::Result<Customer> {
    Ok(Customer {
        party_id: r.try_get("party_id")?,
        display_name: r.try_get("display_name")?,
        tier: r.try_get("tier")?,
        phones: serde_json::from_str(&r.try_get::<String, _>("phones")?).unwrap_or_default(),
    })
}

/// A live customer.
pub async fn get(conn: &mut Conn, party_id: &str) -> sqlx::Result<Option<Customer>> {
    sqlx::query("SELECT party_id, display_name, tier, phones FROM customers WHERE party_id = $1 AND status = 'active'")
        .bind(party_id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The tiers of those of `party_ids` the desk knows as live customers (one query per 1,000).
pub async fn tiers(
    conn: &mut Conn,
    party_ids: &[String],
) -> sqlx::Result<std::collections::HashMap<String, String>> {
    let mut found = std::collections::HashMap::new();
    for chunk in party_ids.chunks(1000) {
        let mut q = SqlBuilder::new("SELECT party_id, tier FROM customers WHERE status = 'active'");
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND party_id IN ({list})"));
        for row in q.build().fetch_all(&mut *conn).await? {
            found.insert(row.try_get("party_id")?, row.try_get("tier")?);
        }
    }
    Ok(found)
}

/// The live customer with a phone number (normalised); the first by id when several share it.
pub async fn by_phone(conn: &mut Conn, phone: &str) -> sqlx::Result<Option<Customer>> {
    sqlx::query(
        "SELECT c.party_id, c.display_name, c.tier, c.phones FROM customer_phones p \
         CROSS JOIN customers c WHERE c.party_id = p.party_id AND p.phone = $1 AND c.status = 'active' \
         ORDER BY c.party_id LIMIT 1",
    )
    .bind(phone)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Holds `party_ids` until the transaction ends, so that a case opened about a customer and
/// their erasure or merge take turns: whichever comes second sees what the first committed (see
/// `crm_storage::copies::lock_parties`).
pub async fn lock(conn: &mut Conn, party_ids: &[&str]) -> sqlx::Result<()> {
    crm_storage::copies::lock_parties(conn, "servicedesk-party", party_ids).await
}

/// How the copies of those of `party_ids` that are tombstones ended (`erased` or `merged`), by
/// party id.
pub async fn ended(
    conn: &mut Conn,
    party_ids: &[&str],
) -> sqlx::Result<std::collections::HashMap<String, String>> {
    let mut found = std::collections::HashMap::new();
    for chunk in party_ids.chunks(500) {
        let mut q = SqlBuilder::new(
            "SELECT party_id, status FROM customers WHERE status <> 'active' AND party_id IN (",
        );
        let list = q.in_list(chunk.iter().copied());
        q.push(&list).push(")");
        for row in q.build().fetch_all(&mut *conn).await? {
            found.insert(row.try_get("party_id")?, row.try_get("status")?);
        }
    }
    Ok(found)
}

/// Anonymises an erased customer's copy, case texts, notifications and call-list entries; the
/// copy stays erased at `version` whatever arrives later.
pub async fn erase(conn: &mut Conn, party_id: &str, version: i64) -> sqlx::Result<()> {
    lock(conn, &[party_id]).await?;
    let blank = ", display_name = '', phones = '[]', birth_date = ''";
    crm_storage::copies::tombstone(conn, "customers", party_id, "erased", version, blank).await?;
    sqlx::query("DELETE FROM customer_phones WHERE party_id = $1")
        .bind(party_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE cases SET contact = '', description = '' WHERE party_id = $1")
        .bind(party_id)
        .execute(&mut *conn)
        .await?;
    // Comments and ratings may quote the customer; the rest of the timeline is the desk's own.
    for sql in [
        "UPDATE case_timeline SET text = '' WHERE kind IN ('comment', 'rating') \
         AND case_id IN (SELECT id FROM cases WHERE party_id = $1)",
        // Nothing more is sent to an erased customer, and what was sent keeps no content.
        "DELETE FROM notifications WHERE recipient = $1 AND status = 1",
        "UPDATE notifications SET payload = '{}' WHERE recipient = $1",
        // Notices to staff about the customer, too, and nobody watches them any more.
        "DELETE FROM notifications WHERE about = $1 AND status = 1",
        "UPDATE notifications SET payload = '{}' WHERE about = $1",
        "DELETE FROM watches WHERE party_id = $1",
        "DELETE FROM consents WHERE party_id = $1",
        "UPDATE call_list_entries SET display_name = '', phone = '', note = '' WHERE party_id = $1",
    ] {
        sqlx::query(sql).bind(party_id).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Moves a merged customer's cases, notifications and watchers to the survivor, who inherits an
/// at-risk flag; the merged copy is a tombstone at `version` (the merged party's last).
pub async fn rekey(conn: &mut Conn, from: &str, to: &str, version: i64) -> sqlx::Result<()> {
    lock(conn, &[from]).await?;
    for sql in [
        "UPDATE cases SET party_id = $1 WHERE party_id = $2",
        "UPDATE assets SET party_id = $1 WHERE party_id = $2",
        "UPDATE notifications SET recipient = $1 WHERE recipient = $2",
        "UPDATE notifications SET about = $1 WHERE about = $2",
        // A watcher of both keeps one watch of the survivor.
        "UPDATE watches SET party_id = $1 WHERE party_id = $2 \
         AND watcher_id NOT IN (SELECT watcher_id FROM watches WHERE party_id = $1)",
        "UPDATE customers SET at_risk = 1 WHERE party_id = $1 \
         AND EXISTS (SELECT 1 FROM customers m WHERE m.party_id = $2 AND m.at_risk = 1)",
    ] {
        sqlx::query(sql).bind(to).bind(from).execute(&mut *conn).await?;
    }
    sqlx::query("DELETE FROM watches WHERE party_id = $1")
        .bind(from)
        .execute(&mut *conn)
        .await?;
    crm_storage::copies::tombstone(conn, "customers", from, "merged", version, "").await
}

/// Marks a customer at risk of leaving (from marketing).
pub async fn mark_at_risk(conn: &mut Conn, party_id: &str) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO customers (party_id, at_risk) VALUES ($1, 1) ON CONFLICT (party_id) DO UPDATE SET at_risk = 1")
        .bind(party_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
