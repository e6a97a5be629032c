//! Relationship edges.

use crm_proto::customers::v1 as pb;
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{new_id, timestamp};
use crate::domain::graph::Edge;

const COLUMNS: &str = "id, from_party_id, to_party_id, type, custom_type, role, since, until, created_at";

fn from_row(row: &AnyRow) -> sqlx::Result<pb::Relationship> {
    Ok(pb::Relationship {
        id: row.try_get("id")?,
        from_party_id: row.try_get("from_party_id")?,
        to_party_id: row.try_get("to_party_id")?,
        r#type: row.try_get::<i64, _>("type")? as i32,
        custom_type: row.try_get("custom_type")?,
        role: row.try_get("role")?,
        since: row.try_get("since")?,
        until: row.try_get("until")?,
        create_time: Some(timestamp(row.try_get("created_at")?)),
    })
}

/// Inserts an edge (id and time set here).
pub async fn insert(conn: &mut Conn, r: &mut pb::Relationship, now: i64) -> sqlx::Result<()> {
    r.id = new_id();
    r.create_time = Some(timestamp(now));
    sqlx::query(
        "INSERT INTO relationships (id, from_party_id, to_party_id, type, custom_type, role, since, until, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&r.id)
    .bind(&r.from_party_id)
    .bind(&r.to_party_id)
    .bind(i64::from(r.r#type))
    .bind(&r.custom_type)
    .bind(&r.role)
    .bind(&r.since)
    .bind(&r.until)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stores new edges with the ids they carry, as created at `now`, with multi-row statements.
pub async fn insert_many(conn: &mut Conn, edges: &mut [pb::Relationship], now: i64) -> sqlx::Result<()> {
    for r in edges.iter_mut() {
        r.create_time = Some(timestamp(now));
    }
    for chunk in crm_storage::insert_chunks(edges, 500) {
        SqlBuilder::insert_rows(
            "relationships (id, from_party_id, to_party_id, type, custom_type, role, since, until, created_at)",
            chunk.iter().map(|r| {
                [
                    Arg::from(r.id.as_str()),
                    Arg::from(r.from_party_id.as_str()),
                    Arg::from(r.to_party_id.as_str()),
                    Arg::from(i64::from(r.r#type)),
                    Arg::from(r.custom_type.as_str()),
                    Arg::from(r.role.as_str()),
                    Arg::from(r.since.as_str()),
                    Arg::from(r.until.as_str()),
                    Arg::from(now),
                ]
            }),
        )
        .build()
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Whether the same edge (from, to, type, custom type) exists.
pub async fn exists(conn: &mut Conn, r: &pb::Relationship) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM relationships WHERE from_party_id = $1 AND to_party_id = $2 AND type = $3 \
         AND custom_type = $4",
    )
    .bind(&r.from_party_id)
    .bind(&r.to_party_id)
    .bind(i64::from(r.r#type))
    .bind(&r.custom_type)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// One edge.
pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<pb::Relationship>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM relationships WHERE 1 = 1"));
    q.and("id = {}", id);
    q.build()
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Deletes an edge.
pub async fn delete(conn: &mut Conn, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM relationships WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Edges touching any of `parties` (outgoing, incoming or both), optionally of some types,
/// ordered by id.
pub async fn touching(
    conn: &mut Conn,
    parties: &[String],
    outgoing: bool,
    incoming: bool,
    types: &[i32],
) -> sqlx::Result<Vec<pb::Relationship>> {
    touching_at_most(conn, parties, outgoing, incoming, types, None).await
}

/// As [`touching`], the first `limit` edges by id when there is a limit: a walk through the
/// network reads at most what it can still keep, however many edges a hub has.
pub async fn touching_at_most(
    conn: &mut Conn,
    parties: &[String],
    outgoing: bool,
    incoming: bool,
    types: &[i32],
    limit: Option<usize>,
) -> sqlx::Result<Vec<pb::Relationship>> {
    let mut out = Vec::new();
    match limit {
        Some(limit) => {
            // Each party's side is read up to the limit. (With `from_party_id IN (..) OR
            // to_party_id IN (..)`, every edge of the parties was read and sorted before the
            // limit applied: a million for a hub.)
            let sides = Sides { outgoing, incoming };
            for chunk in parties.chunks(CAPPED_PARTIES_PER_STATEMENT) {
                out.extend(capped_sides(conn, chunk, sides, types, "", limit as i64).await?);
            }
        }
        None => {
            for chunk in parties.chunks(300) {
                out.extend(every_edge(conn, chunk, outgoing, incoming, types).await?);
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out.dedup_by(|a, b| a.id == b.id);
    if let Some(limit) = limit {
        out.truncate(limit);
    }
    Ok(out)
}

/// Parties whose capped reads one statement of [`capped_sides`] holds (two per party: SQLite
/// allows 500 terms in a compound select).
const CAPPED_PARTIES_PER_STATEMENT: usize = 100;

/// Every edge touching any of `parties` on the sides asked.
async fn every_edge(
    conn: &mut Conn,
    parties: &[String],
    outgoing: bool,
    incoming: bool,
    types: &[i32],
) -> sqlx::Result<Vec<pb::Relationship>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM relationships WHERE ("));
    let mut sides = Vec::new();
    if outgoing {
        let list = q.in_list(parties.iter().cloned());
        sides.push(format!("from_party_id IN ({list})"));
    }
    if incoming {
        let list = q.in_list(parties.iter().cloned());
        sides.push(format!("to_party_id IN ({list})"));
    }
    if sides.is_empty() {
        return Ok(Vec::new());
    }
    q.push(&sides.join(" OR ")).push(")");
    if !types.is_empty() {
        let list = q.in_list(types.iter().map(|t| i64::from(*t)));
        q.push(&format!(" AND type IN ({list})"));
    }
    q.push(" ORDER BY id");
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Which ends of its edges a party is on.
#[derive(Debug, Clone, Copy)]
pub struct Sides {
    /// Edges from the party.
    pub outgoing: bool,
    /// Edges to the party.
    pub incoming: bool,
}

/// Up to `limit` edges of `party` on `sides` (of `types`; empty: all) with ids after `after`, in
/// id order. Each side is read in id order from its (party, id) index and stops at `limit`, so a
/// page of a hub with a million edges reads a page's worth of them.
pub async fn page_of(
    conn: &mut Conn,
    party: &str,
    sides: Sides,
    types: &[i32],
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<pb::Relationship>> {
    capped_sides(conn, &[party], sides, types, after, limit).await
}

/// Up to `limit` edges by id, with ids after `after`, touching any of `parties` on `sides`: each
/// party's edges on each side read in id order from its (party, id) index up to `limit`, and only
/// those merged.
async fn capped_sides(
    conn: &mut Conn,
    parties: &[impl AsRef<str>],
    sides: Sides,
    types: &[i32],
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<pb::Relationship>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM ("));
    let mut selects = Vec::new();
    for party in parties {
        for (column, wanted) in [("from_party_id", sides.outgoing), ("to_party_id", sides.incoming)] {
            if !wanted {
                continue;
            }
            let party = q.arg(party.as_ref());
            let after = q.arg(after);
            let mut select = format!(
                "SELECT * FROM (SELECT {COLUMNS} FROM relationships WHERE {column} = {party} AND id > {after}"
            );
            if !types.is_empty() {
                let list = q.in_list(types.iter().map(|t| i64::from(*t)));
                select.push_str(&format!(" AND type IN ({list})"));
            }
            let cap = q.arg(limit);
            select.push_str(&format!(" ORDER BY id LIMIT {cap}) AS side_{}", selects.len()));
            selects.push(select);
        }
    }
    if selects.is_empty() {
        return Ok(Vec::new());
    }
    let cap = q.arg(limit);
    // UNION, not UNION ALL: a self-referencing edge would be on both sides.
    q.push(&selects.join(" UNION "))
        .push(&format!(") AS edges ORDER BY id LIMIT {cap}"));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The search view of an edge.
pub fn edge(r: &pb::Relationship) -> Edge {
    Edge {
        id: r.id.clone(),
        from: r.from_party_id.clone(),
        to: r.to_party_id.clone(),
        kind: r.r#type,
    }
}

/// Re-points every edge of `from` to `to`, dropping edges that would become self-loops or
/// duplicates of edges `to` already has. A handful of statements, whatever the number of edges:
/// merging a hub does not read its edges into memory.
pub async fn repoint(conn: &mut Conn, from: &str, to: &str) -> sqlx::Result<()> {
    // Edges between the two (or of `from` to itself) would become self-loops.
    sqlx::query(
        "DELETE FROM relationships WHERE (from_party_id = $1 AND to_party_id IN ($1, $2)) \
         OR (to_party_id = $1 AND from_party_id IN ($1, $2))",
    )
    .bind(from)
    .bind(to)
    .execute(&mut *conn)
    .await?;
    // Each remaining edge touches `from` on one side. It is dropped when, re-pointed, it equals
    // an edge of `to`, or an earlier (by id) edge of `from` re-pointed the same way.
    for (side, other) in [("from_party_id", "to_party_id"), ("to_party_id", "from_party_id")] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM relationships WHERE {side} = $1 AND EXISTS (SELECT 1 FROM relationships e \
             WHERE e.{other} = relationships.{other} AND e.type = relationships.type \
             AND e.custom_type = relationships.custom_type \
             AND (e.{side} = $2 OR (e.{side} = $1 AND e.id < relationships.id)))"
        )))
        .bind(from)
        .bind(to)
        .execute(&mut *conn)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE relationships SET {side} = $2 WHERE {side} = $1"
        )))
        .bind(from)
        .bind(to)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Deletes every edge of a party (erasure).
pub async fn delete_all_of(conn: &mut Conn, party: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM relationships WHERE from_party_id = $1 OR to_party_id = $1")
        .bind(party)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
