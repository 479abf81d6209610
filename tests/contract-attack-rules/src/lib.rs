//! A rule module that answers outside the `crm:rules@0.2.0` contract, written from
//! scratch against the contract (not with the reference kit), so the host's checks
//! are tested against what any module could send.
//!
//! 0.2.0 answers refer to the org's facts by index (templates, stages, steps,
//! custom fields, candidates): each attack sends an index that does not exist, or
//! a template with too few arguments. The record's id picks the attack (the module
//! reads ids and nothing else); any other id gets an answer inside the contract.
//!
//! | decision | id | what the answer does |
//! |---|---|---|
//! | qualify | `template-out-of-range` | a reason with template 99 (the module declared 3) |
//! | qualify | `too-few-arguments` | template `pair` (`{0} and {1}`) with one argument |
//! | qualify | `stage-argument-out-of-range` | an argument naming stage 7 (the org has 1) |
//! | qualify | `custom-field-out-of-range` | needs information on custom field 5 (it reads 2) |
//! | qualify | `step-out-of-range` | an argument naming step 9 (the org has 1) |
//! | qualify | `due-date-out-of-range` | a follow-up due on day 2147483647 |
//! | qualify | `personal` | reasons quoting the values of the contact's name and email, the custom fields `new_nationalid` and `new_birthdate`, and the company |
//! | convert | `link-out-of-range` | links the account to candidate 5 |
//! | convert | `candidate-argument-out-of-range` | a reason naming candidate 5 |
//! | convert | `initial-stage-out-of-range` | starts the opportunity in stage 9 |
//! | transition | `missing-step-out-of-range` | says step 9 is missing |
//! | forecast | `stage-score-out-of-range` | scores stage 4 |
#![deny(missing_docs)]
// WebAssembly exports only: a native build of the workspace compiles an empty
// library instead of exports its linker cannot name.
#![cfg(target_family = "wasm")]

#[allow(missing_docs, unsafe_code, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        world: "rule-module",
        path: "../../wit/since_v0.2.0",
    });
}

use bindings::crm::rules::types::{
    Arg, Context, FieldRef, Lead, LeadField, LeadTexts, Message, Opportunity, OpportunityParts,
    Rating, Reason, RuleError,
};
use bindings::exports::crm::rules::{
    conversion as c, forecasting as f, module as md, process_flow as p, qualification as q,
};

struct ContractAttacks;

bindings::export!(ContractAttacks with_types_in bindings);

/// Template indices, as declared in `init`.
const OK: u32 = 0;
const PAIR: u32 = 1;
const QUOTE: u32 = 2;

fn reason(template: u32, args: Vec<Arg>) -> Reason {
    Reason {
        template,
        points: None,
        args,
    }
}

fn ok() -> Vec<Reason> {
    vec![reason(OK, Vec::new())]
}

impl md::Guest for ContractAttacks {
    fn init(_org_id: String, _policy: String) -> Result<md::ModuleInfo, RuleError> {
        let template = |code: &str, text: &str| md::Template {
            code: code.to_owned(),
            text: text.to_owned(),
        };
        let parts = OpportunityParts::ID;
        Ok(md::ModuleInfo {
            name: "contract-attack-rules".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            stages: vec![md::Stage {
                name: "Qualify".to_owned(),
                steps: vec![md::Step {
                    name: "Budget".to_owned(),
                    field: "budgetamount".to_owned(),
                    required: true,
                }],
            }],
            templates: vec![
                template("ok", "ok"),
                template("pair", "{0} and {1}"),
                template("quote", "quoted: {0}"),
            ],
            reads: md::InputQuery {
                qualify: LeadTexts::ID,
                convert: LeadTexts::ID,
                transition: parts,
                forecast: parts,
                custom_fields: vec!["new_nationalid".to_owned(), "new_birthdate".to_owned()],
            },
        })
    }
}

fn qualify_one(lead: &Lead) -> Result<q::Qualification, RuleError> {
    let mut answer = q::Qualification {
        outcome: q::Outcome::Nurture,
        rating: Rating::Cold,
        score: 10,
        reasons: ok(),
        follow_ups: Vec::new(),
    };
    match lead.id.as_deref().unwrap_or_default() {
        "template-out-of-range" => answer.reasons = vec![reason(99, Vec::new())],
        "too-few-arguments" => answer.reasons = vec![reason(PAIR, vec![Arg::Integer(1)])],
        "stage-argument-out-of-range" => answer.reasons = vec![reason(QUOTE, vec![Arg::Stage(7)])],
        "custom-field-out-of-range" => {
            answer.outcome = q::Outcome::NeedsInformation(vec![FieldRef::Custom(5)])
        }
        "step-out-of-range" => {
            answer.reasons = vec![reason(QUOTE, vec![Arg::Field(FieldRef::Step(9))])]
        }
        "due-date-out-of-range" => {
            answer.follow_ups = vec![q::FollowUp {
                kind: q::FollowUpKind::Call,
                subject: Message {
                    template: OK,
                    args: Vec::new(),
                },
                due: i32::MAX,
            }]
        }
        "personal" => {
            let quote = |field: FieldRef| reason(QUOTE, vec![Arg::Value(field)]);
            answer.reasons = vec![
                quote(FieldRef::Lead(LeadField::ContactName)),
                quote(FieldRef::Lead(LeadField::Email)),
                quote(FieldRef::Custom(0)),
                quote(FieldRef::Custom(1)),
                quote(FieldRef::Lead(LeadField::Company)),
            ]
        }
        _ => {}
    }
    Ok(answer)
}

impl q::Guest for ContractAttacks {
    fn qualify(_ctx: Context, lead: Lead) -> Result<q::Qualification, RuleError> {
        qualify_one(&lead)
    }

    fn qualify_batch(_ctx: Context, leads: Vec<Lead>) -> Vec<Result<q::Qualification, RuleError>> {
        leads.iter().map(qualify_one).collect()
    }
}

fn convert_one(lead: &Lead) -> Result<c::ConversionPlan, RuleError> {
    let mut plan = c::ConversionPlan {
        account: c::RecordAction::Create,
        contact: c::RecordAction::Create,
        opportunity: c::RecordAction::Create,
        opportunity_name: None,
        initial_stage: 0,
        estimated_value: None,
        estimated_close: None,
        skipped_lead_stage: false,
        reasons: ok(),
    };
    match lead.id.as_deref().unwrap_or_default() {
        "link-out-of-range" => plan.account = c::RecordAction::Link(5),
        "candidate-argument-out-of-range" => {
            plan.reasons = vec![reason(QUOTE, vec![Arg::Candidate(5)])]
        }
        "initial-stage-out-of-range" => plan.initial_stage = 9,
        _ => {}
    }
    Ok(plan)
}

impl c::Guest for ContractAttacks {
    fn convert(
        _ctx: Context,
        lead: Lead,
        _candidates: Vec<c::Candidate>,
    ) -> Result<c::ConversionPlan, RuleError> {
        convert_one(&lead)
    }

    fn convert_batch(
        _ctx: Context,
        requests: Vec<c::ConversionRequest>,
    ) -> Vec<Result<c::ConversionPlan, RuleError>> {
        requests.iter().map(|r| convert_one(&r.lead)).collect()
    }
}

fn transition_one(opportunity: &Opportunity) -> Result<p::TransitionCheck, RuleError> {
    let missing = match opportunity.id.as_deref().unwrap_or_default() {
        "missing-step-out-of-range" => vec![FieldRef::Step(9)],
        _ => Vec::new(),
    };
    Ok(p::TransitionCheck {
        allowed: missing.is_empty(),
        kind: p::MoveKind::Stay,
        missing,
        reasons: ok(),
    })
}

impl p::Guest for ContractAttacks {
    fn check_transition(
        _ctx: Context,
        opportunity: Opportunity,
        _to_stage: u32,
    ) -> Result<p::TransitionCheck, RuleError> {
        transition_one(&opportunity)
    }

    fn check_transition_batch(
        _ctx: Context,
        requests: Vec<p::TransitionRequest>,
    ) -> Vec<Result<p::TransitionCheck, RuleError>> {
        requests
            .iter()
            .map(|r| transition_one(&r.opportunity))
            .collect()
    }
}

fn forecast_one(opportunity: &Opportunity) -> Result<f::WinForecast, RuleError> {
    let stage = match opportunity.id.as_deref().unwrap_or_default() {
        "stage-score-out-of-range" => 4,
        _ => 0,
    };
    Ok(f::WinForecast {
        probability: 0.5,
        weighted_value: None,
        stages: vec![f::StageScore {
            stage,
            weight: 1.0,
            activities: 0,
            mean_rating: 0.0,
        }],
        reasons: ok(),
    })
}

impl f::Guest for ContractAttacks {
    fn forecast(_ctx: Context, opportunity: Opportunity) -> Result<f::WinForecast, RuleError> {
        forecast_one(&opportunity)
    }

    fn forecast_batch(
        _ctx: Context,
        opportunities: Vec<Opportunity>,
    ) -> Vec<Result<f::WinForecast, RuleError>> {
        opportunities.iter().map(forecast_one).collect()
    }
}
