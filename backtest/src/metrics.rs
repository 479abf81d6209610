//! The figures a backtest reports, as small functions over scores and outcomes.
//!
//! Written here rather than taken from `linfa`'s metrics because those work in
//! `f32` (an AUC near a goal of 0.90 needs more digits than that) and do not give
//! the tie handling below. Each is checked against figures worked out by hand in
//! the tests at the end.
//!
//! Ties: the ROC AUC counts a tied positive/negative pair as half a win (the
//! Mann-Whitney U with midranks); deciles share records of one score between the
//! deciles they straddle, pro rata, so a decile's conversion is what any ordering
//! of the tied records would give on average, not an accident of file order.

use serde::Serialize;

/// The area under the ROC curve of `scores` against `labels` (true = positive):
/// the chance that a random positive scores above a random negative, ties
/// counting half. `None` without both a positive and a negative.
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let positives = labels.iter().filter(|y| **y).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the midranks of the positives.
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        // Ranks start + 1 ..= end, their mean:
        let midrank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = order[start..end].iter().filter(|&&i| labels[i]).count();
        rank_sum += midrank * tied_positives as f64;
        start = end;
    }
    let p = positives as f64;
    let u = rank_sum - p * (p + 1.0) / 2.0;
    Some(u / (p * negatives as f64))
}

/// The mean squared difference between forecast probabilities and outcomes.
pub fn brier(probabilities: &[f64], labels: &[bool]) -> Option<f64> {
    mean(probabilities.iter().zip(labels).map(|(p, y)| {
        let o = if *y { 1.0 } else { 0.0 };
        (p - o) * (p - o)
    }))
}

/// Probabilities are kept this far from 0 and 1 in the log loss, so one certain
/// forecast that went wrong does not make the whole figure infinite.
pub const LOG_LOSS_EPSILON: f64 = 1e-15;

/// The mean negative log-likelihood of the outcomes under the forecasts.
pub fn log_loss(probabilities: &[f64], labels: &[bool]) -> Option<f64> {
    mean(probabilities.iter().zip(labels).map(|(p, y)| {
        let p = p.clamp(LOG_LOSS_EPSILON, 1.0 - LOG_LOSS_EPSILON);
        if *y {
            -p.ln()
        } else {
            -(1.0 - p).ln()
        }
    }))
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// Counts of a yes/no prediction against outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Confusion {
    /// Predicted yes, turned out positive.
    pub true_positives: usize,
    /// Predicted yes, turned out negative.
    pub false_positives: usize,
    /// Predicted no, turned out negative.
    pub true_negatives: usize,
    /// Predicted no, turned out positive.
    pub false_negatives: usize,
}

impl Confusion {
    /// Counts `predicted` against `labels`.
    pub fn of(predicted: &[bool], labels: &[bool]) -> Confusion {
        let mut c = Confusion::default();
        for (p, y) in predicted.iter().zip(labels) {
            match (p, y) {
                (true, true) => c.true_positives += 1,
                (true, false) => c.false_positives += 1,
                (false, false) => c.true_negatives += 1,
                (false, true) => c.false_negatives += 1,
            }
        }
        c
    }

    /// Of the records predicted yes, the share that turned out positive (0 when
    /// none was predicted yes).
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// Of the positive records, the share predicted yes.
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    /// The harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        ratio(
            2 * self.true_positives,
            2 * self.true_positives + self.false_positives + self.false_negatives,
        )
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// One tenth of the records by score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decile {
    /// 1 = the lowest scores.
    pub decile: usize,
    /// Records (fractional where tied records are shared with a neighbour).
    pub records: f64,
    /// Positive records among them.
    pub positives: f64,
    /// Lowest and highest score in it.
    pub score_min: f64,
    /// Highest score in it.
    pub score_max: f64,
    /// Share of positives.
    pub conversion: f64,
    /// Conversion over the whole set's.
    pub lift: f64,
}

/// The records in ten groups of equal size by ascending score, records of one
/// score shared pro rata between the groups they straddle.
pub fn deciles(scores: &[f64], labels: &[bool]) -> Vec<Decile> {
    let n = scores.len();
    if n == 0 {
        return Vec::new();
    }
    let base = labels.iter().filter(|y| **y).count() as f64 / n as f64;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Blocks of equal score: (score, start, end, positives).
    let mut blocks = Vec::new();
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let positives = order[start..end].iter().filter(|&&i| labels[i]).count();
        blocks.push((
            scores[order[start]],
            start as f64,
            end as f64,
            positives as f64,
        ));
        start = end;
    }
    (0..10)
        .map(|d| {
            let (lo, hi) = (n as f64 * d as f64 / 10.0, n as f64 * (d + 1) as f64 / 10.0);
            let mut decile = Decile {
                decile: d + 1,
                records: 0.0,
                positives: 0.0,
                score_min: f64::INFINITY,
                score_max: f64::NEG_INFINITY,
                conversion: 0.0,
                lift: 0.0,
            };
            for &(score, start, end, positives) in &blocks {
                let overlap = end.min(hi) - start.max(lo);
                if overlap <= 1e-12 {
                    continue;
                }
                decile.records += overlap;
                decile.positives += overlap * positives / (end - start);
                decile.score_min = decile.score_min.min(score);
                decile.score_max = decile.score_max.max(score);
            }
            if decile.records > 0.0 {
                decile.conversion = decile.positives / decile.records;
                decile.lift = if base > 0.0 {
                    decile.conversion / base
                } else {
                    0.0
                };
            }
            decile
        })
        .collect()
}

/// Whether conversion never falls from one decile to the next.
pub fn monotone(deciles: &[Decile]) -> bool {
    deciles
        .windows(2)
        .all(|w| w[1].conversion + 1e-12 >= w[0].conversion)
}

/// One bin of a reliability table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReliabilityBin {
    /// Lower bound of the forecasts in it (inclusive).
    pub from: f64,
    /// Upper bound (exclusive; the last bin includes 1).
    pub to: f64,
    /// Records in it.
    pub records: usize,
    /// Mean forecast.
    pub predicted: f64,
    /// Share of positives.
    pub observed: f64,
}

/// Forecasts in `bins` equal bins of 0..1, with their mean forecast and observed
/// rate; empty bins are left out.
pub fn reliability(probabilities: &[f64], labels: &[bool], bins: usize) -> Vec<ReliabilityBin> {
    let bins = bins.max(1);
    let mut sums = vec![(0usize, 0.0, 0usize); bins];
    for (p, y) in probabilities.iter().zip(labels) {
        let at = ((p.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1);
        sums[at].0 += 1;
        sums[at].1 += p;
        sums[at].2 += usize::from(*y);
    }
    sums.into_iter()
        .enumerate()
        .filter(|(_, (n, _, _))| *n > 0)
        .map(|(i, (n, sum, positives))| ReliabilityBin {
            from: i as f64 / bins as f64,
            to: (i + 1) as f64 / bins as f64,
            records: n,
            predicted: sum / n as f64,
            observed: positives as f64 / n as f64,
        })
        .collect()
}

/// The ROC curve: (false positive rate, true positive rate) at every distinct
/// score taken as the line, from the highest score down, starting at (0, 0).
pub fn roc_curve(scores: &[f64], labels: &[bool]) -> Vec<(f64, f64)> {
    let positives = labels.iter().filter(|y| **y).count().max(1) as f64;
    let negatives = labels.iter().filter(|y| !**y).count().max(1) as f64;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut curve = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0.0, 0.0);
    for (k, &i) in order.iter().enumerate() {
        if labels[i] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last_of_score = order
            .get(k + 1)
            .is_none_or(|&next| scores[next] != scores[i]);
        if last_of_score {
            curve.push((fp / negatives, tp / positives));
        }
    }
    curve
}

/// The cumulative gains curve: (share of records taken, highest scores first;
/// share of all positives among them), at every distinct score.
pub fn gains_curve(scores: &[f64], labels: &[bool]) -> Vec<(f64, f64)> {
    let n = scores.len().max(1) as f64;
    let positives = labels.iter().filter(|y| **y).count().max(1) as f64;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut curve = vec![(0.0, 0.0)];
    let mut tp = 0.0;
    for (k, &i) in order.iter().enumerate() {
        tp += f64::from(u8::from(labels[i]));
        let last_of_score = order
            .get(k + 1)
            .is_none_or(|&next| scores[next] != scores[i]);
        if last_of_score {
            curve.push(((k + 1) as f64 / n, tp / positives));
        }
    }
    curve
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn auc_of_a_small_set_worked_by_hand() {
        // Positives scored 0.9, 0.6, 0.4; negatives 0.7, 0.3. Pairs won:
        // 0.9 beats both (2), 0.6 beats 0.3 (1), 0.4 beats 0.3 (1): 4 of 6.
        let scores = [0.9, 0.7, 0.6, 0.4, 0.3];
        let labels = [true, false, true, true, false];
        assert!(close(auc(&scores, &labels).unwrap(), 4.0 / 6.0));
    }

    #[test]
    fn auc_counts_ties_as_half() {
        // One positive and one negative tied, one negative below: (0.5 + 1) / 2.
        let scores = [5.0, 5.0, 1.0];
        let labels = [true, false, false];
        assert!(close(auc(&scores, &labels).unwrap(), 0.75));
        // A constant score is no better than chance.
        assert!(close(
            auc(&[3.0; 4], &[true, false, true, false]).unwrap(),
            0.5
        ));
    }

    #[test]
    fn auc_needs_both_outcomes() {
        assert_eq!(auc(&[1.0, 2.0], &[true, true]), None);
    }

    #[test]
    fn brier_and_log_loss_worked_by_hand() {
        let p = [0.8, 0.3];
        let y = [true, false];
        // (0.2^2 + 0.3^2) / 2 = (0.04 + 0.09) / 2
        assert!(close(brier(&p, &y).unwrap(), 0.065));
        // -(ln 0.8 + ln 0.7) / 2
        assert!(close(
            log_loss(&p, &y).unwrap(),
            -(0.8f64.ln() + 0.7f64.ln()) / 2.0
        ));
        // A constant p against a rate r: r(1-r) + (p-r)^2.
        let y = [true, true, true, false];
        assert!(close(
            brier(&[0.5; 4], &y).unwrap(),
            0.75 * 0.25 + 0.25 * 0.25
        ));
    }

    #[test]
    fn precision_recall_and_f1_worked_by_hand() {
        let predicted = [true, true, true, false, false];
        let labels = [true, true, false, true, false];
        let c = Confusion::of(&predicted, &labels);
        assert_eq!((c.true_positives, c.false_positives), (2, 1));
        assert_eq!((c.true_negatives, c.false_negatives), (1, 1));
        assert!(close(c.precision(), 2.0 / 3.0));
        assert!(close(c.recall(), 2.0 / 3.0));
        assert!(close(c.f1(), 2.0 / 3.0));
    }

    #[test]
    fn deciles_share_tied_records_pro_rata() {
        // 20 records: scores 0..9 twice; positives are the 10 with score >= 5.
        let scores: Vec<f64> = (0..20).map(|i| f64::from(i % 10)).collect();
        let labels: Vec<bool> = scores.iter().map(|s| *s >= 5.0).collect();
        let d = deciles(&scores, &labels);
        assert_eq!(d.len(), 10);
        assert!(d.iter().all(|d| close(d.records, 2.0)));
        assert!(close(d[4].conversion, 0.0) && close(d[5].conversion, 1.0));
        assert!(close(d[9].lift, 2.0));
        assert!(monotone(&d));
        // One score for all: every decile has the overall rate.
        let d = deciles(
            &[1.0; 10],
            &[
                true, false, false, false, false, true, false, false, false, false,
            ],
        );
        assert!(d.iter().all(|d| close(d.conversion, 0.2)));
        assert!(monotone(&d));
    }

    #[test]
    fn a_drop_between_deciles_is_not_monotone() {
        let scores: Vec<f64> = (0..10).map(f64::from).collect();
        let mut labels = vec![false; 10];
        labels[3] = true;
        assert!(!monotone(&deciles(&scores, &labels)));
    }

    #[test]
    fn reliability_bins_worked_by_hand() {
        let p = [0.05, 0.15, 0.12, 0.95, 1.0];
        let y = [false, true, false, true, true];
        let bins = reliability(&p, &y, 10);
        assert_eq!(bins.len(), 3);
        assert_eq!(bins[1].records, 2);
        assert!(close(bins[1].predicted, 0.135));
        assert!(close(bins[1].observed, 0.5));
        assert_eq!(bins[2].records, 2);
        assert!(close(bins[2].from, 0.9));
    }

    #[test]
    fn roc_and_gains_curves_end_at_one() {
        let scores = [0.9, 0.7, 0.6, 0.4, 0.3];
        let labels = [true, false, true, true, false];
        let roc = roc_curve(&scores, &labels);
        assert_eq!(roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(roc.last(), Some(&(1.0, 1.0)));
        // The trapezoids under the curve are the AUC.
        let area: f64 = roc
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
            .sum();
        assert!(close(area, auc(&scores, &labels).unwrap()));
        let gains = gains_curve(&scores, &labels);
        assert_eq!(gains.last(), Some(&(1.0, 1.0)));
        assert!(close(gains[1].1, 1.0 / 3.0));
    }
}
