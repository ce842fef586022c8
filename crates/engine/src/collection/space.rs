//! How a model's embeddings become index vectors, and the exact distance between two of them.
//!
//! | model | stored vector | store metric | exact logit `ℓ` |
//! |---|---|---|---|
//! | zero-shot | unit pooled vector | cosine | `cos` |
//! | Siamese, metric head (`w ≥ 0`) | `w ⊙ e` | L1 | `−(‖q − x‖₁ + b)` |
//! | Siamese, paper head (free `w`) | `e` | L1 | `−(w·|q − x| + b)` |
//!
//! With a metric head the index ranks exactly as the head does; with the paper's head the L1
//! ranking only proposes candidates, and [`Space::logit`] re-ranks them. The similarity shown
//! to users is the model's [`lookalike_core::siamese::Scorer`] of that logit.

use lookalike_core::siamese::HeadKind;
use lookalike_core::SimilarityModel;
use lookalike_index::Metric;

/// A model's search space.
#[derive(Debug, Clone)]
pub enum Space {
    /// Cosine over unit pooled vectors.
    ZeroShot,
    /// `w ⊙ e` under L1, then `sigmoid(· + b)`.
    MetricHead {
        /// `w`.
        weights: Vec<f32>,
        /// `b`.
        bias: f64,
    },
    /// `e` under L1 for candidates, the free-`w` head for the answer.
    PaperHead {
        /// `w`.
        weights: Vec<f32>,
        /// `b`.
        bias: f64,
    },
}

impl Space {
    /// The space of `model`.
    pub fn of(model: &SimilarityModel) -> lookalike_core::Result<Space> {
        Ok(match model.pair_head()? {
            None => Space::ZeroShot,
            Some((weights, bias, HeadKind::Metric)) => Space::MetricHead { weights, bias },
            Some((weights, bias, HeadKind::Paper)) => Space::PaperHead { weights, bias },
        })
    }

    /// The store's metric.
    pub fn metric(&self) -> Metric {
        match self {
            Space::ZeroShot => Metric::Cosine,
            Space::MetricHead { .. } | Space::PaperHead { .. } => Metric::L1,
        }
    }

    /// The index vector of an embedding (a row of [`SimilarityModel::embed`]).
    pub fn vector(&self, embedding: &[f32]) -> Vec<f32> {
        match self {
            Space::MetricHead { weights, .. } => {
                embedding.iter().zip(weights).map(|(e, w)| e * w).collect()
            }
            Space::ZeroShot | Space::PaperHead { .. } => embedding.to_vec(),
        }
    }

    /// The model's similarity logit `ℓ` between two index vectors (higher is more alike): the
    /// cosine for zero-shot, `−(w·|e1 − e2| + b)` for a head. Exact, in `f64`, never saturated:
    /// search ranks by it.
    pub fn logit(&self, q: &[f32], x: &[f32]) -> f64 {
        match self {
            Space::ZeroShot => q.iter().zip(x).map(|(a, b)| (a * b) as f64).sum(),
            Space::MetricHead { bias, .. } => {
                let l1: f64 = q.iter().zip(x).map(|(a, b)| (a - b).abs() as f64).sum();
                -(l1 + bias)
            }
            Space::PaperHead { weights, bias } => {
                let s: f64 = q
                    .iter()
                    .zip(x)
                    .zip(weights)
                    .map(|((a, b), w)| (*w as f64) * (a - b).abs() as f64)
                    .sum();
                -(s + bias)
            }
        }
    }

    /// How many candidates to ask the store for, to return `want` after re-ranking.
    pub fn candidates(&self, want: usize) -> usize {
        match self {
            // The store's order is the model's: a small margin covers HNSW's approximation.
            Space::ZeroShot | Space::MetricHead { .. } => want + want.div_ceil(2).max(8),
            Space::PaperHead { .. } => want * 4 + 16,
        }
    }
}
