//! An org's CRM vocabulary: which native field fills which slot of the contract,
//! which option value means what, which stage is which. The vendors' out-of-box
//! values are the defaults (`defaults/*.json`); an org's `crm` section in
//! `org.json` is laid over them key by key.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;

/// Maps looked up for every field of every record: a fast non-cryptographic hash
/// (keys come from the org's own configuration, not from records).
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<rustc_hash::FxHasher>>;

use serde::Deserialize;

use super::Format;

/// The `crm` section of `org.json`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrmConfig {
    /// ISO 4217 code used for amounts of records that name no currency.
    #[serde(default)]
    pub currency: Option<String>,
    /// Dataverse (Dynamics 365) overrides.
    #[serde(default)]
    pub dataverse: VendorConfig,
    /// Salesforce overrides.
    #[serde(default)]
    pub salesforce: VendorConfig,
    /// HubSpot overrides.
    #[serde(default)]
    pub hubspot: VendorConfig,
}

/// One CRM's vocabulary, as written in JSON (defaults or an org's overrides).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorConfig {
    /// API version used in the paths of native actions (`v62.0`, `v9.2`).
    #[serde(default)]
    pub api_version: Option<String>,
    /// Slot → native field name; `null` means the CRM has no such field.
    #[serde(default)]
    pub fields: BTreeMap<String, Option<String>>,
    /// Slot → (native value → canonical value); `*` catches every other value.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// Native stage value → the policy's stage.
    #[serde(default)]
    pub stages: BTreeMap<String, StageEntry>,
    /// Native field → the custom-field name the rules use.
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    /// Native field → how its value is typed as a custom field.
    #[serde(default)]
    pub types: BTreeMap<String, FieldType>,
    /// Rating given to activities whose record has none (1..5).
    #[serde(default)]
    pub activity_default_rating: Option<u8>,
    /// What the native actions write.
    #[serde(default)]
    pub write: WriteConfig,
    /// Role (`lead`, `opportunity`, `task`, `call`, `meeting`, `contact`,
    /// `company`) → the CRM's object name for it: a Dataverse entity set, a
    /// Salesforce sObject, a HubSpot object type. Custom objects are named here.
    #[serde(default)]
    pub objects: BTreeMap<String, String>,
    /// HubSpot: the path CRM object requests start with (`/crm/v3/objects`, or a
    /// date-versioned `/crm/objects/2026-03`).
    #[serde(default)]
    pub objects_path: Option<String>,
    /// HubSpot: the path association requests start with (`/crm/v4/objects`).
    #[serde(default)]
    pub associations_path: Option<String>,
    /// How this CRM's events are checked when they arrive.
    #[serde(default)]
    pub events: EventsConfig,
}

/// How a CRM's events are proved to come from it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    /// The environment variable holding the secret the CRM proves its events
    /// with: Dataverse, the webhook's key (WebhookKey authentication, sent as
    /// `?code=`); HubSpot, the app's client secret (signature v3). Named, not
    /// written, so that `org.json` holds no secret. Unset: events are not checked.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// HubSpot: the public URL HubSpot calls (`https://host/v1/orgs/acme/events/hubspot`),
    /// which its signature covers; default: the request's `Host` and path.
    #[serde(default)]
    pub url: Option<String>,
}

/// One native stage.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageEntry {
    /// The policy's name for it.
    pub stage: String,
    /// The CRM's default probability (0..100), when it has one.
    #[serde(default)]
    pub probability: Option<f64>,
    /// Whether an opportunity in this stage is closed.
    #[serde(default)]
    pub closed: bool,
}

/// How a custom field's value is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Text, as is.
    Text,
    /// A number (from a number or a numeric text).
    Number,
    /// A boolean (from a boolean or `true`/`false`).
    Flag,
    /// A calendar date (from `YYYY-MM-DD`, a timestamp, or epoch milliseconds).
    Date,
}

/// What the native actions write, by decision outcome.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteConfig {
    /// Outcome (`qualified`, `converted`, `nurture`, `needs_information`,
    /// `disqualified` or `disqualified.<reason>`) → lead status value.
    #[serde(default)]
    pub status: BTreeMap<String, String>,
    /// HubSpot: outcome → `lifecyclestage`.
    #[serde(default)]
    pub lifecycle: BTreeMap<String, String>,
    /// `hot`/`warm`/`cold` → the CRM's rating value.
    #[serde(default)]
    pub rating: BTreeMap<String, String>,
    /// The opportunity field a forecast's probability (0..100) is written to.
    #[serde(default)]
    pub forecast_field: Option<String>,
    /// HubSpot: the pipeline new deals go into.
    #[serde(default)]
    pub pipeline: Option<String>,
    /// HubSpot: lifecycle stages in the order the org moves contacts through them;
    /// a stage behind the contact's current one is never written.
    #[serde(default)]
    pub lifecycle_order: Vec<String>,
    /// The field that makes creates idempotent: Salesforce, an External ID field on
    /// Task, Event and Opportunity (upsert `PATCH /sobjects/Task/<field>/<key>`);
    /// HubSpot, a unique-value property on tasks and deals (`batch/upsert` with
    /// `idProperty`). Dataverse needs none: records are created by upsert under a
    /// primary key derived from the same key.
    #[serde(default)]
    pub idempotency_field: Option<String>,
    /// Dataverse: ISO 4217 code → `transactioncurrencyid`, for leads that carry no
    /// currency lookup of their own.
    #[serde(default)]
    pub currency_ids: BTreeMap<String, String>,
}

/// What kind of value a slot holds; decides how its value map is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotKind {
    Text,
    Number,
    Date,
    Flag,
    Choice(&'static [&'static str]),
}

fn names<T: Copy + 'static>(all: &'static [T], f: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| f(*v)).collect()
}

fn leak(v: Vec<&'static str>) -> &'static [&'static str] {
    Box::leak(v.into_boxed_slice())
}

/// Every slot a vocabulary may name, with its kind.
pub(crate) fn slot_kind(slot: &str) -> Option<SlotKind> {
    use crm_rules_model::{ActivityKind, BudgetStatus, Engagement, LeadSource, Need, Timeframe};
    use std::sync::OnceLock;
    static CHOICES: OnceLock<HashMap<&'static str, &'static [&'static str]>> = OnceLock::new();
    let choices = CHOICES.get_or_init(|| {
        let engagement = leak(names(Engagement::ALL, Engagement::as_str));
        HashMap::from([
            ("source", leak(names(LeadSource::ALL, LeadSource::as_str))),
            ("status", engagement),
            ("lifecycle", engagement),
            ("engagement", engagement),
            (
                "budget_status",
                leak(names(BudgetStatus::ALL, BudgetStatus::as_str)),
            ),
            ("need", leak(names(Need::ALL, Need::as_str))),
            ("timeframe", leak(names(Timeframe::ALL, Timeframe::as_str))),
            (
                "activity_kind",
                leak(names(ActivityKind::ALL, ActivityKind::as_str)),
            ),
        ])
    });
    if let Some(values) = choices.get(slot) {
        return Some(SlotKind::Choice(values));
    }
    Some(match slot {
        "company" | "contact_name" | "first_name" | "last_name" | "email" | "topic"
        | "currency" | "name" | "account_name" | "stage" | "account_id" | "contact_account_id"
        | "activity_stage" | "activity_parent" => SlotKind::Text,
        "budget" | "estimated_value" | "amount" | "activity_rating" => SlotKind::Number,
        "estimated_close" | "close_date" | "activity_date" | "activity_due" => SlotKind::Date,
        "decision_maker_known"
        | "existing_customer"
        | "closed"
        | "account_active"
        | "activity_completed" => SlotKind::Flag,
        _ => return None,
    })
}

/// A vocabulary with the org's overrides laid over the vendor's defaults, checked.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    /// Which CRM.
    pub format: Format,
    /// API version for action paths.
    pub api_version: String,
    pub(crate) fields: FastMap<String, String>,
    pub(crate) values: FastMap<String, FastMap<String, String>>,
    pub(crate) stages: BTreeMap<String, StageEntry>,
    pub(crate) rename: FastMap<String, String>,
    pub(crate) types: FastMap<String, FieldType>,
    pub(crate) activity_default_rating: Option<u8>,
    pub(crate) write: WriteConfig,
    pub(crate) objects: BTreeMap<String, String>,
    pub(crate) objects_path: Option<String>,
    pub(crate) associations_path: Option<String>,
    /// The org's default currency.
    pub currency: Option<String>,
    /// How this CRM's events are checked.
    pub events: EventsConfig,
}

fn defaults(format: Format) -> VendorConfig {
    let text = match format {
        Format::Dataverse => include_str!("defaults/dataverse.json"),
        Format::Salesforce => include_str!("defaults/salesforce.json"),
        Format::Hubspot => include_str!("defaults/hubspot.json"),
        Format::Canonical => return VendorConfig::default(),
    };
    serde_json::from_str(text).expect("the built-in CRM defaults are valid")
}

impl Vocabulary {
    /// The vendor's defaults with `org` laid over them. An override naming an
    /// unknown slot or a canonical value the contract does not have is an error
    /// naming its place in `org.json`.
    pub fn new(format: Format, org: &VendorConfig, currency: Option<&str>) -> Result<Self, String> {
        let base = defaults(format);
        let at = |rest: &str| format!("crm.{}.{rest}", format.as_str());
        let mut fields: FastMap<String, String> = FastMap::default();
        for (slot, field) in base.fields.iter().chain(&org.fields) {
            if slot_kind(slot).is_none() {
                return Err(format!("{}: unknown slot `{slot}`", at("fields")));
            }
            match field {
                Some(name) => fields.insert(slot.clone(), name.clone()),
                None => fields.remove(slot),
            };
        }
        let mut values: FastMap<String, FastMap<String, String>> = FastMap::default();
        for (slot, map) in base.values.iter().chain(&org.values) {
            let Some(kind) = slot_kind(slot) else {
                return Err(format!("{}: unknown slot `{slot}`", at("values")));
            };
            for (native, canonical) in map {
                let ok = match kind {
                    SlotKind::Choice(allowed) => allowed.contains(&canonical.as_str()),
                    SlotKind::Flag => canonical == "true" || canonical == "false",
                    _ => true,
                };
                if !ok {
                    let expected = match kind {
                        SlotKind::Choice(allowed) => allowed.join(", "),
                        _ => "true, false".to_owned(),
                    };
                    return Err(format!(
                        "{}: `{canonical}` is not a value of `{slot}` (expected one of: {expected})",
                        at(&format!("values.{slot}.{native}"))
                    ));
                }
                values
                    .entry(slot.clone())
                    .or_default()
                    .insert(native.clone(), canonical.clone());
            }
        }
        let mut stages = base.stages.clone();
        stages.extend(org.stages.clone());
        let rating = org.activity_default_rating.or(base.activity_default_rating);
        if let Some(r) = rating {
            if !(1..=5).contains(&r) {
                return Err(format!(
                    "{}: {r} is outside 1..5",
                    at("activity_default_rating")
                ));
            }
        }
        let mut write = base.write.clone();
        write.status.extend(org.write.status.clone());
        write.lifecycle.extend(org.write.lifecycle.clone());
        write.rating.extend(org.write.rating.clone());
        write.forecast_field = org.write.forecast_field.clone().or(write.forecast_field);
        write.pipeline = org.write.pipeline.clone().or(write.pipeline);
        if !org.write.lifecycle_order.is_empty() {
            write.lifecycle_order = org.write.lifecycle_order.clone();
        }
        write.idempotency_field = org
            .write
            .idempotency_field
            .clone()
            .or(write.idempotency_field);
        write.currency_ids.extend(org.write.currency_ids.clone());
        let mut objects = base.objects.clone();
        for (role, name) in &org.objects {
            if !OBJECT_ROLES.contains(&role.as_str()) {
                return Err(format!(
                    "{}: unknown role `{role}` (expected one of: {})",
                    at("objects"),
                    OBJECT_ROLES.join(", ")
                ));
            }
            objects.insert(role.clone(), name.clone());
        }
        let mut types: FastMap<String, FieldType> = base.types.into_iter().collect();
        types.extend(org.types.clone());
        let mut rename: FastMap<String, String> = base.rename.into_iter().collect();
        rename.extend(org.rename.clone());
        Ok(Vocabulary {
            format,
            api_version: org
                .api_version
                .clone()
                .or(base.api_version)
                .unwrap_or_default(),
            fields,
            values,
            stages,
            rename,
            types,
            activity_default_rating: rating,
            write,
            objects,
            objects_path: org.objects_path.clone().or(base.objects_path),
            associations_path: org.associations_path.clone().or(base.associations_path),
            currency: currency.map(str::to_owned),
            events: org.events.clone(),
        })
    }

    /// The native field that fills `slot`, if the CRM has one.
    pub fn field(&self, slot: &str) -> Option<&str> {
        self.fields.get(slot).map(String::as_str)
    }

    /// The policy stage for a native stage value.
    pub fn stage(&self, native: &str) -> Option<&StageEntry> {
        self.stages.get(native)
    }

    /// The native stage value for a policy stage (the first one mapped to it).
    pub fn native_stage(&self, stage: &str) -> Option<(&str, &StageEntry)> {
        self.stages
            .iter()
            .find(|(_, entry)| entry.stage == stage)
            .map(|(native, entry)| (native.as_str(), entry))
    }

    /// What to write as status for an outcome key (`disqualified.lost` falls back to
    /// `disqualified`).
    pub fn write_status(&self, outcome: &str) -> Option<&str> {
        lookup(&self.write.status, outcome)
    }

    /// HubSpot: the lifecycle stage for an outcome key.
    pub fn write_lifecycle(&self, outcome: &str) -> Option<&str> {
        lookup(&self.write.lifecycle, outcome)
    }

    /// The CRM's object name for a role (`lead`, `opportunity`, `task`, `call`,
    /// `meeting`, `contact`, `company`); the vendor's default unless the org names
    /// a custom object.
    pub fn object<'a>(&'a self, role: &'a str) -> &'a str {
        self.objects.get(role).map(String::as_str).unwrap_or(role)
    }

    /// HubSpot: where object requests start (default `/crm/v3/objects`).
    pub fn objects_path(&self) -> &str {
        self.objects_path.as_deref().unwrap_or("/crm/v3/objects")
    }

    /// HubSpot: where association requests start (default `/crm/v4/objects`).
    pub fn associations_path(&self) -> &str {
        self.associations_path
            .as_deref()
            .unwrap_or("/crm/v4/objects")
    }

    /// The CRM's rating value for `hot`/`warm`/`cold`.
    pub fn write_rating(&self, rating: &str) -> Option<&str> {
        self.write.rating.get(rating).map(String::as_str)
    }
}

/// The roles an org may name an object for in `objects`.
const OBJECT_ROLES: &[&str] = &[
    "lead",
    "opportunity",
    "task",
    "call",
    "meeting",
    "contact",
    "company",
];

fn lookup<'a>(map: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    map.get(key)
        .or_else(|| key.split_once('.').and_then(|(head, _)| map.get(head)))
        .map(String::as_str)
}

/// The three CRMs' vocabularies of one org, resolved once when the org loads.
#[derive(Debug, Clone)]
pub struct Vocabularies {
    /// Dataverse.
    pub dataverse: Vocabulary,
    /// Salesforce.
    pub salesforce: Vocabulary,
    /// HubSpot.
    pub hubspot: Vocabulary,
}

impl Vocabularies {
    /// Resolves an org's `crm` section.
    pub fn new(config: &CrmConfig) -> Result<Self, String> {
        let currency = config.currency.as_deref();
        if let Some(code) = currency {
            if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(format!(
                    "crm.currency: `{code}` is not an ISO 4217 code (three capital letters)"
                ));
            }
        }
        Ok(Vocabularies {
            dataverse: Vocabulary::new(Format::Dataverse, &config.dataverse, currency)?,
            salesforce: Vocabulary::new(Format::Salesforce, &config.salesforce, currency)?,
            hubspot: Vocabulary::new(Format::Hubspot, &config.hubspot, currency)?,
        })
    }

    /// The vocabulary of one CRM; `None` for the canonical format.
    pub fn get(&self, format: Format) -> Option<&Vocabulary> {
        match format {
            Format::Dataverse => Some(&self.dataverse),
            Format::Salesforce => Some(&self.salesforce),
            Format::Hubspot => Some(&self.hubspot),
            Format::Canonical => None,
        }
    }
}

impl Default for Vocabularies {
    fn default() -> Self {
        Vocabularies::new(&CrmConfig::default()).expect("the built-in CRM defaults are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve_and_overrides_are_checked() {
        let all = Vocabularies::default();
        assert_eq!(all.dataverse.field("budget"), Some("budgetamount"));
        assert_eq!(
            all.salesforce.stage("Closed Won").map(|s| s.closed),
            Some(true)
        );
        let bad: CrmConfig = serde_json::from_str(
            r#"{"salesforce": {"values": {"source": {"Webinar": "webinar"}}}}"#,
        )
        .unwrap();
        let err = Vocabularies::new(&bad).unwrap_err();
        assert!(
            err.contains("crm.salesforce.values.source.Webinar"),
            "{err}"
        );
        let bad: CrmConfig =
            serde_json::from_str(r#"{"hubspot": {"fields": {"budjet": "budget"}}}"#).unwrap();
        assert!(Vocabularies::new(&bad).unwrap_err().contains("budjet"));
    }
}
