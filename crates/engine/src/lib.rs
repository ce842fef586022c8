//! `lookalike-engine`: the jobs a user runs, shared by the CLI and the server.
//!
//! - [`embed`]: turn a folder of images into feature vectors with a [`Backbone`], decoding in
//!   parallel and running the network in batches, skipping (and counting) files that cannot be
//!   used.
//!
//! Collections (a model + a vector store + metadata) and search land here next. The engine ties
//! `lookalike-core` (pixels → tensors) to `lookalike-index` (vectors at rest); the server and the
//! CLI stay thin over it.
//!
//! [`Backbone`]: lookalike_core::Backbone

pub mod embed;

pub use embed::{embed_paths, EmbedOptions, Embedded, Progress, Skipped};
