//! `crm:rules@0.1.0`, frozen: its bindings, how the host lowers records into it, and
//! how its answers (texts everywhere) become the latest types.
//!
//! A 0.1.0 module gets whole records (every text, every custom field it names) and
//! answers with stage names, candidate ids and readable reasons. Its facts are
//! learned once at load: `init` gives the custom fields it reads, one `stages` call
//! gives the org's stages. Its reasons and subjects become references to one
//! template, `{0}`, with the text as the argument, so they render exactly as the
//! module wrote them.

use std::collections::BTreeSet;

use crm_rules_model as m;
use wasmtime::Store;

use super::facts::{InputQuery, OrgFacts};
use super::template::Template;
use super::{latest, quoted, ContractVersion, Refusal};
use crate::decision::{Answer, InputRef};
use crate::engine::StoreState;

/// Bindings of the `crm:rules@0.1.0` world.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wasmtime::component::bindgen!({
        world: "rule-module",
        path: "../wit/since_v0.1.0",
    });
}

use bindings::crm::rules::types as t;

crate::contract::enums::enums_into!(t);
use bindings::exports::crm::rules::{
    conversion as c, forecasting as f, process_flow as p, qualification as q,
};
use bindings::RuleModule;

/// The one template of a 0.1.0 module's texts: the text itself.
const TEXT: u32 = 0;

impl From<t::RuleError> for m::RuleError {
    fn from(e: t::RuleError) -> m::RuleError {
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
}

impl From<q::DisqualifyReason> for latest::DisqualifyReason {
    fn from(r: q::DisqualifyReason) -> Self {
        match r {
            q::DisqualifyReason::Lost => latest::DisqualifyReason::Lost,
            q::DisqualifyReason::CannotContact => latest::DisqualifyReason::CannotContact,
            q::DisqualifyReason::NoLongerInterested => latest::DisqualifyReason::NoLongerInterested,
            q::DisqualifyReason::Canceled => latest::DisqualifyReason::Canceled,
        }
    }
}

impl From<t::Rating> for latest::Rating {
    fn from(r: t::Rating) -> Self {
        match r {
            t::Rating::Hot => latest::Rating::Hot,
            t::Rating::Warm => latest::Rating::Warm,
            t::Rating::Cold => latest::Rating::Cold,
        }
    }
}

impl From<q::FollowUpKind> for latest::FollowUpKind {
    fn from(k: q::FollowUpKind) -> Self {
        match k {
            q::FollowUpKind::Call => latest::FollowUpKind::Call,
            q::FollowUpKind::Email => latest::FollowUpKind::Email,
            q::FollowUpKind::Meeting => latest::FollowUpKind::Meeting,
            q::FollowUpKind::Task => latest::FollowUpKind::Task,
        }
    }
}

impl From<p::MoveKind> for latest::MoveKind {
    fn from(k: p::MoveKind) -> Self {
        match k {
            p::MoveKind::Stay => latest::MoveKind::Stay,
            p::MoveKind::Forward => latest::MoveKind::Forward,
            p::MoveKind::Back => latest::MoveKind::Back,
            p::MoveKind::Skip => latest::MoveKind::Skip,
        }
    }
}

/// A text of a 0.1.0 answer, as a reason of the latest contract.
fn reason(text: String) -> latest::Reason {
    latest::Reason {
        template: TEXT,
        points: None,
        args: vec![latest::Arg::Text(text)],
    }
}

fn message(text: String) -> latest::Message {
    latest::Message {
        template: TEXT,
        args: vec![latest::Arg::Text(text)],
    }
}

/// A field a 0.1.0 answer names: a lead field of the contract, or any other name.
fn field_ref(name: String) -> latest::FieldRef {
    use latest::LeadField as L;
    let field = match name.as_str() {
        "id" => L::Id,
        "company" => L::Company,
        "contact_name" => L::ContactName,
        "email" => L::Email,
        "topic" => L::Topic,
        "source" => L::Source,
        "engagement" => L::Engagement,
        "budget" => L::Budget,
        "budget_status" => L::BudgetStatus,
        "decision_maker_known" => L::DecisionMakerKnown,
        "need" => L::Need,
        "timeframe" => L::Timeframe,
        "estimated_value" => L::EstimatedValue,
        "estimated_close" => L::EstimatedClose,
        "existing_customer" => L::ExistingCustomer,
        _ => return latest::FieldRef::Named(name),
    };
    latest::FieldRef::Lead(field)
}

fn money_out(v: t::Money, field: &str) -> Result<latest::Money, String> {
    Ok(latest::Money {
        amount: v.amount,
        currency: super::since_v0_2_0::currency(&v.currency, field)
            .map_err(|e| format!("{field}: {}", e.message))?,
    })
}

fn stage_out(facts: &OrgFacts, name: &str, field: &str) -> Result<u32, String> {
    facts.stage(name).ok_or_else(|| {
        format!(
            "{field}: the module named stage `{}`, which it never listed",
            quoted(name)
        )
    })
}

fn qualification(v: q::Qualification) -> latest::Qualification {
    latest::Qualification {
        outcome: match v.outcome {
            q::Outcome::Qualified => latest::Outcome::Qualified,
            q::Outcome::Nurture => latest::Outcome::Nurture,
            q::Outcome::Disqualified(r) => latest::Outcome::Disqualified(r.into()),
            q::Outcome::NeedsInformation(missing) => {
                latest::Outcome::NeedsInformation(missing.into_iter().map(field_ref).collect())
            }
        },
        rating: v.rating.into(),
        score: v.score,
        reasons: v.reasons.into_iter().map(reason).collect(),
        follow_ups: v
            .follow_ups
            .into_iter()
            .map(|f| latest::FollowUp {
                kind: f.kind.into(),
                subject: message(f.subject),
                due: f.due,
            })
            .collect(),
    }
}

fn conversion_plan(
    v: c::ConversionPlan,
    facts: &OrgFacts,
    candidates: &[m::Candidate],
) -> Result<latest::ConversionPlan, String> {
    let action = |a: c::RecordAction, field: &str| -> Result<latest::RecordAction, String> {
        Ok(match a {
            c::RecordAction::Create => latest::RecordAction::Create,
            c::RecordAction::Skip => latest::RecordAction::Skip,
            c::RecordAction::Link(id) => latest::RecordAction::Link(
                candidates.iter().position(|k| k.id == id).ok_or_else(|| {
                    format!(
                        "{field}: links to `{}`, which is not among the candidates",
                        quoted(&id)
                    )
                })? as u32,
            ),
        })
    };
    Ok(latest::ConversionPlan {
        account: action(v.account, "account")?,
        contact: action(v.contact, "contact")?,
        opportunity: action(v.opportunity, "opportunity")?,
        opportunity_name: v.opportunity_name.map(message),
        initial_stage: stage_out(facts, &v.initial_stage, "initial_stage")?,
        estimated_value: v
            .estimated_value
            .map(|m| money_out(m, "estimated_value"))
            .transpose()?,
        estimated_close: v.estimated_close,
        skipped_lead_stage: v.skipped_lead_stage,
        reasons: v.reasons.into_iter().map(reason).collect(),
    })
}

fn transition(v: p::TransitionCheck) -> latest::TransitionCheck {
    latest::TransitionCheck {
        allowed: v.allowed,
        kind: v.kind.into(),
        missing: v.missing.into_iter().map(latest::FieldRef::Named).collect(),
        reasons: v.reasons.into_iter().map(reason).collect(),
    }
}

fn forecast(v: f::WinForecast, facts: &OrgFacts) -> Result<latest::WinForecast, String> {
    Ok(latest::WinForecast {
        probability: v.probability,
        weighted_value: v
            .weighted_value
            .map(|m| money_out(m, "weighted_value"))
            .transpose()?,
        stages: v
            .stages
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                Ok(latest::StageScore {
                    stage: stage_out(facts, &s.stage, &format!("stages[{i}].stage"))?,
                    weight: s.weight,
                    activities: s.activities,
                    mean_rating: s.mean_rating,
                })
            })
            .collect::<Result<_, String>>()?,
        reasons: v.reasons.into_iter().map(reason).collect(),
    })
}

// ---- lowering ------------------------------------------------------------------

fn context(ctx: &m::Context) -> t::Context {
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

fn day(d: m::chrono::NaiveDate) -> t::Date {
    m::date_to_days(d)
}

fn custom(fields: &m::CustomFields, reads: &BTreeSet<&str>) -> Vec<t::CustomField> {
    fields
        .iter()
        .filter(|(name, _)| reads.contains(name.as_str()))
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

fn lead(l: &m::Lead, reads: &BTreeSet<&str>) -> t::Lead {
    t::Lead {
        id: l.id.clone(),
        company: l.company.clone(),
        contact_name: l.contact_name.clone(),
        email: l.email.clone(),
        topic: l.topic.clone(),
        source: l.source.map(Into::into),
        engagement: l.engagement.into(),
        budget: l.budget.as_ref().map(money),
        budget_status: l.budget_status.map(Into::into),
        decision_maker_known: l.decision_maker_known,
        need: l.need.map(Into::into),
        timeframe: l.timeframe.map(Into::into),
        estimated_value: l.estimated_value.as_ref().map(money),
        estimated_close: l.estimated_close.map(day),
        existing_customer: l.existing_customer,
        custom: custom(&l.custom, reads),
    }
}

fn opportunity(o: &m::Opportunity, reads: &BTreeSet<&str>) -> t::Opportunity {
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
                kind: a.kind.into(),
                stage: a.stage.clone(),
                rating: a.rating,
                completed: a.completed,
                on: a.on.map(day),
            })
            .collect(),
        custom: custom(&o.custom, reads),
    }
}

fn candidate(k: &m::Candidate) -> c::Candidate {
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

// ---- calls ---------------------------------------------------------------------

pub(super) fn init(
    module: &RuleModule,
    store: &mut Store<StoreState>,
    policy: &str,
) -> wasmtime::Result<Result<OrgFacts, Refusal>> {
    let info = match module.crm_rules_module().call_init(&mut *store, policy)? {
        Ok(info) => info,
        Err(e) => return Ok(Err(Refusal::Rule(e.into()))),
    };
    // 0.1.0 lists its stages per call; they are the same every time, so one call
    // at load gives the org's stages for good.
    let ctx = t::Context {
        org_id: String::new(),
        now: 0,
        user: None,
        team: None,
    };
    let stages = match module.crm_rules_process_flow().call_stages(store, &ctx)? {
        Ok(stages) => stages,
        Err(e) => return Ok(Err(Refusal::Rule(e.into()))),
    };
    let stages = stages
        .into_iter()
        .map(|s| m::Stage {
            name: s.name,
            steps: s
                .steps
                .into_iter()
                .map(|p| m::Step {
                    name: p.name,
                    field: p.field,
                    required: p.required,
                })
                .collect(),
        })
        .collect();
    let text = Template::parse("text", "{0}").map_err(|e| wasmtime::format_err!(e))?;
    Ok(OrgFacts::new(
        ContractVersion::V0_1_0,
        info.name,
        info.version,
        stages,
        vec![text],
        InputQuery::everything(),
        info.reads_custom_fields,
    )
    .map_err(Refusal::BadOutput))
}

pub(super) fn decide(
    module: &RuleModule,
    store: &mut Store<StoreState>,
    ctx: &m::Context,
    facts: &OrgFacts,
    inputs: &[InputRef<'_>],
) -> wasmtime::Result<Vec<Result<Answer, Refusal>>> {
    let reads: BTreeSet<&str> = facts.custom_fields.iter().map(String::as_str).collect();
    let wctx = context(ctx);
    let rule = |e: t::RuleError| Refusal::Rule(e.into());
    let Some(first) = inputs.first() else {
        return Ok(Vec::new());
    };
    // 0.1.0 has batch calls for qualify and forecast only.
    let batched = inputs.len() > 1;
    Ok(match first {
        InputRef::Qualify(_) if batched => {
            let leads: Vec<t::Lead> = inputs
                .iter()
                .filter_map(|i| match i {
                    InputRef::Qualify(l) => Some(lead(l, &reads)),
                    _ => None,
                })
                .collect();
            let answers = module
                .crm_rules_qualification()
                .call_qualify_batch(store, &wctx, &leads)?;
            if answers.len() != inputs.len() {
                return Ok(short(answers.len(), inputs.len()));
            }
            answers
                .into_iter()
                .map(|a| a.map(|q| Answer::Qualify(qualification(q))).map_err(rule))
                .collect()
        }
        InputRef::Forecast(_) if batched => {
            let opps: Vec<t::Opportunity> = inputs
                .iter()
                .filter_map(|i| match i {
                    InputRef::Forecast(o) => Some(opportunity(o, &reads)),
                    _ => None,
                })
                .collect();
            let answers = module
                .crm_rules_forecasting()
                .call_forecast_batch(store, &wctx, &opps)?;
            if answers.len() != inputs.len() {
                return Ok(short(answers.len(), inputs.len()));
            }
            answers
                .into_iter()
                .map(|a| match a {
                    Ok(f) => forecast(f, facts)
                        .map(Answer::Forecast)
                        .map_err(Refusal::BadOutput),
                    Err(e) => Err(rule(e)),
                })
                .collect()
        }
        _ => {
            let mut out = Vec::with_capacity(inputs.len());
            for input in inputs {
                out.push(decide_one(
                    module,
                    &mut *store,
                    &wctx,
                    facts,
                    &reads,
                    *input,
                )?);
            }
            out
        }
    })
}

fn short(answered: usize, asked: usize) -> Vec<Result<Answer, Refusal>> {
    let message = format!("the module answered {answered} of {asked} records");
    (0..asked)
        .map(|_| Err(Refusal::BadOutput(message.clone())))
        .collect()
}

fn decide_one(
    module: &RuleModule,
    store: &mut Store<StoreState>,
    wctx: &t::Context,
    facts: &OrgFacts,
    reads: &BTreeSet<&str>,
    input: InputRef<'_>,
) -> wasmtime::Result<Result<Answer, Refusal>> {
    let rule = |e: t::RuleError| Refusal::Rule(e.into());
    Ok(match input {
        InputRef::Qualify(l) => module
            .crm_rules_qualification()
            .call_qualify(store, wctx, &lead(l, reads))?
            .map(|q| Answer::Qualify(qualification(q)))
            .map_err(rule),
        InputRef::Convert {
            lead: l,
            candidates,
        } => {
            let wcands: Vec<c::Candidate> = candidates.iter().map(candidate).collect();
            match module.crm_rules_conversion().call_convert(
                store,
                wctx,
                &lead(l, reads),
                &wcands,
            )? {
                Ok(plan) => conversion_plan(plan, facts, candidates)
                    .map(Answer::Convert)
                    .map_err(Refusal::BadOutput),
                Err(e) => Err(rule(e)),
            }
        }
        InputRef::Transition { opportunity: o, to } => module
            .crm_rules_process_flow()
            .call_check_transition(store, wctx, &opportunity(o, reads), to)?
            .map(|c| Answer::Transition(transition(c)))
            .map_err(rule),
        InputRef::Forecast(o) => match module.crm_rules_forecasting().call_forecast(
            store,
            wctx,
            &opportunity(o, reads),
        )? {
            Ok(f) => forecast(f, facts)
                .map(Answer::Forecast)
                .map_err(Refusal::BadOutput),
            Err(e) => Err(rule(e)),
        },
    })
}
