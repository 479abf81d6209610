//! `crm-rules audit`: verify a log's chain, show its entries.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;

use super::flags::AuditCommand;

/// Runs an `audit` command.
pub fn run(command: &AuditCommand) -> anyhow::Result<ExitCode> {
    use crm_rules::audit;
    match command {
        AuditCommand::Verify { log } => Ok(match audit::verify(log) {
            Ok(found) => {
                for warning in &found.warnings {
                    println!("warning: {warning}");
                }
                println!("ok: {} entries, chain intact", found.entries);
                ExitCode::SUCCESS
            }
            Err(broken) => {
                println!("FAILED: {broken}");
                ExitCode::from(1)
            }
        }),
        AuditCommand::Show {
            log,
            for_org,
            record,
            since,
            until,
        } => {
            let filter = audit::Filter {
                org: for_org.clone(),
                record: record.clone(),
                since: *since,
                until: *until,
            };
            let lines = audit::show(log, &filter)
                .with_context(|| format!("cannot read {}", log.display()))?;
            let mut stdout = std::io::stdout().lock();
            for line in lines {
                writeln!(stdout, "{line}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
