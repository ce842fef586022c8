//! Training losses on the pair distance `d` ∈ (0, 1), with `y = 1` for a different-class pair,
//! and the prototypical loss on an episode (Snell et al. 2017): a softmax over the negated
//! distance logits of each query to the N classes' examples, cross-entropy against its own.

use tch::{Reduction, TchError, Tensor};

/// The margin of the paper's contrastive loss.
pub const CONTRASTIVE_MARGIN: f64 = 2.0;

/// Which loss to train with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// `(1−y)·d² + y·max(0, m − d)²` with m = 2 (the paper's).
    #[default]
    Contrastive,
    /// Binary cross-entropy of `d` against `y`.
    Bce,
    /// The episode softmax over negative distances (one-shot training with episodes only).
    Prototypical,
}

impl Loss {
    /// Parses `contrastive` or `bce`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "contrastive" => Ok(Loss::Contrastive),
            "bce" => Ok(Loss::Bce),
            "prototypical" | "proto" => Ok(Loss::Prototypical),
            other => Err(format!(
                "unknown loss {other:?}: expected contrastive, bce or prototypical"
            )),
        }
    }

    /// Whether it scores episodes rather than pairs.
    pub fn needs_episodes(self) -> bool {
        self == Loss::Prototypical
    }

    /// The mean loss over a batch. `different` holds 1.0 for different-class pairs, 0.0 else.
    /// [`Loss::Prototypical`] has no pair form: use [`prototypical`].
    pub fn compute(self, d: &Tensor, different: &Tensor) -> Result<Tensor, TchError> {
        match self {
            Loss::Prototypical => Err(TchError::Kind(
                "the prototypical loss scores episodes, not pairs".into(),
            )),
            Loss::Contrastive => {
                let same = different.f_neg()?.f_add_scalar(1.0)?;
                let pull = same.f_mul(&d.f_square()?)?;
                let push = different.f_mul(
                    &d.f_neg()?
                        .f_add_scalar(CONTRASTIVE_MARGIN)?
                        .f_relu()?
                        .f_square()?,
                )?;
                pull.f_add(&push)?.f_mean(None)
            }
            Loss::Bce => {
                let d = d.f_clamp(1e-7, 1.0 - 1e-7)?;
                d.f_binary_cross_entropy::<&Tensor>(different, None, Reduction::Mean)
            }
        }
    }
}

/// The prototypical loss of an episode: `distance_logits[q, c]` is the head's distance logit
/// `z` from query `q` to class `c`'s example, `target[q]` the query's class. The mean over
/// queries of `−log softmax(−z)[target]`.
pub fn prototypical(distance_logits: &Tensor, target: &Tensor) -> Result<Tensor, TchError> {
    distance_logits
        .f_neg()?
        .f_log_softmax(1, tch::Kind::Float)?
        .f_nll_loss::<&Tensor>(target, None, Reduction::Mean, -100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prototypical_loss_is_the_softmax_over_negated_distances() {
        // Two queries, three classes; query 0 is class 0, query 1 class 2.
        let z = Tensor::from_slice(&[0.5f32, 2.0, 3.0, 1.0, 1.0, 0.0]).view([2, 3]);
        let t = Tensor::from_slice(&[0i64, 2]);
        let got = prototypical(&z, &t).unwrap().double_value(&[]);
        let nll = |row: [f64; 3], k: usize| {
            let sum: f64 = row.iter().map(|z| (-z).exp()).sum();
            row[k] + sum.ln()
        };
        let want = (nll([0.5, 2.0, 3.0], 0) + nll([1.0, 1.0, 0.0], 2)) / 2.0;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }

    #[test]
    fn contrastive_loss_matches_the_formula() {
        let d = Tensor::from_slice(&[0.2f32, 0.7]);
        let y = Tensor::from_slice(&[0.0f32, 1.0]);
        let got = Loss::Contrastive.compute(&d, &y).unwrap().double_value(&[]);
        let want = (0.2f64.powi(2) + (2.0 - 0.7f64).powi(2)) / 2.0;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }

    #[test]
    fn bce_matches_the_formula() {
        let d = Tensor::from_slice(&[0.2f32, 0.7]);
        let y = Tensor::from_slice(&[0.0f32, 1.0]);
        let got = Loss::Bce.compute(&d, &y).unwrap().double_value(&[]);
        let want = -((0.8f64).ln() + (0.7f64).ln()) / 2.0;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
}
