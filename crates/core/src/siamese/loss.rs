//! Training losses on the pair distance `d` ∈ (0, 1), with `y = 1` for a different-class pair.

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
}

impl Loss {
    /// Parses `contrastive` or `bce`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "contrastive" => Ok(Loss::Contrastive),
            "bce" => Ok(Loss::Bce),
            other => Err(format!(
                "unknown loss {other:?}: expected contrastive or bce"
            )),
        }
    }

    /// The mean loss over a batch. `different` holds 1.0 for different-class pairs, 0.0 else.
    pub fn compute(self, d: &Tensor, different: &Tensor) -> Result<Tensor, TchError> {
        match self {
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

#[cfg(test)]
mod tests {
    use super::*;

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
