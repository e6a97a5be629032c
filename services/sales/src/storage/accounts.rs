//! The read copy of customer parties, and re-keying on merge / anonymising on erasure.

use crm_proto::customers::v1 as customers;
use crm_storage::Conn;
use sqlx::FromRow as _;

/// What sales keeps about a party (a row of `accounts`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Account {
    /// Party id.
    pub party_id: String,
    /// Name.
    pub display_name: String,
    /// Industry.
    pub industry: String,
    /// Region code.
    pub region_code: String,
    /// `active`, `merged` or `erased`.
    pub status: String,
    /// The system the party was imported from ("" when created in the suite).
    pub source: String,
    /// The party's id in that system.
    pub external_id: String,
    /// The version of the party this copies (its etag).
    pub version: i64,
}

impl Account {
    /// The copy of a party.
    pub fn from_party(p: &customers::Party) -> Self {
        Self {
            party_id: p.id.clone(),
            display_name: p.display_name.clone(),
            industry: p.industry.clone(),
            region_code: p.region_code.clone(),
            status: p.status_name().into(),
            source: if p.external_id.is_empty() {
                String::new()
            } else {
                p.source.clone()
            },
            external_id: p.external_id.clone(),
            version: p.version(),
        }
    }
}

/// Inserts or refreshes an account (see [`upsert_many`]).
pub async fn upsert(conn: &mut Conn, a: &Account) -> sqlx::Result<()> {
    upsert_many(conn, std::slice::from_ref(a)).await
}

/// Inserts or refreshes accounts with multi-row statements (distinct parties); an account
/// already at a later version, merged or erased is left as it is.
pub async fn upsert_many(conn: &mut Conn, accounts: &[Account]) -> sqlx::Result<()> {
    for chunk in crm_storage::insert_chunks(accounts, 500) {
        let mut q = crm_storage::SqlBuilder::insert_rows(
            "accounts (party_id, display_name, industry, region_code, status, source, external_id, version)",
            chunk.iter().map(|a| {
                [
                    crm_storage::Arg::from(a.party_id.as_str()),
                    crm_storage::Arg::from(a.display_name.as_str()),
                    crm_storage::Arg::from(a.industry.as_str()),
                    crm_storage::Arg::from(a.region_code.as_str()),
                    crm_storage::Arg::from(a.status.as_str()),
                    crm_storage::Arg::from(a.source.as_str()),
                    crm_storage::Arg::from(a.external_id.as_str()),
                    crm_storage::Arg::Int(a.version),
                ]
            }),
        );
        q.push(
            " ON CONFLICT (party_id) DO UPDATE SET display_name = excluded.display_name, industry = excluded.industry, \
             region_code = excluded.region_code, status = excluded.status, source = excluded.source, \
             external_id = excluded.external_id, version = excluded.version",
        );
        q.push(&crm_storage::copies::newer_than_stored("accounts"));
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The account of a party, if known.
pub async fn get(conn: &mut Conn, party_id: &str) -> sqlx::Result<Option<Account>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM accounts WHERE party_id = $1"
    )))
    .bind(party_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(Account::from_row).transpose()
}

const COLUMNS: &str = "party_id, display_name, industry, region_code, status, source, external_id, version";

/// The accounts of parties imported from `source` with these external ids, by external id.
pub async fn by_external_ids(
    conn: &mut Conn,
    source: &str,
    external_ids: &[String],
) -> sqlx::Result<std::collections::HashMap<String, Account>> {
    let mut found = std::collections::HashMap::new();
    for chunk in external_ids.chunks(1000) {
        let mut q = crm_storage::SqlBuilder::new(&format!("SELECT {COLUMNS} FROM accounts WHERE 1 = 1"));
        // A literal, so that the partial index on external ids applies to a generic plan too.
        q.and("source = {}", source).push(" AND external_id <> ''");
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND external_id IN ({list})"));
        for row in q.build().fetch_all(&mut *conn).await? {
            let account = Account::from_row(&row)?;
            found.insert(account.external_id.clone(), account);
        }
    }
    Ok(found)
}

/// Holds `party_id` until the transaction ends, so that a new record about the party and its
/// erasure or merge take turns: whichever comes second sees what the first committed (see
/// `crm_storage::copies::lock_parties`).
pub async fn lock(conn: &mut Conn, party_id: &str) -> sqlx::Result<()> {
    crm_storage::copies::lock_parties(conn, "sales-party", &[party_id]).await
}

/// Every sales record of `merged` now belongs to `survivor`; the account of `merged` is a
/// tombstone at `version` (the merged party's last).
pub async fn rekey(conn: &mut Conn, merged: &str, survivor: &str, version: i64) -> sqlx::Result<()> {
    lock(conn, merged).await?;
    for table in [
        "leads",
        "opportunities",
        "activities",
        "tasks",
        "quotes",
        "orders",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET party_id = $1 WHERE party_id = $2"
        )))
        .bind(survivor)
        .bind(merged)
        .execute(&mut *conn)
        .await?;
    }
    crm_storage::copies::tombstone(conn, "accounts", merged, "merged", version, "").await
}

/// Removes personal data held about an erased party: the account's name and the contact
/// details and notes of its leads. Orders and opportunities keep their amounts (business records)
/// under the tombstone id, whose account stays erased at `version` whatever arrives later.
pub async fn anonymise(conn: &mut Conn, party_id: &str, version: i64) -> sqlx::Result<()> {
    lock(conn, party_id).await?;
    let blank = ", display_name = '', industry = '', region_code = ''";
    crm_storage::copies::tombstone(conn, "accounts", party_id, "erased", version, blank).await?;
    sqlx::query(
        "UPDATE leads SET contact_name = '', email = '', phone = '', notes = '', company_name = '' WHERE party_id = $1",
    )
    .bind(party_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE activities SET notes = '', subject = 'erased' WHERE party_id = $1")
        .bind(party_id)
        .execute(&mut *conn)
        .await?;
    // Tasks about the party keep their dates and owners; what they said of the party goes, and
    // no reminder about it is sent.
    sqlx::query("UPDATE tasks SET notes = '', title = 'erased', reminder_due_at = NULL WHERE party_id = $1")
        .bind(party_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
