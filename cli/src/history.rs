//! What `backtest`, `calibrate` and `whatif` share: the org, the mapping and the
//! table they read, the progress bar, and the rows-per-second line.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use chrono::{SubsecRound, Utc};
use crm_rules::org::OrgDir;
use crm_rules::Host;
use crm_rules_backtest::{Mapping, Table};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::flags::{HistoryArgs, OrgArgs};

/// The org, loaded, with its table of history.
pub struct History {
    /// The org as read from its folder (or the flags).
    pub org: OrgDir,
    /// The mapping.
    pub mapping: Mapping,
    /// The records.
    pub table: Table,
    /// When reading began: the rows-per-second line counts from here.
    pub started: Instant,
    /// The custom fields the module declares it reads (none: it does not say).
    pub reads: Option<Vec<String>>,
}

impl History {
    /// The policy check of the org's policy against the mapping and these
    /// records, printed on stderr.
    pub fn lint(&self) -> Vec<crm_rules_backtest::lint::Finding> {
        use crm_rules_backtest::lint;
        let Ok(policy) = serde_json::from_str::<serde_json::Value>(&self.org.policy) else {
            return Vec::new();
        };
        let seen = lint::Seen::of_leads(
            &self.table.source_name,
            self.table.records.iter().filter_map(|r| match &r.input {
                crm_rules::decision::Input::Qualify(l) => Some(l),
                _ => None,
            }),
        );
        let findings = lint::lint(&lint::Subject {
            policy: &policy,
            mapping: (self.table.kind == crm_rules::decision::Kind::Qualify)
                .then_some(&self.mapping),
            reads: self.reads.as_deref(),
            seen: (seen.records > 0).then_some(&seen),
        });
        super::lint::report(
            &self
                .org
                .dir
                .join(&self.org.file.policy)
                .display()
                .to_string(),
            &findings,
        );
        findings
    }
}

/// Reads the org and loads it, then the mapping and the table.
pub fn open(host: &Host, org_args: &OrgArgs, args: &HistoryArgs) -> anyhow::Result<History> {
    let org = super::org::read(org_args)?;
    let reads = super::lint::module_reads(host, &org)?;
    let started = Instant::now();
    let mapping_path = match (&args.mapping, &org_args.org_dir) {
        (Some(path), _) => path.clone(),
        (None, Some(dir)) => dir.join("mapping.json"),
        (None, None) => PathBuf::from("mapping.json"),
    };
    let data_name = args.data.display().to_string();
    if !mapping_path.is_file() {
        bail!(
            "{data_name} needs a mapping that says which columns are the record's fields and \
             its outcome: none at {} (give --mapping FILE, or put mapping.json in the org \
             folder; docs/backtesting.md shows one)",
            mapping_path.display()
        );
    }
    let mapping_name = mapping_path.display().to_string();
    let mapping_text = std::fs::read_to_string(&mapping_path)
        .with_context(|| format!("cannot read {mapping_name}"))?;
    let mapping =
        Mapping::parse(&mapping_text).map_err(|e| anyhow::anyhow!("{mapping_name}: {e}"))?;
    let text =
        std::fs::read_to_string(&args.data).with_context(|| format!("cannot read {data_name}"))?;
    let table = Table::read(&mapping, &text, &data_name, &mapping_name)?;
    Ok(History {
        org,
        mapping,
        table,
        started,
        reads,
    })
}

/// The decision time of records without their own: `--now`, or this second.
pub fn now(args: &OrgArgs) -> chrono::DateTime<Utc> {
    args.now.unwrap_or_else(|| Utc::now().trunc_subsecs(0))
}

/// Deciding threads: one per core.
pub fn threads(args: &OrgArgs) -> usize {
    args.jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

/// A progress bar on stderr that shows itself only on a terminal, and only once
/// a run has taken a second: short runs stay quiet.
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    shown: AtomicBool,
    terminal: bool,
}

impl Progress {
    /// A bar for `total` decisions.
    pub fn new(total: usize, what: &str) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} [{bar:40.cyan/blue}] {pos}/{len} ({per_sec}, {eta} left)",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_owned());
        Progress {
            bar,
            started: Instant::now(),
            shown: AtomicBool::new(false),
            terminal: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        }
    }

    /// Counts `n` more decisions.
    pub fn advance(&self, n: usize) {
        self.bar.inc(n as u64);
        if self.terminal
            && self.started.elapsed() > Duration::from_secs(1)
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Tells stderr how long the records took, and how many rows a second that is.
pub fn report_speed(records: usize, decisions: usize, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{records} records read, {decisions} decisions made and scored in {seconds:.2} s \
         ({:.0} rows/s)",
        records as f64 / seconds.max(1e-9)
    );
}

/// Writes an HTML report.
pub fn write_html(path: &Path, html: &str) -> anyhow::Result<()> {
    std::fs::write(path, html).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("report written to {}", path.display());
    Ok(())
}

/// Writes a value as one JSON line on stdout.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    std::io::Write::write_all(&mut out, b"\n")?;
    Ok(())
}

/// A figure for a table cell: 4 decimals, or a dash.
pub fn cell(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_owned(), |x| format!("{x:.4}"))
}

/// A table for the terminal.
pub fn terminal_table(head: &[&str]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header(head.iter().copied());
    table
}
