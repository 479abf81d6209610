//! The `crm-rules` command-line program: decisions from JSON records, and the
//! fixture runner.
#![forbid(unsafe_code)]

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use chrono::{DateTime, SubsecRound, Utc};
use clap::{Args, Parser, Subcommand};
use crm_rules::decide::{decide_all, DecisionKind};
use crm_rules::fixtures::{run_org, Summary};
use crm_rules::org::OrgDir;
use crm_rules::{Host, Limits};

/// The example policy the program uses when given no org.
const EXAMPLE_POLICY: &str = include_str!("../../examples/strict/policy.json");

#[derive(Parser)]
#[command(
    name = "crm-rules",
    version,
    about = "Runs an organisation's CRM sales rules (a WebAssembly component) on CRM records"
)]
struct Cli {
    #[command(flatten)]
    org: OrgArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct OrgArgs {
    /// An org folder (with org.json, its policy and fixtures).
    #[arg(long, global = true, value_name = "DIR")]
    org_dir: Option<PathBuf>,
    /// A rule module (.wasm component); default: the built-in reference module.
    #[arg(long, global = true, value_name = "FILE")]
    module: Option<PathBuf>,
    /// The org policy (JSON); default: the example policy.
    #[arg(long, global = true, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The org id put in each decision's context.
    #[arg(long, global = true, value_name = "ID")]
    org: Option<String>,
    /// The decision time (RFC 3339); default: the current time.
    #[arg(long, global = true, value_name = "TIME")]
    now: Option<DateTime<Utc>>,
    /// The acting user.
    #[arg(long, global = true)]
    user: Option<String>,
    /// The acting team.
    #[arg(long, global = true)]
    team: Option<String>,
    /// Pretty-print decisions (one JSON document per record).
    #[arg(long, global = true)]
    pretty: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Qualify leads.
    Qualify {
        /// Records: a JSON object, array or JSON lines; `-` or nothing for stdin.
        input: Option<PathBuf>,
    },
    /// Plan conversions: records of `{"lead": ..., "candidates": [...]}`.
    Convert {
        /// Records file; `-` or nothing for stdin.
        input: Option<PathBuf>,
    },
    /// Check stage moves: records of `{"opportunity": ..., "to": "Propose"}`.
    Transition {
        /// Records file; `-` or nothing for stdin.
        input: Option<PathBuf>,
    },
    /// Forecast opportunities from their activities.
    Forecast {
        /// Records file; `-` or nothing for stdin.
        input: Option<PathBuf>,
    },
    /// List the org's stages and their steps.
    Stages,
    /// Show the module's hash, name, version and input query.
    Info,
    /// Run the fixtures of org folders; exits non-zero when any fails.
    Test {
        /// Org folders, or folders holding org folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Rewrite each fixture's expectation from what the rules decide.
        #[arg(long)]
        bless: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let host = Host::new()?;
    let kind = match &cli.command {
        Command::Test { dirs, bless } => return test(&host, dirs, *bless),
        Command::Qualify { .. } => DecisionKind::Qualify,
        Command::Convert { .. } => DecisionKind::Convert,
        Command::Transition { .. } => DecisionKind::Transition,
        Command::Forecast { .. } => DecisionKind::Forecast,
        Command::Stages | Command::Info => DecisionKind::Stages,
    };
    let org_id = load_org(&host, &cli.org)?;
    let ctx = crm_rules::model::Context {
        org_id: org_id.clone(),
        now: cli.org.now.unwrap_or_else(|| Utc::now().trunc_subsecs(0)),
        user: cli.org.user.clone(),
        team: cli.org.team.clone(),
    };
    let mut stdout = std::io::stdout().lock();
    let print = |out: &mut dyn std::io::Write, value: &serde_json::Value| -> anyhow::Result<()> {
        let text = if cli.org.pretty {
            serde_json::to_string_pretty(value)?
        } else {
            serde_json::to_string(value)?
        };
        writeln!(out, "{text}")?;
        Ok(())
    };
    let input = match cli.command {
        Command::Info => {
            let loaded = host.module(&org_id)?;
            print(&mut stdout, &serde_json::to_value(&loaded)?)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Stages => {
            let stages = host.stages(&ctx)?;
            print(&mut stdout, &serde_json::to_value(&stages)?)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Qualify { input }
        | Command::Convert { input }
        | Command::Transition { input }
        | Command::Forecast { input } => input,
        Command::Test { .. } => unreachable!("handled above"),
    };
    let (source_name, text) = read_input(input.as_deref())?;
    let records = crm_rules::input::split(&source_name, &text)?;
    let mut failed = 0usize;
    for answer in decide_all(&host, &ctx, kind, &source_name, records) {
        let mut line = serde_json::Map::new();
        line.insert("position".into(), answer.position.into());
        if let Some(id) = answer.id {
            line.insert("id".into(), id.into());
        }
        match answer.result {
            Ok(decision) => {
                line.insert("decision".into(), decision);
            }
            Err(error) => {
                failed += 1;
                eprintln!("error: {error}");
                line.insert("error".into(), error.to_json());
            }
        }
        print(&mut stdout, &serde_json::Value::Object(line))?;
    }
    stdout.flush()?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn read_input(path: Option<&Path>) -> anyhow::Result<(String, String)> {
    match path {
        None => read_stdin(),
        Some(p) if p == Path::new("-") => read_stdin(),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            Ok((p.display().to_string(), text))
        }
    }
}

fn read_stdin() -> anyhow::Result<(String, String)> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read stdin")?;
    Ok(("stdin".to_owned(), text))
}

/// Loads the org the options name and returns its id.
fn load_org(host: &Host, args: &OrgArgs) -> anyhow::Result<String> {
    let (mut org_id, mut wasm, mut policy, limits) = match &args.org_dir {
        Some(dir) => {
            let org = OrgDir::read(dir)?;
            (org.file.org_id, org.wasm, org.policy, org.file.limits)
        }
        None => (
            "default".to_owned(),
            crm_rules::REFERENCE_MODULE.to_vec(),
            EXAMPLE_POLICY.to_owned(),
            Limits::default(),
        ),
    };
    if let Some(path) = &args.module {
        wasm = std::fs::read(path)
            .with_context(|| format!("cannot read module {}", path.display()))?;
    }
    if let Some(path) = &args.policy {
        policy = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read policy {}", path.display()))?;
    }
    if let Some(id) = &args.org {
        org_id = id.clone();
    }
    host.load(&org_id, &wasm, &policy, limits)?;
    Ok(org_id)
}

fn test(host: &Host, dirs: &[PathBuf], bless: bool) -> anyhow::Result<ExitCode> {
    let mut total = Summary::default();
    let mut stdout = std::io::stdout().lock();
    for root in dirs {
        let orgs = OrgDir::find(root)?;
        if orgs.is_empty() {
            bail!(
                "no org folder (with an org.json) at or below {}",
                root.display()
            );
        }
        for dir in orgs {
            match run_org(host, &dir, bless, &mut stdout) {
                Ok(summary) => {
                    total.passed += summary.passed;
                    total.failed += summary.failed;
                }
                Err(e) => {
                    total.failed += 1;
                    writeln!(stdout, "  FAIL    {}: {e:#}", dir.display())?;
                }
            }
        }
    }
    writeln!(stdout, "{} passed, {} failed", total.passed, total.failed)?;
    Ok(if total.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
