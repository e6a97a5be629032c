//! The duplicate index: blocking keys of party names, the links found between parties, and the
//! parties written in bulk that are still to be checked.

use std::collections::HashMap;

use crm_proto::customers::v1 as pb;
use crm_storage::{Arg, Conn, SqlBuilder, insert_chunks};
use sqlx::Row as _;

use crate::domain::duplicates::{Candidate, Link, Reason};

/// Keys (or values) looked up per statement: each is its own capped subquery.
const LOOKUPS_PER_STATEMENT: usize = 64;

/// Ids per `IN` list.
const IDS_PER_STATEMENT: usize = 500;

/// Ids per `IN` list of a statement on the links.
const LINK_IDS_PER_STATEMENT: usize = 16;

/// The active parties among `ids` as duplicate detection sees them: display name, normalized
/// emails and phones.
pub async fn candidates(conn: &mut Conn, ids: &[String]) -> sqlx::Result<Vec<Candidate>> {
    let mut found: HashMap<String, Candidate> = HashMap::new();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let mut q = SqlBuilder::new("SELECT id, display_name FROM parties WHERE status = ");
        let active = q.arg(pb::PartyStatus::Active as i64);
        q.push(&active);
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND id IN ({list})"));
        for row in q.build().fetch_all(&mut *conn).await? {
            let id: String = row.try_get("id")?;
            found.insert(
                id.clone(),
                Candidate {
                    id,
                    name: row.try_get("display_name")?,
                    emails: Vec::new(),
                    phones: Vec::new(),
                },
            );
        }
        let mut q =
            SqlBuilder::new("SELECT party_id, kind, normalized FROM contact_points WHERE normalized <> ''");
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND party_id IN ({list})"));
        for row in q.build().fetch_all(&mut *conn).await? {
            let party_id: String = row.try_get("party_id")?;
            let Some(c) = found.get_mut(&party_id) else {
                continue;
            };
            let value: String = row.try_get("normalized")?;
            match pb::ContactPointKind::try_from(row.try_get::<i64, _>("kind")? as i32) {
                Ok(pb::ContactPointKind::Email) if !c.emails.contains(&value) => c.emails.push(value),
                Ok(pb::ContactPointKind::Phone) if !c.phones.contains(&value) => c.phones.push(value),
                _ => {}
            }
        }
    }
    let mut out: Vec<Candidate> = found.into_values().collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// One party's blocking keys: (party id, normalized name, its keys).
pub type PartyKeys = (String, String, Vec<String>);

/// Removes the blocking keys of parties.
pub async fn forget_keys(conn: &mut Conn, keys: &[PartyKeys]) -> sqlx::Result<()> {
    let ids: Vec<&str> = keys.iter().map(|(id, _, _)| id.as_str()).collect();
    delete_where_in(conn, "DELETE FROM party_name_keys WHERE party_id IN", &ids).await
}

/// Adds the blocking keys of parties.
pub async fn insert_keys(conn: &mut Conn, keys: &[PartyKeys]) -> sqlx::Result<()> {
    let rows: Vec<(&str, &str, &str)> = keys
        .iter()
        .flat_map(|(id, name, keys)| keys.iter().map(move |k| (k.as_str(), id.as_str(), name.as_str())))
        .collect();
    for chunk in insert_chunks(&rows, 500) {
        let mut q = SqlBuilder::insert_rows(
            "party_name_keys (name_key, party_id, name)",
            chunk
                .iter()
                .map(|(k, id, name)| [Arg::from(*k), Arg::from(*id), Arg::from(*name)]),
        );
        q.push(" ON CONFLICT DO NOTHING");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The parties holding each of `keys`, for the keys held by at most `cap` parties, and the keys
/// found held by more (reading stops at `cap + 1` holders, so a common name costs no more than a
/// rare one; keys already known to be that common are not read at all).
pub async fn key_holders(
    conn: &mut Conn,
    keys: &[String],
    cap: usize,
) -> sqlx::Result<(HashMap<String, Vec<(String, String)>>, Vec<String>)> {
    let mut giant: Vec<String> = Vec::new();
    for chunk in keys.chunks(IDS_PER_STATEMENT) {
        let mut q = SqlBuilder::new("SELECT name_key FROM giant_name_keys WHERE name_key IN (");
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!("{list})"));
        for row in q.build().fetch_all(&mut *conn).await? {
            giant.push(row.try_get("name_key")?);
        }
    }
    let keys: Vec<String> = keys.iter().filter(|k| !giant.contains(k)).cloned().collect();
    capped_holders(conn, &keys, cap, |q, key| {
        let key = q.arg(key);
        format!("SELECT name_key AS v, party_id, name FROM party_name_keys WHERE name_key = {key}")
    })
    .await
}

/// Records that `key` is held by too many parties to compare them through it: the name links
/// among its holders go (made while the block was still small). Happens once per key, when its
/// block first outgrows the cap; links its holders share through another key come back when
/// either is written again.
pub async fn mark_giant(conn: &mut Conn, key: &str) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO giant_name_keys (name_key) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(key)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "DELETE FROM duplicate_links WHERE reason = $1 \
         AND party_a IN (SELECT party_id FROM party_name_keys WHERE name_key = $2) \
         AND party_b IN (SELECT party_id FROM party_name_keys WHERE name_key = $3)",
    )
    .bind(Reason::SimilarName.code())
    .bind(key)
    .bind(key)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The parties holding each of the normalized contact `values` of `kind`, for the values held by
/// at most `cap` parties.
pub async fn contact_holders(
    conn: &mut Conn,
    kind: pb::ContactPointKind,
    values: &[String],
    cap: usize,
) -> sqlx::Result<HashMap<String, Vec<String>>> {
    let (holders, _too_common) = capped_holders(conn, values, cap, |q, value| {
        let kind = q.arg(kind as i64);
        let value = q.arg(value);
        format!(
            "SELECT normalized AS v, party_id, '' AS name FROM contact_points WHERE kind = {kind} AND normalized = {value}"
        )
    })
    .await?;
    Ok(holders
        .into_iter()
        .map(|(value, parties)| (value, parties.into_iter().map(|(id, _)| id).collect()))
        .collect())
}

/// Runs `select(value)` (columns `v, party_id, name`) for each of `values` with `LIMIT cap + 1`,
/// many per statement joined with `UNION ALL`: the holders (id, name) of the values with at most
/// `cap` of them, and the values with more.
async fn capped_holders(
    conn: &mut Conn,
    values: &[String],
    cap: usize,
    select: impl Fn(&mut SqlBuilder, &str) -> String,
) -> sqlx::Result<(HashMap<String, Vec<(String, String)>>, Vec<String>)> {
    let mut values: Vec<&String> = values.iter().filter(|v| !v.is_empty()).collect();
    values.sort_unstable();
    values.dedup();
    let mut holders: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for chunk in values.chunks(LOOKUPS_PER_STATEMENT) {
        let mut q = SqlBuilder::new("");
        for (i, value) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(" UNION ALL ");
            }
            let sub = select(&mut q, value);
            q.push(&format!(
                "SELECT v, party_id, name FROM ({sub} LIMIT {}) AS h{i}",
                cap + 1
            ));
        }
        for row in q.build().fetch_all(&mut *conn).await? {
            let list = holders.entry(row.try_get("v")?).or_default();
            list.push((row.try_get("party_id")?, row.try_get("name")?));
        }
    }
    // A party holding a value twice (the same phone on two contact points) counts once.
    for list in holders.values_mut() {
        list.sort_unstable();
        list.dedup_by(|x, y| x.0 == y.0);
    }
    let mut overflowing: Vec<String> = holders
        .iter()
        .filter(|(_, parties)| parties.len() > cap)
        .map(|(value, _)| value.clone())
        .collect();
    overflowing.sort_unstable();
    holders.retain(|_, parties| parties.len() <= cap);
    Ok((holders, overflowing))
}

/// Removes every link of `ids`.
pub async fn forget_links(conn: &mut Conn, ids: &[String]) -> sqlx::Result<()> {
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    // Few ids per statement: the planner prices a list by the average links per party, and the
    // earliest parties of a common name hold hundreds, so a long list read the whole table.
    for chunk in ids.chunks(LINK_IDS_PER_STATEMENT) {
        delete_where_in(conn, "DELETE FROM duplicate_links WHERE party_a IN", chunk).await?;
        delete_where_in(conn, "DELETE FROM duplicate_links WHERE party_b IN", chunk).await?;
    }
    Ok(())
}

/// Adds `links` (a link already kept stays).
pub async fn insert_links(conn: &mut Conn, links: &[Link]) -> sqlx::Result<()> {
    for chunk in insert_chunks(links, 500) {
        let mut q = SqlBuilder::insert_rows(
            "duplicate_links (party_a, party_b, reason, score_ppm)",
            chunk.iter().map(|l| {
                [
                    Arg::from(l.a.as_str()),
                    Arg::from(l.b.as_str()),
                    Arg::Int(l.reason.code()),
                    Arg::Int(to_ppm(l.score)),
                ]
            }),
        );
        q.push(" ON CONFLICT DO NOTHING");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Removes parties from the index (merged, erased): their keys, their links, their due check.
pub async fn forget(conn: &mut Conn, ids: &[String]) -> sqlx::Result<()> {
    forget_links(conn, ids).await?;
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    delete_where_in(conn, "DELETE FROM party_name_keys WHERE party_id IN", &ids).await?;
    delete_where_in(conn, "DELETE FROM duplicate_check_due WHERE party_id IN", &ids).await
}

/// The links touching any of `ids` with a score of at least `min_score`.
pub async fn links_touching(conn: &mut Conn, ids: &[String], min_score: f64) -> sqlx::Result<Vec<Link>> {
    let mut links = Vec::new();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let mut q = SqlBuilder::new(
            "SELECT party_a, party_b, reason, score_ppm FROM duplicate_links WHERE score_ppm >= ",
        );
        let min = q.arg(to_ppm(min_score));
        q.push(&min);
        let a = q.in_list(chunk.iter().map(String::as_str));
        let b = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND (party_a IN ({a}) OR party_b IN ({b}))"));
        links.extend(to_links(q.build().fetch_all(&mut *conn).await?)?);
    }
    links.sort_by(|x, y| (&x.a, &x.b, x.reason).cmp(&(&y.a, &y.b, y.reason)));
    links.dedup();
    Ok(links)
}

/// The `limit` strongest links of at least `min_score`, strongest first (ties by party, last
/// first).
///
/// Both keys run the score index backwards: with the party ascending instead, every link of the
/// top score (each shared e-mail, phone and identical name, a group that grows with the base)
/// was read and sorted for each call.
pub async fn strongest_links(conn: &mut Conn, min_score: f64, limit: i64) -> sqlx::Result<Vec<Link>> {
    let rows = sqlx::query(
        "SELECT party_a, party_b, reason, score_ppm FROM duplicate_links WHERE score_ppm >= $1 \
         ORDER BY score_ppm DESC, party_a DESC LIMIT $2",
    )
    .bind(to_ppm(min_score))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    to_links(rows)
}

/// Notes that parties written in bulk are to be checked; `fresh` when they were just created
/// (nothing of theirs is in the index yet). A party written again before its check is not.
pub async fn mark_due(conn: &mut Conn, ids: &[String], fresh: bool) -> sqlx::Result<()> {
    for chunk in insert_chunks(ids, 500) {
        let mut q = SqlBuilder::insert_rows(
            "duplicate_check_due (party_id, fresh)",
            chunk
                .iter()
                .map(|id| [Arg::from(id.as_str()), Arg::Int(i64::from(fresh))]),
        );
        q.push(if fresh {
            " ON CONFLICT DO NOTHING"
        } else {
            " ON CONFLICT (party_id) DO UPDATE SET fresh = 0"
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Up to `limit` parties due a check after the id `after`, by id, each with whether it is fresh
/// (see [`mark_due`]). A job draining the table passes the last id it took: the entries it
/// deleted stay in the index until a vacuum, and reading from the start would step over them
/// all, more each batch.
pub async fn due(conn: &mut Conn, after: &str, limit: i64) -> sqlx::Result<Vec<(String, bool)>> {
    let rows = sqlx::query(
        "SELECT party_id, fresh FROM duplicate_check_due WHERE party_id > $1 ORDER BY party_id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("party_id")?, r.try_get::<i64, _>("fresh")? != 0)))
        .collect()
}

/// Notes that parties were checked.
pub async fn checked(conn: &mut Conn, ids: &[String]) -> sqlx::Result<()> {
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    delete_where_in(conn, "DELETE FROM duplicate_check_due WHERE party_id IN", &ids).await
}

/// Runs `head (ids...)` over `ids` in chunks.
async fn delete_where_in(conn: &mut Conn, head: &str, ids: &[&str]) -> sqlx::Result<()> {
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let mut q = SqlBuilder::new(head);
        let list = q.in_list(chunk.iter().copied());
        q.push(&format!(" ({list})"));
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Links read back (rows of an unknown reason are skipped).
fn to_links(rows: Vec<sqlx::any::AnyRow>) -> sqlx::Result<Vec<Link>> {
    let mut links = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(reason) = Reason::from_code(row.try_get("reason")?) else {
            continue;
        };
        links.push(Link {
            a: row.try_get("party_a")?,
            b: row.try_get("party_b")?,
            reason,
            score: row.try_get::<i64, _>("score_ppm")? as f64 / 1e6,
        });
    }
    Ok(links)
}

/// A score in millionths, as `duplicate_links.score_ppm` keeps it.
pub fn to_ppm(score: f64) -> i64 {
    (score * 1e6).round() as i64
}
