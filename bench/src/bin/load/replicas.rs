//! `replicas`: three `crm-rules serve` processes sharing one orgs folder behind
//! HAProxy (health-checking `/readyz`, retrying a request that a replica dropped),
//! under a steady load of single leads for two orgs, while:
//!
//! - (a) one replica is stopped (SIGTERM, as a rolling restart does) and started
//!   again, then another is killed (SIGKILL, a crash) and started again;
//! - (b) a new module version is rolled out by rewriting one org's folder
//!   (the module file, then org.json, each written whole and renamed into place);
//! - (c) the other org's folder is broken (org.json no longer JSON) and a replica
//!   is restarted, so it starts without that org.
//!
//! Goals: no failed request in (a) and (b); every answer names a version that
//! was active at the time (the old one until every replica reported the new one,
//! the new one once the folder was changed); in (c) only the broken org's
//! requests may fail, and HAProxy keeps every replica in service.
//!
//! `replicas --quick` is the short version CI runs (scripts/replicas-test.sh);
//! without it the phases are longer and the rate higher (BENCHMARKS.md).
//! The processes are stopped when the run ends, whatever its outcome; their ids
//! are also written to `target/tmp/replicas/pids` for the calling script.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use hyper::StatusCode;

use super::{add_key, connect, copy_dir, lead, program, root, send, version_of, Call, NOW};

/// The two orgs: the one whose module is rolled out, the one whose folder breaks.
const ORGS: [&str; 2] = ["strict-co", "second-co"];
const ROLLED: usize = 0;
const BROKEN: usize = 1;

/// How long and how hard.
struct Plan {
    rate: f64,
    connections: usize,
    /// Load before and after each step.
    settle: Duration,
    /// Rollouts in (b).
    rollouts: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        let rate = std::env::var("LOAD_RATE").ok().and_then(|v| v.parse().ok());
        if quick {
            Plan {
                rate: rate.unwrap_or(1000.0),
                connections: 16,
                settle: Duration::from_secs(2),
                rollouts: 1,
            }
        } else {
            Plan {
                rate: rate.unwrap_or(3000.0),
                connections: 32,
                settle: Duration::from_secs(5),
                rollouts: 3,
            }
        }
    }
}

/// A `crm-rules serve` replica on a loopback port.
struct Replica {
    name: String,
    port: u16,
    cache: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// The folder of a run and what it holds.
struct Setup {
    dir: PathBuf,
    orgs: PathBuf,
    keys: PathBuf,
    key: String,
    pids: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Writes a file whole, then renames it into place: a replica reading the folder
/// sees the old file or the new one, never half of one.
fn write_atomically(path: &Path, contents: &[u8]) {
    let temporary = path.with_extension("tmp-write");
    std::fs::write(&temporary, contents).expect("write");
    std::fs::rename(&temporary, path).expect("rename");
}

fn set_org_file(folder: &Path, change: impl FnOnce(&mut serde_json::Value)) {
    let path = folder.join("org.json");
    let mut org: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("org.json")).expect("org.json");
    change(&mut org);
    write_atomically(
        &path,
        serde_json::to_string_pretty(&org).expect("json").as_bytes(),
    );
}

impl Setup {
    fn new() -> Setup {
        let dir = root().join(format!("target/tmp/replicas/run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let orgs = dir.join("orgs");
        for (folder, org) in [("strict", ORGS[0]), ("second", ORGS[1])] {
            let folder = orgs.join(folder);
            copy_dir(&root().join("examples/strict"), &folder);
            let _ = std::fs::remove_dir_all(folder.join("fixtures"));
            set_org_file(&folder, |o| {
                o["org_id"] = org.into();
                o["version"] = "v1".into();
            });
        }
        let keys = dir.join("keys.json");
        let key = add_key(&keys, &ORGS);
        Setup {
            pids: dir.parent().expect("parent").join("pids"),
            dir,
            orgs,
            keys,
            key,
        }
    }
}

impl Replica {
    fn new(setup: &Setup, i: usize) -> Replica {
        Replica {
            name: format!("r{}", i + 1),
            port: free_port(),
            // Each replica compiles into a cache folder of its own (docs/deployment.md);
            // kept between runs, so a restart costs what it costs in production.
            cache: root().join(format!("target/tmp/replicas/cache-{}", i + 1)),
            log: setup.dir.join(format!("replica-{}.log", i + 1)),
            child: None,
        }
    }

    fn start(&mut self, setup: &Setup) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(program())
            .arg("serve")
            .arg("--orgs")
            .arg(&setup.orgs)
            .args(["--listen", &format!("127.0.0.1:{}", self.port), "--keys"])
            .arg(&setup.keys)
            .args(["--shutdown-grace", "5", "--cache-dir"])
            .arg(&self.cache)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("crm-rules serve (cargo build --release -p crm-rules-cli first)");
        note_pid(&setup.pids, child.id());
        self.child = Some(child);
    }

    fn signal(&mut self, signal: &str) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.signal("KILL");
    }
}

fn note_pid(pids: &Path, pid: u32) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(pids)
        .expect("pids file");
    let _ = writeln!(file, "{pid}");
}

/// HAProxy in front of the replicas, in the foreground.
struct Balancer {
    port: u16,
    socket: PathBuf,
    child: Child,
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The configuration of the test; docs/deployment.md shows the same settings.
fn haproxy_config(port: u16, socket: &Path, replicas: &[Replica]) -> String {
    let servers: String = replicas
        .iter()
        .map(|r| format!("    server {} 127.0.0.1:{}\n", r.name, r.port))
        .collect();
    format!(
        "\
global
    maxconn 4096
    stats socket {socket} mode 600 level admin

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
    # A request a replica dropped (its process stopped, a connection it closed
    # while the request was on its way) is sent again, to another replica.
    # Decisions are deterministic and change nothing, so retrying a POST is safe.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout 503

frontend decisions
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    # Ready when the replica can serve; a broken org folder does not take it out.
    option httpchk GET /readyz
    http-check expect status 200
    # Checked twice a second; out after 2 failures, or at once when a connection
    # to it fails; back after 2 successes.
    default-server check inter 500ms fastinter 200ms downinter 500ms fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down
{servers}",
        socket = socket.display()
    )
}

impl Balancer {
    fn start(setup: &Setup, replicas: &[Replica]) -> Balancer {
        let port = free_port();
        let socket = setup.dir.join("haproxy.sock");
        let config = setup.dir.join("haproxy.cfg");
        std::fs::write(&config, haproxy_config(port, &socket, replicas)).expect("config");
        let check = Command::new("haproxy")
            .arg("-c")
            .arg("-f")
            .arg(&config)
            .output()
            .expect("haproxy (apt-get install haproxy)");
        assert!(
            check.status.success(),
            "the HAProxy configuration is refused: {}",
            String::from_utf8_lossy(&check.stdout) + String::from_utf8_lossy(&check.stderr)
        );
        let log = std::fs::File::create(setup.dir.join("haproxy.log")).expect("log");
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("haproxy");
        note_pid(&setup.pids, child.id());
        Balancer {
            port,
            socket,
            child,
        }
    }

    /// HAProxy's view of the backend: each server's state, and the backend's
    /// retries and redispatches so far (`show stat` on the stats socket).
    fn stats(&self) -> Option<Stats> {
        let mut stream = std::os::unix::net::UnixStream::connect(&self.socket).ok()?;
        stream.write_all(b"show stat\n").ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next()?.trim_start_matches("# ").split(',').collect();
        let column = |name: &str| header.iter().position(|h| *h == name);
        let (px, sv, status) = (column("pxname")?, column("svname")?, column("status")?);
        let (wretr, wredis, chkdown) = (column("wretr")?, column("wredis")?, column("chkdown")?);
        let mut stats = Stats::default();
        for line in lines {
            let fields: Vec<&str> = line.split(',').collect();
            if fields.get(px) != Some(&"replicas") {
                continue;
            }
            let number = |i: usize| fields.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
            match fields.get(sv).copied() {
                Some("BACKEND") => {
                    stats.retries = number(wretr);
                    stats.redispatches = number(wredis);
                }
                Some("FRONTEND") | None => {}
                Some(server) => {
                    stats.downs.insert(server.to_owned(), number(chkdown));
                    stats.up.insert(
                        server.to_owned(),
                        fields.get(status).is_some_and(|s| s.starts_with("UP")),
                    );
                }
            }
        }
        Some(stats)
    }
}

#[derive(Default, Clone)]
struct Stats {
    up: BTreeMap<String, bool>,
    /// Times each server was taken out of service so far.
    downs: BTreeMap<String, u64>,
    retries: u64,
    redispatches: u64,
}

/// One request through the balancer.
struct Sample {
    sent: Instant,
    done: Instant,
    org: usize,
    /// 0 when the connection failed.
    status: u16,
    version: Option<String>,
    micros: u64,
}

/// Sends single leads for both orgs through the balancer at a fixed rate until
/// `stop`, and keeps every answer.
async fn drive(port: u16, key: String, plan: Plan, stop: Arc<AtomicBool>) -> Vec<Sample> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let interval = Duration::from_secs_f64(plan.connections as f64 / plan.rate);
    let start = Instant::now();
    let tasks: Vec<_> = (0..plan.connections)
        .map(|c| {
            let (key, stop) = (key.clone(), stop.clone());
            let first = start + interval * c as u32 / plan.connections as u32;
            tokio::spawn(async move {
                let mut sender = connect(addr).await;
                let mut samples = Vec::new();
                let mut next = first;
                let mut i = c * 7919;
                loop {
                    tokio::time::sleep_until(next.into()).await;
                    next += interval;
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let sent = Instant::now();
                    let org = i % ORGS.len();
                    let call = Call::post(
                        &format!("/v1/orgs/{}/qualify?now={NOW}", ORGS[org]),
                        &key,
                        lead(i),
                    );
                    i += 1;
                    let (status, version) = match send(&mut sender, &call).await {
                        Ok((status, body)) => (status.as_u16(), version_of(&body)),
                        Err(_) => {
                            sender = connect(addr).await;
                            (0, None)
                        }
                    };
                    let done = Instant::now();
                    samples.push(Sample {
                        sent,
                        done,
                        org,
                        status,
                        version,
                        micros: (done - sent).as_micros().max(1) as u64,
                    });
                }
                samples
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("connection task"));
    }
    all
}

/// A step of the run, between two instants.
struct Phase {
    name: String,
    from: Instant,
    to: Instant,
    /// Whether the broken org's requests may fail in it.
    broken_may_fail: bool,
}

/// When the rolled org's version changed: the folder was rewritten at `changed`,
/// and every replica reported the new version by `everywhere`.
struct Rollout {
    from: String,
    to: String,
    changed: Instant,
    everywhere: Instant,
}

async fn get(port: u16, key: &str, path: &str) -> Option<(StatusCode, bytes::Bytes)> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let stream = tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    drop(stream);
    let mut sender = tokio::time::timeout(Duration::from_secs(1), connect(addr))
        .await
        .ok()?;
    let call = Call {
        method: "GET",
        path: path.to_owned(),
        key: key.to_owned(),
        body: bytes::Bytes::new(),
        content_type: "application/json",
    };
    tokio::time::timeout(Duration::from_secs(2), send(&mut sender, &call))
        .await
        .ok()?
        .ok()
}

/// Waits until `done` holds, or fails the run after `limit`.
async fn wait_until<F, Fut>(what: &str, limit: Duration, mut done: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        if started.elapsed() > limit {
            return Err(format!("{what}: not within {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("  {what}: after {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

async fn ready(port: u16) -> bool {
    matches!(get(port, "", "/readyz").await, Some((StatusCode::OK, _)))
}

async fn in_service(balancer: &Balancer, name: &str) -> bool {
    balancer
        .stats()
        .is_some_and(|s| s.up.get(name).copied().unwrap_or(false))
}

/// Stops a replica with `signal`, starts it again, and waits until HAProxy sends
/// it requests again.
async fn restart(
    replica: &mut Replica,
    signal: &str,
    setup: &Setup,
    balancer: &Balancer,
) -> Result<(), String> {
    println!("  {} stopped with SIG{signal}", replica.name);
    replica.signal(signal);
    // Down in HAProxy's view: through its health checks, or a failed connection.
    let name = replica.name.clone();
    wait_until(
        &format!("{name} out of service"),
        Duration::from_secs(10),
        || {
            let up = in_service(balancer, &name);
            async move { !up.await }
        },
    )
    .await?;
    replica.start(setup);
    let port = replica.port;
    wait_until(&format!("{name} ready"), Duration::from_secs(120), || {
        ready(port)
    })
    .await?;
    wait_until(
        &format!("{name} back in service"),
        Duration::from_secs(10),
        || in_service(balancer, &name),
    )
    .await
}

/// The version the rolled org serves on each replica.
async fn versions_served(replicas: &[(u16, String)], key: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for (port, _) in replicas {
        let answer = get(*port, key, &format!("/v1/orgs/{}/module", ORGS[ROLLED])).await;
        out.push(answer.and_then(|(status, body)| {
            (status == StatusCode::OK)
                .then(|| serde_json::from_slice::<serde_json::Value>(&body).ok())
                .flatten()
                .and_then(|v| v["version"].as_str().map(str::to_owned))
        }))
    }
    out
}

/// Rolls a new module out to the rolled org's folder, as a deployment would:
/// the module file first, then org.json naming it (the one change replicas act on).
async fn roll_out(
    setup: &Setup,
    ports: &[(u16, String)],
    from: &str,
    to: &str,
) -> Result<Rollout, String> {
    let folder = setup.orgs.join("strict");
    let module = std::fs::read(root().join("target/components/guest-rules/guest_rules.wasm"))
        .map_err(|e| format!("the reference module (cargo build --release -p crm-rules): {e}"))?;
    let file = format!("rules-{to}.wasm");
    write_atomically(&folder.join(&file), &module);
    let changed = Instant::now();
    set_org_file(&folder, |o| {
        o["module"] = file.clone().into();
        o["version"] = to.into();
    });
    println!("  {} rolled out: {from} -> {to}", ORGS[ROLLED]);
    let key = setup.key.clone();
    wait_until("every replica serves it", Duration::from_secs(60), || {
        let key = key.clone();
        async move {
            versions_served(ports, &key)
                .await
                .iter()
                .all(|v| v.as_deref() == Some(to))
        }
    })
    .await?;
    Ok(Rollout {
        from: from.to_owned(),
        to: to.to_owned(),
        changed,
        everywhere: Instant::now(),
    })
}

/// Whether `version` may answer a request sent at `sent` and answered at `done`.
fn version_allowed(
    org: usize,
    version: &str,
    sent: Instant,
    done: Instant,
    rollouts: &[Rollout],
) -> bool {
    if org != ROLLED {
        return version == "v1";
    }
    // The version active at an instant: the last rollout that reached every
    // replica before it, or during a rollout either side of it.
    let mut active: Vec<&str> = vec!["v1"];
    for rollout in rollouts {
        if rollout.everywhere <= sent {
            active = vec![rollout.to.as_str()];
        } else if rollout.changed <= done {
            active.push(rollout.to.as_str());
        }
    }
    active.contains(&version)
}

pub fn replicas(quick: bool) -> bool {
    let plan = Plan::new(quick);
    let setup = Setup::new();
    let _ = std::fs::remove_file(&setup.pids);
    let mut replicas: Vec<Replica> = (0..3).map(|i| Replica::new(&setup, i)).collect();
    for replica in &mut replicas {
        replica.start(&setup);
    }
    let balancer = Balancer::start(&setup, &replicas);
    println!(
        "3 replicas of crm-rules serve behind HAProxy on 127.0.0.1:{}, one orgs folder ({}); \
         single leads for {} and {} at {:.0}/s over {} connections",
        balancer.port,
        setup.orgs.display(),
        ORGS[0],
        ORGS[1],
        plan.rate,
        plan.connections
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcome = runtime.block_on(async {
        for replica in &replicas {
            let (port, name) = (replica.port, replica.name.clone());
            wait_until(&format!("{name} ready"), Duration::from_secs(180), || {
                ready(port)
            })
            .await?;
        }
        let names: Vec<String> = replicas.iter().map(|r| r.name.clone()).collect();
        wait_until("all in service", Duration::from_secs(10), || {
            let names = names.clone();
            let stats = balancer.stats();
            async move { stats.is_some_and(|s| names.iter().all(|n| s.up.get(n) == Some(&true))) }
        })
        .await?;
        let before = balancer.stats().unwrap_or_default();
        // The load runs until the steps are done.
        let stop = Arc::new(AtomicBool::new(false));
        let load = tokio::spawn(drive(
            balancer.port,
            setup.key.clone(),
            Plan::new(quick),
            stop.clone(),
        ));
        let steps = async {
            let mut phases = Vec::new();
            let mut rollouts = Vec::new();
            let ports: Vec<(u16, String)> =
                replicas.iter().map(|r| (r.port, r.name.clone())).collect();
            let mark = Instant::now();
            tokio::time::sleep(plan.settle).await;
            phases.push(Phase {
                name: "steady".into(),
                from: mark,
                to: Instant::now(),
                broken_may_fail: false,
            });
            for (i, signal) in [(1, "TERM"), (2, "KILL")] {
                let from = Instant::now();
                restart(&mut replicas[i], signal, &setup, &balancer).await?;
                tokio::time::sleep(plan.settle).await;
                phases.push(Phase {
                    name: format!("(a) {} SIG{signal}, restart", replicas[i].name),
                    from,
                    to: Instant::now(),
                    broken_may_fail: false,
                });
            }
            let mut version = "v1".to_owned();
            for n in 0..plan.rollouts {
                let from = Instant::now();
                let next = format!("v{}", n + 2);
                rollouts.push(roll_out(&setup, &ports, &version, &next).await?);
                version = next;
                tokio::time::sleep(plan.settle).await;
                phases.push(Phase {
                    name: format!("(b) rollout {} -> {version}", rollouts[n].from),
                    from,
                    to: Instant::now(),
                    broken_may_fail: false,
                });
            }
            let from = Instant::now();
            let downs = balancer.stats().unwrap_or_default().downs;
            write_atomically(
                &setup.orgs.join("second/org.json"),
                b"{\"org_id\": \"second-co\", \"module\": ",
            );
            println!("  {}'s org.json broken", ORGS[BROKEN]);
            tokio::time::sleep(plan.settle).await;
            restart(&mut replicas[0], "TERM", &setup, &balancer).await?;
            tokio::time::sleep(plan.settle).await;
            let name = replicas[0].name.clone();
            // Only the restarted replica may have left the rotation, once.
            let still = balancer.stats().unwrap_or_default();
            let taken_out: Vec<&String> = still
                .downs
                .iter()
                .filter(|(server, n)| {
                    let allowed = u64::from(**server == name);
                    **n > downs.get(*server).copied().unwrap_or(0) + allowed
                })
                .map(|(server, _)| server)
                .collect();
            if still.up.values().any(|up| !up) || !taken_out.is_empty() {
                return Err(format!(
                    "with {}'s folder broken, HAProxy took replicas out: {taken_out:?} \
                     (in service now: {:?})",
                    ORGS[BROKEN], still.up
                ));
            }
            phases.push(Phase {
                name: format!("(c) {} broken, {name} restarted", ORGS[BROKEN]),
                from,
                to: Instant::now(),
                broken_may_fail: true,
            });
            Ok::<_, String>((phases, rollouts))
        }
        .await;
        stop.store(true, Ordering::Relaxed);
        let samples = load.await.expect("load");
        let after = balancer.stats().unwrap_or_default();
        let (phases, rollouts) = steps?;
        Ok::<_, String>((phases, rollouts, samples, before, after))
    });
    let (phases, rollouts, samples, before, after) = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            println!("replicas: FAILED: {e} (logs in {})", setup.dir.display());
            return false;
        }
    };
    let ok = verify(&phases, &rollouts, &samples);
    println!(
        "HAProxy: {} retries, {} redispatches",
        after.retries - before.retries,
        after.redispatches - before.redispatches
    );
    if ok {
        println!("replicas: every goal met");
        let _ = std::fs::remove_dir_all(&setup.dir);
    } else {
        println!("replicas: FAILED (logs in {})", setup.dir.display());
    }
    ok
}

/// Checks every answer against the goals of its phase and prints each phase's
/// figures; true when every goal is met.
fn verify(phases: &[Phase], rollouts: &[Rollout], samples: &[Sample]) -> bool {
    let phase_of = |sent: Instant| phases.iter().rposition(|p| p.from <= sent).unwrap_or(0);
    let mut ok = true;
    let mut by_phase: Vec<Vec<&Sample>> = phases.iter().map(|_| Vec::new()).collect();
    for sample in samples {
        by_phase[phase_of(sample.sent)].push(sample);
    }
    println!(
        "{:<34} {:>8} {:>7} {:>8} {:>8} {:>9}  failed (by status; 0 = no answer), versions",
        "phase", "seconds", "requests", "p50 ms", "p99 ms", "max ms"
    );
    for (phase, samples) in phases.iter().zip(&by_phase) {
        let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
        let mut failed: [BTreeMap<u16, u64>; 2] = Default::default();
        let mut versions: [BTreeMap<String, u64>; 2] = Default::default();
        let mut wrong = 0u64;
        for sample in samples {
            let _ = latency.record(sample.micros);
            if sample.status != 200 {
                *failed[sample.org].entry(sample.status).or_default() += 1;
                continue;
            }
            match &sample.version {
                Some(v) => {
                    *versions[sample.org].entry(v.clone()).or_default() += 1;
                    if !version_allowed(sample.org, v, sample.sent, sample.done, rollouts) {
                        wrong += 1;
                    }
                }
                None => wrong += 1,
            }
        }
        println!(
            "{:<34} {:>8.1} {:>7} {:>8.2} {:>8.2} {:>9.2}  {}: {:?} {:?}; {}: {:?} {:?}",
            phase.name,
            (phase.to - phase.from).as_secs_f64(),
            samples.len(),
            latency.value_at_quantile(0.5) as f64 / 1000.0,
            latency.value_at_quantile(0.99) as f64 / 1000.0,
            latency.max() as f64 / 1000.0,
            ORGS[0],
            failed[0],
            versions[0],
            ORGS[1],
            failed[1],
            versions[1],
        );
        let failures = |org: usize| failed[org].values().sum::<u64>();
        if failures(ROLLED) > 0 || (!phase.broken_may_fail && failures(BROKEN) > 0) {
            println!("  FAILED: requests failed that must not");
            ok = false;
        }
        if wrong > 0 {
            println!(
                "  FAILED: {wrong} answers named no version, or one that was not active at the time"
            );
            ok = false;
        }
        if samples.is_empty() {
            println!("  FAILED: no request in this phase");
            ok = false;
        }
    }
    ok
}
