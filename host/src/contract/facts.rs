//! What a loaded module told the host about its org, once: its name, the org's stages
//! and steps, the templates its answers refer to, and what each decision reads. The
//! host lowers records and renders answers with these facts, so none of it crosses
//! per decision.

use rustc_hash::FxHashMap;

use crm_rules_model as m;

use super::latest;
use super::template::Template;
use super::ContractVersion;

/// One step of the org's process, with the stage it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct StepFact {
    /// Index of its stage.
    pub stage: u32,
    /// The CRM field the step fills, e.g. `decisionmaker`.
    pub field: String,
    /// Whether the stage cannot be left without it.
    pub required: bool,
}

/// What a decision reads of its record besides numbers and enums.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputQuery {
    /// Lead texts `qualify` reads.
    pub qualify: latest::LeadTexts,
    /// Lead texts `convert` reads.
    pub convert: latest::LeadTexts,
    /// Opportunity parts `check-transition` reads.
    pub transition: latest::OpportunityParts,
    /// Opportunity parts `forecast` reads.
    pub forecast: latest::OpportunityParts,
}

impl InputQuery {
    /// Everything: what a module of a contract without input queries gets.
    pub fn everything() -> InputQuery {
        InputQuery {
            qualify: latest::LeadTexts::all(),
            convert: latest::LeadTexts::all(),
            transition: latest::OpportunityParts::all(),
            forecast: latest::OpportunityParts::all(),
        }
    }
}

/// The facts of one loaded module version.
#[derive(Debug, Clone)]
pub struct OrgFacts {
    /// The contract the module exports.
    pub contract: ContractVersion,
    /// The module's name.
    pub name: String,
    /// The module's own version.
    pub version: String,
    /// The org's stages and their steps, in order.
    pub stages: Vec<m::Stage>,
    /// Every step across all stages, in order: what `step(i)` indices refer to.
    pub steps: Vec<StepFact>,
    /// The texts answers refer to.
    pub templates: Vec<Template>,
    /// What each decision reads.
    pub query: InputQuery,
    /// Custom fields the rules read, by CRM name: what `custom(i)` indices refer to.
    pub custom_fields: Vec<String>,
    custom_index: FxHashMap<String, u32>,
    stage_index: FxHashMap<String, u32>,
    /// The first step (index into `steps`) of each field-name hash: a decision
    /// looks up the record's filled fields here instead of comparing every
    /// step's field with every filled one (a map of names would keep a second
    /// copy of each name for every org resident; hashes are 8 bytes).
    first_step_of_hash: FxHashMap<u64, u32>,
    /// For each step, the next step whose field name has the same hash
    /// (`u32::MAX` at the end of the chain).
    next_step_of_hash: Vec<u32>,
}

/// The hash a step's field name is found by.
fn field_hash(name: &str) -> u64 {
    use std::hash::BuildHasher as _;
    rustc_hash::FxBuildHasher.hash_one(name)
}

impl OrgFacts {
    /// The facts from what a module declared; the error names the first
    /// declaration the host cannot use.
    pub fn new(
        contract: ContractVersion,
        name: String,
        version: String,
        stages: Vec<m::Stage>,
        templates: Vec<Template>,
        query: InputQuery,
        custom_fields: Vec<String>,
    ) -> Result<OrgFacts, String> {
        let mut stage_index = FxHashMap::default();
        let mut steps = Vec::new();
        for (i, stage) in stages.iter().enumerate() {
            let at = u32::try_from(i).map_err(|_| "too many stages".to_owned())?;
            if stage_index.insert(stage.name.clone(), at).is_some() {
                return Err(format!("stage `{}` is declared twice", stage.name));
            }
            steps.extend(stage.steps.iter().map(|s| StepFact {
                stage: at,
                field: s.field.clone(),
                required: s.required,
            }));
        }
        let mut custom_index = FxHashMap::default();
        for (i, name) in custom_fields.iter().enumerate() {
            let at = u32::try_from(i).map_err(|_| "too many custom fields".to_owned())?;
            if custom_index.insert(name.clone(), at).is_some() {
                return Err(format!("custom field `{name}` is read twice"));
            }
        }
        let mut first_step_of_hash = FxHashMap::default();
        let mut next_step_of_hash = vec![u32::MAX; steps.len()];
        // Chained from the last step back, so each chain is in step order.
        for (i, step) in steps.iter().enumerate().rev() {
            let at = u32::try_from(i).map_err(|_| "too many steps".to_owned())?;
            if let Some(next) = first_step_of_hash.insert(field_hash(&step.field), at) {
                next_step_of_hash[i] = next;
            }
        }
        Ok(OrgFacts {
            contract,
            name,
            version,
            stages,
            steps,
            templates,
            query,
            custom_fields,
            custom_index,
            stage_index,
            first_step_of_hash,
            next_step_of_hash,
        })
    }

    /// The index of a stage by name.
    pub fn stage(&self, name: &str) -> Option<u32> {
        self.stage_index.get(name).copied()
    }

    /// The steps a CRM field fills (indices into `steps`), in step order.
    pub fn steps_filled_by<'s>(&'s self, field: &'s str) -> impl Iterator<Item = u32> + 's {
        let mut at = self
            .first_step_of_hash
            .get(&field_hash(field))
            .copied()
            .unwrap_or(u32::MAX);
        std::iter::from_fn(move || loop {
            let step = self.steps.get(at as usize)?;
            let this = at;
            at = self.next_step_of_hash[this as usize];
            // Two names may share a hash: only this field's steps count.
            if step.field == field {
                return Some(this);
            }
        })
    }

    /// The index of a custom field the rules read.
    pub fn custom(&self, name: &str) -> Option<u32> {
        self.custom_index.get(name).copied()
    }

    /// The error for a stage name the org does not have.
    pub fn unknown_stage(&self, name: &str, field: &str) -> m::RuleError {
        let known: Vec<&str> = self.stages.iter().map(|s| s.name.as_str()).collect();
        m::RuleError::new(
            m::ErrorCode::UnknownStage,
            format!(
                "stage `{name}` is not one of this org's stages ({})",
                known.join(", ")
            ),
            Some(field),
        )
    }

    /// The module's name, version and the custom fields it reads, as the JSON
    /// of `crm-rules info` shows them.
    pub fn module_info(&self) -> m::ModuleInfo {
        m::ModuleInfo {
            name: self.name.clone(),
            version: self.version.clone(),
            reads_custom_fields: self.custom_fields.clone(),
        }
    }
}
