//! `crm-rules backtest`: the org's active version over labelled history, scored
//! against the outcomes, next to the baselines.

use std::path::Path;
use std::process::ExitCode;

use crm_rules::Host;
use crm_rules_backtest::baselines::stage_tables;
use crm_rules_backtest::decide::{decide_all, Run};
use crm_rules_backtest::{evaluate, html, Baselines, Report};

use super::flags::{HistoryArgs, OrgArgs};
use super::history::{self, cell, terminal_table, Progress};

/// Runs a backtest.
pub fn run(
    host: &Host,
    org_args: &OrgArgs,
    args: &HistoryArgs,
    html_path: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let h = history::open(host, org_args, args)?;
    h.lint();
    let records = &h.table.records;
    let tables = stage_tables(&h.mapping, &h.org.vocabularies)
        .map_err(|e| anyhow::anyhow!("mapping: {e}"))?;
    let progress = Progress::new(records.len(), "deciding");
    let run = Run {
        org: &h.org.file.org_id,
        now: history::now(org_args),
        threads: history::threads(org_args),
    };
    let answers = decide_all(host, &run, records, &|n| progress.advance(n));
    progress.finish();
    let labelled: Vec<usize> = (0..records.len()).collect();
    // In a backtest the base rate is the records' own: what a constant forecast
    // would score if it knew the rate in advance.
    let rate = {
        let y: Vec<bool> = records.iter().filter_map(|r| r.outcome.label()).collect();
        y.iter().filter(|y| **y).count() as f64 / y.len().max(1) as f64
    };
    let baselines = Baselines {
        base_rate: Some(rate),
        stage_tables: tables,
    };
    let report = evaluate(&h.table, &labelled, &answers, &baselines, "policy");
    history::report_speed(records.len(), records.len(), h.started);
    let failed = match &report {
        Report::Qualify(r) => r.failed,
        Report::Forecast(r) => r.failed,
    };
    for (record, answer) in records.iter().zip(&answers) {
        if let Err(e) = answer {
            eprintln!("error: row {}: {e}", record.row);
        }
    }
    if args.json {
        history::print_json(&report)?;
    } else {
        print_summary(&report);
    }
    if let Some(path) = html_path {
        let about = [
            ("org", h.org.file.org_id.clone()),
            ("data", args.data.display().to_string()),
            ("decision", h.table.kind.to_string()),
        ];
        history::write_html(path, &html::page("Backtest", &about, &report)?)?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The summary table a person reads at the end of a run.
pub fn print_summary(report: &Report) {
    match report {
        Report::Qualify(r) => {
            let mut t =
                terminal_table(&["scorer", "records", "ROC AUC", "precision", "recall", "F1"]);
            t.add_row(vec![
                "policy".to_owned(),
                r.figures.records.to_string(),
                cell(r.figures.auc),
                cell(Some(r.figures.precision)),
                cell(Some(r.figures.recall)),
                cell(Some(r.figures.f1)),
            ]);
            for (name, b) in &r.baselines {
                t.add_row(vec![
                    name.clone(),
                    b.records.to_string(),
                    cell(b.auc),
                    cell(Some(b.precision)),
                    cell(Some(b.recall)),
                    cell(Some(b.f1)),
                ]);
            }
            println!("{t}");
            let mut d = terminal_table(&["decile", "scores", "records", "converted", "lift"]);
            for x in &r.deciles {
                d.add_row(vec![
                    x.decile.to_string(),
                    format!("{:.0}-{:.0}", x.score_min, x.score_max),
                    format!("{:.0}", x.records),
                    format!("{:.1}%", 100.0 * x.conversion),
                    format!("{:.2}", x.lift),
                ]);
            }
            println!("{d}");
            println!(
                "conversion {} monotone by score decile; {} records failed, {} open",
                if r.monotone_by_decile { "is" } else { "is not" },
                r.failed,
                r.open
            );
        }
        Report::Forecast(r) => {
            let mut t = terminal_table(&["forecast", "records", "Brier", "log loss", "ROC AUC"]);
            t.add_row(vec![
                "policy".to_owned(),
                r.figures.records.to_string(),
                cell(r.figures.brier),
                cell(r.figures.log_loss),
                cell(r.figures.auc),
            ]);
            for (name, b) in &r.baselines {
                t.add_row(vec![
                    name.clone(),
                    b.records.to_string(),
                    cell(b.brier),
                    cell(b.log_loss),
                    cell(b.auc),
                ]);
            }
            println!("{t}");
            println!("{} records failed, {} open", r.failed, r.open);
        }
    }
}
