//! The soak (`scripts/soak`; not in CI): the suite as separate processes, one `crm serve` per
//! service as Kubernetes runs it, under mixed load through the gateway at 70% of the rate it
//! reached flat out, with a fault injected every minute. It prints, every ten seconds, the calls
//! answered and failed (by code) and each process's resident memory; at the end, the writes lost
//! and the effects duplicated. Target: nothing lost, nothing twice, memory flat.
//!
//! The load: 40% CreateParty (each with an idempotency key, sent again after a failure until it
//! is acknowledged, as a client does), 40% GetParty and 20% GetCustomer360 of parties created
//! before. The faults, in turn: SIGKILL of customers, nats-server stopped for 20 s, SIGKILL of
//! sales, the customers database unreachable for 10 s (PostgreSQL: connections refused; SQLite:
//! the process stopped with SIGSTOP), SIGKILL of the gateway. Each killed process is started
//! again at once.
//!
//! `CRM_SOAK_MINUTES` (default 10), `CRM_BENCH_BACKEND` (`sqlite` or `postgres`, with
//! `CRM_TEST_POSTGRES_URL`).

#[path = "common/serve.rs"]
mod serve;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use crm_auth::Role;
use crm_proto::customers::v1 as customers;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::gateway::v1 as gateway;
use crm_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use crm_storage::Db;
use crm_testkit::{Backend, TestDb, TestNats, authed};
use tonic::transport::Channel;

use serve::{local_addr, ready};

const DOMAINS: [&str; 5] = ["customers", "sales", "partners", "marketing", "servicedesk"];
/// Calls in flight while the maximum rate is measured, and at most during the soak.
const IN_FLIGHT: usize = 32;
const MAX_IN_FLIGHT: usize = 256;
const REPORT_EVERY: Duration = Duration::from_secs(10);
const FAULT_EVERY: Duration = Duration::from_secs(60);

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(soak());
}

/// One `crm serve` process and how to start it again.
struct Served {
    name: &'static str,
    addr: SocketAddr,
    args: Vec<String>,
    child: Child,
}

impl Served {
    fn start(name: &'static str, addr: SocketAddr, args: Vec<String>, logs: &std::path::Path) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logs.join(format!("{name}.log")))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_crm"))
            .args(["serve", name, "--listen", &addr.to_string()])
            .args(&args)
            .args(["--jwt-secret", crm_testkit::TEST_SECRET])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting crm serve");
        Self {
            name,
            addr,
            args,
            child,
        }
    }

    /// SIGKILL, then the same command again.
    fn kill_and_restart(&mut self, logs: &std::path::Path) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        *self = Self::start(self.name, self.addr, std::mem::take(&mut self.args), logs);
    }

    fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status();
    }
}

/// Resident memory of process `pid` in MiB (0 while it is being started again).
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the load has seen.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    /// Calls the load generator did not send because too many were waiting for an answer.
    shed: AtomicU64,
    /// Failed calls by code: how many, and the first message.
    failed: Mutex<BTreeMap<String, (u64, String)>>,
    /// Parties acknowledged, by idempotency key, and their ids in the order they came.
    created: Mutex<(HashMap<u64, String>, Vec<String>)>,
    /// Creations not yet acknowledged: sent again until they are.
    unacknowledged: Mutex<Vec<u64>>,
    next_key: AtomicU64,
}

impl Tally {
    fn failure(&self, status: &tonic::Status) {
        let mut failed = self.failed.lock().unwrap();
        let entry = failed
            .entry(format!("{:?}", status.code()))
            .or_insert_with(|| (0, status.message().chars().take(200).collect()));
        entry.0 += 1;
    }

    /// Failed calls by code.
    fn failures(&self) -> BTreeMap<String, u64> {
        self.failed
            .lock()
            .unwrap()
            .iter()
            .map(|(code, (n, _))| (code.clone(), *n))
            .collect()
    }

    /// A party to read, if any was created.
    fn known_party(&self, n: u64) -> Option<String> {
        let created = self.created.lock().unwrap();
        let ids = &created.1;
        (!ids.is_empty()).then(|| ids[(n as usize * 7919) % ids.len()].clone())
    }

    fn acknowledged(&self) -> usize {
        self.created.lock().unwrap().1.len()
    }
}

/// Sends CreateParty with idempotency key `key` once; records the outcome.
async fn create(channel: Channel, token: &str, tally: &Tally, key: u64) {
    let request = customers::CreatePartyRequest {
        party: Some(customers::Party {
            kind: customers::PartyKind::Person as i32,
            given_name: format!("Soak{key}"),
            family_name: "Soak".into(),
            ..Default::default()
        }),
        request_id: format!("soak-{key}"),
    };
    match CustomersServiceClient::new(channel)
        .create_party(authed(request, token))
        .await
    {
        Ok(r) => {
            tally.ok.fetch_add(1, Ordering::Relaxed);
            let id = r.into_inner().party.map(|p| p.id).unwrap_or_default();
            let mut created = tally.created.lock().unwrap();
            if created.0.insert(key, id.clone()).is_none() {
                created.1.push(id);
            }
        }
        Err(status) => {
            tally.failure(&status);
            tally.unacknowledged.lock().unwrap().push(key);
        }
    }
}

/// One call of the mix, number `n`.
async fn mixed_call(channel: Channel, token: Arc<String>, tally: Arc<Tally>, n: u64) {
    // A write refused earlier is sent again first, with its key.
    let retry = tally.unacknowledged.lock().unwrap().pop();
    if let Some(key) = retry {
        return create(channel, &token, &tally, key).await;
    }
    let party = tally.known_party(n);
    let outcome = match (n % 5, party) {
        (0 | 1, _) | (_, None) => {
            let key = tally.next_key.fetch_add(1, Ordering::Relaxed);
            return create(channel, &token, &tally, key).await;
        }
        (2 | 3, Some(id)) => CustomersServiceClient::new(channel)
            .get_party(authed(customers::GetPartyRequest { id }, &token))
            .await
            .map(drop),
        (_, Some(party_id)) => GatewayServiceClient::new(channel)
            .get_customer360(authed(
                gateway::GetCustomer360Request {
                    party_id,
                    ..Default::default()
                },
                &token,
            ))
            .await
            .map(drop),
    };
    match outcome {
        Ok(()) => {
            tally.ok.fetch_add(1, Ordering::Relaxed);
        }
        Err(status) => tally.failure(&status),
    }
}

/// The suite's processes, its databases and its nats-server.
struct Suite {
    nats: TestNats,
    databases: HashMap<&'static str, TestDb>,
    services: Vec<Served>,
    logs: tempfile::TempDir,
}

impl Suite {
    async fn start(backend: Backend) -> Self {
        let nats = TestNats::start();
        let logs = tempfile::tempdir().unwrap();
        let databases: HashMap<&'static str, TestDb> =
            DOMAINS.iter().map(|d| (*d, TestDb::new(backend))).collect();
        let addrs: HashMap<&'static str, SocketAddr> = DOMAINS.iter().map(|d| (*d, local_addr())).collect();
        let url = |name: &str| format!("http://{}", addrs[name]);
        let mut services = Vec::new();
        for name in DOMAINS {
            let mut args = vec![
                "--database-url".to_string(),
                databases[name].url.clone(),
                "--nats-url".into(),
                nats.url(),
            ];
            if name == "sales" {
                args.extend(["--customers-url".into(), url("customers")]);
            }
            services.push(Served::start(name, addrs[name], args, logs.path()));
        }
        let mut args = Vec::new();
        for name in DOMAINS {
            args.extend([format!("--{name}-url"), url(name)]);
        }
        // One principal makes every call here.
        args.extend(["--rate-limit".into(), "0".into()]);
        services.push(Served::start("gateway", local_addr(), args, logs.path()));
        for s in &services {
            ready(s.addr).await;
        }
        Self {
            nats,
            databases,
            services,
            logs,
        }
    }

    fn service(&mut self, name: &str) -> &mut Served {
        self.services.iter_mut().find(|s| s.name == name).unwrap()
    }

    fn gateway(&self) -> SocketAddr {
        self.services.iter().find(|s| s.name == "gateway").unwrap().addr
    }

    /// Injects fault number `n` (in turn) and undoes it; what it did.
    async fn fault(&mut self, n: usize, backend: Backend) -> String {
        let logs = self.logs.path().to_path_buf();
        match n % 5 {
            0 => {
                self.service("customers").kill_and_restart(&logs);
                "SIGKILL customers".into()
            }
            1 => {
                self.nats.stop();
                tokio::time::sleep(Duration::from_secs(20)).await;
                self.nats.restart();
                "nats-server down 20 s".into()
            }
            2 => {
                self.service("sales").kill_and_restart(&logs);
                "SIGKILL sales".into()
            }
            3 if backend == Backend::Postgres => {
                let url = self.databases["customers"].url.clone();
                crm_testkit::allow_connections(&url, false).await;
                tokio::time::sleep(Duration::from_secs(10)).await;
                crm_testkit::allow_connections(&url, true).await;
                "customers database refusing connections 10 s".into()
            }
            3 => {
                self.service("customers").signal("-STOP");
                tokio::time::sleep(Duration::from_secs(10)).await;
                self.service("customers").signal("-CONT");
                "customers stopped (SIGSTOP) 10 s".into()
            }
            _ => {
                self.service("gateway").kill_and_restart(&logs);
                "SIGKILL gateway".into()
            }
        }
    }

    /// The processes' names and ids, for the reporter.
    fn pids(&self) -> Vec<(&'static str, u32)> {
        self.services.iter().map(|s| (s.name, s.child.id())).collect()
    }
}

/// Resident memory of the processes, `name MiB, ...`.
fn memory(pids: &[(&'static str, u32)]) -> String {
    pids.iter()
        .map(|(name, pid)| format!("{name} {:.0}", rss_mib(*pid)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the mix flat out with [`IN_FLIGHT`] calls in flight for `seconds`: calls per second.
async fn maximum(channel: &Channel, token: &Arc<String>, tally: &Arc<Tally>, seconds: u64) -> f64 {
    let before = tally.ok.load(Ordering::Relaxed);
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for w in 0..IN_FLIGHT as u64 {
        let (channel, token, tally) = (channel.clone(), token.clone(), tally.clone());
        workers.push(tokio::spawn(async move {
            let mut n = w;
            while Instant::now() < until {
                mixed_call(channel.clone(), token.clone(), tally.clone(), n).await;
                n += IN_FLIGHT as u64;
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    (tally.ok.load(Ordering::Relaxed) - before) as f64 / seconds as f64
}

async fn soak() {
    let backend = crm_testkit::bench::backend();
    let minutes: u64 = std::env::var("CRM_SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(10);
    let mut suite = Suite::start(backend).await;
    let token = Arc::new(crm_testkit::token("soak", &[Role::Admin]));
    let channel = crm_testkit::channel(suite.gateway());
    let tally = Arc::new(Tally::default());
    let max = maximum(&channel, &token, &tally, 20).await;
    println!(
        "flat out: failed calls by code {:?}",
        tally.failed.lock().unwrap()
    );
    tally.failed.lock().unwrap().clear();
    let rate = 0.7 * max;
    println!(
        "soak on {backend:?}: mixed load flat out {max:.0} calls/s; soaking {minutes} min at {rate:.0} calls/s \
         (70%), a fault every minute; logs in {}",
        suite.logs.path().display()
    );
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let started = Instant::now();
    let until = started + Duration::from_secs(minutes * 60);
    let load = {
        let (tally, token, channel, in_flight) =
            (tally.clone(), token.clone(), channel.clone(), in_flight.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1.0)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut n = 0u64;
            while Instant::now() < until {
                tick.tick().await;
                // Calls the suite cannot answer in time are not piled up without end.
                let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                    tally.shed.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let (channel, token, tally) = (channel.clone(), token.clone(), tally.clone());
                tokio::spawn(async move {
                    mixed_call(channel, token, tally, n).await;
                    drop(permit);
                });
                n += 1;
            }
        })
    };
    // The report every ten seconds runs beside the faults, some of which last a while.
    let pids = Arc::new(Mutex::new(suite.pids()));
    let reporter = {
        let (tally, pids) = (tally.clone(), pids.clone());
        let answered_before = tally.ok.load(Ordering::Relaxed);
        tokio::spawn(async move {
            let mut lines = Vec::new();
            let mut tick = tokio::time::interval_at((started + REPORT_EVERY).into(), REPORT_EVERY);
            while Instant::now() < until {
                tick.tick().await;
                let memory = memory(&pids.lock().unwrap());
                println!(
                    "{:>5.0} s  answered {}  failed {:?}  not sent ({} waiting) {}  acknowledged writes {}  RSS MiB: {memory}",
                    started.elapsed().as_secs_f64(),
                    tally.ok.load(Ordering::Relaxed) - answered_before,
                    tally.failures(),
                    MAX_IN_FLIGHT,
                    tally.shed.load(Ordering::Relaxed),
                    tally.acknowledged(),
                );
                lines.push(memory);
            }
            lines
        })
    };
    let mut next_fault = started + FAULT_EVERY;
    let mut faults = 0;
    while next_fault < until {
        tokio::time::sleep_until(next_fault.into()).await;
        let at = started.elapsed().as_secs_f64();
        let what = suite.fault(faults, backend).await;
        println!(
            "{at:>5.0} s  fault: {what} (over after {:.0} s)",
            started.elapsed().as_secs_f64() - at
        );
        *pids.lock().unwrap() = suite.pids();
        faults += 1;
        next_fault += FAULT_EVERY;
    }
    let memory_lines = reporter.await.unwrap();
    load.await.unwrap();
    // Every write sent again until it is acknowledged.
    loop {
        let pending: Vec<u64> = std::mem::take(&mut *tally.unacknowledged.lock().unwrap());
        if pending.is_empty() && in_flight.available_permits() == MAX_IN_FLIGHT {
            break;
        }
        for key in pending {
            create(channel.clone(), &token, &tally, key).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let acknowledged = tally.acknowledged() as i64;
    let report = settle(&suite).await;
    println!(
        "memory at the first and the last report (MiB): {} | {}",
        memory_lines.first().cloned().unwrap_or_default(),
        memory_lines.last().cloned().unwrap_or_default()
    );
    println!(
        "{} writes acknowledged; {} stored; lost {}; stored twice {}; party.created events {} (duplicated {}); \
         copies in sales/servicedesk/marketing {:?}; dead letters {}; failed calls by code (first message) {:?}",
        acknowledged,
        report.stored,
        acknowledged - report.stored.min(acknowledged),
        (report.stored - acknowledged).max(0),
        report.events,
        report.events as i64 - report.stored,
        report.copies,
        report.dead_letters,
        tally.failed.lock().unwrap(),
    );
    let lost = acknowledged - report.stored.min(acknowledged);
    let twice = (report.stored - acknowledged).max(0) + (report.events as i64 - report.stored).max(0);
    assert!(
        lost == 0 && twice == 0,
        "{lost} writes lost, {twice} effects duplicated"
    );
    assert!(
        report.copies.iter().all(|&c| c == report.stored) && report.dead_letters == 0,
        "every consumer holds every party, nothing parked"
    );
}

/// What the suite holds once the outbox is empty and the consumers caught up.
struct Settled {
    stored: i64,
    events: u64,
    copies: Vec<i64>,
    dead_letters: u64,
}

async fn count(url: &str, sql: &'static str) -> i64 {
    let db = Db::connect(url, 1).await.unwrap();
    let n = sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap();
    db.close().await;
    n
}

async fn settle(suite: &Suite) -> Settled {
    let customers_url = &suite.databases["customers"].url;
    crm_testkit::eventually(Duration::from_secs(600), "the outbox published", || async {
        (count(
            customers_url,
            "SELECT COUNT(*) FROM crm_outbox WHERE sent_at IS NULL",
        )
        .await
            == 0)
            .then_some(())
    })
    .await;
    let js = jetstream::new(suite.nats.client().await);
    for consumer in [
        "sales-customer-events",
        "servicedesk-customer-events",
        "marketing-customer-events",
    ] {
        crm_testkit::eventually(Duration::from_secs(600), consumer, || async {
            let mut c = js
                .get_consumer_from_stream::<jetstream::consumer::pull::Config, _, _>(
                    consumer,
                    "CRM_CUSTOMERS",
                )
                .await
                .ok()?;
            let info = c.info().await.ok()?;
            (info.num_pending == 0 && info.num_ack_pending == 0).then_some(())
        })
        .await;
    }
    let stored = count(
        customers_url,
        "SELECT COUNT(*) FROM parties WHERE family_name = 'Soak'",
    )
    .await;
    let stream = js.get_stream("CRM_CUSTOMERS").await.unwrap();
    let mut subjects = stream
        .info_with_subjects("crm.customers.party.created.*")
        .await
        .unwrap();
    let mut events = 0;
    while let Some(Ok((_, n))) = futures::StreamExt::next(&mut subjects).await {
        events += n as u64;
    }
    let mut copies = Vec::new();
    for (service, sql) in [
        ("sales", "SELECT COUNT(*) FROM accounts WHERE status = 'active'"),
        (
            "servicedesk",
            "SELECT COUNT(*) FROM customers WHERE status = 'active'",
        ),
        (
            "marketing",
            "SELECT COUNT(*) FROM profiles WHERE status = 'active'",
        ),
    ] {
        copies.push(count(&suite.databases[service].url, sql).await);
    }
    let dead_letters = match js.get_stream(crm_events::DLQ_STREAM).await {
        Ok(mut s) => s.info().await.map(|i| i.state.messages).unwrap_or_default(),
        Err(_) => 0,
    };
    Settled {
        stored,
        events,
        copies,
        dead_letters,
    }
}
