//! The snake_case names of the contract's enums (`web_form`, `budget_status`), as
//! JSON, org policies and rendered texts write them.
//!
//! The generated enums know nothing of serde, so their `Deserialize` is written
//! here, once for all of them, as the model crate's enums read: a policy with a
//! misspelt source fails with the same message and path as a record with one.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Visitor};

use crate::contract::{
    ActivityKind, BudgetStatus, DisqualifyReason, Engagement, ErrorCode, FollowUpKind, LeadField,
    LeadSource, MoveKind, Need, OpportunityStatus, Rating, RecordKind, Timeframe,
};

/// A contract enum with a name for each value.
pub trait EnumName: Sized + Copy + 'static {
    /// The enum's name in the contract's Rust types, e.g. `LeadSource`.
    const TYPE_NAME: &'static str;
    /// Every value, in contract order: `ALL[v as usize] == v`.
    const ALL: &'static [Self];
    /// Every value's name, in the same order.
    const NAMES: &'static [&'static str];
    /// The value's name, e.g. `web_form`.
    fn name(self) -> &'static str;
    /// The value of a name, if it is one.
    fn from_name(name: &str) -> Option<Self> {
        let at = Self::NAMES.iter().position(|n| *n == name)?;
        Self::ALL.get(at).copied()
    }
}

macro_rules! enum_names {
    ($($ty:ident { $($variant:ident => $name:literal),+ $(,)? })+) => {$(
        impl EnumName for $ty {
            const TYPE_NAME: &'static str = stringify!($ty);
            const ALL: &'static [Self] = &[$($ty::$variant),+];
            const NAMES: &'static [&'static str] = &[$($name),+];
            fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str(NameVisitor::<$ty>(PhantomData))
            }
        }
    )+};
}

enum_names! {
    BudgetStatus {
        NoCommittedBudget => "no_committed_budget",
        MayBuy => "may_buy",
        CanBuy => "can_buy",
        WillBuy => "will_buy",
    }
    Need {
        MustHave => "must_have",
        ShouldHave => "should_have",
        GoodToHave => "good_to_have",
        NoNeed => "no_need",
    }
    Timeframe {
        Immediate => "immediate",
        ThisQuarter => "this_quarter",
        NextQuarter => "next_quarter",
        ThisYear => "this_year",
        Unknown => "unknown",
    }
    LeadSource {
        WebForm => "web_form",
        PhoneInquiry => "phone_inquiry",
        EmployeeReferral => "employee_referral",
        ExternalReferral => "external_referral",
        Partner => "partner",
        Advertisement => "advertisement",
        PublicRelations => "public_relations",
        Seminar => "seminar",
        TradeShow => "trade_show",
        PurchasedList => "purchased_list",
        WordOfMouth => "word_of_mouth",
        Other => "other",
    }
    Engagement {
        None => "none",
        Content => "content",
        Inquiry => "inquiry",
        Conversation => "conversation",
        Evaluation => "evaluation",
        Proposal => "proposal",
        Contract => "contract",
    }
    LeadField {
        Id => "id",
        Company => "company",
        ContactName => "contact_name",
        Email => "email",
        Topic => "topic",
        Source => "source",
        Engagement => "engagement",
        Budget => "budget",
        BudgetStatus => "budget_status",
        DecisionMakerKnown => "decision_maker_known",
        Need => "need",
        Timeframe => "timeframe",
        EstimatedValue => "estimated_value",
        EstimatedClose => "estimated_close",
        ExistingCustomer => "existing_customer",
    }
    Rating {
        Hot => "hot",
        Warm => "warm",
        Cold => "cold",
    }
    ActivityKind {
        Call => "call",
        Email => "email",
        Meeting => "meeting",
        Task => "task",
        Other => "other",
    }
    OpportunityStatus {
        Open => "open",
        Won => "won",
        Lost => "lost",
    }
    ErrorCode {
        InvalidPolicy => "invalid_policy",
        NotInitialized => "not_initialized",
        MissingField => "missing_field",
        InvalidValue => "invalid_value",
        UnknownStage => "unknown_stage",
        NotQualified => "not_qualified",
        Internal => "internal",
    }
    DisqualifyReason {
        Lost => "lost",
        CannotContact => "cannot_contact",
        NoLongerInterested => "no_longer_interested",
        Canceled => "canceled",
    }
    FollowUpKind {
        Call => "call",
        Email => "email",
        Meeting => "meeting",
        Task => "task",
    }
    RecordKind {
        Account => "account",
        Contact => "contact",
        Opportunity => "opportunity",
    }
    MoveKind {
        Stay => "stay",
        Forward => "forward",
        Back => "back",
        Skip => "skip",
    }
}

/// Reads a value by its name, from a string only: serde's derived enum reader,
/// given a number or a boolean, fails with serde_json's bare "expected value".
struct NameVisitor<T>(PhantomData<T>);

impl<T: EnumName> Visitor<'_> for NameVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("one of ")?;
        for (i, name) in T::NAMES.iter().enumerate() {
            let comma = if i == 0 { "" } else { ", " };
            write!(f, "{comma}`{name}`")?;
        }
        Ok(())
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<T, E> {
        T::from_name(name).ok_or_else(|| E::unknown_variant(name, T::NAMES))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_round_trip<T: EnumName + PartialEq + fmt::Debug>() {
        assert_eq!(T::ALL.len(), T::NAMES.len(), "{}", T::TYPE_NAME);
        for (i, value) in T::ALL.iter().enumerate() {
            assert_eq!(T::from_name(value.name()), Some(*value));
            assert_eq!(T::NAMES[i], value.name());
        }
    }

    #[test]
    fn every_value_has_its_own_name() {
        all_round_trip::<BudgetStatus>();
        all_round_trip::<Need>();
        all_round_trip::<Timeframe>();
        all_round_trip::<LeadSource>();
        all_round_trip::<Engagement>();
        all_round_trip::<LeadField>();
        all_round_trip::<Rating>();
        all_round_trip::<ActivityKind>();
        all_round_trip::<OpportunityStatus>();
        all_round_trip::<ErrorCode>();
        all_round_trip::<DisqualifyReason>();
        all_round_trip::<FollowUpKind>();
        all_round_trip::<RecordKind>();
        all_round_trip::<MoveKind>();
    }

    #[test]
    fn all_is_in_discriminant_order() {
        for (i, value) in LeadSource::ALL.iter().enumerate() {
            assert_eq!(*value as usize, i);
        }
        for (i, value) in Engagement::ALL.iter().enumerate() {
            assert_eq!(*value as usize, i);
        }
        for (i, value) in FollowUpKind::ALL.iter().enumerate() {
            assert_eq!(*value as usize, i);
        }
    }

    #[test]
    fn names_deserialise_as_values_and_as_map_keys() {
        let source: LeadSource = serde_json::from_str(r#""trade_show""#).unwrap();
        assert_eq!(source, LeadSource::TradeShow);
        let points: std::collections::BTreeMap<Rating, u32> =
            serde_json::from_str(r#"{"hot": 1, "cold": 2}"#).unwrap();
        assert_eq!(points.get(&Rating::Cold), Some(&2));
    }

    /// The messages must be the ones the model crate's enums give, so a policy and
    /// a record with the same mistake read alike.
    #[test]
    fn errors_read_as_the_derived_ones() {
        for json in [r#""carrier_pigeon""#, "3", r#"{"web_form": 1}"#, "null"] {
            let ours = serde_json::from_str::<LeadSource>(json).unwrap_err();
            let derived = serde_json::from_str::<crm_rules_model::LeadSource>(json).unwrap_err();
            assert_eq!(ours.to_string(), derived.to_string(), "{json}");
        }
        let key = r#"{"pigeon": 3}"#;
        let ours =
            serde_json::from_str::<std::collections::BTreeMap<LeadSource, u32>>(key).unwrap_err();
        let derived = serde_json::from_str::<
            std::collections::BTreeMap<crm_rules_model::LeadSource, u32>,
        >(key)
        .unwrap_err();
        assert_eq!(ours.to_string(), derived.to_string());
    }
}
