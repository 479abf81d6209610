//! The org policy: everything the reference rules let an organisation tune without
//! recompiling. Parsed and checked once, when the host loads the module; the
//! reference rules then turn it into lookup tables (see `Reference::new`).
//!
//! Every field is optional except `name`. An invalid policy is refused with an
//! `invalid-policy` error naming the field by its JSON path
//! (`qualification.qualify_at`, `forecast.weights.Nope`).
//!
//! A policy that uses the forecast's stage priors (fields added with contract
//! 0.2.0; without them the forecast is the activity-weighted average it always
//! was):
//!
//! ```json
//! { "name": "Strict Co",
//!   "qualification": { "base_points": 5 },
//!   "forecast": {
//!     "weights": { "Qualify": 1, "Develop": 2, "Propose": 3, "Close": 4 },
//!     "stage_probabilities": { "Qualify": 0.1, "Develop": 0.25, "Propose": 0.4, "Close": 0.7 },
//!     "activity_effect": 4.0 } }
//! ```

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::contract::{
    BudgetStatus, Engagement, EnumName, ErrorCode, FollowUpKind, LeadField, LeadSource, Need,
    Rating, RuleError, Timeframe,
};

/// A qualification criterion (the BANT checklist).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Budget status or amount known.
    Budget,
    /// The decision maker is known.
    Authority,
    /// A need is established.
    Need,
    /// The purchase timeframe is known.
    Timeframe,
}

impl Criterion {
    /// The lead field a person must fill in to meet the criterion.
    pub fn field(self) -> LeadField {
        match self {
            Criterion::Budget => LeadField::BudgetStatus,
            Criterion::Authority => LeadField::DecisionMakerKnown,
            Criterion::Need => LeadField::Need,
            Criterion::Timeframe => LeadField::Timeframe,
        }
    }
}

/// The whole policy of one organisation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// A name for people; shown in the module info.
    pub name: String,
    /// Currency of amounts when a record gives none.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Lead qualification.
    #[serde(default)]
    pub qualification: QualificationPolicy,
    /// Lead-to-opportunity conversion.
    #[serde(default)]
    pub conversion: ConversionPolicy,
    /// The sales stages, in order.
    #[serde(default = "default_stages")]
    pub stages: Vec<StageSpec>,
    /// Which stage moves are allowed.
    #[serde(default)]
    pub transitions: TransitionPolicy,
    /// Activity-driven forecasting.
    #[serde(default)]
    pub forecast: ForecastPolicy,
}

fn default_currency() -> String {
    "USD".to_owned()
}

/// How leads are scored and decided.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualificationPolicy {
    /// Criteria that must be known before a lead can be qualified.
    pub required: BTreeSet<Criterion>,
    /// Points every lead starts with, before the rules below add theirs and the sum
    /// is clamped to 0..100; shown among the reasons when not 0.
    pub base_points: i32,
    /// Minimum score of a qualified lead.
    pub qualify_at: u32,
    /// Below this score a lead is disqualified as lost (0: never).
    pub disqualify_below: u32,
    /// A lead with neither an email nor a contact name cannot be contacted.
    pub disqualify_uncontactable: bool,
    /// Points per lead source; a web form counts more than a bought list.
    pub source_points: BTreeMap<LeadSource, u32>,
    /// Points per engagement level.
    pub engagement_points: BTreeMap<Engagement, u32>,
    /// Points per budget status.
    pub budget_points: BTreeMap<BudgetStatus, u32>,
    /// Points when a budget amount is known but no status.
    pub budget_amount_points: u32,
    /// Points when the decision maker is known.
    pub authority_points: u32,
    /// Points per need.
    pub need_points: BTreeMap<Need, u32>,
    /// Points per purchase timeframe.
    pub timeframe_points: BTreeMap<Timeframe, u32>,
    /// Points for a lead of an existing customer.
    pub existing_customer_points: u32,
    /// Score thresholds of the ratings.
    pub ratings: RatingThresholds,
    /// Follow-up rules per rating.
    pub follow_up: FollowUpPolicy,
    /// Org-specific rules on custom fields.
    pub custom_rules: Vec<CustomRule>,
}

impl Default for QualificationPolicy {
    fn default() -> Self {
        use BudgetStatus as B;
        use Engagement as E;
        use LeadSource as S;
        QualificationPolicy {
            required: [
                Criterion::Budget,
                Criterion::Authority,
                Criterion::Need,
                Criterion::Timeframe,
            ]
            .into(),
            base_points: 0,
            qualify_at: 60,
            disqualify_below: 0,
            disqualify_uncontactable: true,
            source_points: [
                (S::WebForm, 30),
                (S::PhoneInquiry, 25),
                (S::EmployeeReferral, 25),
                (S::ExternalReferral, 20),
                (S::Partner, 20),
                (S::WordOfMouth, 15),
                (S::Seminar, 15),
                (S::Advertisement, 10),
                (S::PublicRelations, 10),
                (S::TradeShow, 10),
                (S::Other, 5),
                (S::PurchasedList, 0),
            ]
            .into(),
            engagement_points: [
                (E::None, 0),
                (E::Content, 5),
                (E::Inquiry, 10),
                (E::Conversation, 15),
                (E::Evaluation, 25),
                (E::Proposal, 30),
                (E::Contract, 35),
            ]
            .into(),
            budget_points: [
                (B::NoCommittedBudget, 0),
                (B::MayBuy, 5),
                (B::CanBuy, 10),
                (B::WillBuy, 15),
            ]
            .into(),
            budget_amount_points: 5,
            authority_points: 10,
            need_points: [
                (Need::MustHave, 15),
                (Need::ShouldHave, 10),
                (Need::GoodToHave, 5),
                (Need::NoNeed, 0),
            ]
            .into(),
            timeframe_points: [
                (Timeframe::Immediate, 15),
                (Timeframe::ThisQuarter, 12),
                (Timeframe::NextQuarter, 8),
                (Timeframe::ThisYear, 4),
                (Timeframe::Unknown, 0),
            ]
            .into(),
            existing_customer_points: 10,
            ratings: RatingThresholds::default(),
            follow_up: FollowUpPolicy::default(),
            custom_rules: Vec::new(),
        }
    }
}

/// Minimum scores of a hot and a warm lead; anything lower is cold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingThresholds {
    /// Minimum score of a hot lead.
    pub hot: u32,
    /// Minimum score of a warm lead.
    pub warm: u32,
}

impl Default for RatingThresholds {
    fn default() -> Self {
        RatingThresholds { hot: 70, warm: 40 }
    }
}

/// When a person must follow a lead up, in business days per rating.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FollowUpPolicy {
    /// Business days until the follow-up is due, per rating.
    pub days: BTreeMap<Rating, u32>,
    /// What kind of follow-up, per rating.
    pub kind: BTreeMap<Rating, FollowUpKind>,
    /// Days that are not business days besides Saturdays and Sundays.
    pub holidays: BTreeSet<NaiveDate>,
}

impl Default for FollowUpPolicy {
    fn default() -> Self {
        FollowUpPolicy {
            days: [(Rating::Hot, 1), (Rating::Warm, 3), (Rating::Cold, 5)].into(),
            kind: [
                (Rating::Hot, FollowUpKind::Call),
                (Rating::Warm, FollowUpKind::Call),
                (Rating::Cold, FollowUpKind::Email),
            ]
            .into(),
            holidays: BTreeSet::new(),
        }
    }
}

/// Points for a custom field's value, e.g. `new_industry` equal to "Government".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRule {
    /// The custom field.
    pub field: String,
    /// Matches when the field equals this value (text compared case-insensitively).
    #[serde(default)]
    pub equals: Option<serde_json::Value>,
    /// Matches when the field is a number at least this.
    #[serde(default)]
    pub at_least: Option<f64>,
    /// Matches when the field is a number at most this.
    #[serde(default)]
    pub at_most: Option<f64>,
    /// Points added when the rule matches (negative to subtract).
    pub points: i32,
    /// Shown among the reasons when the rule matches.
    #[serde(default)]
    pub reason: Option<String>,
}

/// How a qualified lead is converted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversionPolicy {
    /// Create an opportunity on conversion (Salesforce: not `doNotCreateOpportunity`).
    pub create_opportunity: bool,
    /// The stage a new opportunity starts in; the second stage when absent.
    pub initial_stage: Option<String>,
    /// A lead of an existing customer becomes an opportunity without being
    /// qualified first.
    pub existing_customer_skips_lead: bool,
    /// The stage such an opportunity starts in; `initial_stage` when absent.
    pub customer_initial_stage: Option<String>,
    /// Days from now to the estimated close date when the lead gives no timeframe.
    pub default_close_days: u32,
}

impl Default for ConversionPolicy {
    fn default() -> Self {
        ConversionPolicy {
            create_opportunity: true,
            initial_stage: None,
            existing_customer_skips_lead: false,
            customer_initial_stage: None,
            default_close_days: 90,
        }
    }
}

/// Which stage moves are allowed besides one stage forward.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransitionPolicy {
    /// Moving to an earlier stage.
    pub allow_back: bool,
    /// Moving forward past a stage.
    pub allow_skip: bool,
    /// When skipping, the required fields of the skipped stages must be filled too.
    pub skipped_stages_required: bool,
}

impl Default for TransitionPolicy {
    fn default() -> Self {
        TransitionPolicy {
            allow_back: true,
            allow_skip: false,
            skipped_stages_required: true,
        }
    }
}

/// How activities become a win probability.
///
/// Without `stage_probabilities` the probability of an open opportunity is the mean
/// rating of each stage's completed activities, weighted by stage. With them, the
/// stage the opportunity is in gives a prior probability and the activities move it:
/// `sigmoid(logit(prior) + activity_effect * E)`, where `E` is the weighted mean,
/// over the stages that have completed activities, of how far their mean rating is
/// from 0.5 (divided by the weight of all stages). A won opportunity has
/// probability 1, a lost one 0.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForecastPolicy {
    /// Weight per stage; stages not named weigh by their position (1, 2, 3, ...).
    pub weights: BTreeMap<String, f64>,
    /// The win probability (0..1) of an open opportunity in each stage before its
    /// activities are counted; when given, every stage must be listed.
    pub stage_probabilities: Option<BTreeMap<String, f64>>,
    /// How strongly activities move the stage's prior (log-odds per unit of
    /// weighted rating above or below 0.5). Used with `stage_probabilities` only.
    pub activity_effect: f64,
}

impl Default for ForecastPolicy {
    fn default() -> Self {
        ForecastPolicy {
            weights: BTreeMap::new(),
            stage_probabilities: None,
            activity_effect: 4.0,
        }
    }
}

/// One step of a stage, e.g. "Identify Decision Maker" filling `decisionmaker`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename = "Step", deny_unknown_fields)]
pub struct StepSpec {
    /// Shown to people.
    pub name: String,
    /// The CRM field the step fills.
    pub field: String,
    /// The stage cannot be left until the field holds a value.
    #[serde(default)]
    pub required: bool,
}

/// A sales stage and its steps.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename = "Stage", deny_unknown_fields)]
pub struct StageSpec {
    /// Its name, e.g. "Develop"; names are unique within a policy.
    pub name: String,
    /// Its steps, in order.
    #[serde(default)]
    pub steps: Vec<StepSpec>,
}

/// The out-of-box stages and steps (Dynamics 365's lead-to-opportunity process:
/// Qualify, Develop, Propose, Close).
pub fn default_stages() -> Vec<StageSpec> {
    let stage = |name: &str, steps: &[(&str, &str, bool)]| StageSpec {
        name: name.to_owned(),
        steps: steps
            .iter()
            .map(|(name, field, required)| StepSpec {
                name: (*name).to_owned(),
                field: (*field).to_owned(),
                required: *required,
            })
            .collect(),
    };
    vec![
        stage(
            "Qualify",
            &[
                ("Identify Contact", "parentcontactid", true),
                ("Identify Account", "parentaccountid", true),
                ("Purchase Timeframe", "purchasetimeframe", false),
                ("Estimated Budget", "budgetamount", false),
                ("Purchase Process", "purchaseprocess", false),
                ("Identify Decision Maker", "decisionmaker", false),
                ("Capture Summary", "description", false),
            ],
        ),
        stage(
            "Develop",
            &[
                ("Customer Need", "customerneed", true),
                ("Proposed Solution", "proposedsolution", false),
                ("Identify Stakeholders", "identifycustomercontacts", false),
                ("Identify Competitors", "identifycompetitors", false),
            ],
        ),
        stage(
            "Propose",
            &[
                ("Identify Sales Team", "identifypursuitteam", false),
                ("Develop Proposal", "developproposal", true),
                ("Complete Internal Review", "completeinternalreview", false),
                ("Present Proposal", "presentproposal", true),
            ],
        ),
        stage(
            "Close",
            &[
                ("Complete Final Proposal", "completefinalproposal", false),
                ("Present Final Proposal", "presentfinalproposal", false),
                ("Confirm Decision Date", "finaldecisiondate", false),
                ("Send Thank You", "sendthankyounote", false),
                ("File De-brief", "filedebrief", false),
            ],
        ),
    ]
}

fn invalid(field: &str, message: impl Into<String>) -> RuleError {
    RuleError::new(ErrorCode::InvalidPolicy, message, Some(field))
}

impl Policy {
    /// Parses and checks a policy; the error names the offending field by its path.
    pub fn parse(json: &str) -> Result<Policy, RuleError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let policy: Policy = serde_path_to_error::deserialize(de).map_err(|err| {
            let path = err.path().to_string();
            let field = if path == "." {
                None
            } else {
                Some(path.as_str())
            };
            RuleError::new(
                ErrorCode::InvalidPolicy,
                format!("policy: {}", err.inner()),
                field,
            )
        })?;
        policy.check()?;
        Ok(policy)
    }

    fn check(&self) -> Result<(), RuleError> {
        if self.stages.is_empty() {
            return Err(invalid("stages", "the policy names no stages"));
        }
        let mut seen = BTreeSet::new();
        for (i, stage) in self.stages.iter().enumerate() {
            if stage.name.trim().is_empty() {
                return Err(invalid(&format!("stages[{i}].name"), "a stage has no name"));
            }
            if !seen.insert(stage.name.as_str()) {
                return Err(invalid(
                    &format!("stages[{i}].name"),
                    format!("stage `{}` is listed twice", stage.name),
                ));
            }
        }
        for (field, stage) in [
            ("conversion.initial_stage", &self.conversion.initial_stage),
            (
                "conversion.customer_initial_stage",
                &self.conversion.customer_initial_stage,
            ),
        ] {
            if let Some(stage) = stage {
                if self.stage_index(stage).is_none() {
                    return Err(invalid(
                        field,
                        format!("`{stage}` is not one of the stages"),
                    ));
                }
            }
        }
        for (stage, weight) in &self.forecast.weights {
            let field = format!("forecast.weights.{stage}");
            if self.stage_index(stage).is_none() {
                return Err(invalid(
                    &field,
                    format!("`{stage}` is not one of the stages"),
                ));
            }
            if !weight.is_finite() || *weight < 0.0 {
                return Err(invalid(&field, "a weight must be a finite number >= 0"));
            }
        }
        if self.stages.iter().all(|s| self.weight(&s.name) == 0.0) {
            return Err(invalid("forecast.weights", "every stage weighs 0"));
        }
        if let Some(probabilities) = &self.forecast.stage_probabilities {
            for (stage, p) in probabilities {
                let field = format!("forecast.stage_probabilities.{stage}");
                if self.stage_index(stage).is_none() {
                    return Err(invalid(
                        &field,
                        format!("`{stage}` is not one of the stages"),
                    ));
                }
                if !(0.0..=1.0).contains(p) {
                    return Err(invalid(&field, "a probability is a number from 0 to 1"));
                }
            }
            if let Some(stage) = self
                .stages
                .iter()
                .find(|s| !probabilities.contains_key(&s.name))
            {
                return Err(invalid(
                    "forecast.stage_probabilities",
                    format!("stage `{}` has no probability", stage.name),
                ));
            }
        }
        let effect = self.forecast.activity_effect;
        if !effect.is_finite() || effect < 0.0 {
            return Err(invalid(
                "forecast.activity_effect",
                "the activity effect is a finite number >= 0",
            ));
        }
        let q = &self.qualification;
        if q.ratings.warm > q.ratings.hot {
            return Err(invalid(
                "qualification.ratings.warm",
                "the warm threshold is above the hot one",
            ));
        }
        if q.qualify_at > 100 {
            return Err(invalid(
                "qualification.qualify_at",
                "scores run from 0 to 100",
            ));
        }
        if q.disqualify_below > q.qualify_at {
            return Err(invalid(
                "qualification.disqualify_below",
                "disqualify_below is above qualify_at",
            ));
        }
        for (rating, days) in &q.follow_up.days {
            if *days > 260 {
                return Err(invalid(
                    &format!("qualification.follow_up.days.{}", rating.name()),
                    "more than a year of business days",
                ));
            }
        }
        for (i, rule) in q.custom_rules.iter().enumerate() {
            let at = format!("qualification.custom_rules[{i}]");
            if rule.field.trim().is_empty() {
                return Err(invalid(
                    &format!("{at}.field"),
                    "a custom rule names no field",
                ));
            }
            if rule.equals.is_none() && rule.at_least.is_none() && rule.at_most.is_none() {
                return Err(invalid(
                    &at,
                    "a custom rule needs `equals`, `at_least` or `at_most`",
                ));
            }
            if let Some(value) = &rule.equals {
                if value.is_array() || value.is_object() || value.is_null() {
                    return Err(invalid(
                        &format!("{at}.equals"),
                        "`equals` takes a text, a number or a boolean",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The position of a stage, by exact name.
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.name == name)
    }

    /// A stage's forecast weight: the policy's, else its position counted from 1.
    pub fn weight(&self, stage: &str) -> f64 {
        match self.forecast.weights.get(stage) {
            Some(weight) => *weight,
            None => self.stage_index(stage).map_or(0.0, |i| (i + 1) as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_policy_takes_defaults() {
        let p = Policy::parse(r#"{"name": "x"}"#).unwrap();
        assert_eq!(p.stages.len(), 4);
        assert_eq!(p.qualification.required.len(), 4);
    }

    #[test]
    fn bad_field_is_named_by_path() {
        let err =
            Policy::parse(r#"{"name": "x", "qualification": {"qualify_at": "high"}}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("qualification.qualify_at"));
        let err = Policy::parse(r#"{"name": "x", "qualification": {"ratings": {"hot": 10}}}"#)
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("qualification.ratings"));
        let err = Policy::parse(
            r#"{"name": "x", "qualification": {"source_points": {"carrier_pigeon": 3}}}"#,
        )
        .unwrap_err();
        assert!(err.message.contains("carrier_pigeon"), "{err}");
    }

    #[test]
    fn stage_references_are_checked() {
        let err = Policy::parse(r#"{"name": "x", "conversion": {"initial_stage": "Dream"}}"#)
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("conversion.initial_stage"));
        let err =
            Policy::parse(r#"{"name": "x", "forecast": {"weights": {"Nope": 1}}}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("forecast.weights.Nope"));
    }

    #[test]
    fn stage_probabilities_name_every_stage_and_only_stages() {
        let all = r#""Qualify": 0.1, "Develop": 0.2, "Propose": 0.4, "Close": 0.7"#;
        let p = Policy::parse(&format!(
            r#"{{"name": "x", "forecast": {{"stage_probabilities": {{{all}}}}}}}"#
        ))
        .unwrap();
        assert_eq!(p.forecast.activity_effect, 4.0);
        let err = Policy::parse(
            r#"{"name": "x", "forecast": {"stage_probabilities": {"Qualify": 0.1}}}"#,
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("forecast.stage_probabilities"));
        assert!(err.message.contains("Develop"), "{err}");
        let err = Policy::parse(&format!(
            r#"{{"name": "x", "forecast": {{"stage_probabilities": {{{all}, "Dream": 1}}}}}}"#
        ))
        .unwrap_err();
        assert_eq!(
            err.field.as_deref(),
            Some("forecast.stage_probabilities.Dream")
        );
        let err = Policy::parse(
            r#"{"name": "x", "forecast": {"stage_probabilities": {"Qualify": 1.5}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.field.as_deref(),
            Some("forecast.stage_probabilities.Qualify")
        );
        let err =
            Policy::parse(r#"{"name": "x", "forecast": {"activity_effect": -1}}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("forecast.activity_effect"));
    }

    #[test]
    fn base_points_default_to_nothing() {
        let p = Policy::parse(r#"{"name": "x"}"#).unwrap();
        assert_eq!(p.qualification.base_points, 0);
        let p = Policy::parse(r#"{"name": "x", "qualification": {"base_points": -5}}"#).unwrap();
        assert_eq!(p.qualification.base_points, -5);
    }

    #[test]
    fn a_stage_of_the_wrong_shape_reads_as_before() {
        let err = Policy::parse(r#"{"name": "x", "stages": [3]}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("stages[0]"));
        assert!(err.message.contains("expected struct Stage"), "{err}");
    }
}
