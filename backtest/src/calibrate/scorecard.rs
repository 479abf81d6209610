//! A qualification scorecard fitted to outcomes: a logistic regression on the
//! lead's fields, turned into the points of the reference module's policy.
//!
//! Every input becomes 0/1 columns: one per value of an enum field or a text
//! custom field seen in at least `min_count` training records (rarer and unseen
//! values score nothing), one per band of a numeric custom field ([`bands`]).
//! `linfa-logistic` fits an L2-penalised logistic regression (intercept
//! unpenalised). Its weights become points on a fixed scale: `points_per_doubling`
//! points double the odds of converting (10 by default), and a score of
//! `even_odds_score` (50) is even odds, so a score reads as a probability:
//! `p = 1 / (1 + 2^(-(score - 50) / 10))`.
//!
//! The reference module's enum points are whole numbers from 0 up, so each enum's
//! lowest level is shifted to 0 and the shift is taken out of `base_points`; every
//! value the fit had no column for scores like the field's reference value.
//! Custom rules take any whole number of points.
//!
//! [`bands`]: super::bands

use std::collections::BTreeMap;

use crm_rules::model as m;
use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use serde::Serialize;
use serde_json::{json, Value};

use super::bands::{self, Bands};

/// How a scorecard is fitted. `None` is "choose it from the training data".
#[derive(Debug, Clone, Default, Serialize)]
pub struct Settings {
    /// Training records a value needs to get its own points; `None`: chosen by
    /// cross-validation on the training part among [`MIN_COUNTS`].
    pub min_count: Option<usize>,
    /// L2 penalty of the regression's weights; `None`: chosen by
    /// cross-validation on the training part among [`ALPHAS`].
    pub alpha: Option<f64>,
    /// Points that double the odds of converting; `None`: fitted so that the
    /// training scores spread over 0..100.
    pub points_per_doubling: Option<f64>,
    /// Points are whole multiples of this (1: any whole number; 5: 5, 10, 15...):
    /// coarser points are easier to read and merge scores that the data cannot
    /// tell apart. 0 reads as 1.
    pub points_step: u32,
    /// Lowest train precision of a hot lead (default 0.8).
    pub hot_precision: Option<f64>,
}

impl Settings {
    /// The hot precision asked for, or 0.8.
    pub fn hot_precision(&self) -> f64 {
        self.hot_precision.unwrap_or(0.8)
    }
}

/// The `min_count`s cross-validation tries.
pub const MIN_COUNTS: [usize; 3] = [20, 50, 100];
/// The penalties cross-validation tries.
pub const ALPHAS: [f64; 3] = [0.3, 1.0, 3.0];
/// Folds of the cross-validation.
pub const FOLDS: usize = 3;
/// Most training records cross-validation compares settings on.
pub const CV_RECORDS: usize = 6_000;
/// Numeric fields start from this many quantile bands ([`bands::cut`]).
pub const QUANTILES: usize = 20;
/// Share of training scores that may be clamped at either end of 0..100.
pub const CLAMP_SHARE: f64 = 0.01;

/// An enum field of the lead whose points are a map in the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnumField {
    /// `source_points`.
    Source,
    /// `engagement_points`.
    Engagement,
    /// `budget_points`.
    BudgetStatus,
    /// `need_points`.
    Need,
    /// `timeframe_points`.
    Timeframe,
}

impl EnumField {
    fn of(name: &str) -> Option<EnumField> {
        Some(match name {
            "source" => EnumField::Source,
            "engagement" => EnumField::Engagement,
            "budget_status" => EnumField::BudgetStatus,
            "need" => EnumField::Need,
            "timeframe" => EnumField::Timeframe,
            _ => return None,
        })
    }

    /// The policy key of its points.
    pub fn policy_key(self) -> &'static str {
        match self {
            EnumField::Source => "source_points",
            EnumField::Engagement => "engagement_points",
            EnumField::BudgetStatus => "budget_points",
            EnumField::Need => "need_points",
            EnumField::Timeframe => "timeframe_points",
        }
    }

    fn values(self) -> Vec<&'static str> {
        match self {
            EnumField::Source => m::LeadSource::ALL.iter().map(|v| v.as_str()).collect(),
            EnumField::Engagement => m::Engagement::ALL.iter().map(|v| v.as_str()).collect(),
            EnumField::BudgetStatus => m::BudgetStatus::ALL.iter().map(|v| v.as_str()).collect(),
            EnumField::Need => m::Need::ALL.iter().map(|v| v.as_str()).collect(),
            EnumField::Timeframe => m::Timeframe::ALL.iter().map(|v| v.as_str()).collect(),
        }
    }

    fn value(self, lead: &m::Lead) -> Option<&'static str> {
        match self {
            EnumField::Source => lead.source.map(|v| v.as_str()),
            EnumField::Engagement => Some(lead.engagement.as_str()),
            EnumField::BudgetStatus => lead.budget_status.map(|v| v.as_str()),
            EnumField::Need => lead.need.map(|v| v.as_str()),
            EnumField::Timeframe => lead.timeframe.map(|v| v.as_str()),
        }
    }
}

/// One input of the scorecard: a field whose values get points.
#[derive(Debug, Clone, PartialEq)]
pub enum Feature {
    /// An enum field; `reference` is the value that scores the field's base
    /// (the mapping's default for missing cells, else the most frequent value).
    Enum {
        /// The field.
        field: EnumField,
        /// Its reference value, when it has one.
        reference: Option<String>,
    },
    /// A yes/no lead field with points when yes (`authority_points`,
    /// `existing_customer_points`).
    Flag {
        /// The policy key of its points.
        key: &'static str,
    },
    /// A text (or yes/no) custom field: `equals` rules.
    Text {
        /// The custom field.
        field: String,
    },
    /// A numeric custom field: `at_least`/`at_most` rules per band.
    Number {
        /// The custom field.
        field: String,
    },
}

impl Feature {
    /// Its name in reports.
    pub fn name(&self) -> String {
        match self {
            Feature::Enum { field, .. } => {
                field.policy_key().trim_end_matches("_points").to_owned()
            }
            Feature::Flag { key } => key.trim_end_matches("_points").to_owned(),
            Feature::Text { field } | Feature::Number { field } => field.clone(),
        }
    }
}

/// The inputs a mapping gives the leads: its lead fields that carry points, then
/// its custom fields.
pub fn features_of(mapping: &super::super::Mapping) -> Vec<Feature> {
    let mut inputs = Vec::new();
    for (name, field) in &mapping.fields {
        if let Some(e) = EnumField::of(name) {
            inputs.push(Feature::Enum {
                field: e,
                reference: field.default.clone().or_else(|| field.value.clone()),
            });
        }
        match name.as_str() {
            "decision_maker_known" => inputs.push(Feature::Flag {
                key: "authority_points",
            }),
            "existing_customer" => inputs.push(Feature::Flag {
                key: "existing_customer_points",
            }),
            _ => {}
        }
    }
    for (name, custom) in &mapping.custom {
        match custom.kind {
            super::super::mapping::CustomType::Number => inputs.push(Feature::Number {
                field: name.clone(),
            }),
            super::super::mapping::CustomType::Date => {}
            _ => inputs.push(Feature::Text {
                field: name.clone(),
            }),
        }
    }
    inputs
}

/// A lead's value of an input, as the fit groups values: text trimmed and in
/// lower case (the reference rules compare text ignoring case).
enum Seen {
    Level(Option<String>),
    Number(Option<f64>),
}

fn value_of(input: &Feature, lead: &m::Lead) -> Seen {
    match input {
        Feature::Enum { field, .. } => Seen::Level(field.value(lead).map(str::to_owned)),
        Feature::Flag { key } => {
            let yes = match *key {
                "authority_points" => lead.decision_maker_known == Some(true),
                _ => lead.existing_customer,
            };
            Seen::Level(yes.then(|| "true".to_owned()))
        }
        Feature::Text { field } => Seen::Level(lead.custom.get(field).and_then(|v| match v {
            m::FieldValue::Text(t) => {
                let t = t.trim().to_ascii_lowercase();
                (!t.is_empty()).then_some(t)
            }
            m::FieldValue::Flag(b) => Some(b.to_string()),
            m::FieldValue::Number(n) => Some(n.to_string()),
            m::FieldValue::Day { .. } => None,
        })),
        Feature::Number { field } => Seen::Number(lead.custom.get(field).and_then(|v| match v {
            m::FieldValue::Number(n) => Some(*n),
            _ => None,
        })),
    }
}

/// What an input learnt from the training records: its columns.
#[derive(Debug, Clone)]
enum Levels {
    /// One column per value listed; the reference (none when missing values are
    /// the reference) gets none.
    Values {
        values: Vec<String>,
        reference: Option<String>,
    },
    /// One column per band.
    Bands(Bands),
}

/// An input with its learnt columns.
#[derive(Debug, Clone)]
struct Learnt {
    input: Feature,
    levels: Levels,
}

impl Learnt {
    fn columns(&self) -> usize {
        match &self.levels {
            Levels::Values { values, .. } => values.len(),
            Levels::Bands(b) => b.count(),
        }
    }

    /// The column (within this input) a lead falls in, if any.
    fn column(&self, lead: &m::Lead) -> Option<usize> {
        match (&self.levels, value_of(&self.input, lead)) {
            (Levels::Values { values, reference }, Seen::Level(v)) => {
                let v = v.or_else(|| match &self.input {
                    // An enum's missing value scores like its reference.
                    Feature::Enum { .. } => reference.clone(),
                    _ => None,
                })?;
                values.iter().position(|x| *x == v)
            }
            (Levels::Bands(b), Seen::Number(Some(x))) => Some(b.band(x)),
            _ => None,
        }
    }
}

fn learn(input: &Feature, train: &[(&m::Lead, bool)], min_count: usize) -> Learnt {
    if let Feature::Number { .. } = input {
        let (x, y): (Vec<f64>, Vec<bool>) = train
            .iter()
            .filter_map(|(lead, y)| match value_of(input, lead) {
                Seen::Number(Some(x)) => Some((x, *y)),
                _ => None,
            })
            .unzip();
        return Learnt {
            input: input.clone(),
            levels: Levels::Bands(bands::cut(&x, &y, QUANTILES, min_count)),
        };
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut missing = 0;
    for (lead, _) in train {
        match value_of(input, lead) {
            Seen::Level(Some(v)) => *counts.entry(v).or_default() += 1,
            _ => missing += 1,
        }
    }
    let most_frequent = counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(v, _)| v.clone());
    let reference = match input {
        Feature::Enum { reference, .. } if missing == 0 => reference.clone().or(most_frequent),
        // An enum with missing values: missing scores nothing, so it is the
        // reference and every value's points are counted up from it.
        Feature::Enum { .. } | Feature::Flag { .. } => None,
        // A text field that is never missing: its most frequent value is the
        // reference, one rule fewer (its weight goes to the base points).
        Feature::Text { .. } if missing == 0 => most_frequent,
        _ => None,
    };
    let values = counts
        .into_iter()
        .filter(|(v, n)| *n >= min_count && Some(v) != reference.as_ref())
        .map(|(v, _)| v)
        .collect();
    Learnt {
        input: input.clone(),
        levels: Levels::Values { values, reference },
    }
}

/// Points of one input's value in the fitted scorecard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Points {
    /// The input.
    pub input: String,
    /// The value, or the band as `at_least..at_most`.
    pub value: String,
    /// The regression's weight, in points (before rounding and shifting).
    pub exact: f64,
    /// The points the policy gives.
    pub points: i64,
}

/// A fitted scorecard.
#[derive(Debug, Clone, Serialize)]
pub struct Scorecard {
    /// Points every lead starts with.
    pub base_points: i64,
    /// The regression's intercept.
    pub intercept: f64,
    /// Points per value or band.
    pub points: Vec<Points>,
    /// Enum points: field's policy key -> value -> points (every value listed).
    #[serde(skip)]
    enum_points: BTreeMap<&'static str, BTreeMap<String, i64>>,
    /// Flag points by policy key.
    #[serde(skip)]
    flag_points: BTreeMap<&'static str, i64>,
    /// The custom rules.
    pub custom_rules: Vec<Value>,
    /// Numeric fields' cut points.
    pub bands: BTreeMap<String, Vec<f64>>,
    /// What the policy cannot express and was rounded to what it can (a
    /// negative weight of an enum with missing values, of a yes/no field), and
    /// what the scale could not fit.
    pub notes: Vec<String>,
    /// The scale: points that double the odds (given, or fitted).
    pub points_per_doubling: f64,
    /// The score of even odds: `p = 1 / (1 + 2^(-(score - even_odds_score) / points_per_doubling))`
    /// before rounding and clamping.
    pub even_odds_score: f64,
    /// The largest points-per-doubling that keeps all but 1% of the training
    /// scores off each end of 0..100.
    pub widest_points_per_doubling: f64,
    /// The `min_count` fitted with.
    pub min_count: usize,
    /// The penalty fitted with.
    pub alpha: f64,
    /// What cross-validation on the training part measured, when it chose.
    pub cross_validation: Vec<Trial>,
    /// The learnt inputs, to score leads with the regression itself.
    #[serde(skip)]
    learnt: Vec<Learnt>,
    /// The regression's weights, per column.
    #[serde(skip)]
    weights: Vec<f64>,
}

/// Why a scorecard cannot be fitted.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// The training records have one outcome only.
    #[error("the training part has {0} only: a scorecard needs both outcomes")]
    OneOutcome(&'static str),
    /// The regression failed.
    #[error("the logistic regression failed")]
    Regression(#[source] linfa_logistic::error::Error),
}

fn design(learnt: &[Learnt], leads: &[&m::Lead]) -> Array2<f64> {
    let width: usize = learnt.iter().map(Learnt::columns).sum();
    let mut x = Array2::zeros((leads.len(), width));
    for (row, lead) in leads.iter().enumerate() {
        let mut offset = 0;
        for l in learnt {
            if let Some(c) = l.column(lead) {
                x[[row, offset + c]] = 1.0;
            }
            offset += l.columns();
        }
    }
    x
}

/// Points on a scale that keeps the training scores (as the policy adds them
/// up, after rounding) within 0..100 but for 1% at either end: the base is
/// moved to centre them, and a fitted scale is narrowed until they fit. A scale
/// given that cannot fit is kept (calibrate notes the clamping it causes).
fn fit_scale(
    learnt: Vec<Learnt>,
    weights: Vec<f64>,
    intercept: f64,
    settings: &Settings,
    z: &[f64],
    leads: &[&m::Lead],
) -> Scorecard {
    let mut given = settings.points_per_doubling;
    let mut card = to_points(
        learnt.clone(),
        weights.clone(),
        intercept,
        settings,
        z,
        given,
    );
    for _ in 0..20 {
        let mut scores: Vec<f64> = leads.iter().map(|l| card.score(l) as f64).collect();
        scores.sort_by(f64::total_cmp);
        if scores.is_empty() {
            break;
        }
        let lo = bands::quantile(&scores, CLAMP_SHARE);
        let hi = bands::quantile(&scores, 1.0 - CLAMP_SHARE);
        // Centre the spread; the base is whole points.
        let shift = (50.0 - (lo + hi) / 2.0).round() as i64;
        card.base_points += shift;
        card.even_odds_score += shift as f64;
        let fits = lo + shift as f64 >= 0.0 && hi + shift as f64 <= 100.0;
        if fits || settings.points_per_doubling.is_some() {
            break;
        }
        let narrower = (card.points_per_doubling * 0.93 * 10.0).floor() / 10.0;
        if narrower <= 0.1 {
            break;
        }
        given = Some(narrower);
        card = to_points(
            learnt.clone(),
            weights.clone(),
            intercept,
            settings,
            z,
            given,
        );
    }
    card
}

/// One setting tried by cross-validation: the regression's AUC on the
/// held-out folds of the training part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trial {
    /// Training records a value needed.
    pub min_count: usize,
    /// The penalty.
    pub alpha: f64,
    /// AUC of the held-out predictions, pooled over the folds.
    pub auc: f64,
}

/// Fits a scorecard on the training leads (each with its outcome).
pub fn fit(
    inputs: &[Feature],
    train: &[(&m::Lead, bool)],
    settings: &Settings,
) -> Result<Scorecard, FitError> {
    let positives = train.iter().filter(|(_, y)| *y).count();
    if positives == 0 {
        return Err(FitError::OneOutcome("no positive outcome"));
    }
    if positives == train.len() {
        return Err(FitError::OneOutcome("no negative outcome"));
    }
    let min_counts: Vec<usize> = settings.min_count.map_or(MIN_COUNTS.to_vec(), |m| vec![m]);
    let alphas: Vec<f64> = settings.alpha.map_or(ALPHAS.to_vec(), |a| vec![a]);
    let trials = if min_counts.len() * alphas.len() > 1 {
        cross_validate(inputs, train, &min_counts, &alphas)?
    } else {
        Vec::new()
    };
    // The best held-out AUC; among those within 0.0005 of it, the simplest
    // (most records per value, then the strongest penalty).
    let best = trials
        .iter()
        .map(|t| t.auc)
        .fold(f64::NEG_INFINITY, f64::max);
    let (min_count, alpha) = trials
        .iter()
        .filter(|t| t.auc >= best - 0.0005)
        .max_by(|a, b| {
            a.min_count
                .cmp(&b.min_count)
                .then(a.alpha.total_cmp(&b.alpha))
        })
        .map_or((min_counts[0], alphas[0]), |t| (t.min_count, t.alpha));
    let learnt: Vec<Learnt> = inputs.iter().map(|i| learn(i, train, min_count)).collect();
    let leads: Vec<&m::Lead> = train.iter().map(|(l, _)| *l).collect();
    let x = design(&learnt, &leads);
    let y: Array1<bool> = train.iter().map(|(_, y)| *y).collect();
    let (weights, intercept) = logistic(x.clone(), y, alpha)?;
    let z: Vec<f64> = x
        .rows()
        .into_iter()
        .map(|row| intercept + row.iter().zip(&weights).map(|(a, w)| a * w).sum::<f64>())
        .collect();
    let mut card = fit_scale(learnt, weights, intercept, settings, &z, &leads);
    card.min_count = min_count;
    card.alpha = alpha;
    card.cross_validation = trials;
    Ok(card)
}

/// One (min_count, penalty) pair's held-out scores in one fold: the indices of
/// min_count and of the penalty, and each held-out record's score and outcome.
type FoldScores = (usize, usize, Vec<(f64, bool)>);

/// The regression's AUC on held-out folds of the training part for each pair
/// of `min_count` and `alpha`: records are dealt to the folds in turn, each
/// fold is predicted by a fit on the others (values and bands learnt from
/// those others too).
fn cross_validate(
    inputs: &[Feature],
    train: &[(&m::Lead, bool)],
    min_counts: &[usize],
    alphas: &[f64],
) -> Result<Vec<Trial>, FitError> {
    // Settings are compared on at most CV_RECORDS records, dealt evenly from
    // the training part: enough to rank them, and a large file stays quick.
    let every = train.len().div_ceil(CV_RECORDS).max(1);
    let sample: Vec<(&m::Lead, bool)> = train.iter().step_by(every).copied().collect();
    let train = &sample[..];
    let folds = FOLDS.min(train.len()).max(2);
    let scaled = |min_count: usize| {
        ((min_count * (folds - 1)) as f64 / (folds * every) as f64)
            .round()
            .max(1.0) as usize
    };
    let jobs: Vec<(usize, usize)> = (0..min_counts.len())
        .flat_map(|m| (0..folds).map(move |f| (m, f)))
        .collect();
    // Every (min_count, fold) on a thread of its own: each fits every penalty.
    let results: Vec<Result<Vec<FoldScores>, FitError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|&(m, f)| {
                scope.spawn(move || {
                    let fit_on: Vec<(&m::Lead, bool)> = train
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i % folds != f)
                        .map(|(_, r)| *r)
                        .collect();
                    let held: Vec<(&m::Lead, bool)> = train
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i % folds == f)
                        .map(|(_, r)| *r)
                        .collect();
                    let learnt: Vec<Learnt> = inputs
                        .iter()
                        // A value needs the same share of the records
                        // as `min_count` is of the whole training part.
                        .map(|i| learn(i, &fit_on, scaled(min_counts[m])))
                        .collect();
                    let leads: Vec<&m::Lead> = fit_on.iter().map(|(l, _)| *l).collect();
                    let x = design(&learnt, &leads);
                    let y: Array1<bool> = fit_on.iter().map(|(_, y)| *y).collect();
                    let held_leads: Vec<&m::Lead> = held.iter().map(|(l, _)| *l).collect();
                    let hx = design(&learnt, &held_leads);
                    let mut out = Vec::new();
                    for (a, alpha) in alphas.iter().enumerate() {
                        let (w, b) = logistic_to(x.clone(), y.clone(), *alpha, 1e-4)?;
                        let scored = hx
                            .rows()
                            .into_iter()
                            .zip(&held)
                            .map(|(row, (_, y))| {
                                (b + row.iter().zip(&w).map(|(v, w)| v * w).sum::<f64>(), *y)
                            })
                            .collect();
                        out.push((m, a, scored));
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a cross-validation fold panicked"))
            .collect()
    });
    let mut pooled: BTreeMap<(usize, usize), (Vec<f64>, Vec<bool>)> = BTreeMap::new();
    for r in results {
        for (m, a, scored) in r? {
            let entry = pooled.entry((m, a)).or_default();
            for (z, y) in scored {
                entry.0.push(z);
                entry.1.push(y);
            }
        }
    }
    Ok(pooled
        .into_iter()
        .map(|((m, a), (z, y))| Trial {
            min_count: min_counts[m],
            alpha: alphas[a],
            auc: super::super::metrics::auc(&z, &y).unwrap_or(0.5),
        })
        .collect())
}

/// Fits an L2-penalised logistic regression (intercept unpenalised) of `y` on
/// `x`; returns the weights and the intercept of the log-odds of `true`.
pub fn logistic(x: Array2<f64>, y: Array1<bool>, alpha: f64) -> Result<(Vec<f64>, f64), FitError> {
    logistic_to(x, y, alpha, 1e-8)
}

/// [`logistic`] stopped once the gradient is below `tolerance`: cross-validation
/// compares settings by AUC, which a looser fit already gives to 4 digits.
fn logistic_to(
    x: Array2<f64>,
    y: Array1<bool>,
    alpha: f64,
    tolerance: f64,
) -> Result<(Vec<f64>, f64), FitError> {
    let model = LogisticRegression::default()
        .alpha(alpha)
        .with_intercept(true)
        .max_iterations(10_000)
        .gradient_tolerance(tolerance)
        .fit(&Dataset::new(x, y))
        .map_err(FitError::Regression)?;
    // linfa labels the more frequent class +1, whichever it is: turn the
    // weights round when that is `false`, so they speak of `true`.
    let sign = if model.labels().pos.class { 1.0 } else { -1.0 };
    Ok((
        model.params().iter().map(|w| sign * w).collect(),
        sign * model.intercept(),
    ))
}

fn number_json(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

/// The scale of the points from the training leads' log-odds `z`: the
/// points-per-doubling given, or the one that spreads `z` but its lowest and
/// highest 1% over 2..98 (room for rounding); and the score of even odds that centres that
/// spread in 0..100, whatever the base rate. Also the widest points-per-doubling
/// that keeps all but 1% of the scores off each end.
fn scale_of(z: &[f64], given: Option<f64>) -> (f64, f64, f64) {
    let mut sorted = z.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (lo, hi) = if sorted.is_empty() {
        (0.0, 0.0)
    } else {
        (
            bands::quantile(&sorted, CLAMP_SHARE),
            bands::quantile(&sorted, 1.0 - CLAMP_SHARE),
        )
    };
    let doublings = (hi - lo).max(1e-9) / std::f64::consts::LN_2;
    let widest = 100.0 / doublings;
    // A fitted scale is rounded down to a tenth, to read well in the report.
    let points_per_doubling = given.unwrap_or_else(|| ((96.0 / doublings) * 10.0).floor() / 10.0);
    let scale = points_per_doubling / std::f64::consts::LN_2;
    let even = 50.0 - scale * (lo + hi) / 2.0;
    (points_per_doubling, even, widest)
}

fn to_points(
    learnt: Vec<Learnt>,
    weights: Vec<f64>,
    intercept: f64,
    s: &Settings,
    z: &[f64],
    points_per_doubling: Option<f64>,
) -> Scorecard {
    let (points_per_doubling, even_odds_score, widest) = scale_of(z, points_per_doubling);
    let scale = points_per_doubling / std::f64::consts::LN_2;
    let step = f64::from(s.points_step.max(1));
    // Rounded half away from zero, to a multiple of the step.
    let whole = |x: f64| ((x / step).round() * step) as i64;
    let mut base = even_odds_score + scale * intercept;
    let mut points = Vec::new();
    let mut enum_points = BTreeMap::new();
    let mut flag_points = BTreeMap::new();
    let mut custom_rules = Vec::new();
    let mut bands_out = BTreeMap::new();
    let mut notes = Vec::new();
    let mut offset = 0;
    for l in &learnt {
        let exact: Vec<f64> = weights[offset..offset + l.columns()]
            .iter()
            .map(|w| scale * w)
            .collect();
        offset += l.columns();
        let name = l.input.name();
        match (&l.input, &l.levels) {
            (Feature::Enum { field, .. }, Levels::Values { values, reference }) => {
                let lowest = exact.iter().copied().fold(f64::INFINITY, f64::min);
                // With a reference value every value can be shifted up to 0; with
                // missing values as the reference, missing must stay at 0.
                let shift = if reference.is_some() {
                    (-lowest).max(0.0)
                } else {
                    0.0
                };
                base -= shift;
                let at_reference = whole(shift);
                let mut map: BTreeMap<String, i64> = field
                    .values()
                    .into_iter()
                    .map(|v| (v.to_owned(), at_reference))
                    .collect();
                for (v, e) in values.iter().zip(&exact) {
                    let mut p = whole(e + shift);
                    if p < 0 {
                        notes.push(format!(
                            "{name} {v}: {p} points cannot be given (enum points start at 0); 0 given"
                        ));
                        p = 0;
                    }
                    map.insert(v.clone(), p);
                    points.push(Points {
                        input: name.clone(),
                        value: v.clone(),
                        exact: *e,
                        points: p,
                    });
                }
                if let Some(r) = reference {
                    points.push(Points {
                        input: name.clone(),
                        value: format!("{r} (reference; also every rarer value)"),
                        exact: 0.0,
                        points: at_reference,
                    });
                }
                enum_points.insert(field.policy_key(), map);
            }
            (Feature::Flag { key }, _) => {
                let e = exact.first().copied().unwrap_or(0.0);
                let mut p = whole(e);
                if p < 0 {
                    notes.push(format!(
                        "{name}: {p} points cannot be given (its points start at 0); 0 given"
                    ));
                    p = 0;
                }
                flag_points.insert(*key, p);
                points.push(Points {
                    input: name.clone(),
                    value: "true".to_owned(),
                    exact: e,
                    points: p,
                });
            }
            (Feature::Text { field }, Levels::Values { values, .. }) => {
                let mut rules: Vec<(i64, Value)> = Vec::new();
                for (v, e) in values.iter().zip(&exact) {
                    let p = whole(*e);
                    points.push(Points {
                        input: name.clone(),
                        value: v.clone(),
                        exact: *e,
                        points: p,
                    });
                    if p != 0 {
                        rules.push((
                            p,
                            json!({"field": field, "equals": v, "points": p,
                                   "reason": format!("{field} is {v}")}),
                        ));
                    }
                }
                rules.sort_by_key(|r| std::cmp::Reverse(r.0));
                custom_rules.extend(rules.into_iter().map(|(_, r)| r));
            }
            (Feature::Number { field }, Levels::Bands(b)) => {
                bands_out.insert(field.clone(), b.edges.clone());
                for (k, e) in exact.iter().enumerate() {
                    let p = whole(*e);
                    let (lo, hi) = b.bounds(k);
                    let value = match (lo, hi) {
                        (None, Some(hi)) => format!("at most {hi}"),
                        (Some(lo), None) => format!("{lo} or more"),
                        (Some(lo), Some(hi)) if lo == hi => format!("{lo}"),
                        (Some(lo), Some(hi)) => format!("{lo} to {hi}"),
                        (None, None) => "any".to_owned(),
                    };
                    points.push(Points {
                        input: name.clone(),
                        value: value.clone(),
                        exact: *e,
                        points: p,
                    });
                    if p == 0 {
                        continue;
                    }
                    let mut rule = serde_json::Map::new();
                    rule.insert("field".into(), json!(field));
                    if let Some(lo) = lo {
                        rule.insert("at_least".into(), number_json(lo));
                    }
                    if let Some(hi) = hi {
                        rule.insert("at_most".into(), number_json(hi));
                    }
                    rule.insert("points".into(), json!(p));
                    rule.insert("reason".into(), json!(format!("{field} {value}")));
                    custom_rules.push(Value::Object(rule));
                }
            }
            _ => {}
        }
    }
    Scorecard {
        base_points: base.round() as i64,
        intercept,
        points,
        enum_points,
        flag_points,
        custom_rules,
        bands: bands_out,
        notes,
        points_per_doubling,
        even_odds_score,
        widest_points_per_doubling: widest,
        min_count: 0,
        alpha: 0.0,
        cross_validation: Vec::new(),
        learnt,
        weights,
    }
}

impl Scorecard {
    /// The regression's own probability of a lead converting (before points are
    /// rounded): what the scorecard is compared with.
    pub fn probability(&self, lead: &m::Lead) -> f64 {
        let mut z = self.intercept;
        let mut offset = 0;
        for l in &self.learnt {
            if let Some(c) = l.column(lead) {
                z += self.weights[offset + c];
            }
            offset += l.columns();
        }
        1.0 / (1.0 + (-z).exp())
    }

    /// The score the policy gives a lead, before the module clamps it to
    /// 0..100: the base, each fitted field's points for the lead's value, the
    /// custom rules that match.
    pub fn score(&self, lead: &m::Lead) -> i64 {
        let mut total = self.base_points;
        for l in &self.learnt {
            total += match &l.input {
                Feature::Enum { field, .. } => field
                    .value(lead)
                    .and_then(|v| self.enum_points.get(field.policy_key())?.get(v))
                    .copied()
                    .unwrap_or(0),
                Feature::Flag { key } => match value_of(&l.input, lead) {
                    Seen::Level(Some(_)) => self.flag_points.get(key).copied().unwrap_or(0),
                    _ => 0,
                },
                Feature::Text { field } | Feature::Number { field } => self
                    .custom_rules
                    .iter()
                    .filter(|r| r["field"] == json!(field))
                    .filter(|r| rule_matches(r, lead.custom.get(field)))
                    .map(|r| r["points"].as_i64().unwrap_or(0))
                    .sum(),
            };
        }
        total
    }

    /// Lays the fitted points over a policy (its JSON): base points, the enum
    /// and yes/no points of the fitted fields, and the custom rules (all of
    /// them: the old ones were on another scale). Everything else stays.
    pub fn apply(&self, policy: &mut Value) {
        let q = qualification(policy);
        q.insert("base_points".into(), json!(self.base_points));
        for (key, map) in &self.enum_points {
            q.insert((*key).into(), json!(map));
        }
        for (key, p) in &self.flag_points {
            q.insert((*key).into(), json!(p));
        }
        q.insert(
            "custom_rules".into(),
            Value::Array(self.custom_rules.clone()),
        );
    }
}

/// Whether a fitted custom rule matches a custom value, as the reference
/// module matches: text equal ignoring case, numbers within the bounds.
fn rule_matches(rule: &Value, value: Option<&m::FieldValue>) -> bool {
    match (value, rule.get("equals")) {
        (Some(m::FieldValue::Text(t)), Some(Value::String(e))) => {
            t.trim().eq_ignore_ascii_case(e.trim())
        }
        (Some(m::FieldValue::Flag(b)), Some(Value::String(e))) => b.to_string() == *e,
        (Some(m::FieldValue::Number(n)), None) => {
            rule.get("at_least")
                .and_then(Value::as_f64)
                .is_none_or(|a| *n >= a)
                && rule
                    .get("at_most")
                    .and_then(Value::as_f64)
                    .is_none_or(|a| *n <= a)
        }
        _ => false,
    }
}

/// The `qualification` object of a policy, made if missing.
pub fn qualification(policy: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !policy.is_object() {
        *policy = json!({});
    }
    let root = policy.as_object_mut().expect("made an object above");
    let q = root.entry("qualification").or_insert_with(|| json!({}));
    if !q.is_object() {
        *q = json!({});
    }
    q.as_object_mut().expect("made an object above")
}

/// The lowest score `t` at which "score >= t" has the best F1 on `scored`
/// (score, outcome); ties go to the lowest `t`.
pub fn best_f1_line(scored: &[(u32, bool)]) -> u32 {
    let mut best = (-1.0, 0);
    for t in 0..=100 {
        let predicted: Vec<bool> = scored.iter().map(|(s, _)| *s >= t).collect();
        let labels: Vec<bool> = scored.iter().map(|(_, y)| *y).collect();
        let f1 = super::super::metrics::Confusion::of(&predicted, &labels).f1();
        if f1 > best.0 {
            best = (f1, t);
        }
    }
    best.1
}

/// The lowest score whose leads at or above it converted at least `precision`
/// of the time in `scored`; `None` when no score does.
pub fn precision_line(scored: &[(u32, bool)], precision: f64) -> Option<u32> {
    (0..=100).find(|&t| precision_from(scored, t).is_some_and(|p| p >= precision))
}

/// The best precision of "score >= t" at any `t`.
pub fn best_precision(scored: &[(u32, bool)]) -> f64 {
    (0..=100)
        .filter_map(|t| precision_from(scored, t))
        .fold(0.0, f64::max)
}

fn precision_from(scored: &[(u32, bool)], t: u32) -> Option<f64> {
    let above: Vec<bool> = scored
        .iter()
        .filter(|(s, _)| *s >= t)
        .map(|(_, y)| *y)
        .collect();
    (!above.is_empty()).then(|| above.iter().filter(|y| **y).count() as f64 / above.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(source: m::LeadSource, city: Option<&str>, visits: Option<f64>) -> m::Lead {
        let mut lead = m::Lead {
            id: "L".into(),
            source: Some(source),
            ..m::Lead::default()
        };
        if let Some(c) = city {
            lead.custom
                .insert("city".into(), m::FieldValue::Text(c.into()));
        }
        if let Some(v) = visits {
            lead.custom
                .insert("visits".into(), m::FieldValue::Number(v));
        }
        lead
    }

    #[test]
    fn a_stronger_value_gets_more_points_and_the_scale_holds() {
        // Web-form leads convert 3 times in 4, advertisement leads 1 in 4: a
        // log-odds gap of ln 9, which is 10 / ln 2 * ln 9 = 31.7 points.
        let mut leads = Vec::new();
        for i in 0..400 {
            let web = i % 2 == 0;
            let converted = if web { i % 8 != 0 } else { i % 8 == 1 };
            let source = if web {
                m::LeadSource::WebForm
            } else {
                m::LeadSource::Advertisement
            };
            leads.push((
                lead(
                    source,
                    Some(if i % 3 == 0 { "Mumbai" } else { "Pune" }),
                    None,
                ),
                converted,
            ));
        }
        let train: Vec<(&m::Lead, bool)> = leads.iter().map(|(l, y)| (l, *y)).collect();
        let inputs = [
            Feature::Enum {
                field: EnumField::Source,
                reference: Some("advertisement".into()),
            },
            Feature::Text {
                field: "city".into(),
            },
        ];
        let settings = Settings {
            alpha: Some(1e-6),
            min_count: Some(50),
            points_per_doubling: Some(10.0),
            ..Settings::default()
        };
        let card = fit(&inputs, &train, &settings).unwrap();
        let map = &card.enum_points["source_points"];
        assert_eq!(map["web_form"] - map["advertisement"], 32);
        // Values the fit never saw score like the reference.
        assert_eq!(map["partner"], map["advertisement"]);
        // Advertisement leads are 1 in 4: 15.8 points below even odds.
        let advertisement = (card.base_points + map["advertisement"]) as f64;
        assert!(
            (advertisement - (card.even_odds_score - 15.85)).abs() <= 1.0,
            "{advertisement} {}",
            card.even_odds_score
        );
        // City says nothing about converting here: its rule rounds to no points.
        assert!(card.custom_rules.is_empty(), "{:?}", card.custom_rules);
        let p = card.probability(&leads[0].0);
        assert!((p - 0.75).abs() < 0.01, "{p}");
    }

    #[test]
    fn thresholds_worked_by_hand() {
        let scored = [
            (10, false),
            (20, false),
            (30, true),
            (40, false),
            (50, true),
            (60, true),
        ];
        // At 30: tp 3, fp 1, fn 0 -> F1 6/7, the best.
        assert_eq!(best_f1_line(&scored), 21);
        // Precision 3/4 from 21 up; 1 from 41 up.
        assert_eq!(precision_line(&scored, 0.8), Some(41));
        assert_eq!(precision_line(&[(10, false), (43, false)], 0.8), None);
    }
}
