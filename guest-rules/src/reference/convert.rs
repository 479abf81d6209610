//! Conversion: which account, contact and opportunity to create or link for a
//! qualified lead, given the existing records the host found (candidates).
//!
//! Matching needs the lead's company, email and topic as text (names are compared
//! with whitespace runs collapsed and case ignored, emails trimmed and case
//! ignored), so these are the texts the input query asks for. When several
//! candidates match equally well the first one wins: the host passes candidates in
//! ascending id order, so that is the lowest id, whatever order the CRM found them
//! in.

use chrono::{Datelike, Days, NaiveDate};

use crate::contract::{
    Arg, Candidate, Context, ConversionPlan, Date, EnumName, ErrorCode, FieldRef, Lead, LeadField,
    LeadTexts, Outcome, Qualification, RecordAction, RecordKind, RuleError, Timeframe,
};
use crate::dates;
use crate::policy::Policy;
use crate::reads::Reads;
use crate::templates::{TemplateId, Templates};

#[derive(Debug, Clone)]
struct Texts {
    qualified: TemplateId,
    existing_customer_skips_lead: TemplateId,
    account_exists: TemplateId,
    contact_exists: TemplateId,
    no_opportunity: TemplateId,
    open_opportunity_exists: TemplateId,
    /// `{0}`: the lead's topic, or a linked opportunity's name.
    opportunity_name: TemplateId,
    /// `{0} opportunity`: the lead's company.
    company_opportunity: TemplateId,
}

/// Conversion, compiled from the policy.
#[derive(Debug, Clone)]
pub(super) struct ConvertRules {
    create_opportunity: bool,
    existing_customer_skips_lead: bool,
    initial_stage: u32,
    customer_initial_stage: u32,
    default_close_days: u32,
    texts: Texts,
}

fn stage_named(policy: &Policy, name: &str) -> Result<u32, RuleError> {
    policy
        .stage_index(name)
        .and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| {
            // The policy check has already refused unknown stage names.
            RuleError::new(
                ErrorCode::Internal,
                format!("stage `{name}` vanished from the policy"),
                None,
            )
        })
}

impl ConvertRules {
    pub(super) fn new(
        policy: &Policy,
        t: &mut Templates,
        reads: &mut Reads,
    ) -> Result<Self, RuleError> {
        reads.convert(LeadTexts::COMPANY | LeadTexts::EMAIL | LeadTexts::TOPIC);
        let texts = Texts {
            qualified: t.add("convert.qualified", "the lead is qualified")?,
            existing_customer_skips_lead: t.add(
                "convert.existing_customer_skips_lead",
                "an existing customer goes straight to an opportunity",
            )?,
            account_exists: t.add("convert.account_exists", "account `{0}` already exists")?,
            contact_exists: t.add("convert.contact_exists", "contact `{0}` already exists")?,
            no_opportunity: t.add(
                "convert.no_opportunity",
                "this org creates no opportunity on conversion",
            )?,
            open_opportunity_exists: t.add(
                "convert.open_opportunity_exists",
                "open opportunity `{0}` already exists: linking, not duplicating",
            )?,
            opportunity_name: t.add("convert.opportunity_name", "{0}")?,
            company_opportunity: t.add("convert.company_opportunity", "{0} opportunity")?,
        };
        let c = &policy.conversion;
        let initial_stage = match &c.initial_stage {
            Some(name) => stage_named(policy, name)?,
            // The second stage: the first is where leads are qualified.
            None => u32::from(policy.stages.len() > 1),
        };
        let customer_initial_stage = match &c.customer_initial_stage {
            Some(name) => stage_named(policy, name)?,
            None => initial_stage,
        };
        Ok(ConvertRules {
            create_opportunity: c.create_opportunity,
            existing_customer_skips_lead: c.existing_customer_skips_lead,
            initial_stage,
            customer_initial_stage,
            default_close_days: c.default_close_days,
            texts,
        })
    }

    /// The plan for a lead these rules qualified as `qualification`.
    pub(super) fn plan(
        &self,
        ctx: &Context,
        lead: &Lead,
        candidates: &[Candidate],
        qualification: &Qualification,
        qualify_at: u32,
    ) -> Result<ConversionPlan, RuleError> {
        let t = &self.texts;
        let mut reasons = Vec::with_capacity(4);

        let account_match = lead.company.as_deref().and_then(|company| {
            // An account that already buys wins over one that does not.
            best(candidates, |k| {
                (k.kind == RecordKind::Account && same_name(&k.name, company, None))
                    .then_some(k.active)
            })
        });
        let existing_customer =
            lead.existing_customer || account_match.is_some_and(|(_, k)| k.active);
        let skips_lead = existing_customer && self.existing_customer_skips_lead;

        match (&qualification.outcome, skips_lead) {
            (Outcome::Qualified, _) => reasons.push(t.qualified.reason(Vec::new())),
            (Outcome::Disqualified(reason), _) => {
                return Err(RuleError::new(
                    ErrorCode::NotQualified,
                    format!(
                        "the lead is disqualified ({}) and cannot be converted",
                        reason.name()
                    ),
                    None,
                ))
            }
            (_, true) => reasons.push(t.existing_customer_skips_lead.reason(Vec::new())),
            (Outcome::NeedsInformation(missing), false) => {
                let names: Vec<&str> = missing.iter().filter_map(|f| f.lead_field_name()).collect();
                return Err(RuleError::new(
                    ErrorCode::NotQualified,
                    format!(
                        "the lead is not qualified: not yet known: {}",
                        names.join(", ")
                    ),
                    names.first().copied(),
                ));
            }
            (Outcome::Nurture, false) => {
                return Err(RuleError::new(
                    ErrorCode::NotQualified,
                    format!(
                        "the lead is not qualified: score {} is below {qualify_at}",
                        qualification.score
                    ),
                    None,
                ))
            }
        }

        let account = match account_match {
            Some((at, _)) => {
                reasons.push(t.account_exists.reason(vec![Arg::Candidate(at)]));
                RecordAction::Link(at)
            }
            None if lead.present.contains(LeadTexts::COMPANY) => RecordAction::Create,
            None => RecordAction::Skip,
        };
        let linked_account = match account {
            RecordAction::Link(at) => Some(at),
            _ => None,
        };

        let contact_match = lead.email.as_deref().and_then(|email| {
            // A contact of the linked account (or, with none linked, a contact of no
            // account) wins over the others.
            best(candidates, |k| {
                let same_email = k.email.as_deref().is_some_and(|e| same_email(e, email));
                (k.kind == RecordKind::Contact && same_email).then_some(k.account == linked_account)
            })
        });
        let contact = match contact_match {
            Some((at, _)) => {
                reasons.push(t.contact_exists.reason(vec![Arg::Candidate(at)]));
                RecordAction::Link(at)
            }
            // The contact's name is not read: its presence is enough here.
            None if lead.present.contains(LeadTexts::CONTACT_NAME) || lead.email.is_some() => {
                RecordAction::Create
            }
            None => RecordAction::Skip,
        };

        // The new opportunity's name: the topic, else "<company> opportunity".
        let wanted = match (&lead.topic, &lead.company) {
            (Some(topic), _) => Some((topic.as_str(), None, LeadField::Topic)),
            (None, Some(company)) => {
                Some((company.as_str(), Some("opportunity"), LeadField::Company))
            }
            (None, None) => None,
        };
        let open_match = wanted.and_then(|(name, suffix, _)| {
            best(candidates, |k| {
                (k.kind == RecordKind::Opportunity
                    && k.active
                    && same_name(&k.name, name, suffix)
                    && (linked_account.is_none() || k.account == linked_account))
                    .then_some(false)
            })
        });
        let (opportunity, opportunity_name) = if !self.create_opportunity {
            reasons.push(t.no_opportunity.reason(Vec::new()));
            (RecordAction::Skip, None)
        } else if let Some((at, _)) = open_match {
            reasons.push(t.open_opportunity_exists.reason(vec![Arg::Candidate(at)]));
            let name = t.opportunity_name.message(vec![Arg::Candidate(at)]);
            (RecordAction::Link(at), Some(name))
        } else {
            let name = wanted.map(|(_, suffix, field)| {
                let template = match suffix {
                    Some(_) => t.company_opportunity,
                    None => t.opportunity_name,
                };
                template.message(vec![Arg::Value(FieldRef::Lead(field))])
            });
            (RecordAction::Create, name)
        };

        let today = dates::today(ctx)?;
        Ok(ConversionPlan {
            account,
            contact,
            opportunity,
            opportunity_name,
            initial_stage: if skips_lead {
                self.customer_initial_stage
            } else {
                self.initial_stage
            },
            estimated_value: lead.estimated_value.or(lead.budget),
            estimated_close: Some(self.estimated_close(today, lead)),
            skipped_lead_stage: skips_lead,
            reasons,
        })
    }

    fn estimated_close(&self, today: Date, lead: &Lead) -> Date {
        if let Some(date) = lead.estimated_close {
            return date;
        }
        let Some(day) = dates::to_naive(today) else {
            return today;
        };
        let days_ahead = |days: u32| day.checked_add_days(Days::new(u64::from(days)));
        let close = match lead.timeframe {
            Some(Timeframe::Immediate) => days_ahead(30),
            Some(Timeframe::ThisQuarter) => dates::quarter_end(day, 0),
            Some(Timeframe::NextQuarter) => dates::quarter_end(day, 1),
            Some(Timeframe::ThisYear) => NaiveDate::from_ymd_opt(day.year(), 12, 31),
            Some(Timeframe::Unknown) | None => days_ahead(self.default_close_days),
        };
        close.map_or(today, dates::from_naive)
    }
}

/// The best candidate `rank` accepts (`Some(preferred)`): the first preferred one,
/// else the first one. Candidates come in id order, so "first" is the lowest id.
fn best(
    candidates: &[Candidate],
    rank: impl Fn(&Candidate) -> Option<bool>,
) -> Option<(u32, &Candidate)> {
    let mut found: Option<(u32, &Candidate, bool)> = None;
    for (at, k) in (0u32..).zip(candidates) {
        if let Some(preferred) = rank(k) {
            if found.is_none_or(|(_, _, best)| preferred && !best) {
                found = Some((at, k, preferred));
            }
        }
    }
    found.map(|(at, k, _)| (at, k))
}

/// Whether a candidate's name is `wanted` (followed by the word `suffix`) once runs
/// of whitespace are collapsed and case is ignored.
fn same_name(candidate: &str, wanted: &str, suffix: Option<&str>) -> bool {
    if candidate.is_ascii() && wanted.is_ascii() {
        // The common case, without allocating: word by word, ASCII case ignored.
        let mut theirs = candidate.split_whitespace();
        let mut ours = wanted.split_whitespace().chain(suffix);
        loop {
            match (theirs.next(), ours.next()) {
                (None, None) => return true,
                (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => {}
                _ => return false,
            }
        }
    }
    let wanted = match suffix {
        Some(suffix) => normalise(&format!("{wanted} {suffix}")),
        None => normalise(wanted),
    };
    normalise(candidate) == wanted
}

/// A name with whitespace runs collapsed to one space, in lower case.
fn normalise(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Whether two email addresses are the same, trimmed and ignoring case.
fn same_email(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_across_spacing_and_case() {
        assert!(same_name("Novak  engineering", "Novak Engineering", None));
        assert!(same_name(
            " acme  opportunity ",
            "ACME",
            Some("opportunity")
        ));
        assert!(!same_name("Acme Ltd", "Acme", None));
        assert!(same_name("ÉCOLE Süd", "école  süd", None));
        assert!(!same_name("", "x", None));
        assert!(same_name("opportunity", "  ", Some("opportunity")));
    }

    #[test]
    fn emails_match_trimmed_and_ignoring_case() {
        assert!(same_email(" MIA@x.example", "mia@X.example "));
        assert!(same_email("ÅSA@x.example", "åsa@x.example"));
        assert!(!same_email("a@x", "b@x"));
    }
}
