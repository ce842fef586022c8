//! The statistics of a faithfulness table: bootstrap confidence intervals of means and of
//! ratios to the baseline, over pairs.

use rand::{Rng, SeedableRng};

/// Bootstrap resamples.
pub const RESAMPLES: usize = 1000;

/// The mean of `x`.
pub fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        0.0
    } else {
        x.iter().sum::<f64>() / x.len() as f64
    }
}

/// A 95% percentile-bootstrap interval of `f` over resamples of the pair indices `0..n`,
/// seeded.
pub fn bootstrap(n: usize, seed: u64, f: impl Fn(&[usize]) -> f64) -> [f64; 2] {
    if n == 0 {
        return [0.0, 0.0];
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut values: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            let sample: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
            f(&sample)
        })
        .filter(|v| v.is_finite())
        .collect();
    if values.is_empty() {
        return [f64::NAN, f64::NAN];
    }
    values.sort_by(f64::total_cmp);
    let at =
        |q: f64| values[((q * (values.len() - 1) as f64).round() as usize).min(values.len() - 1)];
    [at(0.025), at(0.975)]
}

/// The mean of `x` over the resampled indices.
pub fn mean_of(x: &[f64], sample: &[usize]) -> f64 {
    sample.iter().map(|&i| x[i]).sum::<f64>() / sample.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_holds_the_mean_and_narrows_with_more_pairs() {
        let small: Vec<f64> = (0..20).map(|i| (i % 5) as f64).collect();
        let large: Vec<f64> = (0..2000).map(|i| (i % 5) as f64).collect();
        let a = bootstrap(small.len(), 1, |s| mean_of(&small, s));
        let b = bootstrap(large.len(), 1, |s| mean_of(&large, s));
        assert!(a[0] <= 2.0 && 2.0 <= a[1], "{a:?}");
        assert!(b[0] <= 2.0 && 2.0 <= b[1], "{b:?}");
        assert!(b[1] - b[0] < a[1] - a[0]);
    }
}
