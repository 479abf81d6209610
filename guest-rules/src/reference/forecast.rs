//! Forecasting: an opportunity's win probability from its activities, each
//! categorised by stage and rated by the rep, weighted by stage.
//!
//! Open opportunities are scored as the policy says (see
//! [`ForecastPolicy`](crate::policy::ForecastPolicy)): the weighted mean of each
//! stage's mean rating, or, with stage probabilities, the stage's prior moved by the
//! activities on the log-odds scale. A won opportunity has probability 1, a lost
//! one 0.

use crate::contract::{
    Arg, ErrorCode, Money, Opportunity, OpportunityParts, OpportunityStatus, RuleError, StageScore,
    WinForecast,
};
use crate::policy::Policy;
use crate::reads::Reads;
use crate::templates::{TemplateId, Templates};

use super::{round, stage_at, unknown_stage};

#[derive(Debug, Clone)]
struct Texts {
    /// `{0}: 1 activity rated {2:.2} on average, weight {3}`.
    stage_activity: TemplateId,
    /// The same with `activities`.
    stage_activities: TemplateId,
    no_activities: TemplateId,
    prior: TemplateId,
    won: TemplateId,
    lost: TemplateId,
}

/// Forecasting, compiled from the policy.
#[derive(Debug, Clone)]
pub(super) struct ForecastRules {
    /// Per stage.
    weights: Vec<f64>,
    total_weight: f64,
    /// Per stage, as the policy gives them, when it does.
    priors: Option<Vec<f64>>,
    activity_effect: f64,
    texts: Texts,
}

impl ForecastRules {
    pub(super) fn new(
        policy: &Policy,
        t: &mut Templates,
        reads: &mut Reads,
    ) -> Result<Self, RuleError> {
        reads.forecast(OpportunityParts::ACTIVITIES);
        let texts = Texts {
            stage_activity: t.add(
                "forecast.stage_activity",
                "{0}: {1} activity rated {2:.2} on average, weight {3}",
            )?,
            stage_activities: t.add(
                "forecast.stage_activities",
                "{0}: {1} activities rated {2:.2} on average, weight {3}",
            )?,
            no_activities: t.add("forecast.no_activities", "no completed activities yet")?,
            prior: t.add("forecast.prior", "{0} starts at {1:.2}")?,
            won: t.add("forecast.won", "the opportunity is won")?,
            lost: t.add("forecast.lost", "the opportunity is lost")?,
        };
        let weights: Vec<f64> = policy
            .stages
            .iter()
            .map(|s| policy.weight(&s.name))
            .collect();
        // Summed in stage order, as the forecast always has.
        let total_weight = weights.iter().sum();
        let priors = policy.forecast.stage_probabilities.as_ref().map(|given| {
            policy
                .stages
                .iter()
                .map(|s| given.get(&s.name).copied().unwrap_or(0.5))
                .collect()
        });
        Ok(ForecastRules {
            weights,
            total_weight,
            priors,
            activity_effect: policy.forecast.activity_effect,
            texts,
        })
    }

    pub(super) fn forecast(&self, opportunity: &Opportunity) -> Result<WinForecast, RuleError> {
        let count = self.weights.len();
        let stage = stage_at(opportunity.stage, count, "stage")?;
        // Each stage's score, its sum of ratings kept in `mean_rating` until the end.
        let mut stages: Vec<StageScore> = (0u32..)
            .zip(&self.weights)
            .map(|(at, weight)| StageScore {
                stage: at,
                weight: *weight,
                activities: 0,
                mean_rating: 0.0,
            })
            .collect();
        for (i, activity) in opportunity.activities.iter().enumerate() {
            let at = activity.stage as usize;
            if at >= count {
                let field = format!("activities[{i}].stage");
                return Err(unknown_stage(activity.stage, count, &field));
            }
            if !(1..=5).contains(&activity.rating) {
                return Err(RuleError::new(
                    ErrorCode::InvalidValue,
                    format!("rating {} is outside 1..5", activity.rating),
                    Some(&format!("activities[{i}].rating")),
                ));
            }
            if activity.completed {
                let score = &mut stages[at];
                score.activities += 1;
                score.mean_rating += f64::from(activity.rating - 1) / 4.0;
            }
        }
        let t = &self.texts;
        let mut reasons = Vec::with_capacity(count + 1);
        // Today's formula: the weighted mean of the stages' mean ratings.
        let mut weighted = 0.0;
        // The evidence that moves a prior: weighted distance of the mean ratings
        // from 0.5, over the stages that have activities.
        let mut evidence = 0.0;
        for score in &mut stages {
            let mean = if score.activities == 0 {
                0.0
            } else {
                score.mean_rating / f64::from(score.activities)
            };
            weighted += score.weight * mean;
            if score.activities > 0 {
                evidence += score.weight * (mean - 0.5);
                let template = if score.activities == 1 {
                    t.stage_activity
                } else {
                    t.stage_activities
                };
                reasons.push(template.reason(vec![
                    Arg::Stage(score.stage),
                    Arg::Integer(i64::from(score.activities)),
                    Arg::Number(mean),
                    Arg::Number(score.weight),
                ]));
            }
            score.mean_rating = round(mean, 4);
        }
        if reasons.is_empty() {
            reasons.push(t.no_activities.reason(Vec::new()));
        }
        let probability = match (opportunity.status, &self.priors) {
            (OpportunityStatus::Won, _) => {
                reasons.clear();
                reasons.push(t.won.reason(Vec::new()));
                1.0
            }
            (OpportunityStatus::Lost, _) => {
                reasons.clear();
                reasons.push(t.lost.reason(Vec::new()));
                0.0
            }
            (OpportunityStatus::Open, None) => {
                if self.total_weight > 0.0 {
                    weighted /= self.total_weight;
                }
                round(weighted.clamp(0.0, 1.0), 4)
            }
            (OpportunityStatus::Open, Some(priors)) => {
                let prior = priors[stage];
                reasons.insert(
                    0,
                    t.prior
                        .reason(vec![Arg::Stage(opportunity.stage), Arg::Number(prior)]),
                );
                let p0 = prior.clamp(0.001, 0.999);
                let evidence = if self.total_weight > 0.0 {
                    evidence / self.total_weight
                } else {
                    0.0
                };
                let log_odds = (p0 / (1.0 - p0)).ln() + self.activity_effect * evidence;
                round(1.0 / (1.0 + (-log_odds).exp()), 4)
            }
        };
        let weighted_value = opportunity.amount.map(|m| Money {
            amount: round(m.amount * probability, 2),
            currency: m.currency,
        });
        Ok(WinForecast {
            probability,
            weighted_value,
            stages,
            reasons,
        })
    }
}
