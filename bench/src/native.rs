//! The native baseline: the reference rules compiled into this process (the guest
//! crate as a Rust library), fed exactly what a module is fed. A record goes
//! through the host's own lowering (the org's facts: stage indices, done steps,
//! the texts and custom fields the input query asks for), is moved into the guest
//! crate's types, decided, and the answer is moved back into the host's. So the
//! native figures and ours differ by the sandbox alone: the component boundary,
//! fuel and the instance, not the work around them.
//!
//! The two sides' types come from the same WIT (`wasmtime::component::bindgen!`
//! on the host, `wit_bindgen::generate!` in the guest), so the conversions below
//! are moves, field by field.

use std::sync::Arc;

use crm_rules::contract::{latest as h, lower, OrgFacts};
use crm_rules::decision::{Answer, InputRef};
use crm_rules::model as m;
use crm_rules::pipeline::Decider;
use crm_rules::{Decided, Error, Host, Provenance};
use guest_rules::contract as g;
use guest_rules::RuleModule as _;

/// The reference rules of one org, called natively.
pub struct Native {
    rules: guest_rules::Reference,
    facts: Arc<OrgFacts>,
    by: Arc<Provenance>,
}

impl Native {
    /// The rules of `policy`, with the facts the host learned for `org` from the
    /// same policy (so lowering is the same on both sides).
    pub fn new(host: &Host, org: &str, policy: &str) -> Native {
        let rules = guest_rules::Reference::init(org, policy).expect("the policy is valid");
        let facts = host.facts(org).expect("the org is loaded");
        Native {
            rules,
            facts,
            by: Arc::new(Provenance {
                org: org.to_owned(),
                version: "native".to_owned(),
                module_hash: String::new(),
                fuel_used: 0,
                records: 1,
            }),
        }
    }

    fn context(ctx: &m::Context) -> g::Context {
        g::Context {
            now: ctx.now.timestamp(),
            user: ctx.user.clone(),
            team: ctx.team.clone(),
        }
    }

    /// Qualifies a lead.
    pub fn qualify(&self, ctx: &m::Context, lead: &m::Lead) -> h::Qualification {
        let lowered = lower::lead(lead, self.facts.query.qualify, &self.facts).expect("lowers");
        let answer = self
            .rules
            .qualify(&Self::context(ctx), &lead_in(lowered))
            .expect("decides");
        qualification_out(answer)
    }

    /// Checks a move to `to`.
    pub fn check_transition(
        &self,
        ctx: &m::Context,
        opportunity: &m::Opportunity,
        to: &str,
    ) -> h::TransitionCheck {
        let lowered = lower::opportunity(opportunity, self.facts.query.transition, &self.facts)
            .expect("lowers");
        let to = self.facts.stage(to).expect("a stage of the org");
        let answer = self
            .rules
            .check_transition(&Self::context(ctx), &opportunity_in(lowered), to)
            .expect("decides");
        transition_out(answer)
    }

    /// Forecasts an opportunity.
    pub fn forecast(&self, ctx: &m::Context, opportunity: &m::Opportunity) -> h::WinForecast {
        let lowered = lower::opportunity(opportunity, self.facts.query.forecast, &self.facts)
            .expect("lowers");
        let answer = self
            .rules
            .forecast(&Self::context(ctx), &opportunity_in(lowered))
            .expect("decides");
        forecast_out(answer)
    }
}

impl Decider for Native {
    fn decide_batch(
        &self,
        ctx: &m::Context,
        inputs: &[InputRef<'_>],
    ) -> crm_rules::Result<Vec<crm_rules::Result<Decided<Answer>>>> {
        Ok(inputs
            .iter()
            .map(|input| {
                let value = match *input {
                    InputRef::Qualify(lead) => Answer::Qualify(self.qualify(ctx, lead)),
                    InputRef::Transition { opportunity, to } => {
                        Answer::Transition(self.check_transition(ctx, opportunity, to))
                    }
                    InputRef::Forecast(opportunity) => {
                        Answer::Forecast(self.forecast(ctx, opportunity))
                    }
                    InputRef::Convert { .. } => {
                        return Err(Error::Internal(
                            "the native baseline does not convert".into(),
                        ))
                    }
                };
                Ok(Decided {
                    value,
                    by: self.by.clone(),
                    facts: self.facts.clone(),
                })
            })
            .collect())
    }
}

/// Converts between two enums generated from the same WIT enum.
macro_rules! same_enum {
    ($from:path => $to:path: $($variant:ident),+ $(,)?) => {{
        |v: $from| -> $to {
            match v {
                $(<$from>::$variant => <$to>::$variant),+
            }
        }
    }};
}

fn currency_in(c: h::Currency) -> g::Currency {
    g::Currency {
        a: c.a,
        b: c.b,
        c: c.c,
    }
}

fn money_in(v: h::Money) -> g::Money {
    g::Money {
        amount: v.amount,
        currency: currency_in(v.currency),
    }
}

fn custom_in(fields: Vec<h::CustomValue>) -> Vec<g::CustomValue> {
    fields
        .into_iter()
        .map(|c| g::CustomValue {
            field: c.field,
            value: match c.value {
                h::FieldValue::Text(t) => g::FieldValue::Text(t),
                h::FieldValue::Number(n) => g::FieldValue::Number(n),
                h::FieldValue::Flag(b) => g::FieldValue::Flag(b),
                h::FieldValue::Day(d) => g::FieldValue::Day(d),
            },
        })
        .collect()
}

fn lead_in(l: h::Lead) -> g::Lead {
    let mut present = g::LeadTexts::empty();
    for (host, guest) in [
        (h::LeadTexts::ID, g::LeadTexts::ID),
        (h::LeadTexts::COMPANY, g::LeadTexts::COMPANY),
        (h::LeadTexts::CONTACT_NAME, g::LeadTexts::CONTACT_NAME),
        (h::LeadTexts::EMAIL, g::LeadTexts::EMAIL),
        (h::LeadTexts::TOPIC, g::LeadTexts::TOPIC),
    ] {
        if l.present.contains(host) {
            present |= guest;
        }
    }
    let source = same_enum!(h::LeadSource => g::LeadSource: WebForm, PhoneInquiry,
        EmployeeReferral, ExternalReferral, Partner, Advertisement, PublicRelations, Seminar,
        TradeShow, PurchasedList, WordOfMouth, Other);
    let engagement = same_enum!(h::Engagement => g::Engagement: None, Content, Inquiry,
        Conversation, Evaluation, Proposal, Contract);
    let budget = same_enum!(h::BudgetStatus => g::BudgetStatus: NoCommittedBudget, MayBuy,
        CanBuy, WillBuy);
    let need = same_enum!(h::Need => g::Need: MustHave, ShouldHave, GoodToHave, NoNeed);
    let timeframe = same_enum!(h::Timeframe => g::Timeframe: Immediate, ThisQuarter,
        NextQuarter, ThisYear, Unknown);
    g::Lead {
        present,
        id: l.id,
        company: l.company,
        contact_name: l.contact_name,
        email: l.email,
        topic: l.topic,
        source: l.source.map(source),
        engagement: engagement(l.engagement),
        budget: l.budget.map(money_in),
        budget_status: l.budget_status.map(budget),
        decision_maker_known: l.decision_maker_known,
        need: l.need.map(need),
        timeframe: l.timeframe.map(timeframe),
        estimated_value: l.estimated_value.map(money_in),
        estimated_close: l.estimated_close,
        existing_customer: l.existing_customer,
        custom: custom_in(l.custom),
    }
}

fn opportunity_in(o: h::Opportunity) -> g::Opportunity {
    let kind = same_enum!(h::ActivityKind => g::ActivityKind: Call, Email, Meeting, Task, Other);
    let status = same_enum!(h::OpportunityStatus => g::OpportunityStatus: Open, Won, Lost);
    g::Opportunity {
        id: o.id,
        name: o.name,
        stage: o.stage,
        status: status(o.status),
        amount: o.amount.map(money_in),
        close_date: o.close_date,
        steps_done: o.steps_done,
        activities: o
            .activities
            .into_iter()
            .map(|a| g::Activity {
                kind: kind(a.kind),
                stage: a.stage,
                rating: a.rating,
                completed: a.completed,
                on: a.on,
            })
            .collect(),
        custom: custom_in(o.custom),
    }
}

fn money_out(v: g::Money) -> h::Money {
    h::Money {
        amount: v.amount,
        currency: h::Currency {
            a: v.currency.a,
            b: v.currency.b,
            c: v.currency.c,
        },
    }
}

fn field_ref_out(f: g::FieldRef) -> h::FieldRef {
    let lead = same_enum!(g::LeadField => h::LeadField: Id, Company, ContactName, Email, Topic,
        Source, Engagement, Budget, BudgetStatus, DecisionMakerKnown, Need, Timeframe,
        EstimatedValue, EstimatedClose, ExistingCustomer);
    match f {
        g::FieldRef::Lead(l) => h::FieldRef::Lead(lead(l)),
        g::FieldRef::Custom(i) => h::FieldRef::Custom(i),
        g::FieldRef::Step(i) => h::FieldRef::Step(i),
        g::FieldRef::Named(n) => h::FieldRef::Named(n),
    }
}

fn args_out(args: Vec<g::Arg>) -> Vec<h::Arg> {
    args.into_iter()
        .map(|a| match a {
            g::Arg::Integer(n) => h::Arg::Integer(n),
            g::Arg::Number(n) => h::Arg::Number(n),
            g::Arg::Text(t) => h::Arg::Text(t),
            g::Arg::Stage(s) => h::Arg::Stage(s),
            g::Arg::Field(f) => h::Arg::Field(field_ref_out(f)),
            g::Arg::Value(f) => h::Arg::Value(field_ref_out(f)),
            g::Arg::Fields(fs) => h::Arg::Fields(fs.into_iter().map(field_ref_out).collect()),
            g::Arg::Candidate(c) => h::Arg::Candidate(c),
        })
        .collect()
}

fn reasons_out(reasons: Vec<g::Reason>) -> Vec<h::Reason> {
    reasons
        .into_iter()
        .map(|r| h::Reason {
            template: r.template,
            points: r.points,
            args: args_out(r.args),
        })
        .collect()
}

fn qualification_out(q: g::Qualification) -> h::Qualification {
    let reason = same_enum!(g::DisqualifyReason => h::DisqualifyReason: Lost, CannotContact,
        NoLongerInterested, Canceled);
    let rating = same_enum!(g::Rating => h::Rating: Hot, Warm, Cold);
    let kind = same_enum!(g::FollowUpKind => h::FollowUpKind: Call, Email, Meeting, Task);
    h::Qualification {
        outcome: match q.outcome {
            g::Outcome::Qualified => h::Outcome::Qualified,
            g::Outcome::Nurture => h::Outcome::Nurture,
            g::Outcome::Disqualified(r) => h::Outcome::Disqualified(reason(r)),
            g::Outcome::NeedsInformation(fields) => {
                h::Outcome::NeedsInformation(fields.into_iter().map(field_ref_out).collect())
            }
        },
        rating: rating(q.rating),
        score: q.score,
        reasons: reasons_out(q.reasons),
        follow_ups: q
            .follow_ups
            .into_iter()
            .map(|f| h::FollowUp {
                kind: kind(f.kind),
                subject: h::Message {
                    template: f.subject.template,
                    args: args_out(f.subject.args),
                },
                due: f.due,
            })
            .collect(),
    }
}

fn transition_out(t: g::TransitionCheck) -> h::TransitionCheck {
    let kind = same_enum!(g::MoveKind => h::MoveKind: Stay, Forward, Back, Skip);
    h::TransitionCheck {
        allowed: t.allowed,
        kind: kind(t.kind),
        missing: t.missing.into_iter().map(field_ref_out).collect(),
        reasons: reasons_out(t.reasons),
    }
}

fn forecast_out(f: g::WinForecast) -> h::WinForecast {
    h::WinForecast {
        probability: f.probability,
        weighted_value: f.weighted_value.map(money_out),
        stages: f
            .stages
            .into_iter()
            .map(|s| h::StageScore {
                stage: s.stage,
                weight: s.weight,
                activities: s.activities,
                mean_rating: s.mean_rating,
            })
            .collect(),
        reasons: reasons_out(f.reasons),
    }
}
