//! The `crm-rules` program: decisions from CRM records, the fixture runner, module
//! integrity and audit tools. Flags live in `cli/flags.rs`; each command in a file
//! of its own under `cli/`.
#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

/// A faster allocator than the system's under several deciding threads: records
/// are parsed, typed and answered with many small allocations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::flags::Cli::parse();
    cli::log::init(&cli);
    match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", cli::shown(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}
