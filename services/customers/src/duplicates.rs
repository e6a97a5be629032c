//! Duplicate checking against the index. A party written on its own (created, updated, merged
//! into) is checked in the transaction that writes it; parties written in bulk (imports) are
//! marked due and checked by a job, a batch per transaction. Finding duplicates then reads the
//! links the checks kept instead of comparing the whole base.

use std::collections::HashMap;

use crm_platform::Store;
use crm_proto::customers::v1::ContactPointKind;
use crm_storage::Conn;

use crate::domain::duplicates::{self as rules, Candidate, Link, MAX_BLOCK, MIN_STORED_SIMILARITY};
use crate::storage::duplicates as index;

/// Parties the job checks per transaction.
pub const BATCH: i64 = 500;

/// Checks `ids` (in the caller's transaction): rewrites their blocking keys and their links to
/// the parties sharing a key, an email or a phone with them. Ids no longer active (merged,
/// erased) leave the index.
pub async fn check(conn: &mut Conn, ids: &[String]) -> anyhow::Result<()> {
    let parties = index::candidates(conn, ids).await?;
    let gone: Vec<String> = ids
        .iter()
        .filter(|id| !parties.iter().any(|p| &p.id == *id))
        .cloned()
        .collect();
    if !gone.is_empty() {
        index::forget(conn, &gone).await?;
    }
    if parties.is_empty() {
        return Ok(());
    }
    let keys: Vec<(String, Vec<String>)> = parties
        .iter()
        .map(|p| (p.id.clone(), rules::blocking_keys(&p.name)))
        .collect();
    index::replace_keys(conn, &keys).await?;
    let all = |values: fn(&Candidate) -> &Vec<String>| -> Vec<String> {
        parties.iter().flat_map(|p| values(p).iter().cloned()).collect()
    };
    let all_keys: Vec<String> = keys.iter().flat_map(|(_, k)| k.iter().cloned()).collect();
    let (by_key, giant) = index::key_holders(conn, &all_keys, MAX_BLOCK).await?;
    for key in &giant {
        index::mark_giant(conn, key).await?;
    }
    let by_email =
        index::contact_holders(conn, ContactPointKind::Email, &all(|c| &c.emails), MAX_BLOCK).await?;
    let by_phone =
        index::contact_holders(conn, ContactPointKind::Phone, &all(|c| &c.phones), MAX_BLOCK).await?;
    let neighbours: Vec<Vec<String>> = parties
        .iter()
        .zip(&keys)
        .map(|(party, (_, keys))| {
            let mut ids: Vec<String> = keys
                .iter()
                .filter_map(|k| by_key.get(k))
                .chain(party.emails.iter().filter_map(|e| by_email.get(e)))
                .chain(party.phones.iter().filter_map(|p| by_phone.get(p)))
                .flatten()
                .filter(|id| **id != party.id)
                .cloned()
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        })
        .collect();
    let mut wanted: Vec<String> = neighbours.iter().flatten().cloned().collect();
    wanted.sort_unstable();
    wanted.dedup();
    let others: HashMap<String, Candidate> = index::candidates(conn, &wanted)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    // Hundreds of name comparisons per party, thousands per batch: off the async runtime.
    let links = tokio::task::spawn_blocking(move || link(&parties, &neighbours, &others)).await?;
    let checked: Vec<String> = keys.into_iter().map(|(id, _)| id).collect();
    index::replace_links(conn, &checked, &links).await?;
    index::checked(conn, &checked).await?;
    Ok(())
}

/// The links of each party to its neighbours, each link once.
fn link(parties: &[Candidate], neighbours: &[Vec<String>], others: &HashMap<String, Candidate>) -> Vec<Link> {
    let mut links: Vec<Link> = parties
        .iter()
        .zip(neighbours)
        .flat_map(|(party, ids)| {
            let near: Vec<Candidate> = ids.iter().filter_map(|id| others.get(id).cloned()).collect();
            rules::links_between(party, &near, MIN_STORED_SIMILARITY)
        })
        .collect();
    links.sort_by(|x, y| (&x.a, &x.b, x.reason).cmp(&(&y.a, &y.b, y.reason)));
    links.dedup_by(|x, y| (&x.a, &x.b, x.reason) == (&y.a, &y.b, y.reason));
    links
}

/// Checks the parties due (written in bulk), a batch per transaction, until none is left.
/// Returns how many were checked.
pub async fn check_due(store: &Store) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        let mut tx = store.begin().await?;
        let ids = index::due(&mut tx, BATCH).await?;
        if ids.is_empty() {
            return Ok(total);
        }
        check(&mut tx, &ids).await?;
        // Ids no longer active were forgotten, the rest checked: none is due any more.
        index::checked(&mut tx, &ids).await?;
        store.commit(tx).await?;
        total += ids.len();
    }
}
