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
        let mut request = agent()
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.send(body))
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
        &[("crm-rules-signature", signature.trim())],
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
    let line_fields = document["components"]["schemas"]["DecisionLine"]["properties"]
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
