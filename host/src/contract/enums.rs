//! The model's enums into a contract version's: every version names the cases of
//! these enums alike, so one macro writes the `From` impls of each version's
//! bindings (`enums_into!(t)` in `since_v*.rs`, with `t` its `types` module).

/// Writes `From<model enum> for t::Enum` for the enums every contract version
/// shares case for case.
macro_rules! enums_into {
    ($t:ident) => {
        $crate::contract::enums::enum_into!(
            $t::LeadSource,
            LeadSource {
                WebForm,
                PhoneInquiry,
                EmployeeReferral,
                ExternalReferral,
                Partner,
                Advertisement,
                PublicRelations,
                Seminar,
                TradeShow,
                PurchasedList,
                WordOfMouth,
                Other
            }
        );
        $crate::contract::enums::enum_into!(
            $t::Engagement,
            Engagement {
                None,
                Content,
                Inquiry,
                Conversation,
                Evaluation,
                Proposal,
                Contract
            }
        );
        $crate::contract::enums::enum_into!(
            $t::BudgetStatus,
            BudgetStatus {
                NoCommittedBudget,
                MayBuy,
                CanBuy,
                WillBuy
            }
        );
        $crate::contract::enums::enum_into!(
            $t::Need,
            Need {
                MustHave,
                ShouldHave,
                GoodToHave,
                NoNeed
            }
        );
        $crate::contract::enums::enum_into!(
            $t::Timeframe,
            Timeframe {
                Immediate,
                ThisQuarter,
                NextQuarter,
                ThisYear,
                Unknown
            }
        );
        $crate::contract::enums::enum_into!(
            $t::ActivityKind,
            ActivityKind {
                Call,
                Email,
                Meeting,
                Task,
                Other
            }
        );
    };
}

/// One enum's `From` impl, case by case (a case missing on either side is a
/// compile error, not a silent default).
macro_rules! enum_into {
    ($to:path, $from:ident { $($case:ident),* $(,)? }) => {
        impl From<crm_rules_model::$from> for $to {
            fn from(value: crm_rules_model::$from) -> Self {
                match value {
                    $(crm_rules_model::$from::$case => <$to>::$case,)*
                }
            }
        }
    };
}

pub(crate) use {enum_into, enums_into};
