//! What the test suites share: the workspace's folder and running the program.
// Each suite uses a part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

/// The host's log lines (messages only), kept for the tests that look at them.
static LOG_LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Captured;

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG_LINES
            .lock()
            .expect("log lock")
            .push(String::from_utf8_lossy(buf).trim().to_owned());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends the host's log (information and up) to memory, for [`log_lines`].
pub fn capture_log() {
    let _ = tracing_subscriber::fmt()
        .with_writer(|| Captured)
        .with_ansi(false)
        .with_level(false)
        .with_target(false)
        .without_time()
        .with_max_level(tracing::Level::INFO)
        .try_init();
}

/// The log lines captured so far.
pub fn log_lines() -> Vec<String> {
    LOG_LINES.lock().expect("log lock").clone()
}

/// The workspace's root folder.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the host crate sits in the workspace")
        .to_owned()
}

/// Runs the `crm-rules` program in the workspace's root with `stdin` as input;
/// fails the test when the program panics.
pub fn cli(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crm-rules"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the program starts");
    // Input is written from another thread: the program streams, so it answers
    // while it still reads, and both pipes must flow at once.
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let text = stdin.unwrap_or_default().to_owned();
    let writer = std::thread::spawn(move || {
        use std::io::Write as _;
        let _ = pipe.write_all(text.as_bytes());
    });
    let out = child.wait_with_output().expect("the program ends");
    writer.join().expect("the writer thread ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "the program panicked: {stderr}"
    );
    out
}

/// The context of every test decision: `org` at a fixed instant.
pub fn ctx(org: &str) -> crm_rules::model::Context {
    crm_rules::model::Context {
        org_id: org.to_owned(),
        now: "2026-11-25T09:00:00Z".parse().expect("a valid instant"),
        user: None,
        team: None,
    }
}

/// The smallest lead the reference rules decide: a web form, nothing else known.
pub fn web_lead(id: &str) -> crm_rules::model::Lead {
    serde_json::from_value(serde_json::json!({"id": id, "source": "web_form"})).expect("lead")
}

/// A lead the example policies qualify: budget, authority, need and timeframe known.
pub fn qualified_lead(id: &str) -> crm_rules::model::Lead {
    serde_json::from_value(serde_json::json!({
        "id": id, "contact_name": "Robin Meyer", "email": "robin@northwind.example",
        "company": "Northwind", "source": "web_form", "engagement": "evaluation",
        "budget_status": "can_buy", "decision_maker_known": true, "need": "must_have",
        "timeframe": "this_quarter"
    }))
    .expect("lead")
}

/// The policy of the example org folder `examples/<org>`.
pub fn example_policy(org: &str) -> String {
    std::fs::read_to_string(root().join("examples").join(org).join("policy.json"))
        .expect("example policy")
}

/// Bytes as text, for messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
