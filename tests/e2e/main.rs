//! End-to-end tests: the `crm` binary started as a user starts it and stopped with SIGTERM;
//! the gateway as clients meet it; a customer's whole journey across the suite.

mod access;
mod bad_input;
mod dlq;
mod erasure;
mod faults;
mod follow_up;
mod gateway;
mod health;
mod journey;
mod migrations;
mod nats_users;
mod ordering;
mod otlp;
mod restore;
mod support;
mod tls;
mod transfer;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crm_proto::customers::v1 as pb;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_testkit::{TestNats, authed};

const CRM: &str = env!("CARGO_BIN_EXE_crm");

/// Runs `crm` with `args` and returns what it printed; fails the test, with what it said on
/// standard error, when it does not succeed.
fn crm_succeeds(args: &[&str]) -> String {
    let out = Command::new(CRM).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "crm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A port base with `n` consecutive free ports (for `crm up`, which listens on base..base+n).
fn free_ports(n: u16) -> u16 {
    for _ in 0..200 {
        let base = free_port();
        if base.checked_add(n).is_none() {
            continue;
        }
        let all_free = (base..base + n).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no {n} consecutive free ports");
}

fn free_port() -> u16 {
    crm_testkit::free_port()
}

/// A `crm` process, killed if the test fails before stopping it.
struct Process(pub Child);

impl Process {
    fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "crm did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_serving(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let url = format!("http://127.0.0.1:{port}");
        if let Ok(channel) = tonic::transport::Channel::from_shared(url)
            .unwrap()
            .connect()
            .await
        {
            let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
            if let Ok(r) = health
                .check(tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                })
                .await
                && r.into_inner().status
                    == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
            {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "service on port {port} never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn create_party(port: u16, token: &str) -> pb::Party {
    let mut client = CustomersServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
    let party = pb::Party {
        kind: pb::PartyKind::Organization as i32,
        organization_name: "E2E Corp".into(),
        ..Default::default()
    };
    client
        .create_party(authed(
            pb::CreatePartyRequest {
                party: Some(party),
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .party
        .unwrap()
}

/// A `crm up` on free ports (services from `port`, its nats-server on `nats_port`, Prometheus's
/// endpoint on `metrics_port`) with its data in a directory of the test's.
struct Up {
    port: u16,
    nats_port: u16,
    metrics_port: u16,
    process: Process,
    /// What it printed at start, up to the line telling how to stop it.
    lines: Vec<String>,
    /// The admin token it printed.
    token: String,
    /// Where its log goes.
    stderr: std::path::PathBuf,
}

/// Starts `crm up` with its data in `data` and `env` set. Ports found free can be taken by
/// another test before crm binds them: a start that fails on a taken port is tried again on
/// others.
async fn start_crm_up(data: &std::path::Path, env: &[(&str, &str)]) -> Up {
    let stderr = data.join("stderr.log");
    for attempt in 1.. {
        let port = free_ports(6);
        let others = |taken: &[u16]| loop {
            let p = free_port();
            if !(port..port + 6).contains(&p) && !taken.contains(&p) {
                break p;
            }
        };
        let nats_port = others(&[]);
        let metrics_port = others(&[nats_port]);
        let mut child = Command::new(CRM)
            .args([
                "up",
                "--port-base",
                &port.to_string(),
                "--local-nats-port",
                &nats_port.to_string(),
            ])
            .arg("--data-dir")
            .arg(data)
            .env_remove("CRM_NATS_URL")
            .env("CRM_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let process = Process(child);
        let lines = support::startup_lines(stdout).await;
        let log = std::fs::read_to_string(&stderr).unwrap_or_default();
        if attempt < 3 && lines.is_empty() && log.contains("Address already in use") {
            continue;
        }
        let token = lines
            .iter()
            .find(|l| l.starts_with("eyJ"))
            .unwrap_or_else(|| panic!("no admin token in {lines:?}\n{log}"))
            .clone();
        return Up {
            port,
            nats_port,
            metrics_port,
            process,
            lines,
            token,
            stderr,
        };
    }
    unreachable!("the loop returns or panics")
}

/// `crm up` starts its own nats-server and every service, prints a working admin token, starts
/// its nats-server again when it dies, and stops cleanly (taking its nats-server with it) on
/// SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_up_runs_the_suite_and_stops_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let up = start_crm_up(data.path(), &[]).await;
    let (port, nats_port, metrics_port) = (up.port, up.nats_port, up.metrics_port);
    let lines = up.lines.clone();
    let stderr_path = up.stderr.clone();
    let mut process = up.process;
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("customers    grpc://127.0.0.1:{port}"))),
        "{lines:?}\n{}",
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    let token = up.token;
    wait_serving(port).await;
    let party = create_party(port, &token).await;
    assert_eq!(party.display_name, "E2E Corp");
    assert!(data.path().join("customers.db").exists());
    let desk_port = port + 4;
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("servicedesk  grpc://127.0.0.1:{desk_port}"))),
        "{lines:?}"
    );
    wait_serving(desk_port).await;
    assert!(data.path().join("servicedesk.db").exists());
    // The gateway follows the services and reaches all of them.
    let gateway_port = port + 5;
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("gateway      grpc://127.0.0.1:{gateway_port}"))),
        "{lines:?}"
    );
    wait_serving(gateway_port).await;
    let through_gateway =
        CustomersServiceClient::new(crm_testkit::channel(([127, 0, 0, 1], gateway_port).into()))
            .get_party(authed(pb::GetPartyRequest { id: party.id.clone() }, &token))
            .await
            .expect("the party through the gateway")
            .into_inner();
    assert_eq!(through_gateway.party.unwrap().id, party.id);
    // Prometheus scrapes the calls, the event flow, the database pools and the process.
    crm_testkit::eventually(Duration::from_secs(30), "the scraped metrics", || async {
        let (status, text) = support::http(metrics_port, "GET", "/metrics", None, b"").await;
        let call = text
            .lines()
            .any(|l| l.starts_with("rpc_server_duration") && l.contains("CreateParty"));
        let all = [
            "process_resident_memory_bytes",
            "crm_db_pool_connections{",
            "state=\"max\"",
            "crm_outbox_leading{",
        ]
        .iter()
        .all(|name| text.contains(name));
        (status == 200 && call && all).then_some(())
    })
    .await;
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", nats_port)).is_ok(),
        "the local nats-server runs"
    );
    // Its nats-server dies: crm up starts it again, and the services become ready again.
    let nats_pid = || {
        let out = Command::new("pgrep")
            .args(["-f", "--", &format!("-p {nats_port} -js")])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let first = nats_pid();
    assert!(!first.is_empty(), "the local nats-server's process");
    assert!(
        Command::new("kill")
            .args(["-KILL", &first])
            .status()
            .unwrap()
            .success()
    );
    crm_testkit::eventually(Duration::from_secs(60), "a new local nats-server", || async {
        let now = nats_pid();
        (!now.is_empty() && now != first).then_some(())
    })
    .await;
    crm_testkit::eventually(Duration::from_secs(60), "customers ready again", || async {
        let mut health = tonic_health::pb::health_client::HealthClient::new(crm_testkit::channel(
            ([127, 0, 0, 1], port).into(),
        ));
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: "readiness".into(),
            })
            .await
            .ok()?
            .into_inner()
            .status;
        (status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32).then_some(())
    })
    .await;

    let status = process.terminate();
    assert!(status.success(), "crm up exited with {status}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the service port is closed"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", nats_port)).is_err(),
        "the local nats-server stopped with crm"
    );
}

/// `crm serve` will not start with the public development secret (no key configured) or with
/// an HS256 secret too short to resist guessing, and says what to set.
#[test]
fn crm_serve_refuses_to_run_without_a_key_of_its_own() {
    for (secret, says) in [(None, "CRM_JWT_SECRET"), (Some("short-secret"), "at least 32")] {
        let mut serve = Command::new(CRM);
        serve
            .args(["serve", "customers", "--listen", "127.0.0.1:0"])
            .args([
                "--database-url",
                "sqlite::memory:",
                "--nats-url",
                "nats://127.0.0.1:1",
            ])
            .env_remove("CRM_JWT_SECRET")
            .env_remove("CRM_JWKS_URL");
        if let Some(secret) = secret {
            serve.args(["--jwt-secret", secret]);
        }
        let out = serve.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{secret:?} accepted");
        assert!(stderr.contains(says), "{secret:?}: {stderr}");
    }
}

/// `crm migrate`, `crm token` and `crm serve customers` against an external NATS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_serve_one_service() {
    let data = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite:{}", data.path().join("c.db").display());
    let migrate = Command::new(CRM)
        .args(["migrate", "customers", "--database-url", &db_url])
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    assert!(String::from_utf8_lossy(&migrate.stdout).contains("migrated customers"));

    let secret = "e2e-secret-of-at-least-thirty-two-bytes";
    let token = Command::new(CRM)
        .args([
            "token",
            "--role",
            "admin,auditor",
            "--user",
            "ops",
            "--jwt-secret",
            secret,
        ])
        .output()
        .unwrap();
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout).unwrap().trim().to_string();

    let nats = TestNats::start();
    let port = free_port();
    let child = Command::new(CRM)
        .args([
            "serve",
            "customers",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &db_url,
        ])
        .args(["--nats-url", &nats.url(), "--jwt-secret", secret])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut process = Process(child);
    wait_serving(port).await;
    create_party(port, &token).await;
    let other = Command::new(CRM)
        .args(["token", "--role", "admin", "--user", "x"])
        .output()
        .unwrap();
    let signed_with_another_secret = String::from_utf8(other.stdout).unwrap().trim().to_string();
    let mut client = CustomersServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
    let err = client
        .list_parties(authed(
            pb::ListPartiesRequest::default(),
            &signed_with_another_secret,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);

    // A gateway in front of it: no database, no NATS, only the service's address.
    let gateway_port = free_port();
    let gateway = Command::new(CRM)
        .args([
            "serve",
            "gateway",
            "--listen",
            &format!("127.0.0.1:{gateway_port}"),
            "--customers-url",
            &format!("http://127.0.0.1:{port}"),
            "--jwt-secret",
            secret,
        ])
        .env_remove("CRM_NATS_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut gateway = Process(gateway);
    wait_serving(gateway_port).await;
    let through_gateway = create_party(gateway_port, &token).await;
    assert_eq!(through_gateway.display_name, "E2E Corp");
    assert!(gateway.terminate().success());
    assert!(process.terminate().success());
}

/// `crm up` on an address other machines reach will not start with the public development
/// secret.
#[test]
fn crm_up_on_the_network_needs_a_key_of_its_own() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(CRM)
        .args(["up", "--host", "0.0.0.0", "--data-dir"])
        .arg(data.path())
        .env_remove("CRM_JWT_SECRET")
        .env_remove("CRM_JWKS_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("reachable from other machines"), "{stderr}");
}
