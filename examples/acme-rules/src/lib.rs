//! Acme Industrial's rule module: a custom module written the way a consultant
//! writes one for a client.
//!
//! Acme sells machinery only in the regions it can service and only to companies
//! large enough to run it; smaller firms are sent to its web shop. Deals whose
//! activities have gone quiet are worth less than their ratings say. Everything
//! else (scoring, conversion, stages) is the reference rules, tuned by the `base`
//! policy.
//!
//! Policy:
//!
//! ```json
//! { "base": { "name": "Acme Industrial" },
//!   "served_regions": ["EMEA", "NA"], "min_employees": 50, "stale_after_days": 60 }
//! ```
#![deny(missing_docs)]

use guest_rules::model::{
    Candidate, Context, ConversionPlan, DisqualifyReason, ErrorCode, FieldValue, Forecast, Lead,
    ModuleInfo, Opportunity, Outcome, Qualification, RuleError, Stage, TransitionCheck,
};
use guest_rules::{Policy, Reference, RuleModule};
use serde::Deserialize;

/// The custom field that holds a lead's sales region.
const REGION: &str = "Region__c";
/// The custom field that holds the company's head count.
const EMPLOYEES: &str = "NumberOfEmployees";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcmePolicy {
    base: serde_json::Value,
    served_regions: Vec<String>,
    min_employees: f64,
    stale_after_days: i64,
}

/// Acme Industrial's rules.
pub struct Acme {
    base: Reference,
    served_regions: Vec<String>,
    min_employees: f64,
    stale_after_days: i64,
}

fn invalid(field: &str, message: impl Into<String>) -> RuleError {
    RuleError::new(ErrorCode::InvalidPolicy, message, Some(field))
}

impl RuleModule for Acme {
    fn init(policy: &str) -> Result<Self, RuleError> {
        let p: AcmePolicy = serde_json::from_str(policy)
            .map_err(|e| invalid("policy", format!("Acme policy: {e}")))?;
        if p.served_regions.is_empty() {
            return Err(invalid("served_regions", "Acme serves at least one region"));
        }
        if p.stale_after_days <= 0 {
            return Err(invalid(
                "stale_after_days",
                "must be a positive number of days",
            ));
        }
        let base = Policy::parse(&p.base.to_string()).map_err(|mut e| {
            e.field = Some(match e.field {
                Some(f) => format!("base.{f}"),
                None => "base".to_owned(),
            });
            e
        })?;
        Ok(Acme {
            base: Reference::new(base),
            served_regions: p.served_regions,
            min_employees: p.min_employees,
            stale_after_days: p.stale_after_days,
        })
    }

    fn info(&self) -> ModuleInfo {
        let mut info = self.base.info();
        info.name = "acme-rules".to_owned();
        info.version = env!("CARGO_PKG_VERSION").to_owned();
        info.reads_custom_fields
            .extend([REGION.to_owned(), EMPLOYEES.to_owned()]);
        info.reads_custom_fields.sort();
        info.reads_custom_fields.dedup();
        info
    }

    fn qualify(&self, ctx: &Context, lead: &Lead) -> Result<Qualification, RuleError> {
        let mut q = self.base.qualify(ctx, lead)?;
        if let Some(FieldValue::Text(region)) = lead.custom.get(REGION) {
            let served = self
                .served_regions
                .iter()
                .any(|r| r.eq_ignore_ascii_case(region.trim()));
            if !served {
                q.outcome = Outcome::Disqualified {
                    reason: DisqualifyReason::Canceled,
                };
                q.reasons
                    .push(format!("Acme cannot service region {region}"));
                q.follow_ups.clear();
                return Ok(q);
            }
        }
        match lead.custom.get(EMPLOYEES) {
            Some(FieldValue::Number(n)) if *n < self.min_employees => {
                if q.outcome == Outcome::Qualified {
                    q.outcome = Outcome::Nurture;
                }
                q.reasons.push(format!(
                    "{n} employees is below {}: the web shop serves this company",
                    self.min_employees
                ));
            }
            Some(FieldValue::Number(_)) | None => {}
            Some(_) => {
                return Err(RuleError::new(
                    ErrorCode::InvalidValue,
                    "the head count must be a number",
                    Some(&format!("custom.{EMPLOYEES}")),
                ))
            }
        }
        Ok(q)
    }

    fn convert(
        &self,
        ctx: &Context,
        lead: &Lead,
        candidates: &[Candidate],
    ) -> Result<ConversionPlan, RuleError> {
        // Conversion must agree with Acme's own qualification, not the base one.
        match self.qualify(ctx, lead)?.outcome {
            Outcome::Qualified => self.base.convert(ctx, lead, candidates),
            other => Err(RuleError::new(
                ErrorCode::NotQualified,
                format!("Acme does not convert this lead: {}", outcome_name(&other)),
                None,
            )),
        }
    }

    fn stages(&self, ctx: &Context) -> Result<Vec<Stage>, RuleError> {
        self.base.stages(ctx)
    }

    fn check_transition(
        &self,
        ctx: &Context,
        opportunity: &Opportunity,
        to_stage: &str,
    ) -> Result<TransitionCheck, RuleError> {
        self.base.check_transition(ctx, opportunity, to_stage)
    }

    fn forecast(&self, ctx: &Context, opportunity: &Opportunity) -> Result<Forecast, RuleError> {
        let mut f = self.base.forecast(ctx, opportunity)?;
        let today = ctx.now.date_naive();
        let last = opportunity
            .activities
            .iter()
            .filter(|a| a.completed)
            .filter_map(|a| a.on)
            .max();
        if let Some(last) = last {
            let quiet = (today - last).num_days();
            if quiet > self.stale_after_days {
                f.probability = (f.probability / 2.0 * 10_000.0).round() / 10_000.0;
                if let Some(value) = &mut f.weighted_value {
                    let amount = opportunity.amount.as_ref().map_or(0.0, |m| m.amount);
                    value.amount = (amount * f.probability * 100.0).round() / 100.0;
                }
                f.reasons
                    .push(format!("no activity for {quiet} days: probability halved"));
            }
        }
        Ok(f)
    }
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Qualified => "qualified",
        Outcome::Nurture => "to be nurtured",
        Outcome::NeedsInformation { .. } => "facts are missing",
        Outcome::Disqualified { .. } => "disqualified",
    }
}

guest_rules::export_rule_module!(Acme);
