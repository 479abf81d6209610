//! `crm-rules qualify|convert|transition|forecast|stages|info`: the org's rules on
//! records from a file or stdin, one output line per record, through the
//! library's pipeline.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{SubsecRound, Utc};
use crm_rules::audit::{AuditKey, AuditLog, Entry};
use crm_rules::decision::Kind;
use crm_rules::pipeline::{self, Emit, InputError, Pipeline};
use crm_rules::{DecideOptions, Host};

use super::flags::{self, Cli, Command};

fn print_json(
    out: &mut dyn std::io::Write,
    pretty: bool,
    value: &impl serde::Serialize,
) -> anyhow::Result<()> {
    if pretty {
        serde_json::to_writer_pretty(&mut *out, value)?;
    } else {
        serde_json::to_writer(&mut *out, value)?;
    }
    writeln!(out)?;
    Ok(())
}

/// Opens a file or stdin.
fn open_input(
    path: Option<&Path>,
    max_record: usize,
) -> anyhow::Result<(String, pipeline::Opened<Box<dyn std::io::BufRead>>)> {
    let (name, reader): (String, Box<dyn std::io::BufRead>) = match path {
        None => (
            "stdin".to_owned(),
            Box::new(std::io::BufReader::new(std::io::stdin())),
        ),
        Some(p) if p == Path::new("-") => (
            "stdin".to_owned(),
            Box::new(std::io::BufReader::new(std::io::stdin())),
        ),
        Some(p) => {
            let file =
                std::fs::File::open(p).with_context(|| format!("cannot read {}", p.display()))?;
            (
                p.display().to_string(),
                Box::new(std::io::BufReader::with_capacity(1 << 20, file)),
            )
        }
    };
    let opened =
        pipeline::open(reader, max_record).with_context(|| format!("cannot read {name}"))?;
    Ok((name, opened))
}

/// Runs a decision command.
pub fn run(host: &Arc<Host>, cli: &Cli) -> anyhow::Result<ExitCode> {
    let args = &cli.org;
    let org = super::org::load(host, args)?;
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let (kind, input, to) = match &cli.command {
        Command::Info => {
            print_json(&mut stdout, args.pretty, &org.info()?)?;
            stdout.flush()?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Stages => {
            print_json(&mut stdout, args.pretty, &org.stages()?)?;
            stdout.flush()?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Qualify { input } => (Kind::Qualify, input, None),
        Command::Convert { input } => (Kind::Convert, input, None),
        Command::Transition { input, to } => (Kind::Transition, input, to.as_deref()),
        Command::Forecast { input } => (Kind::Forecast, input, None),
        Command::Test { .. }
        | Command::Module(_)
        | Command::Audit(_)
        | Command::New { .. }
        | Command::Build { .. }
        | Command::Backtest { .. }
        | Command::Calibrate { .. }
        | Command::Lint { .. }
        | Command::Whatif { .. }
        | Command::Serve(_)
        | Command::Keys(_) => {
            anyhow::bail!("not a decision command")
        }
    };
    let mut audit = match &args.audit {
        Some(path) => Some(
            AuditLog::open(
                path,
                super::audit::audit_key(args, AuditKey::load_or_create)?,
            )
            .with_context(|| format!("cannot open audit log {}", path.display()))?,
        ),
        None => None,
    };
    let options = DecideOptions {
        user: args.user.clone(),
        team: args.team.clone(),
        format: args.format,
        to: to.map(str::to_owned),
        emit: Emit {
            decision: args.emit != flags::Emit::Native,
            native: args.emit != flags::Emit::Decision,
            provenance: args.provenance,
            bundle: args.bundle,
            pretty: args.pretty,
        },
        ..DecideOptions::at(args.now.unwrap_or_else(|| Utc::now().trunc_subsecs(0)))
    };
    let ctx = org.context(&options);
    let reading = org.reading(kind, &options);
    // An event file is read by its shape; what it cannot decide is answered
    // after its decisions.
    let event = super::events::open(
        input.as_deref(),
        args.max_record_bytes,
        reading.vocabularies,
    )?;
    let (source_name, opened) = match &event {
        Some(event) => (
            event.source_name.clone(),
            pipeline::Opened::Whole(event.prepared.records_text()),
        ),
        None => open_input(input.as_deref(), args.max_record_bytes)?,
    };
    let pipeline = Pipeline {
        decider: &**host,
        ctx: &ctx,
        reading,
        emit: options.emit,
        audit: audit.as_ref().map(|_| org.audit_policy()),
        source_name: &source_name,
    };
    let threads = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let mut failed = 0usize;
    let mut audit_error = None;
    let result = pipeline.run_input(opened, threads, |output| {
        failed += output.failed;
        for failure in &output.failures {
            eprintln!("error: {}", super::shown(&failure.error.to_string()));
        }
        for warning in &output.warnings {
            eprintln!("warning: {}", super::shown(warning));
        }
        stdout.write_all(&output.text)?;
        if let Some(log) = audit.as_mut() {
            for item in &output.audit {
                let entry = Entry {
                    decision: kind.as_str(),
                    ctx: &ctx,
                    record: item.record.as_deref(),
                    position: item.position,
                    input: &item.input,
                    by: item.by.as_ref(),
                    result: item.result.as_ref(),
                    key_id: None,
                };
                if let Err(e) = log.append(&entry, org.audit_policy()) {
                    audit_error = Some(e);
                    return Err(std::io::Error::other("the audit log cannot be written"));
                }
            }
        }
        Ok(())
    });
    if let Some(e) = audit_error {
        let path = args.audit.as_deref().unwrap_or(Path::new("audit log"));
        return Err(e).with_context(|| format!("cannot write audit log {}", path.display()));
    }
    match result {
        Ok(()) => {}
        Err(InputError::Unreadable(message)) => {
            anyhow::bail!("{source_name}: {message}")
        }
        Err(e) => return Err(e).with_context(|| source_name.clone()),
    }
    for answer in event.iter().flat_map(|e| &e.prepared.answers) {
        print_json(&mut stdout, args.pretty, answer)?;
    }
    stdout.flush()?;
    if let Some(log) = audit.as_mut() {
        log.sync()
            .with_context(|| format!("cannot write audit log {}", log.path().display()))?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
