//! The WebAssembly glue: wit-bindgen bindings of `crm:rules/rule-module` and an
//! adapter that turns any [`RuleModule`] into their exports.
//!
//! Conversions here move strings and lists out of the canonical-ABI values instead
//! of copying them: the host already paid for one copy when it lowered the record.

use std::sync::OnceLock;

use crm_rules_model as m;

use crate::RuleModule;

#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "rule-module",
        path: "../wit/since_v0.1.0",
        pub_export_macro: true,
        default_bindings_module: "guest_rules::sdk::bindings",
    });
}

use bindings::crm::rules::types as t;
use bindings::exports::crm::rules::{
    conversion as c, forecasting as f, module as md, process_flow as p, qualification as q,
};

/// Where an exported module keeps its one instance (set by `init`).
pub trait Slot: Sized + 'static {
    /// The instance's storage; implemented by `export_rule_module!`.
    fn slot() -> &'static OnceLock<Self>;
}

/// Implements the generated export traits for a [`RuleModule`].
pub struct Adapter<T>(std::marker::PhantomData<T>);

fn rules<T: RuleModule + Slot>() -> Result<&'static T, t::RuleError> {
    T::slot().get().ok_or_else(|| t::RuleError {
        code: t::ErrorCode::NotInitialized,
        message: "the module's policy was not loaded (call init first)".to_owned(),
        field: None,
    })
}

fn day(date: m::chrono::NaiveDate) -> t::Date {
    m::date_to_days(date)
}

fn date(days: t::Date, field: &str) -> Result<m::chrono::NaiveDate, m::RuleError> {
    m::days_to_date(days).ok_or_else(|| {
        m::RuleError::new(
            m::ErrorCode::InvalidValue,
            format!("day {days} is out of range"),
            Some(field),
        )
    })
}

fn err_out(e: m::RuleError) -> t::RuleError {
    t::RuleError {
        code: match e.code {
            m::ErrorCode::InvalidPolicy => t::ErrorCode::InvalidPolicy,
            m::ErrorCode::NotInitialized => t::ErrorCode::NotInitialized,
            m::ErrorCode::MissingField => t::ErrorCode::MissingField,
            m::ErrorCode::InvalidValue => t::ErrorCode::InvalidValue,
            m::ErrorCode::UnknownStage => t::ErrorCode::UnknownStage,
            m::ErrorCode::NotQualified => t::ErrorCode::NotQualified,
            m::ErrorCode::Internal => t::ErrorCode::Internal,
        },
        message: e.message,
        field: e.field,
    }
}

fn ctx_in(ctx: t::Context) -> Result<m::Context, m::RuleError> {
    Ok(m::Context {
        now: m::seconds_to_instant(ctx.now).ok_or_else(|| {
            m::RuleError::new(
                m::ErrorCode::InvalidValue,
                "`now` is out of range",
                Some("now"),
            )
        })?,
        org_id: ctx.org_id,
        user: ctx.user,
        team: ctx.team,
    })
}

fn money_in(v: t::Money) -> m::Money {
    m::Money {
        amount: v.amount,
        currency: v.currency,
    }
}

fn money_out(v: m::Money) -> t::Money {
    t::Money {
        amount: v.amount,
        currency: v.currency,
    }
}

fn custom_in(fields: Vec<t::CustomField>) -> Result<m::CustomFields, m::RuleError> {
    fields
        .into_iter()
        .map(|f| {
            let value = match f.value {
                t::FieldValue::Text(s) => m::FieldValue::Text(s),
                t::FieldValue::Number(n) => m::FieldValue::Number(n),
                t::FieldValue::Flag(b) => m::FieldValue::Flag(b),
                t::FieldValue::Day(d) => m::FieldValue::Day {
                    date: date(d, &f.name)?,
                },
            };
            Ok((f.name, value))
        })
        .collect()
}

fn lead_in(l: t::Lead) -> Result<m::Lead, m::RuleError> {
    use t::{BudgetStatus as B, Engagement as E, LeadSource as S, Need as N, Timeframe as F};
    Ok(m::Lead {
        id: l.id,
        company: l.company,
        contact_name: l.contact_name,
        email: l.email,
        topic: l.topic,
        source: l.source.map(|s| match s {
            S::WebForm => m::LeadSource::WebForm,
            S::PhoneInquiry => m::LeadSource::PhoneInquiry,
            S::EmployeeReferral => m::LeadSource::EmployeeReferral,
            S::ExternalReferral => m::LeadSource::ExternalReferral,
            S::Partner => m::LeadSource::Partner,
            S::Advertisement => m::LeadSource::Advertisement,
            S::PublicRelations => m::LeadSource::PublicRelations,
            S::Seminar => m::LeadSource::Seminar,
            S::TradeShow => m::LeadSource::TradeShow,
            S::PurchasedList => m::LeadSource::PurchasedList,
            S::WordOfMouth => m::LeadSource::WordOfMouth,
            S::Other => m::LeadSource::Other,
        }),
        engagement: match l.engagement {
            E::None => m::Engagement::None,
            E::Content => m::Engagement::Content,
            E::Inquiry => m::Engagement::Inquiry,
            E::Conversation => m::Engagement::Conversation,
            E::Evaluation => m::Engagement::Evaluation,
            E::Proposal => m::Engagement::Proposal,
            E::Contract => m::Engagement::Contract,
        },
        budget: l.budget.map(money_in),
        budget_status: l.budget_status.map(|b| match b {
            B::NoCommittedBudget => m::BudgetStatus::NoCommittedBudget,
            B::MayBuy => m::BudgetStatus::MayBuy,
            B::CanBuy => m::BudgetStatus::CanBuy,
            B::WillBuy => m::BudgetStatus::WillBuy,
        }),
        decision_maker_known: l.decision_maker_known,
        need: l.need.map(|n| match n {
            N::MustHave => m::Need::MustHave,
            N::ShouldHave => m::Need::ShouldHave,
            N::GoodToHave => m::Need::GoodToHave,
            N::NoNeed => m::Need::NoNeed,
        }),
        timeframe: l.timeframe.map(|f| match f {
            F::Immediate => m::Timeframe::Immediate,
            F::ThisQuarter => m::Timeframe::ThisQuarter,
            F::NextQuarter => m::Timeframe::NextQuarter,
            F::ThisYear => m::Timeframe::ThisYear,
            F::Unknown => m::Timeframe::Unknown,
        }),
        estimated_value: l.estimated_value.map(money_in),
        estimated_close: l
            .estimated_close
            .map(|d| date(d, "estimated_close"))
            .transpose()?,
        existing_customer: l.existing_customer,
        custom: custom_in(l.custom)?,
    })
}

fn opportunity_in(o: t::Opportunity) -> Result<m::Opportunity, m::RuleError> {
    let activities = o
        .activities
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            Ok(m::Activity {
                id: a.id,
                kind: match a.kind {
                    t::ActivityKind::Call => m::ActivityKind::Call,
                    t::ActivityKind::Email => m::ActivityKind::Email,
                    t::ActivityKind::Meeting => m::ActivityKind::Meeting,
                    t::ActivityKind::Task => m::ActivityKind::Task,
                    t::ActivityKind::Other => m::ActivityKind::Other,
                },
                stage: a.stage,
                rating: a.rating,
                completed: a.completed,
                on: a
                    .on
                    .map(|d| date(d, &format!("activities[{i}].on")))
                    .transpose()?,
            })
        })
        .collect::<Result<_, m::RuleError>>()?;
    Ok(m::Opportunity {
        status: m::OpportunityStatus::Open,
        id: o.id,
        name: o.name,
        stage: o.stage,
        amount: o.amount.map(money_in),
        close_date: o.close_date.map(|d| date(d, "close_date")).transpose()?,
        filled: o.filled,
        activities,
        custom: custom_in(o.custom)?,
    })
}

fn qualification_out(v: m::Qualification) -> q::Qualification {
    q::Qualification {
        outcome: match v.outcome {
            m::Outcome::Qualified => q::Outcome::Qualified,
            m::Outcome::Nurture => q::Outcome::Nurture,
            m::Outcome::NeedsInformation { missing } => q::Outcome::NeedsInformation(missing),
            m::Outcome::Disqualified { reason } => q::Outcome::Disqualified(match reason {
                m::DisqualifyReason::Lost => q::DisqualifyReason::Lost,
                m::DisqualifyReason::CannotContact => q::DisqualifyReason::CannotContact,
                m::DisqualifyReason::NoLongerInterested => q::DisqualifyReason::NoLongerInterested,
                m::DisqualifyReason::Canceled => q::DisqualifyReason::Canceled,
            }),
        },
        rating: match v.rating {
            m::Rating::Hot => t::Rating::Hot,
            m::Rating::Warm => t::Rating::Warm,
            m::Rating::Cold => t::Rating::Cold,
        },
        score: v.score,
        reasons: v.reasons,
        follow_ups: v
            .follow_ups
            .into_iter()
            .map(|f| q::FollowUp {
                kind: match f.kind {
                    m::FollowUpKind::Call => q::FollowUpKind::Call,
                    m::FollowUpKind::Email => q::FollowUpKind::Email,
                    m::FollowUpKind::Meeting => q::FollowUpKind::Meeting,
                    m::FollowUpKind::Task => q::FollowUpKind::Task,
                },
                subject: f.subject,
                due: day(f.due),
            })
            .collect(),
    }
}

fn action_out(a: m::RecordAction) -> c::RecordAction {
    match a {
        m::RecordAction::Create => c::RecordAction::Create,
        m::RecordAction::Link(id) => c::RecordAction::Link(id),
        m::RecordAction::Skip => c::RecordAction::Skip,
    }
}

fn qualify_one<T: RuleModule + Slot>(
    rules: &T,
    ctx: &m::Context,
    lead: t::Lead,
) -> Result<q::Qualification, t::RuleError> {
    let lead = lead_in(lead).map_err(err_out)?;
    rules
        .qualify(ctx, &lead)
        .map(qualification_out)
        .map_err(err_out)
}

fn forecast_one<T: RuleModule + Slot>(
    rules: &T,
    ctx: &m::Context,
    opportunity: t::Opportunity,
) -> Result<f::WinForecast, t::RuleError> {
    let opportunity = opportunity_in(opportunity).map_err(err_out)?;
    let v = rules.forecast(ctx, &opportunity).map_err(err_out)?;
    Ok(f::WinForecast {
        probability: v.probability,
        weighted_value: v.weighted_value.map(money_out),
        stages: v
            .stages
            .into_iter()
            .map(|s| f::StageScore {
                stage: s.stage,
                weight: s.weight,
                activities: s.activities,
                mean_rating: s.mean_rating,
            })
            .collect(),
        reasons: v.reasons,
    })
}

impl<T: RuleModule + Slot> md::Guest for Adapter<T> {
    fn init(policy: String) -> Result<md::ModuleInfo, t::RuleError> {
        let rules = T::init(&policy).map_err(err_out)?;
        let info = rules.info();
        if T::slot().set(rules).is_err() {
            return Err(err_out(m::RuleError::new(
                m::ErrorCode::InvalidPolicy,
                "this instance already has a policy; load a new instance instead",
                None,
            )));
        }
        Ok(md::ModuleInfo {
            name: info.name,
            version: info.version,
            reads_custom_fields: info.reads_custom_fields,
        })
    }
}

impl<T: RuleModule + Slot> q::Guest for Adapter<T> {
    fn qualify(ctx: t::Context, lead: t::Lead) -> Result<q::Qualification, t::RuleError> {
        let rules = rules::<T>()?;
        let ctx = ctx_in(ctx).map_err(err_out)?;
        qualify_one(rules, &ctx, lead)
    }

    fn qualify_batch(
        ctx: t::Context,
        leads: Vec<t::Lead>,
    ) -> Vec<Result<q::Qualification, t::RuleError>> {
        let setup = rules::<T>().and_then(|r| Ok((r, ctx_in(ctx).map_err(err_out)?)));
        match setup {
            Ok((rules, ctx)) => leads
                .into_iter()
                .map(|lead| qualify_one(rules, &ctx, lead))
                .collect(),
            Err(e) => leads.iter().map(|_| Err(e.clone())).collect(),
        }
    }
}

impl<T: RuleModule + Slot> c::Guest for Adapter<T> {
    fn convert(
        ctx: t::Context,
        lead: t::Lead,
        candidates: Vec<c::Candidate>,
    ) -> Result<c::ConversionPlan, t::RuleError> {
        let rules = rules::<T>()?;
        let ctx = ctx_in(ctx).map_err(err_out)?;
        let lead = lead_in(lead).map_err(err_out)?;
        let candidates: Vec<m::Candidate> = candidates
            .into_iter()
            .map(|k| m::Candidate {
                id: k.id,
                kind: match k.kind {
                    c::RecordKind::Account => m::RecordKind::Account,
                    c::RecordKind::Contact => m::RecordKind::Contact,
                    c::RecordKind::Opportunity => m::RecordKind::Opportunity,
                },
                name: k.name,
                email: k.email,
                active: k.active,
                account_id: k.account_id,
            })
            .collect();
        let v = rules.convert(&ctx, &lead, &candidates).map_err(err_out)?;
        Ok(c::ConversionPlan {
            account: action_out(v.account),
            contact: action_out(v.contact),
            opportunity: action_out(v.opportunity),
            opportunity_name: v.opportunity_name,
            initial_stage: v.initial_stage,
            estimated_value: v.estimated_value.map(money_out),
            estimated_close: v.estimated_close.map(day),
            skipped_lead_stage: v.skipped_lead_stage,
            reasons: v.reasons,
        })
    }
}

impl<T: RuleModule + Slot> p::Guest for Adapter<T> {
    fn stages(ctx: t::Context) -> Result<Vec<p::Stage>, t::RuleError> {
        let rules = rules::<T>()?;
        let ctx = ctx_in(ctx).map_err(err_out)?;
        let stages = rules.stages(&ctx).map_err(err_out)?;
        Ok(stages
            .into_iter()
            .map(|s| p::Stage {
                name: s.name,
                steps: s
                    .steps
                    .into_iter()
                    .map(|s| p::Step {
                        name: s.name,
                        field: s.field,
                        required: s.required,
                    })
                    .collect(),
            })
            .collect())
    }

    fn check_transition(
        ctx: t::Context,
        opportunity: t::Opportunity,
        to_stage: String,
    ) -> Result<p::TransitionCheck, t::RuleError> {
        let rules = rules::<T>()?;
        let ctx = ctx_in(ctx).map_err(err_out)?;
        let opportunity = opportunity_in(opportunity).map_err(err_out)?;
        let v = rules
            .check_transition(&ctx, &opportunity, &to_stage)
            .map_err(err_out)?;
        Ok(p::TransitionCheck {
            allowed: v.allowed,
            kind: match v.kind {
                m::MoveKind::Stay => p::MoveKind::Stay,
                m::MoveKind::Forward => p::MoveKind::Forward,
                m::MoveKind::Back => p::MoveKind::Back,
                m::MoveKind::Skip => p::MoveKind::Skip,
            },
            missing: v.missing,
            reasons: v.reasons,
        })
    }
}

impl<T: RuleModule + Slot> f::Guest for Adapter<T> {
    fn forecast(
        ctx: t::Context,
        opportunity: t::Opportunity,
    ) -> Result<f::WinForecast, t::RuleError> {
        let rules = rules::<T>()?;
        let ctx = ctx_in(ctx).map_err(err_out)?;
        forecast_one(rules, &ctx, opportunity)
    }

    fn forecast_batch(
        ctx: t::Context,
        opportunities: Vec<t::Opportunity>,
    ) -> Vec<Result<f::WinForecast, t::RuleError>> {
        let setup = rules::<T>().and_then(|r| Ok((r, ctx_in(ctx).map_err(err_out)?)));
        match setup {
            Ok((rules, ctx)) => opportunities
                .into_iter()
                .map(|o| forecast_one(rules, &ctx, o))
                .collect(),
            Err(e) => opportunities.iter().map(|_| Err(e.clone())).collect(),
        }
    }
}
