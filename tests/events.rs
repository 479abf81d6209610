//! CRM events in: each event format's fixtures (examples/events, written in the
//! vendors' documented shapes) decided through the program and through the
//! service's `POST /v1/orgs/{org}/events/{crm}`, which answer alike; partial
//! events answered with the fields to fetch; HubSpot's v3 signature and the
//! Dataverse webhook key checked when the org names them.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crm_rules::crm::events::hubspot;
use serde_json::Value;

const NOW: &str = "2026-11-25T09:00:00Z";

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// What the program prints for an event file.
fn program(kind: &str, file: &str) -> (String, String, bool) {
    let path = format!("examples/events/{file}");
    let out = support::cli(
        &[
            "--org-dir",
            "examples/strict",
            "--provenance",
            "--now",
            NOW,
            kind,
            "--emit",
            "both",
            &path,
        ],
        None,
    );
    (
        support::text(&out.stdout),
        support::text(&out.stderr),
        out.status.success(),
    )
}

/// (file, CRM, ids decided, ids answered with fields to fetch, a field that must be among them)
type Case = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static str,
);

const CASES: &[Case] = &[
    (
        "dataverse-lead-update.json",
        "dataverse",
        &["7d5f8a3e-1c2b-4f6a-9e0d-3b4c5d6e7f80"],
        &[],
        "",
    ),
    (
        "dataverse-lead-update-no-image.json",
        "dataverse",
        &[],
        &["7d5f8a3e-1c2b-4f6a-9e0d-3b4c5d6e7f80"],
        "companyname",
    ),
    (
        "salesforce-lead-change-create.json",
        "salesforce",
        &["00Q5g00000A1b2cEAB"],
        &[],
        "",
    ),
    (
        "salesforce-lead-change-update.json",
        "salesforce",
        &[],
        &["00Q5g00000A1b2cEAB"],
        "Budget_Status__c",
    ),
    (
        "salesforce-outbound-message.xml",
        "salesforce",
        &["00Q5g00000A1b2dEAB"],
        &[],
        "",
    ),
    (
        "hubspot-webhook.json",
        "hubspot",
        &["51"],
        &["123"],
        "lifecyclestage",
    ),
];

#[test]
fn each_event_format_decides_its_fixtures_through_the_program() {
    for (file, crm, decided, fetched, field) in CASES {
        let (stdout, stderr, ok) = program("qualify", file);
        assert!(ok, "{file}: {stderr}");
        let out = lines(&stdout);
        let decisions: Vec<&Value> = out.iter().filter(|l| l.get("decision").is_some()).collect();
        let ids: Vec<&str> = decisions.iter().filter_map(|l| l["id"].as_str()).collect();
        assert_eq!(&ids, decided, "{file}: {stdout}");
        for line in &decisions {
            assert_eq!(line["format"], *crm, "{file}");
            assert!(
                line["actions"].as_array().is_some_and(|a| !a.is_empty()),
                "{file}: {line}"
            );
        }
        let fetch: Vec<&Value> = out.iter().filter(|l| l.get("fetch").is_some()).collect();
        let fetch_ids: Vec<&str> = fetch.iter().filter_map(|l| l["id"].as_str()).collect();
        assert_eq!(&fetch_ids, fetched, "{file}: {stdout}");
        for line in fetch {
            assert_eq!(line["format"], *crm);
            let fields: Vec<&str> = line["fetch"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert!(fields.contains(field), "{file}: {line}");
            assert!(
                line["reason"]
                    .as_str()
                    .unwrap()
                    .contains("only what changed"),
                "{line}"
            );
        }
        assert_eq!(out.len(), decided.len() + fetched.len(), "{file}: {stdout}");
    }
}

/// A Salesforce change event's lead is decided with the lead's update keeping
/// its owner (Assignment Rule Header) like any Salesforce record.
#[test]
fn an_event_decision_sends_what_a_native_decision_sends() {
    let (stdout, _, _) = program("qualify", "salesforce-lead-change-create.json");
    let line = &lines(&stdout)[0];
    let lead = line["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"].as_str().unwrap().contains("/sobjects/Lead/"))
        .expect("a lead update");
    assert_eq!(lead["headers"]["Sforce-Auto-Assign"], "FALSE");
    assert_eq!(
        lead["headers"]["If-Unmodified-Since"],
        "Wed, 25 Nov 2026 08:00:00 GMT"
    );
}

/// A malformed event is refused naming the place.
#[test]
fn a_broken_event_is_refused_naming_where() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    std::fs::write(
        &path,
        r#"{"data": {"payload": {"ChangeEventHeader": {"entityName": "Lead", "changeType": "UPDATE", "recordIds": []}}}}"#,
    )
    .unwrap();
    let out = support::cli(
        &[
            "--org-dir",
            "examples/strict",
            "qualify",
            path.to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
    let stderr = support::text(&out.stderr);
    assert!(
        stderr.contains("data.payload.ChangeEventHeader.recordIds"),
        "{stderr}"
    );
}

// ---- The service ----------------------------------------------------------------

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

const HUBSPOT_SECRET: &str = "hubspot-app-secret";
const DATAVERSE_KEY: &str = "dv-webhook-key/1=";

/// The strict org, naming its HubSpot app secret and Dataverse webhook key.
fn start() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let org = dir.path().join("strict");
    copy_dir(&support::root().join("examples/strict"), &org);
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(org.join("org.json")).unwrap()).unwrap();
    config["crm"]["hubspot"]["events"] = serde_json::json!({"secret_env": "TEST_HUBSPOT_SECRET"});
    config["crm"]["dataverse"]["events"] = serde_json::json!({"secret_env": "TEST_DATAVERSE_KEY"});
    std::fs::write(org.join("org.json"), config.to_string()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_crm-rules"))
        .args(["serve", "--orgs"])
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0", "--cache-dir"])
        .arg(Path::new(env!("CARGO_TARGET_TMPDIR")).join("events-cache"))
        .env("TEST_HUBSPOT_SECRET", HUBSPOT_SECRET)
        .env("TEST_DATAVERSE_KEY", DATAVERSE_KEY)
        .current_dir(support::root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the service starts");
    let stderr = child.stderr.take().unwrap();
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("listening on http://") {
                let rest = &line[at + "listening on http://".len()..];
                let _ = send.send(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
    });
    let address = receive
        .recv_timeout(Duration::from_secs(120))
        .expect("the service listens");
    let server = Server {
        child,
        base: format!("http://{address}"),
    };
    let started = Instant::now();
    let agent = agent();
    while started.elapsed() < Duration::from_secs(180) {
        let ready = agent
            .get(format!("{}/readyz", server.base))
            .call()
            .is_ok_and(|r| r.status().as_u16() == 200);
        if ready {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, dir)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

type Answer = (u16, String, Vec<(String, String)>);

fn post(server: &Server, path: &str, body: &[u8], headers: &[(&str, String)]) -> Answer {
    let mut request = agent().post(format!("{}{path}", server.base));
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let mut response = request.send(body).expect("the service answers");
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_to_string().unwrap(),
        headers,
    )
}

#[test]
fn each_event_format_is_decided_by_the_service_as_by_the_program() {
    let (server, _dir) = start();
    let host = server.base.trim_start_matches("http://").to_owned();
    for (file, crm, _, _, _) in CASES {
        let body = std::fs::read(support::root().join("examples/events").join(file)).unwrap();
        let path = format!("/v1/orgs/strict-co/events/{crm}?now={NOW}&emit=both");
        let mut headers = vec![("accept", "application/x-ndjson".to_owned())];
        let path = match *crm {
            "dataverse" => format!("{path}&code=dv-webhook-key%2F1%3D"),
            "hubspot" => {
                let timestamp = (chrono::Utc::now().timestamp_millis()).to_string();
                let uri = format!("http://{host}{path}");
                headers.push(("x-forwarded-proto", "http".to_owned()));
                headers.push((
                    "x-hubspot-signature-v3",
                    hubspot::sign(HUBSPOT_SECRET.as_bytes(), "POST", &uri, &body, &timestamp),
                ));
                headers.push(("x-hubspot-request-timestamp", timestamp));
                path
            }
            _ => path,
        };
        let (status, answer, _) = post(&server, &path, &body, &headers);
        assert_eq!(status, 200, "{file}: {answer}");
        let (printed, _, _) = program("qualify", file);
        assert_eq!(answer, printed, "{file}");
    }

    // HubSpot's signature: none, or another secret's, is refused.
    let body = std::fs::read(support::root().join("examples/events/hubspot-webhook.json")).unwrap();
    let path = format!("/v1/orgs/strict-co/events/hubspot?now={NOW}");
    let (status, answer, _) = post(&server, &path, &body, &[]);
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains("X-HubSpot-Request-Timestamp"), "{answer}");
    let timestamp = chrono::Utc::now().timestamp_millis().to_string();
    let forged = hubspot::sign(
        b"not the secret",
        "POST",
        &format!("http://{host}{path}"),
        &body,
        &timestamp,
    );
    let (status, answer, _) = post(
        &server,
        &path,
        &body,
        &[
            ("x-forwarded-proto", "http".to_owned()),
            ("x-hubspot-signature-v3", forged),
            ("x-hubspot-request-timestamp", timestamp),
        ],
    );
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains("does not match"), "{answer}");
    // Dataverse's webhook key: a wrong one is refused.
    let body =
        std::fs::read(support::root().join("examples/events/dataverse-lead-update.json")).unwrap();
    let (status, answer, _) = post(
        &server,
        "/v1/orgs/strict-co/events/dataverse?code=wrong",
        &body,
        &[],
    );
    assert_eq!(status, 401, "{answer}");
    // Another CRM's event on this CRM's route says so.
    let (status, answer, _) = post(&server, "/v1/orgs/strict-co/events/salesforce", &body, &[]);
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer.contains("dataverse event, not a salesforce one"),
        "{answer}"
    );
    let (status, _, _) = post(&server, "/v1/orgs/strict-co/events/zoho", &body, &[]);
    assert_eq!(status, 404);
    // Salesforce's own Outbound Message call gets the documented Ack.
    let body =
        std::fs::read(support::root().join("examples/events/salesforce-outbound-message.xml"))
            .unwrap();
    let (status, answer, headers) = post(
        &server,
        &format!("/v1/orgs/strict-co/events/salesforce?now={NOW}"),
        &body,
        &[
            ("content-type", "text/xml; charset=utf-8".to_owned()),
            ("soapaction", "\"\"".to_owned()),
        ],
    );
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("<Ack>true</Ack>"), "{answer}");
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "crm-rules-decided" && v == "1"),
        "{headers:?}"
    );
}
