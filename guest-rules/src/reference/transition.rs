//! Process flow: whether an opportunity may move from its stage to another.
//!
//! A move forward needs every required step of the stages it leaves done. The host
//! works out which steps are done (`opportunity.steps-done`), so this reads no text
//! of the opportunity at all.

use std::cmp::Ordering;

use crate::contract::{Arg, FieldRef, MoveKind, Opportunity, RuleError, TransitionCheck};
use crate::policy::Policy;
use crate::templates::{TemplateId, Templates};

use super::stage_at;

#[derive(Debug, Clone)]
struct Texts {
    stay: TemplateId,
    back: TemplateId,
    back_refused: TemplateId,
    skip_refused: TemplateId,
    steps_done: TemplateId,
    steps_missing: TemplateId,
}

/// Stage moves, compiled from the policy.
#[derive(Debug, Clone)]
pub(super) struct TransitionRules {
    allow_back: bool,
    allow_skip: bool,
    skipped_stages_required: bool,
    /// Per stage, its required steps as indices counted across all stages.
    required_steps: Vec<Vec<u32>>,
    texts: Texts,
}

impl TransitionRules {
    pub(super) fn new(policy: &Policy, t: &mut Templates) -> Result<Self, RuleError> {
        let texts = Texts {
            stay: t.add("transition.stay", "already in {0}")?,
            back: t.add("transition.back", "back from {0} to {1}")?,
            back_refused: t.add(
                "transition.back_refused",
                "this org does not move back from {0} to {1}",
            )?,
            skip_refused: t.add(
                "transition.skip_refused",
                "this org does not skip stages: {0} is not next after {1}",
            )?,
            steps_done: t.add(
                "transition.steps_done",
                "every required step before {0} is done",
            )?,
            steps_missing: t.add(
                "transition.steps_missing",
                "required steps not done before {0}: {1}",
            )?,
        };
        let mut next_step = 0u32;
        let required_steps = policy
            .stages
            .iter()
            .map(|stage| {
                let mut required = Vec::new();
                for step in &stage.steps {
                    if step.required {
                        required.push(next_step);
                    }
                    next_step = next_step.saturating_add(1);
                }
                required
            })
            .collect();
        let p = &policy.transitions;
        Ok(TransitionRules {
            allow_back: p.allow_back,
            allow_skip: p.allow_skip,
            skipped_stages_required: p.skipped_stages_required,
            required_steps,
            texts,
        })
    }

    pub(super) fn check(
        &self,
        opportunity: &Opportunity,
        to_stage: u32,
    ) -> Result<TransitionCheck, RuleError> {
        let count = self.required_steps.len();
        let from = stage_at(opportunity.stage, count, "stage")?;
        let to = stage_at(to_stage, count, "to")?;
        let kind = match to.cmp(&from) {
            Ordering::Equal => MoveKind::Stay,
            Ordering::Less => MoveKind::Back,
            Ordering::Greater if to == from + 1 => MoveKind::Forward,
            Ordering::Greater => MoveKind::Skip,
        };
        let t = &self.texts;
        let (from_arg, to_arg) = (Arg::Stage(opportunity.stage), Arg::Stage(to_stage));
        let mut reasons = Vec::with_capacity(1);
        let mut missing = Vec::new();
        let mut allowed = true;
        match kind {
            MoveKind::Stay => reasons.push(t.stay.reason(vec![from_arg])),
            MoveKind::Back if !self.allow_back => {
                allowed = false;
                reasons.push(t.back_refused.reason(vec![from_arg, to_arg]));
            }
            MoveKind::Back => reasons.push(t.back.reason(vec![from_arg, to_arg])),
            MoveKind::Skip if !self.allow_skip => {
                allowed = false;
                reasons.push(t.skip_refused.reason(vec![to_arg, from_arg]));
            }
            MoveKind::Forward | MoveKind::Skip => {
                // Skipping may leave the skipped stages' steps undone, if the org
                // says so; the stage being left must always be done.
                let gated = if kind == MoveKind::Skip && !self.skipped_stages_required {
                    from..from + 1
                } else {
                    from..to
                };
                for required in &self.required_steps[gated] {
                    for step in required {
                        if !opportunity.steps_done.contains(step) {
                            missing.push(FieldRef::Step(*step));
                        }
                    }
                }
                if missing.is_empty() {
                    reasons.push(t.steps_done.reason(vec![to_arg]));
                } else {
                    allowed = false;
                    let args = vec![to_arg, Arg::Fields(missing.clone())];
                    reasons.push(t.steps_missing.reason(args));
                }
            }
        }
        Ok(TransitionCheck {
            allowed,
            kind,
            missing,
            reasons,
        })
    }
}
