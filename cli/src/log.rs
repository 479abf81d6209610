//! The program's log: the library's `tracing` events go to stderr, at the level
//! `-v` asks (or `RUST_LOG`). A command's log has no timestamps: the program runs
//! under something that adds its own. The service logs what it does (loads,
//! reloads, refusals) by default, and with `--log-json` writes JSON lines with
//! timestamps for a log collector.

use tracing_subscriber::EnvFilter;

use super::flags::{Cli, Command};

/// Logs warnings, `-v` information, `-vv` everything of the host; the service
/// starts one step up.
pub fn init(cli: &Cli) {
    let (service, json) = match &cli.command {
        Command::Serve(args) => (true, args.log_json),
        _ => (false, false),
    };
    let level = match cli.org.verbose + u8::from(service) {
        0 => "warn",
        1 => "crm_rules=info,warn",
        _ => "crm_rules=debug,info",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder
            .without_time()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init()
    };
}
