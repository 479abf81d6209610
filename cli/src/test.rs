//! `crm-rules test`: the fixtures of org folders, with a diff per failure.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use crm_rules::fixtures::{run_org, Summary};
use crm_rules::org::OrgDir;
use crm_rules::Host;

/// Runs the fixtures of org folders.
pub fn run(host: &Host, dirs: &[PathBuf], bless: bool) -> anyhow::Result<ExitCode> {
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
