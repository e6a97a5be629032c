//! Duplicate checking against the index. A party written on its own (created, updated, merged
//! into) is checked in the transaction that writes it; parties written in bulk (imports) are
//! marked due and checked by a job, a batch at a time. Finding duplicates then reads the
//! links the checks kept instead of comparing the whole base.

use std::sync::Arc;

use crm_platform::Store;
use crm_platform::bulk::BulkActivity;
use crm_proto::customers::v1::{ContactPointKind, Party};
use crm_storage::Conn;
use tokio::sync::Mutex;

use crate::domain::duplicates::{self as rules, Candidate, Link, MAX_BLOCK, MIN_STORED_SIMILARITY, Reason};
use crate::storage::duplicates as index;

/// Parties the job takes per batch (a transaction in each pass).
pub const BATCH: i64 = 250;

/// Holders compared on the calling task at most (some microseconds of work); more are compared
/// on a blocking thread.
const INLINE_COMPARISONS: usize = 64;

/// Batches between two looks at whether the index's statistics need refreshing.
const BATCHES_PER_STATISTICS: usize = 10;

/// Checks `ids` (in the caller's transaction): rewrites their blocking keys and their links to
/// the parties sharing a key, an email or a phone with them. Ids no longer active (merged,
/// erased) leave the index.
pub async fn check(conn: &mut Conn, ids: &[String]) -> anyhow::Result<()> {
    let parties = active(conn, ids).await?;
    let keys = write_keys(conn, &parties, Written::Before).await?;
    let checked: Vec<String> = parties.iter().map(|p| p.id.clone()).collect();
    let (links, giant) = find_links(conn, parties, keys).await?;
    index::checked(conn, &checked).await?;
    write_links(conn, &links, &giant).await
}

/// Checks a party created in the caller's transaction, as it was written: it has no keys, links
/// or due mark yet to replace, so none is read or deleted.
pub async fn check_new(conn: &mut Conn, party: &Party) -> anyhow::Result<()> {
    let mut candidate = Candidate {
        id: party.id.clone(),
        name: party.display_name.clone(),
        emails: Vec::new(),
        phones: Vec::new(),
    };
    for cp in party.contact_points.iter().filter(|cp| !cp.normalized.is_empty()) {
        let values = match ContactPointKind::try_from(cp.kind) {
            Ok(ContactPointKind::Email) => &mut candidate.emails,
            Ok(ContactPointKind::Phone) => &mut candidate.phones,
            _ => continue,
        };
        if !values.contains(&cp.normalized) {
            values.push(cp.normalized.clone());
        }
    }
    let parties = vec![candidate];
    let keys = write_keys(conn, &parties, Written::Now).await?;
    let (links, giant) = find_links(conn, parties, keys).await?;
    write_links(conn, &links, &giant).await
}

/// Whether the checked parties may already be in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    /// Created (in this transaction, or by an import and not written since): none of their keys
    /// or links is indexed yet (a link another check found to them is found again, unchanged).
    Now,
    /// Written before: their keys and links are replaced.
    Before,
}

/// The parties among `ids` still active, as duplicate detection sees them; the rest leave the
/// index.
async fn active(conn: &mut Conn, ids: &[String]) -> anyhow::Result<Vec<Candidate>> {
    let parties = index::candidates(conn, ids).await?;
    let gone: Vec<String> = ids
        .iter()
        .filter(|id| !parties.iter().any(|p| &p.id == *id))
        .cloned()
        .collect();
    if !gone.is_empty() {
        index::forget(conn, &gone).await?;
    }
    Ok(parties)
}

/// Indexes the blocking keys of `parties` (replacing those they had and dropping their links,
/// when written before); the keys.
async fn write_keys(
    conn: &mut Conn,
    parties: &[Candidate],
    written: Written,
) -> anyhow::Result<Vec<index::PartyKeys>> {
    let keys = keys_of(parties);
    if written == Written::Before {
        let ids: Vec<String> = parties.iter().map(|p| p.id.clone()).collect();
        index::forget_keys(conn, &keys).await?;
        index::forget_links(conn, &ids).await?;
    }
    index::insert_keys(conn, &keys).await?;
    Ok(keys)
}

/// Each party's normalized name and blocking keys.
fn keys_of(parties: &[Candidate]) -> Vec<index::PartyKeys> {
    parties
        .iter()
        .map(|p| {
            (
                p.id.clone(),
                rules::normalize_name(&p.name),
                rules::blocking_keys(&p.name),
            )
        })
        .collect()
}

/// The links of `parties` (whose keys are `keys`) to the parties sharing a blocking key, an
/// email or a phone with them, as the index holds them now; and the keys found to be held by too
/// many parties to compare through. Reads only.
async fn find_links(
    conn: &mut Conn,
    parties: Vec<Candidate>,
    keys: Vec<index::PartyKeys>,
) -> anyhow::Result<(Vec<Link>, Vec<String>)> {
    if parties.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let all = |values: fn(&Candidate) -> &Vec<String>| -> Vec<String> {
        parties.iter().flat_map(|p| values(p).iter().cloned()).collect()
    };
    let all_keys: Vec<String> = keys.iter().flat_map(|(_, _, k)| k.iter().cloned()).collect();
    let (by_key, giant) = index::key_holders(conn, &all_keys, MAX_BLOCK).await?;
    let by_email =
        index::contact_holders(conn, ContactPointKind::Email, &all(|c| &c.emails), MAX_BLOCK).await?;
    let by_phone =
        index::contact_holders(conn, ContactPointKind::Phone, &all(|c| &c.phones), MAX_BLOCK).await?;
    let comparisons: usize = by_key.values().map(Vec::len).sum::<usize>()
        + by_email.values().map(Vec::len).sum::<usize>()
        + by_phone.values().map(Vec::len).sum::<usize>();
    let score = move || {
        let mut links = Vec::new();
        for (party, (id, name, keys)) in parties.iter().zip(&keys) {
            for (values, holders, reason) in [
                (&party.emails, &by_email, Reason::SameEmail),
                (&party.phones, &by_phone, Reason::SamePhone),
            ] {
                for others in values.iter().filter_map(|v| holders.get(v)) {
                    links.extend(
                        others
                            .iter()
                            .filter_map(|o| rules::shared_contact_link(id, o, reason)),
                    );
                }
            }
            let named: Vec<Link> = keys
                .iter()
                .filter_map(|k| by_key.get(k))
                .flatten()
                .filter_map(|(other, other_name)| {
                    rules::name_link(id, name, other, other_name, MIN_STORED_SIMILARITY)
                })
                .collect();
            links.extend(rules::strongest_name_links(named));
        }
        // A pair found through several keys, or from both its ends, is one link per reason.
        links.sort_by(|x: &Link, y: &Link| (&x.a, &x.b, x.reason).cmp(&(&y.a, &y.b, y.reason)));
        links.dedup_by(|x, y| (&x.a, &x.b, x.reason) == (&y.a, &y.b, y.reason));
        links
    };
    // Up to a few thousand name comparisons per party go off the async runtime; the few of a
    // usual creation cost less than the hand-off to a blocking thread and back.
    let links = if comparisons <= INLINE_COMPARISONS {
        score()
    } else {
        tokio::task::spawn_blocking(score).await?
    };
    Ok((links, giant))
}

/// Keeps `links` and marks the `giant` keys (their name links among their holders go).
async fn write_links(conn: &mut Conn, links: &[Link], giant: &[String]) -> anyhow::Result<()> {
    for key in giant {
        index::mark_giant(conn, key).await?;
    }
    index::insert_links(conn, links).await?;
    Ok(())
}

/// Checks the parties due (written in bulk) until none is left or an import is under way (see
/// [`BulkActivity`]), in two passes over them, each a batch at a time (as many batches at once
/// as the database writes in parallel). Returns how many were checked.
///
/// The first pass indexes every due party's blocking keys, the second finds and keeps their
/// links: each block is then compared at its full size, so a name too common to compare through
/// is known as such before any link is made through it. (Checked in one pass, in id order, an
/// import linked each common name's first holders, up to a block's worth, then dropped those
/// links when the block outgrew it: five links made and deleted for each kept, at 200,000
/// parties.) And with every key in place before links are read, batches checked at once find
/// each other's parties.
pub async fn check_due(store: &Store, bulk: &Arc<BulkActivity>) -> anyhow::Result<usize> {
    match run_pass(store, bulk, Pass::Keys).await? {
        Some(_) => Ok(run_pass(store, bulk, Pass::Links).await?.unwrap_or(0)),
        None => Ok(0),
    }
}

/// A pass of the job over the parties due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Their blocking keys (and, imported, their names for search) are indexed.
    Keys,
    /// Their links are found and kept, and they are due no more.
    Links,
}

/// Runs `pass` over the parties due; how many it took, or None when an import stopped it.
async fn run_pass(store: &Store, bulk: &Arc<BulkActivity>, pass: Pass) -> anyhow::Result<Option<usize>> {
    // Parties marked behind the cursor while the job runs are taken by its next run.
    let cursor = Arc::new(Mutex::new(Cursor::default()));
    // Each worker a task of its own, so that reading rows and building statements take both
    // cores too; dropping the set (the job stopped, a worker failed) stops the others.
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..store.db().bulk_write_concurrency() {
        let (store, bulk, cursor) = (store.clone(), bulk.clone(), cursor.clone());
        workers.spawn(async move { run_batches(&store, &bulk, &cursor, pass).await });
    }
    let mut total = 0;
    while let Some(taken) = workers.join_next().await {
        total += taken??;
    }
    Ok((!cursor.lock().await.interrupted).then_some(total))
}

/// Where the workers of a pass are in the parties due.
#[derive(Debug, Default)]
struct Cursor {
    /// The last party id taken.
    after: String,
    /// Batches taken.
    batches: usize,
    /// Whether a worker stopped for an import.
    interrupted: bool,
}

/// Takes the next batch due and runs `pass` over it until none is left or an import is under
/// way; how many parties this worker took.
async fn run_batches(
    store: &Store,
    bulk: &BulkActivity,
    cursor: &Mutex<Cursor>,
    pass: Pass,
) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        // Imported orders still waiting for their customers' figures are part of the import.
        let settling = crate::storage::orders::oldest_deferred(&mut *store.conn().await?)
            .await?
            .is_some();
        if bulk.should_wait(settling) {
            cursor.lock().await.interrupted = true;
            return Ok(total);
        }
        let (due, batch) = {
            let mut cursor = cursor.lock().await;
            let due = index::due(&mut *store.conn().await?, &cursor.after, BATCH).await?;
            let Some((last, _)) = due.last() else {
                return Ok(total);
            };
            cursor.after = last.clone();
            cursor.batches += 1;
            (due, cursor.batches)
        };
        let (fresh, written): (Vec<_>, Vec<_>) = due.into_iter().partition(|(_, fresh)| *fresh);
        let fresh: Vec<String> = fresh.into_iter().map(|(id, _)| id).collect();
        let written: Vec<String> = written.into_iter().map(|(id, _)| id).collect();
        total += fresh.len() + written.len();
        let analyze = batch % BATCHES_PER_STATISTICS == 1;
        match pass {
            Pass::Keys => index_batch(store, &fresh, &written, analyze).await?,
            Pass::Links => link_batch(store, fresh.into_iter().chain(written).collect(), analyze).await?,
        }
    }
}

/// Indexes the blocking keys of a batch of parties due, `fresh` from an import or `written`
/// since. A crash before the links are kept leaves them due, to be indexed again, so the commit
/// need not wait for the disk.
async fn index_batch(
    store: &Store,
    fresh: &[String],
    written: &[String],
    analyze: bool,
) -> anyhow::Result<()> {
    let mut tx = store.db().begin_unflushed().await?;
    let fresh = active(&mut tx, fresh).await?;
    // Imported and not written since: the import left their names out of the search index too
    // (a bulk write's index rows cost it a third of its speed at a million parties).
    let names: Vec<(String, String)> = fresh
        .iter()
        .map(|p| (p.id.clone(), crate::domain::party::name_key_of(&p.name)))
        .collect();
    let names: Vec<(&str, &str)> = names
        .iter()
        .map(|(id, key)| (id.as_str(), key.as_str()))
        .collect();
    crate::storage::name_search::index(&mut tx, &names).await?;
    write_keys(&mut tx, &fresh, Written::Now).await?;
    let written = active(&mut tx, written).await?;
    write_keys(&mut tx, &written, Written::Before).await?;
    if analyze {
        refresh_statistics(&mut tx).await?;
    }
    store.commit(tx).await?;
    Ok(())
}

/// Finds and keeps the links of a batch of parties due, whose keys are indexed: read and
/// compared without holding a write lock, then kept with the due marks cleared in one
/// transaction.
async fn link_batch(store: &Store, ids: Vec<String>, analyze: bool) -> anyhow::Result<()> {
    let mut conn = store.conn().await?;
    let parties = index::candidates(&mut conn, &ids).await?;
    let keys = keys_of(&parties);
    let (links, giant) = find_links(&mut conn, parties, keys).await?;
    drop(conn);
    let mut tx = store.begin().await?;
    write_links(&mut tx, &links, &giant).await?;
    // Ids no longer active were forgotten when their keys were indexed (or by what ended
    // them), the rest checked: none is due any more.
    index::checked(&mut tx, &ids).await?;
    if analyze {
        refresh_statistics(&mut tx).await?;
    }
    store.commit(tx).await?;
    Ok(())
}

/// The index grows by a base's worth after an import: its statistics keep up with it.
async fn refresh_statistics(conn: &mut Conn) -> anyhow::Result<()> {
    for table in ["party_name_keys", "duplicate_links", "party_search_grams"] {
        crm_storage::statistics::analyze_if_grown(conn, table).await?;
    }
    Ok(())
}
