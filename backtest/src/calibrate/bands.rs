//! Bands of a numeric field, cut where they separate outcomes best.
//!
//! A one-variable tree on binomial deviance: candidate cuts are the training
//! quantiles at every fiftieth, rounded to two significant digits, plus the value
//! just above any single value holding 2% of the rows (so a point mass such as
//! "0 seconds on the site" gets a band of its own). The band whose best cut
//! lowers the deviance most is split, both sides keeping at least `min_count`
//! rows, until there are `max_bands` bands or no cut helps. Quantiles follow
//! numpy's default (linear, "type 7"), so the same cuts come out as in the
//! prototype the method was worked out in.

/// Bands of one numeric field: its cut points and the resolution of its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Bands {
    /// Ascending cut points: band k holds `edges[k-1] <= x < edges[k]`.
    pub edges: Vec<f64>,
    /// 1 when every value is whole, else 0.01: the step between a band's upper
    /// bound and the next band's lower bound.
    pub resolution: f64,
}

impl Bands {
    /// The band of a value.
    pub fn band(&self, x: f64) -> usize {
        self.edges.partition_point(|e| *e <= x)
    }

    /// How many bands there are.
    pub fn count(&self) -> usize {
        self.edges.len() + 1
    }

    /// The inclusive bounds of band `k`, as a custom rule writes them
    /// (`at_least`, `at_most`); the first band has no lower bound, the last no
    /// upper one.
    pub fn bounds(&self, k: usize) -> (Option<f64>, Option<f64>) {
        let lo = k.checked_sub(1).map(|i| self.edges[i]);
        let hi = self.edges.get(k).map(|e| tidy(e - self.resolution));
        (lo, hi)
    }
}

/// A bound without float noise (409.99999 -> 410.0 for a resolution of 0.01).
fn tidy(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `x` rounded to two significant digits (halves to even, as the prototype's
/// Python `round` does).
pub fn nice(x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    let d = x.abs().log10().floor() as i32;
    let q = 10f64.powi(d - 1);
    (x / q).round_ties_even() * q
}

/// numpy's default quantile (linear interpolation) of sorted values.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    // numpy's virtual index `n q + (alpha + q (1 - alpha - beta)) - 1` for
    // alpha = beta = 1, in numpy's order of operations (it rounds differently
    // from `(n - 1) q`).
    let virtual_index = n as f64 * q + (1.0 - q) - 1.0;
    let below = virtual_index.floor().clamp(0.0, (n - 1) as f64);
    let gamma = virtual_index - below;
    let i = below as usize;
    let (a, b) = (sorted[i], sorted[(i + 1).min(n - 1)]);
    let diff = b - a;
    // numpy's lerp: from the nearer end.
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

/// Binomial deviance of a band holding `positives` of `n` rows.
fn deviance(positives: f64, n: f64) -> f64 {
    if n == 0.0 || positives == 0.0 || positives == n {
        return 0.0;
    }
    let p = positives / n;
    -2.0 * (positives * p.ln() + (n - positives) * (1.0 - p).ln())
}

/// Cuts the training values `x` (with outcomes `y`; missing values left out
/// before) into at most `max_bands` bands.
pub fn cut(x: &[f64], y: &[bool], max_bands: usize, min_count: usize) -> Bands {
    let mut rows: Vec<(f64, bool)> = x.iter().copied().zip(y.iter().copied()).collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let xs: Vec<f64> = rows.iter().map(|r| r.0).collect();
    let resolution = if xs.iter().all(|v| v.fract() == 0.0) {
        1.0
    } else {
        0.01
    };
    if xs.is_empty() {
        return Bands {
            edges: Vec::new(),
            resolution,
        };
    }
    let grid = 50;
    let mut candidates: Vec<f64> = (1..grid)
        .map(|k| nice(quantile(&xs, k as f64 / grid as f64)))
        .collect();
    let mut start = 0;
    while start < xs.len() {
        let mut end = start + 1;
        while end < xs.len() && xs[end] == xs[start] {
            end += 1;
        }
        if (end - start) as f64 >= 0.02 * xs.len() as f64 {
            candidates.push(((xs[start] + resolution) * 100.0).round_ties_even() / 100.0);
        }
        start = end;
    }
    let (first, last) = (xs[0], xs[xs.len() - 1]);
    candidates.retain(|c| first < *c && *c <= last);
    candidates.sort_by(f64::total_cmp);
    candidates.dedup();
    // Cumulative positives, so a band's counts are two lookups.
    let mut cumulative = Vec::with_capacity(xs.len() + 1);
    cumulative.push(0.0);
    for (_, positive) in &rows {
        let last = cumulative[cumulative.len() - 1];
        cumulative.push(last + f64::from(u8::from(*positive)));
    }
    let stats = |lo: f64, hi: f64| {
        let i = xs.partition_point(|v| *v < lo);
        let j = xs.partition_point(|v| *v < hi);
        (cumulative[j] - cumulative[i], (j - i) as f64)
    };
    let min = min_count as f64;
    let mut bands = vec![(f64::NEG_INFINITY, f64::INFINITY)];
    while bands.len() < max_bands {
        let mut best: Option<(f64, usize, f64)> = None;
        for (at, &(lo, hi)) in bands.iter().enumerate() {
            let (positives, n) = stats(lo, hi);
            let whole = deviance(positives, n);
            for &c in &candidates {
                if !(lo < c && c < hi) {
                    continue;
                }
                let (a1, a) = stats(lo, c);
                let (b1, b) = stats(c, hi);
                if a < min || b < min {
                    continue;
                }
                let gain = whole - deviance(a1, a) - deviance(b1, b);
                if best.is_none_or(|(g, _, _)| gain > g) {
                    best = Some((gain, at, c));
                }
            }
        }
        match best {
            Some((gain, at, c)) if gain >= 1e-9 => {
                let (lo, hi) = bands.remove(at);
                bands.push((lo, c));
                bands.push((c, hi));
                bands.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
            _ => break,
        }
    }
    Bands {
        edges: bands[1..].iter().map(|b| b.0).collect(),
        resolution,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_keeps_two_significant_digits_halves_to_even() {
        assert_eq!(nice(412.7), 410.0);
        assert_eq!(nice(835.0), 840.0);
        assert_eq!(nice(825.0), 820.0);
        assert_eq!(nice(7.0), 7.0);
        assert_eq!(nice(0.0), 0.0);
        assert!((nice(1.234) - 1.2).abs() < 1e-12);
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&x, 0.5), 2.5);
        assert_eq!(quantile(&x, 0.0), 1.0);
        assert_eq!(quantile(&x, 1.0), 4.0);
        assert!((quantile(&x, 0.1) - 1.3).abs() < 1e-12);
    }

    #[test]
    fn a_point_mass_and_a_jump_get_their_own_bands() {
        // 100 rows at 0 (half converted), 100 rows 1..100 (none), 100 rows 101..200 (all).
        let mut x = vec![0.0; 100];
        let mut y: Vec<bool> = (0..100).map(|i| i % 2 == 0).collect();
        for i in 1..=200 {
            x.push(f64::from(i));
            y.push(i > 100);
        }
        let bands = cut(&x, &y, 5, 50);
        assert!(bands.edges.contains(&1.0), "{bands:?}");
        assert!(
            bands.edges.iter().any(|e| (100.0..=110.0).contains(e)),
            "{bands:?}"
        );
        assert_eq!(bands.resolution, 1.0);
        assert_eq!(bands.band(0.0), 0);
        assert_eq!(bands.band(1.0), 1);
        assert_eq!(bands.bounds(0), (None, Some(0.0)));
        assert_eq!(bands.bounds(1).0, Some(1.0));
    }

    #[test]
    fn no_band_is_smaller_than_min_count() {
        let x: Vec<f64> = (0..60).map(f64::from).collect();
        let y: Vec<bool> = (0..60).map(|i| i >= 30).collect();
        let bands = cut(&x, &y, 5, 50);
        assert!(bands.edges.is_empty());
    }
}
