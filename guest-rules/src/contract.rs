//! The contract `crm:rules@0.2.0` as Rust types: what a rule module reads and what
//! it answers.
//!
//! These are the types wit-bindgen generates from the WIT package, used as they are
//! on every target. In a WebAssembly build the adapter hands them to the rules
//! straight from the canonical ABI; natively (tests, benchmarks, the host's
//! baseline) they are plain Rust values. Either way no conversion runs between the
//! boundary and the rules.
//!
//! A module author writes `use guest_rules::contract::*;`. Besides the generated
//! types this module adds a few conveniences: [`RuleError::new`], [`Currency`]
//! codes, and [`EnumName`], the snake_case name every contract enum has in JSON,
//! policies and rendered texts.

pub use crate::names::EnumName;

/// The generated bindings. Only the adapter and `export_rule_module!` use them
/// directly; everything a module needs is re-exported by name below.
#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "rule-module",
        path: "../wit/since_v0.2.0",
        pub_export_macro: true,
        default_bindings_module: "guest_rules::contract::bindings",
        // Tests compare whole answers.
        additional_derives: [PartialEq],
    });
}

pub use bindings::crm::rules::types::{
    Activity, ActivityKind, Arg, BudgetStatus, Context, Currency, CustomValue, Date, Engagement,
    ErrorCode, FieldRef, FieldValue, Lead, LeadField, LeadSource, LeadTexts, Message, Money, Need,
    Opportunity, OpportunityParts, OpportunityStatus, Rating, Reason, RuleError, Timeframe,
    Timestamp,
};
pub use bindings::exports::crm::rules::conversion::{
    Candidate, ConversionPlan, ConversionRequest, RecordAction, RecordKind,
};
pub use bindings::exports::crm::rules::forecasting::{StageScore, WinForecast};
pub use bindings::exports::crm::rules::module::{InputQuery, ModuleInfo, Stage, Step, Template};
pub use bindings::exports::crm::rules::process_flow::{
    MoveKind, TransitionCheck, TransitionRequest,
};
pub use bindings::exports::crm::rules::qualification::{
    DisqualifyReason, FollowUp, FollowUpKind, Outcome, Qualification,
};

impl RuleError {
    /// A rule error of `code` about `field` (a record field or a policy path).
    pub fn new(code: ErrorCode, message: impl Into<String>, field: Option<&str>) -> Self {
        RuleError {
            code,
            message: message.into(),
            field: field.map(str::to_owned),
        }
    }

    /// The same error with its field placed under `prefix`: a module that embeds a
    /// policy under a key (`base`) reports `base.qualification.qualify_at`, and
    /// `base` itself when the error named no field.
    pub fn under(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field {
            Some(field) => format!("{prefix}.{field}"),
            None => prefix.to_owned(),
        });
        self
    }
}

impl Currency {
    /// The currency of an ISO 4217 code such as `EUR`; `None` unless the code is
    /// three ASCII capital letters.
    pub fn from_code(code: &str) -> Option<Currency> {
        match code.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => {
                Some(Currency { a, b, c })
            }
            _ => None,
        }
    }

    /// The three letters of the code, e.g. `*b"EUR"`.
    pub fn code(&self) -> [u8; 3] {
        [self.a, self.b, self.c]
    }
}

impl FieldValue {
    /// Whether the value counts as filled in: a text that is not blank, or any
    /// other value.
    pub fn is_filled(&self) -> bool {
        match self {
            FieldValue::Text(text) => !text.trim().is_empty(),
            _ => true,
        }
    }
}

impl FieldRef {
    /// The snake_case name of a lead field of the contract, e.g. `budget_status`;
    /// the name a custom, step or named field has is the host's to tell.
    pub fn lead_field_name(&self) -> Option<&'static str> {
        match self {
            FieldRef::Lead(field) => Some(field.name()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_three_capital_letters() {
        assert_eq!(Currency::from_code("EUR").map(|c| c.code()), Some(*b"EUR"));
        assert_eq!(Currency::from_code("eur"), None);
        assert_eq!(Currency::from_code("EURO"), None);
    }

    #[test]
    fn an_embedded_policy_error_names_its_key() {
        let e = RuleError::new(ErrorCode::InvalidPolicy, "x", Some("stages")).under("base");
        assert_eq!(e.field.as_deref(), Some("base.stages"));
        let e = RuleError::new(ErrorCode::InvalidPolicy, "x", None).under("base");
        assert_eq!(e.field.as_deref(), Some("base"));
    }
}
