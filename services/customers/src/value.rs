//! Value figures, tiers and lifecycle kept current from sales order events, by the event
//! consumer and a periodic sweep (trailing revenue decays and silence makes customers lost even
//! when no event arrives).

use std::collections::HashMap;
use std::time::Duration;

use crm_events::permissions::Reading;
use crm_events::{CloudEvent, ConsumerOptions, EventHandler, NewEvent, outbox};
use crm_platform::clock::Clock;
use crm_proto::customers::v1::events as ev;
use crm_proto::customers::v1::{self as pb, LifecycleStage, PartyStatus};
use crm_proto::marketing::v1::events as marketing_events;
use crm_proto::sales::v1 as sales;
use crm_proto::sales::v1::events as sales_events;
use crm_storage::{Db, Tx};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::domain::contribution::CaseCosts;
use crate::domain::lifecycle::{self, LifecycleRules};
use crate::domain::pyramid;
use crate::events;
use crate::storage::{audit, micros_of, now_micros, orders, parties, settings};

/// Parties refreshed per transaction by the full sweep.
const SWEEP_BATCH: usize = 100;

/// Parties refreshed per transaction when the parties an import named are refreshed once it
/// has gone quiet.
const DEFERRED_BATCH: i64 = 500;

/// Parties refreshed per transaction while imports go on: the order consumer waits for the
/// parties such a transaction holds, so it is kept short.
const DEFERRED_BATCH_DURING_IMPORTS: i64 = 100;

/// How long imported orders must have stopped arriving before the parties they named are
/// refreshed: an import names most customers again and again, and each refresh is audited and
/// announced.
const IMPORT_SETTLE: Duration = Duration::from_secs(3);

/// The longest a party named by imported orders waits for its refresh while imports go on.
const IMPORT_MAX_WAIT: Duration = Duration::from_secs(600);

/// How often the sweeper looks for parties whose deferred refresh is due.
const DEFERRED_TICK: Duration = Duration::from_secs(1);

/// Imported orders seen by this process: when they last arrived, and whether parties they named
/// may still wait for their refresh.
#[derive(Debug)]
pub struct ImportActivity {
    /// Microseconds since the epoch (0: never).
    last: std::sync::atomic::AtomicI64,
    /// Set when orders arrive; cleared by the sweeper before it refreshes. Set at start, as
    /// parties may have been left waiting by the process before.
    pending: std::sync::atomic::AtomicBool,
}

impl Default for ImportActivity {
    fn default() -> Self {
        Self {
            last: std::sync::atomic::AtomicI64::new(0),
            pending: std::sync::atomic::AtomicBool::new(true),
        }
    }
}

impl ImportActivity {
    fn touch(&self, now: i64) {
        self.last.store(now, std::sync::atomic::Ordering::Relaxed);
        self.set_pending();
    }

    fn quiet_at(&self, now: i64) -> bool {
        let last = self.last.load(std::sync::atomic::Ordering::Relaxed);
        now.saturating_sub(last) >= micros(IMPORT_SETTLE)
    }

    /// Whether parties may be waiting; clears the flag (orders arriving later set it again).
    fn take_pending(&self) -> bool {
        self.pending.swap(false, std::sync::atomic::Ordering::AcqRel)
    }

    /// Notes that parties may still be waiting.
    fn set_pending(&self) {
        self.pending.store(true, std::sync::atomic::Ordering::Release);
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The actor recorded in the audit trail for changes made from sales events.
pub const SYSTEM_ACTOR: &str = "system:value";

/// The durable consumer `customers-sales-orders`, reading the sales stream.
pub const ORDER_EVENTS: Reading = Reading {
    durable: "customers-sales-orders",
    domain: "sales",
};

/// The durable consumer of sales order events.
pub fn order_consumer_options() -> ConsumerOptions {
    ConsumerOptions::reading(ORDER_EVENTS).subjects(&[
        sales_events::ORDER_PLACED.subject,
        sales_events::ORDER_FULFILLED.subject,
        sales_events::ORDER_CANCELLED.subject,
        sales_events::ORDER_RETURNED.subject,
        sales_events::ORDERS_IMPORTED.subject,
    ])
}

/// Applies order events: the ledger, then the party's value and lifecycle.
#[derive(Debug, Clone)]
pub struct OrderEvents {
    /// Currency of value figures.
    pub currency: String,
    /// Lifecycle settings.
    pub rules: LifecycleRules,
    /// The window value is ranked over (µs).
    pub window_micros: i64,
    /// The cost of a service case by priority (empty: unknown).
    pub case_costs: CaseCosts,
    /// When imported orders last arrived (shared with the sweeper, which refreshes the parties
    /// they named once they stop).
    pub imports: std::sync::Arc<ImportActivity>,
    /// The time figures are computed at.
    pub clock: std::sync::Arc<dyn crm_platform::clock::Clock>,
    /// Bulk writes into this service, which the duplicate check waits for: imported orders
    /// arriving count, as their import keeps the machine busy.
    pub bulk: std::sync::Arc<crm_platform::bulk::BulkActivity>,
}

impl EventHandler for OrderEvents {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        use sales::OrderStatus as Status;
        let (order, status) = match event.event_type.as_str() {
            sales_events::types::ORDER_PLACED => {
                (event.decode::<sales::OrderPlaced>()?.order, Status::Placed)
            }
            sales_events::types::ORDER_FULFILLED => {
                (event.decode::<sales::OrderFulfilled>()?.order, Status::Fulfilled)
            }
            sales_events::types::ORDER_CANCELLED => {
                (event.decode::<sales::OrderCancelled>()?.order, Status::Cancelled)
            }
            sales_events::types::ORDER_RETURNED => {
                (event.decode::<sales::OrderReturned>()?.order, Status::Returned)
            }
            sales_events::types::ORDERS_IMPORTED => {
                // When an import goes quiet is a matter of elapsed time, not of business time.
                let now = crm_platform::time::now_micros();
                let orders = event.decode::<sales::OrdersImported>()?.orders;
                record_orders(tx, &orders, Refresh::Deferred(now)).await?;
                self.imports.touch(now);
                self.bulk.touch();
                // A bulk load outruns the database's own statistics; without them the ledger
                // is scanned for every refresh.
                crm_storage::statistics::analyze_if_grown(tx, "party_orders").await?;
                crm_storage::statistics::analyze_if_grown(tx, "value_refresh_due").await?;
                return Ok(());
            }
            other => {
                tracing::debug!(event_type = other, "ignored");
                return Ok(());
            }
        };
        let mut order = order.ok_or_else(|| anyhow::anyhow!("{} without an order", event.event_type))?;
        order.status = status as i32;
        record_orders(tx, std::slice::from_ref(&order), Refresh::AtBatchEnd).await
    }

    async fn finish(&self, tx: &mut Tx) -> anyhow::Result<()> {
        self.refresh_marked(tx).await
    }
}

impl OrderEvents {
    /// Refreshes the parties the batch's events noted (their rows were locked when noted) and
    /// marks the tiers for re-ranking: the end of a batch of order or case events.
    pub async fn refresh_marked(&self, tx: &mut Tx) -> anyhow::Result<()> {
        let ids = orders::take_marked_for_refresh(tx).await?;
        if ids.is_empty() {
            return Ok(());
        }
        refresh_parties(tx, &ids, &self.valuation(), self.clock.now_micros()).await?;
        settings::mark_tiers_dirty(tx).await?;
        Ok(())
    }

    /// How values are figured.
    pub fn valuation(&self) -> Valuation<'_> {
        Valuation {
            currency: &self.currency,
            rules: &self.rules,
            window_micros: self.window_micros,
            case_costs: &self.case_costs,
        }
    }
}

/// How a party's value is figured: the currency added up, the lifecycle rules, the value window
/// and the cost to serve.
#[derive(Debug, Clone, Copy)]
pub struct Valuation<'a> {
    /// Currency of the figures.
    pub currency: &'a str,
    /// Lifecycle settings.
    pub rules: &'a LifecycleRules,
    /// The window contribution is ranked over (µs).
    pub window_micros: i64,
    /// The cost of a service case by priority.
    pub case_costs: &'a CaseCosts,
}

/// When the figures of parties whose ledger changed are refreshed.
enum Refresh {
    /// When the batch of events ends (see `finish`): a live order shows at once.
    AtBatchEnd,
    /// Once imports go quiet (see [`refresh_deferred`]); the time is now.
    Deferred(i64),
}

/// Records orders (each in the status it reached) in the ledger of their live parties and notes
/// those parties for a refresh.
async fn record_orders(tx: &mut Tx, orders: &[sales::Order], refresh: Refresh) -> anyhow::Result<()> {
    let asked: Vec<String> = orders.iter().map(|o| o.party_id.clone()).collect();
    let live = live_party_ids(tx, &asked).await?;
    let mut rows = Vec::with_capacity(orders.len());
    for order in orders {
        // Orders of a merged party belong to its survivor; an erased party keeps no figures.
        let Some(party_id) = live.get(&order.party_id) else {
            tracing::info!(party = %order.party_id, order = %order.id, "order for an unknown or erased party ignored");
            continue;
        };
        let total = order.total.clone().unwrap_or_default();
        // The cost of the goods, when sales knows it in the order's currency.
        let cost_minor = order
            .cost
            .as_ref()
            .filter(|c| c.currency_code == total.currency_code)
            .map_or(0, |c| c.amount_minor);
        rows.push(orders::LedgerEntry {
            cost_minor,
            order_id: order.id.clone(),
            party_id: party_id.clone(),
            placed_at: order
                .place_time
                .as_ref()
                .map(micros_of)
                .unwrap_or_else(now_micros),
            amount_minor: total.amount_minor,
            currency_code: total.currency_code,
            status: sales::OrderStatus::name_of(order.status),
        });
    }
    orders::record(tx, &rows).await?;
    let mut touched: Vec<String> = rows.into_iter().map(|r| r.party_id).collect();
    touched.sort();
    touched.dedup();
    match refresh {
        Refresh::AtBatchEnd => orders::mark_for_refresh(tx, &touched).await?,
        Refresh::Deferred(now) => orders::defer_refresh(tx, &touched, now).await?,
    }
    Ok(())
}

/// The live party of each of `ids`, following merge redirects, their rows locked for the
/// transaction (reads no more of a party than its status). Unknown and erased ones are absent.
pub(crate) async fn live_party_ids(tx: &mut Tx, ids: &[String]) -> sqlx::Result<HashMap<String, String>> {
    let mut live = HashMap::new();
    // (asked, current) pairs still being followed.
    let mut following: Vec<(String, String)> = ids.iter().map(|id| (id.clone(), id.clone())).collect();
    following.sort();
    following.dedup();
    for _ in 0..8 {
        if following.is_empty() {
            break;
        }
        let current: Vec<String> = following.iter().map(|(_, c)| c.clone()).collect();
        let statuses = parties::lock_statuses(tx, &current).await?;
        let mut next = Vec::new();
        for (asked, id) in following {
            match statuses.get(&id).map(|(s, m)| (PartyStatus::try_from(*s), m)) {
                Some((Ok(PartyStatus::Active), _)) => {
                    live.insert(asked, id);
                }
                Some((Ok(PartyStatus::Merged), merged_into)) if !merged_into.is_empty() => {
                    next.push((asked, merged_into.clone()));
                }
                _ => {}
            }
        }
        following = next;
    }
    Ok(live)
}

/// The live party for `id`, following merge redirects, its row locked for the transaction.
async fn live_party(tx: &mut Tx, id: &str) -> sqlx::Result<Option<pb::Party>> {
    let mut id = id.to_string();
    for _ in 0..8 {
        parties::lock(tx, &id).await?;
        let Some(party) = parties::get(tx, &id).await? else {
            return Ok(None);
        };
        match PartyStatus::try_from(party.status) {
            Ok(PartyStatus::Merged) if !party.merged_into_id.is_empty() => id = party.merged_into_id,
            Ok(PartyStatus::Active) => return Ok(Some(party)),
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// Recomputes the revenue and stage of the active parties among `ids` from their orders (one
/// aggregate query for all of them); writes and announces what changed with multi-row
/// statements. The caller holds their rows locked.
pub async fn refresh_parties(
    tx: &mut Tx,
    ids: &[String],
    valuation: &Valuation<'_>,
    now: i64,
) -> anyhow::Result<()> {
    let (currency, rules) = (valuation.currency, valuation.rules);
    let active: Vec<pb::Party> = parties::load_figures(tx, ids)
        .await?
        .into_iter()
        .filter(|p| p.status == PartyStatus::Active as i32)
        .collect();
    let active_ids: Vec<String> = active.iter().map(|p| p.id.clone()).collect();
    let window_start = now.saturating_sub(valuation.window_micros);
    let ledgers = orders::figures(tx, &active_ids, currency, now, window_start, valuation.case_costs).await?;
    let mut values = Vec::new();
    let mut stages = Vec::new();
    let mut entries = Vec::new();
    let mut announcements = Vec::new();
    for party in active {
        let ledger = ledgers.get(&party.id).copied().unwrap_or_default();
        let (summary, lifetime_business, window_business) = (ledger.summary, ledger.lifetime, ledger.window);
        let figures = parties::ValueFigures {
            lifetime_revenue: summary.lifetime_minor,
            trailing_12m_revenue: summary.trailing_minor,
            window_revenue: window_business.revenue,
            window_contribution: window_business.contribution(),
            lifetime_contribution: lifetime_business.contribution(),
            window_cost_to_serve: window_business.cost_to_serve,
        };
        let mut value = party.value.clone().unwrap_or_default();
        let amount =
            |m: &Option<crm_proto::common::v1::Money>| m.as_ref().map(|m| m.amount_minor).unwrap_or_default();
        let stored = parties::ValueFigures {
            lifetime_revenue: amount(&value.lifetime_revenue),
            trailing_12m_revenue: amount(&value.trailing_12m_revenue),
            window_revenue: amount(&value.window_revenue),
            window_contribution: amount(&value.window_contribution),
            lifetime_contribution: amount(&value.lifetime_contribution),
            window_cost_to_serve: amount(&value.window_cost_to_serve),
        };
        if stored != figures {
            values.push((party.id.clone(), figures));
            for (money, amount) in [
                (&mut value.lifetime_revenue, figures.lifetime_revenue),
                (&mut value.trailing_12m_revenue, figures.trailing_12m_revenue),
                (&mut value.window_contribution, figures.window_contribution),
                (&mut value.lifetime_contribution, figures.lifetime_contribution),
                (&mut value.window_cost_to_serve, figures.window_cost_to_serve),
                (&mut value.window_revenue, figures.window_revenue),
            ] {
                let money = money.get_or_insert_with(Default::default);
                money.amount_minor = amount;
                if money.currency_code.is_empty() {
                    money.currency_code = currency.to_string();
                }
            }
            entries.push((
                party.id.clone(),
                "value_set".to_string(),
                json!({
                    "lifetime_revenue_minor": figures.lifetime_revenue,
                    "trailing_12m_revenue_minor": figures.trailing_12m_revenue,
                    "window_contribution_minor": figures.window_contribution,
                    "lifetime_contribution_minor": figures.lifetime_contribution,
                    "window_cost_to_serve_minor": figures.window_cost_to_serve,
                }),
            ));
            let changed = pb::PartyValueChanged {
                party_id: party.id.clone(),
                value: Some(value),
            };
            announcements.push(NewEvent::of(ev::PARTY_VALUE_CHANGED, party.id.clone(), &changed));
        }
        let current = LifecycleStage::try_from(party.lifecycle_stage).unwrap_or(LifecycleStage::Prospect);
        let next = lifecycle::stage_of(current, &summary, now, rules);
        if next != current {
            stages.push((party.id.clone(), next as i32));
            entries.push((
                party.id.clone(),
                "lifecycle_changed".to_string(),
                json!({"lifecycle_stage": next as i32}),
            ));
            let changed = pb::PartyLifecycleChanged {
                party_id: party.id.clone(),
                previous_stage: current as i32,
                stage: next as i32,
            };
            announcements.push(NewEvent::of(
                ev::PARTY_LIFECYCLE_CHANGED,
                party.id.clone(),
                &changed,
            ));
        }
    }
    parties::set_values(tx, &values, now).await?;
    parties::set_lifecycles(tx, &stages, now).await?;
    audit::record_many(tx, SYSTEM_ACTOR, "party", &entries, now).await?;
    outbox::enqueue_many(tx, announcements).await?;
    Ok(())
}

/// Re-ranks every party by its contribution over the value window and assigns tiers, in SQL (one
/// pass over the active parties), storing the tiers that move, each with its party's new rank.
/// The ranks that merely shifted are left to the next re-ranking of every rank
/// ([`crate::ranking`]): a customer whose contribution grows passes everyone between their old
/// and new rank, so after a few minutes of orders at a million customers nearly every rank moved
/// (1,000 customers buying more moved 999,944 ranks, while 300 changed tier). Then announces the
/// tier moves. Returns how many.
pub async fn recompute_tiers(tx: &mut Tx, actor: &str, now: i64) -> anyhow::Result<i64> {
    let tiers = settings::value_tiers(tx).await?;
    parties::rerank_tier_moves(tx, &pyramid::cumulative_shares(&tiers)).await?;
    store_pyramid(tx, &tiers, now).await?;
    announce_tier_moves(tx, actor, now, &crate::storage::new_id(), "", None).await
}

/// Announces the tier moves not yet announced of the parties after `after` (up to `upto`, when
/// given), a page at a time so that memory stays bounded when most customers move: audited, kept
/// in the tier history and published under `run`, as one re-ranking is one decision about many
/// parties. Returns how many.
pub async fn announce_tier_moves(
    tx: &mut Tx,
    actor: &str,
    now: i64,
    run: &str,
    after: &str,
    upto: Option<&str>,
) -> anyhow::Result<i64> {
    let mut announced = 0i64;
    let mut after = after.to_string();
    loop {
        let page =
            parties::unannounced_tiers(tx, &after, upto, outbox::RECORDS_PER_BATCH_EVENT as i64).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.party_id.clone();
        let entries: Vec<(String, String, serde_json::Value)> = page
            .iter()
            .map(|c| {
                let changes = json!({"tier": c.tier, "contribution_rank": c.rank});
                (c.party_id.clone(), "tier_changed".to_string(), changes)
            })
            .collect();
        audit::record_many(tx, actor, "party", &entries, now).await?;
        let history: Vec<(String, String)> = page
            .iter()
            .map(|c| (c.party_id.clone(), c.tier.clone()))
            .collect();
        crate::storage::analysis::record_tiers(tx, &history, now).await?;
        let ids: Vec<String> = page.iter().map(|c| c.party_id.clone()).collect();
        let moves = page.into_iter().map(|c| pb::PartyTierChanged {
            party_id: c.party_id,
            previous_tier: c.previous,
            tier: c.tier,
            contribution_rank: c.rank,
        });
        let events = outbox::batch_events(ev::PARTIES_TIER_CHANGED, run, moves, |changes| {
            pb::PartiesTierChanged { changes }
        });
        outbox::enqueue_many(tx, events).await?;
        parties::mark_tiers_announced(tx, &ids).await?;
        announced += i64::try_from(ids.len()).unwrap_or(i64::MAX);
    }
    Ok(announced)
}

/// Computes the pyramid under `tiers` in SQL and keeps it as the one `GetValuePyramid` reads.
pub async fn store_pyramid(
    conn: &mut crm_storage::Conn,
    tiers: &[pyramid::TierSpec],
    now: i64,
) -> anyhow::Result<settings::PyramidSnapshot> {
    let sums = parties::ranking_totals(conn, &pyramid::cumulative_shares(tiers)).await?;
    let snapshot = settings::PyramidSnapshot {
        tiers: tiers
            .iter()
            .map(|t| (t.name.clone(), t.customer_share_bps))
            .collect(),
        ranked: sums.ranked,
        tier_revenue: sums.tier_revenue,
        top_20_percent_revenue: sums.top_20_percent_revenue,
        tier_contribution: sums.tier_contribution,
        top_20_percent_contribution: sums.top_20_percent_contribution,
        rank_reaching_80_percent: sums.rank_reaching_80_percent,
        at: now,
    };
    settings::set_pyramid_snapshot(conn, &snapshot).await?;
    Ok(snapshot)
}

/// The periodic worker: refreshes the parties imported orders named once the import goes quiet,
/// re-ranks tiers when order events changed values, and refreshes every party with orders once
/// per `full_sweep` (decaying trailing revenue, lost customers).
pub async fn run_sweeper(
    db: Db,
    ledger: OrderEvents,
    interval: Duration,
    full_sweep: Duration,
    relay: std::sync::Arc<tokio::sync::Notify>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    // A flag taken by a run that stopped before re-ranking is not lost: every start re-ranks,
    // at its first tick.
    if let Err(err) = async {
        let mut tx = db.begin().await?;
        settings::mark_tiers_dirty(&mut tx).await?;
        tx.commit().await
    }
    .await
    {
        tracing::warn!("marking tiers for re-ranking failed: {err}");
    }
    let mut last_full = tokio::time::Instant::now();
    let mut next_sweep = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(DEFERRED_TICK.min(interval)) => {}
        }
        match refresh_deferred(&db, &ledger, &stop).await {
            Ok(0) => {}
            // An import's figures are in: re-rank now rather than at the next sweep.
            Ok(_) => {
                relay.notify_one();
                next_sweep = tokio::time::Instant::now();
            }
            Err(err) => tracing::warn!("refreshing the parties of imported orders failed: {err:#}"),
        }
        if tokio::time::Instant::now() < next_sweep {
            continue;
        }
        let full = last_full.elapsed() >= full_sweep;
        let started = tokio::time::Instant::now();
        let swept = sweep(&db, &ledger.valuation(), full, ledger.clock.as_ref()).await;
        // Re-ranking reads every party: on a large base, while orders stream in, it is kept to
        // about a tenth of the time (and of the database's work) by waiting ten times as long as
        // it took. (A full sweep is rare and says nothing about the re-ranking's cost.)
        let pause = if full {
            interval
        } else {
            interval.max(started.elapsed() * 10)
        };
        next_sweep = tokio::time::Instant::now() + pause;
        match swept {
            Ok(()) => {
                relay.notify_one();
                if full {
                    last_full = tokio::time::Instant::now();
                }
            }
            // A failed sweep is retried at the next tick; the flag is set again.
            Err(err) => tracing::warn!("value sweep failed: {err:#}"),
        }
    }
}

/// Refreshes the parties imported orders named: all of them once imports have been quiet for
/// [`IMPORT_SETTLE`], or those that waited [`IMPORT_MAX_WAIT`] while imports go on. Returns how
/// many were refreshed.
async fn refresh_deferred(db: &Db, ledger: &OrderEvents, stop: &CancellationToken) -> anyhow::Result<usize> {
    let now = crm_platform::time::now_micros();
    let noted_by = if ledger.imports.quiet_at(now) {
        // Cleared before reading, so that orders arriving meanwhile set it again.
        if !ledger.imports.take_pending() {
            return Ok(0);
        }
        None
    } else {
        let cutoff = now - micros(IMPORT_MAX_WAIT);
        let mut conn = db.pool().acquire().await?;
        match orders::oldest_deferred(&mut conn).await? {
            Some(oldest) if oldest <= cutoff => Some(cutoff),
            _ => return Ok(0),
        }
    };
    let batch = if noted_by.is_some() {
        DEFERRED_BATCH_DURING_IMPORTS
    } else {
        DEFERRED_BATCH
    };
    let mut after = String::new();
    let mut refreshed = 0;
    let drained = async {
        // Stops early when imports resume: their parties would be refreshed again at their end.
        while !stop.is_cancelled()
            && (noted_by.is_some() || ledger.imports.quiet_at(crm_platform::time::now_micros()))
        {
            let mut tx = db.begin().await?;
            let ids = orders::deferred(&mut tx, &after, noted_by, batch).await?;
            let Some(last) = ids.last().cloned() else {
                return Ok(true);
            };
            // Parties the order consumer holds are left for the next run: waiting for each
            // other, the two formed lock cycles PostgreSQL broke by aborting one of them.
            let (free, missing) = parties::lock_unless_busy(&mut tx, &ids).await?;
            refresh_parties(&mut tx, &free, &ledger.valuation(), ledger.clock.now_micros()).await?;
            orders::clear_deferred(&mut tx, &free).await?;
            orders::clear_deferred(&mut tx, &missing).await?;
            settings::mark_tiers_dirty(&mut tx).await?;
            tx.commit().await?;
            if free.len() + missing.len() < ids.len() {
                ledger.imports.set_pending();
            }
            refreshed += free.len();
            after = last;
        }
        anyhow::Ok(false)
    }
    .await;
    // Not all drained (stopped, imports resumed, or failed): look again at the next tick.
    if noted_by.is_none() && !matches!(drained, Ok(true)) {
        ledger.imports.set_pending();
    }
    drained?;
    Ok(refreshed)
}

async fn sweep(db: &Db, valuation: &Valuation<'_>, full: bool, clock: &dyn Clock) -> anyhow::Result<()> {
    let now = clock.now_micros();
    if full {
        // A batch of customers per transaction, each batch read after the last one's ids.
        let mut after = String::new();
        loop {
            let mut tx = db.begin().await?;
            let chunk = orders::parties_with_orders(&mut tx, &after, SWEEP_BATCH as i64).await?;
            let Some(last) = chunk.last().cloned() else {
                break;
            };
            // A party the order consumer holds is being refreshed by it.
            let (free, _) = parties::lock_unless_busy(&mut tx, &chunk).await?;
            refresh_parties(&mut tx, &free, valuation, now).await?;
            settings::mark_tiers_dirty(&mut tx).await?;
            tx.commit().await?;
            after = last;
        }
        // Every rank, a range of parties per transaction (or the ranking a call left under way).
        crate::ranking::start(db, SYSTEM_ACTOR, now).await?;
        crate::ranking::finish(db, clock).await?;
    }
    // Tier moves stored now would be overwritten by a ranking's staged moves; its end marks the
    // tiers for re-ranking again.
    if crate::ranking::under_way(db).await? {
        return Ok(());
    }
    // The flag is taken in a transaction of its own: order events set it, and holding its row
    // while re-ranking would stall them for as long as the re-ranking takes.
    let mut tx = db.begin().await?;
    let dirty = settings::take_tiers_dirty(&mut tx).await?;
    tx.commit().await?;
    if !dirty {
        return Ok(());
    }
    let ranked: anyhow::Result<()> = async {
        let mut tx = db.begin().await?;
        // A ranking started since: its end marks the tiers again.
        if crate::storage::rankings::hold_unless_under_way(&mut tx).await? {
            recompute_tiers(&mut tx, SYSTEM_ACTOR, now).await?;
            tx.commit().await?;
        }
        Ok(())
    }
    .await;
    if let Err(err) = ranked {
        // Not re-ranked: the next tick tries again.
        let mut tx = db.begin().await?;
        settings::mark_tiers_dirty(&mut tx).await?;
        tx.commit().await?;
        return Err(err);
    }
    Ok(())
}

/// The durable consumer `customers-at-risk`, reading the marketing stream.
pub const AT_RISK_EVENTS: Reading = Reading {
    durable: "customers-at-risk",
    domain: "marketing",
};

/// The durable consumer of marketing's at-risk announcements.
pub fn at_risk_consumer_options() -> ConsumerOptions {
    ConsumerOptions::reading(AT_RISK_EVENTS).subjects(&[marketing_events::CUSTOMER_AT_RISK.subject])
}

/// Moves customers marketing predicts are lapsing to the at-risk stage (customers and loyal
/// customers only: prospects have nothing to lose and lost customers are already gone).
#[derive(Debug, Clone)]
pub struct AtRiskEvents {
    /// When the moves are recorded.
    pub clock: std::sync::Arc<dyn crm_platform::clock::Clock>,
}

impl EventHandler for AtRiskEvents {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        let e: crm_proto::marketing::v1::CustomerAtRisk = event.decode()?;
        let now = self.clock.now_micros();
        let Some(party) = live_party(tx, &e.party_id).await? else {
            return Ok(());
        };
        let current = LifecycleStage::try_from(party.lifecycle_stage).unwrap_or(LifecycleStage::Prospect);
        if !matches!(current, LifecycleStage::Customer | LifecycleStage::Loyal) {
            return Ok(());
        }
        parties::set_lifecycle(tx, &party.id, LifecycleStage::AtRisk as i32, now).await?;
        audit::record(
            tx,
            "system:marketing",
            "party",
            &party.id,
            "lifecycle_changed",
            json!({"lifecycle_stage": LifecycleStage::AtRisk as i32, "probability_alive_bps": e.probability_alive_bps}), now,
        )
        .await?;
        events::publish(
            tx,
            ev::PARTY_LIFECYCLE_CHANGED,
            &party.id,
            &pb::PartyLifecycleChanged {
                party_id: party.id.clone(),
                previous_stage: current as i32,
                stage: LifecycleStage::AtRisk as i32,
            },
        )
        .await?;
        Ok(())
    }
}
