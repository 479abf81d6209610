//! `crm-rules calibrate`: a new policy for the reference module, fitted on the
//! older part of the history and judged on the newer part.

use std::process::ExitCode;

use anyhow::Context as _;
use crm_rules::decision::Kind;
use crm_rules::Host;
use crm_rules_backtest::baselines::stage_tables;
use crm_rules_backtest::calibrate::{Job, Settings};
use crm_rules_backtest::{evaluate, html, Report};
use serde_json::json;

use super::flags::{Cli, Command};
use super::history::{self, cell, terminal_table, Progress};

/// Runs a calibration.
pub fn run(host: &Host, cli: &Cli) -> anyhow::Result<ExitCode> {
    let Command::Calibrate {
        history: args,
        out,
        html: html_path,
        min_count,
        alpha,
        points_per_doubling,
        points_step,
        seed,
        hot_precision,
    } = &cli.command
    else {
        anyhow::bail!("not the calibrate command")
    };
    let mut h = history::open(host, &cli.org, args)?;
    h.lint();
    if let Some(seed) = seed {
        h.mapping.split.seed = *seed;
    }
    let tables = stage_tables(&h.mapping, &h.org.vocabularies)
        .map_err(|e| anyhow::anyhow!("mapping: {e}"))?;
    let passes = if h.table.kind == Kind::Qualify { 3 } else { 2 };
    let progress = Progress::new(h.table.records.len() * passes, "calibrating");
    let job = Job {
        host,
        org: &h.org.file.org_id,
        wasm: &h.org.wasm,
        policy: &h.org.policy,
        limits: h.org.file.limits.clone(),
        table: &h.table,
        mapping: &h.mapping,
        stage_tables: tables,
        settings: {
            let given = &h.mapping.calibrate;
            Settings {
                min_count: min_count.or(given.min_count),
                alpha: alpha.or(given.alpha),
                points_per_doubling: points_per_doubling.or(given.points_per_doubling),
                points_step: points_step.or(given.points_step).unwrap_or(1),
                hot_precision: hot_precision.or(given.hot_precision),
            }
        },
        now: history::now(&cli.org),
        threads: history::threads(&cli.org),
    };
    let calibration = job.run(&|n| progress.advance(n))?;
    progress.finish();
    std::fs::write(out, format!("{}\n", calibration.policy))
        .with_context(|| format!("cannot write {}", out.display()))?;
    history::report_speed(
        h.table.records.len(),
        h.table.records.len() * passes,
        h.started,
    );
    eprintln!("new policy written to {}", out.display());
    if args.json {
        let mut value = serde_json::to_value(&calibration)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("policy".into(), json!(out.display().to_string()));
        }
        history::print_json(&value)?;
    } else {
        print_summary(&calibration);
    }
    for note in &calibration.notes {
        eprintln!("note: {}", super::shown(note));
    }
    if let (Some(path), Some(new)) = (html_path, calibration.detail.get("new")) {
        // The old policy beside the new one.
        let mut new = new.clone();
        if let Some(old) = calibration.detail.get("old") {
            new.compare_with("old", old);
        }
        if let Report::Qualify(r) = &mut new {
            if let Some(lr) = calibration.validation.get("logistic_regression") {
                r.auc_rows.push((
                    "logistic_regression".to_owned(),
                    lr.get("records")
                        .and_then(serde_json::Value::as_u64)
                        .unwrap_or(0) as usize,
                    lr.get("auc").and_then(serde_json::Value::as_f64),
                ));
            }
            r.lines = calibration.thresholds.clone();
            r.notes = calibration.notes.clone();
        }
        let new = &new;
        let about = [
            ("org", h.org.file.org_id.clone()),
            ("data", args.data.display().to_string()),
            ("policy", out.display().to_string()),
            ("part", "validation".to_owned()),
        ];
        history::write_html(
            path,
            &html::page("Calibrated policy, validation", &about, new)?,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// How the records were split, in words.
pub fn split_sentence(split: &crm_rules_backtest::split::Split) -> String {
    use crm_rules_backtest::split::SplitKind;
    let how = match &split.kind {
        SplitKind::Time {
            train_until,
            validation_from,
        } => format!(
            "by time: trained on records up to {}, validated on those from {}",
            train_until.map_or_else(|| "-".to_owned(), |d| d.to_string()),
            validation_from.map_or_else(|| "-".to_owned(), |d| d.to_string())
        ),
        SplitKind::Hash { seed } => format!("seeded (seed {seed})"),
    };
    format!(
        "split {how}: {} records trained on, {} validated on",
        split.train, split.validation
    )
}

/// The summary a person reads: the figures in a fixed order, the new policy's
/// deciles with counts, whether conversion rises with them, the lines with
/// their precision and recall, and how the records were split.
fn print_summary(calibration: &crm_rules_backtest::calibrate::Calibration) {
    let kind = calibration.decision;
    let head: &[&str] = if kind == Kind::Forecast {
        &["validation", "records", "Brier", "log loss", "ROC AUC"]
    } else {
        &[
            "validation",
            "records",
            "ROC AUC",
            "precision",
            "recall",
            "F1",
        ]
    };
    let mut t = terminal_table(head);
    for name in evaluate::row_order(calibration.validation.keys().cloned()) {
        let figures = &calibration.validation[&name];
        let f = |k: &str| figures.get(k).and_then(serde_json::Value::as_f64);
        let records = figures
            .get("records")
            .map_or_else(String::new, ToString::to_string);
        t.add_row(if kind == Kind::Forecast {
            vec![
                name.clone(),
                records,
                cell(f("brier")),
                cell(f("log_loss")),
                cell(f("auc")),
            ]
        } else {
            vec![
                name.clone(),
                records,
                cell(f("auc")),
                cell(f("precision")),
                cell(f("recall")),
                cell(f("f1")),
            ]
        });
    }
    println!("{t}");
    if let Some(Report::Qualify(r)) = calibration.detail.get("new") {
        let mut d = terminal_table(&["decile", "scores", "records", "converted", "conversion"]);
        for x in &r.deciles {
            d.add_row(vec![
                x.decile.to_string(),
                format!("{:.0}-{:.0}", x.score_min, x.score_max),
                format!("{:.0}", x.records),
                format!("{:.0}", x.positives),
                format!("{:.1}%", 100.0 * x.conversion),
            ]);
        }
        println!("{d}");
        println!(
            "conversion {} monotone by score decile of the new policy",
            if r.monotone_by_decile { "is" } else { "is not" }
        );
    }
    if !calibration.thresholds.is_empty() {
        let mut l = terminal_table(&[
            "line",
            "score",
            "records at or above",
            "precision",
            "recall",
        ]);
        for x in &calibration.thresholds {
            l.add_row(vec![
                x.name.clone(),
                x.score.to_string(),
                x.records.to_string(),
                cell(x.precision),
                cell(x.recall),
            ]);
        }
        println!("{l}");
    }
    println!("{}", split_sentence(&calibration.split));
}
