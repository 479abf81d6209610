//! `crm-rules audit`: verify a log's chain, MACs and end; show its entries; print
//! its head and the audit key's public key.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use crm_rules::audit::AuditKey;

use super::flags::{AuditCommand, OrgArgs};

/// The audit key the options name (or the default one), read with `read`.
pub fn audit_key(
    args: &OrgArgs,
    read: fn(&Path) -> Result<AuditKey, crm_rules::key_file::KeyFileError>,
) -> anyhow::Result<AuditKey> {
    let path = match &args.audit_key {
        Some(path) => path.clone(),
        None => crm_rules::audit::default_key_file()?,
    };
    read(&path).with_context(|| format!("cannot use the audit key {}", path.display()))
}

/// Runs an `audit` command.
pub fn run(command: &AuditCommand, args: &OrgArgs) -> anyhow::Result<ExitCode> {
    use crm_rules::audit;
    match command {
        AuditCommand::Verify {
            log,
            public_key,
            expect,
            expect_head,
            expect_seq,
            open,
        } => {
            let verifier = match public_key {
                Some(hex) => audit::Verifier::Public(
                    crm_rules::integrity::parse_public_key(hex).map_err(anyhow::Error::msg)?,
                ),
                None => audit::Verifier::Key(audit_key(args, AuditKey::load)?),
            };
            let line = match (expect, expect_head, expect_seq) {
                (Some(file), _, _) => {
                    let text = std::fs::read_to_string(file)
                        .with_context(|| format!("cannot read {}", file.display()))?;
                    Some(
                        audit::Expected::from_line(&text)
                            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?,
                    )
                }
                (None, Some(hash), Some(seq)) => Some(audit::Expected {
                    seq: *seq,
                    hash: hash.clone(),
                }),
                _ => None,
            };
            let expectations = audit::Expectations {
                line,
                open_end: *open,
            };
            Ok(match audit::verify(log, &verifier, &expectations) {
                Ok(found) => {
                    for warning in &found.warnings {
                        println!("warning: {warning}");
                    }
                    let signed = match found.last_checkpoint {
                        Some(seq) => format!("signed up to line {seq}"),
                        None => "no checkpoint".to_owned(),
                    };
                    println!(
                        "ok: {} entries, chain intact, {signed}, head {} (line {})",
                        found.entries, found.head, found.entries
                    );
                    ExitCode::SUCCESS
                }
                Err(broken) => {
                    println!("FAILED: {broken}");
                    ExitCode::from(1)
                }
            })
        }
        AuditCommand::Head { log } => {
            let text =
                std::fs::read(log).with_context(|| format!("cannot read {}", log.display()))?;
            let last = text
                .split(|b| *b == b'\n')
                .rfind(|line| !line.is_empty())
                .with_context(|| format!("{} is empty", log.display()))?;
            println!("{}", String::from_utf8_lossy(last));
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::PublicKey => {
            println!(
                "{}",
                audit_key(args, AuditKey::load_or_create)?.public_hex()
            );
            Ok(ExitCode::SUCCESS)
        }
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
