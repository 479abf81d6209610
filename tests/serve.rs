//! End-to-end tests of `crm-rules serve`: the real program started on a loopback
//! port over copies of the example orgs, driven over HTTP. Answers are compared
//! with what the program prints for the same records.
// Helpers outside `#[test]` functions too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const NOW: &str = "2026-11-25T09:00:00Z";

/// A lead the strict org qualifies.
const LEAD: &str = r#"{"id":"H-1","company":"Kraus Medical","contact_name":"Lena Kraus","email":"l@k.example","source":"web_form","engagement":"contract","budget_status":"will_buy","decision_maker_known":true,"need":"must_have","timeframe":"immediate"}"#;

/// The compiled-module cache every server of these tests shares.
fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-cache")
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

/// A folder of org folders: copies of the named example orgs.
fn orgs(names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in names {
        copy_dir(
            &support::root().join("examples").join(name),
            &dir.path().join(name),
        );
    }
    dir
}

/// Makes a key with `crm-rules keys add`; the key is the last word printed.
fn add_key(keys: &Path, args: &[&str]) -> String {
    let mut all = vec!["keys", "add", "--keys", keys.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = support::cli(&all, None);
    assert!(out.status.success(), "{}", support::text(&out.stderr));
    let stdout = support::text(&out.stdout);
    stdout
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().last())
        .unwrap()
        .to_owned()
}

/// A running service.
struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<String>>,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn lines(&self) -> Vec<Value> {
        self.body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

fn answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = response.expect("the service answers");
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    Answer {
        status: response.status().as_u16(),
        headers,
        body: response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .unwrap(),
    }
}

impl Server {
    fn start(orgs: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crm-rules"))
            .args(["serve", "--orgs"])
            .arg(orgs)
            .args(["--listen", "127.0.0.1:0", "--cache-dir"])
            .arg(cache_dir())
            .args(extra)
            .current_dir(support::root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the service starts");
        let log = Arc::new(Mutex::new(String::new()));
        let (send, receive) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("listening on http://") {
                    let rest = &line[at + "listening on http://".len()..];
                    let address = rest.split_whitespace().next().unwrap_or_default();
                    let _ = send.send(address.to_owned());
                }
                let mut log = kept.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let address = receive
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("the service did not listen: {}", log.lock().unwrap()));
        let server = Server {
            child,
            base: format!("http://{address}"),
            log,
        };
        server
    }

    /// Waits until /readyz says ready.
    fn ready(self) -> Server {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(180) {
            if self.get("/readyz", None).status == 200 {
                return self;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the service never got ready: {}", self.log());
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn get(&self, path: &str, key: Option<&str>) -> Answer {
        let mut request = agent().get(format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        answer(request.call())
    }

    fn post(&self, path: &str, key: Option<&str>, body: &[u8]) -> Answer {
        self.post_with(path, key, body, &[])
    }

    fn post_with(
        &self,
        path: &str,
        key: Option<&str>,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = agent().post(format!("{}{path}", self.base));
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            request = request.header("content-type", "application/json");
        }
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.send(body))
    }

    fn delete(&self, path: &str, key: Option<&str>) -> Answer {
        let mut request = agent().delete(format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        answer(request.call())
    }

    /// Sends a signal (`HUP`, `TERM`, ...).
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Whether the process still runs.
    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits until the log holds `text`.
    fn wait_for_log(&self, text: &str) {
        let started = Instant::now();
        while !self.log().contains(text) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no `{text}` in the log: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Sends SIGTERM.
    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait(mut self) -> (ExitStatus, String) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the service did not stop: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the program prints for these records of an example org.
fn program(org: &str, kind: &str, input: &str, extra: &[&str]) -> String {
    let dir = format!("examples/{org}");
    let mut args = vec!["--org-dir", &dir, "--provenance"];
    if !extra.contains(&"--now") {
        args.extend(["--now", NOW]);
    }
    args.extend_from_slice(extra);
    args.push(kind);
    if kind != "stages" {
        args.push("-");
    }
    let out = support::cli(&args, Some(input));
    support::text(&out.stdout)
}

#[test]
fn keys_reach_only_their_orgs() {
    let dir = orgs(&["strict", "loose"]);
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = keys_dir.path().join("keys.json");
    let strict = add_key(&keys, &["strict-co"]);
    let loose = add_key(&keys, &["loose-ltd"]);
    let admin = add_key(&keys, &["--admin"]);
    let stored = std::fs::read_to_string(&keys).unwrap();
    assert!(
        !stored.contains(&strict[4..]),
        "a key is stored in plain text"
    );
    let server = Server::start(dir.path(), &["--keys", keys.to_str().unwrap()]).ready();
    let qualify = "/v1/orgs/strict-co/qualify";
    let no_key = server.post(qualify, None, LEAD.as_bytes());
    assert_eq!(no_key.status, 401, "{}", no_key.body);
    assert_eq!(no_key.json()["error"]["code"], "unauthorized");
    assert!(no_key.header("www-authenticate").is_some());
    assert_eq!(
        server
            .post(qualify, Some("crk_not-a-key"), LEAD.as_bytes())
            .status,
        401
    );
    let other = server.post(qualify, Some(&loose), LEAD.as_bytes());
    assert_eq!(other.status, 403, "{}", other.body);
    assert_eq!(other.json()["error"]["code"], "forbidden");
    // A key learns nothing about orgs it does not reach: 403, not 404.
    assert_eq!(
        server
            .post("/v1/orgs/nobody/qualify", Some(&loose), LEAD.as_bytes())
            .status,
        403
    );
    assert_eq!(
        server
            .post("/v1/orgs/nobody/qualify", Some(&admin), LEAD.as_bytes())
            .status,
        404
    );
    let own = server.post(qualify, Some(&strict), LEAD.as_bytes());
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.json()["decision"]["outcome"], "qualified");
    assert_eq!(
        server.post(qualify, Some(&admin), LEAD.as_bytes()).status,
        200
    );
    // Management is for admin keys.
    assert_eq!(
        server
            .get("/v1/orgs/strict-co/versions", Some(&strict))
            .status,
        403
    );
    assert_eq!(
        server
            .get("/v1/orgs/strict-co/versions", Some(&admin))
            .status,
        200
    );
    let listed = server.get("/v1/orgs", Some(&strict)).json();
    assert_eq!(listed["orgs"].as_array().unwrap().len(), 1);
    assert!(listed.get("folders").is_none());
    // A key removed from the file stops working without a restart.
    let id = std::fs::read_to_string(&keys).unwrap();
    let id: Value = serde_json::from_str(&id).unwrap();
    let loose_id = id["keys"][1]["id"].as_str().unwrap().to_owned();
    let out = support::cli(
        &[
            "keys",
            "remove",
            &loose_id,
            "--keys",
            keys.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success());
    let started = Instant::now();
    loop {
        let status = server.get("/v1/orgs/loose-ltd/stages", Some(&loose)).status;
        if status == 401 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the removed key still works"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn without_keys_the_service_listens_on_loopback_only() {
    let dir = orgs(&["strict"]);
    let out = support::cli(
        &[
            "serve",
            "--orgs",
            dir.path().to_str().unwrap(),
            "--listen",
            "0.0.0.0:0",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(support::text(&out.stderr).contains("without --keys"));
}

#[test]
fn every_fixture_is_answered_as_the_program_answers_it() {
    let dir = orgs(&["strict", "loose"]);
    let server = Server::start(dir.path(), &[]).ready();
    let mut compared = 0;
    for (folder, org) in [("strict", "strict-co"), ("loose", "loose-ltd")] {
        let fixtures = support::root()
            .join("examples")
            .join(folder)
            .join("fixtures");
        let mut paths: Vec<_> = std::fs::read_dir(fixtures)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        for path in paths {
            let fixture: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let kind = fixture["decision"].as_str().unwrap();
            let now = fixture["now"].as_str().unwrap_or(NOW);
            if kind == "stages" {
                let served = server.get(&format!("/v1/orgs/{org}/stages"), None);
                let printed = program(folder, "stages", "", &[]);
                assert_eq!(served.body, printed, "{}", path.display());
                compared += 1;
                continue;
            }
            let input = fixture["input"].to_string();
            let native = fixture.get("expect_native").is_some();
            let emit = if native { "both" } else { "decision" };
            let served = server.post(
                &format!("/v1/orgs/{org}/{kind}?now={now}&emit={emit}"),
                None,
                input.as_bytes(),
            );
            let printed = program(folder, kind, &input, &["--now", now, "--emit", emit]);
            assert_eq!(served.body, printed, "{}", path.display());
            let failed = fixture.get("expect_error").is_some();
            assert_eq!(
                served.status == 200,
                !failed,
                "{}: {}",
                path.display(),
                served.status
            );
            assert!(served.header("crm-rules-version").is_some() || failed);
            compared += 1;
        }
    }
    assert!(compared > 50, "only {compared} fixtures compared");
}

#[test]
fn a_batch_keeps_positions_and_error_objects_line_for_line() {
    let dir = orgs(&["strict"]);
    let server = Server::start(dir.path(), &[]).ready();
    let lead = |id: &str| LEAD.replace("H-1", id);
    let lines = format!(
        "{}\n{{\"id\": \n{}\n{}\n",
        lead("B-1"),
        lead("B-3").replace("\"will_buy\"", "7"),
        lead("B-4")
    );
    let served = server.post(
        &format!("/v1/orgs/strict-co/qualify?now={NOW}"),
        None,
        lines.as_bytes(),
    );
    assert_eq!(served.status, 200);
    assert_eq!(served.header("content-type"), Some("application/x-ndjson"));
    assert_eq!(served.header("crm-rules-failed"), Some("2"));
    assert_eq!(served.body, program("strict", "qualify", &lines, &[]));
    let answers = served.lines();
    assert_eq!(answers[1]["position"], 2);
    assert_eq!(answers[1]["error"]["code"], "invalid_input");
    assert_eq!(answers[2]["error"]["field"], "budget_status");
    // One record alone, broken or not, reads as the program reads it.
    for body in ["{\"id\": \n", "  {\"id\": ", "{\"id\": \"x\"}\r\n"] {
        let served = server.post(
            &format!("/v1/orgs/strict-co/qualify?now={NOW}"),
            None,
            body.as_bytes(),
        );
        assert_eq!(
            served.body,
            program("strict", "qualify", body, &[]),
            "{body:?}"
        );
    }
    // An array is answered the same, or as one JSON array when asked.
    let array = format!("[{},{}]", lead("A-1"), lead("A-2"));
    let served = server.post(
        &format!("/v1/orgs/strict-co/qualify?now={NOW}"),
        None,
        array.as_bytes(),
    );
    assert_eq!(served.body, program("strict", "qualify", &array, &[]));
    let as_array = server.post_with(
        &format!("/v1/orgs/strict-co/qualify?now={NOW}"),
        None,
        array.as_bytes(),
        &[("accept", "application/json")],
    );
    assert_eq!(as_array.json().as_array().unwrap().len(), 2);
    // A batch large enough to be split between threads keeps input order.
    let many: String = (0..3000).map(|i| lead(&format!("M-{i}")) + "\n").collect();
    let served = server.post(
        &format!("/v1/orgs/strict-co/qualify?now={NOW}"),
        None,
        many.as_bytes(),
    );
    assert_eq!(served.body, program("strict", "qualify", &many, &[]));
    let many_array = format!("[{}]", many.trim_end().replace('\n', ","));
    let served = server.post(
        &format!("/v1/orgs/strict-co/qualify?now={NOW}"),
        None,
        many_array.as_bytes(),
    );
    assert_eq!(served.body, program("strict", "qualify", &many_array, &[]));
}

#[test]
fn bad_requests_get_clear_errors_and_the_service_stays_up() {
    let dir = orgs(&["strict"]);
    let server = Server::start(
        dir.path(),
        &["--max-body-bytes", "100000", "--read-timeout", "1"],
    )
    .ready();
    let qualify = format!("/v1/orgs/strict-co/qualify?now={NOW}");
    let malformed = server.post(&qualify, None, b"{\"id\": ");
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert_eq!(malformed.json()["error"]["code"], "invalid_input");
    let wrong = server.post(&qualify, None, LEAD.replace("\"will_buy\"", "7").as_bytes());
    assert_eq!(wrong.status, 422);
    assert_eq!(wrong.json()["error"]["field"], "budget_status");
    let empty = server.post(&qualify, None, b"");
    assert_eq!(empty.status, 400);
    let bad_array = server.post(&qualify, None, b"[{\"id\": 1},");
    assert_eq!(bad_array.status, 400);
    assert_eq!(bad_array.json()["error"]["code"], "invalid_input");
    let not_utf8 = server.post(&qualify, None, b"\xff\xfe{}");
    assert_eq!(not_utf8.status / 100, 4);
    let bad_format = server.post(&format!("{qualify}&format=excel"), None, LEAD.as_bytes());
    assert_eq!(bad_format.status, 400);
    let bad_param = server.post(&format!("{qualify}&colour=red"), None, LEAD.as_bytes());
    assert_eq!(bad_param.status, 400);
    let unknown = server.post("/v1/orgs/nobody/qualify", None, LEAD.as_bytes());
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["code"], "unknown_org");
    assert_eq!(server.get("/v1/nothing", None).status, 404);
    let huge = vec![b' '; 200_000];
    let too_large = server.post(&qualify, None, &huge);
    assert_eq!(too_large.status, 413);
    assert_eq!(too_large.json()["error"]["code"], "body_too_large");
    // A client that stops sending its body is cut off, and others are served.
    let mut slow = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    write!(
        slow,
        "POST /v1/orgs/strict-co/qualify HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"id\""
    )
    .unwrap();
    assert_eq!(server.post(&qualify, None, LEAD.as_bytes()).status, 200);
    let mut answer = String::new();
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let _ = slow.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // A client that never finishes its headers is cut off too.
    let mut idle = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    write!(
        idle,
        "POST /v1/orgs/strict-co/qualify HTTP/1.1\r\nhost: x\r\n"
    )
    .unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut rest = Vec::new();
    let started = Instant::now();
    let _ = idle.read_to_end(&mut rest);
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(server.get("/healthz", None).status, 200);
}

#[test]
fn native_records_are_read_in_their_format_and_answered_with_native_actions() {
    let dir = orgs(&["strict"]);
    let server = Server::start(dir.path(), &[]).ready();
    for (file, format) in [
        ("salesforce-leads.json", "salesforce"),
        ("dataverse-leads.json", "dataverse"),
        ("hubspot-contacts.json", "hubspot"),
    ] {
        let input =
            std::fs::read_to_string(support::root().join("examples/native").join(file)).unwrap();
        let served = server.post(
            &format!("/v1/orgs/strict-co/qualify?now={NOW}&emit=both&format={format}"),
            None,
            input.as_bytes(),
        );
        let printed = program(
            "strict",
            "qualify",
            &input,
            &["--emit", "both", "--format", format],
        );
        assert_eq!(served.body, printed, "{file}");
        assert!(
            served.body.contains("\"actions\""),
            "{file}: {}",
            served.body
        );
    }
}

#[test]
fn a_changed_org_folder_is_swapped_in_and_a_broken_one_keeps_its_version() {
    let dir = orgs(&["strict"]);
    let server = Server::start(dir.path(), &[]).ready();
    let qualify = format!("/v1/orgs/strict-co/qualify?now={NOW}");
    let first = server.post(&qualify, None, LEAD.as_bytes()).json();
    let v1 = first["by"]["version"].as_str().unwrap().to_owned();
    // A new policy: a new version, picked up without a restart.
    let policy_path = dir.path().join("strict/policy.json");
    let mut policy: Value =
        serde_json::from_str(&std::fs::read_to_string(&policy_path).unwrap()).unwrap();
    policy["name"] = json!("strict, edited");
    std::fs::write(&policy_path, serde_json::to_string_pretty(&policy).unwrap()).unwrap();
    let v2 = wait_for_version(&server, &qualify, |v| v != v1);
    // A broken org.json: the version before keeps serving, and the admin sees why.
    let org_json = dir.path().join("strict/org.json");
    let good = std::fs::read_to_string(&org_json).unwrap();
    std::fs::write(&org_json, "{\"org_id\": ").unwrap();
    let started = Instant::now();
    loop {
        let orgs = server.get("/v1/orgs", None).json();
        if orgs["folders"][0]["error"].is_string() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no load error: {orgs}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let answer = server.post(&qualify, None, LEAD.as_bytes());
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["by"]["version"], v2.as_str());
    assert_eq!(
        server.get("/readyz", None).status,
        200,
        "an older version still serves"
    );
    assert!(server
        .get("/metrics", None)
        .body
        .contains("crm_rules_org_load_failures_total{org=\"strict-co\"}"));
    // Fixed again: the first version comes back.
    std::fs::write(&org_json, good).unwrap();
    policy["name"] = json!("strict");
    let original =
        std::fs::read_to_string(support::root().join("examples/strict/policy.json")).unwrap();
    std::fs::write(&policy_path, original).unwrap();
    wait_for_version(&server, &qualify, |v| v == v1);
    // A new org folder is served; a removed one is not.
    copy_dir(
        &support::root().join("examples/loose"),
        &dir.path().join("loose"),
    );
    let started = Instant::now();
    while server
        .post("/v1/orgs/loose-ltd/qualify", None, LEAD.as_bytes())
        .status
        != 200
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the new org is not served"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::fs::remove_dir_all(dir.path().join("loose")).unwrap();
    let started = Instant::now();
    while server
        .post("/v1/orgs/loose-ltd/qualify", None, LEAD.as_bytes())
        .status
        != 404
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the removed org is still served"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_for_version(server: &Server, path: &str, wanted: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let answer = server.post(path, None, LEAD.as_bytes());
        assert_eq!(answer.status, 200, "{}", answer.body);
        let version = answer.json()["by"]["version"].as_str().unwrap().to_owned();
        if wanted(&version) {
            assert_eq!(answer.header("crm-rules-version"), Some(version.as_str()));
            return version;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "still version {version}: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn versions_swap_under_concurrent_requests_without_a_failed_request() {
    let dir = orgs(&["strict"]);
    let server = Server::start(dir.path(), &[]).ready();
    let versions = server.get("/v1/orgs/strict-co/versions", None).json();
    let v1 = versions[0]["version"].as_str().unwrap().to_owned();
    let uploaded = server.post_with(
        "/v1/orgs/strict-co/versions?version=v2",
        None,
        crm_rules::REFERENCE_MODULE,
        &[("content-type", "application/wasm")],
    );
    assert_eq!(uploaded.status, 201, "{}", uploaded.body);
    assert_eq!(uploaded.json()["version"], "v2");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let base = server.base.clone();
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, base) = (stop.clone(), base.clone());
            std::thread::spawn(move || {
                let agent = agent();
                let mut seen = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let answer = answer(
                        agent
                            .post(format!("{base}/v1/orgs/strict-co/qualify"))
                            .send(LEAD.as_bytes()),
                    );
                    assert_eq!(answer.status, 200, "{}", answer.body);
                    let version = answer.json()["by"]["version"].as_str().unwrap().to_owned();
                    assert_eq!(answer.header("crm-rules-version"), Some(version.as_str()));
                    seen.push(version);
                }
                seen
            })
        })
        .collect();
    for i in 0..60 {
        let version = if i % 2 == 0 { "v2" } else { v1.as_str() };
        let activated = server.post(
            &format!("/v1/orgs/strict-co/versions/{version}/activate"),
            None,
            b"",
        );
        assert_eq!(activated.status, 200, "{}", activated.body);
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(seen.len() > 20, "only {} answers", seen.len());
    let named: std::collections::BTreeSet<&str> = seen.iter().map(String::as_str).collect();
    let known: std::collections::BTreeSet<&str> = [v1.as_str(), "v2"].into_iter().collect();
    assert!(named.is_subset(&known), "{named:?}");
    let rolled = server.post("/v1/orgs/strict-co/rollback", None, b"");
    assert_eq!(rolled.status, 200, "{}", rolled.body);
    assert_eq!(rolled.json()["active"], "v2");
    let metrics = server.get("/metrics", None).body;
    assert!(
        metrics.contains("crm_rules_active_module{org=\"strict-co\",version=\"v2\""),
        "{metrics}"
    );
    assert!(metrics.contains("crm_rules_module_swaps_total{org=\"strict-co\"}"));
}

#[test]
fn an_upload_must_carry_a_valid_signature_when_the_org_trusts_keys() {
    let dir = tempfile::tempdir().unwrap();
    let org = dir.path().join("signed");
    std::fs::create_dir_all(&org).unwrap();
    std::fs::write(org.join("module.wasm"), crm_rules::REFERENCE_MODULE).unwrap();
    std::fs::copy(
        support::root().join("examples/strict/policy.json"),
        org.join("policy.json"),
    )
    .unwrap();
    let secret = dir.path().join("approver.key");
    let out = support::cli(
        &["module", "keygen", "--secret", secret.to_str().unwrap()],
        None,
    );
    assert!(out.status.success(), "{}", support::text(&out.stderr));
    let public = support::text(&out.stdout)
        .split_whitespace()
        .last()
        .unwrap()
        .to_owned();
    let module = org.join("module.wasm");
    let out = support::cli(
        &[
            "module",
            "sign",
            module.to_str().unwrap(),
            "--key",
            secret.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", support::text(&out.stderr));
    std::fs::write(
        org.join("org.json"),
        json!({"org_id": "signed-co", "module": "module.wasm", "policy": "policy.json", "trusted_keys": [public]}).to_string(),
    )
    .unwrap();
    let server = Server::start(dir.path(), &[]).ready();
    let upload = |headers: &[(&str, &str)]| {
        let mut all = vec![("content-type", "application/wasm")];
        all.extend_from_slice(headers);
        server.post_with(
            "/v1/orgs/signed-co/versions?version=next",
            None,
            crm_rules::REFERENCE_MODULE,
            &all,
        )
    };
    let unsigned = upload(&[]);
    assert_eq!(unsigned.status, 403, "{}", unsigned.body);
    assert_eq!(unsigned.json()["error"]["code"], "integrity");
    let forged = "00".repeat(64);
    assert_eq!(upload(&[("crm-rules-signature", &forged)]).status, 403);
    let signature = std::fs::read_to_string(org.join("module.wasm.sig")).unwrap();
    let signed = upload(&[("crm-rules-signature", signature.trim())]);
    assert_eq!(signed.status, 201, "{}", signed.body);
    let garbage = server.post_with(
        "/v1/orgs/signed-co/versions?version=garbage",
        None,
        b"not a module",
        &[
            ("content-type", "application/wasm"),
            ("crm-rules-signature", signature.trim()),
        ],
    );
    assert_eq!(
        garbage.status, 403,
        "the signature does not cover other bytes"
    );
}

#[test]
fn metrics_openapi_and_health_answer_and_counters_move() {
    let dir = orgs(&["strict"]);
    let server = Server::start(dir.path(), &[]).ready();
    assert_eq!(server.get("/healthz", None).status, 200);
    let readiness = server.get("/readyz", None).json();
    assert_eq!(readiness["ready"], true);
    let qualify = format!("/v1/orgs/strict-co/qualify?now={NOW}");
    for _ in 0..3 {
        assert_eq!(server.post(&qualify, None, LEAD.as_bytes()).status, 200);
    }
    assert_eq!(server.post(&qualify, None, b"{\"id\": ").status, 400);
    let metrics = server.get("/metrics", None).body;
    let counter = |line: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(line))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {line} in {metrics}"))
    };
    assert_eq!(
        counter(
            "crm_rules_decisions_total{org=\"strict-co\",kind=\"qualify\",outcome=\"decided\"}"
        ),
        3.0
    );
    assert_eq!(
        counter("crm_rules_decisions_total{org=\"strict-co\",kind=\"qualify\",outcome=\"failed\"}"),
        1.0
    );
    assert_eq!(counter("crm_rules_decision_errors_total{org=\"strict-co\",kind=\"qualify\",code=\"invalid_input\"}"), 1.0);
    assert!(counter("crm_rules_fuel_used_total{org=\"strict-co\",kind=\"qualify\"}") > 0.0);
    assert_eq!(
        counter(
            "crm_rules_decision_request_duration_seconds_count{org=\"strict-co\",kind=\"qualify\"}"
        ),
        4.0
    );
    assert!(counter("crm_rules_warm_instances{org=\"strict-co\"}") >= 1.0);
    assert_eq!(
        counter("crm_rules_http_responses_total{status=\"200\"}"),
        3.0
    );
    // The OpenAPI document describes the answer lines the service really sends.
    let document = server.get("/openapi.json", None).json();
    assert!(document["paths"]["/v1/orgs/{org}/qualify"]["post"].is_object());
    let line_fields = document["components"]["schemas"]["QualifyLine"]["properties"]
        .as_object()
        .unwrap();
    let answer = server
        .post(&format!("{qualify}&emit=both"), None, LEAD.as_bytes())
        .json();
    for field in answer.as_object().unwrap().keys() {
        assert!(
            line_fields.contains_key(field),
            "{field} is not in the document"
        );
    }
    let module = server.get("/v1/orgs/strict-co/module", None).json();
    let module_fields = document["components"]["schemas"]["ModuleDoc"]["properties"]
        .as_object()
        .unwrap();
    for field in module.as_object().unwrap().keys() {
        assert!(
            module_fields.contains_key(field),
            "module field {field} is not in the document"
        );
    }
    let versions = server.get("/v1/orgs/strict-co/versions", None).json();
    let version_fields = document["components"]["schemas"]["VersionDoc"]["properties"]
        .as_object()
        .unwrap();
    for field in versions[0].as_object().unwrap().keys() {
        assert!(
            version_fields.contains_key(field),
            "version field {field} is not in the document"
        );
    }
}

#[test]
fn every_answered_decision_is_in_the_audit_log() {
    let dir = orgs(&["strict"]);
    let audit = tempfile::tempdir().unwrap();
    let server =
        Server::start(dir.path(), &["--audit-dir", audit.path().to_str().unwrap()]).ready();
    let lines: String = (0..5)
        .map(|i| LEAD.replace("H-1", &format!("A-{i}")) + "\n")
        .collect();
    let answer = server.post(
        &format!("/v1/orgs/strict-co/qualify?now={NOW}"),
        None,
        lines.as_bytes(),
    );
    assert_eq!(answer.status, 200);
    assert_eq!(
        server
            .post("/v1/orgs/strict-co/qualify", None, LEAD.as_bytes())
            .status,
        200
    );
    // Written and synced before the answers were sent.
    let log = audit.path().join("strict-co.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    // Six decisions; each synced request also ends with a signed checkpoint.
    let entries: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|entry: &serde_json::Value| entry["kind"] != "checkpoint")
        .collect();
    assert_eq!(entries.len(), 6, "{text}");
    assert!(!text.contains("Lena Kraus"), "personal data is masked");
    let out = support::cli(&["audit", "verify", log.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", support::text(&out.stdout));
}

#[test]
fn shutdown_lets_requests_in_flight_finish() {
    let dir = orgs(&["strict"]);
    let server = Server::start(dir.path(), &[]).ready();
    let many: String = (0..40_000)
        .map(|i| LEAD.replace("H-1", &format!("S-{i}")) + "\n")
        .collect();
    let base = server.base.clone();
    let request = std::thread::spawn(move || {
        answer(
            agent()
                .post(format!("{base}/v1/orgs/strict-co/qualify"))
                .send(many.as_bytes()),
        )
    });
    // Until the request is in flight.
    let started = Instant::now();
    loop {
        let metrics = server.get("/metrics", None).body;
        if metrics.contains("crm_rules_in_flight_requests 1") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the request never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    server.terminate();
    let answer = request.join().unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body.lines().count(), 40_000);
    let (status, log) = server.wait();
    assert!(status.success(), "{log}");
    assert!(log.contains("shutting down"), "{log}");
}

#[test]
fn a_runaway_module_costs_its_own_org_and_not_the_others() {
    let dir = orgs(&["strict"]);
    let hostile = dir.path().join("hostile");
    std::fs::create_dir_all(&hostile).unwrap();
    std::fs::write(
        hostile.join("hostile.wasm"),
        crm_rules_test_modules::HOSTILE,
    )
    .unwrap();
    std::fs::copy(
        support::root().join("examples/strict/policy.json"),
        hostile.join("policy.json"),
    )
    .unwrap();
    std::fs::write(
        hostile.join("org.json"),
        json!({"org_id": "hostile-co", "module": "hostile.wasm", "policy": "policy.json",
               "limits": {"fuel": 50_000_000u64, "deadline_ms": 500, "memory_bytes": 16_777_216}})
        .to_string(),
    )
    .unwrap();
    let server = Server::start(dir.path(), &[]).ready();
    for id in ["loop", "alloc"] {
        let answer = server.post(
            "/v1/orgs/hostile-co/qualify",
            None,
            format!("{{\"id\": \"{id}\"}}").as_bytes(),
        );
        assert!(
            answer.status == 422 || answer.status == 503,
            "{id}: {} {}",
            answer.status,
            answer.body
        );
        assert_eq!(answer.json()["error"]["code"], "module_stopped", "{id}");
        let ok = server.post("/v1/orgs/strict-co/qualify", None, LEAD.as_bytes());
        assert_eq!(ok.status, 200);
    }
    assert!(server.log().contains("lowest priority"), "{}", server.log());
    let metrics = server.get("/metrics", None).body;
    assert!(metrics.contains("code=\"module_stopped\""), "{metrics}");
}

// The service in production: readiness, signals, versions, keys, request ids.

/// Uploads the reference module as a version of strict-co.
fn upload(server: &Server, query: &str, headers: &[(&str, &str)]) -> Answer {
    let mut all = vec![("content-type", "application/wasm")];
    all.extend_from_slice(headers);
    server.post_with(
        &format!("/v1/orgs/strict-co/versions?{query}"),
        None,
        crm_rules::REFERENCE_MODULE,
        &all,
    )
}

#[test]
fn one_broken_org_folder_leaves_the_service_ready_and_is_reported_per_org() {
    let dir = orgs(&["strict", "loose"]);
    // A typo, and a second folder claiming an org that is already served.
    std::fs::create_dir_all(dir.path().join("typo")).unwrap();
    std::fs::write(dir.path().join("typo/org.json"), "{\"org_id\": ").unwrap();
    copy_dir(
        &support::root().join("examples/strict"),
        &dir.path().join("strict-again"),
    );
    let server = Server::start(dir.path(), &[]).ready();
    let readiness = server.get("/readyz", None).json();
    assert_eq!(readiness["ready"], true, "{readiness}");
    assert_eq!(readiness["failed"], 2, "{readiness}");
    assert_eq!(readiness["loaded"], 2, "{readiness}");
    let lead = server.post(
        &format!("/v1/orgs/loose-ltd/qualify?now={NOW}"),
        None,
        LEAD.as_bytes(),
    );
    assert_eq!(lead.status, 200, "{}", lead.body);
    let list = server.get("/v1/orgs", None).json();
    let folders = list["folders"].as_array().unwrap();
    let failed: Vec<&str> = folders
        .iter()
        .filter(|f| f["error"].is_string())
        .map(|f| f["folder"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["strict-again", "typo"], "{list}");
    let metrics = server.get("/metrics", None).body;
    assert!(
        metrics.contains("crm_rules_org_folder_healthy{folder=\"typo\",org=\"\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("crm_rules_org_folder_healthy{folder=\"loose\",org=\"loose-ltd\"} 1"),
        "{metrics}"
    );
    // Broken while serving: still ready.
    std::fs::write(dir.path().join("loose/org.json"), "{").unwrap();
    server.signal("HUP");
    server.wait_for_log("SIGHUP: done");
    assert_eq!(server.get("/readyz", None).status, 200);
}

#[test]
fn sighup_reloads_keys_and_folders_and_does_not_stop_the_service() {
    let dir = orgs(&["strict"]);
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = keys_dir.path().join("keys.json");
    let key = add_key(&keys, &["strict-co"]);
    let mut server = Server::start(dir.path(), &["--keys", keys.to_str().unwrap()]).ready();
    server.signal("HUP");
    server.wait_for_log("SIGHUP: done; keys unchanged; 1 org folders, 0 failed to load");
    assert!(
        server.alive(),
        "SIGHUP stopped the service: {}",
        server.log()
    );
    let answer = server.post(
        &format!("/v1/orgs/strict-co/qualify?now={NOW}"),
        Some(&key),
        LEAD.as_bytes(),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(server
        .log()
        .contains("SIGHUP: reading the keys file and the org folders again"));
}

#[test]
fn a_version_uploaded_unsigned_cannot_be_activated_once_the_org_trusts_keys() {
    let dir = orgs(&["strict"]);
    let server = Server::start(dir.path(), &[]).ready();
    let first = server
        .post(
            &format!("/v1/orgs/strict-co/qualify?now={NOW}"),
            None,
            LEAD.as_bytes(),
        )
        .json()["by"]["version"]
        .as_str()
        .unwrap()
        .to_owned();
    let unsigned = upload(&server, "version=unsigned", &[]);
    assert_eq!(unsigned.status, 201, "{}", unsigned.body);
    let other = upload(&server, "version=unsigned-2", &[]);
    assert_eq!(other.status, 201, "{}", other.body);
    let activated = server.post("/v1/orgs/strict-co/versions/unsigned-2/activate", None, b"");
    assert_eq!(activated.status, 200, "{}", activated.body);
    // The org now trusts a key (its folder's own module signed by it).
    let secret = dir.path().join("approver.key");
    let out = support::cli(
        &["module", "keygen", "--secret", secret.to_str().unwrap()],
        None,
    );
    assert!(out.status.success(), "{}", support::text(&out.stderr));
    let public = support::text(&out.stdout).trim().to_owned();
    let org_json = dir.path().join("strict/org.json");
    let mut file: Value =
        serde_json::from_str(&std::fs::read_to_string(&org_json).unwrap()).unwrap();
    file["trusted_keys"] = json!([public]);
    std::fs::write(&org_json, file.to_string()).unwrap();
    let reloaded = server.post("/v1/orgs/strict-co/reload", None, b"");
    assert_eq!(
        reloaded.status, 422,
        "the folder's module is unsigned: {}",
        reloaded.body
    );
    // The folder's load failed, but its org.json's rules hold all the same.
    let refused = server.post("/v1/orgs/strict-co/versions/unsigned/activate", None, b"");
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.json()["error"]["code"], "integrity");
    let rollback = server.post("/v1/orgs/strict-co/rollback", None, b"");
    assert_eq!(rollback.status, 403, "{}", rollback.body);
    let again = upload(&server, "version=unsigned-3&activate=true", &[]);
    assert_eq!(again.status, 403, "{}", again.body);
    // Nothing changed: the version activated before decides.
    let answer = server.post(
        &format!("/v1/orgs/strict-co/qualify?now={NOW}"),
        None,
        LEAD.as_bytes(),
    );
    assert_eq!(answer.json()["by"]["version"], "unsigned-2", "not {first}");
}

#[test]
fn version_labels_are_plain_tokens_and_versions_can_be_removed_and_are_pruned() {
    let dir = orgs(&["strict"]);
    let server = Server::start(dir.path(), &["--keep-versions", "3"]).ready();
    for label in [
        "%0d%0aX-Injected:%201",
        "..%2F..%2Fx",
        "a%2Fb",
        ".hidden",
        "",
    ] {
        let refused = upload(&server, &format!("version={label}"), &[]);
        assert_eq!(refused.status, 400, "{label}: {}", refused.body);
        let error = &refused.json()["error"];
        assert_eq!(error["code"], "invalid_version", "{label}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("letters, digits"),
            "{error}"
        );
    }
    let missing = server.post("/v1/orgs/strict-co/versions/nope/activate", None, b"");
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert_eq!(missing.json()["error"]["code"], "unknown_version");
    let bad = server.post("/v1/orgs/strict-co/versions/a..b/activate", None, b"");
    assert_eq!(bad.status, 400, "{}", bad.body);
    for label in ["v1", "v2", "v3", "v4"] {
        let added = upload(&server, &format!("version={label}"), &[]);
        assert_eq!(added.status, 201, "{}", added.body);
    }
    let labels = || -> Vec<String> {
        server
            .get("/v1/orgs/strict-co/versions", None)
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_str().unwrap().to_owned())
            .collect()
    };
    let kept = labels();
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert!(
        kept.contains(&"v4".to_owned()) && !kept.contains(&"v1".to_owned()),
        "{kept:?}"
    );
    let active = server.get("/v1/orgs/strict-co/module", None).json()["version"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(kept.contains(&active), "the active version is never pruned");
    let refused = server.delete(&format!("/v1/orgs/strict-co/versions/{active}"), None);
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(
        server.delete("/v1/orgs/strict-co/versions/v4", None).status,
        204
    );
    assert!(!labels().contains(&"v4".to_owned()));
    let gone = server.delete("/v1/orgs/strict-co/versions/v4", None);
    assert_eq!(gone.status, 404, "{}", gone.body);
}

#[test]
fn the_keys_watcher_ignores_other_files_in_the_keys_folder() {
    let dir = orgs(&["strict"]);
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = keys_dir.path().join("keys.json");
    let first = add_key(&keys, &["strict-co"]);
    let server = Server::start(dir.path(), &["--keys", keys.to_str().unwrap()]).ready();
    // A log written beside the keys file, as the README's setup does.
    let log = keys_dir.path().join("serve.log");
    for i in 0..6 {
        std::fs::write(&log, format!("line {i}\n")).unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    // The same keys written again: nothing to reload either.
    let same = std::fs::read(&keys).unwrap();
    std::fs::write(&keys, &same).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let reloads = |log: &str| log.matches(": 1 keys").count() + log.matches(": 2 keys").count();
    assert_eq!(reloads(&server.log()), 0, "{}", server.log());
    // A new key is picked up, once.
    let second = add_key(&keys, &["strict-co"]);
    server.wait_for_log(": 2 keys");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(reloads(&server.log()), 1, "{}", server.log());
    for key in [&first, &second] {
        let answer = server.post(
            &format!("/v1/orgs/strict-co/qualify?now={NOW}"),
            Some(key),
            LEAD.as_bytes(),
        );
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
}

#[test]
fn keys_add_refuses_an_org_no_folder_names() {
    let dir = orgs(&["strict"]);
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = keys_dir.path().join("keys.json");
    let orgs_arg = dir.path().to_str().unwrap();
    let refused = support::cli(
        &[
            "keys",
            "add",
            "strict-c0",
            "--keys",
            keys.to_str().unwrap(),
            "--orgs",
            orgs_arg,
        ],
        None,
    );
    assert!(!refused.status.success());
    let message = support::text(&refused.stderr);
    assert!(
        message.contains("strict-c0") && message.contains("strict-co"),
        "{message}"
    );
    assert!(!keys.exists(), "nothing written");
    add_key(&keys, &["strict-co", "--orgs", orgs_arg]);
}

#[test]
fn request_ids_are_echoed_or_made_and_now_is_bounded() {
    let dir = orgs(&["strict"]);
    let server = Server::start(dir.path(), &[]).ready();
    let qualify = format!("/v1/orgs/strict-co/qualify?now={NOW}");
    let echoed = server.post_with(
        &qualify,
        None,
        LEAD.as_bytes(),
        &[("x-request-id", "abc-123")],
    );
    assert_eq!(echoed.header("x-request-id"), Some("abc-123"));
    let made = server.post(&qualify, None, LEAD.as_bytes());
    let other = server.get("/healthz", None);
    let (a, b) = (
        made.header("x-request-id").unwrap(),
        other.header("x-request-id").unwrap(),
    );
    assert!(!a.is_empty() && a != b, "{a} {b}");
    for now in ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"] {
        let far = server.post(
            &format!("/v1/orgs/strict-co/qualify?now={now}"),
            None,
            LEAD.as_bytes(),
        );
        assert_eq!(far.status, 400, "{now}: {}", far.body);
        assert!(far.body.contains("2999-12-31T23:59:59Z"), "{}", far.body);
    }
    // An HTTP caller is not told of a program's flags.
    let transition = server.post(
        &format!("/v1/orgs/strict-co/transition?now={NOW}"),
        None,
        br#"{"opportunity": {"id": "O-1", "name": "x", "stage": "Qualify", "amount": 1000, "close_date": "2026-12-31"}}"#,
    );
    assert!(transition.status >= 400, "{}", transition.body);
    assert!(!transition.body.contains("--to"), "{}", transition.body);
}

/// Sends raw bytes on a new connection and reads the answer until the service
/// closes it (or a second passes).
fn raw(server: &Server, bytes: &[u8]) -> String {
    let address = server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    stream.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buffer) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The body of a 4xx or 5xx answer has the one error shape.
fn assert_error_shape(status: u16, content_type: Option<&str>, body: &str, code: &str) {
    assert!(
        content_type.is_some_and(|t| t.starts_with("application/json")),
        "{status}: {content_type:?} {body}"
    );
    let error: Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{status}: {e}: {body:?}"));
    assert_eq!(error["error"]["code"], code, "{status}: {body}");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{status}: {body}"
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn content_types_gzip_and_byte_order_marks_are_honoured() {
    let dir = orgs(&["strict"]);
    let server = Server::start(dir.path(), &["--max-body-bytes", "1048576"]).ready();
    let qualify = format!("/v1/orgs/strict-co/qualify?now={NOW}");
    let plain = server.post(&qualify, None, LEAD.as_bytes());
    assert_eq!(plain.status, 200, "{}", plain.body);
    // XML, form and multipart bodies are refused, naming their type.
    for (content_type, body) in [
        ("application/xml", "<lead><id>H-1</id></lead>".to_owned()),
        ("application/x-www-form-urlencoded", format!("lead={LEAD}")),
        (
            "multipart/form-data; boundary=b",
            format!("--b\r\n\r\n{LEAD}\r\n--b--"),
        ),
        ("text/plain", LEAD.to_owned()),
    ] {
        let refused = server.post_with(
            &qualify,
            None,
            body.as_bytes(),
            &[("content-type", content_type)],
        );
        assert_eq!(refused.status, 415, "{content_type}: {}", refused.body);
        assert_error_shape(
            415,
            refused.header("content-type"),
            &refused.body,
            "unsupported_media_type",
        );
        let named = content_type.split(';').next().unwrap();
        assert!(refused.body.contains(named), "{}", refused.body);
    }
    // JSON's other names are read as JSON.
    for content_type in [
        "application/vnd.acme+json",
        "application/x-ndjson",
        "application/json; charset=utf-8",
    ] {
        let read = server.post_with(
            &qualify,
            None,
            LEAD.as_bytes(),
            &[("content-type", content_type)],
        );
        assert_eq!(read.status, 200, "{content_type}: {}", read.body);
        assert_eq!(read.body, plain.body);
    }
    // A gzip body is decoded; a byte order mark is skipped.
    let zipped = server.post_with(
        &qualify,
        None,
        &gzip(LEAD.as_bytes()),
        &[("content-encoding", "gzip")],
    );
    assert_eq!(zipped.status, 200, "{}", zipped.body);
    assert_eq!(zipped.body, plain.body);
    let batch: String = (0..3)
        .map(|i| LEAD.replace("H-1", &format!("Z-{i}")) + "\n")
        .collect();
    let mut marked = b"\xEF\xBB\xBF".to_vec();
    marked.extend_from_slice(batch.as_bytes());
    let bom = server.post_with(
        &qualify,
        None,
        &gzip(&marked),
        &[("content-encoding", "gzip")],
    );
    assert_eq!(bom.status, 200, "{}", bom.body);
    assert_eq!(bom.lines().len(), 3, "{}", bom.body);
    assert_eq!(bom.header("crm-rules-failed"), Some("0"), "{}", bom.body);
    let mut marked = b"\xEF\xBB\xBF".to_vec();
    marked.extend_from_slice(LEAD.as_bytes());
    let bom = server.post(&qualify, None, &marked);
    assert_eq!(bom.body, plain.body);
    // A bomb: 64 MiB of spaces in about 64 KiB hits the 1 MiB body limit.
    let mut bomb = LEAD.as_bytes().to_vec();
    bomb.resize(64 << 20, b' ');
    let bomb = gzip(&bomb);
    assert!(bomb.len() < 1 << 20);
    let refused = server.post_with(&qualify, None, &bomb, &[("content-encoding", "gzip")]);
    assert_eq!(refused.status, 413, "{}", refused.body);
    assert_error_shape(
        413,
        refused.header("content-type"),
        &refused.body,
        "body_too_large",
    );
    let broken = server.post_with(&qualify, None, b"not gzip", &[("content-encoding", "gzip")]);
    assert_eq!(broken.status, 400, "{}", broken.body);
    assert_error_shape(
        400,
        broken.header("content-type"),
        &broken.body,
        "invalid_input",
    );
    let brotli = server.post_with(
        &qualify,
        None,
        LEAD.as_bytes(),
        &[("content-encoding", "br")],
    );
    assert_eq!(brotli.status, 415, "{}", brotli.body);
    assert!(brotli.body.contains("`br`"), "{}", brotli.body);
    assert_eq!(server.get("/healthz", None).status, 200);
}

#[test]
fn every_refusal_has_the_one_error_body() {
    let dir = orgs(&["strict"]);
    let server = Server::start(dir.path(), &[]).ready();
    let qualify = format!("/v1/orgs/strict-co/qualify?now={NOW}");
    // Empty, not JSON, cut short, a bare word: one shape.
    for body in ["", "{\"id\": ", "not json", "[1,", "   "] {
        let refused = server.post(&qualify, None, body.as_bytes());
        assert_eq!(refused.status, 400, "{body:?}: {}", refused.body);
        assert_error_shape(
            400,
            refused.header("content-type"),
            &refused.body,
            "invalid_input",
        );
    }
    // A record the rules refuse: the same shape, and the record named.
    let refused = server.post(&qualify, None, br#"{"id": "X-1", "source": 7}"#);
    assert!(refused.status >= 400, "{}", refused.body);
    assert!(
        refused.json()["error"]["code"].is_string(),
        "{}",
        refused.body
    );
    assert_eq!(refused.json()["position"], 1, "{}", refused.body);
    // axum's 405, with the methods allowed.
    let wrong = server.get("/v1/orgs/strict-co/qualify", None);
    assert_eq!(wrong.status, 405, "{}", wrong.body);
    assert_error_shape(
        405,
        wrong.header("content-type"),
        &wrong.body,
        "method_not_allowed",
    );
    assert!(
        wrong.header("allow").is_some_and(|a| a.contains("POST")),
        "{:?}",
        wrong.headers
    );
    let missing = server.get("/nowhere", None);
    assert_error_shape(
        404,
        missing.header("content-type"),
        &missing.body,
        "not_found",
    );
    let bad_query = server.post(
        "/v1/orgs/strict-co/qualify?emit=sideways",
        None,
        LEAD.as_bytes(),
    );
    assert_eq!(bad_query.status, 400, "{}", bad_query.body);
    assert_error_shape(
        400,
        bad_query.header("content-type"),
        &bad_query.body,
        "invalid_input",
    );
    // hyper's own answers to requests it cannot parse.
    let split = |answer: &str| -> (u16, Option<String>, String) {
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .unwrap_or("0")
            .parse()
            .unwrap();
        let content_type = head
            .lines()
            .find_map(|l| l.strip_prefix("content-type: "))
            .map(str::to_owned);
        (status, content_type, body.to_owned())
    };
    let (status, content_type, body) = split(&raw(&server, b"NOT HTTP AT ALL\r\n\r\n"));
    assert_eq!(status, 400, "{body}");
    assert_error_shape(status, content_type.as_deref(), &body, "invalid_input");
    let mut many = b"GET /healthz HTTP/1.1\r\nhost: x\r\n".to_vec();
    for i in 0..200 {
        many.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let (status, content_type, body) = split(&raw(&server, &many));
    assert_eq!(status, 431, "{body}");
    assert_error_shape(status, content_type.as_deref(), &body, "headers_too_large");
    // The service still answers.
    assert_eq!(server.get("/healthz", None).status, 200);
}

#[test]
fn the_audit_log_names_the_key_records_changes_and_rotates() {
    let dir = orgs(&["strict"]);
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = keys_dir.path().join("keys.json");
    let org_key = add_key(&keys, &["strict-co"]);
    let admin = add_key(&keys, &["--admin"]);
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&keys).unwrap()).unwrap();
    let id_of = |admin: bool| -> String {
        file["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["admin"] == admin)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let audit = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            "--keys",
            keys.to_str().unwrap(),
            "--audit-dir",
            audit.path().to_str().unwrap(),
            "--audit-rotate-bytes",
            "4000",
        ],
    )
    .ready();
    let qualify = format!("/v1/orgs/strict-co/qualify?now={NOW}");
    for i in 0..12 {
        let lead = LEAD.replace("H-1", &format!("K-{i}"));
        let answer = server.post(&qualify, Some(&org_key), lead.as_bytes());
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let added = upload(
        &server,
        "version=audited-1&activate=true",
        &[("authorization", &format!("Bearer {admin}"))],
    );
    assert_eq!(added.status, 201, "{}", added.body);
    let rolled = server.post("/v1/orgs/strict-co/rollback", Some(&admin), b"");
    assert_eq!(rolled.status, 200, "{}", rolled.body);
    let activated = server.post(
        "/v1/orgs/strict-co/versions/audited-1/activate",
        Some(&admin),
        b"",
    );
    assert_eq!(activated.status, 200, "{}", activated.body);
    let back = server.post("/v1/orgs/strict-co/rollback", Some(&admin), b"");
    assert_eq!(back.status, 200, "{}", back.body);
    let removed = server.delete("/v1/orgs/strict-co/versions/audited-1", Some(&admin));
    assert_eq!(removed.status, 204, "{}", removed.body);
    let log = audit.path().join("strict-co.jsonl");
    // Every file of the chain, oldest first.
    let mut files: Vec<PathBuf> = std::fs::read_dir(audit.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl") && *p != log)
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the log was never rotated");
    files.push(log.clone());
    let text: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let entries: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let decisions: Vec<&Value> = entries
        .iter()
        .filter(|e| e["decision"] == "qualify")
        .collect();
    assert_eq!(decisions.len(), 12);
    let org_id = id_of(false);
    assert!(
        decisions.iter().all(|e| e["key_id"] == org_id.as_str()),
        "{text}"
    );
    assert!(
        !text.contains(&org_key) && !text.contains(&admin),
        "a key itself is never written"
    );
    let changes: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e["kind"] == "change")
        .map(|e| {
            assert_eq!(e["key_id"], id_of(true).as_str(), "{e}");
            (
                e["change"].as_str().unwrap(),
                e["version"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(changes.len(), 5, "{changes:?}");
    assert_eq!(changes[0], ("upload", "audited-1"));
    assert_eq!(changes[1].0, "rollback");
    assert_eq!(changes[2], ("activate", "audited-1"));
    assert_eq!(changes[4], ("remove", "audited-1"));
    // One chain across the files, checked from the newest.
    let out = support::cli(&["audit", "verify", log.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", support::text(&out.stdout));
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .contains("\"continues\""),
        "the newest file continues the chain"
    );
}

#[test]
fn the_readme_shows_what_the_service_answers() {
    let readme = std::fs::read_to_string(support::root().join("README.md")).unwrap();
    let section = &readme[readme.find("## The decision service").unwrap()..];
    let body = section
        .split("-d '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap();
    let url = section
        .split("http://127.0.0.1:8080")
        .find(|part| part.starts_with("/v1/"))
        .and_then(|part| part.split_whitespace().next())
        .unwrap()
        .trim_end_matches('\'');
    let shown = section
        .split("```json\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .unwrap();
    let dir = orgs(&["strict"]);
    let server = Server::start(dir.path(), &[]).ready();
    let answer = server.post(url, None, body.as_bytes());
    assert_eq!(answer.status, 200, "{}", answer.body);
    // Byte for byte, but for `by`: the reference module's hash (and the label
    // made from it) depends on the toolchain that built it. Its shape must hold.
    let (mut served, mut readme_answer) =
        (answer.json(), serde_json::from_str::<Value>(shown).unwrap());
    let by = served["by"].take();
    let hash = by["module_hash"].as_str().unwrap();
    assert!(
        by["version"].as_str().unwrap().starts_with(&hash[..12]),
        "{by}"
    );
    let shown_by = readme_answer["by"].take();
    assert_eq!(
        shown_by["module_hash"].as_str().unwrap().len(),
        64,
        "{shown_by}"
    );
    assert_eq!(
        served, readme_answer,
        "the README's answer is not the service's"
    );
    let text = answer
        .body
        .replace(hash, shown_by["module_hash"].as_str().unwrap())
        .replace(
            by["version"].as_str().unwrap(),
            shown_by["version"].as_str().unwrap(),
        );
    assert_eq!(
        text.trim_end(),
        shown,
        "the README's answer is not laid out as the service's"
    );
}
