//! "Are these images like the ones the model learnt from?": the gate that sends a catalogue the
//! trained head does not know back to the zero-shot backbone.
//!
//! A head trained on one catalogue ranks a different kind of image worse than the plain
//! backbone does (a Flowers head on Skin cancer: precision@10 0.739 against zero-shot's 0.781,
//! docs/training.md). What gives such images away is their pooled vector: standardised with the
//! training images' per-channel mean and deviation (the head's first step), its mean square,
//! the **surprise** `mean_c ((p_c − μ_c) / σ_c)²`, is about 1 on the training images by
//! construction and far larger on another domain (Flowers validation images: median 0.9;
//! Skin cancer: 2.8).
//!
//! Training records the surprise's quantiles on the validation images (images of the trained
//! classes that the head never fitted), a [`FamiliarityProfile`]. An image is *unfamiliar*
//! when its surprise is above the validation images' 95th percentile, which by definition
//! about 5 % of in-domain images are. A catalogue is unfamiliar when at least
//! [`UNFAMILIAR_SHARE`] of at least [`MIN_IMAGES`] images are ([`FamiliarityProfile::judge`]):
//! five times the in-domain rate, which 20 in-domain images reach by chance with a probability
//! under 2 %.

use serde::{Deserialize, Serialize};

/// The share of unfamiliar images above which a catalogue is called unfamiliar.
pub const UNFAMILIAR_SHARE: f64 = 0.25;
/// Fewer images than this say nothing about a catalogue.
pub const MIN_IMAGES: usize = 20;

/// The surprise of a model's own held-out images, recorded at training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FamiliarityProfile {
    /// How many validation images the quantiles come from.
    pub images: usize,
    /// Their median surprise.
    pub median: f64,
    /// Their 95th percentile: an image above it is unfamiliar.
    pub p95: f64,
    /// Their 99th percentile.
    pub p99: f64,
}

/// What the gate says about a set of images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Like the training images: the head ranks.
    Familiar,
    /// Unlike them: zero-shot ranking is expected to be better.
    Unfamiliar,
    /// Fewer than [`MIN_IMAGES`] images.
    TooFew,
}

/// The gate's reading of a set of images against a profile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Familiarity {
    /// Images measured.
    pub images: usize,
    /// Those above the profile's 95th percentile.
    pub unfamiliar: usize,
    /// `unfamiliar / images` (0 for none).
    pub share: f64,
    /// The images' median surprise.
    pub median: f64,
    /// The surprise above which an image is unfamiliar (the profile's 95th percentile).
    pub threshold: f64,
    /// The verdict.
    pub verdict: Verdict,
}

impl Familiarity {
    /// Whether the gate sends this catalogue to zero-shot ranking.
    pub fn falls_back(&self) -> bool {
        self.verdict == Verdict::Unfamiliar
    }

    /// One sentence for the user.
    pub fn explain(&self) -> String {
        let share = 100.0 * self.share;
        match self.verdict {
            Verdict::Familiar => format!(
                "these images are like the model's training images ({share:.0} % of {} above \
                 the surprise of its 95th-percentile validation image, {:.2})",
                self.images, self.threshold
            ),
            Verdict::Unfamiliar => format!(
                "these images are unlike the model's training images: {share:.0} % of {} are \
                 more surprising than 95 % of its own validation images (surprise above {:.2}{}); \
                 the zero-shot backbone is expected to rank them better than the trained head",
                self.images,
                self.threshold,
                if self.median.is_finite() {
                    format!(", median {:.2}", self.median)
                } else {
                    String::new()
                }
            ),
            Verdict::TooFew => format!(
                "{} images are too few to tell whether they are like the model's training \
                 images (at least {MIN_IMAGES})",
                self.images
            ),
        }
    }
}

impl FamiliarityProfile {
    /// The profile of the validation images' surprises; `None` for fewer than
    /// [`MIN_IMAGES`] finite values.
    pub fn fit(surprises: &[f64]) -> Option<Self> {
        let sorted = sorted_finite(surprises);
        if sorted.len() < MIN_IMAGES {
            return None;
        }
        Some(FamiliarityProfile {
            images: sorted.len(),
            median: quantile(&sorted, 0.5),
            p95: quantile(&sorted, 0.95),
            p99: quantile(&sorted, 0.99),
        })
    }

    /// Whether one surprise is above the 95th percentile (a non-finite one always is).
    pub fn is_unfamiliar(&self, surprise: f64) -> bool {
        !surprise.is_finite() || surprise > self.p95
    }

    /// Judges a set of images by their surprises.
    pub fn judge(&self, surprises: &[f64]) -> Familiarity {
        let unfamiliar = surprises.iter().filter(|&&s| self.is_unfamiliar(s)).count();
        self.judge_counts(surprises.len(), unfamiliar, {
            let sorted = sorted_finite(surprises);
            (!sorted.is_empty()).then(|| quantile(&sorted, 0.5))
        })
    }

    /// Judges a set of images known only by counts (a collection keeps counts, not every
    /// surprise) and, if known, their median surprise.
    pub fn judge_counts(
        &self,
        images: usize,
        unfamiliar: usize,
        median: Option<f64>,
    ) -> Familiarity {
        let share = if images == 0 {
            0.0
        } else {
            unfamiliar as f64 / images as f64
        };
        let verdict = if images < MIN_IMAGES {
            Verdict::TooFew
        } else if share >= UNFAMILIAR_SHARE {
            Verdict::Unfamiliar
        } else {
            Verdict::Familiar
        };
        Familiarity {
            images,
            unfamiliar,
            share,
            median: median.unwrap_or(f64::NAN),
            threshold: self.p95,
            verdict,
        }
    }
}

fn sorted_finite(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The `q` quantile of sorted values, interpolated linearly (NumPy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> FamiliarityProfile {
        // 0.0, 0.1, …, 9.9: p95 = 9.405 by linear interpolation.
        let v: Vec<f64> = (0..100).map(|i| i as f64 / 10.0).collect();
        FamiliarityProfile::fit(&v).unwrap()
    }

    #[test]
    fn quantiles_match_numpy() {
        let p = profile();
        assert_eq!(p.images, 100);
        assert!((p.median - 4.95).abs() < 1e-12);
        assert!((p.p95 - 9.405).abs() < 1e-12);
        assert!((p.p99 - 9.801).abs() < 1e-12);
    }

    #[test]
    fn too_few_validation_images_give_no_profile() {
        assert!(FamiliarityProfile::fit(&[1.0; MIN_IMAGES - 1]).is_none());
        let mut v = vec![1.0; MIN_IMAGES];
        v[0] = f64::NAN;
        assert!(FamiliarityProfile::fit(&v).is_none(), "NaN is not counted");
    }

    #[test]
    fn the_verdict_follows_the_share_above_the_95th_percentile() {
        let p = profile();
        // 4 of 20 above p95: 20 % < 25 %.
        let mut v = vec![1.0; 16];
        v.extend([10.0; 4]);
        let j = p.judge(&v);
        assert_eq!((j.images, j.unfamiliar), (20, 4));
        assert_eq!(j.verdict, Verdict::Familiar);
        assert!(!j.falls_back());
        // 5 of 20: 25 %.
        v[0] = 10.0;
        let j = p.judge(&v);
        assert_eq!(j.verdict, Verdict::Unfamiliar);
        assert!(j.falls_back());
        assert!(j.explain().contains("25 % of 20"), "{}", j.explain());
        // Too few, whatever they are.
        assert_eq!(p.judge(&[50.0; 19]).verdict, Verdict::TooFew);
        // A NaN surprise (a broken vector) counts as unfamiliar.
        let mut v = vec![1.0; 19];
        v.push(f64::NAN);
        assert_eq!(p.judge(&v).unfamiliar, 1);
    }

    #[test]
    fn counts_judge_like_values() {
        let p = profile();
        let v: Vec<f64> = (0..40)
            .map(|i| if i % 2 == 0 { 20.0 } else { 1.0 })
            .collect();
        let a = p.judge(&v);
        let b = p.judge_counts(40, 20, Some(a.median));
        assert_eq!(a, b);
    }
}
