//! The name search index: each party's name key under each two-character sequence of it
//! (`party_search_grams`), read in name order per sequence, so a search reads only the
//! candidates under its rarest sequence, and only as far as the page it returns.

use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;

use crate::domain::party::search_grams;

/// A sequence held by more rows than this is "common"; counting stops there.
const COMMON: i64 = 1000;
/// At most this many of a fragment's sequences are counted to find the rarest.
const COUNTED: usize = 8;

/// Indexes parties under their name keys: (party id, name key) pairs.
pub async fn index(conn: &mut Conn, parties: &[(&str, &str)]) -> sqlx::Result<()> {
    let mut rows: Vec<(String, &str, &str)> = parties
        .iter()
        .flat_map(|(id, key)| search_grams(key).into_iter().map(move |g| (g, *key, *id)))
        .collect();
    // Statements come in power-of-two sizes (few shapes to prepare); one party's dozen or so
    // entries would take up to four. Repeating the last entry up to the next size makes them
    // one statement: ON CONFLICT DO NOTHING skips the repeats.
    if let Some(last) = rows.last().cloned()
        && rows.len() <= 512
    {
        rows.resize(rows.len().next_power_of_two(), last);
    }
    for chunk in crm_storage::insert_chunks(&rows, 1000) {
        let mut q = SqlBuilder::insert_rows(
            "party_search_grams (gram, name_key, party_id)",
            chunk
                .iter()
                .map(|(gram, key, id)| [Arg::from(gram.as_str()), Arg::from(*key), Arg::from(*id)]),
        );
        q.push(" ON CONFLICT DO NOTHING");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Removes a party's entries for the name key it had.
pub async fn unindex(conn: &mut Conn, party_id: &str, name_key: &str) -> sqlx::Result<()> {
    let grams = search_grams(name_key);
    if grams.is_empty() {
        return Ok(());
    }
    let mut q = SqlBuilder::new("DELETE FROM party_search_grams WHERE 1 = 1");
    q.and("name_key = {}", name_key);
    q.and("party_id = {}", party_id);
    let list = q.in_list(grams.iter().map(String::as_str));
    q.push(&format!(" AND gram IN ({list})"));
    q.build().execute(&mut *conn).await?;
    Ok(())
}

/// Re-indexes a party whose name key changed from `before` to `after`.
pub async fn reindex(conn: &mut Conn, party_id: &str, before: &str, after: &str) -> sqlx::Result<()> {
    if before != after {
        unindex(conn, party_id, before).await?;
        index(conn, &[(party_id, after)]).await?;
    }
    Ok(())
}

/// The sequence of `fragment` to read the candidates under: the rarest of (up to eight of)
/// its sequences, counted up to [`COMMON`]; None when one is held by nobody, so nothing can
/// match.
pub async fn rarest_gram(conn: &mut Conn, fragment: &str) -> sqlx::Result<Option<String>> {
    let grams = search_grams(fragment);
    if let [only] = grams.as_slice() {
        // Nothing to choose between (a walk of an empty sequence ends at once).
        return Ok(Some(only.clone()));
    }
    // Spread the counted sequences over a long fragment.
    let step = grams.len().div_ceil(COUNTED).max(1);
    let counted: Vec<&String> = grams.iter().step_by(step).collect();
    let mut q = SqlBuilder::new("");
    for (i, gram) in counted.iter().enumerate() {
        if i > 0 {
            q.push(" UNION ALL ");
        }
        let g = q.arg(gram.as_str());
        let cap = q.arg(COMMON);
        q.push(&format!(
            "SELECT {i} AS i, (SELECT COUNT(*) FROM (SELECT 1 FROM party_search_grams WHERE gram = {g} LIMIT {cap}) t) AS n"
        ));
    }
    let mut best: Option<(i64, usize)> = None;
    for row in q.build().fetch_all(&mut *conn).await? {
        let (i, n): (i64, i64) = (row.try_get("i")?, row.try_get("n")?);
        if n == 0 {
            return Ok(None);
        }
        if best.is_none_or(|(fewest, _)| n < fewest) {
            best = Some((n, usize::try_from(i).unwrap_or_default()));
        }
    }
    Ok(best.and_then(|(_, i)| counted.get(i).map(|g| (*g).clone())))
}

/// Up to `limit` entries (name key, party id) of `gram` after `after`, in name order.
pub async fn entries(
    conn: &mut Conn,
    gram: &str,
    after: Option<&(String, String)>,
    limit: i64,
) -> sqlx::Result<Vec<(String, String)>> {
    let mut q = SqlBuilder::new("SELECT name_key, party_id FROM party_search_grams WHERE 1 = 1");
    q.and("gram = {}", gram);
    q.after(
        "name_key, party_id",
        after.map(|(name_key, id)| vec![name_key.as_str(), id.as_str()]),
    );
    q.order_limit("name_key, party_id", limit);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("name_key")?, r.try_get("party_id")?)))
        .collect()
}
