//! Load generator for `crm-rules serve`: starts the service on a loopback port
//! over a copy of the strict example org and a hostile org, drives it over
//! keep-alive HTTP/1.1 connections, and reports requests/s, latency percentiles
//! (p50, p99, p99.9) and errors per scenario.
//!
//! ```sh
//! cargo build --release -p crm-rules-cli
//! cargo build --release --manifest-path bench/Cargo.toml --target-dir target \
//!   --no-default-features --bin load --bin http-floor
//! target/release/load [SCENARIO...]
//! target/release/load replicas [--quick]
//! ```
//!
//! Scenarios (default: all, in this order):
//!
//! - `single`: one lead per request, 64 connections, at a fixed rate
//!   (`LOAD_RATE`, default 10,000/s), then as fast as they go (the maximum).
//! - `batch`: requests of 1,000 leads as JSON lines, against the program
//!   deciding the same records from a file.
//! - `swap`: single leads at 5,000/s while 100 module swaps happen; every answer
//!   must be a 200 naming one of the two versions.
//! - `hostile`: org B at 5,000/s alone, then again while org A's module loops and
//!   hoards memory on every request; B's p99 with A against B's p99 alone.
//! - `abuse`: org B at 2,000/s while malformed bodies, a 100 MB body, slow
//!   clients, an unknown org and bad keys arrive; every one must get its 4xx,
//!   and none of B's requests may fail.
//! - `floor`: single leads at `LOAD_RATE` to the service and to the HTTP floor
//!   (`http-floor`: the same HTTP stack, one handler parsing the JSON body and
//!   answering a fixed line), in alternating rounds (`FLOOR_ROUNDS`, default 3);
//!   CPU per request of each server and their ratio (floor.rs). Not in the
//!   default list.
//! - `replicas`: three services behind HAProxy while replicas restart, a module
//!   rolls out and an org folder breaks (replicas.rs; its own setup, run alone;
//!   `scripts/replicas-test.sh`).
//!
//! Latency is measured from the moment a request is written to the moment its
//! whole answer is read. At a fixed rate each connection sends on a schedule; a
//! send more than 1 ms behind it is counted as late, so a service that falls
//! behind shows in the report rather than hiding in the percentiles. The
//! generator runs on one thread, beside the service, on the same machine.
//! `LOAD_SECONDS` sets the length of each measured run (default 15).

mod floor;
mod replicas;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const NOW: &str = "2026-11-25T09:00:00Z";

/// The lead of a single-lead request: what a CRM sends when a web form arrives.
fn lead(i: usize) -> String {
    let sources = ["web_form", "partner", "trade_show", "purchased_list"];
    let budgets = ["will_buy", "can_buy", "may_buy", "no_committed_budget"];
    format!(
        r#"{{"id":"L-{i:07}","company":"Kraus Medical {i}","contact_name":"Lena Kraus","email":"lena.kraus{i}@kraus.example","topic":"Imaging suite","source":"{}","engagement":"contract","budget":{{"amount":48000,"currency":"EUR"}},"budget_status":"{}","decision_maker_known":true,"need":"must_have","timeframe":"this_quarter","custom":{{"new_industry":"Healthcare","new_employees":{}}}}}"#,
        sources[i % sources.len()],
        budgets[(i / 4) % budgets.len()],
        100 + i % 5000
    )
}

fn seconds() -> Duration {
    Duration::from_secs(
        std::env::var("LOAD_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(15),
    )
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// CPU time (user + system) of a process so far, from /proc.
fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line; 12 and 13 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// The service under test.
struct Service {
    child: Child,
    addr: SocketAddr,
    org_key: String,
    hostile_key: String,
    admin_key: String,
    dir: PathBuf,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn program() -> PathBuf {
    root().join("target/release/crm-rules")
}

fn add_key(keys: &Path, args: &[&str]) -> String {
    let out = Command::new(program())
        .args(["keys", "add", "--keys"])
        .arg(keys)
        .args(args)
        .output()
        .expect("crm-rules keys add (cargo build --release -p crm-rules first)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .last()
        .expect("a key")
        .to_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("folder");
    for entry in std::fs::read_dir(from).expect("folder") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }
}

impl Service {
    fn start() -> Service {
        let dir = std::env::temp_dir().join(format!("crm-rules-load-{}", std::process::id()));
        let orgs = dir.join("orgs");
        copy_dir(&root().join("examples/strict"), &orgs.join("strict"));
        let hostile = orgs.join("hostile");
        std::fs::create_dir_all(&hostile).expect("folder");
        std::fs::copy(
            root().join("target/components/hostile-rules/wasm32-wasip2/release/hostile_rules.wasm"),
            hostile.join("hostile.wasm"),
        )
        .expect("the hostile module (built by cargo build --release -p crm-rules)");
        std::fs::copy(
            root().join("examples/strict/policy.json"),
            hostile.join("policy.json"),
        )
        .expect("policy");
        // The engine's default limits: a loop runs until 2,000,000,000 fuel or 2 s.
        std::fs::write(
            hostile.join("org.json"),
            r#"{"org_id": "hostile-co", "module": "hostile.wasm", "policy": "policy.json"}"#,
        )
        .expect("org.json");
        let keys = dir.join("keys.json");
        let org_key = add_key(&keys, &["strict-co"]);
        let hostile_key = add_key(&keys, &["hostile-co"]);
        let admin_key = add_key(&keys, &["--admin"]);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let child = Command::new(program())
            .arg("serve")
            .arg("--orgs")
            .arg(&orgs)
            .args(["--listen", &addr.to_string(), "--keys"])
            .arg(&keys)
            .args(["--read-timeout", "5", "--cache-dir"])
            .arg(root().join("target/tmp/load-cache"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("crm-rules serve");
        let service = Service {
            child,
            addr,
            org_key,
            hostile_key,
            admin_key,
            dir,
        };
        let started = Instant::now();
        loop {
            let ready = std::net::TcpStream::connect(addr).ok().and_then(|mut s| {
                use std::io::{Read as _, Write as _};
                s.write_all(b"GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                    .ok()?;
                let mut answer = String::new();
                s.read_to_string(&mut answer).ok()?;
                Some(answer.starts_with("HTTP/1.1 200"))
            });
            if ready == Some(true) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the service did not get ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        service
    }

    fn target(&self) -> Target {
        Target {
            addr: self.addr,
            pid: self.child.id(),
        }
    }
}

type Sender = SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Sender {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    sender
}

/// One kind of request.
#[derive(Clone)]
struct Call {
    method: &'static str,
    path: String,
    key: String,
    body: Bytes,
    content_type: &'static str,
}

impl Call {
    fn post(path: &str, key: &str, body: impl Into<Bytes>) -> Call {
        Call {
            method: "POST",
            path: path.to_owned(),
            key: key.to_owned(),
            body: body.into(),
            content_type: "application/json",
        }
    }

    fn request(&self) -> Request<Full<Bytes>> {
        Request::builder()
            .method(self.method)
            .uri(&self.path)
            .header("host", "127.0.0.1")
            .header("authorization", format!("Bearer {}", self.key))
            .header("content-type", self.content_type)
            .body(Full::new(self.body.clone()))
            .expect("request")
    }
}

async fn send(sender: &mut Sender, call: &Call) -> Result<(StatusCode, Bytes), String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let response = sender
        .send_request(call.request())
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body))
}

/// The version an answer names (`"by":{"version":"..."`).
fn version_of(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("\"by\":{\"version\":\"")? + "\"by\":{\"version\":\"".len();
    let end = text[start..].find('"')? + start;
    Some(text[start..end].to_owned())
}

/// What a run measured.
struct Report {
    elapsed: Duration,
    latency: Histogram<u64>,
    statuses: BTreeMap<String, u64>,
    late: u64,
    versions: BTreeMap<String, u64>,
    unnamed: u64,
    service_cpu: Duration,
    generator_cpu: Duration,
}

impl Report {
    fn requests(&self) -> u64 {
        self.latency.len()
    }

    fn ok(&self) -> u64 {
        self.statuses.get("200").copied().unwrap_or(0)
    }

    fn errors(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(k, _)| k.as_str() != "200")
            .map(|(_, v)| v)
            .sum()
    }

    fn rate(&self) -> f64 {
        self.requests() as f64 / self.elapsed.as_secs_f64()
    }

    fn ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    fn print(&self, name: &str) {
        println!(
            "{name:<34} {:>9.0} req/s  p50 {:>6.3} ms  p99 {:>6.3} ms  p99.9 {:>7.3} ms  max {:>8.3} ms  errors {:>4}  late {:>5}  cpu/req: service {:>5.1} us, generator {:>5.1} us  {:?}",
            self.rate(),
            self.ms(0.5),
            self.ms(0.99),
            self.ms(0.999),
            self.latency.max() as f64 / 1000.0,
            self.errors(),
            self.late,
            self.service_cpu.as_secs_f64() * 1e6 / self.requests().max(1) as f64,
            self.generator_cpu.as_secs_f64() * 1e6 / self.requests().max(1) as f64,
            self.statuses,
        );
    }
}

/// How to load the service.
struct Load {
    calls: Vec<Call>,
    connections: usize,
    /// Requests per second across all connections; `None` sends as fast as answers
    /// come back.
    rate: Option<f64>,
    duration: Duration,
    /// Check that every 200 names a version.
    versions: bool,
}

struct Partial {
    latency: Histogram<u64>,
    statuses: BTreeMap<String, u64>,
    late: u64,
    versions: BTreeMap<String, u64>,
    unnamed: u64,
}

async fn connection(
    addr: SocketAddr,
    calls: std::sync::Arc<Vec<Call>>,
    first_send: Instant,
    interval: Option<Duration>,
    end: Instant,
    check_versions: bool,
    offset: usize,
) -> Partial {
    let mut sender = connect(addr).await;
    let mut partial = Partial {
        latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram"),
        statuses: BTreeMap::new(),
        late: 0,
        versions: BTreeMap::new(),
        unnamed: 0,
    };
    let mut next = first_send;
    let mut i = offset;
    loop {
        if let Some(interval) = interval {
            tokio::time::sleep_until(next.into()).await;
            if Instant::now() - next > Duration::from_millis(1) {
                partial.late += 1;
            }
            next += interval;
        }
        let now = Instant::now();
        if now >= end {
            break;
        }
        let call = &calls[i % calls.len()];
        i += 1;
        let outcome = send(&mut sender, call).await;
        let took = now.elapsed();
        let _ = partial.latency.record(took.as_micros().max(1) as u64);
        match outcome {
            Ok((status, body)) => {
                *partial
                    .statuses
                    .entry(status.as_str().to_owned())
                    .or_default() += 1;
                if check_versions && status == StatusCode::OK {
                    match version_of(&body) {
                        Some(v) => *partial.versions.entry(v).or_default() += 1,
                        None => partial.unnamed += 1,
                    }
                }
            }
            Err(e) => {
                *partial.statuses.entry(format!("io: {e}")).or_default() += 1;
                sender = connect(addr).await;
            }
        }
    }
    partial
}

/// A server the generator loads: where it listens, and its process (for its CPU).
#[derive(Clone, Copy)]
struct Target {
    addr: SocketAddr,
    pid: u32,
}

async fn run(target: &Target, load: Load) -> Report {
    let calls = std::sync::Arc::new(load.calls);
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + load.duration;
    let interval = load
        .rate
        .map(|rate| Duration::from_secs_f64(load.connections as f64 / rate));
    let (service_cpu, generator_cpu) = (cpu_of(target.pid), cpu_of(std::process::id()));
    let tasks: Vec<_> = (0..load.connections)
        .map(|c| {
            // Connections take turns, evenly spread over one interval.
            let first =
                start + interval.map_or(Duration::ZERO, |i| i * c as u32 / load.connections as u32);
            tokio::spawn(connection(
                target.addr,
                calls.clone(),
                first,
                interval,
                end,
                load.versions,
                c * 7919,
            ))
        })
        .collect();
    let mut report = Report {
        elapsed: Duration::ZERO,
        latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram"),
        statuses: BTreeMap::new(),
        late: 0,
        versions: BTreeMap::new(),
        unnamed: 0,
        service_cpu: Duration::ZERO,
        generator_cpu: Duration::ZERO,
    };
    for task in tasks {
        let partial = task.await.expect("connection task");
        report.latency.add(&partial.latency).expect("histogram");
        for (k, v) in partial.statuses {
            *report.statuses.entry(k).or_default() += v;
        }
        for (k, v) in partial.versions {
            *report.versions.entry(k).or_default() += v;
        }
        report.late += partial.late;
        report.unnamed += partial.unnamed;
    }
    report.elapsed = start.elapsed();
    report.service_cpu = cpu_of(target.pid) - service_cpu;
    report.generator_cpu = cpu_of(std::process::id()) - generator_cpu;
    report
}

fn single_calls(service: &Service) -> Vec<Call> {
    (0..1000)
        .map(|i| {
            Call::post(
                &format!("/v1/orgs/strict-co/qualify?now={NOW}"),
                &service.org_key,
                lead(i),
            )
        })
        .collect()
}

fn rate() -> f64 {
    std::env::var("LOAD_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000.0)
}

async fn single(service: &Service) {
    println!("\n## single: one lead per request, 64 keep-alive connections");
    let warm = run(
        &service.target(),
        Load {
            calls: single_calls(service),
            connections: 64,
            rate: Some(2000.0),
            duration: Duration::from_secs(3),
            versions: false,
        },
    )
    .await;
    warm.print("warm-up at 2,000/s");
    let rate = rate();
    let fixed = run(
        &service.target(),
        Load {
            calls: single_calls(service),
            connections: 64,
            rate: Some(rate),
            duration: seconds(),
            versions: false,
        },
    )
    .await;
    fixed.print(&format!("fixed rate {rate:.0}/s"));
    let max = run(
        &service.target(),
        Load {
            calls: single_calls(service),
            connections: 64,
            rate: None,
            duration: seconds(),
            versions: false,
        },
    )
    .await;
    max.print("as fast as answers come (max)");
}

async fn batch(service: &Service) {
    const PER_BATCH: usize = 1000;
    const BATCHES: usize = 20;
    println!("\n## batch: {PER_BATCH} leads per request (JSON lines) against the program");
    let bodies: Vec<String> = (0..BATCHES)
        .map(|b| {
            (0..PER_BATCH)
                .map(|i| lead(b * PER_BATCH + i) + "\n")
                .collect()
        })
        .collect();
    // The program on the same records, 5 times over (100,000 leads), from a file.
    let file = service.dir.join("leads.jsonl");
    let all: String = (0..5)
        .flat_map(|_| bodies.iter().map(String::as_str))
        .collect();
    std::fs::write(&file, &all).expect("leads file");
    let records = 5 * BATCHES * PER_BATCH;
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let status = Command::new(program())
            .args(["--org-dir"])
            .arg(service.dir.join("orgs/strict"))
            .args(["--now", NOW, "--cache-dir"])
            .arg(root().join("target/tmp/load-cache"))
            .arg("qualify")
            .arg(&file)
            .stdout(Stdio::null())
            .status()
            .expect("crm-rules qualify");
        assert!(status.success());
        best = best.min(started.elapsed());
    }
    let program_rate = records as f64 / best.as_secs_f64();
    println!(
        "{:<34} {:>9.0} records/s  ({records} leads from a file, best of 3, both cores)",
        "program: crm-rules qualify FILE", program_rate
    );
    for connections in [1, 2, 4] {
        let calls = bodies
            .iter()
            .map(|body| {
                Call::post(
                    &format!("/v1/orgs/strict-co/qualify?now={NOW}"),
                    &service.org_key,
                    body.clone(),
                )
            })
            .collect();
        let report = run(
            &service.target(),
            Load {
                calls,
                connections,
                rate: None,
                duration: seconds(),
                versions: false,
            },
        )
        .await;
        report.print(&format!("service, {connections} connection(s)"));
        let service_rate = report.ok() as f64 * PER_BATCH as f64 / report.elapsed.as_secs_f64();
        println!(
            "{:<34} {:>9.0} records/s  = {:.0}% of the program",
            "",
            service_rate,
            100.0 * service_rate / program_rate
        );
    }
}

async fn admin(
    service: &Service,
    method: &'static str,
    path: &str,
    body: Bytes,
    content_type: &'static str,
) -> (StatusCode, Bytes) {
    let mut sender = connect(service.addr).await;
    let call = Call {
        method,
        path: path.to_owned(),
        key: service.admin_key.clone(),
        body,
        content_type,
    };
    send(&mut sender, &call).await.expect("admin request")
}

async fn swap(service: &Service) {
    println!("\n## swap: 100 module swaps during single-lead load at 5,000/s");
    let module = std::fs::read(root().join("target/components/guest-rules/guest_rules.wasm"))
        .expect("the reference module");
    let (status, body) = admin(
        service,
        "POST",
        "/v1/orgs/strict-co/versions?version=swap-b",
        module.into(),
        "application/wasm",
    )
    .await;
    assert!(status == StatusCode::CREATED, "upload: {status} {body:?}");
    let (_, versions) = admin(
        service,
        "GET",
        "/v1/orgs/strict-co/versions",
        Bytes::new(),
        "application/json",
    )
    .await;
    let versions: serde_json::Value = serde_json::from_slice(&versions).expect("versions");
    let first = versions[0]["version"]
        .as_str()
        .expect("a version")
        .to_owned();
    let duration = seconds();
    let swapper = {
        let (addr, key, first) = (service.addr, service.admin_key.clone(), first.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let mut sender = connect(addr).await;
            let pause = (duration - Duration::from_secs(1)) / 100;
            let mut failed = 0;
            for i in 0..100 {
                let version = if i % 2 == 0 { "swap-b" } else { first.as_str() };
                let call = Call {
                    method: "POST",
                    path: format!("/v1/orgs/strict-co/versions/{version}/activate"),
                    key: key.clone(),
                    body: Bytes::new(),
                    content_type: "application/json",
                };
                if !matches!(send(&mut sender, &call).await, Ok((StatusCode::OK, _))) {
                    failed += 1;
                }
                tokio::time::sleep(pause).await;
            }
            failed
        })
    };
    let report = run(
        &service.target(),
        Load {
            calls: single_calls(service),
            connections: 64,
            rate: Some(5000.0),
            duration,
            versions: true,
        },
    )
    .await;
    let failed_swaps = swapper.await.expect("swapper");
    report.print("single leads during 100 swaps");
    println!(
        "swaps: 100 ({failed_swaps} failed); answers by version: {:?}; 200s naming no version: {}",
        report.versions, report.unnamed
    );
    // Back to the folder's version for the next scenarios.
    admin(
        service,
        "POST",
        &format!("/v1/orgs/strict-co/versions/{first}/activate"),
        Bytes::new(),
        "application/json",
    )
    .await;
}

async fn hostile(service: &Service) {
    println!(
        "\n## hostile: org B at 5,000/s, alone and while org A's module loops and hoards memory"
    );
    let load = || Load {
        calls: single_calls(service),
        connections: 64,
        rate: Some(5000.0),
        duration: seconds(),
        versions: false,
    };
    let alone = run(&service.target(), load()).await;
    alone.print("B alone");
    let attack = {
        let (addr, key) = (service.addr, service.hostile_key.clone());
        let end = Instant::now() + seconds() + Duration::from_millis(100);
        tokio::spawn(async move {
            let attackers: Vec<_> = (0..4)
                .map(|a| {
                    let key = key.clone();
                    tokio::spawn(async move {
                        let mut sender = connect(addr).await;
                        let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
                        let mut i = a;
                        while Instant::now() < end {
                            let id = if i % 2 == 0 { "loop" } else { "alloc" };
                            i += 1;
                            let call = Call::post(
                                "/v1/orgs/hostile-co/qualify",
                                &key,
                                format!(r#"{{"id":"{id}","source":"web_form"}}"#),
                            );
                            let key = match send(&mut sender, &call).await {
                                Ok((status, _)) => status.as_str().to_owned(),
                                Err(e) => {
                                    sender = connect(addr).await;
                                    format!("io: {e}")
                                }
                            };
                            *statuses.entry(key).or_default() += 1;
                        }
                        statuses
                    })
                })
                .collect();
            let mut all: BTreeMap<String, u64> = BTreeMap::new();
            for attacker in attackers {
                for (k, v) in attacker.await.expect("attacker") {
                    *all.entry(k).or_default() += v;
                }
            }
            all
        })
    };
    let with = run(&service.target(), load()).await;
    let a = attack.await.expect("attack");
    with.print("B while A attacks");
    println!(
        "A's answers: {a:?}; B's p99 with A / alone: {:.2}x (goal: at most 1.25x)",
        with.ms(0.99) / alone.ms(0.99)
    );
}

/// A slow client: sends `head` at once, then `tail` a byte per `pause`, and returns
/// the status line of the answer (or how the connection ended).
async fn slow_client(addr: SocketAddr, head: Vec<u8>, tail: Vec<u8>, pause: Duration) -> String {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        if write.write_all(&head).await.is_err() {
            return;
        }
        for byte in tail {
            tokio::time::sleep(pause).await;
            if write.write_all(&[byte]).await.is_err() {
                return;
            }
        }
    });
    let mut answer = vec![0; 4096];
    let read = tokio::time::timeout(Duration::from_secs(30), read.read(&mut answer)).await;
    writer.abort();
    match read {
        Ok(Ok(0)) => "closed".to_owned(),
        Ok(Ok(n)) => String::from_utf8_lossy(&answer[..n])
            .split_whitespace()
            .nth(1)
            .unwrap_or("?")
            .to_owned(),
        Ok(Err(e)) => format!("io: {e}"),
        Err(_) => "no answer in 30 s".to_owned(),
    }
}

async fn abuse(service: &Service) {
    println!("\n## abuse: org B at 2,000/s while bad requests arrive");
    let addr = service.addr;
    let (org, admin_key) = (service.org_key.clone(), service.admin_key.clone());
    let bad = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut seen: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        let mut note = |what: &str, status: String| {
            *seen
                .entry(what.to_owned())
                .or_default()
                .entry(status)
                .or_default() += 1;
        };
        let mut sender = connect(addr).await;
        let qualify = format!("/v1/orgs/strict-co/qualify?now={NOW}");
        for body in [
            "{\"id\": ",
            "[{\"id\": 1},",
            "",
            "\u{1}\u{2}",
            "{\"id\": \"x\", \"id\": \"y\"}",
        ] {
            for _ in 0..10 {
                let call = Call::post(&qualify, &org, body.to_owned());
                let status = match send(&mut sender, &call).await {
                    Ok((s, _)) => s.as_str().to_owned(),
                    Err(e) => {
                        sender = connect(addr).await;
                        format!("io: {e}")
                    }
                };
                note("malformed body", status);
            }
        }
        for (what, key, path) in [
            (
                "unknown org (admin key)",
                admin_key.as_str(),
                "/v1/orgs/nobody/qualify",
            ),
            (
                "another org's key",
                org.as_str(),
                "/v1/orgs/hostile-co/qualify",
            ),
            ("bad key", "crk_0000", qualify.as_str()),
        ] {
            for _ in 0..20 {
                let call = Call::post(path, key, lead(1));
                let status = send(&mut sender, &call)
                    .await
                    .map(|(s, _)| s.as_str().to_owned())
                    .unwrap_or_else(|e| format!("io: {e}"));
                note(what, status);
            }
        }
        // 100 MB in one body.
        let huge = Call::post(&qualify, &org, vec![b' '; 100 << 20]);
        let mut fresh = connect(addr).await;
        let status = send(&mut fresh, &huge)
            .await
            .map(|(s, _)| s.as_str().to_owned())
            .unwrap_or_else(|e| format!("io: {e}"));
        note("100 MB body", status);
        // Slow clients: a body promised and sent a byte a second; headers never ended.
        let slow: Vec<_> = (0..10)
            .map(|i| {
                let (head, tail) = if i % 2 == 0 {
                    (
                        format!(
                            "POST {qualify} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {org}\r\ncontent-length: 1000\r\n\r\n{{\"id\": "
                        ),
                        "\"slow-body\"".repeat(10),
                    )
                } else {
                    (
                        format!("POST {qualify} HTTP/1.1\r\nhost: x\r\n"),
                        "x-slow: ".repeat(10),
                    )
                };
                tokio::spawn(slow_client(
                    addr,
                    head.into_bytes(),
                    tail.into_bytes(),
                    Duration::from_secs(1),
                ))
            })
            .collect();
        for (i, client) in slow.into_iter().enumerate() {
            let what = if i % 2 == 0 {
                "slow body"
            } else {
                "slow headers"
            };
            note(what, client.await.expect("slow client"));
        }
        seen
    });
    let report = run(
        &service.target(),
        Load {
            calls: single_calls(service),
            connections: 64,
            rate: Some(2000.0),
            duration: seconds(),
            versions: false,
        },
    )
    .await;
    report.print("B during the abuse");
    for (what, statuses) in bad.await.expect("abuse") {
        println!("  {what:<28} {statuses:?}");
    }
    let (status, _) = admin(service, "GET", "/healthz", Bytes::new(), "application/json").await;
    println!("  healthz afterwards: {status}");
}

fn main() {
    let mut scenarios: Vec<String> = std::env::args().skip(1).collect();
    if scenarios.is_empty() {
        scenarios = ["single", "batch", "swap", "hostile", "abuse"]
            .map(String::from)
            .into();
    }
    if scenarios.first().map(String::as_str) == Some("replicas") {
        let quick = scenarios.iter().any(|s| s == "--quick");
        std::process::exit(if replicas::replicas(quick) { 0 } else { 1 });
    }
    let service = Service::start();
    println!(
        "crm-rules serve on {} ({} cores, generator on one thread beside it)",
        service.addr,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for scenario in &scenarios {
            match scenario.as_str() {
                "single" => single(&service).await,
                "batch" => batch(&service).await,
                "swap" => swap(&service).await,
                "hostile" => hostile(&service).await,
                "abuse" => abuse(&service).await,
                "floor" => floor::floor(&service).await,
                other => {
                    eprintln!(
                        "unknown scenario `{other}` (single, batch, swap, hostile, abuse, floor, \
                         replicas)"
                    )
                }
            }
        }
    });
}
