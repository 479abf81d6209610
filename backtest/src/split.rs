//! Train and validation parts of labelled history.
//!
//! With dates, the split is by time: records ordered by when their outcome became
//! known (then by id), the oldest share trained on, the newest validated on, as a
//! forecast is used. Without dates, a seeded hash split: records ordered by the
//! SHA-256 of `"<seed>:<id>"` (compared as bytes), the first share trained on. It
//! needs no random generator, so any language reproduces it from the ids alone.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

/// How records were split.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum SplitKind {
    /// By the date the outcome became known.
    Time {
        /// The last day of the training part.
        train_until: Option<NaiveDate>,
        /// The first day of the validation part.
        validation_from: Option<NaiveDate>,
    },
    /// By a seeded hash of the ids.
    Hash {
        /// The seed.
        seed: u64,
    },
}

/// Which records are trained on.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Split {
    /// How.
    #[serde(flatten)]
    pub kind: SplitKind,
    /// Records trained on.
    pub train: usize,
    /// Records validated on.
    pub validation: usize,
    /// Per record given: whether it is trained on.
    #[serde(skip)]
    pub is_train: Vec<bool>,
}

fn train_count(n: usize, share: f64) -> usize {
    ((n as f64 * share).round_ties_even() as usize).min(n)
}

/// The seeded hash split of records with these ids.
pub fn by_hash(ids: &[&str], seed: u64, share: f64) -> Split {
    let keys: Vec<[u8; 32]> = ids
        .iter()
        .map(|id| Sha256::digest(format!("{seed}:{id}").as_bytes()).into())
        .collect();
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
    let train = train_count(ids.len(), share);
    let mut is_train = vec![false; ids.len()];
    for &i in &order[..train] {
        is_train[i] = true;
    }
    Split {
        kind: SplitKind::Hash { seed },
        train,
        validation: ids.len() - train,
        is_train,
    }
}

/// The time split of records closed on these dates, with these ids.
pub fn by_time(dates: &[NaiveDate], ids: &[&str], share: f64) -> Split {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by(|&a, &b| dates[a].cmp(&dates[b]).then_with(|| ids[a].cmp(ids[b])));
    let train = train_count(ids.len(), share);
    let mut is_train = vec![false; ids.len()];
    for &i in &order[..train] {
        is_train[i] = true;
    }
    Split {
        kind: SplitKind::Time {
            train_until: train.checked_sub(1).map(|k| dates[order[k]]),
            validation_from: order.get(train).map(|&i| dates[i]),
        },
        train,
        validation: ids.len() - train,
        is_train,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_split_orders_by_the_digest_of_seed_and_id() {
        // SHA-256("42:a") starts 0x6f..., ("42:b") 0x3a..., ("42:c") 0xd4...
        let split = by_hash(&["a", "b", "c"], 42, 0.7);
        let digest = |s: &str| Sha256::digest(s.as_bytes())[0];
        let mut firsts = [
            ("a", digest("42:a")),
            ("b", digest("42:b")),
            ("c", digest("42:c")),
        ];
        firsts.sort_by_key(|(_, d)| *d);
        // round(0.7 * 3) = 2: the two lowest digests train.
        assert_eq!(split.train, 2);
        let last = ["a", "b", "c"]
            .iter()
            .position(|id| *id == firsts[2].0)
            .unwrap();
        assert!(!split.is_train[last]);
        assert_eq!(split.is_train.iter().filter(|t| **t).count(), 2);
    }

    #[test]
    fn the_time_split_trains_on_the_older_records() {
        let d = |day| NaiveDate::from_ymd_opt(2017, 3, day).unwrap();
        let dates = [d(5), d(1), d(9), d(3), d(7)];
        let split = by_time(&dates, &["e", "a", "i", "c", "g"], 0.6);
        assert_eq!(split.is_train, [true, true, false, true, false]);
        assert_eq!(
            split.kind,
            SplitKind::Time {
                train_until: Some(d(5)),
                validation_from: Some(d(7))
            }
        );
    }
}
