//! The forecast's prior, fitted to closed deals: each stage's base probability
//! and, when the deals carry rated activities, the stage weights and the
//! activity effect of the reference module's forecast.
//!
//! The reference module forecasts an open opportunity as
//! `sigmoid(logit(p[stage]) + activity_effect * E)`, with
//! `E = sum_s w_s (mean rating of stage s - 0.5) / sum_s w_s` over the stages with
//! completed activities (ratings 1..5 read as 0..1). That is a logistic
//! regression: one column per stage (which stage the deal was in) and one per
//! stage of `mean rating - 0.5` (0 without activities there). Its weights give
//! `p[stage]` and, for the activity columns, `activity_effect * w_s / sum w`:
//! weights `w_s` = the positive fitted weights, `activity_effect` = their sum.
//!
//! Without rated activities only the stage columns remain, and the fit is each
//! stage's training win rate. A stage no training deal was in (Prospecting in a
//! file where every closed deal left from a later stage) cannot be estimated: it
//! gets the training base rate, and the report says so.

use std::collections::BTreeMap;

use crm_rules::model as m;
use ndarray::{Array1, Array2};
use serde::Serialize;
use serde_json::{json, Value};

/// The fitted prior.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prior {
    /// Win probability per stage, before activities.
    pub stage_probabilities: BTreeMap<String, f64>,
    /// Training deals per stage.
    pub stage_records: BTreeMap<String, usize>,
    /// Fitted weights of the activities per stage, when there were activities.
    pub weights: Option<BTreeMap<String, f64>>,
    /// How strongly activities move the prior.
    pub activity_effect: f64,
    /// The training base rate.
    pub base_rate: f64,
    /// What could not be estimated, and what was given instead.
    pub notes: Vec<String>,
}

/// Each stage's mean rating (0..1) of completed activities, for the stages with any.
fn evidence(opportunity: &m::Opportunity, stages: &[String]) -> Vec<Option<f64>> {
    let mut sums = vec![(0.0, 0u32); stages.len()];
    for a in &opportunity.activities {
        if !a.completed || !(1..=5).contains(&a.rating) {
            continue;
        }
        if let Some(at) = stages.iter().position(|s| *s == a.stage) {
            sums[at].0 += f64::from(a.rating - 1) / 4.0;
            sums[at].1 += 1;
        }
    }
    sums.into_iter()
        .map(|(sum, n)| (n > 0).then(|| sum / f64::from(n)))
        .collect()
}

/// Fits the prior on training deals (each with its outcome), for the org's
/// stages in order. `min_count`: training deals a stage needs for a rate of its
/// own; `alpha`: the regression's L2 penalty.
pub fn fit(
    train: &[(&m::Opportunity, bool)],
    stages: &[String],
    min_count: usize,
    alpha: f64,
) -> Result<Prior, super::scorecard::FitError> {
    let n = train.len().max(1);
    let positives = train.iter().filter(|(_, y)| *y).count();
    let base_rate = positives as f64 / n as f64;
    let mut stage_records: BTreeMap<String, usize> =
        stages.iter().map(|s| (s.clone(), 0)).collect();
    let mut stage_wins: BTreeMap<String, usize> = BTreeMap::new();
    for (o, y) in train {
        if let Some(c) = stage_records.get_mut(&o.stage) {
            *c += 1;
            *stage_wins.entry(o.stage.clone()).or_default() += usize::from(*y);
        }
    }
    let mut notes = Vec::new();
    let estimable: Vec<&String> = stages
        .iter()
        .filter(|s| stage_records[*s] >= min_count)
        .collect();
    for s in stages {
        if stage_records[s] < min_count {
            notes.push(format!(
                "stage {s}: {} closed training deals (fewer than {min_count}); given the base rate {base_rate:.4}",
                stage_records[s]
            ));
        }
    }
    let evidences: Vec<Vec<Option<f64>>> = train.iter().map(|(o, _)| evidence(o, stages)).collect();
    let rated: Vec<bool> = (0..stages.len())
        .map(|s| evidences.iter().any(|e| e[s].is_some()))
        .collect();
    let mut stage_probabilities = BTreeMap::new();
    if !rated.iter().any(|r| *r) {
        for s in stages {
            let p = if stage_records[s] >= min_count {
                stage_wins.get(s).copied().unwrap_or(0) as f64 / stage_records[s] as f64
            } else {
                base_rate
            };
            stage_probabilities.insert(s.clone(), p);
        }
        notes.push(
            "no rated activities in the training part: activity_effect set to 0, weights kept"
                .to_owned(),
        );
        return Ok(Prior {
            stage_probabilities,
            stage_records,
            weights: None,
            activity_effect: 0.0,
            base_rate,
            notes,
        });
    }
    if positives == 0 || positives == train.len() {
        return Err(super::scorecard::FitError::OneOutcome(if positives == 0 {
            "no won deal"
        } else {
            "no lost deal"
        }));
    }
    // Columns: every estimable stage but the first (the intercept is the first's
    // log-odds), then each rated stage's evidence.
    let stage_columns: Vec<&String> = estimable.iter().skip(1).copied().collect();
    let rated_stages: Vec<usize> = (0..stages.len()).filter(|s| rated[*s]).collect();
    let width = stage_columns.len() + rated_stages.len();
    let mut x = Array2::zeros((train.len(), width));
    for (row, ((o, _), e)) in train.iter().zip(&evidences).enumerate() {
        if let Some(c) = stage_columns.iter().position(|s| **s == o.stage) {
            x[[row, c]] = 1.0;
        }
        for (k, &s) in rated_stages.iter().enumerate() {
            if let Some(mean) = e[s] {
                x[[row, stage_columns.len() + k]] = mean - 0.5;
            }
        }
    }
    let y: Array1<bool> = train.iter().map(|(_, y)| *y).collect();
    let (w, b0) = super::scorecard::logistic(x, y, alpha)?;
    let sigmoid = |z: f64| 1.0 / (1.0 + (-z).exp());
    for s in stages {
        let p = match (
            estimable.first(),
            stage_columns.iter().position(|c| *c == s),
        ) {
            (_, Some(c)) => sigmoid(b0 + w[c]),
            (Some(first), None) if *first == s => sigmoid(b0),
            _ => base_rate,
        };
        stage_probabilities.insert(s.clone(), round4(p));
    }
    let fitted: Vec<f64> = (0..rated_stages.len())
        .map(|k| w[stage_columns.len() + k])
        .collect();
    let total: f64 = fitted.iter().filter(|b| **b > 0.0).sum();
    let (weights, activity_effect) = if total > 0.0 {
        let weights = stages
            .iter()
            .enumerate()
            .map(|(s, name)| {
                let b = rated_stages
                    .iter()
                    .position(|r| *r == s)
                    .map_or(0.0, |k| fitted[k].max(0.0));
                (name.clone(), round4(b))
            })
            .collect();
        (Some(weights), round4(total))
    } else {
        notes.push(
            "rated activities did not raise the odds of winning: activity_effect set to 0"
                .to_owned(),
        );
        (None, 0.0)
    };
    Ok(Prior {
        stage_probabilities,
        stage_records,
        weights,
        activity_effect,
        base_rate,
        notes,
    })
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

impl Prior {
    /// Lays the prior over a policy's `forecast` (its JSON).
    pub fn apply(&self, policy: &mut Value) {
        if !policy.is_object() {
            *policy = json!({});
        }
        let Some(root) = policy.as_object_mut() else {
            return;
        };
        let f = root.entry("forecast").or_insert_with(|| json!({}));
        if !f.is_object() {
            *f = json!({});
        }
        let Some(f) = f.as_object_mut() else { return };
        let rounded: BTreeMap<&String, f64> = self
            .stage_probabilities
            .iter()
            .map(|(s, p)| (s, round4(*p)))
            .collect();
        f.insert("stage_probabilities".into(), json!(rounded));
        f.insert("activity_effect".into(), json!(self.activity_effect));
        if let Some(weights) = &self.weights {
            f.insert("weights".into(), json!(weights));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deal(stage: &str, ratings: &[u8]) -> m::Opportunity {
        m::Opportunity {
            id: "O".into(),
            stage: stage.into(),
            activities: ratings
                .iter()
                .map(|r| m::Activity {
                    id: "A".into(),
                    kind: m::ActivityKind::Call,
                    stage: stage.into(),
                    rating: *r,
                    completed: true,
                    on: None,
                })
                .collect(),
            ..m::Opportunity::default()
        }
    }

    fn stages() -> Vec<String> {
        vec!["Develop".into(), "Propose".into()]
    }

    #[test]
    fn without_activities_each_stage_gets_its_win_rate() {
        let mut deals = Vec::new();
        for i in 0..100 {
            deals.push((deal("Develop", &[]), i % 4 == 0));
            deals.push((deal("Propose", &[]), i % 4 != 0));
        }
        let train: Vec<_> = deals.iter().map(|(o, y)| (o, *y)).collect();
        let prior = fit(&train, &stages(), 30, 1.0).unwrap();
        assert_eq!(prior.stage_probabilities["Develop"], 0.25);
        assert_eq!(prior.stage_probabilities["Propose"], 0.75);
        assert_eq!(prior.activity_effect, 0.0);
        assert!(prior.weights.is_none());
    }

    #[test]
    fn a_stage_without_closed_deals_gets_the_base_rate_and_a_note() {
        let deals: Vec<_> = (0..50)
            .map(|i| (deal("Propose", &[]), i % 5 != 0))
            .collect();
        let train: Vec<_> = deals.iter().map(|(o, y)| (o, *y)).collect();
        let prior = fit(&train, &stages(), 30, 1.0).unwrap();
        assert_eq!(prior.stage_probabilities["Develop"], 0.8);
        assert!(prior.notes[0].contains("Develop"), "{:?}", prior.notes);
    }

    #[test]
    fn good_ratings_that_win_give_a_positive_activity_effect() {
        // Deals rated well (5) win 9 in 10, rated badly (1) 1 in 10.
        let mut deals = Vec::new();
        for i in 0..400 {
            let good = i % 2 == 0;
            let won = if good { i % 20 != 0 } else { i % 20 == 1 };
            deals.push((deal("Develop", &[if good { 5 } else { 1 }]), won));
        }
        let train: Vec<_> = deals.iter().map(|(o, y)| (o, *y)).collect();
        let prior = fit(&train, &stages(), 30, 0.01).unwrap();
        // Evidence +-0.5 moves the log-odds by +-ln 9: the effect is 2 ln 9 = 4.39.
        assert!(
            (prior.activity_effect - 2.0 * 9f64.ln()).abs() < 0.05,
            "{prior:?}"
        );
        let weights = prior.weights.unwrap();
        assert!(weights["Develop"] > 0.0 && weights["Propose"] == 0.0);
        assert!((prior.stage_probabilities["Develop"] - 0.5).abs() < 0.01);
    }
}
