//! `crm:rules@0.2.0`, the latest contract: its bindings, and how the host lowers its
//! canonical records into it with the org's facts (stage names into indices, filled
//! step fields into step indices, only the texts and custom fields the module's
//! input query asks for).

use crm_rules_model as m;
use wasmtime::Store;

use super::facts::{InputQuery, OrgFacts};
use super::template::Template;
use super::{latest, ContractVersion, Refusal};
use crate::decision::{Answer, InputRef};
use crate::engine::StoreState;

/// Bindings of the `crm:rules@0.2.0` world.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wasmtime::component::bindgen!({
        world: "rule-module",
        path: "../wit/since_v0.2.0",
        additional_derives: [PartialEq],
    });
}

use bindings::crm::rules::types as t;

crate::contract::enums::enums_into!(t);
use bindings::exports::crm::rules::{conversion as c, module as md};
use wasmtime::component::Instance;

use super::exports::Exports;

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

pub(super) fn init(
    module: &Exports,
    instance: &Instance,
    store: &mut Store<StoreState>,
    org: &str,
    policy: &str,
) -> wasmtime::Result<Result<OrgFacts, Refusal>> {
    let info = match module.init(store, instance, org, policy)? {
        Ok(info) => info,
        Err(e) => return Ok(Err(Refusal::Rule(e.into()))),
    };
    Ok(facts(info).map_err(Refusal::BadOutput))
}

fn facts(info: md::ModuleInfo) -> Result<OrgFacts, String> {
    let stages = info
        .stages
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
    let templates = info
        .templates
        .iter()
        .enumerate()
        .map(|(i, t)| {
            Template::parse(&t.code, &t.text)
                .map_err(|e| format!("template {i} (`{}`): {e}", t.code))
        })
        .collect::<Result<_, _>>()?;
    let query = InputQuery {
        qualify: info.reads.qualify,
        convert: info.reads.convert,
        transition: info.reads.transition,
        forecast: info.reads.forecast,
    };
    OrgFacts::new(
        ContractVersion::V0_2_0,
        info.name,
        info.version,
        stages,
        templates,
        query,
        info.reads.custom_fields,
    )
}

/// A record lowered, or why the host cannot lower it (a stage the org does not have).
pub type Lowered<T> = Result<T, m::RuleError>;

fn context(ctx: &m::Context) -> t::Context {
    t::Context {
        now: ctx.now.timestamp(),
        user: ctx.user.clone(),
        team: ctx.team.clone(),
    }
}

/// The three bytes of an ISO 4217 code; anything else is refused with the field.
pub fn currency(code: &str, field: &str) -> Lowered<t::Currency> {
    match code.as_bytes() {
        [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_alphabetic()) => Ok(t::Currency {
            a: a.to_ascii_uppercase(),
            b: b.to_ascii_uppercase(),
            c: c.to_ascii_uppercase(),
        }),
        _ => Err(m::RuleError::new(
            m::ErrorCode::InvalidValue,
            format!(
                "currency `{}` is not a three-letter ISO 4217 code",
                super::quoted(code)
            ),
            Some(field),
        )),
    }
}

fn money(v: &m::Money, field: &str) -> Lowered<t::Money> {
    Ok(t::Money {
        amount: v.amount,
        // The field's path is spelled out only when the currency is wrong.
        currency: currency(&v.currency, field).map_err(|mut e| {
            e.field = Some(format!("{field}.currency"));
            e
        })?,
    })
}

fn day(d: m::chrono::NaiveDate) -> t::Date {
    m::date_to_days(d)
}

fn custom(fields: &m::CustomFields, facts: &OrgFacts) -> Vec<t::CustomValue> {
    let mut out = Vec::new();
    // The shorter list drives the walk: a record with 30 custom fields costs what
    // the two the rules read cost.
    if facts.custom_fields.len() <= fields.len() {
        for (i, name) in facts.custom_fields.iter().enumerate() {
            if let Some(value) = fields.get(name) {
                out.push(custom_value(i as u32, value));
            }
        }
    } else {
        for (name, value) in fields {
            if let Some(i) = facts.custom(name) {
                out.push(custom_value(i, value));
            }
        }
    }
    out
}

fn custom_value(field: u32, value: &m::FieldValue) -> t::CustomValue {
    t::CustomValue {
        field,
        value: match value {
            m::FieldValue::Text(s) => t::FieldValue::Text(s.clone()),
            m::FieldValue::Number(n) => t::FieldValue::Number(*n),
            m::FieldValue::Flag(b) => t::FieldValue::Flag(*b),
            m::FieldValue::Day { date } => t::FieldValue::Day(day(*date)),
        },
    }
}

fn present(text: Option<&String>) -> bool {
    text.is_some_and(|t| !t.trim().is_empty())
}

/// A canonical lead in the contract: the texts `reads` asks for, presence flags
/// for all, the custom fields the module reads.
pub fn lead(l: &m::Lead, reads: t::LeadTexts, facts: &OrgFacts) -> Lowered<t::Lead> {
    let mut present_texts = t::LeadTexts::empty();
    for (flag, text) in [
        (t::LeadTexts::ID, Some(&l.id)),
        (t::LeadTexts::COMPANY, l.company.as_ref()),
        (t::LeadTexts::CONTACT_NAME, l.contact_name.as_ref()),
        (t::LeadTexts::EMAIL, l.email.as_ref()),
        (t::LeadTexts::TOPIC, l.topic.as_ref()),
    ] {
        if present(text) {
            present_texts |= flag;
        }
    }
    let text = |flag: t::LeadTexts, value: Option<&String>| {
        if reads.contains(flag) {
            value.cloned()
        } else {
            None
        }
    };
    Ok(t::Lead {
        present: present_texts,
        id: text(t::LeadTexts::ID, Some(&l.id)),
        company: text(t::LeadTexts::COMPANY, l.company.as_ref()),
        contact_name: text(t::LeadTexts::CONTACT_NAME, l.contact_name.as_ref()),
        email: text(t::LeadTexts::EMAIL, l.email.as_ref()),
        topic: text(t::LeadTexts::TOPIC, l.topic.as_ref()),
        source: l.source.map(Into::into),
        engagement: l.engagement.into(),
        budget: l.budget.as_ref().map(|v| money(v, "budget")).transpose()?,
        budget_status: l.budget_status.map(Into::into),
        decision_maker_known: l.decision_maker_known,
        need: l.need.map(Into::into),
        timeframe: l.timeframe.map(Into::into),
        estimated_value: l
            .estimated_value
            .as_ref()
            .map(|v| money(v, "estimated_value"))
            .transpose()?,
        estimated_close: l.estimated_close.map(day),
        existing_customer: l.existing_customer,
        custom: custom(&l.custom, facts),
    })
}

/// Indices of the steps whose field holds a value: named in `filled`, or a custom
/// field of the record that is filled in.
fn steps_done(o: &m::Opportunity, facts: &OrgFacts) -> Vec<u32> {
    let mut done: Vec<u32> = o
        .filled
        .iter()
        .flat_map(|field| facts.steps_filled_by(field))
        .collect();
    if !o.custom.is_empty() {
        done.extend(
            facts
                .steps
                .iter()
                .zip(0u32..)
                .filter(|(step, _)| {
                    o.custom
                        .get(&step.field)
                        .is_some_and(m::FieldValue::is_filled)
                })
                .map(|(_, i)| i),
        );
    }
    // In step order, each once (a field may be filled and custom both).
    done.sort_unstable();
    done.dedup();
    done
}

/// A canonical opportunity in the contract: stage names as indices, filled step
/// fields as done steps, the parts `reads` asks for.
pub fn opportunity(
    o: &m::Opportunity,
    reads: t::OpportunityParts,
    facts: &OrgFacts,
) -> Lowered<t::Opportunity> {
    let stage = facts
        .stage(&o.stage)
        .ok_or_else(|| facts.unknown_stage(&o.stage, "stage"))?;
    let activities = if reads.contains(t::OpportunityParts::ACTIVITIES) {
        o.activities
            .iter()
            .enumerate()
            .map(|(i, a)| {
                Ok(t::Activity {
                    kind: a.kind.into(),
                    stage: facts.stage(&a.stage).ok_or_else(|| {
                        facts.unknown_stage(&a.stage, &format!("activities[{i}].stage"))
                    })?,
                    rating: a.rating,
                    completed: a.completed,
                    on: a.on.map(day),
                })
            })
            .collect::<Lowered<_>>()?
    } else {
        Vec::new()
    };
    Ok(t::Opportunity {
        id: reads
            .contains(t::OpportunityParts::ID)
            .then(|| o.id.clone()),
        name: reads
            .contains(t::OpportunityParts::NAME)
            .then(|| o.name.clone()),
        stage,
        status: match o.status {
            m::OpportunityStatus::Open => t::OpportunityStatus::Open,
            m::OpportunityStatus::Won => t::OpportunityStatus::Won,
            m::OpportunityStatus::Lost => t::OpportunityStatus::Lost,
        },
        amount: o.amount.as_ref().map(|v| money(v, "amount")).transpose()?,
        close_date: o.close_date.map(day),
        steps_done: steps_done(o, facts),
        activities,
        custom: if reads.contains(t::OpportunityParts::CUSTOM) {
            custom(&o.custom, facts)
        } else {
            Vec::new()
        },
    })
}

/// The candidates in ascending id order, as the contract asks (rules break ties by
/// position, which is then by id, whatever order the host found them in), and
/// where each came from in the given list. A contact's or opportunity's account
/// becomes the index of that account among them.
pub fn candidates(list: &[m::Candidate]) -> (Vec<c::Candidate>, Vec<u32>) {
    let mut order: Vec<u32> = (0..list.len() as u32).collect();
    order.sort_by(|a, b| {
        list[*a as usize]
            .id
            .as_bytes()
            .cmp(list[*b as usize].id.as_bytes())
    });
    let lowered = order
        .iter()
        .map(|&i| {
            let k = &list[i as usize];
            c::Candidate {
                kind: match k.kind {
                    m::RecordKind::Account => c::RecordKind::Account,
                    m::RecordKind::Contact => c::RecordKind::Contact,
                    m::RecordKind::Opportunity => c::RecordKind::Opportunity,
                },
                name: k.name.clone(),
                email: k.email.clone(),
                active: k.active,
                account: k.account_id.as_deref().and_then(|id| {
                    order
                        .iter()
                        .position(|&j| {
                            let a = &list[j as usize];
                            a.kind == m::RecordKind::Account && a.id == id
                        })
                        .map(|at| at as u32)
                }),
            }
        })
        .collect();
    (lowered, order)
}

/// Turns the candidate indices of a plan (which count in id order) back into
/// indices of the list the host was given.
fn given_order(plan: &mut latest::ConversionPlan, order: &[u32]) {
    let back = |i: &mut u32| {
        if let Some(given) = order.get(*i as usize) {
            *i = *given;
        }
    };
    for action in [&mut plan.account, &mut plan.contact, &mut plan.opportunity] {
        if let latest::RecordAction::Link(i) = action {
            back(i);
        }
    }
    let args = plan
        .reasons
        .iter_mut()
        .flat_map(|r| r.args.iter_mut())
        .chain(
            plan.opportunity_name
                .iter_mut()
                .flat_map(|m| m.args.iter_mut()),
        );
    for arg in args {
        if let latest::Arg::Candidate(i) = arg {
            back(i);
        }
    }
}

/// One input, lowered.
enum Request {
    Qualify(t::Lead),
    /// With where each candidate (in id order) was in the given list.
    Convert(c::ConversionRequest, Vec<u32>),
    Transition(latest::TransitionRequest),
    Forecast(t::Opportunity),
}

fn lower(input: InputRef<'_>, query: &InputQuery, facts: &OrgFacts) -> Lowered<Request> {
    Ok(match input {
        InputRef::Qualify(l) => Request::Qualify(lead(l, query.qualify, facts)?),
        InputRef::Convert {
            lead: l,
            candidates: k,
        } => {
            let (candidates, order) = candidates(k);
            Request::Convert(
                c::ConversionRequest {
                    lead: lead(l, query.convert, facts)?,
                    candidates,
                },
                order,
            )
        }
        InputRef::Transition { opportunity: o, to } => {
            Request::Transition(latest::TransitionRequest {
                to_stage: facts
                    .stage(to)
                    .ok_or_else(|| facts.unknown_stage(to, "to"))?,
                opportunity: opportunity(o, query.transition, facts)?,
            })
        }
        InputRef::Forecast(o) => Request::Forecast(opportunity(o, query.forecast, facts)?),
    })
}

type Answers = Vec<Result<Answer, t::RuleError>>;

/// Calls the module with the lowered requests, all of one kind: the single-record
/// export for one, the batch export for more.
fn call(
    module: &Exports,
    instance: &Instance,
    store: &mut Store<StoreState>,
    ctx: &t::Context,
    requests: Vec<Request>,
) -> wasmtime::Result<Answers> {
    fn one<T>(answer: Result<T, t::RuleError>, wrap: fn(T) -> Answer) -> Answers {
        vec![answer.map(wrap)]
    }
    fn many<T>(answers: Vec<Result<T, t::RuleError>>, wrap: fn(T) -> Answer) -> Answers {
        answers.into_iter().map(|a| a.map(wrap)).collect()
    }
    let single = requests.len() == 1;
    let Some(first) = requests.first() else {
        return Ok(Vec::new());
    };
    Ok(match first {
        Request::Qualify(_) => {
            let leads: Vec<t::Lead> = requests
                .into_iter()
                .filter_map(|r| match r {
                    Request::Qualify(l) => Some(l),
                    _ => None,
                })
                .collect();
            if single {
                one(
                    module.qualify(store, instance, ctx, &leads[0])?,
                    Answer::Qualify,
                )
            } else {
                many(
                    module.qualify_batch(store, instance, ctx, &leads)?,
                    Answer::Qualify,
                )
            }
        }
        Request::Convert(..) => {
            let (reqs, orders): (Vec<c::ConversionRequest>, Vec<Vec<u32>>) = requests
                .into_iter()
                .filter_map(|r| match r {
                    Request::Convert(c, order) => Some((c, order)),
                    _ => None,
                })
                .unzip();
            let answers = if single {
                vec![module.convert(store, instance, ctx, &reqs[0])?]
            } else {
                module.convert_batch(store, instance, ctx, &reqs)?
            };
            let no_order: &[u32] = &[];
            answers
                .into_iter()
                .zip(
                    orders
                        .iter()
                        .map(Vec::as_slice)
                        .chain(std::iter::repeat(no_order)),
                )
                .map(|(answer, order)| {
                    answer.map(|mut plan| {
                        given_order(&mut plan, order);
                        Answer::Convert(plan)
                    })
                })
                .collect()
        }
        Request::Transition(_) => {
            let reqs: Vec<latest::TransitionRequest> = requests
                .into_iter()
                .filter_map(|r| match r {
                    Request::Transition(t) => Some(t),
                    _ => None,
                })
                .collect();
            if single {
                one(
                    module.check_transition(store, instance, ctx, &reqs[0])?,
                    Answer::Transition,
                )
            } else {
                many(
                    module.check_transition_batch(store, instance, ctx, &reqs)?,
                    Answer::Transition,
                )
            }
        }
        Request::Forecast(_) => {
            let opps: Vec<t::Opportunity> = requests
                .into_iter()
                .filter_map(|r| match r {
                    Request::Forecast(o) => Some(o),
                    _ => None,
                })
                .collect();
            if single {
                one(
                    module.forecast(store, instance, ctx, &opps[0])?,
                    Answer::Forecast,
                )
            } else {
                many(
                    module.forecast_batch(store, instance, ctx, &opps)?,
                    Answer::Forecast,
                )
            }
        }
    })
}

pub(super) fn decide(
    module: &Exports,
    instance: &Instance,
    store: &mut Store<StoreState>,
    ctx: &m::Context,
    facts: &OrgFacts,
    inputs: &[InputRef<'_>],
) -> wasmtime::Result<Vec<Result<Answer, Refusal>>> {
    let mut out: Vec<Option<Result<Answer, Refusal>>> = Vec::with_capacity(inputs.len());
    let mut requests = Vec::with_capacity(inputs.len());
    for input in inputs {
        match lower(*input, &facts.query, facts) {
            Ok(request) => {
                requests.push(request);
                out.push(None);
            }
            Err(e) => out.push(Some(Err(Refusal::Rule(e)))),
        }
    }
    let asked = requests.len();
    let answers = call(module, instance, store, &context(ctx), requests)?;
    if answers.len() != asked {
        let message = format!("the module answered {} of {asked} records", answers.len());
        return Ok(inputs
            .iter()
            .map(|_| Err(Refusal::BadOutput(message.clone())))
            .collect());
    }
    let mut answers = answers.into_iter();
    Ok(out
        .into_iter()
        .map(|slot| match slot {
            Some(refused) => refused,
            None => match answers.next() {
                Some(answer) => answer.map_err(|e| Refusal::Rule(e.into())),
                None => Err(Refusal::BadOutput(
                    "the module answered too few records".into(),
                )),
            },
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(stages: &[(&str, &[&str])]) -> OrgFacts {
        let stages = stages
            .iter()
            .map(|(name, fields)| m::Stage {
                name: (*name).to_owned(),
                steps: fields
                    .iter()
                    .map(|f| m::Step {
                        name: format!("fill {f}"),
                        field: (*f).to_owned(),
                        required: true,
                    })
                    .collect(),
            })
            .collect();
        OrgFacts::new(
            ContractVersion::V0_2_0,
            "test".into(),
            "1".into(),
            stages,
            Vec::new(),
            InputQuery::everything(),
            Vec::new(),
        )
        .expect("facts")
    }

    /// What `steps_done` computes, the slow and obvious way.
    fn every_step_checked(o: &m::Opportunity, facts: &OrgFacts) -> Vec<u32> {
        (0u32..)
            .zip(&facts.steps)
            .filter(|(_, step)| {
                o.filled.contains(&step.field)
                    || o.custom
                        .get(&step.field)
                        .is_some_and(m::FieldValue::is_filled)
            })
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn done_steps_are_in_step_order_each_once_from_filled_and_custom_fields() {
        // `budget` fills a step in two stages; `owner` fills none.
        let facts = facts(&[
            ("Qualify", &["budget", "decisionmaker"]),
            ("Develop", &["customerneed", "budget"]),
            ("Propose", &["proposal"]),
        ]);
        let text = |t: &str| m::FieldValue::Text(t.to_owned());
        // Each case: the filled fields, and the custom fields with their values.
        type Case<'a> = (Vec<&'a str>, Vec<(&'a str, m::FieldValue)>);
        let cases: Vec<Case<'_>> = vec![
            (vec![], vec![]),
            (vec!["proposal", "owner", "budget"], vec![]),
            (vec!["customerneed"], vec![("proposal", text("draft sent"))]),
            // Filled and custom both, and a custom text of blanks (not filled).
            (
                vec!["decisionmaker"],
                vec![("decisionmaker", text("Ada")), ("budget", text("  "))],
            ),
            (
                vec!["budget", "budget"],
                vec![("budget", m::FieldValue::Flag(false))],
            ),
        ];
        for (filled, custom) in cases {
            let o = m::Opportunity {
                filled: filled.iter().map(|f| (*f).to_owned()).collect(),
                custom: custom.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                ..m::Opportunity::default()
            };
            assert_eq!(
                steps_done(&o, &facts),
                every_step_checked(&o, &facts),
                "filled {:?}, custom {:?}",
                o.filled,
                o.custom
            );
        }
        let all = m::Opportunity {
            filled: vec!["budget".into(), "decisionmaker".into()],
            ..m::Opportunity::default()
        };
        assert_eq!(steps_done(&all, &facts), vec![0, 1, 3]);
    }
}
