//! `lookalike-index`: vectors at rest.
//!
//! Today this crate holds the embedding files that `lookalike embed` writes and that benchmarks
//! read: [`VectorFile`] in NumPy `.npy` (via the `npyz` crate) or the `.fvecs` format of the
//! ANN-benchmark datasets, each with a list of source paths beside it. The vector stores
//! (exact, embedded HNSW + sled, PostgreSQL + pgvector) join it next.
//!
//! Embeddings cross into this crate as plain `&[f32]`: it never links libtorch, so a remote
//! store or a benchmark tool stays small.

mod vectors;

pub use vectors::{paths_file_for, read_vectors, write_vectors, VectorFile, Vectors, VectorsError};
