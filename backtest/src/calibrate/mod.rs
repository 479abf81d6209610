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
use super::mapping::Mapping;
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

/// How a calibration splits the labelled records.
fn split_of(table: &Table, labelled: &[usize], share: f64, seed: u64) -> Split {
    let records = &table.records;
    let ids: Vec<&str> = labelled.iter().map(|&i| records[i].id()).collect();
    let closed: Option<Vec<_>> = labelled.iter().map(|&i| records[i].closed_on).collect();
    let decided: Option<Vec<_>> = labelled
        .iter()
        .map(|&i| records[i].as_of.map(|t| t.date_naive()))
        .collect();
    match closed.or(decided) {
        Some(dates) => split::by_time(&dates, &ids, share),
        None => split::by_hash(&ids, seed, share),
    }
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
        let split = split_of(
            self.table,
            &labelled,
            self.mapping.split.train_share,
            self.mapping.split.seed,
        );
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
                    self.settings.min_count.min(30),
                    self.settings.alpha,
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
                let qualify_at = scorecard::best_f1_line(&train_scores);
                let hot = scorecard::precision_line(&train_scores, self.settings.hot_precision)
                    .max(qualify_at + 1)
                    .min(100);
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
            policy: policy_text,
        })
    }
}
