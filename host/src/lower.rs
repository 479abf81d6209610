//! Conversions between the canonical model types and the generated WIT types.
//!
//! Inputs are lowered with only the custom fields the module asked for (its input
//! query), so a decision's cost follows what the rules read, not what the CRM holds.

use std::collections::BTreeSet;

use crm_rules_model as m;

use crate::engine::bindings::crm::rules::types as t;
use crate::engine::bindings::exports::crm::rules::{
    conversion as c, forecasting as f, module as md, process_flow as p, qualification as q,
};

pub(crate) fn context(ctx: &m::Context) -> t::Context {
    t::Context {
        org_id: ctx.org_id.clone(),
        now: ctx.now.timestamp(),
        user: ctx.user.clone(),
        team: ctx.team.clone(),
    }
}

fn money(v: &m::Money) -> t::Money {
    t::Money {
        amount: v.amount,
        currency: v.currency.clone(),
    }
}

fn money_out(v: t::Money) -> m::Money {
    m::Money {
        amount: v.amount,
        currency: v.currency,
    }
}

fn day(d: m::chrono::NaiveDate) -> t::Date {
    m::date_to_days(d)
}

/// Dates a module returns; one out of range is a module fault, reported as such.
fn date_out(days: t::Date) -> Result<m::chrono::NaiveDate, String> {
    m::days_to_date(days).ok_or_else(|| format!("the module returned day {days}, out of range"))
}

fn custom(fields: &m::CustomFields, reads: &BTreeSet<String>) -> Vec<t::CustomField> {
    fields
        .iter()
        .filter(|(name, _)| reads.contains(*name))
        .map(|(name, value)| t::CustomField {
            name: name.clone(),
            value: match value {
                m::FieldValue::Text(s) => t::FieldValue::Text(s.clone()),
                m::FieldValue::Number(n) => t::FieldValue::Number(*n),
                m::FieldValue::Flag(b) => t::FieldValue::Flag(*b),
                m::FieldValue::Day { date } => t::FieldValue::Day(day(*date)),
            },
        })
        .collect()
}

pub(crate) fn lead(l: &m::Lead, reads: &BTreeSet<String>) -> t::Lead {
    use m::{BudgetStatus as B, Engagement as E, LeadSource as S, Need as N, Timeframe as F};
    t::Lead {
        id: l.id.clone(),
        company: l.company.clone(),
        contact_name: l.contact_name.clone(),
        email: l.email.clone(),
        topic: l.topic.clone(),
        source: l.source.map(|s| match s {
            S::WebForm => t::LeadSource::WebForm,
            S::PhoneInquiry => t::LeadSource::PhoneInquiry,
            S::EmployeeReferral => t::LeadSource::EmployeeReferral,
            S::ExternalReferral => t::LeadSource::ExternalReferral,
            S::Partner => t::LeadSource::Partner,
            S::Advertisement => t::LeadSource::Advertisement,
            S::PublicRelations => t::LeadSource::PublicRelations,
            S::Seminar => t::LeadSource::Seminar,
            S::TradeShow => t::LeadSource::TradeShow,
            S::PurchasedList => t::LeadSource::PurchasedList,
            S::WordOfMouth => t::LeadSource::WordOfMouth,
            S::Other => t::LeadSource::Other,
        }),
        engagement: match l.engagement {
            E::None => t::Engagement::None,
            E::Content => t::Engagement::Content,
            E::Inquiry => t::Engagement::Inquiry,
            E::Conversation => t::Engagement::Conversation,
            E::Evaluation => t::Engagement::Evaluation,
            E::Proposal => t::Engagement::Proposal,
            E::Contract => t::Engagement::Contract,
        },
        budget: l.budget.as_ref().map(money),
        budget_status: l.budget_status.map(|b| match b {
            B::NoCommittedBudget => t::BudgetStatus::NoCommittedBudget,
            B::MayBuy => t::BudgetStatus::MayBuy,
            B::CanBuy => t::BudgetStatus::CanBuy,
            B::WillBuy => t::BudgetStatus::WillBuy,
        }),
        decision_maker_known: l.decision_maker_known,
        need: l.need.map(|n| match n {
            N::MustHave => t::Need::MustHave,
            N::ShouldHave => t::Need::ShouldHave,
            N::GoodToHave => t::Need::GoodToHave,
            N::NoNeed => t::Need::NoNeed,
        }),
        timeframe: l.timeframe.map(|f| match f {
            F::Immediate => t::Timeframe::Immediate,
            F::ThisQuarter => t::Timeframe::ThisQuarter,
            F::NextQuarter => t::Timeframe::NextQuarter,
            F::ThisYear => t::Timeframe::ThisYear,
            F::Unknown => t::Timeframe::Unknown,
        }),
        estimated_value: l.estimated_value.as_ref().map(money),
        estimated_close: l.estimated_close.map(day),
        existing_customer: l.existing_customer,
        custom: custom(&l.custom, reads),
    }
}

pub(crate) fn opportunity(o: &m::Opportunity, reads: &BTreeSet<String>) -> t::Opportunity {
    t::Opportunity {
        id: o.id.clone(),
        name: o.name.clone(),
        stage: o.stage.clone(),
        amount: o.amount.as_ref().map(money),
        close_date: o.close_date.map(day),
        filled: o.filled.clone(),
        activities: o
            .activities
            .iter()
            .map(|a| t::Activity {
                id: a.id.clone(),
                kind: match a.kind {
                    m::ActivityKind::Call => t::ActivityKind::Call,
                    m::ActivityKind::Email => t::ActivityKind::Email,
                    m::ActivityKind::Meeting => t::ActivityKind::Meeting,
                    m::ActivityKind::Task => t::ActivityKind::Task,
                    m::ActivityKind::Other => t::ActivityKind::Other,
                },
                stage: a.stage.clone(),
                rating: a.rating,
                completed: a.completed,
                on: a.on.map(day),
            })
            .collect(),
        custom: custom(&o.custom, reads),
    }
}

pub(crate) fn candidate(k: &m::Candidate) -> c::Candidate {
    c::Candidate {
        id: k.id.clone(),
        kind: match k.kind {
            m::RecordKind::Account => c::RecordKind::Account,
            m::RecordKind::Contact => c::RecordKind::Contact,
            m::RecordKind::Opportunity => c::RecordKind::Opportunity,
        },
        name: k.name.clone(),
        email: k.email.clone(),
        active: k.active,
        account_id: k.account_id.clone(),
    }
}

/// A rule error as the generated bindings give it.
pub(crate) type WitRuleError = t::RuleError;

pub(crate) fn rule_error(e: t::RuleError) -> m::RuleError {
    m::RuleError {
        code: match e.code {
            t::ErrorCode::InvalidPolicy => m::ErrorCode::InvalidPolicy,
            t::ErrorCode::NotInitialized => m::ErrorCode::NotInitialized,
            t::ErrorCode::MissingField => m::ErrorCode::MissingField,
            t::ErrorCode::InvalidValue => m::ErrorCode::InvalidValue,
            t::ErrorCode::UnknownStage => m::ErrorCode::UnknownStage,
            t::ErrorCode::NotQualified => m::ErrorCode::NotQualified,
            t::ErrorCode::Internal => m::ErrorCode::Internal,
        },
        message: e.message,
        field: e.field,
    }
}

pub(crate) fn module_info(i: md::ModuleInfo) -> m::ModuleInfo {
    m::ModuleInfo {
        name: i.name,
        version: i.version,
        reads_custom_fields: i.reads_custom_fields,
    }
}

pub(crate) fn qualification(v: q::Qualification) -> Result<m::Qualification, String> {
    Ok(m::Qualification {
        outcome: match v.outcome {
            q::Outcome::Qualified => m::Outcome::Qualified,
            q::Outcome::Nurture => m::Outcome::Nurture,
            q::Outcome::NeedsInformation(missing) => m::Outcome::NeedsInformation { missing },
            q::Outcome::Disqualified(reason) => m::Outcome::Disqualified {
                reason: match reason {
                    q::DisqualifyReason::Lost => m::DisqualifyReason::Lost,
                    q::DisqualifyReason::CannotContact => m::DisqualifyReason::CannotContact,
                    q::DisqualifyReason::NoLongerInterested => {
                        m::DisqualifyReason::NoLongerInterested
                    }
                    q::DisqualifyReason::Canceled => m::DisqualifyReason::Canceled,
                },
            },
        },
        rating: match v.rating {
            t::Rating::Hot => m::Rating::Hot,
            t::Rating::Warm => m::Rating::Warm,
            t::Rating::Cold => m::Rating::Cold,
        },
        score: v.score,
        reasons: v.reasons,
        follow_ups: v
            .follow_ups
            .into_iter()
            .map(|f| {
                Ok(m::FollowUp {
                    kind: match f.kind {
                        q::FollowUpKind::Call => m::FollowUpKind::Call,
                        q::FollowUpKind::Email => m::FollowUpKind::Email,
                        q::FollowUpKind::Meeting => m::FollowUpKind::Meeting,
                        q::FollowUpKind::Task => m::FollowUpKind::Task,
                    },
                    subject: f.subject,
                    due: date_out(f.due)?,
                })
            })
            .collect::<Result<_, String>>()?,
    })
}

fn action(a: c::RecordAction) -> m::RecordAction {
    match a {
        c::RecordAction::Create => m::RecordAction::Create,
        c::RecordAction::Link(id) => m::RecordAction::Link(id),
        c::RecordAction::Skip => m::RecordAction::Skip,
    }
}

pub(crate) fn conversion_plan(v: c::ConversionPlan) -> Result<m::ConversionPlan, String> {
    Ok(m::ConversionPlan {
        account: action(v.account),
        contact: action(v.contact),
        opportunity: action(v.opportunity),
        opportunity_name: v.opportunity_name,
        initial_stage: v.initial_stage,
        estimated_value: v.estimated_value.map(money_out),
        estimated_close: v.estimated_close.map(date_out).transpose()?,
        skipped_lead_stage: v.skipped_lead_stage,
        reasons: v.reasons,
    })
}

pub(crate) fn stages(v: Vec<p::Stage>) -> Vec<m::Stage> {
    v.into_iter()
        .map(|s| m::Stage {
            name: s.name,
            steps: s
                .steps
                .into_iter()
                .map(|s| m::Step {
                    name: s.name,
                    field: s.field,
                    required: s.required,
                })
                .collect(),
        })
        .collect()
}

pub(crate) fn transition(v: p::TransitionCheck) -> m::TransitionCheck {
    m::TransitionCheck {
        allowed: v.allowed,
        kind: match v.kind {
            p::MoveKind::Stay => m::MoveKind::Stay,
            p::MoveKind::Forward => m::MoveKind::Forward,
            p::MoveKind::Back => m::MoveKind::Back,
            p::MoveKind::Skip => m::MoveKind::Skip,
        },
        missing: v.missing,
        reasons: v.reasons,
    }
}

pub(crate) fn forecast(v: f::WinForecast) -> Result<m::Forecast, String> {
    if !(0.0..=1.0).contains(&v.probability) {
        return Err(format!(
            "the module returned probability {}, outside 0..1",
            v.probability
        ));
    }
    Ok(m::Forecast {
        probability: v.probability,
        weighted_value: v.weighted_value.map(money_out),
        stages: v
            .stages
            .into_iter()
            .map(|s| m::StageScore {
                stage: s.stage,
                weight: s.weight,
                activities: s.activities,
                mean_rating: s.mean_rating,
            })
            .collect(),
        reasons: v.reasons,
    })
}

/// Approximate size of an answer: bytes of text plus 16 per list element, so a
/// module cannot hand the host an unbounded result.
pub(crate) trait OutputSize {
    fn output_size(&self) -> usize;
}

fn texts(list: &[String]) -> usize {
    list.iter().map(|s| s.len() + 16).sum()
}

impl OutputSize for m::Qualification {
    fn output_size(&self) -> usize {
        let missing = match &self.outcome {
            m::Outcome::NeedsInformation { missing } => texts(missing),
            _ => 0,
        };
        missing
            + texts(&self.reasons)
            + self
                .follow_ups
                .iter()
                .map(|f| f.subject.len() + 16)
                .sum::<usize>()
    }
}

impl OutputSize for m::ConversionPlan {
    fn output_size(&self) -> usize {
        let id = |a: &m::RecordAction| match a {
            m::RecordAction::Link(id) => id.len(),
            _ => 0,
        };
        id(&self.account)
            + id(&self.contact)
            + id(&self.opportunity)
            + self.opportunity_name.as_ref().map_or(0, String::len)
            + self.initial_stage.len()
            + texts(&self.reasons)
    }
}

impl OutputSize for m::TransitionCheck {
    fn output_size(&self) -> usize {
        texts(&self.missing) + texts(&self.reasons)
    }
}

impl OutputSize for m::Forecast {
    fn output_size(&self) -> usize {
        self.stages
            .iter()
            .map(|s| s.stage.len() + 16)
            .sum::<usize>()
            + texts(&self.reasons)
    }
}

impl OutputSize for Vec<m::Stage> {
    fn output_size(&self) -> usize {
        self.iter()
            .map(|s| {
                s.name.len()
                    + 16
                    + s.steps
                        .iter()
                        .map(|p| p.name.len() + p.field.len() + 16)
                        .sum::<usize>()
            })
            .sum()
    }
}

impl OutputSize for m::ModuleInfo {
    fn output_size(&self) -> usize {
        self.name.len() + self.version.len() + texts(&self.reads_custom_fields)
    }
}
