//! `crm up` on a machine where its default ports are taken, and `crm import` / `crm export`
//! against it as a user runs them.

use std::process::{Command, Stdio};

use crm_proto::servicedesk::v1 as sd;
use crm_proto::servicedesk::v1::service_desk_service_client::ServiceDeskServiceClient;
use crm_testkit::authed;

use crate::{CRM, Process, wait_serving};

/// Holds `port` on 127.0.0.1 if nothing listens there yet (so it is taken either way).
fn occupy(port: u16) -> Option<std::net::TcpListener> {
    std::net::TcpListener::bind(("127.0.0.1", port)).ok()
}

/// A copy of an example file in `dir` (refused rows are written beside the input).
fn copy_fixture(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts/fixtures/import")
        .join(name);
    let to = dir.join(name);
    std::fs::copy(from, &to).unwrap();
    to
}

fn crm(args: &[&str], url: &str, token: &str) -> std::process::Output {
    Command::new(CRM)
        .args(args)
        .args(["--url", url, "--token", token])
        .output()
        .unwrap()
}

/// With 4222 and the customers port already taken, `crm up` picks free ports, prints them and
/// serves; the documented example files import through its gateway, a second run changes
/// nothing, bad rows are written beside the input with their reasons, and the export returns
/// what was imported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_up_beside_another_nats_server_imports_and_exports() {
    let _nats = occupy(4222);
    let _customers = occupy(50051);
    let data = tempfile::tempdir().unwrap();
    let child = Command::new(CRM)
        .arg("up")
        .arg("--data-dir")
        .arg(data.path())
        .env_remove("CRM_NATS_URL")
        .env_remove("CRM_PORT_BASE")
        .env_remove("CRM_LOCAL_NATS_PORT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = child;
    let stdout = child.stdout.take().unwrap();
    let mut process = Process(child);
    let lines = crate::support::startup_lines(stdout).await;
    let port_of = |name: &str| -> u16 {
        lines
            .iter()
            .find_map(|l| l.trim().strip_prefix(name))
            .and_then(|rest| rest.trim().rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no {name} line in {lines:?}"))
    };
    let customers = port_of("customers");
    assert_ne!(customers, 50051, "the taken port was not used");
    assert!(
        !lines[0].contains("127.0.0.1:4222,") && !lines[0].contains(":4222 "),
        "{lines:?}"
    );
    let gateway = port_of("gateway");
    wait_serving(customers).await;
    wait_serving(gateway).await;
    let token = lines
        .iter()
        .find(|l| l.starts_with("eyJ"))
        .expect("a token")
        .clone();
    let url = format!("http://127.0.0.1:{gateway}");
    let fixture = |name: &str| copy_fixture(data.path(), name);

    for (entity, file, created) in [
        ("parties", "parties.csv", "3 rows created"),
        ("relationships", "relationships.csv", "1 rows created"),
        ("partners", "partners.csv", "3 rows created"),
        ("targets", "targets.csv", "2 rows created"),
        ("products", "products.csv", "3 rows created"),
        ("opportunities", "opportunities.csv", "3 rows created"),
        ("leads", "leads.csv", "2 rows created"),
        ("activities", "activities.csv", "2 rows created"),
    ] {
        let out = crm(&["import", entity, fixture(file).to_str().unwrap()], &url, &token);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(created),
            "{entity}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // An order sold through a partner names it by external id; sales knows the partner once
    // the partners service's event reached it, so validate until every row passes.
    let orders = fixture("orders.csv");
    crm_testkit::eventually(std::time::Duration::from_secs(30), "orders validate", || async {
        crm(
            &["import", "orders", orders.to_str().unwrap(), "--dry-run"],
            &url,
            &token,
        )
        .status
        .success()
        .then_some(())
    })
    .await;
    let out = crm(&["import", "orders", orders.to_str().unwrap()], &url, &token);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("5 rows created"),
        "{stdout}"
    );
    // The service desk: a queue to put cases in, then the knowledge base and the cases, which
    // name their customers by external id (known to the desk once customers announced them).
    ServiceDeskServiceClient::new(crm_testkit::channel(([127, 0, 0, 1], gateway).into()))
        .create_queue(authed(
            sd::CreateQueueRequest {
                queue: Some(sd::Queue {
                    name: "Support".into(),
                    ..Default::default()
                }),
            },
            &token,
        ))
        .await
        .unwrap();
    let out = crm(
        &["import", "articles", fixture("articles.csv").to_str().unwrap()],
        &url,
        &token,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 rows created"));
    let cases = fixture("cases.csv");
    crm_testkit::eventually(std::time::Duration::from_secs(30), "cases validate", || async {
        crm(
            &["import", "cases", cases.to_str().unwrap(), "--dry-run"],
            &url,
            &token,
        )
        .status
        .success()
        .then_some(())
    })
    .await;
    let out = crm(&["import", "cases", cases.to_str().unwrap()], &url, &token);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 rows created"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let consents = fixture("consents.csv");
    crm_testkit::eventually(
        std::time::Duration::from_secs(30),
        "consents validate",
        || async {
            crm(
                &["import", "consents", consents.to_str().unwrap(), "--dry-run"],
                &url,
                &token,
            )
            .status
            .success()
            .then_some(())
        },
    )
    .await;
    let out = crm(&["import", "consents", consents.to_str().unwrap()], &url, &token);
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 rows created"));
    let out = crm(&["export", "cases"], &url, &token);
    let cases_csv = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(cases_csv.lines().count(), 1 + 2, "{cases_csv}");
    assert!(cases_csv.contains("T-9001") && cases_csv.contains("closed"));

    let again = crm(
        &["import", "parties", fixture("parties.csv").to_str().unwrap()],
        &url,
        &token,
    );
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("0 rows created, 0 updated, 3 unchanged, 0 rejected")
    );

    // A file with bad rows: the good row goes in, the command fails, the rest is explained.
    let bad = data.path().join("people.csv");
    std::fs::write(
        &bad,
        b"external_id,given_name,email,created_at,shoe_size\nN-1,Nia,nia@example.com,2020-02-02,41\nN-2,Bad,nope,2020-02-02,\nN-3,Old,,02/02/2020,\nN-4,\"Open,x,2020-01-01,\nN-5,Utf\xff,,2020-01-01,\n",
    )
    .unwrap();
    let out = crm(&["import", "parties", bad.to_str().unwrap()], &url, &token);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 rows created, 0 updated, 0 unchanged, 4 rejected")
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("shoe_size"), "unknown column named: {stderr}");
    let rejected = std::fs::read_to_string(data.path().join("people.rejected.csv")).unwrap();
    for expected in [
        "email: not an email address",
        "created_at: not a time",
        "broken quoting",
        "not valid UTF-8",
    ] {
        assert!(rejected.contains(expected), "{expected} missing from {rejected}");
    }

    let out = crm(&["export", "parties"], &url, &token);
    assert!(out.status.success());
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(csv.starts_with("id,external_id,kind,given_name"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + 4, "{csv}");
    assert!(csv.contains("C-1001,person,Ada,Lovelace"));
    let out = crm(&["export", "orders", "--format", "jsonl"], &url, &token);
    let orders = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(orders.lines().count(), 5, "{orders}");
    assert!(orders.contains(r#""amount":"15400.00""#) && orders.contains(r#""status":"returned""#));

    uploads_from_the_console(gateway, &token, &std::fs::read(&bad).unwrap()).await;
    assert!(process.terminate().success());
}

/// The console's import: the file with bad rows again, uploaded to the gateway, which streams
/// it to the service as the command does; an upload without a token, from a role that may not
/// import, or naming no known entity is refused as a whole with the gRPC code's name.
async fn uploads_from_the_console(gateway: u16, token: &str, bad_file: &[u8]) {
    let (status, answer) = upload(gateway, "entity=parties", Some(token), bad_file).await;
    assert_eq!(status, 200, "{answer}");
    // N-1 came in with the command: unchanged now, as the same source's record.
    assert_eq!(
        [&answer["created"], &answer["unchanged"], &answer["rejected"]],
        [0, 1, 4],
        "{answer}"
    );
    assert_eq!(answer["ignored"], serde_json::json!(["shoe_size"]));
    let reasons: Vec<String> = answer["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r["line"], r["reason"].as_str().unwrap()))
        .collect();
    assert!(
        reasons[0].starts_with("3 email: not an email address"),
        "{reasons:?}"
    );
    assert!(reasons[1].starts_with("4 created_at: not a time"), "{reasons:?}");
    assert!(
        reasons[2].contains("broken quoting") && reasons[3].contains("not valid UTF-8"),
        "{reasons:?}"
    );

    // JSON lines, checked first (nothing stored), then imported.
    let person = br#"{"external_id":"J-1","kind":"person","given_name":"Jo","phone":"+886 2 2345 6789"}"#;
    let (_, checked) = upload(
        gateway,
        "entity=parties&format=jsonl&dry_run=true",
        Some(token),
        person,
    )
    .await;
    assert_eq!(
        (&checked["created"], &checked["dryRun"]),
        (&1.into(), &true.into()),
        "{checked}"
    );
    let (_, imported) = upload(gateway, "entity=parties&format=jsonl", Some(token), person).await;
    assert_eq!(imported["created"], 1, "{imported}");
    let (_, again) = upload(gateway, "entity=parties&format=jsonl", Some(token), person).await;
    assert_eq!(again["unchanged"], 1, "{again}");

    let (status, refused) = upload(gateway, "entity=parties", None, bad_file).await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (401, &"UNAUTHENTICATED".into()),
        "{refused}"
    );
    let (_, auditor) = http(
        gateway,
        "GET",
        "/console/dev-token?role=auditor&user=audrey",
        None,
        b"",
    )
    .await;
    let auditor = auditor["token"]
        .as_str()
        .expect("a development token")
        .to_string();
    let (status, refused) = upload(gateway, "entity=parties", Some(&auditor), bad_file).await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (403, &"PERMISSION_DENIED".into()),
        "{refused}"
    );
    let (status, refused) = upload(gateway, "entity=planets", Some(token), bad_file).await;
    assert_eq!(
        (status, &refused["error"]["code"], &refused["error"]["field"]),
        (400, &"INVALID_ARGUMENT".into(), &"entity".into()),
        "{refused}"
    );
}

/// An upload to the console's import with `query`: the status and the JSON answer.
async fn upload(gateway: u16, query: &str, token: Option<&str>, file: &[u8]) -> (u16, serde_json::Value) {
    http(gateway, "POST", &format!("/console/import?{query}"), token, file).await
}

/// One HTTP/1.1 request to the gateway's site: the status and the JSON answer.
async fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> (u16, serde_json::Value) {
    let (status, content) = crate::support::http(port, method, path, token, body).await;
    let json = serde_json::from_str(&content).unwrap_or_else(|e| panic!("{e}: {content}"));
    (status, json)
}
