//! The typed pipeline every way of deciding records shares (the program, the fixture
//! runner, the service, the backtest, the benchmarks): read once, decide in
//! batches, render once.
//!
//! ```text
//!  bytes ──source──► records ──read──► jobs (typed Input) ──decide──► answers ──write──► lines
//!        (lines or whole)   (format, id, native record)  (one call per batch)    (JSON, native actions)
//! ```
//!
//! A chunk of JSON lines is split between worker threads; each reads its records
//! straight from their bytes, decides them in one batch call, and renders their
//! output lines itself, so the thread that writes only copies finished bytes, in
//! input order. A record that cannot be read, decided or written back gets an
//! error line of its own; the others are unaffected.

mod read;
pub mod source;
mod write;

use std::io::{BufRead, Write};
use std::sync::Arc;

use crm_rules_model as m;

use crate::audit::AuditPolicy;
use crate::crm::MorePages;
use crate::decision::{Answer, InputRef};
use crate::error::{Error, Result};
use crate::registry::{Decided, Host, Provenance};

pub use read::{Job, Place, Reading};
pub use source::{open, Line, LineChunks, Opened, RawRecord, Records};
pub use write::{native_actions, AuditItem, Emit};

/// Lines read and decided at a time from a JSON-lines input.
pub const CHUNK_LINES: usize = 8192;

/// Records per call into the module: large enough to amortise the call, small
/// enough that one call stays far inside its fuel and deadline.
pub const BATCH_RECORDS: usize = 1024;

/// What one run of records produced, in input order.
#[derive(Debug, Default)]
pub struct Output {
    /// The output lines, each ending in a newline.
    pub text: Vec<u8>,
    /// Records decided.
    pub decided: usize,
    /// Records that got an error line.
    pub failed: usize,
    /// Why each record that got an error line failed, in input order: its
    /// typed error ([`crate::Error::code`] and [`crate::Error::trap_kind`] for
    /// metrics and statuses, its `Display` for a log or stderr).
    pub failures: Vec<Failure>,
    /// Audit entries to append, one per record, when the run audits.
    pub audit: Vec<AuditItem>,
    /// Inputs that were one page of a longer collection (each also has a notice
    /// line in `text`).
    pub more: Vec<MorePages>,
    /// What a person should know that is not an error (one page of many).
    pub warnings: Vec<String>,
    /// Every call into a module that decided records, in input order: which
    /// version decided and the fuel it used (for a service's metrics and headers).
    pub calls: Vec<Arc<Provenance>>,
}

impl Output {
    /// Adds `other`'s lines and counts after this output's, keeping input order.
    pub fn append(&mut self, other: Output) {
        self.text.extend_from_slice(&other.text);
        self.decided += other.decided;
        self.failed += other.failed;
        self.failures.extend(other.failures);
        self.audit.extend(other.audit);
        self.more.extend(other.more);
        self.warnings.extend(other.warnings);
        self.calls.extend(other.calls);
    }
}

/// A record that got an error line.
#[derive(Debug)]
pub struct Failure {
    /// The record's 1-based position in its input.
    pub position: usize,
    /// Why: it could not be read, decided, or written back to its CRM.
    pub error: Error,
}

/// What decides a pipeline's records: the [`Host`] (the org's module in its
/// sandbox), or anything else that answers in the contract's types, such as the
/// benchmarks' native baseline (the same rules compiled into the process).
pub trait Decider: Sync {
    /// Decides `inputs` for the org of `ctx`; see [`Host::decide_batch`].
    fn decide_batch(
        &self,
        ctx: &m::Context,
        inputs: &[InputRef<'_>],
    ) -> Result<Vec<Result<Decided<Answer>>>>;
}

impl Decider for Host {
    fn decide_batch(
        &self,
        ctx: &m::Context,
        inputs: &[InputRef<'_>],
    ) -> Result<Vec<Result<Decided<Answer>>>> {
        Host::decide_batch(self, ctx, inputs)
    }
}

/// One way of deciding records: an org, a decision, how to read and what to write.
#[derive(Clone, Copy)]
pub struct Pipeline<'a> {
    /// What decides: the host holding the org.
    pub decider: &'a dyn Decider,
    /// The context of every decision (its `org_id` picks the org).
    pub ctx: &'a m::Context,
    /// How records are read.
    pub reading: Reading<'a>,
    /// What each line holds.
    pub emit: Emit,
    /// When set, an audit entry is prepared for every record, masked this way.
    pub audit: Option<&'a AuditPolicy>,
    /// The input's name in messages (a file, `stdin`, a request).
    pub source_name: &'a str,
}

impl<'a> Pipeline<'a> {
    /// Reads, decides and writes the records of one chunk, on this thread. A
    /// collection that was one page of more gets a notice line after its last
    /// record.
    ///
    /// A record that cannot be read or decided gets its error line; an error of
    /// the whole batch (the org was unloaded meanwhile) is returned as itself.
    pub fn run(&self, records: &Records<'_>) -> Result<Output> {
        let jobs = self.reading.jobs(self.source_name, &records.records);
        self.decide_and_write(&jobs, &records.more)
    }

    fn decide_and_write(&self, jobs: &[Job<'_>], more: &[MorePages]) -> Result<Output> {
        let mut answers = Vec::with_capacity(jobs.len());
        for part in jobs.chunks(BATCH_RECORDS) {
            let inputs: Vec<InputRef<'_>> = part
                .iter()
                .filter_map(|job| job.input.as_ref().ok().map(|i| i.as_ref()))
                .collect();
            let mut decided = self.decider.decide_batch(self.ctx, &inputs)?.into_iter();
            for job in part {
                answers.push(if job.input.is_ok() {
                    decided.next()
                } else {
                    None
                });
            }
        }
        let mut output = Output::default();
        for decided in answers.iter().flatten().flatten() {
            // Records of one call share its provenance.
            if !output
                .calls
                .last()
                .is_some_and(|last| Arc::ptr_eq(last, &decided.by))
            {
                output.calls.push(decided.by.clone());
            }
        }
        let mut notices = more.iter().peekable();
        for (job, answer) in jobs.iter().zip(answers) {
            while let Some(notice) = notices.next_if(|n| n.after < job.position) {
                write::notice(self, notice, &mut output);
            }
            write::record(self, job, answer, &mut output);
        }
        for notice in notices {
            write::notice(self, notice, &mut output);
        }
        Ok(output)
    }

    /// Reads, decides and writes a chunk of JSON lines on `threads` threads; the
    /// output keeps input order. Records are numbered from `first_position`.
    pub fn run_lines(
        &self,
        lines: &[Line],
        first_position: usize,
        threads: usize,
    ) -> Result<Output> {
        let parts: Vec<&[Line]> = split_evenly(lines, threads).collect();
        // Records are numbered in input order before anything is decided: a line
        // that holds a collection counts as many records.
        let records = on_threads(&parts, |lines| Records::of_lines(lines, 1));
        let mut next = first_position;
        let mut numbered = Vec::with_capacity(records.len());
        for part in records {
            let mut part = part.ok_or_else(thread_panicked)?;
            let shift = next - 1;
            for record in &mut part.records {
                record.position += shift;
            }
            for more in &mut part.more {
                more.after += shift;
            }
            next += part.records.len();
            numbered.push(part);
        }
        self.run_parts(&numbered)
    }

    /// Decides records read already on up to `threads` threads, each taking a
    /// run of consecutive records; the output keeps input order.
    pub fn run_split(&self, records: &Records<'_>, threads: usize) -> Result<Output> {
        if threads <= 1 || records.records.len() <= 1 {
            return self.run(records);
        }
        let parts: Vec<Records<'_>> = split_evenly(&records.records, threads)
            .map(|chunk| records.part(chunk))
            .collect();
        self.run_parts(&parts)
    }

    /// Runs each part on a thread of its own; the output keeps the parts' order.
    pub fn run_parts(&self, parts: &[Records<'_>]) -> Result<Output> {
        let mut output = Output::default();
        for part in on_threads(parts, |records| self.run(records)) {
            output.append(part.ok_or_else(thread_panicked)??);
        }
        Ok(output)
    }

    /// Decides a whole input, chunk by chunk, handing each chunk's output to
    /// `sink` in input order. JSON lines are streamed (except for a forecast,
    /// whose activities may attach to an opportunity anywhere in the input).
    pub fn run_input<R: BufRead>(
        &self,
        opened: Opened<R>,
        threads: usize,
        mut sink: impl FnMut(Output) -> std::io::Result<()>,
    ) -> Result<(), InputError> {
        use crate::decision::Kind;
        match opened {
            Opened::Lines(mut chunks) if self.reading.kind != Kind::Forecast => {
                let mut next = 1;
                loop {
                    let lines = chunks.next_chunk(CHUNK_LINES).map_err(InputError::Read)?;
                    if lines.is_empty() {
                        return Ok(());
                    }
                    let output = self
                        .run_lines(&lines, next, threads)
                        .map_err(InputError::Decide)?;
                    next += output.decided + output.failed;
                    sink(output).map_err(InputError::Write)?;
                }
            }
            Opened::Lines(mut chunks) => {
                let mut lines = Vec::new();
                loop {
                    let chunk = chunks.next_chunk(CHUNK_LINES).map_err(InputError::Read)?;
                    if chunk.is_empty() {
                        break;
                    }
                    lines.extend(chunk);
                }
                let records = Records::of_lines(&lines, 1);
                sink(self.run(&records).map_err(InputError::Decide)?).map_err(InputError::Write)
            }
            Opened::Whole(text) => {
                let records = Records::of_text(&text).map_err(InputError::Unreadable)?;
                sink(self.run(&records).map_err(InputError::Decide)?).map_err(InputError::Write)
            }
        }
    }

    /// [`Pipeline::run_input`] into a writer.
    pub fn run_into<R: BufRead>(
        &self,
        opened: Opened<R>,
        threads: usize,
        out: &mut dyn Write,
        mut each: impl FnMut(&Output),
    ) -> Result<(), InputError> {
        self.run_input(opened, threads, |output| {
            each(&output);
            out.write_all(&output.text)
        })
    }
}

/// Why an input as a whole could not be decided.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The input could not be read.
    #[error("cannot read the input")]
    Read(#[source] std::io::Error),
    /// The output could not be written.
    #[error("cannot write the output")]
    Write(#[source] std::io::Error),
    /// The input is not JSON records (a malformed array, nothing at all).
    #[error("{0}")]
    Unreadable(String),
    /// The records could not be decided at all (the org is not loaded).
    #[error(transparent)]
    Decide(Error),
}

/// Splits `items` into at most `threads` runs of consecutive items of about the
/// same length: how the pipeline, the service and the backtest share work.
pub fn split_evenly<T>(items: &[T], threads: usize) -> std::slice::Chunks<'_, T> {
    let threads = threads.max(1).min(items.len().max(1));
    items.chunks(items.len().div_ceil(threads).max(1))
}

/// Runs `work` on each part, each on a scoped thread of its own, and gives the
/// results in the parts' order; `None` for a part whose thread panicked.
pub fn on_threads<P: Sync, R: Send>(parts: &[P], work: impl Fn(&P) -> R + Sync) -> Vec<Option<R>> {
    if let [one] = parts {
        // One part needs no thread of its own; a panic still reads as `None`.
        let work = std::panic::AssertUnwindSafe(|| work(one));
        return vec![std::panic::catch_unwind(work).ok()];
    }
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = parts
            .iter()
            .map(|part| scope.spawn(move || work(part)))
            .collect();
        handles.into_iter().map(|h| h.join().ok()).collect()
    })
}

fn thread_panicked() -> Error {
    Error::Internal("a deciding thread panicked".to_owned())
}
