//! What can go wrong in a store, with the place it went wrong.

use std::path::PathBuf;

/// A store error. Every message names the store, file or URL involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A vector of the wrong length.
    #[error("dimension mismatch: this store holds {expected}-dimensional vectors, got {got}")]
    Dimension {
        /// The store's dimension.
        expected: usize,
        /// The vector's length.
        got: usize,
    },
    /// A vector with NaN or infinite values.
    #[error("vector has a non-finite value at position {index}")]
    NotFinite {
        /// Where.
        index: usize,
    },
    /// No store at this place.
    #[error("no vector store at {path}")]
    Missing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The store exists but was made with other settings.
    #[error("{0}")]
    Mismatch(String),
    /// Bad parameters (e.g. an HNSW setting out of range).
    #[error("{0}")]
    Invalid(String),
    /// A write would break a unique key (an external id held by another image), or a table
    /// already breaks one (duplicates found when adding the constraint).
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
    /// sled failed.
    #[error("embedded store at {path}: {message}")]
    Sled {
        /// The store's folder.
        path: PathBuf,
        /// sled's message.
        message: String,
    },
    /// A stored record does not decode.
    #[error("corrupt record {key} in {path}: {message}")]
    Corrupt {
        /// The store's folder.
        path: PathBuf,
        /// Which record.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// PostgreSQL could not be reached in time.
    #[error("cannot reach PostgreSQL at {url}: {message}")]
    Unreachable {
        /// The URL, without its password.
        url: String,
        /// Why.
        message: String,
    },
    /// PostgreSQL refused a statement.
    #[error("PostgreSQL at {url}: {message}")]
    Postgres {
        /// The URL, without its password.
        url: String,
        /// The server's message.
        message: String,
    },
    /// A shard of a sharded table did not answer or refused a statement.
    #[error("shard {shard} ({url}) of the pgvector table: {message}")]
    Shard {
        /// Its position in the list of shards, from 0.
        shard: usize,
        /// Its URL, without its password.
        url: String,
        /// Why.
        message: String,
    },
}

/// Checks a vector's length and values before it enters a store.
pub fn check_vector(dimension: usize, v: &[f32]) -> Result<(), StoreError> {
    if v.len() != dimension {
        return Err(StoreError::Dimension {
            expected: dimension,
            got: v.len(),
        });
    }
    if let Some(index) = v.iter().position(|x| !x.is_finite()) {
        return Err(StoreError::NotFinite { index });
    }
    Ok(())
}
