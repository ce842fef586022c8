//! What can go wrong with a collection.

use std::path::{Path, PathBuf};

/// A collection error; each names the collection, file or model involved.
#[derive(Debug, thiserror::Error)]
pub enum CollectionError {
    /// No collection of that name.
    #[error("unknown collection {name:?}: no collection.json under {dir}/{name} (create it with `lookalike index create`)")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The data folder looked in.
        dir: PathBuf,
    },
    /// A collection of that name exists already.
    #[error("collection {name:?} already exists in {dir}")]
    Exists {
        /// Its name.
        name: String,
        /// The data folder.
        dir: PathBuf,
    },
    /// The model's files changed since the collection was built.
    #[error("the model {model} is not the one collection was built with (its files changed); rebuild the collection or restore the model")]
    ModelChanged {
        /// The model.
        model: String,
    },
    /// A different model was given than the collection's.
    #[error("collection {name:?} was created by the model {expected}, not {got}")]
    OtherModel {
        /// The collection.
        name: String,
        /// Its model.
        expected: String,
        /// The one given.
        got: String,
    },
    /// Bad parameters or files.
    #[error("{0}")]
    Invalid(String),
    /// The request contradicts what is stored (a caller id already in use).
    #[error("{0}")]
    Conflict(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A stored image's file is gone (deleted from the disk, or from the store).
    #[error("image {id}'s file is no longer there ({why})")]
    FileMissing {
        /// The image.
        id: lookalike_index::PointId,
        /// Its recorded path.
        path: String,
        /// What was found instead.
        why: String,
    },
    /// An image could not be used.
    #[error(transparent)]
    Image(#[from] lookalike_core::ImageError),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] lookalike_core::Error),
    /// An explanation failed (unknown method, layer out of range, ...).
    #[error(transparent)]
    Explain(#[from] lookalike_explain::Error),
    /// The vector store failed.
    #[error(transparent)]
    Store(#[from] lookalike_index::StoreError),
}

impl CollectionError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        CollectionError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<tch::TchError> for CollectionError {
    fn from(e: tch::TchError) -> Self {
        CollectionError::Model(e.into())
    }
}
