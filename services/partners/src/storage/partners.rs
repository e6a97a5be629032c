//! Partners and their status history.

use std::collections::HashMap;

use crm_proto::partners::v1 as pb;
use crm_storage::{Conn, SqlBuilder};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::timestamp;

const COLUMNS: &str = "id, name, type, parent_id, region_codes, tier, status, operating_model, contacts, \
    agreement_start, agreement_end, manager_id, party_id, version, external_id, source";

#[derive(serde::Serialize, serde::Deserialize)]
struct Contact {
    name: String,
    role: String,
    email: String,
    phone: String,
}

fn from_row(r: &AnyRow) -> sqlx::Result<pb::Partner> {
    let contacts: Vec<Contact> =
        serde_json::from_str(&r.try_get::<String, _>("contacts")?).unwrap_or_default();
    Ok(pb::Partner {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        r#type: r.try_get::<i64, _>("type")? as i32,
        parent_id: r.try_get("parent_id")?,
        region_codes: serde_json::from_str(&r.try_get::<String, _>("region_codes")?).unwrap_or_default(),
        tier: r.try_get("tier")?,
        status: r.try_get::<i64, _>("status")? as i32,
        operating_model: r.try_get::<i64, _>("operating_model")? as i32,
        contacts: contacts
            .into_iter()
            .map(|c| pb::PartnerContact {
                name: c.name,
                role: c.role,
                email: c.email,
                phone: c.phone,
            })
            .collect(),
        agreement_start: r.try_get("agreement_start")?,
        agreement_end: r.try_get("agreement_end")?,
        manager_id: r.try_get("manager_id")?,
        party_id: r.try_get("party_id")?,
        status_history: Vec::new(),
        etag: r.try_get::<i64, _>("version")?.to_string(),
        external_id: r.try_get("external_id")?,
        source: r.try_get("source")?,
    })
}

fn contacts_json(p: &pb::Partner) -> String {
    let list: Vec<Contact> = p
        .contacts
        .iter()
        .map(|c| Contact {
            name: c.name.clone(),
            role: c.role.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
        })
        .collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".into())
}

/// Inserts a partner (id set here).
pub async fn insert(conn: &mut Conn, p: &mut pb::Partner, now: i64) -> sqlx::Result<()> {
    p.id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO partners (id, name, type, parent_id, region_codes, tier, status, operating_model, contacts, \
         agreement_start, agreement_end, manager_id, party_id, version, created_at, external_id, source) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $15, $16)",
    )
    .bind(&p.id)
    .bind(&p.name)
    .bind(i64::from(p.r#type))
    .bind(&p.parent_id)
    .bind(serde_json::to_string(&p.region_codes).unwrap_or_default())
    .bind(&p.tier)
    .bind(i64::from(p.status))
    .bind(i64::from(p.operating_model))
    .bind(contacts_json(p))
    .bind(&p.agreement_start)
    .bind(&p.agreement_end)
    .bind(&p.manager_id)
    .bind(&p.party_id)
    .bind(now)
    .bind(&p.external_id)
    .bind(&p.source)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes a partner (including status) if its version is still `expected`.
pub async fn update(conn: &mut Conn, p: &pb::Partner, expected: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE partners SET name = $1, type = $2, parent_id = $3, region_codes = $4, tier = $5, status = $6, \
         operating_model = $7, contacts = $8, agreement_start = $9, agreement_end = $10, manager_id = $11, \
         party_id = $12, version = version + 1 WHERE id = $13 AND version = $14",
    )
    .bind(&p.name)
    .bind(i64::from(p.r#type))
    .bind(&p.parent_id)
    .bind(serde_json::to_string(&p.region_codes).unwrap_or_default())
    .bind(&p.tier)
    .bind(i64::from(p.status))
    .bind(i64::from(p.operating_model))
    .bind(contacts_json(p))
    .bind(&p.agreement_start)
    .bind(&p.agreement_end)
    .bind(&p.manager_id)
    .bind(&p.party_id)
    .bind(&p.id)
    .bind(expected)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// One partner with its history.
pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<pb::Partner>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM partners WHERE 1 = 1"));
    q.and("id = {}", id);
    let Some(row) = q.build().fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let mut p = from_row(&row)?;
    p.status_history = history(conn, id).await?;
    Ok(Some(p))
}

/// The first region of each of the partners `ids` that exist: where their sales are counted.
pub async fn first_regions(conn: &mut Conn, ids: &[String]) -> sqlx::Result<HashMap<String, String>> {
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut q = SqlBuilder::new("SELECT id, region_codes FROM partners WHERE id IN (");
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&list).push(")");
        for row in q.build().fetch_all(&mut *conn).await? {
            let regions: Vec<String> =
                serde_json::from_str(&row.try_get::<String, _>("region_codes")?).unwrap_or_default();
            found.insert(row.try_get("id")?, regions.into_iter().next().unwrap_or_default());
        }
    }
    Ok(found)
}

/// The names of the partners `ids` that exist.
pub async fn names(conn: &mut Conn, ids: &[String]) -> sqlx::Result<HashMap<String, String>> {
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut q = SqlBuilder::new("SELECT id, name FROM partners WHERE id IN (");
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&list).push(")");
        for row in q.build().fetch_all(&mut *conn).await? {
            found.insert(row.try_get("id")?, row.try_get("name")?);
        }
    }
    Ok(found)
}

/// True when the partner `id` is `ancestor` or lies below it: the chain of parents from `id`
/// up, read by key (a hierarchy is a few levels deep).
pub async fn is_within(conn: &mut Conn, id: &str, ancestor: &str) -> sqlx::Result<bool> {
    let found: i64 = sqlx::query_scalar(
        "WITH RECURSIVE up (id, parent_id) AS (SELECT id, parent_id FROM partners WHERE id = $1 \
         UNION ALL SELECT p.id, p.parent_id FROM partners p JOIN up u ON p.id = u.parent_id) \
         SELECT COUNT(*) FROM up WHERE id = $2",
    )
    .bind(id)
    .bind(ancestor)
    .fetch_one(&mut *conn)
    .await?;
    Ok(found > 0)
}

/// Which partners a figure covers, and the row each of them counts in (see [`tree`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach<'a> {
    /// Every partner, and the sales of partners no longer on file.
    All,
    /// A partner and everything below it, counted in the partner's row.
    Tree(&'a str),
    /// Every top-level partner's tree, each in its own row.
    TopLevel,
    /// A partner alone in its own row, and each of its children's trees in the child's row.
    Children(&'a str),
}

/// The `tree (id, root)` common table of `reach` (its arguments added to `q`): each partner
/// covered with the partner whose row it counts in. None for every partner.
pub fn tree(q: &mut SqlBuilder, reach: Reach<'_>) -> Option<String> {
    let (base, stop) = match reach {
        Reach::All => return None,
        Reach::Tree(id) => (format!("id = {}", q.arg(id)), String::new()),
        Reach::TopLevel => ("parent_id = ''".to_string(), String::new()),
        Reach::Children(id) => {
            let id = q.arg(id);
            // The partner is its own row; its children's trees are theirs.
            (
                format!("id = {id} OR parent_id = {id}"),
                format!(" WHERE t.id <> {id}"),
            )
        }
    };
    Some(format!(
        "tree (id, root) AS (SELECT id, id FROM partners WHERE {base} \
         UNION ALL SELECT p.id, t.root FROM partners p JOIN tree t ON p.parent_id = t.id{stop})"
    ))
}

/// Whether the partner `id` exists.
pub async fn exists(conn: &mut Conn, id: &str) -> sqlx::Result<bool> {
    let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM partners WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(found > 0)
}

/// A condition that `column` (a partner id) is the partner `root` or one below it, its
/// argument added to `q`.
pub fn within(q: &mut SqlBuilder, column: &str, root: &str) -> String {
    let tree = tree(q, Reach::Tree(root)).unwrap_or_default();
    format!("{column} IN (WITH RECURSIVE {tree} SELECT id FROM tree)")
}

/// What a list of partners is narrowed to (zero or empty: any).
#[derive(Debug, Default, Clone, Copy)]
pub struct ListFilter<'a> {
    /// The partner type.
    pub r#type: i32,
    /// The partner status.
    pub status: i32,
    /// A region the partner covers.
    pub region_code: &'a str,
    /// The parent partner.
    pub parent_id: &'a str,
    /// Only this partner and those below it (a partner user's view).
    pub within: Option<&'a str>,
    /// Only partners whose lower-cased name starts with this (lower-cased already).
    pub name_prefix: &'a str,
}

/// The first `limit` partners (without histories) matching `filter` with ids after `after`, by id.
pub async fn list(
    conn: &mut Conn,
    filter: ListFilter<'_>,
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<pb::Partner>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM partners WHERE 1 = 1"));
    if let Some(root) = filter.within {
        let condition = within(&mut q, "id", root);
        q.push(&format!(" AND {condition}"));
    }
    if filter.r#type != 0 {
        q.and("type = {}", i64::from(filter.r#type));
    }
    if filter.status != 0 {
        q.and("status = {}", i64::from(filter.status));
    }
    if !filter.parent_id.is_empty() {
        q.and("parent_id = {}", filter.parent_id);
    }
    if !filter.region_code.is_empty() {
        // The regions are a JSON array of strings: the code, quoted as JSON, occurs in it.
        let quoted = serde_json::to_string(filter.region_code).unwrap_or_default();
        let contains = if conn.backend_name() == "PostgreSQL" {
            "strpos(region_codes, {}) > 0"
        } else {
            "instr(region_codes, {}) > 0"
        };
        q.and(contains, quoted);
    }
    if !filter.name_prefix.is_empty() {
        // Read through the index on lower(name): PostgreSQL's serves a LIKE prefix (its
        // pattern operator class); SQLite's a range, compared byte by byte.
        if conn.backend_name() == "PostgreSQL" {
            q.and(
                "lower(name) LIKE {} ESCAPE '\\'",
                format!("{}%", crm_storage::escape_like(filter.name_prefix)),
            );
        } else {
            q.and("lower(name) >= {}", filter.name_prefix);
            q.and("lower(name) < {}", format!("{}\u{10FFFF}", filter.name_prefix));
        }
    }
    q.after("id", (!after.is_empty()).then(|| vec![after.to_string()]));
    q.order_limit("id", limit);
    read(conn, q).await
}

/// The partner `root` and every partner below it (without histories), by name.
pub async fn subtree(conn: &mut Conn, root: &str) -> sqlx::Result<Vec<pb::Partner>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM partners WHERE "));
    let condition = within(&mut q, "id", root);
    q.push(&condition).push(" ORDER BY name");
    read(conn, q).await
}

/// Every partner (without histories), by name: the whole hierarchy, for its tree.
pub async fn all(conn: &mut Conn) -> sqlx::Result<Vec<pb::Partner>> {
    let q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM partners ORDER BY name"));
    read(conn, q).await
}

/// The partners `q` selects (the columns of [`COLUMNS`]).
async fn read(conn: &mut Conn, q: SqlBuilder) -> sqlx::Result<Vec<pb::Partner>> {
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Records a status change.
pub async fn record_change(conn: &mut Conn, id: &str, c: &pb::StatusChange, at: i64) -> sqlx::Result<()> {
    let next: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM partner_status_history WHERE partner_id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO partner_status_history (partner_id, seq, from_status, to_status, reason, effective_date, actor_id, changed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(next)
    .bind(i64::from(c.from_status))
    .bind(i64::from(c.to_status))
    .bind(&c.reason)
    .bind(&c.effective_date)
    .bind(&c.actor_id)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn history(conn: &mut Conn, id: &str) -> sqlx::Result<Vec<pb::StatusChange>> {
    let rows = sqlx::query(
        "SELECT from_status, to_status, reason, effective_date, actor_id, changed_at FROM partner_status_history \
         WHERE partner_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(pb::StatusChange {
                from_status: r.try_get::<i64, _>("from_status")? as i32,
                to_status: r.try_get::<i64, _>("to_status")? as i32,
                reason: r.try_get("reason")?,
                effective_date: r.try_get("effective_date")?,
                actor_id: r.try_get("actor_id")?,
                change_time: Some(timestamp(r.try_get("changed_at")?)),
            })
        })
        .collect()
}
