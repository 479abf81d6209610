//! An org folder loaded into a host, ready to decide: what an embedder holds (and
//! what the program and the language bindings hold) to turn records in any input
//! the program accepts into the lines the program writes.

use std::collections::HashSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use crm_rules_model as m;

use super::OrgDir;
use crate::audit::AuditPolicy;
use crate::crm::{Format, Vocabularies};
use crate::decision::Kind;
use crate::error::{Error, Result};
use crate::pipeline::{self, Emit, InputError, Output, Pipeline, Reading};
use crate::registry::{Host, LoadedModule};

/// An org whose module is loaded and active in a [`Host`].
///
/// ```no_run
/// use std::sync::Arc;
/// use crm_rules::{org::DecideOptions, Host, Kind, Org};
///
/// let host = Arc::new(Host::new()?);
/// let org = Org::load(host, "examples/strict".as_ref())?;
/// let options = DecideOptions::at("2026-11-25T09:00:00Z".parse()?);
/// let output = org.decide(Kind::Qualify, br#"{"id": "L-1", "source": "web_form"}"#, &options)?;
/// print!("{}", String::from_utf8_lossy(&output.text));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Org {
    host: Arc<Host>,
    id: String,
    dir: PathBuf,
    vocabularies: Arc<Vocabularies>,
    audit: AuditPolicy,
    /// The custom fields the module reads: native records keep only these.
    reads_custom: Arc<HashSet<String>>,
}

/// How [`Org::decide`] reads and answers: the program's flags, as values.
#[derive(Debug, Clone)]
pub struct DecideOptions {
    /// The decision time every record is decided at.
    pub now: DateTime<Utc>,
    /// The acting user, passed to the rules.
    pub user: Option<String>,
    /// The acting team, passed to the rules.
    pub team: Option<String>,
    /// What each line holds.
    pub emit: Emit,
    /// The format of every record; `None` detects it per record.
    pub format: Option<Format>,
    /// Transitions: the stage to move to, for records that do not say.
    pub to: Option<String>,
    /// Deciding threads for JSON lines and arrays (1: this thread only).
    pub threads: usize,
    /// The largest record read, in bytes.
    pub max_record_bytes: usize,
}

impl DecideOptions {
    /// Decisions at `now`, with the program's defaults: decisions on each line,
    /// formats detected, one thread.
    pub fn at(now: DateTime<Utc>) -> DecideOptions {
        DecideOptions {
            now,
            user: None,
            team: None,
            emit: Emit::default(),
            format: None,
            to: None,
            threads: 1,
            max_record_bytes: pipeline::source::DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

impl Org {
    /// Reads the org folder (`org.json`, module, policy, signature) and loads its
    /// module into `host`, checked against the folder's pins and keys.
    pub fn load(host: Arc<Host>, dir: &Path) -> Result<Org> {
        let folder = OrgDir::read(dir)?;
        Org::from_folder(host, &folder)
    }

    /// Loads an org folder read already (perhaps with its module or policy
    /// replaced) into `host`.
    pub fn from_folder(host: Arc<Host>, folder: &OrgDir) -> Result<Org> {
        let loaded = folder.load_into(&host)?;
        Ok(Org {
            id: folder.file.org_id.clone(),
            dir: folder.dir.clone(),
            vocabularies: Arc::new(folder.vocabularies.clone()),
            audit: folder.file.audit.clone(),
            reads_custom: Arc::new(loaded.info.reads_custom_fields.iter().cloned().collect()),
            host,
        })
    }

    /// The org's id, as `org.json` gives it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The folder it was read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The host holding its module.
    pub fn host(&self) -> &Arc<Host> {
        &self.host
    }

    /// How its CRM names fields, options and stages.
    pub fn vocabularies(&self) -> &Vocabularies {
        &self.vocabularies
    }

    /// What its audit log masks.
    pub fn audit_policy(&self) -> &AuditPolicy {
        &self.audit
    }

    /// The active module: version, hash, contract, what it reads (`crm-rules
    /// info`).
    pub fn info(&self) -> Result<LoadedModule> {
        self.host.module(&self.id)
    }

    /// The org's sales stages with their steps (`crm-rules stages`).
    pub fn stages(&self) -> Result<Vec<m::Stage>> {
        self.host.stages(&self.id)
    }

    /// The context of a decision for this org.
    pub fn context(&self, options: &DecideOptions) -> m::Context {
        m::Context {
            org_id: self.id.clone(),
            now: options.now,
            user: options.user.clone(),
            team: options.team.clone(),
        }
    }

    /// How the pipeline reads this org's records for `kind`.
    pub fn reading<'a>(&'a self, kind: Kind, options: &'a DecideOptions) -> Reading<'a> {
        Reading {
            kind,
            format: options.format,
            vocabularies: &self.vocabularies,
            to: options.to.as_deref(),
            keep_custom: Some(&self.reads_custom),
            today: options.now.date_naive(),
        }
    }

    /// Decides every record of `input` (one JSON object, an array, JSON lines,
    /// or a CRM's API response) and returns the lines the program writes for
    /// the same input and options, in input order. A record that cannot be read
    /// or decided gets an error line; the others are decided.
    pub fn decide(
        &self,
        kind: Kind,
        input: &[u8],
        options: &DecideOptions,
    ) -> Result<Output, InputError> {
        let ctx = self.context(options);
        let pipeline = Pipeline {
            decider: &*self.host,
            ctx: &ctx,
            reading: self.reading(kind, options),
            emit: options.emit,
            audit: None,
            source_name: "input",
        };
        let opened = pipeline::open(Cursor::new(input), options.max_record_bytes)
            .map_err(InputError::Read)?;
        let mut output = Output::default();
        pipeline.run_input(opened, options.threads, |part| {
            output.append(part);
            Ok(())
        })?;
        Ok(output)
    }
}

impl From<super::OrgError> for Error {
    fn from(error: super::OrgError) -> Self {
        Error::Org(error)
    }
}
