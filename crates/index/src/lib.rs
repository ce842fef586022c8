//! `lookalike-index`: vectors at rest, and the stores that search them.
//!
//! - [`VectorStore`]: the one trait every store implements. Async, batch-based, only our own
//!   types cross it, and a higher score always means more similar.
//! - [`FlatStore`]: exact search in memory, the recall reference.
//! - [`EmbeddedStore`]: an HNSW index of our own (a growing graph that takes inserts, and sealed,
//!   memory-mapped segments) over sled as the source of truth (ids, vectors, metadata,
//!   thumbnails, a write log). The index is derived, with checkpoint sequences: reopening maps
//!   the segments, loads the growing graph's dump and replays newer writes, so a large
//!   collection is never rebuilt on open.
//! - [`PgVectorStore`]: PostgreSQL + pgvector (an HNSW index; filters as SQL), for galleries that
//!   outgrow one machine (shard it with Citus).
//! - [`VectorFile`]: the `.npy` / `.fvecs` files that `lookalike embed` writes and benchmarks read.
//!
//! Vectors cross into this crate as plain `f32`: it never links libtorch, so a remote store or a
//! benchmark tool stays small.

mod embedded;
mod error;
mod filter;
mod flat;
mod metric;
mod pgvector;
mod rank;
mod store;
mod unique;
mod vectors;

pub use embedded::{EmbeddedOptions, EmbeddedStore, IndexStats, OpenTimings};
pub use error::{check_vector, StoreError};
pub use filter::{indexable_pairs, scalar_text, Bound, Condition, Filter};
pub use flat::FlatStore;
pub use metric::Metric;
pub use pgvector::{
    list_collections, publish_collection, redact_url, strip_password, PgOptions, PgVectorStore,
    ReplicaLag,
};
pub use rank::TopK;
pub use store::{
    Durability, Hit, Inserted, Metadata, NewPoint, Point, PointId, Query, RebuildReport,
    SearchAnswers, StoreInfo, VectorStore, CONTENT_KEY, EXTERNAL_KEY,
};
pub use vectors::{paths_file_for, read_vectors, write_vectors, VectorFile, Vectors, VectorsError};
