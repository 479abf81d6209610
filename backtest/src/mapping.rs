//! The mapping file: how the columns of a table of labelled history become the
//! contract's records, their decision times and their outcomes.
//!
//! ```json
//! { "decision": "qualify",
//!   "id": "Prospect ID",
//!   "missing": ["", "Select"],
//!   "exclude": { "Tags": "the rep's notes from calls: written after the outcome" },
//!   "fields": { "source": { "column": "Lead Source",
//!                           "values": { "google": "advertisement", "*": "other" },
//!                           "default": "other" } },
//!   "custom": { "time_on_site": { "column": "Total Time Spent on Website", "type": "number" } },
//!   "outcome": { "column": "Converted", "positive": ["1"], "negative": ["0"] } }
//! ```
//!
//! Everything a mapping says is checked against the file's header before any row
//! is read: a column the file does not have is an error naming the column and the
//! mapping's place. Value maps compare trimmed text ignoring ASCII case, as the
//! reference rules compare custom values; `*` catches every other value. A value
//! no entry maps is an error naming the row, the column and the value.

use std::collections::BTreeMap;

use serde::Deserialize;

use crm_rules::decision::Kind;

/// A whole mapping file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Which decision the records ask for: `qualify` (leads) or `forecast`
    /// (opportunities), the two a backtest can score.
    #[serde(deserialize_with = "scored_decision")]
    pub decision: Kind,
    /// The column holding each record's id.
    pub id: String,
    /// Cell texts that mean "no value" (compared after trimming); an empty cell
    /// always does.
    #[serde(default)]
    pub missing: Vec<String>,
    /// Columns that must not feed any decision, with the reason (they leak the
    /// outcome, they were written after the decision time, they identify a person).
    /// Mapping one of them is an error.
    #[serde(default)]
    pub exclude: BTreeMap<String, String>,
    /// Contract fields: lead fields for `qualify` (`source`, `engagement`,
    /// `budget_status`, `need`, `timeframe`, `decision_maker_known`,
    /// `existing_customer`, `budget`, `estimated_value`, `estimated_close`,
    /// `company`, `contact_name`, `email`, `topic`), opportunity fields for
    /// `forecast` (`stage`, `name`, `amount`, `close_date`, `activities`).
    #[serde(default)]
    pub fields: BTreeMap<String, FieldMap>,
    /// Typed custom fields by the name the rules read.
    #[serde(default)]
    pub custom: BTreeMap<String, CustomMap>,
    /// The currency of amounts (`budget`, `estimated_value`, `amount`).
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Where each record's outcome is.
    pub outcome: OutcomeMap,
    /// Each record's own decision time; records without one are decided at the
    /// run's `now`.
    #[serde(default)]
    pub as_of: Option<DateColumn>,
    /// How `calibrate` splits records without dates into train and validation.
    #[serde(default)]
    pub split: SplitSettings,
    /// Stage-probability tables to compare forecasts with, by name.
    #[serde(default)]
    pub baselines: BTreeMap<String, StageTable>,
    /// How `calibrate` fits this org's policy, where it differs from the
    /// defaults (the command's flags win over these).
    #[serde(default)]
    pub calibrate: CalibrateSettings,
}

/// An org's choices for fitting its policy; each absent one takes the default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrateSettings {
    /// Training records a value needs to get points of its own (default 50).
    #[serde(default)]
    pub min_count: Option<usize>,
    /// L2 penalty of the logistic regression (default 1).
    #[serde(default)]
    pub alpha: Option<f64>,
    /// Points that double the odds of converting (default 10).
    #[serde(default)]
    pub points_per_doubling: Option<f64>,
    /// Points are whole multiples of this (default 1).
    #[serde(default)]
    pub points_step: Option<u32>,
    /// Lowest training precision of a hot lead (default 0.8).
    #[serde(default)]
    pub hot_precision: Option<f64>,
}

/// Reads `decision`, naming the two decisions a backtest scores (not every
/// decision of the contract: the others have no outcome to score against).
fn scored_decision<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
    let text = String::deserialize(d)?;
    match text.as_str() {
        "qualify" => Ok(Kind::Qualify),
        "forecast" => Ok(Kind::Forecast),
        other => Err(serde::de::Error::custom(format!(
            "`{other}` cannot be backtested: the decision is `qualify` (leads, scored against \
             whether they converted) or `forecast` (opportunities, against whether they were won)"
        ))),
    }
}

fn default_currency() -> String {
    "USD".to_owned()
}

/// A contract field: from a column (through a value map) or a constant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMap {
    /// The column; absent with `value`.
    #[serde(default)]
    pub column: Option<String>,
    /// A constant for every record.
    #[serde(default)]
    pub value: Option<String>,
    /// Cell text -> contract value; `*` catches every other value. Without a map
    /// the cell is the value.
    #[serde(default)]
    pub values: Option<BTreeMap<String, String>>,
    /// The value of a record whose cell is missing; without it the field stays
    /// unset.
    #[serde(default)]
    pub default: Option<String>,
    /// The date format of a date field (chrono's `strftime` syntax); default
    /// `%Y-%m-%d`.
    #[serde(default)]
    pub format: Option<String>,
}

/// A custom field's type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomType {
    /// Text, trimmed.
    #[default]
    Text,
    /// A number.
    Number,
    /// A boolean (`true`/`false`, `yes`/`no`, `1`/`0`).
    Flag,
    /// A calendar date.
    Date,
}

/// A typed custom field.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomMap {
    /// The column.
    pub column: String,
    /// Its type.
    #[serde(default, rename = "type")]
    pub kind: CustomType,
    /// Cell text -> value, before typing; `*` catches every other value.
    #[serde(default)]
    pub values: Option<BTreeMap<String, String>>,
    /// The date format of a date field; default `%Y-%m-%d`.
    #[serde(default)]
    pub format: Option<String>,
}

/// Where the outcome is: which cell texts are a positive outcome (converted, won),
/// which negative (not converted, lost), which still open.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeMap {
    /// The column.
    pub column: String,
    /// Texts of a positive outcome.
    pub positive: Vec<String>,
    /// Texts of a negative outcome.
    pub negative: Vec<String>,
    /// Texts of a record without an outcome yet (decided, never scored); any
    /// other text, or a missing cell, is an error.
    #[serde(default)]
    pub open: Vec<String>,
    /// The date the outcome became known (a deal's close date): the time split
    /// orders records by it.
    #[serde(default)]
    pub closed_on: Option<DateColumn>,
}

/// A column of dates or times.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateColumn {
    /// The column.
    pub column: String,
    /// chrono's `strftime` syntax, a date (`%m/%d/%Y`) or a date and time;
    /// default: RFC 3339 or `%Y-%m-%d`.
    #[serde(default)]
    pub format: Option<String>,
}

/// How `calibrate` splits records into a training and a validation part.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitSettings {
    /// `time` (by when outcomes became known, else by `as_of`) or `seeded` (a
    /// seeded hash of the ids); absent: by time when every record has a date,
    /// else seeded.
    #[serde(default)]
    pub by: Option<SplitBy>,
    /// The seed of the hash that orders records.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The share of records trained on (the older ones, or the first by hash).
    #[serde(
        default = "default_train_share",
        rename = "ratio",
        alias = "train_share"
    )]
    pub train_share: f64,
}

/// How records are split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitBy {
    /// The older records train, the newer validate.
    Time,
    /// A seeded hash of the ids decides.
    Seeded,
}

fn default_seed() -> u64 {
    42
}

fn default_train_share() -> f64 {
    0.7
}

impl Default for SplitSettings {
    fn default() -> Self {
        SplitSettings {
            by: None,
            seed: default_seed(),
            train_share: default_train_share(),
        }
    }
}

/// A stage-probability table: a CRM's default per native stage, or one of the
/// org's own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageTable {
    /// A CRM whose built-in default probabilities are used (`salesforce`,
    /// `hubspot`): `stages` then maps each of the org's stages to the CRM's
    /// native stage.
    #[serde(default)]
    pub crm: Option<String>,
    /// The org's stage -> the CRM's native stage (with `crm`).
    #[serde(default)]
    pub stages: BTreeMap<String, String>,
    /// The org's stage -> probability (0..1), without `crm`.
    #[serde(default)]
    pub probabilities: BTreeMap<String, f64>,
}

/// Why a mapping cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("at `{path}`: {message}")]
pub struct MappingError {
    /// Where in the mapping file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn wrong(path: impl Into<String>, message: impl Into<String>) -> MappingError {
    MappingError {
        path: path.into(),
        message: message.into(),
    }
}

/// Lead fields a mapping may fill.
pub const LEAD_FIELDS: &[&str] = &[
    "source",
    "engagement",
    "budget_status",
    "need",
    "timeframe",
    "decision_maker_known",
    "existing_customer",
    "budget",
    "estimated_value",
    "estimated_close",
    "company",
    "contact_name",
    "email",
    "topic",
];

/// Opportunity fields a mapping may fill.
pub const OPPORTUNITY_FIELDS: &[&str] = &["stage", "name", "amount", "close_date", "activities"];

impl Mapping {
    /// Parses a mapping and checks what can be checked without the data.
    pub fn parse(text: &str) -> Result<Mapping, MappingError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let mapping: Mapping = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            wrong(path, e.into_inner().to_string())
        })?;
        mapping.check()?;
        Ok(mapping)
    }

    fn check(&self) -> Result<(), MappingError> {
        let allowed = match self.decision {
            Kind::Qualify => LEAD_FIELDS,
            Kind::Forecast => OPPORTUNITY_FIELDS,
            other => {
                return Err(wrong(
                    "decision",
                    format!("backtests run `qualify` or `forecast`, not `{other}`"),
                ))
            }
        };
        for (name, field) in &self.fields {
            let at = format!("fields.{name}");
            if !allowed.contains(&name.as_str()) {
                return Err(wrong(
                    at,
                    format!(
                        "`{name}` is not a field of a {} record (one of: {})",
                        self.decision,
                        allowed.join(", ")
                    ),
                ));
            }
            if field.column.is_some() == field.value.is_some() {
                return Err(wrong(at, "give either `column` or `value`"));
            }
        }
        for name in self.custom.keys() {
            if LEAD_FIELDS.contains(&name.as_str()) || OPPORTUNITY_FIELDS.contains(&name.as_str()) {
                return Err(wrong(
                    format!("custom.{name}"),
                    format!(
                        "`{name}` is a contract field, not a custom one: map it under \
                         `fields.{name}`, or give the custom field another name"
                    ),
                ));
            }
        }
        if self.split.by == Some(SplitBy::Time)
            && self.as_of.is_none()
            && self.outcome.closed_on.is_none()
        {
            return Err(wrong(
                "split.by",
                "a time split needs dates: give `as_of` or `outcome.closed_on`, or split `seeded`",
            ));
        }
        if self.decision == Kind::Forecast && !self.fields.contains_key("stage") {
            return Err(wrong(
                "fields",
                "a forecast needs the opportunity's `stage` (a column or a value)",
            ));
        }
        if self.outcome.positive.is_empty() || self.outcome.negative.is_empty() {
            return Err(wrong(
                "outcome",
                "name the texts of a positive and of a negative outcome",
            ));
        }
        if !(0.0..1.0).contains(&self.split.train_share) || self.split.train_share == 0.0 {
            return Err(wrong(
                "split.ratio",
                "the share of records trained on is between 0 and 1",
            ));
        }
        for (column, path) in self.columns() {
            if self.exclude.contains_key(&column) {
                return Err(wrong(
                    path,
                    format!("column `{column}` is excluded (`exclude`), so nothing may read it"),
                ));
            }
        }
        for (name, table) in &self.baselines {
            let at = format!("baselines.{name}");
            match &table.crm {
                Some(_) if table.stages.is_empty() => {
                    return Err(wrong(at, "map the org's stages to the CRM's (`stages`)"))
                }
                None if table.probabilities.is_empty() => {
                    return Err(wrong(
                        at,
                        "give a `crm` and its `stages`, or `probabilities`",
                    ))
                }
                _ => {}
            }
            for (stage, p) in &table.probabilities {
                if !(0.0..=1.0).contains(p) {
                    return Err(wrong(
                        format!("{at}.probabilities.{stage}"),
                        "a probability is a number from 0 to 1",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every column the mapping reads, with where the mapping names it.
    pub fn columns(&self) -> Vec<(String, String)> {
        let mut columns = vec![
            (self.id.clone(), "id".to_owned()),
            (self.outcome.column.clone(), "outcome.column".to_owned()),
        ];
        if let Some(closed) = &self.outcome.closed_on {
            columns.push((closed.column.clone(), "outcome.closed_on.column".to_owned()));
        }
        if let Some(as_of) = &self.as_of {
            columns.push((as_of.column.clone(), "as_of.column".to_owned()));
        }
        for (name, field) in &self.fields {
            if let Some(column) = &field.column {
                columns.push((column.clone(), format!("fields.{name}.column")));
            }
        }
        for (name, custom) in &self.custom {
            columns.push((custom.column.clone(), format!("custom.{name}.column")));
        }
        columns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"{"decision": "qualify", "id": "id",
        "outcome": {"column": "won", "positive": ["1"], "negative": ["0"]}}"#;

    #[test]
    fn a_small_mapping_takes_defaults() {
        let m = Mapping::parse(SMALL).unwrap();
        assert_eq!(m.split.seed, 42);
        assert_eq!(m.split.train_share, 0.7);
        assert_eq!(m.currency, "USD");
    }

    #[test]
    fn a_field_the_decision_does_not_have_is_named() {
        let text = SMALL.replace(
            r#""id": "id","#,
            r#""id": "id", "fields": {"stage": {"column": "s"}},"#,
        );
        let err = Mapping::parse(&text).unwrap_err();
        assert_eq!(err.path, "fields.stage");
    }

    #[test]
    fn mapping_an_excluded_column_is_refused() {
        let text = SMALL.replace(
            r#""id": "id","#,
            r#""id": "id", "exclude": {"Tags": "notes"}, "custom": {"tags": {"column": "Tags"}},"#,
        );
        let err = Mapping::parse(&text).unwrap_err();
        assert_eq!(err.path, "custom.tags.column");
        assert!(err.message.contains("excluded"), "{err}");
    }

    #[test]
    fn only_the_decisions_a_backtest_scores_are_offered() {
        let err = Mapping::parse(&SMALL.replace("qualify", "convert")).unwrap_err();
        assert_eq!(err.path, "decision");
        assert!(err.message.contains("`qualify`"), "{err}");
        assert!(err.message.contains("`forecast`"), "{err}");
        assert!(!err.message.contains("transition"), "{err}");
    }

    #[test]
    fn the_split_is_stated_in_the_mapping() {
        let seeded = SMALL.replace(
            r#""id": "id","#,
            r#""id": "id", "split": {"by": "seeded", "ratio": 0.8, "seed": 7},"#,
        );
        let m = Mapping::parse(&seeded).unwrap();
        assert_eq!(m.split.by, Some(SplitBy::Seeded));
        assert_eq!((m.split.train_share, m.split.seed), (0.8, 7));
        let time = SMALL.replace(r#""id": "id","#, r#""id": "id", "split": {"by": "time"},"#);
        let err = Mapping::parse(&time).unwrap_err();
        assert_eq!(err.path, "split.by");
        assert!(err.message.contains("as_of"), "{err}");
        // The older name of the ratio is still read.
        let old = SMALL.replace(
            r#""id": "id","#,
            r#""id": "id", "split": {"train_share": 0.6},"#,
        );
        assert_eq!(Mapping::parse(&old).unwrap().split.train_share, 0.6);
    }

    #[test]
    fn a_custom_field_named_like_a_contract_field_is_refused() {
        let text = SMALL.replace(
            r#""id": "id","#,
            r#""id": "id", "custom": {"source": {"column": "Lead Source"}},"#,
        );
        let err = Mapping::parse(&text).unwrap_err();
        assert_eq!(err.path, "custom.source");
        assert!(err.message.contains("fields.source"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_named_by_path() {
        let text = SMALL.replace(r#""positive""#, r#""postive""#);
        let err = Mapping::parse(&text).unwrap_err();
        assert_eq!(err.path, "outcome.postive");
        assert!(err.message.contains("postive"), "{err}");
    }
}
