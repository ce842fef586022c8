//! A readable similarity: Platt scaling of the head's logit into a calibrated probability of
//! "same", and the expected calibration error that says how well it holds.
//!
//! The head's similarity logit `ℓ` (`−(w·|e1 − e2| + b)` for a trained head, the cosine for
//! zero-shot) ranks pairs but its sigmoid saturates: far from the training distribution every
//! pair reads 0.000. Platt scaling (Platt 1999) fits `P(same | ℓ) = σ(a·ℓ + c)` on held-out
//! labelled pairs by maximum likelihood, with Platt's smoothed targets `(n₊ + 1)/(n₊ + 2)` and
//! `1/(n₋ + 2)` so that perfectly separated pairs do not drive `a` to infinity. The map is
//! monotone, so it never changes a ranking; it changes what the number means.

use serde::{Deserialize, Serialize};

/// How the logit was calibrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CalibrationMethod {
    /// `σ(a·ℓ + c)`, fitted by maximum likelihood.
    Platt,
}

/// `P(same | ℓ) = σ(scale·ℓ + offset)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Always [`CalibrationMethod::Platt`] for now.
    pub method: CalibrationMethod,
    /// `a`.
    pub scale: f64,
    /// `c`.
    pub offset: f64,
    /// Labelled pairs it was fitted on.
    pub pairs: usize,
    /// Expected calibration error (10 bins) on those pairs, after calibration.
    pub ece: f64,
}

/// Why a calibration cannot be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibrationError {
    /// Fewer than two pairs of each kind.
    #[error("calibration needs at least 2 same and 2 different pairs, got {same} same and {different} different")]
    TooFewPairs {
        /// Same-class pairs seen.
        same: usize,
        /// Different-class pairs seen.
        different: usize,
    },
    /// A logit was NaN or infinite.
    #[error("calibration got a non-finite logit")]
    NotFinite,
}

impl Calibration {
    /// Fits `σ(a·ℓ + c)` to `(logit, same)` pairs by Newton's method on the smoothed
    /// log-likelihood (two parameters: a few iterations converge).
    pub fn fit(logits: &[f64], same: &[bool]) -> Result<Calibration, CalibrationError> {
        let positives = same.iter().filter(|&&s| s).count();
        let negatives = same.len() - positives;
        if positives < 2 || negatives < 2 || logits.len() != same.len() {
            return Err(CalibrationError::TooFewPairs {
                same: positives,
                different: negatives,
            });
        }
        if logits.iter().any(|l| !l.is_finite()) {
            return Err(CalibrationError::NotFinite);
        }
        let hi = (positives as f64 + 1.0) / (positives as f64 + 2.0);
        let lo = 1.0 / (negatives as f64 + 2.0);
        let targets: Vec<f64> = same.iter().map(|&s| if s { hi } else { lo }).collect();
        // Standardise the logits so Newton starts well conditioned whatever their scale.
        let n = logits.len() as f64;
        let mean = logits.iter().sum::<f64>() / n;
        let std = (logits.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / n)
            .sqrt()
            .max(1e-12);
        let x: Vec<f64> = logits.iter().map(|l| (l - mean) / std).collect();
        let (mut a, mut c) = (
            1.0f64,
            ((positives as f64 + 1.0) / (negatives as f64 + 1.0)).ln(),
        );
        let mut loss = nll(&x, &targets, a, c);
        for _ in 0..100 {
            let (mut ga, mut gc, mut haa, mut hac, mut hcc) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for (xi, ti) in x.iter().zip(&targets) {
                let p = sigmoid(a * xi + c);
                let r = p - ti;
                let v = (p * (1.0 - p)).max(1e-12);
                ga += r * xi;
                gc += r;
                haa += v * xi * xi;
                hac += v * xi;
                hcc += v;
            }
            // A tiny ridge keeps the 2×2 system solvable on separable data.
            let (haa, hcc) = (haa + 1e-9, hcc + 1e-9);
            let det = haa * hcc - hac * hac;
            if det.abs() < 1e-300 {
                break;
            }
            let da = (hcc * ga - hac * gc) / det;
            let dc = (haa * gc - hac * ga) / det;
            // Backtracking: Newton may overshoot far from the optimum.
            let mut step = 1.0;
            let mut improved = false;
            while step > 1e-8 {
                let (na, nc) = (a - step * da, c - step * dc);
                let l = nll(&x, &targets, na, nc);
                if l <= loss {
                    improved = (loss - l) > 1e-12;
                    a = na;
                    c = nc;
                    loss = l;
                    break;
                }
                step /= 2.0;
            }
            if !improved || (da.abs() + dc.abs()) < 1e-10 {
                break;
            }
        }
        // Undo the standardisation: a·(ℓ − mean)/std + c.
        let scale = a / std;
        let offset = c - a * mean / std;
        let mut calibration = Calibration {
            method: CalibrationMethod::Platt,
            scale,
            offset,
            pairs: logits.len(),
            ece: 0.0,
        };
        let p: Vec<f64> = logits.iter().map(|&l| calibration.probability(l)).collect();
        calibration.ece = expected_calibration_error(&p, same, 10);
        Ok(calibration)
    }

    /// `P(same | ℓ)`.
    pub fn probability(&self, logit: f64) -> f64 {
        sigmoid(self.scale * logit + self.offset)
    }
}

fn nll(x: &[f64], t: &[f64], a: f64, c: f64) -> f64 {
    x.iter()
        .zip(t)
        .map(|(xi, ti)| {
            let z = a * xi + c;
            // log(1 + e^z) − t·z, stable for large |z|.
            softplus(z) - ti * z
        })
        .sum()
}

fn softplus(z: f64) -> f64 {
    if z > 30.0 {
        z
    } else if z < -30.0 {
        z.exp()
    } else {
        z.exp().ln_1p()
    }
}

/// `1 / (1 + e^−x)`.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReliabilityBin {
    /// The bin's lower edge.
    pub lo: f64,
    /// The bin's upper edge.
    pub hi: f64,
    /// Pairs whose predicted probability fell in it.
    pub count: usize,
    /// Their mean predicted probability of "same".
    pub predicted: f64,
    /// The fraction of them that were the same class.
    pub observed: f64,
}

/// The reliability diagram of `probability` (of "same") against the truth `same`, in `bins`
/// equal-width bins over [0, 1]. Empty bins are kept with a count of 0.
pub fn reliability(probability: &[f64], same: &[bool], bins: usize) -> Vec<ReliabilityBin> {
    let bins = bins.max(1);
    let mut sums = vec![(0usize, 0.0f64, 0usize); bins];
    for (&p, &s) in probability.iter().zip(same) {
        let i = ((p.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1);
        sums[i].0 += 1;
        sums[i].1 += p;
        sums[i].2 += usize::from(s);
    }
    sums.iter()
        .enumerate()
        .map(|(i, &(count, p, pos))| ReliabilityBin {
            lo: i as f64 / bins as f64,
            hi: (i + 1) as f64 / bins as f64,
            count,
            predicted: if count > 0 { p / count as f64 } else { 0.0 },
            observed: if count > 0 {
                pos as f64 / count as f64
            } else {
                0.0
            },
        })
        .collect()
}

/// Expected calibration error: the count-weighted mean gap between predicted and observed
/// frequency over `bins` equal-width bins (Naeini et al. 2015; Guo et al. 2017).
pub fn expected_calibration_error(probability: &[f64], same: &[bool], bins: usize) -> f64 {
    let n = probability.len().min(same.len());
    if n == 0 {
        return 0.0;
    }
    reliability(probability, same, bins)
        .iter()
        .map(|b| b.count as f64 * (b.predicted - b.observed).abs())
        .sum::<f64>()
        / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn platt_recovers_a_known_logistic_law() {
        // Labels drawn from P(same | ℓ) = σ(0.5·ℓ − 1): the fit must find a ≈ 0.5, c ≈ −1.
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let (mut logits, mut same) = (Vec::new(), Vec::new());
        for _ in 0..20_000 {
            let l: f64 = rng.random_range(-12.0..12.0);
            logits.push(l);
            same.push(rng.random::<f64>() < sigmoid(0.5 * l - 1.0));
        }
        let c = Calibration::fit(&logits, &same).unwrap();
        assert!((c.scale - 0.5).abs() < 0.03, "{c:?}");
        assert!((c.offset + 1.0).abs() < 0.08, "{c:?}");
        assert!(c.ece < 0.02, "{c:?}");
    }

    #[test]
    fn separable_pairs_stay_finite_and_monotone() {
        let logits = [-300.0, -250.0, -200.0, 5.0, 8.0, 9.0];
        let same = [false, false, false, true, true, true];
        let c = Calibration::fit(&logits, &same).unwrap();
        assert!(
            c.scale.is_finite() && c.scale > 0.0 && c.offset.is_finite(),
            "{c:?}"
        );
        assert!(c.probability(9.0) > 0.5 && c.probability(-300.0) < 0.5);
        assert!(c.probability(-250.0) >= c.probability(-300.0));
    }

    #[test]
    fn one_kind_of_pair_is_refused_with_counts() {
        let e = Calibration::fit(&[1.0, 2.0, 3.0], &[true, true, true]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "calibration needs at least 2 same and 2 different pairs, got 3 same and 0 different"
        );
        assert_eq!(
            Calibration::fit(&[1.0, f64::NAN, 2.0, 3.0], &[true, false, true, false]).unwrap_err(),
            CalibrationError::NotFinite
        );
    }

    #[test]
    fn ece_of_a_perfect_and_a_wrong_predictor() {
        assert_eq!(
            expected_calibration_error(&[1.0, 0.0], &[true, false], 10),
            0.0
        );
        let e = expected_calibration_error(&[0.9, 0.9], &[false, false], 10);
        assert!((e - 0.9).abs() < 1e-12);
        let bins = reliability(&[0.05, 0.95, 1.0], &[false, true, false], 10);
        assert_eq!(bins.len(), 10);
        assert_eq!(bins[9].count, 2);
        assert!((bins[9].observed - 0.5).abs() < 1e-12);
    }
}
