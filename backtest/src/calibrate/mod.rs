//! A new policy for the reference module, fitted on the older part of closed
//! history and judged on the newer part, next to the old policy and the baselines.
//!
//! - Qualification: a points scorecard ([`scorecard`]) for the lead fields and
//!   custom fields the mapping fills; the qualification line is the score with the
//!   best F1 on the training part, the hot line the lowest score whose training
//!   leads converted at least 80% of the time (`Settings::hot_precision`).
//! - Forecast: each stage's base probability, and from rated activities the stage
//!   weights and the activity effect ([`forecast`]).
//!
//! The split ([`super::split`]) is by the date outcomes became known when the
//! table gives one for every record (train on the older part, validate on the
//! newer), else by the date of each record's decision, else a seeded hash of the
//! ids. Every figure is computed from what the real module decides with the
//! policy written, on the validation part only.

pub mod bands;
pub mod forecast;
pub mod scorecard;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::decide::{decide_all, Run};
use super::evaluate::{evaluate, Baselines, Report};
use super::lint::{self, Finding, Seen};
use super::mapping::Mapping;
use super::mapping::SplitBy;
use super::split::{self, Split};
use super::tabular::Table;
use crm_rules::decision::{Input, Kind};
use crm_rules::engine::Limits;
use crm_rules::error::Error;
use crm_rules::registry::Host;

pub use scorecard::Settings;

/// What calibrate is given.
pub struct Job<'a> {
    /// The host, holding the org.
    pub host: &'a Host,
    /// The org whose active version is the old policy.
    pub org: &'a str,
    /// The org's module (the new policy runs on it too).
    pub wasm: &'a [u8],
    /// The old policy's JSON.
    pub policy: &'a str,
    /// Limits of the versions loaded to try the new policy.
    pub limits: Limits,
    /// The table and its mapping.
    pub table: &'a Table,
    /// The mapping the table was read with.
    pub mapping: &'a Mapping,
    /// Stage-probability tables to compare forecasts with.
    pub stage_tables: Vec<super::baselines::StageTable>,
    /// Fitting settings.
    pub settings: Settings,
    /// The decision time of records without their own.
    pub now: DateTime<Utc>,
    /// Deciding threads.
    pub threads: usize,
}

/// What was fitted.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Fitted {
    /// A qualification scorecard and its lines.
    Scorecard {
        /// The points.
        scorecard: scorecard::Scorecard,
        /// The qualification line.
        qualify_at: u32,
        /// The hot line.
        hot: u32,
        /// The warm line (the qualification line).
        warm: u32,
    },
    /// A forecast prior.
    Prior(forecast::Prior),
}

/// Calibrate's report.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    /// Which decision.
    pub decision: Kind,
    /// How records were split.
    pub split: Split,
    /// The headline figures on the validation part: `old`, `new` and each
    /// baseline by name.
    pub validation: BTreeMap<String, Value>,
    /// The new policy's headline figures on the training part.
    pub train: Value,
    /// What was fitted.
    pub fit: Fitted,
    /// The settings it was fitted with.
    pub settings: Settings,
    /// The validation reports in full: `old` and `new`.
    pub detail: BTreeMap<String, Report>,
    /// The calibrated lines with their precision and recall on the validation
    /// part (qualification).
    pub thresholds: Vec<Threshold>,
    /// What a sales-ops lead should know: settings that force scores to be
    /// clamped, lines no score reaches, what the fit could not express, what
    /// the policy check found.
    pub notes: Vec<String>,
    /// The policy check of the new policy against the mapping and the records.
    pub lint: Vec<Finding>,
    /// Shares of the training leads whose points fall below 0 or above 100, so
    /// the module clamps them (qualification).
    pub clamped: Option<Clamped>,
    /// The new policy.
    #[serde(skip)]
    pub policy: String,
}

/// Why calibrate cannot run.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    /// Too few records with an outcome.
    #[error("{0}")]
    Data(String),
    /// The fit failed.
    #[error("cannot fit the policy")]
    Fit(#[from] scorecard::FitError),
    /// The policy is not JSON, or the module refused the fitted one.
    #[error("{message}")]
    Policy {
        /// What is wrong.
        message: String,
        /// The host's error.
        #[source]
        source: Option<Box<Error>>,
    },
}

/// How a calibration splits the labelled records: as the mapping's
/// `split.by` says, else by time when every record has a date, else seeded.
fn split_of(
    table: &Table,
    labelled: &[usize],
    settings: &super::mapping::SplitSettings,
) -> Result<Split, CalibrateError> {
    let (share, seed) = (settings.train_share, settings.seed);
    let records = &table.records;
    let ids: Vec<&str> = labelled.iter().map(|&i| records[i].id()).collect();
    let closed: Option<Vec<_>> = labelled.iter().map(|&i| records[i].closed_on).collect();
    let decided: Option<Vec<_>> = labelled
        .iter()
        .map(|&i| records[i].as_of.map(|t| t.date_naive()))
        .collect();
    let dated = closed.or(decided);
    match (settings.by, dated) {
        (Some(SplitBy::Seeded), _) | (None, None) => Ok(split::by_hash(&ids, seed, share)),
        (_, Some(dates)) => Ok(split::by_time(&dates, &ids, share)),
        (Some(SplitBy::Time), None) => Err(CalibrateError::Data(format!(
            "{}: `split.by` is `time`, but not every record has a date in `outcome.closed_on` \
             or `as_of` (fill them, or set `split.by` to `seeded`)",
            table.source_name
        ))),
    }
}

/// A line of the calibrated policy, judged on the validation part.
pub type Threshold = super::evaluate::Line;

/// Each line's precision and recall over `(score, outcome)` pairs.
pub fn thresholds_on(lines: &[(&str, u32)], scored: &[(u32, bool)]) -> Vec<Threshold> {
    let positives = scored.iter().filter(|(_, y)| *y).count();
    lines
        .iter()
        .map(|&(name, score)| {
            let above: Vec<bool> = scored
                .iter()
                .filter(|(s, _)| *s >= score)
                .map(|(_, y)| *y)
                .collect();
            let hits = above.iter().filter(|y| **y).count();
            Threshold {
                name: name.to_owned(),
                score,
                records: above.len(),
                precision: (!above.is_empty()).then(|| hits as f64 / above.len() as f64),
                recall: (positives > 0).then(|| hits as f64 / positives as f64),
            }
        })
        .collect()
}

/// Shares of scores the module clamped to the ends of 0..100.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Clamped {
    /// Below 0, clamped to 0.
    pub at_0: f64,
    /// Above 100, clamped to 100.
    pub at_100: f64,
}

/// The shares of leads whose points add up to below 0 and above 100, which
/// the module clamps (and so ranks alike).
fn clamped(card: &scorecard::Scorecard, leads: &[(&crm_rules::model::Lead, bool)]) -> (f64, f64) {
    let n = leads.len().max(1) as f64;
    let scores: Vec<i64> = leads.iter().map(|(l, _)| card.score(l)).collect();
    (
        scores.iter().filter(|s| **s < 0).count() as f64 / n,
        scores.iter().filter(|s| **s > 100).count() as f64 / n,
    )
}

impl Job<'_> {
    fn load(&self, label: &str, policy: &Value) -> Result<String, CalibrateError> {
        let text = serde_json::to_string_pretty(policy).map_err(|e| CalibrateError::Policy {
            message: format!("cannot write the policy: {e}"),
            source: None,
        })?;
        let org = format!("{}:{label}", self.org);
        self.host
            .load(&org, self.wasm, &text, self.limits.clone())
            .map_err(|e| CalibrateError::Policy {
                message: format!("the module refuses the {label} policy"),
                source: Some(Box::new(e)),
            })?;
        Ok(text)
    }

    fn decide(
        &self,
        org: &str,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Vec<crm_rules::error::Result<crm_rules::registry::Decided<crm_rules::decision::Answer>>>
    {
        let run = Run {
            org,
            now: self.now,
            threads: self.threads,
        };
        decide_all(self.host, &run, &self.table.records, progress)
    }

    /// Fits, tries and judges a new policy. `progress` is told of every batch
    /// decided (three passes over the table for a qualification, two for a
    /// forecast).
    pub fn run(&self, progress: &(dyn Fn(usize) + Sync)) -> Result<Calibration, CalibrateError> {
        let records = &self.table.records;
        let labelled: Vec<usize> = (0..records.len())
            .filter(|&i| records[i].outcome.label().is_some())
            .collect();
        if labelled.len() < 10 {
            return Err(CalibrateError::Data(format!(
                "{}: {} records with an outcome; calibrate needs at least 10",
                self.table.source_name,
                labelled.len()
            )));
        }
        let split = split_of(self.table, &labelled, &self.mapping.split)?;
        let (train, validation): (Vec<usize>, Vec<usize>) = {
            let mut t = Vec::new();
            let mut v = Vec::new();
            for (k, &i) in labelled.iter().enumerate() {
                if split.is_train[k] {
                    t.push(i)
                } else {
                    v.push(i)
                }
            }
            (t, v)
        };
        let label = |i: usize| records[i].outcome.label().unwrap_or(false);
        let train_rate =
            train.iter().filter(|&&i| label(i)).count() as f64 / train.len().max(1) as f64;
        let mut policy: Value =
            serde_json::from_str(self.policy).map_err(|e| CalibrateError::Policy {
                message: format!("the org's policy is not JSON: {e}"),
                source: None,
            })?;
        // The fitted policy says what it is, for whoever reads its module info.
        if let Some(name) = policy.get_mut("name") {
            if let Some(text) = name.as_str() {
                if !text.ends_with(", calibrated") {
                    *name = json!(format!("{text}, calibrated"));
                }
            }
        }
        let old_answers = self.decide(self.org, progress);
        let baselines = Baselines {
            base_rate: Some(train_rate),
            stage_tables: self.stage_tables.clone(),
        };
        let mut notes: Vec<String> = Vec::new();
        let mut thresholds = Vec::new();
        // Set when no score reaches the hot precision: the hot line is then
        // out of reach on purpose, and said so in the notes.
        let mut hot_out_of_reach = false;
        let mut clamped_shares = None;
        let (fit, new_answers, extra) = match self.table.kind {
            Kind::Forecast => {
                let stages: Vec<String> = self
                    .host
                    .stages(self.org)
                    .map_err(|e| CalibrateError::Policy {
                        message: "cannot list the org's stages".to_owned(),
                        source: Some(Box::new(e)),
                    })?
                    .into_iter()
                    .map(|s| s.name)
                    .collect();
                let train_deals: Vec<(&crm_rules::model::Opportunity, bool)> = train
                    .iter()
                    .filter_map(|&i| match &records[i].input {
                        Input::Forecast(o) => Some((o, label(i))),
                        _ => None,
                    })
                    .collect();
                let prior = forecast::fit(
                    &train_deals,
                    &stages,
                    self.settings.min_count.unwrap_or(30).min(30),
                    self.settings.alpha.unwrap_or(1.0),
                )?;
                prior.apply(&mut policy);
                self.load("calibrated", &policy)?;
                let answers = self.decide(&format!("{}:calibrated", self.org), progress);
                (Fitted::Prior(prior), answers, BTreeMap::new())
            }
            _ => {
                let train_leads: Vec<(&crm_rules::model::Lead, bool)> = train
                    .iter()
                    .filter_map(|&i| match &records[i].input {
                        Input::Qualify(l) => Some((l, label(i))),
                        _ => None,
                    })
                    .collect();
                let features = scorecard::features_of(self.mapping);
                let card = scorecard::fit(&features, &train_leads, &self.settings)?;
                card.apply(&mut policy);
                self.load("scored", &policy)?;
                let scored = self.decide(&format!("{}:scored", self.org), progress);
                let train_scores: Vec<(u32, bool)> = train
                    .iter()
                    .filter_map(|&i| match &scored[i] {
                        Ok(d) => match &d.value {
                            crm_rules::decision::Answer::Qualify(q) => Some((q.score, label(i))),
                            _ => None,
                        },
                        Err(_) => None,
                    })
                    .collect();
                notes.extend(card.notes.iter().cloned());
                let (at_zero, at_hundred) = clamped(&card, &train_leads);
                clamped_shares = Some(Clamped {
                    at_0: at_zero,
                    at_100: at_hundred,
                });
                if at_zero > scorecard::CLAMP_SHARE || at_hundred > scorecard::CLAMP_SHARE {
                    let why = match self.settings.points_per_doubling {
                        Some(pdo) => format!(
                            "points_per_doubling {pdo} is wider than the training scores allow: \
                             at most {:.1} keeps all but 1% of them off each end (leave it out to \
                             fit the scale)",
                            card.widest_points_per_doubling
                        ),
                        None => "rounding the points to multiples of points_step moved them past \
                                 the ends (a smaller points_step keeps them in)"
                            .to_owned(),
                    };
                    notes.push(format!(
                        "{:.1}% of the training leads score below 0 and {:.1}% above 100, clamped \
                         by the module to 0..100, so the order among them is lost: {why}",
                        100.0 * at_zero,
                        100.0 * at_hundred
                    ));
                }
                let (_, highest) = lint::score_range(&policy);
                let qualify_at = scorecard::best_f1_line(&train_scores);
                let hot_precision = self.settings.hot_precision();
                let hot = match scorecard::precision_line(&train_scores, hot_precision) {
                    Some(line) => line.max(qualify_at + 1).min(100),
                    None => {
                        let best = scorecard::best_precision(&train_scores);
                        hot_out_of_reach = true;
                        let line = (highest as u32 + 1).min(100).max(qualify_at + 1);
                        let rated = if line as i64 > highest {
                            format!(
                                "`ratings.hot` is set above the highest score this policy \
                                 gives ({highest}), so no lead is rated hot"
                            )
                        } else {
                            format!(
                                "`ratings.hot` is set at {line}, the top of the scale, where \
                                 training leads converted less often than that"
                            )
                        };
                        notes.push(format!(
                            "no score reaches the precision `hot` needs ({:.0}% of training \
                             leads converting; the best at any score is {:.0}%): {rated} (lower \
                             --hot-precision or the mapping's `calibrate.hot_precision` to rate \
                             some)",
                            100.0 * hot_precision,
                            100.0 * best
                        ));
                        line
                    }
                };
                let warm = qualify_at.min(hot);
                let q = scorecard::qualification(&mut policy);
                q.insert("qualify_at".into(), json!(qualify_at));
                q.insert("ratings".into(), json!({"hot": hot, "warm": warm}));
                let below = q
                    .get("disqualify_below")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                if below > u64::from(qualify_at) {
                    q.insert("disqualify_below".into(), json!(qualify_at));
                }
                self.load("calibrated", &policy)?;
                let answers = self.decide(&format!("{}:calibrated", self.org), progress);
                // The regression itself, before its weights became points.
                let (p, y): (Vec<f64>, Vec<bool>) = validation
                    .iter()
                    .filter_map(|&i| match &records[i].input {
                        Input::Qualify(l) => Some((card.probability(l), label(i))),
                        _ => None,
                    })
                    .unzip();
                let validation_scores: Vec<(u32, bool)> = validation
                    .iter()
                    .filter_map(|&i| match &answers[i] {
                        Ok(d) => match &d.value {
                            crm_rules::decision::Answer::Qualify(q) => Some((q.score, label(i))),
                            _ => None,
                        },
                        Err(_) => None,
                    })
                    .collect();
                thresholds = thresholds_on(
                    &[
                        ("qualify_at", qualify_at),
                        ("ratings.warm", warm),
                        ("ratings.hot", hot),
                    ],
                    &validation_scores,
                );
                let mut extra = BTreeMap::new();
                extra.insert(
                    "logistic_regression".to_owned(),
                    json!({"records": y.len(), "auc": super::metrics::auc(&p, &y)}),
                );
                (
                    Fitted::Scorecard {
                        scorecard: card,
                        qualify_at,
                        hot,
                        warm,
                    },
                    answers,
                    extra,
                )
            }
        };
        let policy_text =
            serde_json::to_string_pretty(&policy).map_err(|e| CalibrateError::Policy {
                message: format!("cannot write the policy: {e}"),
                source: None,
            })?;
        let old = evaluate(self.table, &validation, &old_answers, &baselines, "old");
        let new = evaluate(self.table, &validation, &new_answers, &baselines, "new");
        let train_report = evaluate(
            self.table,
            &train,
            &new_answers,
            &Baselines::default(),
            "new",
        );
        let mut figures = BTreeMap::new();
        figures.insert("old".to_owned(), old.headline());
        figures.insert("new".to_owned(), new.headline());
        let baseline_figures: Vec<(String, Value)> = match &new {
            Report::Qualify(r) => r
                .baselines
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or_default()))
                .collect(),
            Report::Forecast(r) => r
                .baselines
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or_default()))
                .collect(),
        };
        figures.extend(baseline_figures);
        figures.extend(extra);
        let seen = match self.table.kind {
            Kind::Qualify => Some(Seen::of_leads(
                &self.table.source_name,
                records.iter().filter_map(|r| match &r.input {
                    Input::Qualify(l) => Some(l),
                    _ => None,
                }),
            )),
            _ => None,
        };
        let mut findings = lint::lint(&lint::Subject {
            policy: &policy,
            mapping: Some(self.mapping),
            reads: None,
            seen: seen.as_ref(),
        });
        findings.retain(|f| !(hot_out_of_reach && f.path == "qualification.ratings.hot"));
        notes.extend(findings.iter().map(|f| format!("policy check: {f}")));
        let mut detail = BTreeMap::new();
        detail.insert("old".to_owned(), old);
        detail.insert("new".to_owned(), new);
        Ok(Calibration {
            decision: self.table.kind,
            split,
            validation: figures,
            train: train_report.headline(),
            fit,
            settings: self.settings.clone(),
            detail,
            thresholds,
            notes,
            lint: findings,
            clamped: clamped_shares,
            policy: policy_text,
        })
    }
}
