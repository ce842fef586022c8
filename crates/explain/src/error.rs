//! The error type of `lookalike-explain`: every way an explanation can fail, named for the user.

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while explaining a match.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A method name that no registered explainer answers to.
    #[error("unknown explanation method {name:?}: expected one of {}", known.join(", "))]
    UnknownMethod {
        /// What was asked for.
        name: String,
        /// What is registered.
        known: Vec<String>,
    },
    /// A target layer the backbone does not have.
    #[error("layer {layer} is out of range: this backbone has units 1 to {units} (or `last`)")]
    LayerOutOfRange {
        /// What was asked for.
        layer: String,
        /// How many units the backbone runs.
        units: usize,
    },
    /// Pixels of the wrong shape, or a batch mismatch between the two sides.
    #[error("bad input to the explainer: {0}")]
    BadInput(String),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] lookalike_core::Error),
    /// libtorch failed.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    /// Writing an overlay failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: image::ImageError,
    },
}
