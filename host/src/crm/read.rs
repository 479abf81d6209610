//! Native records into the contract's canonical types.
//!
//! Each slot of the contract (`budget`, `source`, `stage`...) is filled from the
//! native field the org's vocabulary names for it; option values go through the
//! vocabulary's value maps (an unmapped value is an error naming the field, never
//! a silent default); every other field travels as a typed custom field, so org
//! rules can read it (`new_industry`, `Region__c`).

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate};
use crm_rules_model::{
    Activity, ActivityKind, Candidate, CustomFields, Engagement, FieldValue, Lead, Money,
    Opportunity, OpportunityStatus, RecordKind,
};
use serde::de::DeserializeOwned;

use crate::json::Scalar;

use super::config::FieldType;
use super::native::{Field, Native, ObjectType};
use super::{Format, Vocabularies, Vocabulary};

/// What is wrong with a native record, and where (a JSON path in the record).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadError {
    /// The JSON path (`""` for the record as a whole).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl ReadError {
    /// An error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ReadError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

type Result<T> = std::result::Result<T, ReadError>;

/// Reads native records with one org's vocabularies.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'v> {
    /// The org's vocabularies.
    pub vocabularies: &'v Vocabularies,
    /// Today, for activities that are done when their date has passed.
    pub today: NaiveDate,
    /// Only these custom fields are kept (the ones the org's module reads);
    /// `None` keeps every field.
    pub keep_custom: Option<&'v HashSet<String>>,
}

/// The slots of one record being read: which native fields were used.
struct Slots<'n, 'a> {
    native: &'n Native<'a>,
    vocab: &'n Vocabulary,
    /// Native fields a slot used (few: a list is faster than a set).
    used: Vec<&'n str>,
    keep: Option<&'n HashSet<String>>,
}

fn shown(value: &Scalar<'_>) -> String {
    value.shown()
}

fn key_of(value: &Scalar<'_>) -> Option<String> {
    value.key().map(|k| k.into_owned())
}

/// A date from `YYYY-MM-DD`, an RFC 3339 timestamp (its UTC date), or epoch
/// milliseconds (HubSpot), as a number or a text of digits.
fn parse_date(value: &Scalar<'_>) -> Option<NaiveDate> {
    let from_millis = |ms: i64| DateTime::from_timestamp_millis(ms).map(|t| t.date_naive());
    match value {
        Scalar::Str(s) => {
            if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                return Some(d);
            }
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Some(t.naive_utc().date());
            }
            // Salesforce writes `+0000` without a colon.
            if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
                return Some(t.naive_utc().date());
            }
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                return s.parse().ok().and_then(from_millis);
            }
            None
        }
        Scalar::Number(_) => value.as_i64().and_then(from_millis),
        _ => None,
    }
}

/// A number from a JSON number or a plain decimal text (HubSpot's strings).
fn parse_number(value: &Scalar<'_>) -> Option<f64> {
    match value {
        Scalar::Number(_) => value.as_f64(),
        Scalar::Str(s) if looks_numeric(s) => s.parse().ok(),
        _ => None,
    }
}

/// `-12`, `0.5`, `12000.50`; not `007`, `1e5`, `+1` or a phone number.
fn looks_numeric(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && (int == "0" || !int.starts_with('0'))
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_flag(value: &Scalar<'_>) -> Option<bool> {
    match value {
        Scalar::Bool(b) => Some(*b),
        Scalar::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Scalar::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

impl<'n, 'a> Slots<'n, 'a> {
    fn new(
        native: &'n Native<'a>,
        vocab: &'n Vocabulary,
        keep: Option<&'n HashSet<String>>,
    ) -> Self {
        Slots {
            native,
            vocab,
            used: Vec::with_capacity(16),
            keep,
        }
    }

    fn field(&mut self, slot: &str) -> Option<(&'n str, &'n Field<'a>)> {
        let name = self.vocab.fields.get(slot)?;
        let (name, field) = self.native.fields.get_key_value(name.as_str())?;
        self.used.push(name.as_ref());
        Some((name.as_ref(), field))
    }

    fn wrong(&self, slot: &str, field: &Field<'_>, expected: &str) -> ReadError {
        ReadError::new(
            field.path(),
            format!(
                "expected {expected} for `{slot}`, found {}",
                shown(&field.value)
            ),
        )
    }

    /// The canonical value a value map gives a native value (`*` catches the rest).
    fn mapped(&self, slot: &str, field: &Field<'_>) -> Result<Option<&'n str>> {
        let Some(map) = self.vocab.values.get(slot) else {
            return Ok(None);
        };
        let key = key_of(&field.value).unwrap_or_default();
        match map.get(&key).or_else(|| map.get("*")) {
            Some(canonical) => Ok(Some(canonical.as_str())),
            None => {
                let label = field
                    .label
                    .as_deref()
                    .map(|l| format!(" (\"{l}\")"))
                    .unwrap_or_default();
                let mut known: Vec<&str> = map.keys().map(String::as_str).collect();
                known.sort_by_key(|k| (k.parse::<i64>().ok(), *k));
                Err(ReadError::new(
                    field.path(),
                    format!(
                        "option value {}{label} is not mapped for `{slot}` in this org's {} \
                         vocabulary (known: {}); map it in org.json under crm.{}.values.{slot}",
                        shown(&field.value),
                        self.vocab.format,
                        known.join(", "),
                        self.vocab.format,
                    ),
                ))
            }
        }
    }

    fn text(&mut self, slot: &str) -> Result<Option<String>> {
        let Some((_, field)) = self.field(slot) else {
            return Ok(None);
        };
        match &field.value {
            Scalar::Str(s) => Ok(Some(s.to_string())),
            Scalar::Number(n) => Ok(Some((*n).to_owned())),
            _ => Err(self.wrong(slot, field, "a text")),
        }
    }

    fn number(&mut self, slot: &str) -> Result<Option<f64>> {
        let Some((_, field)) = self.field(slot) else {
            return Ok(None);
        };
        match parse_number(&field.value) {
            Some(n) if n.is_finite() => Ok(Some(n)),
            _ => Err(self.wrong(slot, field, "a number")),
        }
    }

    fn date(&mut self, slot: &str) -> Result<Option<NaiveDate>> {
        let Some((_, field)) = self.field(slot) else {
            return Ok(None);
        };
        match parse_date(&field.value) {
            Some(d) => Ok(Some(d)),
            None => Err(self.wrong(slot, field, "a date (YYYY-MM-DD or a timestamp)")),
        }
    }

    fn flag(&mut self, slot: &str) -> Result<Option<bool>> {
        let Some((_, field)) = self.field(slot) else {
            return Ok(None);
        };
        if let Some(canonical) = self.mapped(slot, field)? {
            return Ok(Some(canonical == "true"));
        }
        if let Some(b) = parse_flag(&field.value) {
            return Ok(Some(b));
        }
        // A lookup (an id) counts as true when set.
        if slot == "existing_customer" && field.value.is_string() {
            return Ok(Some(true));
        }
        Err(self.wrong(slot, field, "true or false"))
    }

    fn choice<T: DeserializeOwned>(&mut self, slot: &str) -> Result<Option<T>> {
        let Some((_, field)) = self.field(slot) else {
            return Ok(None);
        };
        let canonical = match self.mapped(slot, field)? {
            Some(c) => c.to_owned(),
            // No map: the native value must already be the contract's.
            None => match &field.value {
                Scalar::Str(s) => s.to_string(),
                _ => return Err(self.wrong(slot, field, "an option value")),
            },
        };
        serde_json::from_value(serde_json::Value::String(canonical.clone())).map_err(|_| {
            ReadError::new(
                field.path(),
                format!("`{canonical}` is not a value of `{slot}`"),
            )
        })
    }

    fn money(&mut self, slot: &str, currency: &Option<String>) -> Result<Option<Money>> {
        let Some(amount) = self.number(slot)? else {
            return Ok(None);
        };
        let Some(currency) = currency.clone() else {
            let field = self.vocab.field(slot).unwrap_or(slot);
            let from = self
                .vocab
                .field("currency")
                .map(|c| format!("the record has no `{c}` and "))
                .unwrap_or_default();
            return Err(ReadError::new(
                self.native.fields[field].path(),
                format!("amount {amount} has no currency: {from}org.json sets no crm.currency"),
            ));
        };
        Ok(Some(Money { amount, currency }))
    }

    fn currency(&mut self) -> Result<Option<String>> {
        Ok(self
            .text("currency")?
            .or_else(|| self.vocab.currency.clone()))
    }

    fn custom_value(&self, name: &str, field: &Field<'_>) -> Option<FieldValue> {
        let typed = self.vocab.types.get(name).copied();
        let v = &field.value;
        Some(match typed {
            Some(FieldType::Text) => FieldValue::Text(key_of(v)?),
            Some(FieldType::Number) => FieldValue::Number(parse_number(v)?),
            Some(FieldType::Flag) => FieldValue::Flag(parse_flag(v)?),
            Some(FieldType::Date) => FieldValue::Day {
                date: parse_date(v)?,
            },
            None => match v {
                Scalar::Bool(b) => FieldValue::Flag(*b),
                Scalar::Number(_) => FieldValue::Number(v.as_f64()?),
                Scalar::Str(s) => {
                    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                        FieldValue::Day { date }
                    } else if self.native.format == Format::Hubspot && looks_numeric(s) {
                        FieldValue::Number(s.parse().ok()?)
                    } else if self.native.format == Format::Hubspot && parse_flag(v).is_some() {
                        FieldValue::Flag(parse_flag(v)?)
                    } else {
                        FieldValue::Text(s.to_string())
                    }
                }
                _ => return None,
            },
        })
    }

    /// The fields no slot used, as custom fields (renamed as the org says); a
    /// field whose declared type does not fit its value is an error.
    fn custom(&self) -> Result<CustomFields> {
        let mut custom = CustomFields::new();
        for (name, field) in &self.native.fields {
            let name: &str = name;
            if self.used.contains(&name) {
                continue;
            }
            let custom_name = self.vocab.rename.get(name).map_or(name, String::as_str);
            // Only what the module reads is passed into it: skip the rest early.
            if self.keep.is_some_and(|keep| {
                !keep.contains(custom_name)
                    && (field.label.is_none() || !keep.contains(&format!("{custom_name}.label")))
            }) {
                continue;
            }
            let Some(value) = self.custom_value(name, field) else {
                let expected = match self.vocab.types.get(name) {
                    Some(FieldType::Number) => "a number",
                    Some(FieldType::Flag) => "true or false",
                    Some(FieldType::Date) => "a date",
                    _ => "a text, number, boolean or date",
                };
                return Err(ReadError::new(
                    field.path(),
                    format!("expected {expected}, found {}", shown(&field.value)),
                ));
            };
            if let (Some(label), false) = (&field.label, field.value.is_string()) {
                custom.insert(
                    format!("{custom_name}.label"),
                    FieldValue::Text(label.to_string()),
                );
            }
            custom.insert(custom_name.to_owned(), value);
        }
        Ok(custom)
    }

    /// Names of every field that holds a value (native and renamed names).
    fn filled(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.native.fields.len());
        for (name, field) in &self.native.fields {
            let name: &str = name;
            if field.value.as_str().is_some_and(|s| s.trim().is_empty()) {
                continue;
            }
            names.push(name.to_owned());
            if let Some(renamed) = self.vocab.rename.get(name) {
                names.push(renamed.clone());
            }
        }
        names
    }
}

fn need_id(native: &Native<'_>) -> Result<String> {
    native.id.clone().ok_or_else(|| {
        ReadError::new(
            "",
            format!("the {} {} has no id", native.format, native.entity),
        )
    })
}

fn full_name(slots: &mut Slots<'_, '_>) -> Result<Option<String>> {
    if let Some(name) = slots.text("contact_name")? {
        // Also mark the parts used: they are the same fact.
        slots.field("first_name");
        slots.field("last_name");
        return Ok(Some(name));
    }
    let parts: Vec<String> = [slots.text("first_name")?, slots.text("last_name")?]
        .into_iter()
        .flatten()
        .filter(|p| !p.trim().is_empty())
        .collect();
    Ok((!parts.is_empty()).then(|| parts.join(" ")))
}

impl Reader<'_> {
    fn vocab(&self, native: &Native<'_>) -> &Vocabulary {
        self.vocabularies
            .get(native.format)
            .expect("native records have a vocabulary")
    }

    /// A lead: a Dataverse `lead`, a Salesforce `Lead`, a HubSpot contact.
    pub fn lead(&self, native: &Native<'_>) -> Result<Lead> {
        let is_lead = native.object == ObjectType::Lead
            || (native.format == Format::Hubspot && native.object == ObjectType::Contact);
        if !is_lead {
            return Err(ReadError::new(
                "",
                format!(
                    "a {} {} is not a lead (expected {})",
                    native.format,
                    native.entity,
                    match native.format {
                        Format::Dataverse => "a `lead` record",
                        Format::Salesforce => "a `Lead`",
                        _ => "a contact",
                    }
                ),
            ));
        }
        let mut s = Slots::new(native, self.vocab(native), self.keep_custom);
        let currency = s.currency()?;
        let engagement = [
            s.choice::<Engagement>("engagement")?,
            s.choice::<Engagement>("status")?,
            s.choice::<Engagement>("lifecycle")?,
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or_default();
        let lead = Lead {
            id: need_id(native)?,
            company: s.text("company")?,
            contact_name: full_name(&mut s)?,
            email: s.text("email")?,
            topic: s.text("topic")?,
            source: s.choice("source")?,
            engagement,
            budget: s.money("budget", &currency)?,
            budget_status: s.choice("budget_status")?,
            decision_maker_known: s.flag("decision_maker_known")?,
            need: s.choice("need")?,
            timeframe: s.choice("timeframe")?,
            estimated_value: s.money("estimated_value", &currency)?,
            estimated_close: s.date("estimated_close")?,
            existing_customer: s.flag("existing_customer")?.unwrap_or(false),
            custom: CustomFields::new(),
        };
        Ok(Lead {
            custom: s.custom()?,
            ..lead
        })
    }

    /// The policy stage of a native stage value.
    fn stage(&self, s: &mut Slots<'_, '_>, slot: &str) -> Result<Option<String>> {
        let Some((_, field)) = s.field(slot) else {
            return Ok(None);
        };
        let Some(key) = key_of(&field.value) else {
            return Err(s.wrong(slot, field, "a stage"));
        };
        if s.vocab.stages.is_empty() {
            return Ok(Some(key));
        }
        match s.vocab.stage(&key) {
            Some(entry) => Ok(Some(entry.stage.clone())),
            None => {
                let label = field
                    .label
                    .as_deref()
                    .map(|l| format!(" (\"{l}\")"))
                    .unwrap_or_default();
                Err(ReadError::new(
                    field.path(),
                    format!(
                        "stage {}{label} is not mapped in this org's {} vocabulary (known: {}); \
                         map it in org.json under crm.{}.stages",
                        shown(&field.value),
                        s.vocab.format,
                        s.vocab
                            .stages
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", "),
                        s.vocab.format,
                    ),
                ))
            }
        }
    }

    /// An opportunity, with its embedded activities and `attached` ones (read from
    /// other records of the same input).
    pub fn opportunity(&self, native: &Native<'_>, attached: Vec<Activity>) -> Result<Opportunity> {
        if native.object != ObjectType::Opportunity {
            return Err(ReadError::new(
                "",
                format!(
                    "a {} {} is not an opportunity",
                    native.format, native.entity
                ),
            ));
        }
        let mut s = Slots::new(native, self.vocab(native), self.keep_custom);
        let currency = s.currency()?;
        let stage = self.stage(&mut s, "stage")?.ok_or_else(|| {
            ReadError::new(
                s.vocab.field("stage").unwrap_or("stage"),
                "the opportunity has no stage",
            )
        })?;
        let mut activities = Vec::with_capacity(native.children.len() + attached.len());
        for (path, child) in &native.children {
            let child_native = Native::parse(native.format, child).map_err(|e| nest(path, e))?;
            activities.push(
                self.activity(&child_native, Some(&stage))
                    .map_err(|e| nest(path, e))?,
            );
        }
        activities.extend(attached);
        let opportunity = Opportunity {
            id: need_id(native)?,
            name: s.text("name")?.unwrap_or_default(),
            amount: s.money("amount", &currency)?,
            close_date: s.date("close_date")?,
            filled: s.filled(),
            activities,
            custom: CustomFields::new(),
            status: OpportunityStatus::Open,
            stage,
        };
        Ok(Opportunity {
            custom: s.custom()?,
            ..opportunity
        })
    }

    /// An activity; `stage` is the opportunity's, for records that name none.
    pub fn activity(&self, native: &Native<'_>, stage: Option<&str>) -> Result<Activity> {
        if native.object != ObjectType::Activity {
            return Err(ReadError::new(
                "",
                format!("a {} {} is not an activity", native.format, native.entity),
            ));
        }
        let vocab = self.vocab(native);
        let mut s = Slots::new(native, vocab, self.keep_custom);
        let base = match native.entity.as_str() {
            "phonecall" | "calls" => ActivityKind::Call,
            "appointment" | "Event" | "meetings" => ActivityKind::Meeting,
            "email" | "emails" => ActivityKind::Email,
            "task" | "Task" | "tasks" => ActivityKind::Task,
            _ => ActivityKind::Other,
        };
        let kind = s.choice("activity_kind")?.unwrap_or(base);
        let activity_stage = match self.stage(&mut s, "activity_stage")? {
            Some(named) => named,
            None => stage.map(str::to_owned).ok_or_else(|| {
                ReadError::new(
                    "",
                    "the activity names no stage and is not under an opportunity",
                )
            })?,
        };
        let rating = match s.field("activity_rating") {
            Some((_, field)) => match parse_number(&field.value) {
                Some(r) if (1.0..=5.0).contains(&r) && r.fract() == 0.0 => r as u8,
                _ => return Err(s.wrong("activity_rating", field, "a whole rating 1..5")),
            },
            None => vocab.activity_default_rating.ok_or_else(|| {
                let field = vocab
                    .field("activity_rating")
                    .map(|f| format!("its `{f}` field is empty or missing"))
                    .unwrap_or_else(|| "this org names no rating field".to_owned());
                ReadError::new(
                    "",
                    format!(
                        "the {} {} `{}` has no rating: {field}; set crm.{}.fields.activity_rating \
                         or crm.{}.activity_default_rating in org.json",
                        native.format,
                        native.entity,
                        native.id.as_deref().unwrap_or("?"),
                        native.format,
                        native.format,
                    ),
                )
            })?,
        };
        let on = match s.date("activity_date")? {
            Some(d) => Some(d),
            None => s.date("activity_due")?,
        };
        let completed = match s.flag("activity_completed")? {
            Some(done) => done,
            None => on.is_some_and(|d| d <= self.today),
        };
        s.field("activity_parent");
        Ok(Activity {
            id: need_id(native)?,
            kind,
            stage: activity_stage,
            rating,
            completed,
            on,
        })
    }

    /// An existing record offered as a conversion candidate.
    pub fn candidate(&self, native: &Native<'_>) -> Result<Candidate> {
        let mut s = Slots::new(native, self.vocab(native), self.keep_custom);
        let id = need_id(native)?;
        let strip = |v: Option<String>| v.map(|id| id.trim_start_matches('@').to_owned());
        let company = native.companies.first().cloned();
        Ok(match native.object {
            ObjectType::Account => Candidate {
                id,
                kind: RecordKind::Account,
                name: s.text("account_name")?.unwrap_or_default(),
                email: None,
                active: s.flag("account_active")?.unwrap_or(false),
                account_id: None,
            },
            ObjectType::Contact => Candidate {
                id,
                kind: RecordKind::Contact,
                name: full_name(&mut s)?.unwrap_or_default(),
                email: s.text("email")?,
                active: true,
                account_id: strip(s.text("contact_account_id")?).or(company),
            },
            ObjectType::Opportunity => {
                let closed = match s.flag("closed")? {
                    Some(closed) => closed,
                    None => {
                        let stage_key = s
                            .field("stage")
                            .and_then(|(_, f)| key_of(&f.value))
                            .unwrap_or_default();
                        s.vocab.stage(&stage_key).is_some_and(|e| e.closed)
                    }
                };
                Candidate {
                    id,
                    kind: RecordKind::Opportunity,
                    name: s.text("name")?.unwrap_or_default(),
                    email: None,
                    active: !closed,
                    account_id: strip(s.text("account_id")?).or(company),
                }
            }
            ObjectType::Lead | ObjectType::Activity => {
                return Err(ReadError::new(
                    "",
                    format!(
                        "a {} {} cannot be a conversion candidate (accounts, contacts and opportunities can)",
                        native.format, native.entity
                    ),
                ))
            }
        })
    }
}

fn nest(prefix: &str, e: ReadError) -> ReadError {
    let path = if e.path.is_empty() {
        prefix.to_owned()
    } else {
        format!("{prefix}.{}", e.path)
    };
    ReadError::new(path, e.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use serde_json::value::RawValue;

    fn raw(v: serde_json::Value) -> Box<RawValue> {
        RawValue::from_string(v.to_string()).unwrap()
    }

    fn reader(v: &Vocabularies) -> Reader<'_> {
        Reader {
            vocabularies: v,
            today: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
            keep_custom: None,
        }
    }

    #[test]
    fn dataverse_lead_fills_the_contract() {
        let v = Vocabularies::default();
        let record = json!({
            "@odata.context": "https://x/api/data/v9.2/$metadata#leads/$entity",
            "leadid": "L1", "companyname": "Contoso", "firstname": "Ana", "lastname": "Ruiz",
            "leadsourcecode": 8, "statuscode": 2, "budgetamount": 50000,
            "transactioncurrencyid": {"isocurrencycode": "EUR"},
            "budgetstatus": 2, "decisionmaker": true, "need": 0, "purchasetimeframe": 1,
            "estimatedclosedate": "2027-03-31", "_parentaccountid_value": "A1",
            "new_industry": 3, "new_industry@OData.Community.Display.V1.FormattedValue": "Government"
        });
        let raw_record = raw(record.clone());
        let native = Native::parse(Format::Dataverse, &raw_record).unwrap();
        let lead = reader(&v).lead(&native).unwrap();
        assert_eq!(lead.contact_name.as_deref(), Some("Ana Ruiz"));
        assert_eq!(lead.engagement, Engagement::Conversation);
        assert_eq!(lead.budget.as_ref().unwrap().currency, "EUR");
        assert!(lead.existing_customer);
        assert_eq!(lead.custom["new_industry"], FieldValue::Number(3.0));
        assert_eq!(
            lead.custom["new_industry.label"],
            FieldValue::Text("Government".into())
        );
        assert!(!lead.custom.contains_key("statuscode"));
    }

    #[test]
    fn unmapped_option_and_wrong_type_name_the_field() {
        let v = Vocabularies::default();
        let record = json!({"attributes": {"type": "Lead"}, "Id": "00Q1", "Status": "Nurturing"});
        let raw_record = raw(record.clone());
        let native = Native::parse(Format::Salesforce, &raw_record).unwrap();
        let err = reader(&v).lead(&native).unwrap_err();
        assert_eq!(err.path, "Status");
        assert!(err.message.contains("Nurturing"), "{err}");
        let record = json!({"leadid": "L2", "budgetamount": "lots"});
        let raw_record = raw(record.clone());
        let native = Native::parse(Format::Dataverse, &raw_record).unwrap();
        let err = reader(&v).lead(&native).unwrap_err();
        assert_eq!(err.path, "budgetamount");
        assert!(err.message.contains("a number"), "{err}");
    }

    #[test]
    fn hubspot_strings_are_typed() {
        let v = Vocabularies::default();
        let record = json!({"id": "51", "properties": {
            "firstname": "Bo", "lastname": "Li", "email": "bo@x.io",
            "hs_lead_status": "CONNECTED", "lifecyclestage": "marketingqualifiedlead",
            "numemployees": "1200", "phone": "0123456", "hs_is_unworked": "true"}});
        let raw_record = raw(record.clone());
        let native = Native::parse(Format::Hubspot, &raw_record).unwrap();
        let lead = reader(&v).lead(&native).unwrap();
        assert_eq!(lead.engagement, Engagement::Conversation);
        assert_eq!(lead.custom["numemployees"], FieldValue::Number(1200.0));
        assert_eq!(lead.custom["phone"], FieldValue::Text("0123456".into()));
        assert_eq!(lead.custom["hs_is_unworked"], FieldValue::Flag(true));
    }

    #[test]
    fn activities_need_a_rating_unless_the_org_gives_one() {
        let record = json!({"attributes": {"type": "Opportunity"}, "Id": "006", "StageName": "Prospecting",
            "Tasks": {"records": [{"attributes": {"type": "Task"}, "Id": "00T", "TaskSubtype": "Call",
                                   "IsClosed": true, "ActivityDate": "2026-11-01"}]}});
        let raw_record = raw(record.clone());
        let native = Native::parse(Format::Salesforce, &raw_record).unwrap();
        let v = Vocabularies::default();
        let err = reader(&v).opportunity(&native, vec![]).unwrap_err();
        assert_eq!(err.path, "Tasks.records[0]");
        assert!(err.message.contains("no rating"), "{err}");
        let config: super::super::CrmConfig =
            serde_json::from_str(r#"{"salesforce": {"activity_default_rating": 3}}"#).unwrap();
        let v = Vocabularies::new(&config).unwrap();
        let opp = reader(&v).opportunity(&native, vec![]).unwrap();
        assert_eq!(opp.activities[0].kind, ActivityKind::Call);
        assert_eq!(opp.activities[0].stage, "Prospecting");
        assert!(opp.activities[0].completed);
    }

    #[test]
    fn numbers_are_strict() {
        assert!(looks_numeric("12000.50"));
        assert!(looks_numeric("-3"));
        assert!(!looks_numeric("007"));
        assert!(!looks_numeric("1e5"));
        assert!(!looks_numeric("1."));
        assert_eq!(
            parse_date(&Scalar::Str("1767225600000".into())),
            NaiveDate::from_ymd_opt(2026, 1, 1)
        );
        assert_eq!(
            parse_date(&Scalar::Str("2026-01-31T23:00:00.000+0000".into())),
            NaiveDate::from_ymd_opt(2026, 1, 31)
        );
    }
}
