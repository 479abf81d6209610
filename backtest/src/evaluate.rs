//! Answers against outcomes: the figures of a qualification or a forecast
//! backtest, next to their baselines.
//!
//! A qualification is judged by its score (ROC AUC, deciles, lift) and by its
//! outcome (precision, recall and F1 of "qualified"); a forecast by its
//! probability (Brier score, log loss, ROC AUC, reliability). Baselines are scored
//! on the same records: the base rate as a constant, and stage-probability tables
//! (a CRM's defaults, or the org's own) by each record's stage.

use std::collections::BTreeMap;

use serde::Serialize;

use super::metrics::{self, Confusion, Decile, ReliabilityBin};
use super::tabular::Table;
use crm_rules::contract::latest as l;
use crm_rules::decision::{Answer, Input};
use crm_rules::error::Result;
use crm_rules::registry::Decided;
use crm_rules::render::Renderer;

/// What a decision came to, in the few terms a backtest compares.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The score (0..100) of a qualification, the probability of a forecast.
    pub score: f64,
    /// The decision's category: a qualification's outcome (`qualified`,
    /// `nurture`, `disqualified`, `needs_information`), a forecast's tenth of
    /// probability (`0.6-0.7`).
    pub category: String,
    /// A qualification's rating.
    pub rating: Option<&'static str>,
    /// The codes of the reasons given, with their points.
    pub codes: Vec<(String, Option<i32>)>,
}

/// A forecast probability's tenth, as whatif names it.
pub fn probability_band(p: f64) -> String {
    let tenth = ((p.clamp(0.0, 1.0) * 10.0) as usize).min(9);
    format!(
        "{:.1}-{:.1}",
        tenth as f64 / 10.0,
        (tenth + 1) as f64 / 10.0
    )
}

/// Summarises an answer about `input`.
pub fn summarize(decided: &Decided<Answer>, input: &Input) -> Summary {
    let renderer = Renderer::new(&decided.facts, input.as_ref());
    let codes = renderer
        .reason_codes(decided.value.reasons())
        .into_iter()
        .map(|(code, points)| (code.into_owned(), points))
        .collect();
    match &decided.value {
        Answer::Qualify(q) => Summary {
            score: f64::from(q.score),
            category: match q.outcome {
                l::Outcome::Qualified => "qualified",
                l::Outcome::Nurture => "nurture",
                l::Outcome::Disqualified(_) => "disqualified",
                l::Outcome::NeedsInformation(_) => "needs_information",
            }
            .to_owned(),
            rating: Some(crm_rules::render::rating(q.rating).as_str()),
            codes,
        },
        Answer::Forecast(f) => Summary {
            score: f.probability,
            category: probability_band(f.probability),
            rating: None,
            codes,
        },
        other => Summary {
            score: 0.0,
            category: other.kind().to_string(),
            rating: None,
            codes,
        },
    }
}

/// Scores and outcomes of one forecaster or scorer, kept for plots.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Its name (`policy`, `base_rate`, `salesforce_default`).
    pub name: String,
    /// Score or probability per record.
    pub scores: Vec<f64>,
    /// Outcome per record.
    pub labels: Vec<bool>,
}

/// A group of records (an outcome, a rating) and how it converted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// Its name.
    pub name: String,
    /// Records in it.
    pub records: usize,
    /// Positive records among them.
    pub positives: usize,
    /// Their share.
    pub conversion: f64,
}

fn groups<'a>(names: impl Iterator<Item = (&'a str, bool)>) -> Vec<Group> {
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (name, y) in names {
        let c = counts.entry(name).or_default();
        c.0 += 1;
        c.1 += usize::from(y);
    }
    counts
        .into_iter()
        .map(|(name, (records, positives))| Group {
            name: name.to_owned(),
            records,
            positives,
            conversion: positives as f64 / records.max(1) as f64,
        })
        .collect()
}

/// How often one reason fired, and how records with and without it converted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleEffect {
    /// The reason's template code (`source.web_form`, `custom.city=mumbai`).
    pub code: String,
    /// The points it gave most often (none for reasons without points).
    pub points: Option<i32>,
    /// Records it fired for.
    pub fired: usize,
    /// Conversion of those records.
    pub conversion_fired: f64,
    /// Conversion of the others; `None` when it fired for every record.
    pub conversion_not_fired: Option<f64>,
}

/// The headline figures of a qualification: the ones calibrate and the baselines
/// report too.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualificationFigures {
    /// Records scored (decided, with an outcome).
    pub records: usize,
    /// ROC AUC of the score.
    pub auc: Option<f64>,
    /// Of the qualified records, the share that converted.
    pub precision: f64,
    /// Of the converted records, the share qualified.
    pub recall: f64,
    /// F1 of "qualified".
    pub f1: f64,
    /// Records qualified.
    pub qualified: usize,
}

/// A qualification backtest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualificationReport {
    /// The headline figures.
    #[serde(flatten)]
    pub figures: QualificationFigures,
    /// Records whose decision failed (not scored).
    pub failed: usize,
    /// Records without an outcome yet (decided, not scored).
    pub open: usize,
    /// Positive records.
    pub positives: usize,
    /// Their share.
    pub base_rate: f64,
    /// Counts and conversion per outcome.
    pub outcomes: Vec<Group>,
    /// Counts and conversion per rating.
    pub ratings: Vec<Group>,
    /// Conversion per score decile.
    pub deciles: Vec<Decile>,
    /// Whether conversion never falls from one decile to the next.
    pub monotone_by_decile: bool,
    /// Every reason code given, most often fired first.
    pub rule_effects: Vec<RuleEffect>,
    /// The same headline figures of the baselines, by name.
    pub baselines: BTreeMap<String, QualificationFigures>,
    /// Scorers known by their ROC AUC only (a regression the points came
    /// from), shown in the headline: name, records, AUC.
    #[serde(skip)]
    pub auc_rows: Vec<(String, usize, Option<f64>)>,
    /// The policy's lines with their precision and recall, when a report
    /// shows them (calibrate's).
    #[serde(skip)]
    pub lines: Vec<Line>,
    /// What the reader should know (calibrate's notes).
    #[serde(skip)]
    pub notes: Vec<String>,
    /// The scores, for plots.
    #[serde(skip)]
    pub series: Vec<Series>,
}

/// A line of a policy (`qualify_at`, `ratings.hot`), judged on records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// `qualify_at`, `ratings.warm` or `ratings.hot`.
    pub name: String,
    /// The score from which it holds.
    pub score: u32,
    /// Records at or above it.
    pub records: usize,
    /// The share of those that converted.
    pub precision: Option<f64>,
    /// The share of converted records at or above it.
    pub recall: Option<f64>,
}

/// Rows of a headline in the order a reader compares them: the new policy,
/// the old one, then the baselines (the base rate, the regression the points
/// came from, the stage tables by name).
pub fn row_order(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let rank = |n: &str| match n {
        "new" | "policy" => 0,
        "old" => 1,
        "base_rate" => 2,
        "logistic_regression" => 3,
        _ => 4,
    };
    let mut names: Vec<String> = names.into_iter().collect();
    names.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    names
}

/// The headline figures of a forecast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForecastFigures {
    /// Records scored (decided, closed).
    pub records: usize,
    /// Mean squared error of the probability.
    pub brier: Option<f64>,
    /// Mean negative log-likelihood.
    pub log_loss: Option<f64>,
    /// ROC AUC of the probability.
    pub auc: Option<f64>,
}

/// A forecast backtest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForecastReport {
    /// The headline figures.
    #[serde(flatten)]
    pub figures: ForecastFigures,
    /// Records whose decision failed (not scored).
    pub failed: usize,
    /// Records still open (decided, not scored).
    pub open: usize,
    /// Won records.
    pub positives: usize,
    /// Their share.
    pub base_rate: f64,
    /// Mean forecast against observed rate, per tenth of probability.
    pub reliability: Vec<ReliabilityBin>,
    /// The same headline figures of the baselines, by name.
    pub baselines: BTreeMap<String, ForecastFigures>,
    /// The probabilities, for plots.
    #[serde(skip)]
    pub series: Vec<Series>,
}

/// A backtest of either decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Report {
    /// Of qualifications.
    Qualify(QualificationReport),
    /// Of forecasts.
    Forecast(ForecastReport),
}

impl Report {
    /// The headline figures as JSON (what calibrate's validation lists).
    pub fn headline(&self) -> serde_json::Value {
        match self {
            Report::Qualify(r) => serde_json::to_value(&r.figures),
            Report::Forecast(r) => serde_json::to_value(&r.figures),
        }
        .unwrap_or_default()
    }

    /// The series plotted: the policy's first, then the baselines'.
    pub fn series(&self) -> &[Series] {
        match self {
            Report::Qualify(r) => &r.series,
            Report::Forecast(r) => &r.series,
        }
    }

    /// Shows another report of the same records beside this one, e.g. the old
    /// policy beside a calibrated one: its headline figures as a row named `name`
    /// and its curves after this report's own.
    pub fn compare_with(&mut self, name: &str, other: &Report) {
        let series = other.series().first().cloned().map(|s| Series {
            name: name.to_owned(),
            ..s
        });
        let all = match (self, other) {
            (Report::Qualify(r), Report::Qualify(o)) => {
                r.baselines.insert(name.to_owned(), o.figures.clone());
                &mut r.series
            }
            (Report::Forecast(r), Report::Forecast(o)) => {
                r.baselines.insert(name.to_owned(), o.figures.clone());
                &mut r.series
            }
            (Report::Qualify(r), _) => &mut r.series,
            (Report::Forecast(r), _) => &mut r.series,
        };
        if let Some(series) = series {
            all.insert(all.len().min(1), series);
        }
    }
}

/// What the decisions are compared with.
#[derive(Debug, Clone, Default)]
pub struct Baselines {
    /// The rate of positives to forecast for every record (in a backtest the
    /// records' own; in calibrate the training part's).
    pub base_rate: Option<f64>,
    /// Stage-probability tables by name: the org's stage -> probability.
    pub stage_tables: Vec<super::baselines::StageTable>,
}

/// The records of `table` at `subset` (indices), decided as `answers` (one per
/// record of the table), against their outcomes. `name` names the policy's series.
pub fn evaluate(
    table: &Table,
    subset: &[usize],
    answers: &[Result<Decided<Answer>>],
    baselines: &Baselines,
    name: &str,
) -> Report {
    let mut failed = 0;
    let mut open = 0;
    let mut scored: Vec<(usize, Summary, bool)> = Vec::with_capacity(subset.len());
    for &i in subset {
        let record = &table.records[i];
        match (&answers[i], record.outcome.label()) {
            (Err(_), _) => failed += 1,
            (Ok(_), None) => open += 1,
            (Ok(decided), Some(y)) => scored.push((i, summarize(decided, &record.input), y)),
        }
    }
    let labels: Vec<bool> = scored.iter().map(|(_, _, y)| *y).collect();
    let scores: Vec<f64> = scored.iter().map(|(_, s, _)| s.score).collect();
    let positives = labels.iter().filter(|y| **y).count();
    let base_rate = positives as f64 / labels.len().max(1) as f64;
    let mut series = vec![Series {
        name: name.to_owned(),
        scores: scores.clone(),
        labels: labels.clone(),
    }];
    if let Some(rate) = baselines.base_rate {
        series.push(Series {
            name: "base_rate".to_owned(),
            scores: vec![rate; labels.len()],
            labels: labels.clone(),
        });
    }
    match table.kind {
        crm_rules::decision::Kind::Forecast => {
            for (table_name, probabilities) in &baselines.stage_tables {
                let stage_p: Vec<f64> = scored
                    .iter()
                    .map(|(i, _, _)| match &table.records[*i].input {
                        Input::Forecast(o) => probabilities.get(&o.stage).copied().unwrap_or(0.5),
                        _ => 0.5,
                    })
                    .collect();
                series.push(Series {
                    name: table_name.clone(),
                    scores: stage_p,
                    labels: labels.clone(),
                });
            }
            let figures = |s: &Series| ForecastFigures {
                records: s.labels.len(),
                brier: metrics::brier(&s.scores, &s.labels),
                log_loss: metrics::log_loss(&s.scores, &s.labels),
                auc: metrics::auc(&s.scores, &s.labels),
            };
            Report::Forecast(ForecastReport {
                figures: figures(&series[0]),
                failed,
                open,
                positives,
                base_rate,
                reliability: metrics::reliability(&scores, &labels, 10),
                baselines: series[1..]
                    .iter()
                    .map(|s| (s.name.clone(), figures(s)))
                    .collect(),
                series,
            })
        }
        _ => {
            let qualified: Vec<bool> = scored
                .iter()
                .map(|(_, s, _)| s.category == "qualified")
                .collect();
            let confusion = Confusion::of(&qualified, &labels);
            let figures = QualificationFigures {
                records: labels.len(),
                auc: metrics::auc(&scores, &labels),
                precision: confusion.precision(),
                recall: confusion.recall(),
                f1: confusion.f1(),
                qualified: qualified.iter().filter(|q| **q).count(),
            };
            let mut baseline_figures = BTreeMap::new();
            if let Some(rate) = baselines.base_rate {
                // The base rate qualifies everyone: its precision is the rate.
                let all = vec![true; labels.len()];
                let c = Confusion::of(&all, &labels);
                baseline_figures.insert(
                    "base_rate".to_owned(),
                    QualificationFigures {
                        records: labels.len(),
                        auc: metrics::auc(&vec![rate; labels.len()], &labels),
                        precision: c.precision(),
                        recall: c.recall(),
                        f1: c.f1(),
                        qualified: labels.len(),
                    },
                );
            }
            let deciles = metrics::deciles(&scores, &labels);
            Report::Qualify(QualificationReport {
                figures,
                failed,
                open,
                positives,
                base_rate,
                outcomes: groups(scored.iter().map(|(_, s, y)| (s.category.as_str(), *y))),
                ratings: groups(
                    scored
                        .iter()
                        .map(|(_, s, y)| (s.rating.unwrap_or("none"), *y)),
                ),
                monotone_by_decile: metrics::monotone(&deciles),
                deciles,
                rule_effects: rule_effects(&scored, positives),
                baselines: baseline_figures,
                auc_rows: Vec::new(),
                lines: Vec::new(),
                notes: Vec::new(),
                series,
            })
        }
    }
}

fn rule_effects(scored: &[(usize, Summary, bool)], positives: usize) -> Vec<RuleEffect> {
    #[derive(Default)]
    struct Count {
        fired: usize,
        positives: usize,
        points: BTreeMap<Option<i32>, usize>,
    }
    let mut counts: BTreeMap<&str, Count> = BTreeMap::new();
    for (_, summary, y) in scored {
        for (code, points) in &summary.codes {
            let c = counts.entry(code.as_str()).or_default();
            c.fired += 1;
            c.positives += usize::from(*y);
            *c.points.entry(*points).or_default() += 1;
        }
    }
    let n = scored.len();
    let mut effects: Vec<RuleEffect> = counts
        .into_iter()
        .map(|(code, c)| RuleEffect {
            code: code.to_owned(),
            points: c
                .points
                .iter()
                .max_by_key(|(_, n)| **n)
                .and_then(|(p, _)| *p),
            fired: c.fired,
            conversion_fired: c.positives as f64 / c.fired.max(1) as f64,
            conversion_not_fired: (n > c.fired)
                .then(|| (positives - c.positives) as f64 / (n - c.fired) as f64),
        })
        .collect();
    effects.sort_by(|a, b| b.fired.cmp(&a.fired).then_with(|| a.code.cmp(&b.code)));
    effects
}
