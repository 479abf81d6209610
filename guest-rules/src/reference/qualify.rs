//! Lead qualification: the BANT checklist, a score from the lead's source,
//! engagement and answers (plus the org's custom rules), a rating and a follow-up.
//!
//! This is the hottest decision, so it allocates only the answer's own vectors: the
//! policy's points are arrays indexed by the enum value, every text is a template
//! declared at `init`, and the lead's texts are never read (presence flags say
//! whether there is an email or a contact name; follow-up subjects quote the
//! record's values through `value(...)` arguments the host fills in).

use crate::contract::{
    Arg, BudgetStatus, Context, Date, DisqualifyReason, Engagement, EnumName, ErrorCode, FieldRef,
    FieldValue, FollowUp, FollowUpKind, Lead, LeadField, LeadSource, LeadTexts, Need, Outcome,
    Qualification, Rating, Reason, RuleError, Timeframe,
};
use crate::dates;
use crate::policy::{Criterion, CustomRule, Policy};
use crate::reads::{CustomFieldId, Reads};
use crate::templates::{literal, TemplateId, Templates};

use super::shown_points;

const SOURCES: usize = LeadSource::ALL.len();
const ENGAGEMENTS: usize = Engagement::ALL.len();
const BUDGET_STATUSES: usize = BudgetStatus::ALL.len();
const NEEDS: usize = Need::ALL.len();
const TIMEFRAMES: usize = Timeframe::ALL.len();
const RATINGS: usize = Rating::ALL.len();
const FOLLOW_UP_KINDS: usize = FollowUpKind::ALL.len();

/// The subjects of one kind of follow-up: the kind's word is part of the text.
#[derive(Debug, Clone)]
struct SubjectTexts {
    /// `call {0}: agree next steps` (qualified).
    agree_next_steps: TemplateId,
    /// `call {0}: confirm {1}` (facts missing).
    confirm_missing: TemplateId,
    /// `call {0}: keep in touch` (nurture).
    keep_in_touch: TemplateId,
}

/// The texts of qualification every org has.
#[derive(Debug, Clone)]
pub(super) struct Texts {
    base_points: TemplateId,
    source: [TemplateId; SOURCES],
    engagement: [TemplateId; ENGAGEMENTS],
    budget: [TemplateId; BUDGET_STATUSES],
    budget_amount: TemplateId,
    authority: TemplateId,
    need: [TemplateId; NEEDS],
    timeframe: [TemplateId; TIMEFRAMES],
    existing_customer: TemplateId,
    no_need: TemplateId,
    cannot_contact: TemplateId,
    below_disqualification_line: TemplateId,
    not_yet_known: TemplateId,
    reaches_qualification_line: TemplateId,
    below_qualification_line: TemplateId,
    follow_up: [SubjectTexts; FOLLOW_UP_KINDS],
}

/// One template per value of an enum: code `prefix.value`, text `prefix value`.
fn per_value<T: EnumName, const N: usize>(
    templates: &mut Templates,
    prefix: &str,
) -> Result<[TemplateId; N], RuleError> {
    let ids = T::ALL
        .iter()
        .map(|v| {
            templates.add(
                format!("{prefix}.{}", v.name()),
                format!("{prefix} {}", v.name()),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    ids.try_into().map_err(|_| {
        RuleError::new(
            ErrorCode::Internal,
            format!("{} does not have {N} values", T::TYPE_NAME),
            None,
        )
    })
}

impl Texts {
    pub(super) fn declare(t: &mut Templates) -> Result<Self, RuleError> {
        let base_points = t.add("base_points", "base points")?;
        let source = per_value::<LeadSource, SOURCES>(t, "source")?;
        let engagement = per_value::<Engagement, ENGAGEMENTS>(t, "engagement")?;
        let budget = per_value::<BudgetStatus, BUDGET_STATUSES>(t, "budget")?;
        let budget_amount = t.add("budget.amount_known", "budget amount known")?;
        let authority = t.add("authority.known", "decision maker known")?;
        let need = per_value::<Need, NEEDS>(t, "need")?;
        let timeframe = per_value::<Timeframe, TIMEFRAMES>(t, "timeframe")?;
        let existing_customer = t.add("existing_customer", "existing customer")?;
        let no_need = t.add("qualify.no_need", "the prospect has no need")?;
        let cannot_contact = t.add(
            "qualify.cannot_contact",
            "neither an email nor a contact name is known",
        )?;
        let below_disqualification_line = t.add(
            "qualify.below_disqualification_line",
            "score {0} is below the disqualification line {1}",
        )?;
        let not_yet_known = t.add("qualify.not_yet_known", "not yet known: {0}")?;
        let reaches_qualification_line = t.add(
            "qualify.reaches_qualification_line",
            "score {0} reaches the qualification line {1}",
        )?;
        let below_qualification_line = t.add(
            "qualify.below_qualification_line",
            "score {0} is below the qualification line {1}: nurture",
        )?;
        let follow_up = FollowUpKind::ALL
            .iter()
            .map(|kind| {
                let k = kind.name();
                Ok(SubjectTexts {
                    agree_next_steps: t.add(
                        format!("follow_up.{k}.agree_next_steps"),
                        format!("{k} {{0}}: agree next steps"),
                    )?,
                    confirm_missing: t.add(
                        format!("follow_up.{k}.confirm_missing"),
                        format!("{k} {{0}}: confirm {{1}}"),
                    )?,
                    keep_in_touch: t.add(
                        format!("follow_up.{k}.keep_in_touch"),
                        format!("{k} {{0}}: keep in touch"),
                    )?,
                })
            })
            .collect::<Result<Vec<_>, RuleError>>()?
            .try_into()
            .map_err(|_| RuleError::new(ErrorCode::Internal, "follow-up kinds miscounted", None))?;
        Ok(Texts {
            base_points,
            source,
            engagement,
            budget,
            budget_amount,
            authority,
            need,
            timeframe,
            existing_customer,
            no_need,
            cannot_contact,
            below_disqualification_line,
            not_yet_known,
            reaches_qualification_line,
            below_qualification_line,
            follow_up,
        })
    }
}

/// What a custom rule's `equals` compares with, read once from the policy's JSON.
#[derive(Debug, Clone)]
enum Expected {
    /// Compared trimmed and ignoring ASCII case.
    Text(String),
    Number(Option<f64>),
    Flag(bool),
}

/// A custom rule, compiled.
#[derive(Debug, Clone)]
struct Rule {
    field: CustomFieldId,
    equals: Option<Expected>,
    at_least: Option<f64>,
    at_most: Option<f64>,
    points: i32,
    template: TemplateId,
}

impl Rule {
    fn matches(&self, value: &FieldValue) -> bool {
        if let Some(expected) = &self.equals {
            let equal = match (expected, value) {
                (Expected::Text(e), FieldValue::Text(v)) => e.eq_ignore_ascii_case(v.trim()),
                (Expected::Number(e), FieldValue::Number(v)) => *e == Some(*v),
                (Expected::Flag(e), FieldValue::Flag(v)) => e == v,
                _ => false,
            };
            if !equal {
                return false;
            }
        }
        if self.at_least.is_some() || self.at_most.is_some() {
            let FieldValue::Number(n) = value else {
                return false;
            };
            if self.at_least.is_some_and(|min| *n < min) || self.at_most.is_some_and(|max| *n > max)
            {
                return false;
            }
        }
        true
    }
}

/// A custom rule's code: the field and its conditions, e.g.
/// `custom.new_industry=Government` or `custom.new_employees>=1000`.
fn rule_code(rule: &CustomRule) -> String {
    let mut code = format!("custom.{}", rule.field);
    match &rule.equals {
        Some(serde_json::Value::String(text)) => code.push_str(&format!("={text}")),
        Some(other) => code.push_str(&format!("={other}")),
        None => {}
    }
    if let Some(min) = rule.at_least {
        code.push_str(&format!(">={min}"));
    }
    if let Some(max) = rule.at_most {
        code.push_str(&format!("<={max}"));
    }
    code
}

/// Qualification, compiled from the policy.
#[derive(Debug, Clone)]
pub(super) struct QualifyRules {
    /// In the policy's (sorted) order, which is the order of `missing`.
    required: Vec<Criterion>,
    base_points: i32,
    source_points: [u32; SOURCES],
    engagement_points: [u32; ENGAGEMENTS],
    budget_points: [u32; BUDGET_STATUSES],
    budget_amount_points: u32,
    authority_points: u32,
    need_points: [u32; NEEDS],
    timeframe_points: [u32; TIMEFRAMES],
    existing_customer_points: u32,
    rules: Vec<Rule>,
    qualify_at: u32,
    disqualify_below: u32,
    disqualify_uncontactable: bool,
    hot_from: u32,
    warm_from: u32,
    follow_up_days: [u32; RATINGS],
    follow_up_kind: [FollowUpKind; RATINGS],
    /// Sorted, for a binary search.
    holidays: Vec<Date>,
    /// The most reasons a qualification can give, to allocate them once.
    most_reasons: usize,
    texts: Texts,
}

/// An array of `T`'s values looked up in a policy map, `missing` where absent.
fn by_value<K: EnumName + Ord, V: Copy, const N: usize>(
    map: &std::collections::BTreeMap<K, V>,
    missing: V,
) -> [V; N] {
    std::array::from_fn(|i| {
        K::ALL
            .get(i)
            .and_then(|k| map.get(k))
            .copied()
            .unwrap_or(missing)
    })
}

impl QualifyRules {
    pub(super) fn new(
        policy: &Policy,
        texts: Texts,
        templates: &mut Templates,
        reads: &mut Reads,
    ) -> Result<Self, RuleError> {
        let q = &policy.qualification;
        let mut rules = Vec::with_capacity(q.custom_rules.len());
        for rule in &q.custom_rules {
            let code = rule_code(rule);
            // Two rules with the same field and conditions keep apart by number.
            let code = (1..)
                .map(|n| match n {
                    1 => code.clone(),
                    n => format!("{code}#{n}"),
                })
                .find(|c| templates.find(c).is_none())
                .unwrap_or(code);
            let text = match &rule.reason {
                Some(reason) => literal(reason),
                None => literal(&format!("custom field {}", rule.field)),
            };
            rules.push(Rule {
                field: reads.custom_field(&rule.field),
                equals: rule.equals.as_ref().map(|value| match value {
                    serde_json::Value::String(text) => Expected::Text(text.trim().to_owned()),
                    serde_json::Value::Number(n) => Expected::Number(n.as_f64()),
                    serde_json::Value::Bool(b) => Expected::Flag(*b),
                    // The policy check refuses other values; they would match nothing.
                    _ => Expected::Number(None),
                }),
                at_least: rule.at_least,
                at_most: rule.at_most,
                points: rule.points,
                template: templates.add(code, text)?,
            });
        }
        let mut holidays: Vec<Date> = q
            .follow_up
            .holidays
            .iter()
            .map(|d| dates::from_naive(*d))
            .collect();
        holidays.sort_unstable();
        Ok(QualifyRules {
            required: q.required.iter().copied().collect(),
            base_points: q.base_points,
            source_points: by_value(&q.source_points, 0),
            engagement_points: by_value(&q.engagement_points, 0),
            budget_points: by_value(&q.budget_points, 0),
            budget_amount_points: q.budget_amount_points,
            authority_points: q.authority_points,
            need_points: by_value(&q.need_points, 0),
            timeframe_points: by_value(&q.timeframe_points, 0),
            existing_customer_points: q.existing_customer_points,
            // Base, source, engagement, budget, authority, need, timeframe, existing
            // customer, the custom rules, and the outcome's own reason.
            most_reasons: 9 + rules.len(),
            rules,
            qualify_at: q.qualify_at,
            disqualify_below: q.disqualify_below,
            disqualify_uncontactable: q.disqualify_uncontactable,
            hot_from: q.ratings.hot,
            warm_from: q.ratings.warm,
            follow_up_days: by_value(&q.follow_up.days, 5),
            follow_up_kind: by_value(&q.follow_up.kind, FollowUpKind::Call),
            holidays,
            texts,
        })
    }

    /// The minimum score of a qualified lead.
    pub(super) fn qualify_at(&self) -> u32 {
        self.qualify_at
    }

    pub(super) fn qualify(&self, ctx: &Context, lead: &Lead) -> Result<Qualification, RuleError> {
        if !lead.present.contains(LeadTexts::ID) {
            return Err(RuleError::new(
                ErrorCode::MissingField,
                "the lead has no id",
                Some("id"),
            ));
        }
        let today = dates::today(ctx)?;
        let t = &self.texts;
        let mut reasons = Vec::with_capacity(self.most_reasons);
        let points = self.score(lead, &mut reasons);
        let contactable = lead
            .present
            .intersects(LeadTexts::EMAIL | LeadTexts::CONTACT_NAME);

        let outcome = if lead.need == Some(Need::NoNeed) {
            reasons.push(t.no_need.reason(Vec::new()));
            Outcome::Disqualified(DisqualifyReason::NoLongerInterested)
        } else if self.disqualify_uncontactable && !contactable {
            reasons.push(t.cannot_contact.reason(Vec::new()));
            Outcome::Disqualified(DisqualifyReason::CannotContact)
        } else if points < self.disqualify_below {
            let args = score_and_line(points, self.disqualify_below);
            reasons.push(t.below_disqualification_line.reason(args));
            Outcome::Disqualified(DisqualifyReason::Lost)
        } else if self.required.iter().any(|c| !is_known(lead, *c)) {
            let missing: Vec<FieldRef> = self
                .required
                .iter()
                .filter(|c| !is_known(lead, **c))
                .map(|c| FieldRef::Lead(c.field()))
                .collect();
            reasons.push(t.not_yet_known.reason(vec![Arg::Fields(missing.clone())]));
            Outcome::NeedsInformation(missing)
        } else if points >= self.qualify_at {
            let args = score_and_line(points, self.qualify_at);
            reasons.push(t.reaches_qualification_line.reason(args));
            Outcome::Qualified
        } else {
            let args = score_and_line(points, self.qualify_at);
            reasons.push(t.below_qualification_line.reason(args));
            Outcome::Nurture
        };
        let rating = self.rating(points);
        let follow_ups = match outcome {
            Outcome::Disqualified(_) => Vec::new(),
            _ => vec![self.follow_up(today, lead, &outcome, rating)],
        };
        Ok(Qualification {
            outcome,
            rating,
            score: points,
            reasons,
            follow_ups,
        })
    }

    /// The lead's score, 0..100, with a reason for every rule that added points.
    fn score(&self, lead: &Lead, reasons: &mut Vec<Reason>) -> u32 {
        let t = &self.texts;
        let mut total = i64::from(self.base_points);
        if self.base_points != 0 {
            reasons.push(t.base_points.scored(self.base_points, Vec::new()));
        }
        let mut add = |points: u32, template: TemplateId| {
            if points > 0 {
                total += i64::from(points);
                reasons.push(template.scored(shown_points(points), Vec::new()));
            }
        };
        if let Some(source) = lead.source {
            let at = source as usize;
            add(self.source_points[at], t.source[at]);
        }
        let at = lead.engagement as usize;
        add(self.engagement_points[at], t.engagement[at]);
        match (lead.budget_status, &lead.budget) {
            (Some(status), _) => {
                let at = status as usize;
                add(self.budget_points[at], t.budget[at]);
            }
            (None, Some(_)) => add(self.budget_amount_points, t.budget_amount),
            (None, None) => {}
        }
        if lead.decision_maker_known == Some(true) {
            add(self.authority_points, t.authority);
        }
        if let Some(need) = lead.need {
            let at = need as usize;
            add(self.need_points[at], t.need[at]);
        }
        if let Some(timeframe) = lead.timeframe {
            let at = timeframe as usize;
            add(self.timeframe_points[at], t.timeframe[at]);
        }
        if lead.existing_customer {
            add(self.existing_customer_points, t.existing_customer);
        }
        for rule in &self.rules {
            if rule
                .field
                .find(&lead.custom)
                .is_some_and(|v| rule.matches(v))
            {
                total += i64::from(rule.points);
                reasons.push(rule.template.scored(rule.points, Vec::new()));
            }
        }
        // Clamped to 0..100, so it fits.
        total.clamp(0, 100) as u32
    }

    fn rating(&self, score: u32) -> Rating {
        if score >= self.hot_from {
            Rating::Hot
        } else if score >= self.warm_from {
            Rating::Warm
        } else {
            Rating::Cold
        }
    }

    fn follow_up(&self, today: Date, lead: &Lead, outcome: &Outcome, rating: Rating) -> FollowUp {
        let kind = self.follow_up_kind[rating as usize];
        // Whom to address: the contact, else the company, else the lead's id. The
        // host quotes the record's value, so the text never crosses.
        let who = if lead.present.contains(LeadTexts::CONTACT_NAME) {
            LeadField::ContactName
        } else if lead.present.contains(LeadTexts::COMPANY) {
            LeadField::Company
        } else {
            LeadField::Id
        };
        let who = Arg::Value(FieldRef::Lead(who));
        let texts = &self.texts.follow_up[kind as usize];
        let subject = match outcome {
            Outcome::Qualified => texts.agree_next_steps.message(vec![who]),
            Outcome::NeedsInformation(missing) => texts
                .confirm_missing
                .message(vec![who, Arg::Fields(missing.clone())]),
            _ => texts.keep_in_touch.message(vec![who]),
        };
        FollowUp {
            kind,
            subject,
            due: dates::add_business_days(
                today,
                self.follow_up_days[rating as usize],
                &self.holidays,
            ),
        }
    }
}

/// The arguments of the texts that compare the score with a line: `score {0} ... {1}`.
fn score_and_line(score: u32, line: u32) -> Vec<Arg> {
    vec![
        Arg::Integer(i64::from(score)),
        Arg::Integer(i64::from(line)),
    ]
}

fn is_known(lead: &Lead, criterion: Criterion) -> bool {
    match criterion {
        Criterion::Budget => lead.budget_status.is_some() || lead.budget.is_some(),
        Criterion::Authority => lead.decision_maker_known == Some(true),
        Criterion::Need => lead.need.is_some(),
        Criterion::Timeframe => {
            lead.timeframe.is_some() && lead.timeframe != Some(Timeframe::Unknown)
        }
    }
}
