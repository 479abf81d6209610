//! Deciding a table's records, each at its own decision time.
//!
//! The host decides a batch under one context, so records are grouped by their
//! `as_of` (records without one take the run's `now`), split between threads in
//! that order, and decided in batches of [`BATCH_RECORDS`] that never mix two
//! decision times. The pipeline and the registry are used as they are: this is the
//! backtest's own loop over [`Host::decide_batch`], because its records are typed
//! already and need no reading.

use chrono::{DateTime, Utc};
use crm_rules::model as m;

use super::tabular::Labelled;
use crm_rules::decision::{Answer, InputRef};
use crm_rules::error::{Error, Result};
use crm_rules::pipeline::{on_threads, split_evenly, BATCH_RECORDS};
use crm_rules::registry::{Decided, Host};

/// Who decides and when: the org, the decision time of records without their
/// own, and how many threads.
#[derive(Debug, Clone)]
pub struct Run<'a> {
    /// The org whose active version decides.
    pub org: &'a str,
    /// The decision time of records that have none of their own.
    pub now: DateTime<Utc>,
    /// Deciding threads.
    pub threads: usize,
}

/// Decides every record; answers come back in the records' order. `progress` is
/// told how many records each finished batch held.
pub fn decide_all(
    host: &Host,
    run: &Run<'_>,
    records: &[Labelled],
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<Result<Decided<Answer>>> {
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_by_key(|&i| records[i].as_of.unwrap_or(run.now));
    let parts: Vec<&[usize]> = split_evenly(&order, run.threads).collect();
    // A panicking thread leaves its records undecided, reported below.
    let parts = on_threads(&parts, |part| {
        decide_part(host, run, records, part, progress)
    });
    let mut answers: Vec<Option<Result<Decided<Answer>>>> = Vec::new();
    answers.resize_with(records.len(), || None);
    for (i, answer) in parts.into_iter().flatten().flatten() {
        answers[i] = Some(answer);
    }
    answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(Error::Internal("a record was not decided".to_owned()))))
        .collect()
}

fn decide_part(
    host: &Host,
    run: &Run<'_>,
    records: &[Labelled],
    part: &[usize],
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<(usize, Result<Decided<Answer>>)> {
    let mut out = Vec::with_capacity(part.len());
    let now_of = |i: usize| records[i].as_of.unwrap_or(run.now);
    let mut start = 0;
    while start < part.len() {
        let now = now_of(part[start]);
        let mut end = start + 1;
        while end < part.len() && end - start < BATCH_RECORDS && now_of(part[end]) == now {
            end += 1;
        }
        let batch = &part[start..end];
        let ctx = m::Context {
            org_id: run.org.to_owned(),
            now,
            user: None,
            team: None,
        };
        let inputs: Vec<InputRef<'_>> = batch.iter().map(|&i| records[i].input.as_ref()).collect();
        match host.decide_batch(&ctx, &inputs) {
            Ok(answers) => out.extend(batch.iter().copied().zip(answers)),
            Err(e) => {
                let message = e.to_string();
                out.extend(
                    batch
                        .iter()
                        .map(|&i| (i, Err(Error::Internal(message.clone())))),
                );
            }
        }
        progress(batch.len());
        start = end;
    }
    out
}
