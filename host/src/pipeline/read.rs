//! A record's text into a job: its format detected (on the record itself, inside a
//! `{"lead": ...}` or `{"opportunity": ...}` wrapper), read once into the contract's
//! canonical types (straight from the bytes: canonical records by serde, native
//! ones through the org's vocabulary), with its position and id for every message.

use std::collections::{HashMap, HashSet};

use crate::crm::{detect, Format, Native, ObjectType, ReadError, Reader, Vocabularies};
use crate::decision::{Input, Kind};
use crate::error::Error;
use crate::json::{array, Object, ObjectError, Scalar};
use chrono::NaiveDate;
use crm_rules_model as m;
use serde::de::DeserializeOwned;

use super::source::RawRecord;

/// How records are read.
#[derive(Debug, Clone, Copy)]
pub struct Reading<'a> {
    /// Which decision the records ask for.
    pub kind: Kind,
    /// The format of every record; `None` detects it per record.
    pub format: Option<Format>,
    /// The org's CRM vocabularies.
    pub vocabularies: &'a Vocabularies,
    /// Transitions: the stage to move to, for records that do not say.
    pub to: Option<&'a str>,
    /// Native records: keep only these custom fields (what the org's module reads);
    /// `None` keeps all.
    pub keep_custom: Option<&'a HashSet<String>>,
    /// Activities done on or before this day count as completed when a record
    /// does not say.
    pub today: NaiveDate,
}

/// One record read: where it was, what it is, and what it asks.
#[derive(Debug)]
pub struct Job<'a> {
    /// 1-based position in the input.
    pub position: usize,
    /// The decided record's id, when it has one.
    pub id: Option<String>,
    /// The decided record's format (inside any wrapper), when it could be read.
    pub format: Option<Format>,
    /// The decided record as its CRM gave it, for writing the decision back.
    pub native: Option<Native<'a>>,
    /// The record's text, as given.
    pub text: Option<&'a str>,
    /// What the record asks, or why it cannot be read.
    pub input: Result<Input, Error>,
}

/// Where a record is, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Place<'s> {
    /// The input's name (a file, `stdin`).
    pub source_name: &'s str,
    /// The record's 1-based position.
    pub position: usize,
    /// JSON path of the record inside its input value (`records[3]`).
    pub at: &'s str,
}

impl Place<'_> {
    /// An input error of this record, at `inner` + the error's path.
    pub fn error(&self, id: Option<&str>, inner: &str, e: ReadError) -> Error {
        let path = [self.at, inner, &e.path]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(".");
        Error::Input {
            source_name: self.source_name.to_owned(),
            position: Some(self.position),
            record: id.map(str::to_owned),
            path: (!path.is_empty()).then_some(path),
            message: e.message,
        }
    }
}

/// Reads canonical JSON into `T`, naming the JSON path of what is wrong.
fn typed<T: DeserializeOwned>(
    place: &Place<'_>,
    inner: &str,
    id: Option<&str>,
    text: &str,
) -> Result<T, Error> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        place.error(id, inner, ReadError::new(path, e.into_inner().to_string()))
    })
}

fn object<'a>(place: &Place<'_>, inner: &str, text: &'a str) -> Result<Object<'a>, Error> {
    Object::parse(text).map_err(|e| {
        let message = match e {
            ObjectError::Duplicate(_) | ObjectError::Malformed(_) => e.to_string(),
            ObjectError::NotObject(_) => "expected a JSON object".to_owned(),
        };
        place.error(None, inner, ReadError::new("", message))
    })
}

/// The object of a record: read already, or read now.
fn record_object<'a>(
    place: &Place<'_>,
    text: &'a str,
    object: Option<Object<'a>>,
) -> Result<Object<'a>, Error> {
    match object {
        Some(object) => Ok(object),
        None => self::object(place, "", text),
    }
}

fn text_id(object: &Object<'_>) -> Option<String> {
    object
        .get("id")
        .map(Scalar::of)
        .and_then(|s| s.as_str().map(str::to_owned))
}

/// A record of a forecast input, looked at once: its object and, for native
/// records, its flattened form (activities attach to opportunities by it).
struct Seen<'a> {
    format: Format,
    native: Option<Result<Native<'a>, ReadError>>,
}

impl<'a> Reading<'a> {
    fn reader(&self) -> Reader<'a> {
        Reader {
            vocabularies: self.vocabularies,
            today: self.today,
            keep_custom: self.keep_custom,
        }
    }

    fn format_of(&self, object: &Object<'_>) -> Format {
        self.format.unwrap_or_else(|| detect(object))
    }

    /// Reads a native record of `format` with `read`; its id goes into `id` as
    /// soon as it is known, so an error line can name the record.
    #[allow(clippy::too_many_arguments)]
    fn native<T>(
        &self,
        place: &Place<'_>,
        inner: &str,
        format: Format,
        object: &Object<'a>,
        context: Option<&str>,
        id: &mut Option<String>,
        read: impl FnOnce(&Reader<'a>, &Native<'a>) -> Result<T, ReadError>,
    ) -> Result<(T, Native<'a>), Error> {
        // What the decided record is: a lead for qualify and convert, an
        // opportunity for transition (HubSpot objects do not say); a forecast's
        // input mixes opportunities and activities, so its records say for
        // themselves, and candidates too.
        let object_type = match (self.kind, inner) {
            (_, inner) if inner.starts_with("candidates") => None,
            (Kind::Qualify | Kind::Convert, _) => Some(ObjectType::Lead),
            (Kind::Transition, _) => Some(ObjectType::Opportunity),
            (Kind::Forecast | Kind::Stages, _) => None,
        };
        let native = Native::of(format, object, context, object_type)
            .map_err(|e| place.error(None, inner, e))?;
        if id.is_none() {
            id.clone_from(&native.id);
        }
        let value = read(&self.reader(), &native)
            .map_err(|e| place.error(native.id.as_deref(), inner, e))?;
        Ok((value, native))
    }

    /// Reads the record a job decides (inside any wrapper at `inner`): by serde
    /// when it is canonical, through the org's vocabulary with `read` when it is
    /// a CRM's own. The job learns the record's format, id and native form on
    /// the way, so an error line can name the record.
    #[allow(clippy::too_many_arguments)]
    fn decided_record<T: DeserializeOwned>(
        &self,
        place: &Place<'_>,
        inner: &str,
        raw: &'a str,
        object: &Object<'a>,
        context: Option<&str>,
        job: &mut Job<'a>,
        read: impl FnOnce(&Reader<'a>, &Native<'a>) -> Result<T, ReadError>,
    ) -> Result<T, Error> {
        let format = self.format_of(object);
        job.format = Some(format);
        if format == Format::Canonical {
            job.id = text_id(object);
            return typed(place, inner, job.id.as_deref(), raw);
        }
        let (value, native) =
            self.native(place, inner, format, object, context, &mut job.id, read)?;
        job.native = Some(native);
        Ok(value)
    }

    /// Reads every record of an input into jobs. In a forecast, native activity
    /// records attach to the opportunity of the same input they belong to and get
    /// no job of their own; an activity whose opportunity is not in the input is
    /// an error of its own.
    pub fn jobs(&self, source_name: &str, records: &'a [RawRecord<'a>]) -> Vec<Job<'a>> {
        if self.kind == Kind::Forecast {
            return self.forecast_jobs(source_name, records);
        }
        records
            .iter()
            .map(|record| self.job(source_name, record))
            .collect()
    }

    fn failed(&self, record: &RawRecord<'a>, source_name: &str, message: String) -> Job<'a> {
        Job {
            position: record.position,
            id: None,
            format: None,
            native: None,
            text: None,
            input: Err(Error::Input {
                source_name: source_name.to_owned(),
                position: Some(record.position),
                record: None,
                path: None,
                message,
            }),
        }
    }

    /// Reads one record (not a forecast's: see [`Reading::jobs`]).
    pub fn job(&self, source_name: &str, record: &RawRecord<'a>) -> Job<'a> {
        let raw = match &record.value {
            Ok(text) => *text,
            Err(message) => return self.failed(record, source_name, message.clone()),
        };
        let parsed = record.object.clone();
        let place = Place {
            source_name,
            position: record.position,
            at: &record.at,
        };
        let context = record.context.as_deref();
        let mut job = Job {
            position: record.position,
            id: None,
            format: None,
            native: None,
            text: Some(raw),
            input: Err(Error::Internal("not read".to_owned())),
        };
        let read = match self.kind {
            Kind::Qualify => self.qualify(&place, raw, parsed, context, &mut job),
            Kind::Convert => self.convert(&place, raw, parsed, context, &mut job),
            Kind::Transition => self.transition(&place, raw, parsed, context, &mut job),
            Kind::Forecast => self.forecast(&place, raw, parsed, context, &[], &mut job),
            Kind::Stages => Err(place.error(
                None,
                "",
                ReadError::new("", "listing stages takes no records"),
            )),
        };
        job.input = read;
        job.id = job
            .input
            .as_ref()
            .ok()
            .map(|i| i.id().to_owned())
            .or(job.id);
        job
    }

    fn qualify(
        &self,
        place: &Place<'_>,
        raw: &'a str,
        parsed: Option<Object<'a>>,
        context: Option<&str>,
        job: &mut Job<'a>,
    ) -> Result<Input, Error> {
        let object = record_object(place, raw, parsed)?;
        self.decided_record(place, "", raw, &object, context, job, |r, n| r.lead(n))
            .map(Input::Qualify)
    }

    fn convert(
        &self,
        place: &Place<'_>,
        raw: &'a str,
        parsed: Option<Object<'a>>,
        context: Option<&str>,
        job: &mut Job<'a>,
    ) -> Result<Input, Error> {
        let outer = record_object(place, raw, parsed)?;
        // `{"lead": ..., "candidates": [...]}`, or a bare lead.
        let (lead_raw, candidates, inner) = match outer.get("lead") {
            Some(lead) => (lead.get(), outer.get("candidates"), "lead"),
            None => (raw, None, ""),
        };
        if !inner.is_empty() {
            if let Some(extra) = outer.keys().find(|k| *k != "lead" && *k != "candidates") {
                return Err(place.error(
                    None,
                    "",
                    ReadError::new(
                        extra.to_owned(),
                        "unknown key (expected `lead` and `candidates`)",
                    ),
                ));
            }
        }
        let lead_object = object(place, inner, lead_raw)?;
        let lead: m::Lead = self.decided_record(
            place,
            inner,
            lead_raw,
            &lead_object,
            context,
            job,
            |r, n| r.lead(n),
        )?;
        let mut read = Vec::new();
        if let Some(list) = candidates {
            let items = array(list).map_err(|_| {
                place.error(
                    Some(&lead.id),
                    "",
                    ReadError::new("candidates", "expected an array"),
                )
            })?;
            for (i, item) in items.into_iter().enumerate() {
                let inner = format!("candidates[{i}]");
                let item = item.get();
                let candidate = object(place, &inner, item)?;
                let candidate_format = self.format.unwrap_or_else(|| detect(&candidate));
                if candidate_format == Format::Canonical {
                    read.push(typed(place, &inner, Some(&lead.id), item)?);
                } else {
                    read.push(
                        self.native(
                            place,
                            &inner,
                            candidate_format,
                            &candidate,
                            None,
                            &mut Some(lead.id.clone()),
                            |r, n| r.candidate(n),
                        )?
                        .0,
                    );
                }
            }
        }
        Ok(Input::Convert {
            lead,
            candidates: read,
        })
    }

    fn transition(
        &self,
        place: &Place<'_>,
        raw: &'a str,
        parsed: Option<Object<'a>>,
        context: Option<&str>,
        job: &mut Job<'a>,
    ) -> Result<Input, Error> {
        let outer = record_object(place, raw, parsed)?;
        // `{"opportunity": ..., "to": ...}`, or a bare opportunity (with --to).
        let (value, to, inner) = match outer.get("opportunity") {
            Some(opportunity) => {
                if let Some(extra) = outer.keys().find(|k| *k != "opportunity" && *k != "to") {
                    return Err(place.error(
                        None,
                        "",
                        ReadError::new(
                            extra.to_owned(),
                            "unknown key (expected `opportunity` and `to`)",
                        ),
                    ));
                }
                let to = match outer.get("to").map(Scalar::of) {
                    Some(Scalar::Str(to)) => Some(to.into_owned()),
                    Some(other) => {
                        return Err(place.error(
                            None,
                            "",
                            ReadError::new(
                                "to",
                                format!("expected a stage name, found {}", other.shown()),
                            ),
                        ))
                    }
                    None => None,
                };
                (opportunity.get(), to, "opportunity")
            }
            None => (raw, None, ""),
        };
        let opportunity_object = object(place, inner, value)?;
        let opportunity: m::Opportunity = self.decided_record(
            place,
            inner,
            value,
            &opportunity_object,
            context,
            job,
            |r, n| r.opportunity(n, Vec::new()),
        )?;
        let Some(to) = to.or_else(|| self.to.map(str::to_owned)) else {
            return Err(place.error(
                Some(&opportunity.id),
                "",
                ReadError::new(
                    "to",
                    "no stage to move to: give `{\"opportunity\": ..., \"to\": ...}`, or name one stage for every record",
                ),
            ));
        };
        Ok(Input::Transition { opportunity, to })
    }

    /// An opportunity to forecast, with activities from other records of the input.
    fn forecast(
        &self,
        place: &Place<'_>,
        raw: &'a str,
        parsed: Option<Object<'a>>,
        context: Option<&str>,
        attached: &[(Place<'_>, &Native<'a>)],
        job: &mut Job<'a>,
    ) -> Result<Input, Error> {
        let object = record_object(place, raw, parsed)?;
        let mut opportunity: m::Opportunity =
            self.decided_record(place, "", raw, &object, context, job, |r, n| {
                r.opportunity(n, Vec::new())
            })?;
        let reader = self.reader();
        for (activity_place, activity) in attached {
            let read = reader
                .activity(activity, Some(&opportunity.stage))
                .map_err(|e| {
                    let inner = activity_place.error(activity.id.as_deref(), "", e);
                    place.error(
                        Some(&opportunity.id),
                        "",
                        ReadError::new("", format!("its activity at {inner}")),
                    )
                })?;
            opportunity.activities.push(read);
        }
        Ok(Input::Forecast(opportunity))
    }

    fn forecast_jobs(&self, source_name: &str, records: &'a [RawRecord<'a>]) -> Vec<Job<'a>> {
        // First look: which records are native opportunities and activities.
        let seen: Vec<Option<Seen<'a>>> = records
            .iter()
            .map(|record| {
                let text = record.value.as_ref().ok()?;
                let object = match &record.object {
                    Some(object) => object.clone(),
                    None => Object::parse(text).ok()?,
                };
                let format = self.format_of(&object);
                let native = (format != Format::Canonical)
                    .then(|| Native::of(format, &object, record.context.as_deref(), None));
                Some(Seen { format, native })
            })
            .collect();
        let opportunities: HashSet<&str> = seen
            .iter()
            .flatten()
            .filter_map(|s| match &s.native {
                Some(Ok(n)) if n.object == ObjectType::Opportunity => n.id.as_deref(),
                _ => None,
            })
            .collect();
        let mut attached: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, s) in seen.iter().enumerate() {
            if let Some(Seen {
                native: Some(Ok(n)),
                ..
            }) = s
            {
                if n.object == ObjectType::Activity {
                    if let Some(parent) = n
                        .parents
                        .iter()
                        .find(|p| opportunities.contains(p.as_str()))
                    {
                        attached.entry(parent.as_str()).or_default().push(i);
                    }
                }
            }
        }
        let taken: HashSet<usize> = attached.values().flatten().copied().collect();
        let mut jobs = Vec::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            if taken.contains(&i) {
                continue;
            }
            let place = Place {
                source_name,
                position: record.position,
                at: &record.at,
            };
            let (Some(s), Ok(raw)) = (&seen[i], &record.value) else {
                jobs.push(self.job(source_name, record));
                continue;
            };
            // A native activity that no opportunity of the input took.
            if let Some(Ok(n)) = &s.native {
                if n.object == ObjectType::Activity {
                    let parents = if n.parents.is_empty() {
                        "no record".to_owned()
                    } else {
                        n.parents.join(", ")
                    };
                    let mut job = self.failed(record, source_name, String::new());
                    job.format = Some(s.format);
                    job.id = n.id.clone();
                    job.input = Err(place.error(
                        n.id.as_deref(),
                        "",
                        ReadError::new(
                            "",
                            format!("this activity belongs to {parents}, and no opportunity with that id is in the input"),
                        ),
                    ));
                    jobs.push(job);
                    continue;
                }
            }
            let own: Vec<(Place<'_>, &Native<'a>)> = match &s.native {
                Some(Ok(n)) => {
                    n.id.as_deref()
                        .and_then(|id| attached.get(id))
                        .map(|list| {
                            list.iter()
                                .filter_map(|&j| match &seen[j] {
                                    Some(Seen {
                                        native: Some(Ok(activity)),
                                        ..
                                    }) => Some((
                                        Place {
                                            source_name,
                                            position: records[j].position,
                                            at: &records[j].at,
                                        },
                                        activity,
                                    )),
                                    _ => None,
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                }
                _ => Vec::new(),
            };
            let mut job = Job {
                position: record.position,
                id: None,
                format: None,
                native: None,
                text: Some(raw),
                input: Err(Error::Internal("not read".to_owned())),
            };
            job.input = self.forecast(
                &place,
                raw,
                record.object.clone(),
                record.context.as_deref(),
                &own,
                &mut job,
            );
            job.id = job
                .input
                .as_ref()
                .ok()
                .map(|i| i.id().to_owned())
                .or(job.id);
            jobs.push(job);
        }
        jobs
    }
}
