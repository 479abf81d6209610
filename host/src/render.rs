//! Answers into text, when something asks for text: JSON output, fixtures, the audit
//! log, native actions. An answer of the latest contract refers to the org's facts
//! (stage indices, template indices with arguments, candidate indices); rendering
//! resolves them against the facts the module declared and the record it decided,
//! into the canonical answer types whose JSON is the decision users see.
//!
//! Rendering rules, which module authors write their templates for: a reason is its
//! template's text, then ` (+N)` or ` (-N)` when it carries points; `{N}` is the
//! N-th argument and `{N:.P}` a number with P decimals; an `integer` or `number`
//! argument is written the shortest way (`3`, `0.5`); `stage` writes the stage's
//! name; `field` the field's name (lead fields in snake case, `budget_status`);
//! `value` the decided record's value of the field; `fields` names joined with
//! ", "; `candidate` the candidate's name.

use std::borrow::Cow;
use std::fmt::Write as _;

use crm_rules_model as m;

use crate::contract::{latest as l, OrgFacts};
use crate::decision::{Answer, InputRef};

/// What the host writes instead of a personal value it masks.
pub const MASK: &str = "[masked]";

/// A decision rendered into the canonical answer types.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Rendered {
    /// A qualification.
    Qualify(m::Qualification),
    /// A conversion plan.
    Convert(m::ConversionPlan),
    /// A checked stage move.
    Transition(m::TransitionCheck),
    /// A forecast.
    Forecast(m::Forecast),
}

/// Renders the answers of one org for one record.
pub struct Renderer<'a> {
    facts: &'a OrgFacts,
    input: InputRef<'a>,
    /// Fields whose values are personal: written as [`MASK`] when a template quotes
    /// them.
    personal: Option<&'a dyn Fn(&str) -> bool>,
}

/// The name of a lead field of the contract, as JSON writes it.
pub fn lead_field_name(field: l::LeadField) -> &'static str {
    use l::LeadField as L;
    match field {
        L::Id => "id",
        L::Company => "company",
        L::ContactName => "contact_name",
        L::Email => "email",
        L::Topic => "topic",
        L::Source => "source",
        L::Engagement => "engagement",
        L::Budget => "budget",
        L::BudgetStatus => "budget_status",
        L::DecisionMakerKnown => "decision_maker_known",
        L::Need => "need",
        L::Timeframe => "timeframe",
        L::EstimatedValue => "estimated_value",
        L::EstimatedClose => "estimated_close",
        L::ExistingCustomer => "existing_customer",
    }
}

/// An ISO 4217 code as text.
pub fn currency_code(c: l::Currency) -> String {
    [c.a, c.b, c.c].iter().map(|b| char::from(*b)).collect()
}

fn money(v: &l::Money) -> m::Money {
    m::Money {
        amount: v.amount,
        currency: currency_code(v.currency),
    }
}

fn date(days: l::Date) -> m::chrono::NaiveDate {
    // Dates out of range were refused when the answer was checked.
    m::days_to_date(days).unwrap_or_default()
}

fn number(out: &mut String, n: f64, decimals: Option<usize>) {
    let _ = match decimals {
        Some(d) => write!(out, "{n:.d$}"),
        None => write!(out, "{n}"),
    };
}

fn field_value(out: &mut String, value: &m::FieldValue) {
    match value {
        m::FieldValue::Text(text) => out.push_str(text),
        m::FieldValue::Number(n) => number(out, *n, None),
        m::FieldValue::Flag(b) => {
            let _ = write!(out, "{b}");
        }
        m::FieldValue::Day { date } => {
            let _ = write!(out, "{date}");
        }
    }
}

impl<'a> Renderer<'a> {
    /// A renderer for answers about `input`.
    pub fn new(facts: &'a OrgFacts, input: InputRef<'a>) -> Self {
        Renderer {
            facts,
            input,
            personal: None,
        }
    }

    /// Masks the values of the fields `personal` names (by canonical or CRM name)
    /// wherever a template quotes them.
    pub fn masking(mut self, personal: &'a dyn Fn(&str) -> bool) -> Self {
        self.personal = Some(personal);
        self
    }

    fn field_name(&self, field: &'a l::FieldRef) -> &'a str {
        match field {
            l::FieldRef::Lead(f) => lead_field_name(*f),
            l::FieldRef::Custom(i) => self
                .facts
                .custom_fields
                .get(*i as usize)
                .map_or("", String::as_str),
            l::FieldRef::Step(i) => self
                .facts
                .steps
                .get(*i as usize)
                .map_or("", |s| s.field.as_str()),
            l::FieldRef::Named(name) => name,
        }
    }

    fn custom(&self) -> Option<&'a m::CustomFields> {
        match self.input {
            InputRef::Qualify(lead) | InputRef::Convert { lead, .. } => Some(&lead.custom),
            InputRef::Transition { opportunity, .. } | InputRef::Forecast(opportunity) => {
                Some(&opportunity.custom)
            }
        }
    }

    fn lead(&self) -> Option<&'a m::Lead> {
        match self.input {
            InputRef::Qualify(lead) | InputRef::Convert { lead, .. } => Some(lead),
            _ => None,
        }
    }

    fn value(&self, out: &mut String, field: &'a l::FieldRef) {
        let name = self.field_name(field);
        if self.personal.is_some_and(|personal| personal(name)) {
            out.push_str(MASK);
            return;
        }
        let l::FieldRef::Lead(f) = field else {
            if let Some(value) = self.custom().and_then(|c| c.get(name)) {
                field_value(out, value);
            }
            return;
        };
        let Some(lead) = self.lead() else { return };
        use l::LeadField as L;
        let text = |t: &Option<String>| t.as_deref().unwrap_or_default().to_owned();
        let _ = match f {
            L::Id => write!(out, "{}", lead.id),
            L::Company => write!(out, "{}", text(&lead.company)),
            L::ContactName => write!(out, "{}", text(&lead.contact_name)),
            L::Email => write!(out, "{}", text(&lead.email)),
            L::Topic => write!(out, "{}", text(&lead.topic)),
            L::Source => write!(out, "{}", lead.source.map_or("", |s| s.as_str())),
            L::Engagement => write!(out, "{}", lead.engagement),
            L::Budget => match &lead.budget {
                Some(b) => write!(out, "{} {}", b.amount, b.currency),
                None => Ok(()),
            },
            L::BudgetStatus => write!(out, "{}", lead.budget_status.map_or("", |s| s.as_str())),
            L::DecisionMakerKnown => match lead.decision_maker_known {
                Some(known) => write!(out, "{known}"),
                None => Ok(()),
            },
            L::Need => write!(out, "{}", lead.need.map_or("", |s| s.as_str())),
            L::Timeframe => write!(out, "{}", lead.timeframe.map_or("", |s| s.as_str())),
            L::EstimatedValue => match &lead.estimated_value {
                Some(v) => write!(out, "{} {}", v.amount, v.currency),
                None => Ok(()),
            },
            L::EstimatedClose => match lead.estimated_close {
                Some(d) => write!(out, "{d}"),
                None => Ok(()),
            },
            L::ExistingCustomer => write!(out, "{}", lead.existing_customer),
        };
    }

    fn arg(&self, out: &mut String, arg: &'a l::Arg, decimals: Option<usize>) {
        match arg {
            l::Arg::Integer(n) => {
                let _ = write!(out, "{n}");
            }
            l::Arg::Number(n) => number(out, *n, decimals),
            l::Arg::Text(text) => out.push_str(text),
            l::Arg::Stage(i) => {
                out.push_str(self.facts.stages.get(*i as usize).map_or("", |s| &s.name))
            }
            l::Arg::Field(f) => out.push_str(self.field_name(f)),
            l::Arg::Value(f) => self.value(out, f),
            l::Arg::Fields(fields) => {
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(self.field_name(f));
                }
            }
            l::Arg::Candidate(i) => out.push_str(
                self.input
                    .candidates()
                    .get(*i as usize)
                    .map_or("", |k| &k.name),
            ),
        }
    }

    fn template(&self, out: &mut String, template: u32, args: &'a [l::Arg]) {
        if let Some(t) = self.facts.templates.get(template as usize) {
            t.render(out, |i, decimals, out| {
                if let Some(arg) = args.get(i) {
                    self.arg(out, arg, decimals);
                }
            });
        }
    }

    /// A reason as people read it.
    pub fn reason(&self, reason: &'a l::Reason) -> String {
        let mut out = String::new();
        self.template(&mut out, reason.template, &reason.args);
        if let Some(points) = reason.points {
            let _ = write!(out, " ({points:+})");
        }
        out
    }

    /// A message (a follow-up's subject, an opportunity's name) as text.
    pub fn message(&self, message: &'a l::Message) -> String {
        let mut out = String::new();
        self.template(&mut out, message.template, &message.args);
        out
    }

    fn reasons(&self, reasons: &'a [l::Reason]) -> Vec<String> {
        reasons.iter().map(|r| self.reason(r)).collect()
    }

    fn fields(&self, fields: &'a [l::FieldRef]) -> Vec<String> {
        fields
            .iter()
            .map(|f| self.field_name(f).to_owned())
            .collect()
    }

    fn stage(&self, index: u32) -> String {
        self.facts
            .stages
            .get(index as usize)
            .map(|s| s.name.clone())
            .unwrap_or_default()
    }

    fn action(&self, action: &l::RecordAction) -> m::RecordAction {
        match action {
            l::RecordAction::Create => m::RecordAction::Create,
            l::RecordAction::Skip => m::RecordAction::Skip,
            l::RecordAction::Link(i) => m::RecordAction::Link(
                self.input
                    .candidates()
                    .get(*i as usize)
                    .map(|k| k.id.clone())
                    .unwrap_or_default(),
            ),
        }
    }

    /// A qualification, rendered.
    pub fn qualification(&self, q: &'a l::Qualification) -> m::Qualification {
        m::Qualification {
            outcome: match &q.outcome {
                l::Outcome::Qualified => m::Outcome::Qualified,
                l::Outcome::Nurture => m::Outcome::Nurture,
                l::Outcome::Disqualified(reason) => m::Outcome::Disqualified {
                    reason: match reason {
                        l::DisqualifyReason::Lost => m::DisqualifyReason::Lost,
                        l::DisqualifyReason::CannotContact => m::DisqualifyReason::CannotContact,
                        l::DisqualifyReason::NoLongerInterested => {
                            m::DisqualifyReason::NoLongerInterested
                        }
                        l::DisqualifyReason::Canceled => m::DisqualifyReason::Canceled,
                    },
                },
                l::Outcome::NeedsInformation(missing) => m::Outcome::NeedsInformation {
                    missing: self.fields(missing),
                },
            },
            rating: rating(q.rating),
            score: q.score,
            reasons: self.reasons(&q.reasons),
            follow_ups: q
                .follow_ups
                .iter()
                .map(|f| m::FollowUp {
                    kind: match f.kind {
                        l::FollowUpKind::Call => m::FollowUpKind::Call,
                        l::FollowUpKind::Email => m::FollowUpKind::Email,
                        l::FollowUpKind::Meeting => m::FollowUpKind::Meeting,
                        l::FollowUpKind::Task => m::FollowUpKind::Task,
                    },
                    subject: self.message(&f.subject),
                    due: date(f.due),
                })
                .collect(),
        }
    }

    /// A conversion plan, rendered (links name the candidates' ids).
    pub fn conversion_plan(&self, c: &'a l::ConversionPlan) -> m::ConversionPlan {
        m::ConversionPlan {
            account: self.action(&c.account),
            contact: self.action(&c.contact),
            opportunity: self.action(&c.opportunity),
            opportunity_name: c.opportunity_name.as_ref().map(|n| self.message(n)),
            initial_stage: self.stage(c.initial_stage),
            estimated_value: c.estimated_value.as_ref().map(money),
            estimated_close: c.estimated_close.map(date),
            skipped_lead_stage: c.skipped_lead_stage,
            reasons: self.reasons(&c.reasons),
        }
    }

    /// A transition check, rendered.
    pub fn transition(&self, t: &'a l::TransitionCheck) -> m::TransitionCheck {
        m::TransitionCheck {
            allowed: t.allowed,
            kind: match t.kind {
                l::MoveKind::Stay => m::MoveKind::Stay,
                l::MoveKind::Forward => m::MoveKind::Forward,
                l::MoveKind::Back => m::MoveKind::Back,
                l::MoveKind::Skip => m::MoveKind::Skip,
            },
            missing: self.fields(&t.missing),
            reasons: self.reasons(&t.reasons),
        }
    }

    /// A forecast, rendered.
    pub fn forecast(&self, f: &'a l::WinForecast) -> m::Forecast {
        m::Forecast {
            probability: f.probability,
            weighted_value: f.weighted_value.as_ref().map(money),
            stages: f
                .stages
                .iter()
                .map(|s| m::StageScore {
                    stage: self.stage(s.stage),
                    weight: s.weight,
                    activities: s.activities,
                    mean_rating: s.mean_rating,
                })
                .collect(),
            reasons: self.reasons(&f.reasons),
        }
    }

    /// Any answer, rendered.
    pub fn answer(&self, answer: &'a Answer) -> Rendered {
        match answer {
            Answer::Qualify(q) => Rendered::Qualify(self.qualification(q)),
            Answer::Convert(c) => Rendered::Convert(self.conversion_plan(c)),
            Answer::Transition(t) => Rendered::Transition(self.transition(t)),
            Answer::Forecast(f) => Rendered::Forecast(self.forecast(f)),
        }
    }

    /// The codes of an answer's reasons, with their points: what reports count.
    pub fn reason_codes(&self, reasons: &'a [l::Reason]) -> Vec<(Cow<'a, str>, Option<i32>)> {
        reasons
            .iter()
            .map(|r| {
                let code = self
                    .facts
                    .templates
                    .get(r.template as usize)
                    .map_or(Cow::Borrowed(""), |t| Cow::Borrowed(t.code.as_str()));
                (code, r.points)
            })
            .collect()
    }
}

/// A rating, as the canonical types name it.
pub fn rating(r: l::Rating) -> m::Rating {
    match r {
        l::Rating::Hot => m::Rating::Hot,
        l::Rating::Warm => m::Rating::Warm,
        l::Rating::Cold => m::Rating::Cold,
    }
}
