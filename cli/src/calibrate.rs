//! `crm-rules calibrate`: a new policy for the reference module, fitted on the
//! older part of the history and judged on the newer part.

use std::process::ExitCode;

use anyhow::Context as _;
use crm_rules::decision::Kind;
use crm_rules::Host;
use crm_rules_backtest::baselines::stage_tables;
use crm_rules_backtest::calibrate::{Job, Settings};
use crm_rules_backtest::html;
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
            let default = Settings::default();
            Settings {
                min_count: min_count.or(given.min_count).unwrap_or(default.min_count),
                alpha: alpha.or(given.alpha).unwrap_or(default.alpha),
                points_per_doubling: points_per_doubling
                    .or(given.points_per_doubling)
                    .unwrap_or(default.points_per_doubling),
                points_step: points_step
                    .or(given.points_step)
                    .unwrap_or(default.points_step),
                hot_precision: hot_precision
                    .or(given.hot_precision)
                    .unwrap_or(default.hot_precision),
                ..default
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
        for (name, figures) in &calibration.validation {
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
        println!("split: {}", serde_json::to_string(&calibration.split)?);
    }
    if let (Some(path), Some(new)) = (html_path, calibration.detail.get("new")) {
        // The old policy beside the new one.
        let mut new = new.clone();
        if let Some(old) = calibration.detail.get("old") {
            new.compare_with("old", old);
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
