//! The Node.js binding of crm-rules: the native half of the `crm-rules` npm
//! package. It loads org folders into a [`Host`] and decides records with
//! [`Org::decide`], so every answer is the line the program writes for the same
//! input. Records and answers cross as JSON text, which V8 reads and writes
//! faster than any object-by-object conversion; the package's `index.js` turns
//! them into objects, checks argument types and gives errors their classes.
#![deny(missing_docs)]

mod errors;
mod options;

use std::path::PathBuf;
use std::sync::Arc;

use crm_rules::pipeline::{InputError, Output};
use crm_rules::{EngineSettings, Host, Kind, Org};
use napi::bindgen_prelude::{AsyncTask, Buffer, Either};
use napi::{Env, Task};
use napi_derive::napi;

use errors::{argument, failure};
use options::NativeOptions;

/// One engine: compiles each module once and shares it between the orgs loaded
/// into it and the threads deciding for them.
#[napi]
pub struct NativeHost {
    host: Arc<Host>,
}

#[napi]
impl NativeHost {
    /// A host whose compiled modules are cached in `cache_dir` (authenticated
    /// with the key in `cache_key`), or not cached when `cache_dir` is absent.
    #[napi(constructor)]
    pub fn new(cache_dir: Option<String>, cache_key: Option<String>) -> napi::Result<Self> {
        let settings = EngineSettings {
            cache_dir: cache_dir.map(PathBuf::from),
            cache_key: cache_key.map(PathBuf::from),
            ..EngineSettings::default()
        };
        let host = Host::with_settings(&settings).map_err(|e| failure(&e))?;
        Ok(NativeHost {
            host: Arc::new(host),
        })
    }

    /// Reads the org folder `dir` and loads its module into this host, checked
    /// as the program checks it (pins, signatures, limits).
    #[napi]
    pub fn org(&self, dir: String) -> napi::Result<NativeOrg> {
        if dir.is_empty() {
            return Err(argument("dir", "is empty"));
        }
        let org = Org::load(self.host.clone(), dir.as_ref()).map_err(|e| failure(&e))?;
        Ok(NativeOrg { org })
    }
}

/// What a batch decision gives back.
#[napi(object)]
pub struct NativeAnswers {
    /// The answers as a JSON array: one element per line the program writes.
    pub answers: String,
    /// What the program warns about on stderr (more pages to fetch, ...).
    pub warnings: Vec<String>,
    /// Why the input as a whole could not be read (not JSON records at all),
    /// when it could not: `index.js` throws it as an `InputError`.
    pub unreadable: Option<String>,
}

/// An org loaded into a host, ready to decide.
#[napi]
pub struct NativeOrg {
    org: Org,
}

#[napi]
impl NativeOrg {
    /// The org's id, as `org.json` gives it.
    #[napi(getter)]
    pub fn id(&self) -> String {
        self.org.id().to_owned()
    }

    /// The folder it was read from.
    #[napi(getter)]
    pub fn dir(&self) -> String {
        self.org.dir().display().to_string()
    }

    /// What `crm-rules info` prints, as JSON.
    #[napi]
    pub fn info(&self) -> napi::Result<String> {
        let info = self.org.info().map_err(|e| failure(&e))?;
        serde_json::to_string(&info).map_err(|e| failure(&e))
    }

    /// What `crm-rules stages` prints, as JSON.
    #[napi]
    pub fn stages(&self) -> napi::Result<String> {
        let stages = self.org.stages().map_err(|e| failure(&e))?;
        serde_json::to_string(&stages).map_err(|e| failure(&e))
    }

    /// Decides the one record `record` (JSON text) on this thread: the line the
    /// program writes for it, decision or error.
    #[napi]
    pub fn decide_one(
        &self,
        kind: String,
        record: String,
        options: Option<NativeOptions>,
    ) -> napi::Result<String> {
        let kind = options::kind(&kind)?;
        let options = options.unwrap_or_default().decide_options(true)?;
        let output = match self.org.decide(kind, record.as_bytes(), &options) {
            Ok(output) => output,
            Err(InputError::Unreadable(message)) => return Err(argument("record", message)),
            Err(e) => return Err(failure(&e)),
        };
        let count = output.decided + output.failed;
        if count != 1 {
            return Err(argument(
                "record",
                format!("holds {count} records; decide() takes several"),
            ));
        }
        let mut line = String::from_utf8(output.text).map_err(|e| failure(&e))?;
        line.truncate(line.trim_end().len());
        Ok(line)
    }

    /// Decides every record of `input` on this thread.
    #[napi]
    pub fn decide_sync(
        &self,
        kind: String,
        input: Either<String, Buffer>,
        options: Option<NativeOptions>,
    ) -> napi::Result<NativeAnswers> {
        Decide::new(&self.org, &kind, input, options)?.run()
    }

    /// Decides every record of `input` on the worker pool (and as many deciding
    /// threads as `options.jobs` asks): the event loop keeps running meanwhile.
    #[napi(ts_return_type = "Promise<NativeAnswers>")]
    pub fn decide(
        &self,
        kind: String,
        input: Either<String, Buffer>,
        options: Option<NativeOptions>,
    ) -> napi::Result<AsyncTask<Decide>> {
        Ok(AsyncTask::new(Decide::new(
            &self.org, &kind, input, options,
        )?))
    }
}

/// A batch to decide, owned, so it can move to a worker thread.
pub struct Decide {
    org: Org,
    kind: Kind,
    input: Vec<u8>,
    options: crm_rules::DecideOptions,
}

impl Decide {
    fn new(
        org: &Org,
        kind: &str,
        input: Either<String, Buffer>,
        options: Option<NativeOptions>,
    ) -> napi::Result<Decide> {
        Ok(Decide {
            org: org.clone(),
            kind: options::kind(kind)?,
            input: match input {
                Either::A(text) => text.into_bytes(),
                Either::B(bytes) => bytes.to_vec(),
            },
            options: options.unwrap_or_default().decide_options(false)?,
        })
    }

    fn run(&self) -> napi::Result<NativeAnswers> {
        match self.org.decide(self.kind, &self.input, &self.options) {
            Ok(output) => answers(output),
            Err(InputError::Unreadable(message)) => Ok(NativeAnswers {
                answers: "[]".to_owned(),
                warnings: Vec::new(),
                unreadable: Some(message),
            }),
            Err(e) => Err(failure(&e)),
        }
    }
}

impl Task for Decide {
    type Output = NativeAnswers;
    type JsValue = NativeAnswers;

    fn compute(&mut self) -> napi::Result<NativeAnswers> {
        self.run()
    }

    fn resolve(&mut self, _env: Env, output: NativeAnswers) -> napi::Result<NativeAnswers> {
        Ok(output)
    }
}

/// The program's lines as one JSON array, parsed by JavaScript in one call.
/// Lines are compact JSON, so a newline only ever ends one.
fn answers(output: Output) -> napi::Result<NativeAnswers> {
    let mut text = output.text;
    while text.last() == Some(&b'\n') {
        text.pop();
    }
    for byte in &mut text {
        if *byte == b'\n' {
            *byte = b',';
        }
    }
    let mut array = String::with_capacity(text.len() + 2);
    array.push('[');
    array.push_str(std::str::from_utf8(&text).map_err(|e| failure(&e))?);
    array.push(']');
    Ok(NativeAnswers {
        answers: array,
        warnings: output.warnings,
        unreadable: None,
    })
}
