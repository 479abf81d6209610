//! `floor`: the service's single-lead request beside the HTTP floor (the
//! `http-floor` program: the same HTTP stack serving one handler that parses the
//! JSON body and answers a fixed line), driven with the same requests at the same
//! rate in the same run. Rounds alternate which of the two goes first, so a
//! neighbour's load on a shared machine falls on both; each round reports the CPU
//! each server spent per request, and the last lines their ratio per round.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{rate, run, seconds, single_calls, Load, Report, Service, Target};

/// The floor's process, stopped when dropped.
struct Floor {
    child: Child,
    target: Target,
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `http-floor` is built beside this program (`cargo build --bins`).
fn floor_program() -> PathBuf {
    std::env::current_exe()
        .expect("the generator's path")
        .with_file_name("http-floor")
}

impl Floor {
    fn start() -> Floor {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        let child = Command::new(floor_program())
            .arg(addr.to_string())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (build it: cargo build --release --manifest-path bench/Cargo.toml \
                     --target-dir target --no-default-features --bins)",
                    floor_program().display()
                )
            });
        let started = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the floor did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Floor {
            target: Target {
                addr,
                pid: child.id(),
            },
            child,
        }
    }
}

fn cpu_per_request(report: &Report) -> f64 {
    report.service_cpu.as_secs_f64() * 1e6 / report.requests().max(1) as f64
}

pub async fn floor(service: &Service) {
    let rate = rate();
    let rounds: usize = std::env::var("FLOOR_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    println!(
        "\n## floor: single leads at {rate:.0}/s, the service beside the HTTP floor, {rounds} rounds"
    );
    let floor = Floor::start();
    let load = |rate: f64, duration: Duration| Load {
        calls: single_calls(service),
        connections: 64,
        rate: Some(rate),
        duration,
        versions: false,
    };
    for (name, target) in [("floor", floor.target), ("service", service.target())] {
        run(&target, load(2000.0, Duration::from_secs(2)))
            .await
            .print(&format!("{name}: warm-up at 2,000/s"));
    }
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let mut order = [("floor", floor.target), ("service", service.target())];
        if round % 2 == 1 {
            order.reverse();
        }
        let mut cpu = [0.0; 2];
        for (name, target) in order {
            let report = run(&target, load(rate, seconds())).await;
            report.print(&format!("round {}: {name}", round + 1));
            if report.errors() > 0 {
                println!("  {name} answered {} errors", report.errors());
            }
            cpu[usize::from(name == "service")] = cpu_per_request(&report);
        }
        ratios.push((cpu[1], cpu[0], cpu[1] / cpu[0]));
    }
    for (round, (service, floor, ratio)) in ratios.iter().enumerate() {
        println!(
            "round {}: cpu/req service {service:.1} us, floor {floor:.1} us: {ratio:.2}x the floor (goal: at most 2x)",
            round + 1
        );
    }
}
