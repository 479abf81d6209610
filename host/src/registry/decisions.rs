//! The decision API: every decision goes through [`Host::decide_batch`] (or
//! [`Host::decide`] for one record), which calls the org's active version once per
//! batch; the per-decision methods are thin typed doors onto it.

use crm_rules_model as m;

use super::{Decided, Host};
use crate::contract::latest;
use crate::decision::{Answer, InputRef, Kind};
use crate::error::{Error, Result, TrapKind};

impl Host {
    /// Decides one record with the rules of `ctx.org_id`.
    pub fn decide(&self, ctx: &m::Context, input: InputRef<'_>) -> Result<Decided<Answer>> {
        let version = self.active(&ctx.org_id)?;
        let mut answers = version.decide(&self.runtime.engine, ctx, &[input])?;
        answers.pop().unwrap_or_else(|| {
            Err(Error::Trap {
                org: ctx.org_id.clone(),
                record: Some(input.id().to_owned()),
                kind: TrapKind::BadOutput,
                message: "the module gave no answer".to_owned(),
                source: None,
            })
        })
    }

    /// Decides many records, one call into the module per kind of decision among
    /// them. The outer error is for the batch as a whole (an unknown org); the
    /// inner ones are per record. When a call stops as a whole (a trap, a timeout,
    /// too large an answer), its records are decided again one by one, so one bad
    /// record costs only itself.
    pub fn decide_batch(
        &self,
        ctx: &m::Context,
        inputs: &[InputRef<'_>],
    ) -> Result<Vec<Result<Decided<Answer>>>> {
        let version = self.active(&ctx.org_id)?;
        let engine = &self.runtime.engine;
        let mut out: Vec<Option<Result<Decided<Answer>>>> = Vec::new();
        out.resize_with(inputs.len(), || None);
        for kind in [
            Kind::Qualify,
            Kind::Convert,
            Kind::Transition,
            Kind::Forecast,
        ] {
            let slots: Vec<usize> = (0..inputs.len())
                .filter(|&i| inputs[i].kind() == kind)
                .collect();
            if slots.is_empty() {
                continue;
            }
            let group: Vec<InputRef<'_>> = slots.iter().map(|&i| inputs[i]).collect();
            match version.decide(engine, ctx, &group) {
                Ok(answers) => {
                    for (slot, answer) in slots.into_iter().zip(answers) {
                        out[slot] = Some(answer);
                    }
                }
                Err(e) if group.len() == 1 => out[slots[0]] = Some(Err(e)),
                Err(e) => {
                    tracing::debug!(
                        "org `{}`: a batch of {} stopped ({e}); deciding its records one by one",
                        ctx.org_id,
                        group.len()
                    );
                    for (slot, input) in slots.into_iter().zip(group) {
                        out[slot] =
                            Some(version.decide(engine, ctx, &[input]).and_then(|mut one| {
                                one.pop().unwrap_or_else(|| Err(not_decided()))
                            }));
                    }
                }
            }
        }
        Ok(out
            .into_iter()
            .map(|answer| answer.unwrap_or_else(|| Err(not_decided())))
            .collect())
    }

    /// Qualifies one lead with the rules of `ctx.org_id`.
    pub fn qualify(
        &self,
        ctx: &m::Context,
        lead: &m::Lead,
    ) -> Result<Decided<latest::Qualification>> {
        typed(self.decide(ctx, InputRef::Qualify(lead)), qualification)
    }

    /// Qualifies many leads in one call into the module. The outer error is for
    /// the whole batch (an unknown org); the inner ones are per lead.
    pub fn qualify_batch(
        &self,
        ctx: &m::Context,
        leads: &[m::Lead],
    ) -> Result<Vec<Result<Decided<latest::Qualification>>>> {
        let inputs: Vec<InputRef<'_>> = leads.iter().map(InputRef::Qualify).collect();
        Ok(self
            .decide_batch(ctx, &inputs)?
            .into_iter()
            .map(|answer| typed(answer, qualification))
            .collect())
    }

    /// Plans the conversion of a lead, given existing records that may match it.
    pub fn convert(
        &self,
        ctx: &m::Context,
        lead: &m::Lead,
        candidates: &[m::Candidate],
    ) -> Result<Decided<latest::ConversionPlan>> {
        typed(
            self.decide(ctx, InputRef::Convert { lead, candidates }),
            |answer| match answer {
                Answer::Convert(plan) => Some(plan),
                _ => None,
            },
        )
    }

    /// Whether an opportunity may move to the stage `to`.
    pub fn check_transition(
        &self,
        ctx: &m::Context,
        opportunity: &m::Opportunity,
        to: &str,
    ) -> Result<Decided<latest::TransitionCheck>> {
        typed(
            self.decide(ctx, InputRef::Transition { opportunity, to }),
            |answer| match answer {
                Answer::Transition(check) => Some(check),
                _ => None,
            },
        )
    }

    /// The win probability and weighted value of an opportunity.
    pub fn forecast(
        &self,
        ctx: &m::Context,
        opportunity: &m::Opportunity,
    ) -> Result<Decided<latest::WinForecast>> {
        typed(self.decide(ctx, InputRef::Forecast(opportunity)), forecast)
    }

    /// Forecasts many opportunities in one call into the module.
    pub fn forecast_batch(
        &self,
        ctx: &m::Context,
        opportunities: &[m::Opportunity],
    ) -> Result<Vec<Result<Decided<latest::WinForecast>>>> {
        let inputs: Vec<InputRef<'_>> = opportunities.iter().map(InputRef::Forecast).collect();
        Ok(self
            .decide_batch(ctx, &inputs)?
            .into_iter()
            .map(|answer| typed(answer, forecast))
            .collect())
    }

    /// The org's stages and their steps, as its active module declared them.
    pub fn stages(&self, org: &str) -> Result<Vec<m::Stage>> {
        Ok(self.facts(org)?.stages.clone())
    }
}

fn not_decided() -> Error {
    Error::Internal("a record of the batch was not decided".to_owned())
}

fn qualification(answer: Answer) -> Option<latest::Qualification> {
    match answer {
        Answer::Qualify(q) => Some(q),
        _ => None,
    }
}

fn forecast(answer: Answer) -> Option<latest::WinForecast> {
    match answer {
        Answer::Forecast(f) => Some(f),
        _ => None,
    }
}

/// One kind of answer out of the answer enum; the contract modules answer each
/// input with its own kind, so another kind is a host bug, reported as such.
fn typed<T>(
    answer: Result<Decided<Answer>>,
    pick: impl FnOnce(Answer) -> Option<T>,
) -> Result<Decided<T>> {
    let decided = answer?;
    let (by, facts) = (decided.by, decided.facts);
    match pick(decided.value) {
        Some(value) => Ok(Decided { value, by, facts }),
        None => Err(Error::Internal(
            "the answer is of another decision than asked".to_owned(),
        )),
    }
}
