//! `lookalike-core`: images in, tensors out.
//!
//! Everything between a file on disk and a feature vector lives here:
//!
//! - [`image`]: decoding (JPEG, PNG, WebP, BMP, GIF, TIFF) with EXIF orientation and a pixel
//!   limit, the reference preprocessing (torchvision `Resize(256)` + `CenterCrop(224)`), and
//!   recursive listing of image folders (the engine decodes them in parallel with rayon).
//! - [`backbone`]: the [`Backbone`] trait and its pretrained CNNs on libtorch (tch):
//!   EfficientNet-Lite0 (the default), ResNet-18/34/50 with torchvision weight names, and a tiny
//!   CNN for fast tests. Each returns its last feature map and the pooled vector, which the
//!   Siamese head and the explainers build on.
//! - [`device`]: `cpu` / `cuda` selection with a clear error when CUDA is absent.
//! - [`siamese`]: the Siamese model of Livieris et al. (embedding head, pair head, losses,
//!   checkpoints) and zero-shot cosine similarity, behind [`SimilarityModel`].
//! - [`dataset`]: labelled folders, the seeded stratified split and the paper's pairs.
//! - [`metrics`]: pair metrics (accuracy, ROC AUC, precision, recall, F1) and retrieval metrics
//!   (precision@k, mAP), in plain Rust.
//! - [`weights`]: where pretrained weights live and the error that names the set-up command.
//!
//! Higher layers (`lookalike-engine`, `lookalike-explain`) depend on this crate; it depends on
//! none of them.

pub mod backbone;
pub mod dataset;
pub mod device;
mod error;
pub mod image;
pub mod metrics;
pub mod siamese;
pub mod weights;

pub use backbone::{Backbone, BackboneKind, Features};
pub use device::parse_device;
pub use error::{Error, Result};
pub use image::{DecodeLimits, ImageError, Preprocess};
pub use siamese::SimilarityModel;
pub use tch;
