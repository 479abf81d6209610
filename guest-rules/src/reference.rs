//! The reference rules: BANT qualification scored by source and engagement,
//! duplicate-aware conversion, stage gates and an activity-weighted forecast.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use crm_rules_model::{
    Candidate, Context, ConversionPlan, DisqualifyReason, ErrorCode, FieldValue, FollowUp,
    Forecast, Lead, ModuleInfo, Money, MoveKind, Need, Opportunity, Outcome, Qualification, Rating,
    RecordAction, RecordKind, RuleError, Stage, StageScore, Timeframe, TransitionCheck,
};

use crate::policy::{Criterion, CustomRule, Policy};
use crate::RuleModule;

/// The reference rule module: everything is decided by its [`Policy`].
#[derive(Debug, Clone)]
pub struct Reference {
    policy: Policy,
}

impl Reference {
    /// The rules of an already parsed policy.
    pub fn new(policy: Policy) -> Self {
        Reference { policy }
    }

    /// The policy these rules follow.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

/// `days` business days after `from` (Saturdays, Sundays and `holidays` skipped).
pub fn add_business_days(
    from: NaiveDate,
    days: u32,
    holidays: &std::collections::BTreeSet<NaiveDate>,
) -> NaiveDate {
    let mut date = from;
    let mut left = days;
    while left > 0 {
        date = date.succ_opt().unwrap_or(date);
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        if !weekend && !holidays.contains(&date) {
            left -= 1;
        }
    }
    date
}

struct Score {
    points: u32,
    reasons: Vec<String>,
}

impl Reference {
    fn score(&self, lead: &Lead) -> Score {
        let q = &self.policy.qualification;
        let mut total: i64 = 0;
        let mut reasons = Vec::new();
        let mut add = |points: u32, why: String| {
            if points > 0 {
                total += i64::from(points);
                reasons.push(format!("{why} (+{points})"));
            }
        };
        if let Some(source) = lead.source {
            add(
                q.source_points.get(&source).copied().unwrap_or(0),
                format!("source {source}"),
            );
        }
        add(
            q.engagement_points
                .get(&lead.engagement)
                .copied()
                .unwrap_or(0),
            format!("engagement {}", lead.engagement),
        );
        match (lead.budget_status, &lead.budget) {
            (Some(status), _) => add(
                q.budget_points.get(&status).copied().unwrap_or(0),
                format!("budget {status}"),
            ),
            (None, Some(_)) => add(q.budget_amount_points, "budget amount known".to_owned()),
            (None, None) => {}
        }
        if lead.decision_maker_known == Some(true) {
            add(q.authority_points, "decision maker known".to_owned());
        }
        if let Some(need) = lead.need {
            add(
                q.need_points.get(&need).copied().unwrap_or(0),
                format!("need {need}"),
            );
        }
        if let Some(timeframe) = lead.timeframe {
            add(
                q.timeframe_points.get(&timeframe).copied().unwrap_or(0),
                format!("timeframe {timeframe}"),
            );
        }
        if lead.existing_customer {
            add(q.existing_customer_points, "existing customer".to_owned());
        }
        for rule in &q.custom_rules {
            if let Some(value) = lead.custom.get(&rule.field) {
                if custom_rule_matches(rule, value) {
                    total += i64::from(rule.points);
                    let why = rule
                        .reason
                        .clone()
                        .unwrap_or_else(|| format!("custom field {}", rule.field));
                    reasons.push(format!("{why} ({:+})", rule.points));
                }
            }
        }
        Score {
            points: total.clamp(0, 100) as u32,
            reasons,
        }
    }

    fn criterion_known(lead: &Lead, criterion: Criterion) -> bool {
        match criterion {
            Criterion::Budget => lead.budget_status.is_some() || lead.budget.is_some(),
            Criterion::Authority => lead.decision_maker_known == Some(true),
            Criterion::Need => lead.need.is_some(),
            Criterion::Timeframe => {
                lead.timeframe.is_some() && lead.timeframe != Some(Timeframe::Unknown)
            }
        }
    }

    fn rating(&self, score: u32) -> Rating {
        let t = &self.policy.qualification.ratings;
        if score >= t.hot {
            Rating::Hot
        } else if score >= t.warm {
            Rating::Warm
        } else {
            Rating::Cold
        }
    }

    fn follow_up(&self, ctx: &Context, lead: &Lead, outcome: &Outcome, rating: Rating) -> FollowUp {
        let f = &self.policy.qualification.follow_up;
        let days = f.days.get(&rating).copied().unwrap_or(5);
        let kind = f
            .kind
            .get(&rating)
            .copied()
            .unwrap_or(crm_rules_model::FollowUpKind::Call);
        let who = lead
            .contact_name
            .as_deref()
            .or(lead.company.as_deref())
            .unwrap_or(&lead.id);
        let subject = match outcome {
            Outcome::Qualified => format!("{kind} {who}: agree next steps"),
            Outcome::NeedsInformation { missing } => {
                format!("{kind} {who}: confirm {}", missing.join(", "))
            }
            _ => format!("{kind} {who}: keep in touch"),
        };
        FollowUp {
            kind,
            subject,
            due: add_business_days(ctx.now.date_naive(), days, &f.holidays),
        }
    }

    fn estimated_close(&self, ctx: &Context, lead: &Lead) -> NaiveDate {
        if let Some(date) = lead.estimated_close {
            return date;
        }
        let today = ctx.now.date_naive();
        let quarter_end = |quarters_ahead: u32| {
            let q0 = today.month0() / 3 + quarters_ahead;
            let (year, q) = (today.year() + (q0 / 4) as i32, q0 % 4);
            // The day before the first day of the following quarter.
            let (ny, nm) = if q == 3 {
                (year + 1, 1)
            } else {
                (year, q * 3 + 4)
            };
            NaiveDate::from_ymd_opt(ny, nm, 1)
                .and_then(|d| d.pred_opt())
                .unwrap_or(today)
        };
        let days_ahead = |days: u32| {
            today
                .checked_add_days(Days::new(u64::from(days)))
                .unwrap_or(today)
        };
        match lead.timeframe {
            Some(Timeframe::Immediate) => days_ahead(30),
            Some(Timeframe::ThisQuarter) => quarter_end(0),
            Some(Timeframe::NextQuarter) => quarter_end(1),
            Some(Timeframe::ThisYear) => {
                NaiveDate::from_ymd_opt(today.year(), 12, 31).unwrap_or(today)
            }
            Some(Timeframe::Unknown) | None => {
                days_ahead(self.policy.conversion.default_close_days)
            }
        }
    }

    fn stage(&self, name: &str, field: &str) -> Result<usize, RuleError> {
        self.policy.stage_index(name).ok_or_else(|| {
            let known: Vec<&str> = self.policy.stages.iter().map(|s| s.name.as_str()).collect();
            RuleError::new(
                ErrorCode::UnknownStage,
                format!(
                    "stage `{name}` is not one of this org's stages ({})",
                    known.join(", ")
                ),
                Some(field),
            )
        })
    }
}

fn custom_rule_matches(rule: &CustomRule, value: &FieldValue) -> bool {
    if let Some(expected) = &rule.equals {
        let equal = match (expected, value) {
            (serde_json::Value::String(e), FieldValue::Text(v)) => {
                e.trim().eq_ignore_ascii_case(v.trim())
            }
            (serde_json::Value::Number(e), FieldValue::Number(v)) => e.as_f64() == Some(*v),
            (serde_json::Value::Bool(e), FieldValue::Flag(v)) => e == v,
            _ => false,
        };
        if !equal {
            return false;
        }
    }
    if rule.at_least.is_some() || rule.at_most.is_some() {
        let FieldValue::Number(n) = value else {
            return false;
        };
        if rule.at_least.is_some_and(|min| *n < min) || rule.at_most.is_some_and(|max| *n > max) {
            return false;
        }
    }
    true
}

fn normalise(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl RuleModule for Reference {
    fn init(policy: &str) -> Result<Self, RuleError> {
        Ok(Reference::new(Policy::parse(policy)?))
    }

    fn info(&self) -> ModuleInfo {
        ModuleInfo {
            name: format!("reference ({})", self.policy.name),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            reads_custom_fields: self.policy.custom_fields_read(),
        }
    }

    fn qualify(&self, ctx: &Context, lead: &Lead) -> Result<Qualification, RuleError> {
        if lead.id.trim().is_empty() {
            return Err(RuleError::new(
                ErrorCode::MissingField,
                "the lead has no id",
                Some("id"),
            ));
        }
        let q = &self.policy.qualification;
        let Score {
            points,
            mut reasons,
        } = self.score(lead);
        let missing: Vec<String> = q
            .required
            .iter()
            .filter(|c| !Self::criterion_known(lead, **c))
            .map(|c| c.field().to_owned())
            .collect();
        let contactable = lead.email.as_deref().is_some_and(|e| !e.trim().is_empty())
            || lead
                .contact_name
                .as_deref()
                .is_some_and(|n| !n.trim().is_empty());

        let outcome = if lead.need == Some(Need::NoNeed) {
            reasons.push("the prospect has no need".to_owned());
            Outcome::Disqualified {
                reason: DisqualifyReason::NoLongerInterested,
            }
        } else if q.disqualify_uncontactable && !contactable {
            reasons.push("neither an email nor a contact name is known".to_owned());
            Outcome::Disqualified {
                reason: DisqualifyReason::CannotContact,
            }
        } else if points < q.disqualify_below {
            reasons.push(format!(
                "score {points} is below the disqualification line {}",
                q.disqualify_below
            ));
            Outcome::Disqualified {
                reason: DisqualifyReason::Lost,
            }
        } else if !missing.is_empty() {
            reasons.push(format!("not yet known: {}", missing.join(", ")));
            Outcome::NeedsInformation { missing }
        } else if points >= q.qualify_at {
            reasons.push(format!(
                "score {points} reaches the qualification line {}",
                q.qualify_at
            ));
            Outcome::Qualified
        } else {
            reasons.push(format!(
                "score {points} is below the qualification line {}: nurture",
                q.qualify_at
            ));
            Outcome::Nurture
        };
        let rating = self.rating(points);
        let follow_ups = match outcome {
            Outcome::Disqualified { .. } => Vec::new(),
            _ => vec![self.follow_up(ctx, lead, &outcome, rating)],
        };
        Ok(Qualification {
            outcome,
            rating,
            score: points,
            reasons,
            follow_ups,
        })
    }

    fn convert(
        &self,
        ctx: &Context,
        lead: &Lead,
        candidates: &[Candidate],
    ) -> Result<ConversionPlan, RuleError> {
        let c = &self.policy.conversion;
        let qualification = self.qualify(ctx, lead)?;
        let mut reasons = Vec::new();

        let account_match = lead.company.as_deref().and_then(|company| {
            let company = normalise(company);
            let mut matches: Vec<&Candidate> = candidates
                .iter()
                .filter(|k| k.kind == RecordKind::Account && normalise(&k.name) == company)
                .collect();
            // Prefer an account that already buys, then the lowest id, so the
            // choice does not depend on the order the host found them in.
            matches.sort_by(|a, b| b.active.cmp(&a.active).then(a.id.cmp(&b.id)));
            matches.first().copied()
        });
        let existing_customer = lead.existing_customer || account_match.is_some_and(|a| a.active);
        let skips_lead = existing_customer && c.existing_customer_skips_lead;

        match (&qualification.outcome, skips_lead) {
            (Outcome::Qualified, _) => reasons.push("the lead is qualified".to_owned()),
            (Outcome::Disqualified { reason }, _) => {
                return Err(RuleError::new(
                    ErrorCode::NotQualified,
                    format!("the lead is disqualified ({reason}) and cannot be converted"),
                    None,
                ))
            }
            (_, true) => {
                reasons.push("an existing customer goes straight to an opportunity".to_owned())
            }
            (Outcome::NeedsInformation { missing }, false) => {
                return Err(RuleError::new(
                    ErrorCode::NotQualified,
                    format!(
                        "the lead is not qualified: not yet known: {}",
                        missing.join(", ")
                    ),
                    missing.first().map(String::as_str),
                ))
            }
            (Outcome::Nurture, false) => {
                return Err(RuleError::new(
                    ErrorCode::NotQualified,
                    format!(
                        "the lead is not qualified: score {} is below {}",
                        qualification.score, self.policy.qualification.qualify_at
                    ),
                    None,
                ))
            }
        }

        let account = match (account_match, &lead.company) {
            (Some(found), _) => {
                reasons.push(format!("account `{}` already exists", found.name));
                RecordAction::Link(found.id.clone())
            }
            (None, Some(company)) if !company.trim().is_empty() => RecordAction::Create,
            _ => RecordAction::Skip,
        };
        let account_id = match &account {
            RecordAction::Link(id) => Some(id.as_str()),
            _ => None,
        };

        let contact_match = lead.email.as_deref().and_then(|email| {
            let email = email.trim().to_lowercase();
            let mut matches: Vec<&Candidate> = candidates
                .iter()
                .filter(|k| {
                    k.kind == RecordKind::Contact
                        && k.email.as_deref().map(|e| e.trim().to_lowercase())
                            == Some(email.clone())
                })
                .collect();
            matches.sort_by(|a, b| {
                let same = |k: &Candidate| k.account_id.as_deref() == account_id;
                same(b).cmp(&same(a)).then(a.id.cmp(&b.id))
            });
            matches.first().copied()
        });
        let contact = match contact_match {
            Some(found) => {
                reasons.push(format!("contact `{}` already exists", found.name));
                RecordAction::Link(found.id.clone())
            }
            None if lead.contact_name.is_some() || lead.email.is_some() => RecordAction::Create,
            None => RecordAction::Skip,
        };

        let wanted_name = lead
            .topic
            .clone()
            .or_else(|| lead.company.as_ref().map(|c| format!("{c} opportunity")));
        let open_match = wanted_name.as_deref().and_then(|name| {
            let name = normalise(name);
            candidates
                .iter()
                .filter(|k| {
                    k.kind == RecordKind::Opportunity
                        && k.active
                        && normalise(&k.name) == name
                        && (account_id.is_none() || k.account_id.as_deref() == account_id)
                })
                .min_by(|a, b| a.id.cmp(&b.id))
        });
        let (opportunity, opportunity_name) = if !c.create_opportunity {
            reasons.push("this org creates no opportunity on conversion".to_owned());
            (RecordAction::Skip, None)
        } else if let Some(found) = open_match {
            reasons.push(format!(
                "open opportunity `{}` already exists: linking, not duplicating",
                found.name
            ));
            (
                RecordAction::Link(found.id.clone()),
                Some(found.name.clone()),
            )
        } else {
            (RecordAction::Create, wanted_name)
        };

        let second = self
            .policy
            .stages
            .get(1)
            .unwrap_or(&self.policy.stages[0])
            .name
            .clone();
        let initial = c.initial_stage.clone().unwrap_or(second);
        let initial_stage = if skips_lead {
            c.customer_initial_stage.clone().unwrap_or(initial)
        } else {
            initial
        };
        let estimated_value = lead.estimated_value.clone().or_else(|| lead.budget.clone());
        Ok(ConversionPlan {
            account,
            contact,
            opportunity,
            opportunity_name,
            initial_stage,
            estimated_value,
            estimated_close: Some(self.estimated_close(ctx, lead)),
            skipped_lead_stage: skips_lead,
            reasons,
        })
    }

    fn stages(&self, _ctx: &Context) -> Result<Vec<Stage>, RuleError> {
        Ok(self.policy.stages.clone())
    }

    fn check_transition(
        &self,
        _ctx: &Context,
        opportunity: &Opportunity,
        to_stage: &str,
    ) -> Result<TransitionCheck, RuleError> {
        let t = &self.policy.transitions;
        let from = self.stage(&opportunity.stage, "stage")?;
        let to = self.stage(to_stage, "to")?;
        let kind = match to.cmp(&from) {
            std::cmp::Ordering::Equal => MoveKind::Stay,
            std::cmp::Ordering::Less => MoveKind::Back,
            std::cmp::Ordering::Greater if to == from + 1 => MoveKind::Forward,
            std::cmp::Ordering::Greater => MoveKind::Skip,
        };
        let mut reasons = Vec::new();
        let mut missing = Vec::new();
        let mut allowed = true;
        let (from_name, to_name) = (&self.policy.stages[from].name, &self.policy.stages[to].name);
        match kind {
            MoveKind::Stay => reasons.push(format!("already in {from_name}")),
            MoveKind::Back if !t.allow_back => {
                allowed = false;
                reasons.push(format!(
                    "this org does not move back from {from_name} to {to_name}"
                ));
            }
            MoveKind::Back => reasons.push(format!("back from {from_name} to {to_name}")),
            MoveKind::Skip if !t.allow_skip => {
                allowed = false;
                reasons.push(format!(
                    "this org does not skip stages: {to_name} is not next after {from_name}"
                ));
            }
            MoveKind::Forward | MoveKind::Skip => {
                let gated = if kind == MoveKind::Skip && !t.skipped_stages_required {
                    from..from + 1
                } else {
                    from..to
                };
                let is_filled = |field: &str| {
                    opportunity.filled.iter().any(|f| f == field)
                        || opportunity
                            .custom
                            .get(field)
                            .is_some_and(FieldValue::is_filled)
                };
                for stage in &self.policy.stages[gated] {
                    for step in stage.steps.iter().filter(|s| s.required) {
                        if !is_filled(&step.field) {
                            missing.push(step.field.clone());
                        }
                    }
                }
                if missing.is_empty() {
                    reasons.push(format!("every required step before {to_name} is done"));
                } else {
                    allowed = false;
                    reasons.push(format!(
                        "required steps not done before {to_name}: {}",
                        missing.join(", ")
                    ));
                }
            }
        }
        Ok(TransitionCheck {
            allowed,
            kind,
            missing,
            reasons,
        })
    }

    fn forecast(&self, _ctx: &Context, opportunity: &Opportunity) -> Result<Forecast, RuleError> {
        self.stage(&opportunity.stage, "stage")?;
        let stages = &self.policy.stages;
        let mut sums = vec![(0u32, 0.0f64); stages.len()];
        for (i, activity) in opportunity.activities.iter().enumerate() {
            let at = self.stage(&activity.stage, &format!("activities[{i}].stage"))?;
            if !(1..=5).contains(&activity.rating) {
                return Err(RuleError::new(
                    ErrorCode::InvalidValue,
                    format!("rating {} is outside 1..5", activity.rating),
                    Some(&format!("activities[{i}].rating")),
                ));
            }
            if activity.completed {
                sums[at].0 += 1;
                sums[at].1 += f64::from(activity.rating - 1) / 4.0;
            }
        }
        let total_weight: f64 = stages.iter().map(|s| self.policy.weight(&s.name)).sum();
        let mut probability = 0.0;
        let mut scores = Vec::with_capacity(stages.len());
        let mut reasons = Vec::new();
        for (stage, (count, sum)) in stages.iter().zip(sums) {
            let weight = self.policy.weight(&stage.name);
            let mean = if count == 0 {
                0.0
            } else {
                sum / f64::from(count)
            };
            probability += weight * mean;
            if count > 0 {
                reasons.push(format!(
                    "{}: {count} {} rated {:.2} on average, weight {weight}",
                    stage.name,
                    if count == 1 { "activity" } else { "activities" },
                    mean
                ));
            }
            scores.push(StageScore {
                stage: stage.name.clone(),
                weight,
                activities: count,
                mean_rating: round(mean, 4),
            });
        }
        if total_weight > 0.0 {
            probability /= total_weight;
        }
        let probability = round(probability.clamp(0.0, 1.0), 4);
        if reasons.is_empty() {
            reasons.push("no completed activities yet".to_owned());
        }
        let weighted_value = opportunity.amount.as_ref().map(|m| Money {
            amount: round(m.amount * probability, 2),
            currency: m.currency.clone(),
        });
        Ok(Forecast {
            probability,
            weighted_value,
            stages: scores,
            reasons,
        })
    }
}

fn round(value: f64, places: i32) -> f64 {
    let factor = 10f64.powi(places);
    (value * factor).round() / factor
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_rules_model::Engagement;
    use std::collections::BTreeSet;

    fn ctx() -> Context {
        Context {
            org_id: "t".into(),
            now: "2026-11-25T10:00:00Z".parse().unwrap(),
            user: None,
            team: None,
        }
    }

    #[test]
    fn business_days_skip_weekends_and_holidays() {
        let fri = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let mon = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(add_business_days(fri, 1, &BTreeSet::new()), mon);
        let holidays: BTreeSet<_> = [mon].into();
        assert_eq!(
            add_business_days(fri, 1, &holidays),
            mon.succ_opt().unwrap()
        );
        assert_eq!(add_business_days(fri, 0, &holidays), fri);
    }

    #[test]
    fn qualification_follows_the_required_criteria() {
        let rules = Reference::init(r#"{"name": "strict"}"#).unwrap();
        let lead = Lead {
            id: "L1".into(),
            email: Some("a@b.c".into()),
            need: Some(Need::MustHave),
            engagement: Engagement::Conversation,
            ..Lead::default()
        };
        let q = rules.qualify(&ctx(), &lead).unwrap();
        assert_eq!(
            q.outcome,
            Outcome::NeedsInformation {
                missing: vec![
                    "budget_status".into(),
                    "decision_maker_known".into(),
                    "timeframe".into()
                ]
            }
        );
        let loose = Reference::init(
            r#"{"name": "loose", "qualification": {"required": [], "qualify_at": 25}}"#,
        )
        .unwrap();
        assert_eq!(
            loose.qualify(&ctx(), &lead).unwrap().outcome,
            Outcome::Qualified
        );
    }

    #[test]
    fn quarter_end_rolls_over_the_year() {
        let rules = Reference::init(r#"{"name": "x"}"#).unwrap();
        let lead = Lead {
            timeframe: Some(Timeframe::NextQuarter),
            ..Lead::default()
        };
        assert_eq!(
            rules.estimated_close(&ctx(), &lead),
            NaiveDate::from_ymd_opt(2027, 3, 31).unwrap()
        );
    }
}
