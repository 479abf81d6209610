//! The kit to write a crm-rules rule module, and the reference module built with it.
//!
//! A rule module is a WebAssembly component exporting the `crm:rules@0.2.0` world:
//! lead qualification, conversion, stage transitions and forecasts for one
//! organisation. Built for `wasm32-wasip2`, this crate is the reference module,
//! driven by an org [`Policy`] (JSON) the host hands over at `init`. Built natively
//! it is a plain Rust library: the same rules called directly, for tests and for the
//! host's native baseline.
//!
//! # What the kit gives a module author
//!
//! - [`contract`]: the contract's types, generated from its WIT and used as they
//!   are on every target (`use guest_rules::contract::*;`).
//! - [`RuleModule`]: the trait a module implements. Only `init` and `base` are
//!   required; every decision defaults to the embedded [`Reference`] rules, so a
//!   custom module overrides only what differs.
//! - [`Templates`]: the registry of every text an answer refers to. The reference
//!   declares its templates first; a custom module adds its own and keeps the
//!   [`TemplateId`]s it got back.
//! - [`Reads`]: the input query. The host lowers only what the rules declared they
//!   read: the lead texts of each decision, the opportunity parts, the custom
//!   fields ([`CustomFieldId`]).
//! - [`export_rule_module!`]: the one line that makes the type the component's
//!   exports.
//!
//! A custom module, built into its own `.wasm` with
//! `guest-rules = { ..., default-features = false }` (so that the reference module
//! is not exported as well):
//!
//! ```
//! use guest_rules::contract::*;
//! use guest_rules::{CustomFieldId, Reference, RuleModule, TemplateId};
//!
//! /// The reference rules, plus a reason for leads from the public sector.
//! struct PublicSector {
//!     base: Reference,
//!     industry: CustomFieldId,
//!     public_sector: TemplateId,
//! }
//!
//! impl RuleModule for PublicSector {
//!     fn init(_org_id: &str, policy: &str) -> Result<Self, RuleError> {
//!         let mut base = Reference::parse(policy)?;
//!         let industry = base.reads_mut().custom_field("new_industry");
//!         let public_sector = base
//!             .templates_mut()
//!             .add("public_sector.industry", "public sector lead ({0})")?;
//!         Ok(PublicSector { base, industry, public_sector })
//!     }
//!
//!     fn base(&self) -> &Reference {
//!         &self.base
//!     }
//!
//!     fn qualify(&self, ctx: &Context, lead: &Lead) -> Result<Qualification, RuleError> {
//!         let mut q = self.base.qualify(ctx, lead)?;
//!         if let Some(FieldValue::Text(_)) = self.industry.find(&lead.custom) {
//!             let industry = Arg::Value(self.industry.field_ref());
//!             q.reasons.push(self.public_sector.reason(vec![industry]));
//!         }
//!         Ok(q)
//!     }
//! }
//!
//! guest_rules::export_rule_module!(PublicSector);
//! # let m = PublicSector::init("org", r#"{"name": "x"}"#).unwrap();
//! # assert_eq!(m.info().reads.custom_fields, ["new_industry"]);
//! ```
//!
//! # Texts: templates, arguments and codes
//!
//! Answers carry no text. A reason is a template index with arguments and, when it
//! added to a score, its points; the host renders it when something needs text.
//! Template text: `{0}`, `{1}`... are the arguments, `{0:.2}` a number with two
//! decimals, `{{` and `}}` braces. Arguments that name something the host already
//! holds (a stage, a field, the record's value of a field, a candidate) cost no
//! string on the way out.
//!
//! Each template has a stable code that reports count reasons by. The reference
//! rules use these:
//!
//! | code | text |
//! |---|---|
//! | `base_points` | `base points` (the policy's `qualification.base_points`) |
//! | `source.<source>` | `source web_form`: one per lead source |
//! | `engagement.<level>` | `engagement evaluation`: one per engagement level |
//! | `budget.<status>`, `budget.amount_known` | `budget can_buy`, `budget amount known` |
//! | `authority.known` | `decision maker known` |
//! | `need.<need>`, `timeframe.<timeframe>` | `need must_have`, `timeframe this_quarter` |
//! | `existing_customer` | `existing customer` |
//! | `custom.<field><conditions>` | a custom rule, e.g. `custom.new_industry=Government`, `custom.new_employees>=1000`, `custom.size>=10<=50` (`#2`, `#3` when rules repeat); its text is the rule's `reason` |
//! | `qualify.no_need`, `qualify.cannot_contact` | why a lead is disqualified |
//! | `qualify.below_disqualification_line` | `score {0} is below the disqualification line {1}` |
//! | `qualify.not_yet_known` | `not yet known: {0}` |
//! | `qualify.reaches_qualification_line`, `qualify.below_qualification_line` | qualified or nurtured |
//! | `follow_up.<kind>.agree_next_steps`, `.confirm_missing`, `.keep_in_touch` | follow-up subjects, e.g. `call {0}: agree next steps` |
//! | `convert.qualified`, `convert.existing_customer_skips_lead` | why a conversion goes ahead |
//! | `convert.account_exists`, `convert.contact_exists`, `convert.open_opportunity_exists` | links to existing records |
//! | `convert.no_opportunity` | `this org creates no opportunity on conversion` |
//! | `convert.opportunity_name`, `convert.company_opportunity` | opportunity names: `{0}`, `{0} opportunity` |
//! | `transition.stay`, `.back`, `.back_refused`, `.skip_refused`, `.steps_done`, `.steps_missing` | stage moves |
//! | `forecast.stage_activity`, `forecast.stage_activities` | `{0}: {1} activities rated {2:.2} on average, weight {3}` |
//! | `forecast.no_activities`, `forecast.prior`, `forecast.won`, `forecast.lost` | the rest of a forecast |
//!
//! The templates every org has come first, in a fixed order; the custom rules'
//! templates follow, then whatever a custom module adds.
#![deny(missing_docs)]

pub mod contract;
pub mod dates;
mod names;
pub mod policy;
pub mod reads;
mod reference;
#[doc(hidden)]
pub mod sdk;
pub mod templates;

pub use policy::Policy;
pub use reads::{CustomFieldId, Reads};
pub use reference::Reference;
pub use templates::{TemplateId, Templates};

use contract::{
    Candidate, Context, ConversionPlan, Lead, ModuleInfo, Opportunity, Qualification, RuleError,
    TransitionCheck, WinForecast,
};

/// The rules of one organisation: what a rule module implements.
///
/// Only [`init`](RuleModule::init) and [`base`](RuleModule::base) are required:
/// every decision defaults to the embedded [`Reference`] rules. Note that the
/// default `convert` qualifies the lead by the reference rules; a module whose
/// qualification differs overrides `convert` as well.
///
/// Every decision gets the context (`now` included) and returns an answer or a
/// [`RuleError`] value; a rule module never panics on any input. Batch calls run
/// these same methods once per item.
pub trait RuleModule: Sized + Send + Sync + 'static {
    /// Parses and checks the org policy, and declares the module's templates and
    /// input query. Called once per instance.
    fn init(org_id: &str, policy: &str) -> Result<Self, RuleError>;

    /// The reference rules the decisions default to.
    fn base(&self) -> &Reference;

    /// The module's name, version, stages, templates and input query.
    fn info(&self) -> ModuleInfo {
        self.base().info()
    }

    /// Qualifies a lead.
    fn qualify(&self, ctx: &Context, lead: &Lead) -> Result<Qualification, RuleError> {
        self.base().qualify(ctx, lead)
    }

    /// Plans the conversion of a lead, given existing records that may match it.
    fn convert(
        &self,
        ctx: &Context,
        lead: &Lead,
        candidates: &[Candidate],
    ) -> Result<ConversionPlan, RuleError> {
        self.base().convert(ctx, lead, candidates)
    }

    /// Whether an opportunity may move to the stage with index `to_stage`.
    fn check_transition(
        &self,
        ctx: &Context,
        opportunity: &Opportunity,
        to_stage: u32,
    ) -> Result<TransitionCheck, RuleError> {
        self.base().check_transition(ctx, opportunity, to_stage)
    }

    /// The win probability and weighted value of an opportunity.
    fn forecast(&self, ctx: &Context, opportunity: &Opportunity) -> Result<WinForecast, RuleError> {
        self.base().forecast(ctx, opportunity)
    }
}

/// Exports a [`RuleModule`] type as this component's rule module.
///
/// Use it once, in the crate that is built into the `.wasm` file. Natively it only
/// gives the type the slot its instance lives in.
#[macro_export]
macro_rules! export_rule_module {
    ($module:ty) => {
        const _: () = {
            impl $crate::sdk::Slot for $module {
                fn slot() -> &'static ::std::sync::OnceLock<Self> {
                    static SLOT: ::std::sync::OnceLock<$module> = ::std::sync::OnceLock::new();
                    &SLOT
                }
            }
        };
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type CrmRulesAdapter = $crate::sdk::Adapter<$module>;
            $crate::contract::bindings::export!(
                CrmRulesAdapter with_types_in $crate::contract::bindings
            );
        };
    };
}

#[cfg(feature = "reference")]
export_rule_module!(crate::Reference);
