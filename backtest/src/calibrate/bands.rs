//! Bands of a numeric field, from its training quantiles, merged until the
//! effect is monotone and every band holds enough records ([`cut`]).
//! Quantiles follow numpy's default (linear, "type 7"), so any tool reproduces
//! the cuts.

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

/// Cuts the training values `x` (with outcomes `y`; missing values left out
/// before) into bands: the training quantiles at every `1/quantiles` (rounded
/// to two significant digits) are the first cuts; a point mass at the lowest
/// value holding 2% of the rows or more (0 seconds on a site, never contacted)
/// gets a band of its own, because "did nothing" often behaves unlike "did a
/// little". The other bands are then merged, neighbour by neighbour, until
/// conversion rises (or falls) steadily with the value, the way a count or an
/// amount works (pool-adjacent-violators in the direction of the overall
/// trend), and until each band holds `min_count` rows.
pub fn cut(x: &[f64], y: &[bool], quantiles: usize, min_count: usize) -> Bands {
    let mut rows: Vec<(f64, bool)> = x.iter().copied().zip(y.iter().copied()).collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let xs: Vec<f64> = rows.iter().map(|r| r.0).collect();
    let resolution = if xs.iter().all(|v| v.fract() == 0.0) {
        1.0
    } else {
        0.01
    };
    let none = Bands {
        edges: Vec::new(),
        resolution,
    };
    if xs.is_empty() {
        return none;
    }
    let (first, last) = (xs[0], xs[xs.len() - 1]);
    let at_first = xs.partition_point(|v| *v <= first);
    let point_mass = at_first as f64 >= 0.02 * xs.len() as f64 && at_first < xs.len();
    let mut edges: Vec<f64> = (1..quantiles.max(2))
        .map(|k| nice(quantile(&xs, k as f64 / quantiles.max(2) as f64)))
        .collect();
    if point_mass {
        edges.push(((first + resolution) * 100.0).round_ties_even() / 100.0);
    }
    edges.retain(|c| first < *c && *c <= last);
    edges.sort_by(f64::total_cmp);
    edges.dedup();
    // Each band as (lower edge, positives, rows).
    let mut bins: Vec<(f64, f64, f64)> = Vec::new();
    let mut lower = f64::NEG_INFINITY;
    for upper in edges.iter().copied().chain([f64::INFINITY]) {
        let i = xs.partition_point(|v| *v < lower);
        let j = xs.partition_point(|v| *v < upper);
        let positives = rows[i..j].iter().filter(|r| r.1).count() as f64;
        bins.push((lower, positives, (j - i) as f64));
        lower = upper;
    }
    bins.retain(|b| b.2 > 0.0 || b.0 == f64::NEG_INFINITY);
    // The point mass stays apart from the monotone part.
    let (head, mut rest) = if point_mass && bins.len() > 1 {
        (vec![bins[0]], bins[1..].to_vec())
    } else {
        (Vec::new(), bins)
    };
    let rising = trend(&rows[if head.is_empty() { 0 } else { at_first }..]) >= 0.0;
    rest = pool_adjacent_violators(rest, rising);
    let mut bins: Vec<(f64, f64, f64)> = head.into_iter().chain(rest).collect();
    merge_small(&mut bins, min_count as f64);
    let mut edges: Vec<f64> = bins[1..].iter().map(|b| b.0).collect();
    edges.retain(|e| e.is_finite());
    Bands { edges, resolution }
}

/// The sign of the correlation of value and outcome.
fn trend(rows: &[(f64, bool)]) -> f64 {
    let n = rows.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = rows.iter().map(|r| r.0).sum::<f64>() / n;
    let my = rows.iter().filter(|r| r.1).count() as f64 / n;
    rows.iter()
        .map(|r| (r.0 - mx) * (f64::from(u8::from(r.1)) - my))
        .sum()
}

fn rate(b: &(f64, f64, f64)) -> f64 {
    if b.2 == 0.0 {
        0.0
    } else {
        b.1 / b.2
    }
}

/// Merges neighbouring bands until their conversion never falls (`rising`) or
/// never rises along the value.
fn pool_adjacent_violators(bins: Vec<(f64, f64, f64)>, rising: bool) -> Vec<(f64, f64, f64)> {
    let mut out: Vec<(f64, f64, f64)> = Vec::new();
    for b in bins {
        out.push(b);
        while out.len() > 1 {
            let k = out.len();
            let (a, c) = (rate(&out[k - 2]), rate(&out[k - 1]));
            let violates = if rising { c < a } else { c > a };
            if !violates {
                break;
            }
            let top = out.pop().expect("two bands");
            let prev = out.last_mut().expect("two bands");
            prev.1 += top.1;
            prev.2 += top.2;
        }
    }
    out
}

/// Merges each band of fewer than `min` rows into the neighbour whose
/// conversion is closest, smallest first.
fn merge_small(bins: &mut Vec<(f64, f64, f64)>, min: f64) {
    while bins.len() > 1 {
        let Some((k, _)) = bins
            .iter()
            .enumerate()
            .filter(|(_, b)| b.2 < min)
            .min_by(|a, b| a.1 .2.total_cmp(&b.1 .2))
        else {
            return;
        };
        let with = match (k.checked_sub(1), (k + 1 < bins.len()).then_some(k + 1)) {
            (Some(a), Some(c)) => {
                let r = rate(&bins[k]);
                if (rate(&bins[a]) - r).abs() <= (rate(&bins[c]) - r).abs() {
                    a
                } else {
                    c
                }
            }
            (Some(a), None) => a,
            (None, Some(c)) => c,
            (None, None) => return,
        };
        let (lo, hi) = (k.min(with), k.max(with));
        let gone = bins.remove(hi);
        bins[lo].1 += gone.1;
        bins[lo].2 += gone.2;
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
    fn a_point_mass_keeps_its_band_and_the_rest_is_monotone() {
        // 100 rows at 0 (half converted); 1..=200 converting more with the value
        // but for a dip at 101..=120, which merging must smooth away.
        let mut x = vec![0.0; 100];
        let mut y: Vec<bool> = (0..100).map(|i| i % 2 == 0).collect();
        for i in 1..=200 {
            x.push(f64::from(i));
            let p = if (101..=120).contains(&i) { 0 } else { i / 20 };
            y.push(i % 10 < p);
        }
        let bands = cut(&x, &y, 20, 10);
        assert_eq!(bands.band(0.0), 0, "{bands:?}");
        assert_eq!(bands.bounds(0), (None, Some(0.0)));
        assert_eq!(bands.bounds(1).0, Some(1.0));
        let mut rates = Vec::new();
        for k in 1..bands.count() {
            let (n, p) = x
                .iter()
                .zip(&y)
                .filter(|(v, _)| **v > 0.0 && bands.band(**v) == k)
                .fold((0.0, 0.0), |(n, p), (_, y)| {
                    (n + 1.0, p + f64::from(u8::from(*y)))
                });
            assert!(n >= 10.0, "{bands:?}");
            rates.push(p / n);
        }
        assert!(
            rates.windows(2).all(|w| w[0] <= w[1]),
            "{rates:?} {bands:?}"
        );
        assert!(rates.len() >= 3, "{rates:?}");
    }

    #[test]
    fn a_falling_effect_is_kept_falling() {
        let x: Vec<f64> = (0..400).map(f64::from).collect();
        let y: Vec<bool> = (0..400).map(|i| i % 4 >= i / 100).collect();
        let bands = cut(&x, &y, 10, 20);
        assert!(bands.count() >= 3, "{bands:?}");
    }

    #[test]
    fn no_band_is_smaller_than_min_count() {
        let x: Vec<f64> = (0..60).map(f64::from).collect();
        let y: Vec<bool> = (0..60).map(|i| i >= 30).collect();
        let bands = cut(&x, &y, 20, 50);
        assert!(bands.edges.is_empty());
    }
}
