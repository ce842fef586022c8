//! `lookalike-engine`: the jobs a user runs, shared by the CLI and the server.
//!
//! - [`embed`]: a folder of images into feature vectors with a backbone, decoding in parallel
//!   and running the network in batches, skipping (and counting) files that cannot be used.
//! - [`train`]: a Siamese head on a labelled folder over a frozen backbone, with early stopping
//!   on validation ROC AUC, written as a checkpoint folder.
//! - [`evaluate`]: pair and retrieval metrics of any model on any labelled folder.
//! - [`familiarity`]: the transfer gate: are a catalogue's images like the ones a trained head
//!   learnt from, or should the zero-shot backbone rank them?
//!
//! - [`collection`]: a model + a vector store + metadata and thumbnails under one name:
//!   incremental adds (by content hash or as uploaded bytes), deletes, metadata updates,
//!   rebuilds, search that re-ranks the store's candidates with the model's exact head, and
//!   explanations of hits. Its model is a pool of replicas, so one collection serves many
//!   threads.
//! - [`feed`]: product feeds (Merchant Center columns in CSV, TSV or JSON Lines) and fetching
//!   their images safely; `Collection::import_feed` imports them idempotently.
//! - [`explainers`]: the registry of every explainer (Grad-CAM and the plugins).
//! - [`oneshot`]: N-way one-shot classification over held-out classes (Koch et al.'s Omniglot
//!   benchmark).
//! - [`faithfulness`]: deletion and insertion AUC of every explainer against a random map.
//! - [`report`]: an HTML report of a model on a labelled folder (metrics, ROC curve, similarity
//!   histogram, explained example pairs, faithfulness), written whole or not at all.
//!
//! The engine ties
//! `lookalike-core` (pixels → tensors, the model) to `lookalike-index` (vectors at rest); the
//! server and the CLI stay thin over it.

pub mod collection;
pub mod embed;
pub mod evaluate;
pub mod explainers;
pub mod faithfulness;
pub mod familiarity;
pub mod feed;
pub mod oneshot;
pub mod report;
pub mod train;

pub use embed::{embed_paths, EmbedOptions, Embedded, Progress, Skipped};
