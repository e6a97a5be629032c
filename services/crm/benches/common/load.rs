//! Loading a synthetic base into a running suite and waiting for every consumer, shared by the
//! benches that measure at volume.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use clap::Parser as _;
use crm::services::Service;
use crm_storage::Db;

use crate::support;

/// Runs `crm import <entity> FILE` against `url`; its duration.
pub async fn import(entity: &str, file: &Path, url: &str, token: &str) -> Duration {
    let cli = crm::cli::Cli::parse_from([
        "crm",
        "import",
        entity,
        file.to_str().unwrap(),
        "--url",
        url,
        "--token",
        token,
        "--source",
        "bench",
    ]);
    let started = Instant::now();
    crm::cli::run(cli).await.unwrap();
    started.elapsed()
}

/// Messages each durable consumer of the suite has still to apply (pending or unacknowledged),
/// keyed `STREAM/consumer`.
pub async fn backlogs(suite: &support::TestSuite) -> BTreeMap<String, u64> {
    use futures::StreamExt as _;
    let js = async_nats::jetstream::new(suite.nats.client().await);
    let mut out = BTreeMap::new();
    let streams: Vec<String> = js.stream_names().filter_map(|n| async { n.ok() }).collect().await;
    for stream in streams {
        let Ok(s) = js.get_stream(&stream).await else {
            continue;
        };
        let names: Vec<String> = s
            .consumer_names()
            .filter_map(|n| async { n.ok() })
            .collect()
            .await;
        for name in names {
            if let Ok(mut c) = s
                .get_consumer::<async_nats::jetstream::consumer::pull::Config>(&name)
                .await
                && let Ok(info) = c.info().await
            {
                out.insert(
                    format!("{stream}/{name}"),
                    info.num_pending + info.num_ack_pending as u64,
                );
            }
        }
    }
    out
}

/// Waits until `service` has published every event of its outbox.
pub async fn relayed(suite: &support::TestSuite, service: Service) {
    let db = Db::connect(suite.database_url(service), 1).await.unwrap();
    while sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM crm_outbox WHERE sent_at IS NULL")
        .fetch_one(db.pool())
        .await
        .unwrap()
        > 0
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    db.close().await;
}

/// Work the services still have to do outside their consumers: events not yet relayed, and
/// customers' figures not yet refreshed or re-ranked (which have events to come).
async fn unsent(suite: &support::TestSuite) -> i64 {
    let mut unsent = 0;
    for service in Service::DOMAINS {
        let db = Db::connect(suite.database_url(service), 1).await.unwrap();
        unsent += sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM crm_outbox WHERE sent_at IS NULL")
            .fetch_one(db.pool())
            .await
            .unwrap();
        if service == Service::Customers {
            unsent += sqlx::query_scalar::<_, i64>(
                "SELECT (SELECT COUNT(*) FROM value_refresh_due) + \
                 (SELECT COUNT(*) FROM settings WHERE key = 'value_tiers_dirty')",
            )
            .fetch_one(db.pool())
            .await
            .unwrap();
        }
        db.close().await;
    }
    unsent
}

/// Waits until every outbox is drained, every durable consumer of the suite has nothing pending
/// or unacknowledged, and customers has refreshed and re-ranked the figures the orders changed;
/// prints when each consumer last went from work to none, so the slowest one is named, and
/// returns those times.
///
/// `CRM_BENCH_CATCH_UP_LIMIT` (seconds, unlimited by default) bounds the wait: past it, what each
/// consumer has left and the rate it worked at are printed, and the bench goes on. A line of
/// progress is printed every minute.
pub async fn caught_up(suite: &support::TestSuite) -> BTreeMap<String, Duration> {
    caught_up_but(suite, &[]).await
}

/// [`caught_up`], leaving out the consumers named in `paused` (`STREAM/consumer`).
pub async fn caught_up_but(suite: &support::TestSuite, paused: &[String]) -> BTreeMap<String, Duration> {
    let started = Instant::now();
    let limit = std::env::var("CRM_BENCH_CATCH_UP_LIMIT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::MAX, Duration::from_secs);
    let watched = || async {
        let mut left = backlogs(suite).await;
        left.retain(|name, _| !paused.contains(name));
        left
    };
    let first = watched().await;
    let mut reported = Instant::now();
    let mut done: BTreeMap<String, Option<Duration>> = Default::default();
    loop {
        let left = watched().await;
        let behind = |left: &BTreeMap<String, u64>| -> Vec<String> {
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            left.iter()
                .filter(|(_, n)| **n > 0)
                .map(|(name, n)| {
                    let worked = first.get(name).copied().unwrap_or_default().saturating_sub(*n);
                    format!("{name} {n} left ({:.0}/s)", worked as f64 / secs)
                })
                .collect()
        };
        if started.elapsed() > limit {
            println!(
                "  NOT caught up after {:.0} s: {}; outboxes and refreshes unsent: {}",
                started.elapsed().as_secs_f64(),
                behind(&left).join(", "),
                unsent(suite).await
            );
            return left
                .keys()
                .map(|name| {
                    (
                        name.clone(),
                        done.get(name).copied().flatten().unwrap_or(started.elapsed()),
                    )
                })
                .collect();
        }
        if reported.elapsed() > Duration::from_secs(60) {
            reported = Instant::now();
            println!(
                "  catching up, {:.0} s: {}",
                started.elapsed().as_secs_f64(),
                behind(&left).join(", ")
            );
        }
        for (name, left) in &left {
            let entry = done.entry(name.clone()).or_default();
            match (left, *entry) {
                (0, None) => *entry = Some(started.elapsed()),
                (1.., Some(_)) => *entry = None,
                _ => {}
            }
        }
        if left.values().all(|n| *n == 0) && unsent(suite).await == 0 {
            let done: BTreeMap<String, Duration> = done
                .into_iter()
                .map(|(name, at)| (name, at.unwrap_or_default()))
                .collect();
            let mut times: Vec<(&Duration, &String)> = done.iter().map(|(n, at)| (at, n)).collect();
            times.sort();
            let line: Vec<String> = times
                .iter()
                .rev()
                .map(|(at, name)| format!("{name} {:.1} s", at.as_secs_f64()))
                .collect();
            println!("  each consumer done after: {}", line.join(", "));
            return done;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Resident memory of this process now (the suite and the importer), MB.
pub fn rss_mb() -> f64 {
    status_mb("VmRSS:")
}

/// CPU time the whole machine has spent busy (every process: the suite, the importer, the
/// databases, nats-server), in core-seconds, from `/proc/stat`; 0 where it cannot be read.
pub fn machine_busy_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(cpu) = stat.lines().next().filter(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    let ticks: Vec<f64> = cpu
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|t| t.parse().ok())
        .collect();
    if ticks.len() < 8 {
        return 0.0;
    }
    let busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7];
    // USER_HZ is 100 on every Linux build this runs on.
    busy / 100.0
}

/// Peak resident memory of this process (the suite and the importer), MB.
pub fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

/// A figure of `/proc/self/status` given in kB, in MB; 0 where it cannot be read.
fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
