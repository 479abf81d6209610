//! The commands of the program.

mod audit;
mod decide;
pub mod flags;
mod keys;
pub mod log;
mod module;
mod org;
mod serve;
mod test;

use std::path::PathBuf;
use std::process::ExitCode;

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
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("crm-rules"))
}

/// Runs the command; the exit code says how it went.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Module(command) => return module::run(command),
        Command::Audit(command) => return audit::run(command),
        Command::Keys(command) => return keys::run(command),
        _ => {}
    }
    let host = Host::with_settings(&EngineSettings {
        cache_dir: cache_dir(&cli.org),
        ..EngineSettings::default()
    })?;
    match &cli.command {
        Command::Test { dirs, bless } => test::run(&host, dirs, *bless),
        Command::Serve(args) => serve::run(host, args),
        _ => decide::run(&host, &cli),
    }
}
