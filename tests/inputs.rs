//! Hostile input records through the program: bytes that are not UTF-8, a line of
//! hundreds of megabytes, keys given twice. Each bad record fails alone, named, and
//! the others are decided. Each test is named after the attack it pins.

use std::process::{Command, Output, Stdio};

use support::{root, text};

#[path = "support.rs"]
mod support;

const NOW: &str = "2026-11-25T09:00:00Z";

/// A lead the reference module decides.
fn lead(id: &str) -> String {
    format!("{{\"id\": \"{id}\", \"source\": \"web_form\", \"email\": \"{id}@example.org\"}}")
}

/// Runs the program (under `wrapper` when given) with `stdin` streamed in from
/// another thread, as big inputs need.
fn run(
    wrapper: &[&str],
    args: &[&str],
    stdin: impl FnOnce(&mut dyn std::io::Write) + Send + 'static,
) -> Output {
    let program = env!("CARGO_BIN_EXE_crm-rules");
    let mut command = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(program);
            c
        }
        None => Command::new(program),
    };
    let mut child = command
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the program starts");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let writer = std::thread::spawn(move || stdin(&mut pipe));
    let out = child.wait_with_output().expect("the program ends");
    writer.join().expect("the writer thread ends");
    assert!(
        !text(&out.stderr).contains("panicked"),
        "the program panicked: {}",
        text(&out.stderr)
    );
    out
}

fn qualify(records: Vec<u8>) -> Output {
    run(&[], &["--no-cache", "--now", NOW, "qualify"], move |pipe| {
        let _ = pipe.write_all(&records);
    })
}

/// The output lines as JSON.
fn lines(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("an output line is JSON"))
        .collect()
}

fn decided(line: &serde_json::Value) -> bool {
    !line["decision"].is_null()
}

fn error_message(line: &serde_json::Value) -> String {
    line["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn one_invalid_utf8_byte_on_line_3_of_5_fails_that_line_alone_naming_it() {
    let mut records = Vec::new();
    for i in 1..=5 {
        let line = lead(&format!("L-{i}"));
        if i == 3 {
            // `L-3` with an invalid byte inside its company's name.
            records.extend_from_slice(b"{\"id\": \"L-3\", \"company\": \"Caf\xe9\"}");
        } else {
            records.extend_from_slice(line.as_bytes());
        }
        records.push(b'\n');
    }
    let out = qualify(records);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines = lines(&out);
    assert_eq!(lines.len(), 5, "{}", text(&out.stdout));
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["position"], i + 1);
        assert_eq!(decided(line), i != 2, "{line}");
    }
    let message = error_message(&lines[2]);
    assert!(
        message.contains("line 3") && message.contains("UTF-8"),
        "{message}"
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");
}

#[test]
fn an_invalid_utf8_byte_on_the_first_line_fails_that_line_alone() {
    let mut records = b"{\"id\": \"L-1\", \"company\": \"\xff\"}\n".to_vec();
    records.extend_from_slice(format!("{}\n{}\n", lead("L-2"), lead("L-3")).as_bytes());
    let out = qualify(records);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines = lines(&out);
    assert_eq!(lines.len(), 3, "{}", text(&out.stdout));
    assert!(error_message(&lines[0]).contains("line 1"), "{}", lines[0]);
    assert!(decided(&lines[1]) && decided(&lines[2]));
}

/// The program's peak resident memory in MiB, from `/usr/bin/time -v`'s report.
fn peak_mib(stderr: &str) -> Option<f64> {
    stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|kb| kb.trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
}

#[test]
fn a_200_mb_line_fails_alone_with_a_clear_error_and_the_host_stays_small() {
    const LINE: usize = 200 << 20;
    let time = std::path::Path::new("/usr/bin/time");
    let wrapper: &[&str] = if time.exists() {
        &["/usr/bin/time", "-v"]
    } else {
        &[]
    };
    // The module comes from a warm cache, so what is measured is reading records,
    // not compiling the module (which alone peaks near 140 MiB).
    let dir = tempfile::tempdir().expect("tmp");
    let cache = dir.path().join("cache");
    let key = dir.path().join("cache.key");
    let args = [
        "--cache-dir",
        cache.to_str().expect("utf-8"),
        "--cache-key",
        key.to_str().expect("utf-8"),
        "--now",
        NOW,
        "qualify",
    ];
    let small = || {
        let out = run(wrapper, &args, |pipe| {
            let _ = writeln!(pipe, "{}", lead("L-0"));
        });
        assert!(out.status.success(), "{}", text(&out.stderr));
        peak_mib(&text(&out.stderr))
    };
    small();
    let baseline = small();
    let out = run(wrapper, &args, move |pipe| {
        let mut write = || -> std::io::Result<()> {
            writeln!(pipe, "{}", lead("L-1"))?;
            // One lead whose topic is 200 MB long, written a megabyte at a time.
            pipe.write_all(b"{\"id\": \"L-2\", \"topic\": \"")?;
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..LINE >> 20 {
                pipe.write_all(&chunk)?;
            }
            pipe.write_all(b"\"}\n")?;
            writeln!(pipe, "{}", lead("L-3"))
        };
        let _ = write();
    });
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines = lines(&out);
    assert_eq!(lines.len(), 3, "{}", text(&out.stdout));
    assert!(decided(&lines[0]) && decided(&lines[2]));
    let message = error_message(&lines[1]);
    assert!(
        message.contains("line 2") && message.contains("longer than the limit of 16777216 bytes"),
        "{message}"
    );
    match (baseline, peak_mib(&text(&out.stderr))) {
        (Some(baseline), Some(peak)) => {
            // The line is cut at the limit as it streams by, never held whole: the
            // host grows by about the limit (16 MiB), where a held line took it
            // past 1 GB.
            println!(
                "peak resident memory: {baseline:.0} MiB for one small record, \
                 {peak:.0} MiB with a 200 MB line among them"
            );
            assert!(
                peak < baseline + 64.0,
                "peak resident memory {peak:.0} MiB, {baseline:.0} MiB without the line"
            );
        }
        _ => println!("/usr/bin/time is not installed: peak memory not measured"),
    }
}

#[test]
fn a_record_over_a_smaller_max_record_bytes_fails_alone() {
    let long = format!("{{\"id\": \"L-2\", \"topic\": \"{}\"}}", "x".repeat(4096));
    let records = format!("{}\n{long}\n{}\n", lead("L-1"), lead("L-3"));
    let out = run(
        &[],
        &[
            "--no-cache",
            "--now",
            NOW,
            "--max-record-bytes",
            "1024",
            "qualify",
        ],
        move |pipe| {
            let _ = pipe.write_all(records.as_bytes());
        },
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines = lines(&out);
    assert!(decided(&lines[0]) && decided(&lines[2]));
    assert!(error_message(&lines[1]).contains("limit of 1024 bytes"));
}

#[test]
fn keys_given_twice_in_a_record_its_custom_fields_or_a_nested_object_are_refused_naming_the_key() {
    let records = [
        // The second `id` used to win.
        r#"{"id": "L-1", "source": "web_form", "id": "L-666"}"#.to_owned(),
        r#"{"id": "L-2", "custom": {"region": "EU", "region": "US"}}"#.to_owned(),
        lead("L-3"),
        r#"{"lead": {"id": "L-4"}, "lead": {"id": "L-5"}}"#.to_owned(),
        r#"{"attributes": {"type": "Lead", "url": "/x/00Q1"}, "Id": "00Q1", "Email": "a@b.example", "Email": "c@d.example"}"#.to_owned(),
        r#"{"attributes": {"type": "Lead", "type": "Contact"}, "Id": "00Q2"}"#.to_owned(),
        r#"{"id": "9", "properties": {"email": "a@b.example", "email": "c@d.example"}}"#.to_owned(),
    ];
    let out = qualify((records.join("\n") + "\n").into_bytes());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines = lines(&out);
    assert_eq!(lines.len(), records.len(), "{}", text(&out.stdout));
    assert!(decided(&lines[2]), "{}", lines[2]);
    for (i, key) in [
        (0, "id"),
        (1, "region"),
        (4, "Email"),
        (5, "type"),
        (6, "email"),
    ] {
        let message = error_message(&lines[i]);
        assert!(
            message.contains(&format!("`{key}` is given twice")),
            "record {}: {}",
            i + 1,
            lines[i]
        );
    }
    // A wrapper that says `lead` twice is not a convert request here, but a
    // qualify record with a key given twice: refused all the same.
    assert!(
        error_message(&lines[3]).contains("`lead` is given twice"),
        "{}",
        lines[3]
    );
    let custom_path = lines[1]["error"]["field"].as_str().unwrap_or_default();
    assert!(custom_path.contains("custom"), "{}", lines[1]);
}
