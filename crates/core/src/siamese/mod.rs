//! The Siamese similarity model of Livieris et al. (2023), and its zero-shot fallback.
//!
//! - [`SiameseHead`]: the embedding head (GAP → Linear(C→256) → ReLU, the GAP being the
//!   backbone's pooled vector) and the pair head `d = sigmoid(w·|e1 − e2| + b)`, similarity
//!   `s = 1 − d`, "same" when `d < threshold`.
//!   - [`HeadKind::Metric`] (the default) keeps `w = softplus(v) ≥ 0`, so that `D = Σ w|e1 − e2|`
//!     is the L1 distance between `w ⊙ e1` and `w ⊙ e2` and an L1 index ranks exactly as the
//!     head does.
//!   - [`HeadKind::Paper`] leaves `w` free, as in the paper.
//! - [`Loss`]: the paper's contrastive loss `(1−y)·d² + y·max(0, m − d)²` (m = 2, y = 1 for
//!   different), or binary cross-entropy on `d`.
//! - [`Calibration`]: Platt scaling of the head's logit into a calibrated `P(same)`, stored in
//!   the checkpoint (format version 2).
//! - [`familiarity`]: the surprise of an image's pooled vector against the training images',
//!   and the gate that sends a catalogue the head does not know to zero-shot ranking.
//! - [`SimilarityModel`]: a backbone plus either a trained head or zero-shot cosine similarity,
//!   loaded from a checkpoint folder ([`checkpoint`]).

pub mod calibration;
pub mod checkpoint;
pub mod familiarity;
mod head;
mod loss;
mod model;

pub use calibration::{Calibration, CalibrationError, CalibrationMethod};
pub use checkpoint::{ModelConfig, TrainingRecord, CHECKPOINT_FORMAT_VERSION};
pub use familiarity::{Familiarity, FamiliarityProfile, Verdict};
pub use head::{HeadKind, SiameseHead, EMBEDDING_DIM};
pub use loss::{prototypical, Loss};
pub use model::{Comparison, Scorer, SimilarityModel};
