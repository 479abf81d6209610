//! What the host does around a 0.2.0 decision, done natively for tests: lower a
//! canonical record (the JSON types of the `crm-rules-model` crate) into the
//! contract's types following the module's input query, and render the answer
//! back into the canonical JSON, texts included.
//!
//! Rendering follows the contract: a template's `{N}` is argument N, `{N:.P}` a
//! number with P decimals, `{{`/`}}` braces; a reason with points ends in ` (+N)`
//! or ` (-N)`; a field is named by its snake_case contract name, its custom-field
//! name or its step's field; a value is the decided record's, enums in snake_case
//! and dates as YYYY-MM-DD.

use crm_rules_model as m;
use guest_rules::contract::*;
use guest_rules::dates;

/// An error the host reports itself, before the module runs (a record it cannot
/// read, a stage name the org does not have).
#[derive(Debug, Clone, PartialEq)]
pub struct HostError {
    pub code: &'static str,
    pub field: String,
}

/// A contract enum from the model enum of the same name.
pub fn same<C: EnumName>(name: &str) -> C {
    C::from_name(name).unwrap_or_else(|| panic!("{} has no value `{name}`", C::TYPE_NAME))
}

/// A model enum from the contract enum of the same name.
fn model<M: Copy>(all: &'static [M], name_of: fn(M) -> &'static str, name: &str) -> M {
    all.iter()
        .copied()
        .find(|v| name_of(*v) == name)
        .unwrap_or_else(|| panic!("the model has no value `{name}`"))
}

pub fn money(v: &m::Money) -> Money {
    Money {
        amount: v.amount,
        currency: Currency::from_code(&v.currency).expect("a three-letter currency"),
    }
}

fn money_out(v: &Money) -> m::Money {
    m::Money {
        amount: v.amount,
        currency: String::from_utf8_lossy(&v.currency.code()).into_owned(),
    }
}

fn date_out(d: Date) -> m::chrono::NaiveDate {
    dates::to_naive(d).expect("a date in range")
}

fn field_value(v: &m::FieldValue) -> FieldValue {
    match v {
        m::FieldValue::Text(s) => FieldValue::Text(s.clone()),
        m::FieldValue::Number(n) => FieldValue::Number(*n),
        m::FieldValue::Flag(b) => FieldValue::Flag(*b),
        m::FieldValue::Day { date } => FieldValue::Day(dates::from_naive(*date)),
    }
}

/// Only the custom fields the module reads, indexed by its list.
fn custom(fields: &m::CustomFields, reads: &[String]) -> Vec<CustomValue> {
    (0u32..)
        .zip(reads)
        .filter_map(|(at, name)| {
            fields.get(name).map(|v| CustomValue {
                field: at,
                value: field_value(v),
            })
        })
        .collect()
}

fn is_present(text: Option<&str>) -> bool {
    text.is_some_and(|t| !t.trim().is_empty())
}

pub fn context(now: m::chrono::DateTime<m::chrono::Utc>) -> Context {
    Context {
        now: now.timestamp(),
        user: None,
        team: None,
    }
}

/// A lead as the host lowers it for a decision that reads `texts`.
pub fn lead(l: &m::Lead, texts: LeadTexts, info: &ModuleInfo) -> Lead {
    let fields = [
        (LeadTexts::ID, Some(l.id.as_str())),
        (LeadTexts::COMPANY, l.company.as_deref()),
        (LeadTexts::CONTACT_NAME, l.contact_name.as_deref()),
        (LeadTexts::EMAIL, l.email.as_deref()),
        (LeadTexts::TOPIC, l.topic.as_deref()),
    ];
    let mut present = LeadTexts::empty();
    for (flag, text) in fields {
        if is_present(text) {
            present |= flag;
        }
    }
    let text = |flag: LeadTexts, value: Option<&str>| {
        texts
            .contains(flag)
            .then(|| value.map(str::to_owned))
            .flatten()
    };
    Lead {
        present,
        id: text(LeadTexts::ID, Some(&l.id)),
        company: text(LeadTexts::COMPANY, l.company.as_deref()),
        contact_name: text(LeadTexts::CONTACT_NAME, l.contact_name.as_deref()),
        email: text(LeadTexts::EMAIL, l.email.as_deref()),
        topic: text(LeadTexts::TOPIC, l.topic.as_deref()),
        source: l.source.map(|s| same(s.as_str())),
        engagement: same(l.engagement.as_str()),
        budget: l.budget.as_ref().map(money),
        budget_status: l.budget_status.map(|s| same(s.as_str())),
        decision_maker_known: l.decision_maker_known,
        need: l.need.map(|s| same(s.as_str())),
        timeframe: l.timeframe.map(|s| same(s.as_str())),
        estimated_value: l.estimated_value.as_ref().map(money),
        estimated_close: l.estimated_close.map(dates::from_naive),
        existing_customer: l.existing_customer,
        custom: custom(&l.custom, &info.reads.custom_fields),
    }
}

/// A stage's index by name, or the host's own `unknown_stage` error.
pub fn stage(info: &ModuleInfo, name: &str, field: &str) -> Result<u32, HostError> {
    (0u32..)
        .zip(&info.stages)
        .find(|(_, s)| s.name == name)
        .map(|(at, _)| at)
        .ok_or_else(|| HostError {
            code: "unknown_stage",
            field: field.to_owned(),
        })
}

/// Every step of the org, across all stages in order.
fn steps(info: &ModuleInfo) -> impl Iterator<Item = &Step> {
    info.stages.iter().flat_map(|s| &s.steps)
}

/// An opportunity as the host lowers it for a decision that reads `parts`.
pub fn opportunity(
    o: &m::Opportunity,
    parts: OpportunityParts,
    info: &ModuleInfo,
) -> Result<Opportunity, HostError> {
    let steps_done = (0u32..)
        .zip(steps(info))
        .filter(|(_, step)| {
            o.filled.contains(&step.field)
                || o.custom.get(&step.field).is_some_and(|v| v.is_filled())
        })
        .map(|(at, _)| at)
        .collect();
    // The record's own stage first, then its activities': the order the rules
    // checked them in before stage names became indices.
    let own_stage = stage(info, &o.stage, "stage")?;
    let mut activities = Vec::new();
    if parts.contains(OpportunityParts::ACTIVITIES) {
        for (i, a) in o.activities.iter().enumerate() {
            activities.push(Activity {
                kind: same(a.kind.as_str()),
                stage: stage(info, &a.stage, &format!("activities[{i}].stage"))?,
                rating: a.rating,
                completed: a.completed,
                on: a.on.map(dates::from_naive),
            });
        }
    }
    Ok(Opportunity {
        id: parts.contains(OpportunityParts::ID).then(|| o.id.clone()),
        name: parts
            .contains(OpportunityParts::NAME)
            .then(|| o.name.clone()),
        stage: own_stage,
        status: OpportunityStatus::Open,
        amount: o.amount.as_ref().map(money),
        close_date: o.close_date.map(dates::from_naive),
        steps_done,
        activities,
        custom: if parts.contains(OpportunityParts::CUSTOM) {
            custom(&o.custom, &info.reads.custom_fields)
        } else {
            Vec::new()
        },
    })
}

/// The candidates in the order the host passes them (ascending id), and lowered.
pub fn candidates(list: &[m::Candidate]) -> (Vec<m::Candidate>, Vec<Candidate>) {
    let mut sorted = list.to_vec();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let lowered = sorted
        .iter()
        .map(|k| Candidate {
            kind: same(k.kind.as_str()),
            name: k.name.clone(),
            email: k.email.clone(),
            active: k.active,
            account: k.account_id.as_deref().and_then(|id| {
                (0u32..)
                    .zip(&sorted)
                    .find(|(_, a)| a.id == id && a.kind == m::RecordKind::Account)
                    .map(|(at, _)| at)
            }),
        })
        .collect();
    (sorted, lowered)
}

/// The record a decision was made on, whose values `value(...)` arguments quote.
#[derive(Clone, Copy)]
pub enum Record<'a> {
    Lead(&'a m::Lead),
    Opportunity(&'a m::Opportunity),
    None,
}

/// Renders texts the way the host does.
pub struct Renderer<'a> {
    pub info: &'a ModuleInfo,
    pub record: Record<'a>,
    pub candidates: &'a [m::Candidate],
}

impl Renderer<'_> {
    fn field_name(&self, field: &FieldRef) -> String {
        match field {
            FieldRef::Lead(f) => f.name().to_owned(),
            FieldRef::Custom(i) => self.info.reads.custom_fields[*i as usize].clone(),
            FieldRef::Step(i) => steps(self.info)
                .nth(*i as usize)
                .map(|s| s.field.clone())
                .expect("a step index in range"),
            FieldRef::Named(name) => name.clone(),
        }
    }

    fn custom_value(v: &m::FieldValue) -> String {
        match v {
            m::FieldValue::Text(s) => s.clone(),
            m::FieldValue::Number(n) => n.to_string(),
            m::FieldValue::Flag(b) => b.to_string(),
            m::FieldValue::Day { date } => date.to_string(),
        }
    }

    fn value(&self, field: &FieldRef) -> String {
        let custom = match self.record {
            Record::Lead(l) => &l.custom,
            Record::Opportunity(o) => &o.custom,
            Record::None => panic!("no record to quote"),
        };
        let text = |t: &Option<String>| t.clone().unwrap_or_default();
        match (field, self.record) {
            (FieldRef::Lead(f), Record::Lead(l)) => match f {
                LeadField::Id => l.id.clone(),
                LeadField::Company => text(&l.company),
                LeadField::ContactName => text(&l.contact_name),
                LeadField::Email => text(&l.email),
                LeadField::Topic => text(&l.topic),
                LeadField::Source => l.source.map(|s| s.as_str()).unwrap_or("").to_owned(),
                LeadField::Engagement => l.engagement.as_str().to_owned(),
                LeadField::BudgetStatus => {
                    l.budget_status.map(|s| s.as_str()).unwrap_or("").to_owned()
                }
                LeadField::DecisionMakerKnown => l
                    .decision_maker_known
                    .map(|b| b.to_string())
                    .unwrap_or_default(),
                LeadField::Need => l.need.map(|s| s.as_str()).unwrap_or("").to_owned(),
                LeadField::Timeframe => l.timeframe.map(|s| s.as_str()).unwrap_or("").to_owned(),
                LeadField::EstimatedClose => {
                    l.estimated_close.map(|d| d.to_string()).unwrap_or_default()
                }
                LeadField::ExistingCustomer => l.existing_customer.to_string(),
                LeadField::Budget | LeadField::EstimatedValue => {
                    panic!("no rendering of amounts is needed here")
                }
            },
            (FieldRef::Custom(_), _) | (FieldRef::Named(_), _) | (FieldRef::Step(_), _) => {
                let name = self.field_name(field);
                custom
                    .get(&name)
                    .map(Self::custom_value)
                    .unwrap_or_default()
            }
            (FieldRef::Lead(_), _) => panic!("a lead field quoted on another record"),
        }
    }

    fn arg(&self, arg: &Arg, precision: Option<usize>) -> String {
        match arg {
            Arg::Integer(n) => n.to_string(),
            Arg::Number(n) => match precision {
                Some(p) => format!("{n:.p$}"),
                None => n.to_string(),
            },
            Arg::Text(t) => t.clone(),
            Arg::Stage(i) => self.info.stages[*i as usize].name.clone(),
            Arg::Field(f) => self.field_name(f),
            Arg::Value(f) => self.value(f),
            Arg::Fields(list) => list
                .iter()
                .map(|f| self.field_name(f))
                .collect::<Vec<_>>()
                .join(", "),
            Arg::Candidate(i) => self.candidates[*i as usize].name.clone(),
        }
    }

    pub fn template(&self, template: u32, args: &[Arg]) -> String {
        let text = &self.info.templates[template as usize].text;
        let mut out = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    out.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    out.push('}');
                }
                '{' => {
                    let spec: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    let (index, precision) = match spec.split_once(":.") {
                        Some((i, p)) => (i, Some(p.parse().expect("a precision"))),
                        None => (spec.as_str(), None),
                    };
                    let index: usize = index.parse().expect("an argument index");
                    out.push_str(&self.arg(&args[index], precision));
                }
                c => out.push(c),
            }
        }
        out
    }

    pub fn reason(&self, r: &Reason) -> String {
        let text = self.template(r.template, &r.args);
        match r.points {
            Some(points) => format!("{text} ({points:+})"),
            None => text,
        }
    }

    pub fn message(&self, m: &Message) -> String {
        self.template(m.template, &m.args)
    }

    fn reasons(&self, list: &[Reason]) -> Vec<String> {
        list.iter().map(|r| self.reason(r)).collect()
    }

    pub fn qualification(&self, q: &Qualification) -> m::Qualification {
        m::Qualification {
            outcome: match &q.outcome {
                Outcome::Qualified => m::Outcome::Qualified,
                Outcome::Nurture => m::Outcome::Nurture,
                Outcome::Disqualified(reason) => m::Outcome::Disqualified {
                    reason: model(
                        m::DisqualifyReason::ALL,
                        m::DisqualifyReason::as_str,
                        reason.name(),
                    ),
                },
                Outcome::NeedsInformation(missing) => m::Outcome::NeedsInformation {
                    missing: missing.iter().map(|f| self.field_name(f)).collect(),
                },
            },
            rating: model(m::Rating::ALL, m::Rating::as_str, q.rating.name()),
            score: q.score,
            reasons: self.reasons(&q.reasons),
            follow_ups: q
                .follow_ups
                .iter()
                .map(|f| m::FollowUp {
                    kind: model(m::FollowUpKind::ALL, m::FollowUpKind::as_str, f.kind.name()),
                    subject: self.message(&f.subject),
                    due: date_out(f.due),
                })
                .collect(),
        }
    }

    fn action(&self, a: &RecordAction) -> m::RecordAction {
        match a {
            RecordAction::Create => m::RecordAction::Create,
            RecordAction::Skip => m::RecordAction::Skip,
            RecordAction::Link(i) => m::RecordAction::Link(self.candidates[*i as usize].id.clone()),
        }
    }

    pub fn conversion(&self, p: &ConversionPlan) -> m::ConversionPlan {
        m::ConversionPlan {
            account: self.action(&p.account),
            contact: self.action(&p.contact),
            opportunity: self.action(&p.opportunity),
            opportunity_name: p.opportunity_name.as_ref().map(|n| self.message(n)),
            initial_stage: self.info.stages[p.initial_stage as usize].name.clone(),
            estimated_value: p.estimated_value.as_ref().map(money_out),
            estimated_close: p.estimated_close.map(date_out),
            skipped_lead_stage: p.skipped_lead_stage,
            reasons: self.reasons(&p.reasons),
        }
    }

    pub fn transition(&self, t: &TransitionCheck) -> m::TransitionCheck {
        m::TransitionCheck {
            allowed: t.allowed,
            kind: model(m::MoveKind::ALL, m::MoveKind::as_str, t.kind.name()),
            missing: t.missing.iter().map(|f| self.field_name(f)).collect(),
            reasons: self.reasons(&t.reasons),
        }
    }

    pub fn forecast(&self, f: &WinForecast) -> m::Forecast {
        m::Forecast {
            probability: f.probability,
            weighted_value: f.weighted_value.as_ref().map(money_out),
            stages: f
                .stages
                .iter()
                .map(|s| m::StageScore {
                    stage: self.info.stages[s.stage as usize].name.clone(),
                    weight: s.weight,
                    activities: s.activities,
                    mean_rating: s.mean_rating,
                })
                .collect(),
            reasons: self.reasons(&f.reasons),
        }
    }

    pub fn stages(&self) -> Vec<m::Stage> {
        self.info
            .stages
            .iter()
            .map(|s| m::Stage {
                name: s.name.clone(),
                steps: s
                    .steps
                    .iter()
                    .map(|step| m::Step {
                        name: step.name.clone(),
                        field: step.field.clone(),
                        required: step.required,
                    })
                    .collect(),
            })
            .collect()
    }
}

/// A rule error as the host writes it in JSON.
pub fn error_json(e: &RuleError) -> serde_json::Value {
    serde_json::json!({
        "code": e.code.name(),
        "message": e.message,
        "field": e.field,
    })
}
