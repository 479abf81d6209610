//! Tables of labelled history into typed records: a CSV file or JSON lines, read
//! through a [`Mapping`], become [`Labelled`] records, each with the contract input
//! a module decides, its own decision time and its outcome.
//!
//! CSV is read by the `csv` crate (RFC 4180). One repair is made, because real
//! exports need it: a record that comes back as one field when the header has
//! several is a whole row quoted a second time (its inner quotes doubled), and is
//! parsed again. Any other record whose field count differs from the header's is an
//! error naming its row.
//!
//! Rows are numbered as lines of the file: the header is row 1.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use crm_rules::model as m;

use super::mapping::{CustomMap, CustomType, DateColumn, FieldMap, Mapping};
use crm_rules::decision::{Input, Kind};

/// A record's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Converted, won.
    Positive,
    /// Not converted, lost.
    Negative,
    /// Not known yet: decided, never scored.
    Open,
}

impl Outcome {
    /// `Some(true)` for a positive outcome, `Some(false)` for a negative one.
    pub fn label(self) -> Option<bool> {
        match self {
            Outcome::Positive => Some(true),
            Outcome::Negative => Some(false),
            Outcome::Open => None,
        }
    }
}

/// One record of labelled history.
#[derive(Debug, Clone)]
pub struct Labelled {
    /// Its row in the file (the header is row 1).
    pub row: usize,
    /// What its decision is asked.
    pub input: Input,
    /// Its own decision time, when the table gives one.
    pub as_of: Option<DateTime<Utc>>,
    /// How it turned out.
    pub outcome: Outcome,
    /// When the outcome became known, when the table says.
    pub closed_on: Option<NaiveDate>,
}

impl Labelled {
    /// The record's id.
    pub fn id(&self) -> &str {
        self.input.id()
    }
}

/// A table read: its records and what it is.
#[derive(Debug, Clone)]
pub struct Table {
    /// The decision its records ask for.
    pub kind: Kind,
    /// The file's name, for messages.
    pub source_name: String,
    /// The records, in file order.
    pub records: Vec<Labelled>,
}

/// Why a table cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The file cannot be read.
    #[error("cannot read {source_name}")]
    Read {
        /// The file.
        source_name: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The file has no header or no records.
    #[error("{source_name}: {message}")]
    Empty {
        /// The file.
        source_name: String,
        /// What is missing.
        message: String,
    },
    /// The mapping cannot be used with this file.
    #[error("{mapping}: {error}")]
    Mapping {
        /// The mapping file.
        mapping: String,
        /// What is wrong, and where in the mapping.
        #[source]
        error: super::mapping::MappingError,
    },
    /// The mapping names a column the file does not have.
    #[error("{source_name}: there is no column `{column}` (named at `{at}` in {mapping})")]
    MissingColumn {
        /// The file.
        source_name: String,
        /// The mapping file.
        mapping: String,
        /// The column.
        column: String,
        /// Where the mapping names it.
        at: String,
    },
    /// A row cannot be read or mapped.
    #[error("{source_name}, row {row}{}: {message}", column_part(column))]
    Row {
        /// The file.
        source_name: String,
        /// The row (the header is row 1).
        row: usize,
        /// The column at fault, when one is.
        column: Option<String>,
        /// What is wrong.
        message: String,
        /// The parser's error, when it gave one.
        #[source]
        source: Option<csv::Error>,
    },
}

fn column_part(column: &Option<String>) -> String {
    match column {
        Some(column) => format!(", column `{column}`"),
        None => String::new(),
    }
}

/// A file's cells: its header and its rows, before any mapping.
#[derive(Debug, Clone, Default)]
pub struct Cells {
    /// Column names.
    pub header: Vec<String>,
    /// Each row's line number and cells (one per column; JSON lines missing a key
    /// have an empty cell).
    pub rows: Vec<(usize, Vec<String>)>,
}

impl Cells {
    /// Reads CSV text.
    pub fn csv(source_name: &str, text: &str) -> Result<Cells, TableError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut records = reader.records();
        let header: Vec<String> = match records.next() {
            Some(Ok(record)) => record.iter().map(|c| c.trim().to_owned()).collect(),
            Some(Err(e)) => return Err(csv_error(source_name, 1, e)),
            None => {
                return Err(TableError::Empty {
                    source_name: source_name.to_owned(),
                    message: "the file is empty: it has no header row".to_owned(),
                })
            }
        };
        let mut rows = Vec::new();
        let mut lines = LineCounter::new(text);
        for record in records {
            let record = record.map_err(|e| {
                let row = e.position().map_or(0, |p| lines.line_at(p.byte() as usize));
                csv_error(source_name, row, e)
            })?;
            let row = record
                .position()
                .map_or(0, |p| lines.line_at(p.byte() as usize));
            let mut cells: Vec<String> = record.iter().map(str::to_owned).collect();
            if cells.len() == 1 && header.len() > 1 && cells[0].contains(',') {
                cells = rewrapped(source_name, row, &cells[0])?;
            }
            if cells.len() == 1 && cells[0].trim().is_empty() {
                continue;
            }
            if cells.len() != header.len() {
                return Err(TableError::Row {
                    source_name: source_name.to_owned(),
                    row,
                    column: None,
                    message: format!(
                        "{} fields where the header has {}",
                        cells.len(),
                        header.len()
                    ),
                    source: None,
                });
            }
            rows.push((row, cells));
        }
        Ok(Cells { header, rows })
    }

    /// Reads JSON lines: one object per line, its keys the columns (in the order
    /// they first appear). Texts, numbers and booleans are cells; `null` is a
    /// missing cell; an array or object is its JSON text.
    pub fn json_lines(source_name: &str, text: &str) -> Result<Cells, TableError> {
        let mut header: Vec<String> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut rows = Vec::new();
        for (at, line) in text.lines().enumerate() {
            let row = at + 1;
            if line.trim().is_empty() {
                continue;
            }
            let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line)
                .map_err(|e| TableError::Row {
                    source_name: source_name.to_owned(),
                    row,
                    column: None,
                    message: format!("not a JSON object: {e}"),
                    source: None,
                })?;
            let mut cells = vec![String::new(); header.len()];
            for (key, value) in object {
                let at = *index.entry(key.clone()).or_insert_with(|| {
                    header.push(key);
                    header.len() - 1
                });
                if cells.len() <= at {
                    cells.resize(at + 1, String::new());
                }
                cells[at] = match value {
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                };
            }
            rows.push((row, cells));
        }
        if rows.is_empty() {
            return Err(TableError::Empty {
                source_name: source_name.to_owned(),
                message: "the file is empty: it has no records".to_owned(),
            });
        }
        for (_, cells) in &mut rows {
            cells.resize(header.len(), String::new());
        }
        Ok(Cells { header, rows })
    }
}

/// Line numbers of byte offsets, counted here because the `csv` crate counts
/// lines of CRLF files one short.
struct LineCounter<'t> {
    text: &'t [u8],
    at: usize,
    line: usize,
}

impl<'t> LineCounter<'t> {
    fn new(text: &'t str) -> Self {
        LineCounter {
            text: text.as_bytes(),
            at: 0,
            line: 1,
        }
    }

    /// The line of the record starting at `byte` (offsets only grow).
    fn line_at(&mut self, byte: usize) -> usize {
        let end = byte.min(self.text.len());
        if end > self.at {
            self.line += self.text[self.at..end]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            self.at = end;
        }
        // A record may be reported as starting at the line break before it.
        let mut line = self.line;
        let mut k = end;
        while k < self.text.len() && (self.text[k] == b'\r' || self.text[k] == b'\n') {
            if self.text[k] == b'\n' {
                line += 1;
            }
            k += 1;
        }
        line
    }
}

fn csv_error(source_name: &str, row: usize, e: csv::Error) -> TableError {
    TableError::Row {
        source_name: source_name.to_owned(),
        row,
        column: None,
        message: "not a CSV record".to_owned(),
        source: Some(e),
    }
}

/// A whole row quoted once more: its one field is itself a CSV record.
fn rewrapped(source_name: &str, row: usize, text: &str) -> Result<Vec<String>, TableError> {
    let mut inner = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut records = inner.records();
    match (records.next(), records.next()) {
        (Some(Ok(record)), None) => Ok(record.iter().map(str::to_owned).collect()),
        (Some(Err(e)), _) => Err(csv_error(source_name, row, e)),
        _ => Err(TableError::Row {
            source_name: source_name.to_owned(),
            row,
            column: None,
            message: "a row quoted whole holds more than one record".to_owned(),
            source: None,
        }),
    }
}

/// Text as value maps compare it.
fn key(text: &str) -> String {
    text.trim().to_ascii_lowercase()
}

/// A value map, its keys compared trimmed and ignoring ASCII case.
#[derive(Debug, Clone)]
struct ValueMap {
    entries: HashMap<String, String>,
    other: Option<String>,
}

impl ValueMap {
    fn new(map: &BTreeMap<String, String>) -> ValueMap {
        ValueMap {
            entries: map
                .iter()
                .filter(|(k, _)| k.as_str() != "*")
                .map(|(k, v)| (key(k), v.clone()))
                .collect(),
            other: map.get("*").cloned(),
        }
    }

    fn get(&self, text: &str) -> Option<&str> {
        self.entries
            .get(&key(text))
            .or(self.other.as_ref())
            .map(String::as_str)
    }

    fn targets(&self) -> impl Iterator<Item = &String> {
        self.entries.values().chain(self.other.iter())
    }
}

/// Where a mapped value comes from, resolved against the header.
#[derive(Debug, Clone)]
struct Source {
    /// Where the mapping names it (`fields.source`).
    at: String,
    column: Option<(usize, String)>,
    constant: Option<String>,
    values: Option<ValueMap>,
    default: Option<String>,
    format: Option<String>,
}

/// The mapping resolved against a file's header.
struct Resolved<'m> {
    mapping: &'m Mapping,
    missing: Vec<String>,
    id: usize,
    outcome: usize,
    positive: Vec<String>,
    negative: Vec<String>,
    open: Vec<String>,
    closed_on: Option<(usize, &'m DateColumn)>,
    as_of: Option<(usize, &'m DateColumn)>,
    fields: Vec<(String, Source)>,
    custom: Vec<(String, CustomType, Source)>,
}

/// What went wrong in one cell, before the row and file are known.
struct CellError {
    column: Option<String>,
    message: String,
}

fn cell_error(column: &str, message: impl Into<String>) -> CellError {
    CellError {
        column: Some(column.to_owned()),
        message: message.into(),
    }
}

/// Parses a date or time: with `format` as a date and time, else as a date at
/// midnight UTC; without one as RFC 3339, else as `%Y-%m-%d`.
pub fn parse_time(text: &str, format: Option<&str>) -> Option<DateTime<Utc>> {
    let text = text.trim();
    match format {
        Some(format) => NaiveDateTime::parse_from_str(text, format)
            .map(|t| t.and_utc())
            .ok()
            .or_else(|| {
                NaiveDate::parse_from_str(text, format)
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| t.and_utc())
            }),
        None => DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| t.and_utc())
            }),
    }
}

fn enum_value<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str, text: &str) -> Option<T> {
    all.iter().copied().find(|v| name(*v) == text)
}

/// The canonical values a lead field takes, for checking value maps up front.
fn allowed_values(field: &str) -> Option<Vec<&'static str>> {
    Some(match field {
        "source" => m::LeadSource::ALL.iter().map(|v| v.as_str()).collect(),
        "engagement" => m::Engagement::ALL.iter().map(|v| v.as_str()).collect(),
        "budget_status" => m::BudgetStatus::ALL.iter().map(|v| v.as_str()).collect(),
        "need" => m::Need::ALL.iter().map(|v| v.as_str()).collect(),
        "timeframe" => m::Timeframe::ALL.iter().map(|v| v.as_str()).collect(),
        "decision_maker_known" | "existing_customer" => vec!["true", "false"],
        _ => return None,
    })
}

/// "not a date", naming the format tried and the mapping key that sets it.
fn not_a_date(text: &str, format: Option<&str>, key: &str) -> String {
    match format {
        Some(format) => format!(
            "`{text}` is not a date in the format `{format}` (set `{key}.format` in the mapping \
             to the cells' format, e.g. `%d-%m-%Y`)"
        ),
        None => format!(
            "`{text}` is not an RFC 3339 time or a `%Y-%m-%d` date (set `{key}.format` in the \
             mapping to the cells' format, e.g. `%d-%m-%Y`)"
        ),
    }
}

fn flag(text: &str) -> Option<bool> {
    match key(text).as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

fn number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

impl<'m> Resolved<'m> {
    fn new(
        mapping: &'m Mapping,
        header: &[String],
        source_name: &str,
        mapping_name: &str,
    ) -> Result<Self, TableError> {
        let position: HashMap<&str, usize> = header
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        let column = |name: &str, at: &str| -> Result<usize, TableError> {
            position
                .get(name)
                .copied()
                .ok_or_else(|| TableError::MissingColumn {
                    source_name: source_name.to_owned(),
                    mapping: mapping_name.to_owned(),
                    column: name.to_owned(),
                    at: at.to_owned(),
                })
        };
        let bad_mapping = |path: String, message: String| TableError::Mapping {
            mapping: mapping_name.to_owned(),
            error: super::mapping::MappingError { path, message },
        };
        let source = |at: String, field: &FieldMap| -> Result<Source, TableError> {
            let column = match &field.column {
                Some(name) => Some((column(name, &format!("{at}.column"))?, name.clone())),
                None => None,
            };
            Ok(Source {
                at,
                column,
                constant: field.value.clone(),
                values: field.values.as_ref().map(ValueMap::new),
                default: field.default.clone(),
                format: field.format.clone(),
            })
        };
        let mut fields = Vec::new();
        for (name, field) in &mapping.fields {
            let at = format!("fields.{name}");
            let resolved = source(at.clone(), field)?;
            if let Some(allowed) = allowed_values(name) {
                let given = resolved
                    .values
                    .iter()
                    .flat_map(ValueMap::targets)
                    .chain(resolved.constant.iter())
                    .chain(resolved.default.iter());
                for value in given {
                    if !allowed.contains(&value.as_str()) {
                        return Err(bad_mapping(
                            at,
                            format!(
                                "`{value}` is not a value of `{name}` (one of: {})",
                                allowed.join(", ")
                            ),
                        ));
                    }
                }
            }
            fields.push((name.clone(), resolved));
        }
        let mut custom = Vec::new();
        for (name, c) in &mapping.custom {
            let CustomMap {
                column: name_of_column,
                kind,
                values,
                format,
            } = c;
            let at = format!("custom.{name}");
            custom.push((
                name.clone(),
                *kind,
                Source {
                    column: Some((
                        column(name_of_column, &format!("{at}.column"))?,
                        name_of_column.clone(),
                    )),
                    at,
                    constant: None,
                    values: values.as_ref().map(ValueMap::new),
                    default: None,
                    format: format.clone(),
                },
            ));
        }
        let date_column = |d: &'m Option<DateColumn>, at: &str| match d {
            Some(d) => column(&d.column, at).map(|i| Some((i, d))),
            None => Ok(None),
        };
        let keys = |texts: &[String]| texts.iter().map(|t| key(t)).collect::<Vec<_>>();
        Ok(Resolved {
            mapping,
            missing: keys(&mapping.missing),
            id: column(&mapping.id, "id")?,
            outcome: column(&mapping.outcome.column, "outcome.column")?,
            positive: keys(&mapping.outcome.positive),
            negative: keys(&mapping.outcome.negative),
            open: keys(&mapping.outcome.open),
            closed_on: date_column(&mapping.outcome.closed_on, "outcome.closed_on.column")?,
            as_of: date_column(&mapping.as_of, "as_of.column")?,
            fields,
            custom,
        })
    }

    /// The cell's text, or `None` when it is missing.
    fn cell<'c>(&self, cells: &'c [String], at: usize) -> Option<&'c str> {
        let text = cells.get(at)?.trim();
        let k = key(text);
        (!text.is_empty() && !self.missing.contains(&k)).then_some(text)
    }

    /// A mapped value: the constant, or the cell through its value map (its
    /// default when missing).
    fn value(&self, source: &Source, cells: &[String]) -> Result<Option<String>, CellError> {
        if let Some(constant) = &source.constant {
            return Ok(Some(constant.clone()));
        }
        let Some((at, column)) = &source.column else {
            return Ok(None);
        };
        let Some(text) = self.cell(cells, *at) else {
            return Ok(source.default.clone());
        };
        match &source.values {
            None => Ok(Some(text.to_owned())),
            Some(map) => match map.get(text) {
                Some(value) => Ok(Some(value.to_owned())),
                None => Err(cell_error(
                    column,
                    format!(
                        "value `{text}` is not in the value map of `{}` (add it, or `*` for \
                         every other value)",
                        source.at
                    ),
                )),
            },
        }
    }

    /// The date at `at`; `key` is where the mapping names it (`as_of`), for
    /// the error.
    fn date(
        &self,
        cells: &[String],
        at: Option<(usize, &DateColumn)>,
        key: &str,
    ) -> Result<Option<DateTime<Utc>>, CellError> {
        let Some((at, column)) = at else {
            return Ok(None);
        };
        let Some(text) = self.cell(cells, at) else {
            return Ok(None);
        };
        parse_time(text, column.format.as_deref())
            .map(Some)
            .ok_or_else(|| {
                cell_error(
                    &column.column,
                    not_a_date(text, column.format.as_deref(), key),
                )
            })
    }

    fn record(&self, cells: &[String]) -> Result<Labelled, CellError> {
        let mapping = self.mapping;
        let id = self
            .cell(cells, self.id)
            .ok_or_else(|| cell_error(&mapping.id, "the record has no id"))?
            .to_owned();
        let outcome_column = &mapping.outcome.column;
        let outcome = match self.cell(cells, self.outcome) {
            None => return Err(cell_error(outcome_column, "the outcome is missing")),
            Some(text) => {
                let k = key(text);
                if self.positive.contains(&k) {
                    Outcome::Positive
                } else if self.negative.contains(&k) {
                    Outcome::Negative
                } else if self.open.contains(&k) {
                    Outcome::Open
                } else {
                    let listed = |texts: &[String]| {
                        if texts.is_empty() {
                            "none listed".to_owned()
                        } else {
                            texts.join(", ")
                        }
                    };
                    return Err(cell_error(
                        outcome_column,
                        format!(
                            "outcome `{text}` is in none of `outcome.positive` ({}), \
                             `outcome.negative` ({}) or `outcome.open` ({}): add it to the one \
                             it means",
                            listed(&mapping.outcome.positive),
                            listed(&mapping.outcome.negative),
                            listed(&mapping.outcome.open)
                        ),
                    ));
                }
            }
        };
        let closed_on = self
            .date(cells, self.closed_on, "outcome.closed_on")?
            .map(|t| t.date_naive());
        let as_of = self.date(cells, self.as_of, "as_of")?;
        let mut custom = m::CustomFields::new();
        for (name, kind, source) in &self.custom {
            let Some(text) = self.value(source, cells)? else {
                continue;
            };
            let column = source.column.as_ref().map_or("", |(_, c)| c.as_str());
            let value = match kind {
                CustomType::Text => m::FieldValue::Text(text),
                CustomType::Number => m::FieldValue::Number(
                    number(&text)
                        .ok_or_else(|| cell_error(column, format!("`{text}` is not a number")))?,
                ),
                CustomType::Flag => {
                    m::FieldValue::Flag(flag(&text).ok_or_else(|| {
                        cell_error(column, format!("`{text}` is not true or false"))
                    })?)
                }
                CustomType::Date => m::FieldValue::Day {
                    date: parse_time(&text, source.format.as_deref())
                        .ok_or_else(|| {
                            cell_error(
                                column,
                                not_a_date(&text, source.format.as_deref(), &source.at),
                            )
                        })?
                        .date_naive(),
                },
            };
            custom.insert(name.clone(), value);
        }
        let input = match mapping.decision {
            Kind::Forecast => Input::Forecast(self.opportunity(id, cells, custom)?),
            _ => Input::Qualify(self.lead(id, cells, custom)?),
        };
        Ok(Labelled {
            row: 0,
            input,
            as_of,
            outcome,
            closed_on,
        })
    }

    fn money(&self, source: &Source, text: &str) -> Result<m::Money, CellError> {
        let column = source.column.as_ref().map_or("", |(_, c)| c.as_str());
        Ok(m::Money {
            amount: number(text)
                .ok_or_else(|| cell_error(column, format!("`{text}` is not an amount")))?,
            currency: self.mapping.currency.clone(),
        })
    }

    fn day(&self, source: &Source, text: &str) -> Result<NaiveDate, CellError> {
        let column = source.column.as_ref().map_or("", |(_, c)| c.as_str());
        let format = source.format.as_deref();
        parse_time(text, format.or(Some("%Y-%m-%d")))
            .map(|t| t.date_naive())
            .ok_or_else(|| {
                cell_error(
                    column,
                    not_a_date(text, Some(format.unwrap_or("%Y-%m-%d")), &source.at),
                )
            })
    }

    fn lead(
        &self,
        id: String,
        cells: &[String],
        custom: m::CustomFields,
    ) -> Result<m::Lead, CellError> {
        let mut lead = m::Lead {
            id,
            custom,
            ..m::Lead::default()
        };
        for (name, source) in &self.fields {
            let Some(text) = self.value(source, cells)? else {
                continue;
            };
            let text = text.as_str();
            // Value maps were checked against these names when the mapping was
            // resolved; an unmapped cell of an enum field is checked here.
            let bad = || {
                let column = source.column.as_ref().map_or("", |(_, c)| c.as_str());
                cell_error(
                    column,
                    format!(
                        "`{text}` is not a value of `{name}` (map it in `{}.values`)",
                        source.at
                    ),
                )
            };
            match name.as_str() {
                "source" => {
                    lead.source =
                        Some(enum_value(m::LeadSource::ALL, |v| v.as_str(), text).ok_or_else(bad)?)
                }
                "engagement" => {
                    lead.engagement =
                        enum_value(m::Engagement::ALL, |v| v.as_str(), text).ok_or_else(bad)?
                }
                "budget_status" => {
                    lead.budget_status = Some(
                        enum_value(m::BudgetStatus::ALL, |v| v.as_str(), text).ok_or_else(bad)?,
                    )
                }
                "need" => {
                    lead.need =
                        Some(enum_value(m::Need::ALL, |v| v.as_str(), text).ok_or_else(bad)?)
                }
                "timeframe" => {
                    lead.timeframe =
                        Some(enum_value(m::Timeframe::ALL, |v| v.as_str(), text).ok_or_else(bad)?)
                }
                "decision_maker_known" => {
                    lead.decision_maker_known = Some(flag(text).ok_or_else(bad)?)
                }
                "existing_customer" => lead.existing_customer = flag(text).ok_or_else(bad)?,
                "budget" => lead.budget = Some(self.money(source, text)?),
                "estimated_value" => lead.estimated_value = Some(self.money(source, text)?),
                "estimated_close" => lead.estimated_close = Some(self.day(source, text)?),
                "company" => lead.company = Some(text.to_owned()),
                "contact_name" => lead.contact_name = Some(text.to_owned()),
                "email" => lead.email = Some(text.to_owned()),
                "topic" => lead.topic = Some(text.to_owned()),
                _ => {}
            }
        }
        Ok(lead)
    }

    fn opportunity(
        &self,
        id: String,
        cells: &[String],
        custom: m::CustomFields,
    ) -> Result<m::Opportunity, CellError> {
        let mut opportunity = m::Opportunity {
            id,
            custom,
            ..m::Opportunity::default()
        };
        for (name, source) in &self.fields {
            let Some(text) = self.value(source, cells)? else {
                continue;
            };
            match name.as_str() {
                "stage" => opportunity.stage = text,
                "name" => opportunity.name = text,
                "amount" => opportunity.amount = Some(self.money(source, &text)?),
                "close_date" => opportunity.close_date = Some(self.day(source, &text)?),
                "activities" => {
                    let column = source.column.as_ref().map_or("", |(_, c)| c.as_str());
                    opportunity.activities = serde_json::from_str(&text).map_err(|e| {
                        cell_error(column, format!("not a JSON array of activities: {e}"))
                    })?;
                }
                _ => {}
            }
        }
        Ok(opportunity)
    }
}

impl Table {
    /// Maps the cells of a file into labelled records.
    pub fn from_cells(
        mapping: &Mapping,
        cells: &Cells,
        source_name: &str,
        mapping_name: &str,
    ) -> Result<Table, TableError> {
        let resolved = Resolved::new(mapping, &cells.header, source_name, mapping_name)?;
        if cells.rows.is_empty() {
            return Err(TableError::Empty {
                source_name: source_name.to_owned(),
                message: "the file has a header but no records".to_owned(),
            });
        }
        let mut records = Vec::with_capacity(cells.rows.len());
        for (row, values) in &cells.rows {
            let mut record = resolved.record(values).map_err(|e| TableError::Row {
                source_name: source_name.to_owned(),
                row: *row,
                column: e.column,
                message: e.message,
                source: None,
            })?;
            record.row = *row;
            records.push(record);
        }
        Ok(Table {
            kind: mapping.decision,
            source_name: source_name.to_owned(),
            records,
        })
    }

    /// Reads a file's text: JSON lines when its first non-blank character opens
    /// an object, CSV otherwise.
    pub fn read(
        mapping: &Mapping,
        text: &str,
        source_name: &str,
        mapping_name: &str,
    ) -> Result<Table, TableError> {
        let cells = if is_json_lines(text) {
            Cells::json_lines(source_name, text)?
        } else {
            Cells::csv(source_name, text)?
        };
        Table::from_cells(mapping, &cells, source_name, mapping_name)
    }

    /// The records that have an outcome.
    pub fn labelled(&self) -> impl Iterator<Item = (usize, &Labelled, bool)> {
        self.records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.outcome.label().map(|y| (i, r, y)))
    }
}

/// Whether a file's text is JSON lines (its first non-blank character opens an
/// object).
pub fn is_json_lines(text: &str) -> bool {
    text.trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('{')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(extra: &str) -> Mapping {
        Mapping::parse(&format!(
            r#"{{"decision": "qualify", "id": "id", "missing": ["Select"], {extra}
               "outcome": {{"column": "won", "positive": ["1"], "negative": ["0"]}}}}"#
        ))
        .unwrap()
    }

    fn read(m: &Mapping, text: &str) -> Result<Table, TableError> {
        Table::read(m, text, "leads.csv", "mapping.json")
    }

    #[test]
    fn a_row_quoted_whole_is_read_again() {
        let m = mapping(r#""custom": {"interest": {"column": "interest"}},"#);
        let text = "id,interest,won\r\nL1,plain,1\r\n\"L2,\"\"Banking, Investment\"\",0\"\r\n";
        let table = read(&m, text).unwrap();
        assert_eq!(table.records.len(), 2);
        let Input::Qualify(lead) = &table.records[1].input else {
            panic!("a lead")
        };
        assert_eq!(lead.id, "L2");
        assert_eq!(
            lead.custom["interest"],
            m::FieldValue::Text("Banking, Investment".into())
        );
        assert_eq!(table.records[1].row, 3);
        assert_eq!(table.records[1].outcome, Outcome::Negative);
    }

    #[test]
    fn a_value_not_in_the_value_map_names_row_column_and_value() {
        let m =
            mapping(r#""fields": {"source": {"column": "src", "values": {"Web": "web_form"}}},"#);
        let err = read(&m, "id,src,won\nL1,web,1\nL2,Pigeon,0\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("row 3"), "{text}");
        assert!(text.contains("column `src`"), "{text}");
        assert!(text.contains("`Pigeon`"), "{text}");
    }

    #[test]
    fn missing_tokens_and_defaults_apply() {
        let m = mapping(
            r#""fields": {"source": {"column": "src", "values": {"web": "web_form", "*": "advertisement"}, "default": "other"}},"#,
        );
        let table = read(&m, "id,src,won\nL1,Select,1\nL2,Bing,0\nL3, WEB ,0\n").unwrap();
        let sources: Vec<_> = table
            .records
            .iter()
            .map(|r| match &r.input {
                Input::Qualify(l) => l.source,
                _ => None,
            })
            .collect();
        assert_eq!(
            sources,
            [
                Some(m::LeadSource::Other),
                Some(m::LeadSource::Advertisement),
                Some(m::LeadSource::WebForm)
            ]
        );
    }

    #[test]
    fn a_mapping_naming_a_missing_column_says_which_and_where() {
        let m = mapping(r#""custom": {"visits": {"column": "TotalVisits", "type": "number"}},"#);
        let err = read(&m, "id,won\nL1,1\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`TotalVisits`"), "{text}");
        assert!(text.contains("custom.visits.column"), "{text}");
    }

    #[test]
    fn a_missing_outcome_column_is_named() {
        let m = mapping("");
        let err = read(&m, "id,converted\nL1,1\n").unwrap_err();
        assert!(err.to_string().contains("no column `won`"), "{err}");
    }

    #[test]
    fn a_date_in_the_wrong_format_names_row_and_column() {
        let m = mapping(r#""as_of": {"column": "created", "format": "%m/%d/%Y"},"#);
        let err = read(&m, "id,created,won\nL1,1/2/2017,1\nL2,2017-01-03,0\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("row 3, column `created`"), "{text}");
        assert!(text.contains("%m/%d/%Y"), "{text}");
        assert!(text.contains("`as_of.format`"), "{text}");
    }

    #[test]
    fn a_date_without_a_format_names_the_key_that_sets_one() {
        let m = mapping(r#""as_of": {"column": "created"},"#);
        let err = read(&m, "id,created,won\nL1,03-01-2017,1\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`as_of.format`"), "{text}");
        assert!(text.contains("%Y-%m-%d"), "{text}");
    }

    #[test]
    fn an_unknown_outcome_names_the_keys_to_add_it_to() {
        let m = mapping("");
        let err = read(&m, "id,won\nL1,maybe\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`outcome.positive` (1)"), "{text}");
        assert!(text.contains("`outcome.open` (none listed)"), "{text}");
        assert!(!text.contains("()"), "{text}");
    }

    #[test]
    fn an_empty_file_says_so() {
        let m = mapping("");
        assert!(read(&m, "").unwrap_err().to_string().contains("empty"));
        let err = read(&m, "id,won\n").unwrap_err();
        assert!(err.to_string().contains("no records"), "{err}");
    }

    #[test]
    fn an_unknown_outcome_names_the_value() {
        let m = mapping("");
        let err = read(&m, "id,won\nL1,maybe\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("row 2, column `won`"), "{text}");
        assert!(text.contains("`maybe`"), "{text}");
    }

    #[test]
    fn json_lines_read_like_a_table() {
        let m = mapping(r#""custom": {"visits": {"column": "visits", "type": "number"}},"#);
        let text = "{\"id\": \"L1\", \"visits\": 3, \"won\": 1}\n{\"id\": \"L2\", \"won\": \"0\", \"visits\": null}\n";
        let table = read(&m, text).unwrap();
        let Input::Qualify(lead) = &table.records[0].input else {
            panic!("a lead")
        };
        assert_eq!(lead.custom["visits"], m::FieldValue::Number(3.0));
        let Input::Qualify(lead) = &table.records[1].input else {
            panic!("a lead")
        };
        assert!(lead.custom.is_empty());
        assert_eq!(table.records[1].outcome, Outcome::Negative);
    }
}
