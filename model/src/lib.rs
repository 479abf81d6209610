//! The canonical types of crm-rules: the Rust (and JSON) face of the WIT contract
//! `crm:rules`, in the shape its JSON takes: records with names and texts, answers
//! with their reasons rendered as text.
//!
//! Both sides use these types: the host reads fixtures and CLI input into them and
//! prints decisions from them; a rule module (see the `guest-rules` crate) runs its
//! logic on them. Keeping one definition means the JSON a consultant writes in a
//! fixture is exactly what the rules see.
//!
//! ```
//! use crm_rules_model::{Lead, LeadSource};
//! let lead: Lead = serde_json::from_str(r#"{"id": "L-1", "source": "web_form"}"#).unwrap();
//! assert_eq!(lead.source, Some(LeadSource::WebForm));
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use chrono;
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Days between 0001-01-01 (chrono's day 1 of the common era) and 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Converts a date to the contract's `date` (days since 1970-01-01).
pub fn date_to_days(date: NaiveDate) -> i32 {
    chrono::Datelike::num_days_from_ce(&date) - UNIX_EPOCH_DAYS_FROM_CE
}

/// Converts the contract's `date` back to a calendar date; `None` when out of range.
pub fn days_to_date(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(UNIX_EPOCH_DAYS_FROM_CE)?)
}

/// Converts the contract's `timestamp` (seconds since the Unix epoch) to an instant.
pub fn seconds_to_instant(seconds: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, 0)
}

/// Who asks for a decision, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Context {
    /// The organisation whose rules decide.
    pub org_id: String,
    /// The decision time; rules never read a clock of their own.
    pub now: DateTime<Utc>,
    /// The acting user, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The acting team, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

/// An amount of money in a currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// The amount, in the currency's main unit.
    pub amount: f64,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
}

/// The value of a custom field.
///
/// In JSON a custom field is a plain string, number or boolean; a date is written
/// as `{"date": "2026-01-31"}` so that a text that looks like a date stays text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum FieldValue {
    /// A boolean.
    Flag(bool),
    /// A number.
    Number(f64),
    /// A text.
    Text(String),
    /// A calendar date.
    Day {
        /// The date.
        date: NaiveDate,
    },
}

impl FieldValue {
    /// Whether the value counts as filled in (non-empty text; any other value).
    pub fn is_filled(&self) -> bool {
        match self {
            FieldValue::Text(text) => !text.trim().is_empty(),
            _ => true,
        }
    }
}

/// Custom fields by name; ordered so that output is byte-identical run to run.
pub type CustomFields = BTreeMap<String, FieldValue>;

/// Reads custom fields, refusing a name given twice. A `BTreeMap` read by serde
/// keeps the last value, so `{"region": "EU", "region": "US"}` would be decided on
/// a value that another reader of the same record (the CRM, a person) may not see.
fn unique_custom_fields<'de, D>(deserializer: D) -> Result<CustomFields, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct UniqueNames;
    impl<'de> serde::de::Visitor<'de> for UniqueNames {
        type Value = CustomFields;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object of custom fields")
        }

        fn visit_map<A>(self, mut map: A) -> Result<CustomFields, A::Error>
        where
            A: serde::de::MapAccess<'de>,
        {
            let mut fields = CustomFields::new();
            while let Some(name) = map.next_key::<String>()? {
                if fields.contains_key(&name) {
                    return Err(serde::de::Error::custom(format_args!(
                        "the key `{name}` is given twice; a record may name a field once"
                    )));
                }
                let value = map.next_value()?;
                fields.insert(name, value);
            }
            Ok(fields)
        }
    }
    deserializer.deserialize_map(UniqueNames)
}

macro_rules! snake_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        // Read from a string only: serde's derived enum reader, given a number
        // or a boolean, fails with serde_json's bare "expected value".
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Name;
                impl serde::de::Visitor<'_> for Name {
                    type Value = $name;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        let names: &[&str] = &[$($text),+];
                        f.write_str("one of ")?;
                        for (i, name) in names.iter().enumerate() {
                            let comma = if i == 0 { "" } else { ", " };
                            write!(f, "{comma}`{name}`")?;
                        }
                        Ok(())
                    }

                    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<$name, E> {
                        match value {
                            $($text => Ok($name::$variant),)+
                            other => Err(E::unknown_variant(other, &[$($text),+])),
                        }
                    }
                }
                deserializer.deserialize_str(Name)
            }
        }

        impl $name {
            /// Every value, in contract order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value's name as written in JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

snake_enum!(
    /// Budget status of a prospect.
    BudgetStatus {
        /// No budget committed.
        NoCommittedBudget => "no_committed_budget",
        /// May buy.
        MayBuy => "may_buy",
        /// Can buy.
        CanBuy => "can_buy",
        /// Will buy.
        WillBuy => "will_buy",
    }
);

snake_enum!(
    /// How strongly the prospect needs the offering.
    Need {
        /// Must have.
        MustHave => "must_have",
        /// Should have.
        ShouldHave => "should_have",
        /// Good to have.
        GoodToHave => "good_to_have",
        /// No need.
        NoNeed => "no_need",
    }
);

snake_enum!(
    /// When the prospect intends to buy.
    Timeframe {
        /// Now.
        Immediate => "immediate",
        /// This quarter.
        ThisQuarter => "this_quarter",
        /// Next quarter.
        NextQuarter => "next_quarter",
        /// This year.
        ThisYear => "this_year",
        /// Not known.
        Unknown => "unknown",
    }
);

snake_enum!(
    /// Where a lead came from.
    LeadSource {
        /// A "contact us" form on the web site.
        WebForm => "web_form",
        /// The prospect phoned in.
        PhoneInquiry => "phone_inquiry",
        /// An employee referred the prospect.
        EmployeeReferral => "employee_referral",
        /// Someone outside referred the prospect.
        ExternalReferral => "external_referral",
        /// A partner passed the lead on.
        Partner => "partner",
        /// An advertisement.
        Advertisement => "advertisement",
        /// Public relations.
        PublicRelations => "public_relations",
        /// A seminar.
        Seminar => "seminar",
        /// A trade show scan or business card.
        TradeShow => "trade_show",
        /// A bought or rented list.
        PurchasedList => "purchased_list",
        /// Word of mouth.
        WordOfMouth => "word_of_mouth",
        /// Anything else.
        Other => "other",
    }
);

snake_enum!(
    /// How far a lead has engaged so far.
    Engagement {
        /// Only a name and an address are known.
        None => "none",
        /// Downloaded content or visited the site.
        Content => "content",
        /// Asked for information but will not talk.
        Inquiry => "inquiry",
        /// Talked with a rep.
        Conversation => "conversation",
        /// Requirements analysed, demo or proof of concept made.
        Evaluation => "evaluation",
        /// A quote or proposal was sent.
        Proposal => "proposal",
        /// A contract was sent.
        Contract => "contract",
    }
);

// The enum comes from `snake_enum!`, which cannot mark a `#[default]` variant.
#[allow(clippy::derivable_impls)]
impl Default for Engagement {
    fn default() -> Self {
        Engagement::None
    }
}

snake_enum!(
    /// Lead rating.
    Rating {
        /// Hot.
        Hot => "hot",
        /// Warm.
        Warm => "warm",
        /// Cold.
        Cold => "cold",
    }
);

snake_enum!(
    /// The kind of a CRM activity.
    ActivityKind {
        /// Phone call.
        Call => "call",
        /// Email.
        Email => "email",
        /// Meeting or appointment.
        Meeting => "meeting",
        /// Task.
        Task => "task",
        /// Anything else.
        Other => "other",
    }
);

snake_enum!(
    /// Whether an opportunity is still open or was closed, and how.
    OpportunityStatus {
        /// Still being worked.
        Open => "open",
        /// Closed and won.
        Won => "won",
        /// Closed and lost.
        Lost => "lost",
    }
);

// The enum comes from `snake_enum!`, which cannot mark a `#[default]` variant.
#[allow(clippy::derivable_impls)]
impl Default for OpportunityStatus {
    fn default() -> Self {
        OpportunityStatus::Open
    }
}

impl OpportunityStatus {
    fn is_open(&self) -> bool {
        *self == OpportunityStatus::Open
    }
}

snake_enum!(
    /// Why a lead is disqualified.
    DisqualifyReason {
        /// Lost.
        Lost => "lost",
        /// Cannot contact.
        CannotContact => "cannot_contact",
        /// No longer interested.
        NoLongerInterested => "no_longer_interested",
        /// Canceled.
        Canceled => "canceled",
    }
);

snake_enum!(
    /// The kind of a follow-up.
    FollowUpKind {
        /// Phone call.
        Call => "call",
        /// Email.
        Email => "email",
        /// Meeting.
        Meeting => "meeting",
        /// Task.
        Task => "task",
    }
);

snake_enum!(
    /// The kind of an existing CRM record.
    RecordKind {
        /// Account.
        Account => "account",
        /// Contact.
        Contact => "contact",
        /// Opportunity.
        Opportunity => "opportunity",
    }
);

snake_enum!(
    /// The direction of a stage move.
    MoveKind {
        /// Same stage.
        Stay => "stay",
        /// To the next stage.
        Forward => "forward",
        /// To an earlier stage.
        Back => "back",
        /// Forward past one or more stages.
        Skip => "skip",
    }
);

snake_enum!(
    /// What kind of rule failure.
    ErrorCode {
        /// The policy is invalid.
        InvalidPolicy => "invalid_policy",
        /// A decision was asked before the policy was accepted.
        NotInitialized => "not_initialized",
        /// A field the rules need is missing.
        MissingField => "missing_field",
        /// A field holds a value the rules refuse.
        InvalidValue => "invalid_value",
        /// A stage name the org does not have.
        UnknownStage => "unknown_stage",
        /// Conversion asked for a lead that is not qualified.
        NotQualified => "not_qualified",
        /// A fault inside the rules.
        Internal => "internal",
    }
);

/// A lead, as the rules read it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Lead {
    /// The CRM id.
    pub id: String,
    /// Company name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// Contact's full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<String>,
    /// Contact's email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Topic: what the prospect might buy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Where the lead came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<LeadSource>,
    /// How far the lead has engaged.
    #[serde(default)]
    pub engagement: Engagement,
    /// The prospect's budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Money>,
    /// The prospect's budget status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_status: Option<BudgetStatus>,
    /// Whether the decision maker is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_maker_known: Option<bool>,
    /// How strongly the prospect needs the offering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub need: Option<Need>,
    /// When the prospect intends to buy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeframe: Option<Timeframe>,
    /// Estimated value of the sale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_value: Option<Money>,
    /// Estimated close date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_close: Option<NaiveDate>,
    /// The lead belongs to an account that already buys from us.
    #[serde(default)]
    pub existing_customer: bool,
    /// Fields the contract has no slot for.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "unique_custom_fields"
    )]
    pub custom: CustomFields,
}

/// A CRM activity, categorised by stage and rated by the rep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Activity {
    /// The CRM id.
    pub id: String,
    /// What kind of activity.
    pub kind: ActivityKind,
    /// The sales stage the activity belongs to.
    pub stage: String,
    /// The rep's rating of how it went, 1 (badly) to 5 (very well).
    pub rating: u8,
    /// Whether it has happened.
    #[serde(default = "yes")]
    pub completed: bool,
    /// When it happened or is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<NaiveDate>,
}

fn yes() -> bool {
    true
}

/// An opportunity, as the rules read it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Opportunity {
    /// The CRM id.
    pub id: String,
    /// The opportunity's name.
    #[serde(default)]
    pub name: String,
    /// The current stage.
    pub stage: String,
    /// Open, or closed as won or lost (contract 0.2.0 on; older modules never see it).
    #[serde(default, skip_serializing_if = "OpportunityStatus::is_open")]
    pub status: OpportunityStatus,
    /// Estimated revenue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    /// Estimated close date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_date: Option<NaiveDate>,
    /// Names of the step fields that hold a value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filled: Vec<String>,
    /// Activities on the opportunity.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activities: Vec<Activity>,
    /// Fields the contract has no slot for.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "unique_custom_fields"
    )]
    pub custom: CustomFields,
}

/// The outcome of qualification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The lead is qualified.
    Qualified,
    /// The lead is disqualified, for a reason.
    Disqualified {
        /// Why.
        reason: DisqualifyReason,
    },
    /// Every required fact is known, but the lead is not strong enough yet: it
    /// stays a lead and is nurtured.
    Nurture,
    /// Facts are missing before a decision can be made.
    NeedsInformation {
        /// The missing fields.
        missing: Vec<String>,
    },
}

/// Something a person should do next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FollowUp {
    /// What kind.
    pub kind: FollowUpKind,
    /// What to do.
    pub subject: String,
    /// When it is due.
    pub due: NaiveDate,
}

/// A qualification decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Qualification {
    /// Qualified, disqualified or needs information.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Hot, warm or cold.
    pub rating: Rating,
    /// 0..100.
    pub score: u32,
    /// Why, for a person to read.
    pub reasons: Vec<String>,
    /// What to do next.
    pub follow_ups: Vec<FollowUp>,
}

/// An existing CRM record that may be the same party or deal as a lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    /// The CRM id.
    pub id: String,
    /// Account, contact or opportunity.
    pub kind: RecordKind,
    /// Its name.
    pub name: String,
    /// Its email (contacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Accounts: already a customer. Opportunities: still open.
    #[serde(default)]
    pub active: bool,
    /// Contacts and opportunities: the account they belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// What to do with one record of a conversion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RecordAction {
    /// Create a new record.
    Create,
    /// Link the existing record with this id.
    Link(String),
    /// Neither create nor link.
    Skip,
}

/// The plan to convert a qualified lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversionPlan {
    /// The account.
    pub account: RecordAction,
    /// The contact.
    pub contact: RecordAction,
    /// The opportunity.
    pub opportunity: RecordAction,
    /// The new opportunity's name.
    pub opportunity_name: Option<String>,
    /// The stage the opportunity starts in.
    pub initial_stage: String,
    /// Estimated value.
    pub estimated_value: Option<Money>,
    /// Estimated close date.
    pub estimated_close: Option<NaiveDate>,
    /// An existing customer went straight to an opportunity.
    pub skipped_lead_stage: bool,
    /// Why, for a person to read.
    pub reasons: Vec<String>,
}

/// One step of a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Shown to people, e.g. "Identify Decision Maker".
    pub name: String,
    /// The CRM field the step fills, e.g. `decisionmaker`.
    pub field: String,
    /// Whether the stage cannot be left without it.
    #[serde(default)]
    pub required: bool,
}

/// A sales stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Its name, e.g. "Develop".
    pub name: String,
    /// Its steps.
    #[serde(default)]
    pub steps: Vec<Step>,
}

/// Whether an opportunity may move to a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransitionCheck {
    /// Yes or no.
    pub allowed: bool,
    /// Forward, back, skip or stay.
    pub kind: MoveKind,
    /// Required fields not yet filled.
    pub missing: Vec<String>,
    /// Why, for a person to read.
    pub reasons: Vec<String>,
}

/// One stage's part in a forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageScore {
    /// The stage.
    pub stage: String,
    /// Its weight.
    pub weight: f64,
    /// Completed activities in it.
    pub activities: u32,
    /// Mean rating of those activities, 0..1.
    pub mean_rating: f64,
}

/// An activity-driven forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Forecast {
    /// Win probability, 0..1.
    pub probability: f64,
    /// Amount times probability.
    pub weighted_value: Option<Money>,
    /// Per-stage detail.
    pub stages: Vec<StageScore>,
    /// Why, for a person to read.
    pub reasons: Vec<String>,
}

/// A rule failure, as a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleError {
    /// What kind.
    pub code: ErrorCode,
    /// What happened.
    pub message: String,
    /// The field or policy path at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl RuleError {
    /// A rule error of `code` about `field`.
    pub fn new(code: ErrorCode, message: impl Into<String>, field: Option<&str>) -> Self {
        RuleError {
            code,
            message: message.into(),
            field: field.map(str::to_owned),
        }
    }
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(field) = &self.field {
            write!(f, " (field `{field}`)")?;
        }
        Ok(())
    }
}

impl std::error::Error for RuleError {}

/// What a module says about itself once its policy is accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModuleInfo {
    /// The module's name.
    pub name: String,
    /// The module's version.
    pub version: String,
    /// Custom fields its rules read.
    pub reads_custom_fields: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde's derived enum reader answered `{"budget_status": 7}` with serde_json's
    /// bare "expected value", naming neither the type found nor the names allowed.
    #[test]
    fn a_number_where_a_named_value_belongs_is_refused_with_the_names() {
        let error = serde_json::from_str::<Lead>(r#"{"id": "L", "budget_status": 7}"#)
            .expect_err("a number is no budget status")
            .to_string();
        assert!(
            error.starts_with(
                "invalid type: integer `7`, expected one of `no_committed_budget`, `may_buy`"
            ),
            "{error}"
        );
        let lead: Lead =
            serde_json::from_str(r#"{"id": "L", "budget_status": "can_buy"}"#).expect("a name");
        assert_eq!(lead.budget_status, Some(BudgetStatus::CanBuy));
    }

    #[test]
    fn dates_round_trip_through_days() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        assert_eq!(date_to_days(epoch), 0);
        let d = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert_eq!(days_to_date(date_to_days(d)), Some(d));
        assert_eq!(days_to_date(i32::MAX), None);
    }

    #[test]
    fn custom_field_json_forms() {
        let fields: CustomFields = serde_json::from_str(
            r#"{"a": "2026-01-01", "b": {"date": "2026-01-01"}, "c": 3, "d": true}"#,
        )
        .unwrap();
        assert_eq!(fields["a"], FieldValue::Text("2026-01-01".into()));
        assert!(matches!(fields["b"], FieldValue::Day { .. }));
        assert_eq!(fields["c"], FieldValue::Number(3.0));
        assert_eq!(fields["d"], FieldValue::Flag(true));
    }

    #[test]
    fn unknown_lead_field_is_refused() {
        let err = serde_json::from_str::<Lead>(r#"{"id": "x", "budjet": 1}"#).unwrap_err();
        assert!(err.to_string().contains("budjet"), "{err}");
    }

    #[test]
    fn a_custom_field_given_twice_is_refused_naming_it() {
        let err = serde_json::from_str::<Lead>(
            r#"{"id": "L-1", "custom": {"region": "EU", "tier": 1, "region": "US"}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("`region` is given twice"), "{err}");
        let err = serde_json::from_str::<Opportunity>(
            r#"{"id": "O-1", "stage": "Develop", "custom": {"x": 1, "x": 2}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("`x` is given twice"), "{err}");
        let lead: Lead =
            serde_json::from_str(r#"{"id": "L-1", "custom": {"a": 1, "b": 2}}"#).unwrap();
        assert_eq!(lead.custom.len(), 2);
    }

    #[test]
    fn outcome_is_flattened_into_qualification() {
        let q = Qualification {
            outcome: Outcome::Disqualified {
                reason: DisqualifyReason::Lost,
            },
            rating: Rating::Cold,
            score: 3,
            reasons: vec![],
            follow_ups: vec![],
        };
        let json = serde_json::to_value(&q).unwrap();
        assert_eq!(json["outcome"], "disqualified");
        assert_eq!(json["reason"], "lost");
    }
}
