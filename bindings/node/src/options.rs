//! The options object of `decide`, `qualify` and the other calls, read into the
//! library's [`DecideOptions`]: the program's flags, as JavaScript values.

use chrono::{DateTime, SubsecRound, Utc};
use crm_rules::crm::Format;
use crm_rules::pipeline::Emit;
use crm_rules::{DecideOptions, Kind};
use napi_derive::napi;

use crate::errors::argument;

/// The options object as `index.js` passes it on (`now` already a string).
#[napi(object)]
#[derive(Default)]
pub struct NativeOptions {
    /// The decision time, RFC 3339; default: now, to the second.
    pub now: Option<String>,
    /// The acting user.
    pub user: Option<String>,
    /// The acting team.
    pub team: Option<String>,
    /// `decision`, `native` or `both` (`--emit`).
    pub emit: Option<String>,
    /// `canonical`, `dataverse`, `salesforce` or `hubspot` (`--format`).
    pub format: Option<String>,
    /// Transitions: the stage to move to, for records that do not say (`--to`).
    pub to: Option<String>,
    /// Name the module version that decided each record (`--provenance`).
    pub provenance: Option<bool>,
    /// Group native requests into atomic sends (`--bundle`).
    pub bundle: Option<bool>,
    /// Deciding threads (`--jobs`); default: one per core.
    pub jobs: Option<u32>,
    /// The largest record, in bytes (`--max-record-bytes`).
    pub max_record_bytes: Option<u32>,
}

/// The decision kind a `kind` argument names.
pub fn kind(name: &str) -> napi::Result<Kind> {
    match name {
        "qualify" => Ok(Kind::Qualify),
        "convert" => Ok(Kind::Convert),
        "transition" => Ok(Kind::Transition),
        "forecast" => Ok(Kind::Forecast),
        other => Err(argument(
            "kind",
            format!(
                "{other:?} is not one of \"qualify\", \"convert\", \"transition\", \"forecast\""
            ),
        )),
    }
}

impl NativeOptions {
    /// The library's options; `single` decides on the calling thread only.
    pub fn decide_options(&self, single: bool) -> napi::Result<DecideOptions> {
        let now = match &self.now {
            Some(text) => DateTime::parse_from_rfc3339(text)
                .map_err(|e| {
                    argument(
                        "options.now",
                        format!("{text:?} is not an RFC 3339 time ({e})"),
                    )
                })?
                .with_timezone(&Utc),
            None => Utc::now().trunc_subsecs(0),
        };
        let (decision, native) = match self.emit.as_deref() {
            None | Some("decision") => (true, false),
            Some("native") => (false, true),
            Some("both") => (true, true),
            Some(other) => {
                return Err(argument(
                    "options.emit",
                    format!("{other:?} is not one of \"decision\", \"native\", \"both\""),
                ))
            }
        };
        let format = match &self.format {
            Some(text) => Some(
                text.parse::<Format>()
                    .map_err(|e| argument("options.format", e))?,
            ),
            None => None,
        };
        let threads = match (single, self.jobs) {
            (true, _) => 1,
            (false, Some(0)) => return Err(argument("options.jobs", "must be at least 1")),
            (false, Some(n)) => n as usize,
            (false, None) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let defaults = DecideOptions::at(now);
        Ok(DecideOptions {
            user: self.user.clone(),
            team: self.team.clone(),
            emit: Emit {
                decision,
                native,
                provenance: self.provenance.unwrap_or(false),
                bundle: self.bundle.unwrap_or(false),
                // Lines become objects: indenting them would only cost time.
                pretty: false,
            },
            format,
            to: self.to.clone(),
            threads,
            max_record_bytes: match self.max_record_bytes {
                Some(0) => return Err(argument("options.maxRecordBytes", "must be at least 1")),
                Some(n) => n as usize,
                None => defaults.max_record_bytes,
            },
            ..defaults
        })
    }
}
