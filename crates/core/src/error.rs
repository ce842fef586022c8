//! The error type of `lookalike-core`.

use std::path::PathBuf;

use crate::image::ImageError;

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong between a file and a feature vector.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An image could not be read or decoded.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// A weights file is not where it should be.
    #[error(
        "no weights for {backbone} at {}: run `make setup` to fetch and convert them, \
         or pass --weights FILE",
        path.display()
    )]
    WeightsMissing {
        /// The backbone that needs them.
        backbone: String,
        /// Where they were looked for.
        path: PathBuf,
    },
    /// A weights file exists but does not fit the network.
    #[error("cannot load {backbone} weights from {}: {source}", path.display())]
    WeightsInvalid {
        /// The backbone being loaded.
        backbone: String,
        /// The file.
        path: PathBuf,
        /// What libtorch said.
        source: tch::TchError,
    },
    /// `--device cuda` on a machine without a usable CUDA device.
    #[error(
        "CUDA was requested but libtorch sees no CUDA device on this machine; use --device cpu"
    )]
    CudaUnavailable,
    /// A device name that is neither `cpu` nor `cuda[:N]`.
    #[error("unknown device {0:?}: expected cpu, cuda or cuda:N")]
    UnknownDevice(String),
    /// A backbone name that is not known.
    #[error("unknown backbone {name:?}: expected one of {}", crate::BackboneKind::NAMES.join(", "))]
    UnknownBackbone {
        /// The name given.
        name: String,
    },
    /// Fine-tuning asked of a backbone loaded for inference.
    #[error("a backbone loaded for inference (batch norms folded) cannot be fine-tuned")]
    NotTrainable,
    /// A batch tensor of the wrong shape.
    #[error("expected a batch of RGB pixels shaped [N, 3, H, W], got {0:?}")]
    BadInput(Vec<i64>),
    /// Pixels smaller than the network can pool down.
    #[error("{backbone} needs images of at least {min}×{min} pixels, got {}×{}", got.0, got.1)]
    InputTooSmall {
        /// The network.
        backbone: String,
        /// Its smallest side.
        min: i64,
        /// The height and width given.
        got: (i64, i64),
    },
    /// A model folder that cannot be used.
    #[error("{}: {message}", path.display())]
    Checkpoint {
        /// The model folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A model folder written by another version of the checkpoint format.
    #[error(
        "{}: checkpoint format version {found}, but this build of Lookalike reads versions 1 to {expected}; retrain the model with this version",
        path.display()
    )]
    CheckpointVersion {
        /// The model folder.
        path: PathBuf,
        /// The version in its model.json.
        found: u64,
        /// The newest version this build reads.
        expected: u32,
    },
    /// A labelled folder that cannot be trained or evaluated on.
    #[error("{}: {message}", path.display())]
    Dataset {
        /// The folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Training diverged.
    #[error("training diverged at epoch {epoch}: the loss is {loss}; no checkpoint was written (try a lower --lr)")]
    Diverged {
        /// The epoch.
        epoch: usize,
        /// The loss value.
        loss: f64,
    },
    /// An operation inside libtorch failed.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}
