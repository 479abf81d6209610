//! The reference rules: BANT qualification scored by source and engagement,
//! duplicate-aware conversion, stage gates and an activity-weighted forecast, all
//! driven by the org [`Policy`].
//!
//! [`Reference::new`] turns the policy into what the decisions need at hand, so a
//! decision only looks things up: points per enum value in arrays indexed by the
//! value, stage names resolved to indices, the required steps and the weight of each
//! stage, and the templates of every text an answer refers to. Each decision lives
//! in its own module with the part of the policy it compiled.

mod convert;
mod forecast;
mod qualify;
#[cfg(test)]
mod tests;
mod transition;

use crate::contract::{
    Candidate, Context, ConversionPlan, ErrorCode, Lead, ModuleInfo, Opportunity, Qualification,
    RuleError, Stage, Step, TransitionCheck, WinForecast,
};
use crate::policy::Policy;
use crate::reads::Reads;
use crate::templates::Templates;
use crate::RuleModule;

/// The reference rule module: everything is decided by its [`Policy`].
///
/// A custom module embeds one (see [`RuleModule::base`]) and extends its
/// [`Templates`] and [`Reads`] with its own before `init` returns.
#[derive(Debug, Clone)]
pub struct Reference {
    policy: Policy,
    stages: Vec<Stage>,
    templates: Templates,
    reads: Reads,
    qualification: qualify::QualifyRules,
    conversion: convert::ConvertRules,
    transitions: transition::TransitionRules,
    forecast: forecast::ForecastRules,
}

impl Reference {
    /// The rules of an already parsed policy.
    pub fn new(policy: Policy) -> Result<Self, RuleError> {
        let mut templates = Templates::new();
        let mut reads = Reads::new();
        // The texts every org has come first, in a fixed order, so their indices are
        // the same for every policy; the custom rules' texts follow.
        let qualification_texts = qualify::Texts::declare(&mut templates)?;
        let conversion = convert::ConvertRules::new(&policy, &mut templates, &mut reads)?;
        let transitions = transition::TransitionRules::new(&policy, &mut templates)?;
        let forecast = forecast::ForecastRules::new(&policy, &mut templates, &mut reads)?;
        let qualification =
            qualify::QualifyRules::new(&policy, qualification_texts, &mut templates, &mut reads)?;
        let stages = policy
            .stages
            .iter()
            .map(|stage| Stage {
                name: stage.name.clone(),
                steps: stage
                    .steps
                    .iter()
                    .map(|step| Step {
                        name: step.name.clone(),
                        field: step.field.clone(),
                        required: step.required,
                    })
                    .collect(),
            })
            .collect();
        Ok(Reference {
            policy,
            stages,
            templates,
            reads,
            qualification,
            conversion,
            transitions,
            forecast,
        })
    }

    /// Parses and checks a policy (JSON) and compiles its rules.
    pub fn parse(policy: &str) -> Result<Self, RuleError> {
        Reference::new(Policy::parse(policy)?)
    }

    /// The policy these rules follow.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The org's stages, in order: what stage and step indices count.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// Every template declared so far.
    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    /// The templates, for a custom module to add its own (at `init`).
    pub fn templates_mut(&mut self) -> &mut Templates {
        &mut self.templates
    }

    /// The input query declared so far.
    pub fn reads(&self) -> &Reads {
        &self.reads
    }

    /// The input query, for a custom module to add what its rules read (at `init`).
    pub fn reads_mut(&mut self) -> &mut Reads {
        &mut self.reads
    }

    /// The module info of the reference rules: named after the policy, with every
    /// template and the whole input query declared so far.
    pub fn info(&self) -> ModuleInfo {
        ModuleInfo {
            name: format!("reference ({})", self.policy.name),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            stages: self.stages.clone(),
            templates: self.templates.as_slice().to_vec(),
            reads: self.reads.query().clone(),
        }
    }

    /// Qualifies a lead.
    pub fn qualify(&self, ctx: &Context, lead: &Lead) -> Result<Qualification, RuleError> {
        self.qualification.qualify(ctx, lead)
    }

    /// Plans the conversion of a lead qualified by these rules.
    pub fn convert(
        &self,
        ctx: &Context,
        lead: &Lead,
        candidates: &[Candidate],
    ) -> Result<ConversionPlan, RuleError> {
        let qualification = self.qualify(ctx, lead)?;
        self.conversion.plan(
            ctx,
            lead,
            candidates,
            &qualification,
            self.qualification.qualify_at(),
        )
    }

    /// Whether an opportunity may move to the stage with index `to_stage`.
    pub fn check_transition(
        &self,
        _ctx: &Context,
        opportunity: &Opportunity,
        to_stage: u32,
    ) -> Result<TransitionCheck, RuleError> {
        self.transitions.check(opportunity, to_stage)
    }

    /// The win probability and weighted value of an opportunity.
    pub fn forecast(
        &self,
        _ctx: &Context,
        opportunity: &Opportunity,
    ) -> Result<WinForecast, RuleError> {
        self.forecast.forecast(opportunity)
    }
}

impl RuleModule for Reference {
    fn init(_org_id: &str, policy: &str) -> Result<Self, RuleError> {
        Reference::parse(policy)
    }

    fn base(&self) -> &Reference {
        self
    }
}

/// A stage index of a record, checked against the org's `count` stages. The host
/// resolves stage names and reports unknown ones itself; an index out of range
/// means a host fault, refused here rather than trusted.
fn stage_at(index: u32, count: usize, field: &str) -> Result<usize, RuleError> {
    let at = index as usize;
    if at < count {
        Ok(at)
    } else {
        Err(unknown_stage(index, count, field))
    }
}

fn unknown_stage(index: u32, count: usize, field: &str) -> RuleError {
    RuleError::new(
        ErrorCode::UnknownStage,
        format!("stage {index} is not one of this org's {count} stages"),
        Some(field),
    )
}

/// `value` rounded to `places` decimals.
fn round(value: f64, places: i32) -> f64 {
    let factor = 10f64.powi(places);
    (value * factor).round() / factor
}

/// Score points as a reason shows them; the policy allows more than a reason can
/// carry, which no sensible policy gives.
fn shown_points(points: u32) -> i32 {
    i32::try_from(points).unwrap_or(i32::MAX)
}
