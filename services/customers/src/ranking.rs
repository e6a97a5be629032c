//! Re-rankings of every rank (RecomputeValueTiers, the full value sweep). Storing every rank that
//! moved in one statement rewrote 999,635 parties in 13.6 s at a million customers on
//! PostgreSQL, holding each of them meanwhile (the order consumer, UpdateParty and merges
//! waited). Instead, one statement that locks no party stages the moves of one ranking of the
//! whole base (and keeps its pyramid); then the moves are stored and their tier changes announced
//! a range of parties per transaction, by the call while it may wait and by the job
//! ([`run_pending`]) after. The staging is a step of its own (8.9 s at a million on PostgreSQL):
//! the call takes its steps in a task of its own and answers at its wait, and a caller's
//! deadline that ends the call leaves the staging to go on.
//!
//! A page holds the ranking's row before it writes and goes on only if the ranking is still where
//! the page read it, so two replicas or a restart store and announce each move once. The
//! sweeper's re-ranking of tier moves holds the same row and waits while a ranking is under way
//! (its tiers would be overwritten by the staged moves), and a ranking's end marks the tiers for
//! it, so the changes of value since the staging are ranked right after.

use std::time::Duration;

use crm_platform::clock::Clock;
use crm_storage::Db;

use crate::domain::pyramid;
use crate::storage::rankings::{self, Ranking};
use crate::storage::{new_id, parties, settings};

/// Staged moves stored per transaction.
const MOVES_PER_PAGE: i64 = 2_000;

/// Starts a re-ranking of every rank by `actor`, unless one is under way. The ranking, started
/// now or the one under way. Its staging is its first step ([`next_page`]).
pub async fn start(db: &Db, actor: &str, now: i64) -> anyhow::Result<Ranking> {
    let mut tx = db.begin().await?;
    rankings::claim(&mut tx, &new_id(), actor, now).await?;
    let ranking = rankings::latest(&mut tx)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the re-ranking just claimed is gone"))?;
    tx.commit().await?;
    Ok(ranking)
}

/// Takes the next step of the ranking under way: the staging of its moves (one ranking of the
/// whole base, and its pyramid), then a page of them stored. True while it is still under way
/// afterwards; false once it ended (now or before) or when there is none.
pub async fn next_page(db: &Db, clock: &dyn Clock) -> anyhow::Result<bool> {
    let mut tx = db.begin().await?;
    let Some(ranking) = rankings::latest(&mut tx).await?.filter(Ranking::under_way) else {
        return Ok(false);
    };
    let now = clock.now_micros();
    if !ranking.staged() {
        // Another replica may have staged it meanwhile: then the next step reads it again.
        if rankings::take_staging(&mut tx, &ranking.run_id).await? {
            let tiers = settings::value_tiers(&mut tx).await?;
            let ranked = parties::ranked_count(&mut tx).await?;
            let to_move = parties::stage_moves(&mut tx, &pyramid::cumulative_shares(&tiers)).await?;
            crate::value::store_pyramid(&mut tx, &tiers, now).await?;
            rankings::set_staged(&mut tx, &ranking.run_id, ranked, to_move, now).await?;
            tx.commit().await?;
        }
        return Ok(true);
    }
    if !rankings::hold(&mut tx, &ranking).await? {
        // Another replica stored this page meanwhile, or the ranking ended: read it again.
        return Ok(true);
    }
    let page = rankings::moves_after(&mut tx, &ranking.after, MOVES_PER_PAGE).await?;
    let last = (page.len() as i64) < MOVES_PER_PAGE;
    let to = page.last().map_or(ranking.after.as_str(), String::as_str);
    let tier_changes = if page.is_empty() {
        0
    } else {
        parties::store_staged_moves(&mut tx, &ranking.after, to).await?;
        let (actor, run) = (&ranking.started_by, &ranking.run_id);
        crate::value::announce_tier_moves(&mut tx, actor, now, run, &ranking.after, Some(to)).await?
    };
    if last {
        // Values that changed since the staging are ranked by the sweeper's next re-ranking.
        settings::mark_tiers_dirty(&mut tx).await?;
        rankings::clear_moves(&mut tx).await?;
    }
    let moved = page.len() as i64;
    rankings::advance(&mut tx, &ranking, to, moved, tier_changes, last.then_some(now)).await?;
    tx.commit().await?;
    Ok(!last)
}

/// Takes the ranking's steps until it ends or `wait` has passed (a step under way then is
/// finished).
pub async fn go_through(db: &Db, clock: &dyn Clock, wait: Duration) -> anyhow::Result<()> {
    let until = tokio::time::Instant::now() + wait;
    while tokio::time::Instant::now() < until && next_page(db, clock).await? {}
    Ok(())
}

/// Takes the ranking's steps until it ends.
pub async fn finish(db: &Db, clock: &dyn Clock) -> anyhow::Result<()> {
    while next_page(db, clock).await? {}
    Ok(())
}

/// Whether a ranking is under way.
pub async fn under_way(db: &Db) -> anyhow::Result<bool> {
    let mut conn = db.pool().acquire().await?;
    Ok(rankings::latest(&mut conn).await?.is_some_and(|r| r.under_way()))
}

/// The job: takes the ranking under way once the call that started it stopped waiting for it
/// (started before `waited_since`, µs) and stores it to its end. True when it took one.
pub async fn run_pending(db: &Db, clock: &dyn Clock, waited_since: i64) -> anyhow::Result<bool> {
    let pending = {
        let mut conn = db.pool().acquire().await?;
        rankings::latest(&mut conn)
            .await?
            .filter(|r| r.under_way() && r.started_at <= waited_since)
    };
    let Some(ranking) = pending else {
        return Ok(false);
    };
    finish(db, clock).await?;
    tracing::info!(run = %ranking.run_id, started_by = %ranking.started_by, "re-ranking of every rank stored");
    Ok(true)
}
