//! The JSON options of `crm_host_new` and `crm_org_decide`: the program's flags,
//! as fields. Unknown fields are refused, naming them, so a misspelt option is
//! never silently ignored.

use std::path::PathBuf;

use chrono::{DateTime, SubsecRound, Utc};
use crm_rules::crm::Format;
use crm_rules::pipeline::Emit;
use crm_rules::{DecideOptions, EngineSettings};
use serde::Deserialize;

use crate::status::Failure;

/// `crm_host_new`'s settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostSettings {
    /// Keep compiled modules in a folder (default true).
    cache: Option<bool>,
    /// That folder; default the program's (`$XDG_CACHE_HOME/crm-rules`).
    cache_dir: Option<PathBuf>,
    /// The cache key's file; default the program's.
    cache_key: Option<PathBuf>,
}

/// `crm_org_decide`'s options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Decide {
    now: Option<String>,
    emit: Option<String>,
    jobs: Option<usize>,
    user: Option<String>,
    team: Option<String>,
    format: Option<String>,
    to: Option<String>,
    #[serde(default)]
    provenance: bool,
    #[serde(default)]
    bundle: bool,
    max_record_bytes: Option<usize>,
}

fn parse<T: for<'de> Deserialize<'de> + Default>(
    name: &str,
    json: Option<&str>,
) -> Result<T, Failure> {
    let Some(json) = json.filter(|j| !j.trim().is_empty()) else {
        return Ok(T::default());
    };
    let de = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let at = e.path().to_string();
        Failure::argument(name, format_args!("at `{at}`: {}", e.inner()))
    })
}

/// The engine settings `json` asks for (NULL: the program's defaults).
pub(crate) fn engine_settings(json: Option<&str>) -> Result<EngineSettings, Failure> {
    let settings: HostSettings = parse("settings", json)?;
    Ok(EngineSettings {
        cache_dir: match settings.cache {
            Some(false) => None,
            _ => settings.cache_dir.or_else(crm_rules::cache::default_dir),
        },
        cache_key: settings.cache_key,
        ..EngineSettings::default()
    })
}

/// The decision options `json` asks for (NULL: the program's defaults, decided
/// now).
pub(crate) fn decide_options(json: Option<&str>) -> Result<DecideOptions, Failure> {
    let options: Decide = parse("options", json)?;
    let now = match &options.now {
        Some(now) => now.parse::<DateTime<Utc>>().map_err(|e| {
            Failure::argument(
                "options",
                format_args!("at `now`: {now:?} is not an RFC 3339 time ({e})"),
            )
        })?,
        None => Utc::now().trunc_subsecs(0),
    };
    let (decision, native) = match options.emit.as_deref() {
        None | Some("decision") => (true, false),
        Some("native") => (false, true),
        Some("both") => (true, true),
        Some(other) => {
            return Err(Failure::argument(
                "options",
                format_args!(
                    "at `emit`: {other:?} is not one of \"decision\", \"native\", \"both\""
                ),
            ))
        }
    };
    let format = options
        .format
        .as_deref()
        .map(|f| f.parse::<Format>())
        .transpose()
        .map_err(|e| Failure::argument("options", format_args!("at `format`: {e}")))?;
    if options.jobs == Some(0) {
        return Err(Failure::argument(
            "options",
            "at `jobs`: must be at least 1",
        ));
    }
    let defaults = DecideOptions::at(now);
    Ok(DecideOptions {
        user: options.user,
        team: options.team,
        format,
        to: options.to,
        emit: Emit {
            decision,
            native,
            provenance: options.provenance,
            bundle: options.bundle,
            pretty: false,
        },
        threads: options
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        max_record_bytes: options
            .max_record_bytes
            .unwrap_or(defaults.max_record_bytes),
        ..defaults
    })
}
