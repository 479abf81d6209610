//! The program's log: the library's `tracing` events go to stderr, at the level
//! `-v` asks (or `RUST_LOG`), without timestamps: the program runs under
//! something that adds its own.

use tracing_subscriber::EnvFilter;

/// Logs warnings, `-v` information, `-vv` everything of the host.
pub fn init(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "crm_rules=info,warn",
        _ => "crm_rules=debug,info",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
