//! The trainable part of the Siamese network: embedding head and pair head.

use tch::nn::{self, Init, Module};
use tch::{TchError, Tensor};

/// Length of the embedding `e` (the paper's choice).
pub const EMBEDDING_DIM: i64 = 256;

/// How the pair head's weights are constrained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeadKind {
    /// `w = softplus(v) ≥ 0`: the distance is a weighted L1 metric, so an L1 index over
    /// `w ⊙ e` ranks exactly as the head.
    #[default]
    Metric,
    /// Unconstrained `w`, as in the paper.
    Paper,
}

impl HeadKind {
    /// Parses `metric` or `paper`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "metric" => Ok(HeadKind::Metric),
            "paper" => Ok(HeadKind::Paper),
            other => Err(format!("unknown head {other:?}: expected metric or paper")),
        }
    }
}

/// Embedding head plus pair head, with their variables under `embed` and `pair`.
#[derive(Debug)]
pub struct SiameseHead {
    input_mean: Tensor,
    input_std: Tensor,
    embed: nn::Linear,
    pair_weight: Tensor,
    pair_bias: Tensor,
    kind: HeadKind,
}

impl SiameseHead {
    /// Declares the head's variables under `p`, for pooled vectors of `channels`.
    pub fn new(p: &nn::Path, channels: i64, kind: HeadKind) -> Self {
        let input = p / "input";
        let input_mean = input.zeros_no_train("mean", &[channels]);
        let input_std = input.ones_no_train("std", &[channels]);
        let embed = nn::linear(p / "embed", channels, EMBEDDING_DIM, Default::default());
        let pair = p / "pair";
        let pair_weight = match kind {
            // softplus(-3) ≈ 0.05: a small, positive start.
            HeadKind::Metric => pair.var("v", &[EMBEDDING_DIM], Init::Const(-3.0)),
            HeadKind::Paper => {
                let bound = 1.0 / (EMBEDDING_DIM as f64).sqrt();
                pair.var(
                    "w",
                    &[EMBEDDING_DIM],
                    Init::Uniform {
                        lo: -bound,
                        up: bound,
                    },
                )
            }
        };
        let pair_bias = pair.var("b", &[1], Init::Const(0.0));
        SiameseHead {
            input_mean,
            input_std,
            embed,
            pair_weight,
            pair_bias,
            kind,
        }
    }

    /// Standardises the pooled vectors per channel before the embedding layer, with statistics
    /// of the training images (kept in the checkpoint as `input.mean` and `input.std`).
    /// Pretrained features have very different scales per channel; this makes the head's
    /// optimisation well conditioned.
    pub fn set_input_statistics(&mut self, pooled: &Tensor) -> Result<(), TchError> {
        let _guard = tch::no_grad_guard();
        let mean = pooled.f_mean_dim(0, false, None)?;
        let std = pooled.f_std_dim(0, false, false)?.f_clamp_min(1e-3)?;
        self.input_mean.f_copy_(&mean)?;
        self.input_std.f_copy_(&std)
    }

    /// Which constraint the pair weights follow.
    pub fn kind(&self) -> HeadKind {
        self.kind
    }

    /// Sets the pair bias so that the median pair of `a`, `b` (pooled vectors, row-aligned)
    /// starts at `d = 0.5`: the head then starts undecided instead of saturated, where the
    /// sigmoid's gradient vanishes.
    pub fn center_bias(&mut self, a: &Tensor, b: &Tensor) -> Result<(), TchError> {
        let _guard = tch::no_grad_guard();
        let diff = self.embed(a)?.f_sub(&self.embed(b)?)?.f_abs()?;
        let raw = diff.f_matmul(&self.pair_weights()?)?;
        let median = raw.f_median()?;
        self.pair_bias.f_copy_(&median.f_neg()?.f_view([1])?)
    }

    /// The surprise of each pooled vector, `[N, C]` → `[N]`: the mean square of its
    /// standardised channels, about 1 on the training images (see [`super::familiarity`]).
    pub fn surprise(&self, pooled: &Tensor) -> Result<Tensor, TchError> {
        pooled
            .f_sub(&self.input_mean)?
            .f_div(&self.input_std)?
            .f_square()?
            .f_mean_dim(1, false, None)
    }

    /// `e = ReLU(Linear(pooled))`, `[N, C]` → `[N, 256]`.
    pub fn embed(&self, pooled: &Tensor) -> Result<Tensor, TchError> {
        self.embed_train(pooled, 0.0)
    }

    /// [`SiameseHead::embed`] with dropout of probability `dropout` on the standardised
    /// input, for training.
    pub fn embed_train(&self, pooled: &Tensor, dropout: f64) -> Result<Tensor, TchError> {
        let mut x = pooled.f_sub(&self.input_mean)?.f_div(&self.input_std)?;
        if dropout > 0.0 {
            x = x.f_dropout(dropout, true)?;
        }
        self.embed.forward(&x).f_relu()
    }

    /// The pair weights `w` (after the softplus for a metric head).
    pub fn pair_weights(&self) -> Result<Tensor, TchError> {
        match self.kind {
            HeadKind::Metric => self.pair_weight.f_softplus(),
            HeadKind::Paper => Ok(self.pair_weight.shallow_clone()),
        }
    }

    /// The pair bias `b`.
    pub fn pair_bias(&self) -> f64 {
        self.pair_bias.double_value(&[0])
    }

    /// The distance logit `z = w·|e1 − e2| + b` for row-aligned embeddings, `[N, 256]` × 2 →
    /// `[N]` (`d = sigmoid(z)`).
    pub fn logit(&self, e1: &Tensor, e2: &Tensor) -> Result<Tensor, TchError> {
        let diff = e1.f_sub(e2)?.f_abs()?;
        diff.f_matmul(&self.pair_weights()?)?.f_add(&self.pair_bias)
    }

    /// `d = sigmoid(w·|e1 − e2| + b)` for row-aligned embeddings, `[N, 256]` × 2 → `[N]`.
    pub fn distance(&self, e1: &Tensor, e2: &Tensor) -> Result<Tensor, TchError> {
        self.logit(e1, e2)?.f_sigmoid()
    }

    /// `z` for every row of `a` against every row of `b`: `[N, 256]`, `[M, 256]` → `[N, M]`.
    pub fn logit_matrix(&self, a: &Tensor, b: &Tensor) -> Result<Tensor, TchError> {
        let w = self.pair_weights()?;
        let mut rows = Vec::new();
        // Chunks keep the [chunk, M, 256] intermediate small.
        let n = a.size()[0];
        let chunk = (1 << 22) / (b.size()[0].max(1) * EMBEDDING_DIM).max(1);
        let chunk = chunk.clamp(1, n.max(1));
        for start in (0..n).step_by(chunk as usize) {
            let len = chunk.min(n - start);
            let part = a.f_narrow(0, start, len)?.f_unsqueeze(1)?;
            let diff = part.f_sub(&b.f_unsqueeze(0)?)?.f_abs()?;
            rows.push(diff.f_matmul(&w)?.f_add(&self.pair_bias)?);
        }
        Tensor::f_cat(&rows, 0)
    }

    /// `d` for every row of `a` against every row of `b`: `[N, 256]`, `[M, 256]` → `[N, M]`.
    pub fn distance_matrix(&self, a: &Tensor, b: &Tensor) -> Result<Tensor, TchError> {
        self.logit_matrix(a, b)?.f_sigmoid()
    }
}
