//! The `crm-rules` program: decisions from CRM records, the fixture runner, the
//! decision service, backtest and calibration, module integrity and audit tools.
//! Flags live in `flags.rs`; each command in a file of its own. Everything it does
//! goes through the `crm-rules` library's public API (and `crm-rules-backtest` for
//! history); the flags, the log backend and the allocator stay here.
#![forbid(unsafe_code)]

mod audit;
mod backtest;
mod calibrate;
mod decide;
mod events;
mod flags;
mod history;
mod keys;
mod lint;
mod log;
mod module;
mod org;
mod scaffold;
mod serve;
mod test;
mod whatif;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crm_rules::{EngineSettings, Host};

use flags::{Cli, Command};

/// The folder of compiled modules the flags name.
fn cache_dir(args: &flags::OrgArgs) -> Option<PathBuf> {
    if args.no_cache {
        return None;
    }
    if let Some(dir) = &args.cache_dir {
        return Some(dir.clone());
    }
    crm_rules::cache::default_dir()
}

/// Text from records or modules, made safe for the terminal: control characters
/// shown as escapes, so no one can forge or hide the program's own lines.
pub fn shown(text: &str) -> String {
    crm_rules::guest_output::escape(text.as_bytes())
}

/// Runs the command; the exit code says how it went.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Module(command) => return module::run(command),
        Command::Audit(command) => return audit::run(command, &cli.org),
        Command::New { name, dir, kit } => {
            return scaffold::new(name, dir.as_deref(), kit.as_deref())
        }
        Command::Build { dir, target, org } => {
            return scaffold::build(dir, target == "wasm32-wasip2", org.as_deref())
        }
        Command::Keys(command) => return keys::run(command),
        _ => {}
    }
    let host = Arc::new(Host::with_settings(&EngineSettings {
        cache_dir: cache_dir(&cli.org),
        cache_key: cli.org.cache_key.clone(),
        ..EngineSettings::default()
    })?);
    match &cli.command {
        Command::Test { dirs, bless } => test::run(&host, dirs, *bless),
        Command::Backtest { history, html } => {
            backtest::run(&host, &cli.org, history, html.as_deref())
        }
        Command::Calibrate { .. } => calibrate::run(&host, &cli),
        Command::Lint { mapping } => lint::run(&host, &cli.org, mapping.as_deref()),
        Command::Whatif { .. } => whatif::run(&host, &cli),
        Command::Serve(args) => serve::run(host, args, &cli.org),
        _ => decide::run(&host, &cli),
    }
}

use clap::Parser as _;

/// A faster allocator than the system's under several deciding threads: records
/// are parsed, typed and answered with many small allocations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = flags::Cli::parse();
    log::init(&cli);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", shown(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}
