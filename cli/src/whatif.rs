//! `crm-rules whatif`: the org's version and another (a policy, a module, or
//! both) over the same records, and what changes.

use std::process::ExitCode;

use anyhow::{bail, Context as _};
use crm_rules::Host;
use crm_rules_backtest::decide::{decide_all, Run};
use crm_rules_backtest::whatif::compare;

use super::flags::{Cli, Command};
use super::history::{self, terminal_table, Progress};

/// Runs a what-if comparison.
pub fn run(host: &Host, cli: &Cli) -> anyhow::Result<ExitCode> {
    let Command::Whatif {
        history: args,
        against,
        against_module,
        sample,
    } = &cli.command
    else {
        bail!("not the whatif command")
    };
    if against.is_none() && against_module.is_none() {
        bail!("whatif needs something to compare with: --against POLICY, --against-module FILE, or both");
    }
    let h = history::open(host, &cli.org, args)?;
    let policy = match against {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read policy {}", path.display()))?,
        None => h.org.policy.clone(),
    };
    let wasm = match against_module {
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read module {}", path.display()))?
        }
        None => h.org.wasm.clone(),
    };
    let org = &h.org.file.org_id;
    let other = format!("{org}:against");
    host.load(&other, &wasm, &policy, h.org.file.limits.clone())
        .context("the version to compare with cannot be loaded")?;
    let records = &h.table.records;
    let progress = Progress::new(records.len() * 2, "deciding");
    let (now, threads) = (history::now(&cli.org), history::threads(&cli.org));
    let before = decide_all(host, &Run { org, now, threads }, records, &|n| {
        progress.advance(n)
    });
    let after = decide_all(
        host,
        &Run {
            org: &other,
            now,
            threads,
        },
        records,
        &|n| progress.advance(n),
    );
    progress.finish();
    let result = compare(&h.table, &before, &after, *sample);
    history::report_speed(records.len(), records.len() * 2, h.started);
    if args.json {
        history::print_json(&result)?;
    } else {
        let mut t = terminal_table(&["from", "to", "records", "with outcome", "conversion"]);
        for m in &result.moves {
            t.add_row(vec![
                m.from.clone(),
                m.to.clone(),
                m.records.to_string(),
                m.labelled.to_string(),
                m.conversion
                    .map_or_else(|| "-".to_owned(), |c| format!("{:.1}%", 100.0 * c)),
            ]);
        }
        println!("{t}");
        println!(
            "{} of {} records change decision ({} change score)",
            result.changed, result.records, result.score_changed
        );
        if let Some(q) = &result.qualified {
            let pct =
                |c: Option<f64>| c.map_or_else(|| "-".to_owned(), |c| format!("{:.1}%", 100.0 * c));
            println!(
                "qualified: {} -> {} (historical conversion {} -> {})",
                q.before,
                q.after,
                pct(q.conversion_before),
                pct(q.conversion_after)
            );
        }
        for c in &result.sample {
            println!(
                "row {} `{}`: {} -> {}",
                c.row,
                c.id,
                serde_json::to_string(&c.before)?,
                serde_json::to_string(&c.after)?
            );
        }
    }
    Ok(if result.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
