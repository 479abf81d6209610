//! One entry point for every decision, from JSON input to JSON output: what the
//! command-line program and the fixture runner share.

use crm_rules_model::{Candidate, Context, Lead, Opportunity};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::input::typed;
use crate::registry::{Decided, Host, Provenance};

/// Which decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// Qualify a lead (input: a lead).
    Qualify,
    /// Plan a lead's conversion (input: `{"lead": ..., "candidates": [...]}`).
    Convert,
    /// Check a stage move (input: `{"opportunity": ..., "to": "Propose"}`).
    Transition,
    /// Forecast an opportunity (input: an opportunity).
    Forecast,
    /// List the org's stages (no input).
    Stages,
}

/// The input of a conversion.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvertInput {
    /// The lead.
    pub lead: Lead,
    /// Existing records that may match it.
    #[serde(default)]
    pub candidates: Vec<Candidate>,
}

/// The input of a transition check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionInput {
    /// The opportunity.
    pub opportunity: Opportunity,
    /// The stage it should move to.
    pub to: String,
}

fn json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value)
        .unwrap_or_else(|e| serde_json::json!({ "unserialisable": e.to_string() }))
}

fn made<T: Serialize>(decided: Decided<T>) -> (serde_json::Value, Provenance) {
    (json(&decided.value), decided.by)
}

/// Decides one record given as JSON, returning the decision as JSON and the
/// module version that made it.
pub fn decide(
    host: &Host,
    ctx: &Context,
    kind: DecisionKind,
    source_name: &str,
    position: usize,
    input: &serde_json::Value,
) -> Result<(serde_json::Value, Provenance)> {
    match kind {
        DecisionKind::Qualify => {
            let lead: Lead = typed(source_name, position, input)?;
            Ok(made(host.qualify(ctx, &lead)?))
        }
        DecisionKind::Convert => {
            let input: ConvertInput = typed(source_name, position, input)?;
            Ok(made(host.convert(ctx, &input.lead, &input.candidates)?))
        }
        DecisionKind::Transition => {
            let input: TransitionInput = typed(source_name, position, input)?;
            Ok(made(host.check_transition(
                ctx,
                &input.opportunity,
                &input.to,
            )?))
        }
        DecisionKind::Forecast => {
            let opportunity: Opportunity = typed(source_name, position, input)?;
            Ok(made(host.forecast(ctx, &opportunity)?))
        }
        DecisionKind::Stages => Ok(made(host.stages(ctx)?)),
    }
}

/// The answer for one record of many.
pub struct Answer {
    /// 1-based position in the input.
    pub position: usize,
    /// The record's id, when it has one.
    pub id: Option<String>,
    /// The decision, or the error for this record alone.
    pub result: Result<serde_json::Value>,
    /// The module version that decided, when one did.
    pub by: Option<Provenance>,
    /// The record as given (`null` when it could not be read).
    pub input: serde_json::Value,
}

/// Decides many records; leads go to the module in one batch call.
pub fn decide_all(
    host: &Host,
    ctx: &Context,
    kind: DecisionKind,
    source_name: &str,
    records: Vec<crate::input::Record<serde_json::Value>>,
) -> Vec<Answer> {
    let mut answers = Vec::with_capacity(records.len());
    let mut leads = Vec::new();
    let mut slots = Vec::new();
    for record in records {
        let id = record.value.as_ref().ok().and_then(|v| record_id(kind, v));
        let position = record.position;
        let (input, read) = match record.value {
            Ok(value) => (value, Ok(())),
            Err(e) => (serde_json::Value::Null, Err(e)),
        };
        let (result, by) = match kind {
            DecisionKind::Qualify => {
                match read.and_then(|()| typed::<Lead>(source_name, position, &input)) {
                    Ok(lead) => {
                        slots.push(answers.len());
                        leads.push(lead);
                        (Ok(serde_json::Value::Null), None)
                    }
                    Err(e) => (Err(e), None),
                }
            }
            _ => match read.and_then(|()| decide(host, ctx, kind, source_name, position, &input)) {
                Ok((decision, by)) => (Ok(decision), Some(by)),
                Err(e) => (Err(e), None),
            },
        };
        answers.push(Answer {
            position,
            id,
            result,
            by,
            input,
        });
    }
    if leads.is_empty() {
        return answers;
    }
    let mut place = |slot: usize, decision: Result<Decided<crm_rules_model::Qualification>>| {
        let answer = &mut answers[slot];
        match decision {
            Ok(decided) => {
                let (value, by) = made(decided);
                answer.result = Ok(value);
                answer.by = Some(by);
            }
            Err(e) => answer.result = Err(e),
        }
    };
    match host.qualify_batch(ctx, &leads) {
        Ok(decisions) => {
            for (slot, decision) in slots.into_iter().zip(decisions) {
                place(slot, decision);
            }
        }
        // A fault of the batch as a whole (a trap, say): decide each lead alone so
        // that one bad lead does not take the others with it.
        Err(_) => {
            for (slot, lead) in slots.into_iter().zip(&leads) {
                place(slot, host.qualify(ctx, lead));
            }
        }
    }
    answers
}

/// The id of a record given as JSON, for output lines.
pub fn record_id(kind: DecisionKind, input: &serde_json::Value) -> Option<String> {
    let holder = match kind {
        DecisionKind::Convert => input.get("lead"),
        DecisionKind::Transition => input.get("opportunity"),
        _ => Some(input),
    };
    holder
        .and_then(|h| h.get("id"))
        .and_then(|id| id.as_str())
        .map(str::to_owned)
}
