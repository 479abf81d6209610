//! Two versions over the same records: which decisions change, how the qualified
//! volume moves, how each changed group converted in history, and a sample of
//! changed records with both answers.
//!
//! A decision's category is a qualification's outcome or a forecast's tenth of
//! probability ([`super::evaluate::Summary`]); the matrix counts records by
//! category before and after.

use std::collections::BTreeMap;

use serde::Serialize;

use super::evaluate::summarize;
use super::tabular::Table;
use crm_rules::decision::Answer;
use crm_rules::error::Result;
use crm_rules::registry::Decided;
use crm_rules::render::{Rendered, Renderer};

/// One cell of the matrix: the records that went from one category to another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Move {
    /// Before.
    pub from: String,
    /// After.
    pub to: String,
    /// Records.
    pub records: usize,
    /// Of them, records with an outcome.
    pub labelled: usize,
    /// Their historical conversion, when any has an outcome.
    pub conversion: Option<f64>,
}

/// A changed record with both answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Changed {
    /// Its row in the file.
    pub row: usize,
    /// Its id.
    pub id: String,
    /// How it turned out, when known.
    pub outcome: Option<bool>,
    /// The current version's answer.
    pub before: Rendered,
    /// The other version's answer.
    pub after: Rendered,
}

/// The comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatIf {
    /// Records decided by both versions.
    pub records: usize,
    /// Records either version failed to decide.
    pub failed: usize,
    /// Records whose category changed.
    pub changed: usize,
    /// Records whose score or probability changed, category or not.
    pub score_changed: usize,
    /// Before -> after -> records (unchanged records on the diagonal).
    pub matrix: BTreeMap<String, BTreeMap<String, usize>>,
    /// Every cell, with conversion: unchanged cells too, for comparison.
    pub moves: Vec<Move>,
    /// Qualified records before and after (qualification only).
    pub qualified: Option<Volume>,
    /// The first changed records, in file order.
    pub sample: Vec<Changed>,
}

/// How many records were qualified, and how they converted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Volume {
    /// Qualified by the current version.
    pub before: usize,
    /// Qualified by the other version.
    pub after: usize,
    /// Historical conversion of the records qualified before.
    pub conversion_before: Option<f64>,
    /// Historical conversion of the records qualified after.
    pub conversion_after: Option<f64>,
}

fn rate(positives: usize, labelled: usize) -> Option<f64> {
    (labelled > 0).then(|| positives as f64 / labelled as f64)
}

/// Compares two runs over `table` (one answer per record in each), keeping up to
/// `sample` changed records.
pub fn compare(
    table: &Table,
    before: &[Result<Decided<Answer>>],
    after: &[Result<Decided<Answer>>],
    sample: usize,
) -> WhatIf {
    let mut cells: BTreeMap<(String, String), (usize, usize, usize)> = BTreeMap::new();
    let mut out = WhatIf {
        records: 0,
        failed: 0,
        changed: 0,
        score_changed: 0,
        matrix: BTreeMap::new(),
        moves: Vec::new(),
        qualified: None,
        sample: Vec::new(),
    };
    let mut volume = [(0usize, 0usize, 0usize); 2];
    for (record, (b, a)) in table.records.iter().zip(before.iter().zip(after)) {
        let (Ok(b), Ok(a)) = (b, a) else {
            out.failed += 1;
            continue;
        };
        out.records += 1;
        let (sb, sa) = (summarize(b, &record.input), summarize(a, &record.input));
        let y = record.outcome.label();
        for (v, s) in volume.iter_mut().zip([&sb, &sa]) {
            if s.category == "qualified" {
                v.0 += 1;
                if let Some(y) = y {
                    v.1 += 1;
                    v.2 += usize::from(y);
                }
            }
        }
        if sb.score != sa.score {
            out.score_changed += 1;
        }
        let cell = cells
            .entry((sb.category.clone(), sa.category.clone()))
            .or_default();
        cell.0 += 1;
        if let Some(y) = y {
            cell.1 += 1;
            cell.2 += usize::from(y);
        }
        if sb.category != sa.category {
            out.changed += 1;
            if out.sample.len() < sample {
                let input = record.input.as_ref();
                out.sample.push(Changed {
                    row: record.row,
                    id: record.id().to_owned(),
                    outcome: y,
                    before: Renderer::new(&b.facts, input).answer(&b.value),
                    after: Renderer::new(&a.facts, input).answer(&a.value),
                });
            }
        }
    }
    for ((from, to), (records, labelled, positives)) in cells {
        *out.matrix
            .entry(from.clone())
            .or_default()
            .entry(to.clone())
            .or_default() += records;
        out.moves.push(Move {
            from,
            to,
            records,
            labelled,
            conversion: rate(positives, labelled),
        });
    }
    if table.kind == crm_rules::decision::Kind::Qualify {
        out.qualified = Some(Volume {
            before: volume[0].0,
            after: volume[1].0,
            conversion_before: rate(volume[0].2, volume[0].1),
            conversion_after: rate(volume[1].2, volume[1].1),
        });
    }
    out
}
