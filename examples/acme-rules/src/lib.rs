//! Acme Industrial's rule module: a custom module written the way a consultant
//! writes one for a client.
//!
//! Acme sells machinery only in the regions it can service and only to companies
//! large enough to run it; smaller firms are sent to its web shop. Deals whose
//! activities have gone quiet are worth less than their ratings say. Everything
//! else (scoring, conversion, stages) is the reference rules, tuned by the `base`
//! policy: this module overrides qualification, conversion and the forecast, and
//! lets stage transitions default to the reference.
//!
//! Policy:
//!
//! ```json
//! { "base": { "name": "Acme Industrial" },
//!   "served_regions": ["EMEA", "NA"], "min_employees": 50, "stale_after_days": 60 }
//! ```
//!
//! Its own reasons are templates added after the reference's:
//! `acme.region_not_served`, `acme.below_min_employees` and `acme.stale_deal`.
#![deny(missing_docs)]

use guest_rules::contract::*;
use guest_rules::{dates, CustomFieldId, Policy, Reference, RuleModule, TemplateId};
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
    region: CustomFieldId,
    employees: CustomFieldId,
    region_not_served: TemplateId,
    below_min_employees: TemplateId,
    stale_deal: TemplateId,
}

fn invalid(field: &str, message: impl Into<String>) -> RuleError {
    RuleError::new(ErrorCode::InvalidPolicy, message, Some(field))
}

impl RuleModule for Acme {
    fn init(_org_id: &str, policy: &str) -> Result<Self, RuleError> {
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
        let base = Policy::parse(&p.base.to_string()).map_err(|e| e.under("base"))?;
        let mut base = Reference::new(base)?;
        // The reference reads activities for its forecast already; the stale-deal
        // rule needs them too, so say so rather than rely on it.
        base.reads_mut().forecast(OpportunityParts::ACTIVITIES);
        let region = base.reads_mut().custom_field(REGION);
        let employees = base.reads_mut().custom_field(EMPLOYEES);
        let texts = base.templates_mut();
        let region_not_served =
            texts.add("acme.region_not_served", "Acme cannot service region {0}")?;
        let below_min_employees = texts.add(
            "acme.below_min_employees",
            "{0} employees is below {1}: the web shop serves this company",
        )?;
        let stale_deal = texts.add(
            "acme.stale_deal",
            "no activity for {0} days: probability halved",
        )?;
        Ok(Acme {
            base,
            served_regions: p.served_regions,
            min_employees: p.min_employees,
            stale_after_days: p.stale_after_days,
            region,
            employees,
            region_not_served,
            below_min_employees,
            stale_deal,
        })
    }

    fn base(&self) -> &Reference {
        &self.base
    }

    fn info(&self) -> ModuleInfo {
        ModuleInfo {
            name: "acme-rules".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            ..self.base.info()
        }
    }

    fn qualify(&self, ctx: &Context, lead: &Lead) -> Result<Qualification, RuleError> {
        let mut q = self.base.qualify(ctx, lead)?;
        if let Some(FieldValue::Text(region)) = self.region.find(&lead.custom) {
            let served = self
                .served_regions
                .iter()
                .any(|r| r.eq_ignore_ascii_case(region.trim()));
            if !served {
                q.outcome = Outcome::Disqualified(DisqualifyReason::Canceled);
                let region = Arg::Value(self.region.field_ref());
                q.reasons.push(self.region_not_served.reason(vec![region]));
                q.follow_ups.clear();
                return Ok(q);
            }
        }
        match self.employees.find(&lead.custom) {
            Some(FieldValue::Number(n)) if *n < self.min_employees => {
                if q.outcome == Outcome::Qualified {
                    q.outcome = Outcome::Nurture;
                }
                let args = vec![Arg::Number(*n), Arg::Number(self.min_employees)];
                q.reasons.push(self.below_min_employees.reason(args));
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

    fn forecast(&self, ctx: &Context, opportunity: &Opportunity) -> Result<WinForecast, RuleError> {
        let mut f = self.base.forecast(ctx, opportunity)?;
        // A closed deal's probability is settled; only open ones go stale.
        if opportunity.status != OpportunityStatus::Open {
            return Ok(f);
        }
        let today = dates::today(ctx)?;
        let last = opportunity
            .activities
            .iter()
            .filter(|a| a.completed)
            .filter_map(|a| a.on)
            .max();
        if let Some(last) = last {
            let quiet = i64::from(today) - i64::from(last);
            if quiet > self.stale_after_days {
                f.probability = (f.probability / 2.0 * 10_000.0).round() / 10_000.0;
                if let Some(value) = &mut f.weighted_value {
                    let amount = opportunity.amount.map_or(0.0, |m| m.amount);
                    value.amount = (amount * f.probability * 100.0).round() / 100.0;
                }
                f.reasons
                    .push(self.stale_deal.reason(vec![Arg::Integer(quiet)]));
            }
        }
        Ok(f)
    }
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Qualified => "qualified",
        Outcome::Nurture => "to be nurtured",
        Outcome::NeedsInformation(_) => "facts are missing",
        Outcome::Disqualified(_) => "disqualified",
    }
}

guest_rules::export_rule_module!(Acme);

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = include_str!("../../acme/policy.json");

    fn acme() -> Acme {
        Acme::init("acme-industrial", POLICY).unwrap()
    }

    fn ctx() -> Context {
        // 2026-11-25T09:00:00Z
        Context {
            now: 1_795_597_200,
            user: None,
            team: None,
        }
    }

    /// A deal whose last activity was 116 days before `ctx().now` (stale after 60).
    fn stale_deal(status: OpportunityStatus) -> Opportunity {
        let today = dates::today(&ctx()).unwrap();
        Opportunity {
            id: None,
            name: None,
            stage: 1,
            status,
            amount: None,
            close_date: None,
            steps_done: Vec::new(),
            activities: vec![Activity {
                kind: ActivityKind::Call,
                stage: 1,
                rating: 4,
                completed: true,
                on: Some(today - 116),
            }],
            custom: Vec::new(),
        }
    }

    #[test]
    fn acme_adds_its_reads_and_texts_after_the_reference() {
        let acme = acme();
        let info = acme.info();
        assert_eq!(info.name, "acme-rules");
        assert_eq!(info.reads.custom_fields, [REGION, EMPLOYEES]);
        let reference = acme.base().templates().len();
        let own: Vec<_> = info.templates[reference - 3..]
            .iter()
            .map(|t| t.code.as_str())
            .collect();
        assert_eq!(
            own,
            [
                "acme.region_not_served",
                "acme.below_min_employees",
                "acme.stale_deal"
            ]
        );
    }

    #[test]
    fn only_open_deals_go_stale() {
        let acme = acme();
        let open = acme
            .forecast(&ctx(), &stale_deal(OpportunityStatus::Open))
            .unwrap();
        let last = open.reasons.last().unwrap();
        assert_eq!(last.template, acme.stale_deal.index());
        assert_eq!(last.args, [Arg::Integer(116)]);
        let won = acme
            .forecast(&ctx(), &stale_deal(OpportunityStatus::Won))
            .unwrap();
        assert_eq!(won.probability, 1.0);
        assert!(won
            .reasons
            .iter()
            .all(|r| r.template != acme.stale_deal.index()));
    }

    #[test]
    fn a_head_count_that_is_not_a_number_is_refused() {
        let lead = Lead {
            present: LeadTexts::ID | LeadTexts::EMAIL,
            id: None,
            company: None,
            contact_name: None,
            email: None,
            topic: None,
            source: None,
            engagement: Engagement::None,
            budget: None,
            budget_status: None,
            decision_maker_known: None,
            need: None,
            timeframe: None,
            estimated_value: None,
            estimated_close: None,
            existing_customer: false,
            custom: vec![CustomValue {
                field: acme().employees.index(),
                value: FieldValue::Text("many".into()),
            }],
        };
        let err = acme().qualify(&ctx(), &lead).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidValue);
        assert_eq!(err.field.as_deref(), Some("custom.NumberOfEmployees"));
    }
}
