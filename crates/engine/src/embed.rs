//! Embedding many images: decode in parallel, forward in batches, keep going past bad files.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::RgbImage;
use lookalike_core::image::{decode_file, to_pixels};
use lookalike_core::{Backbone, DecodeLimits, ImageError, Preprocess};
use rayon::prelude::*;

/// How to embed.
#[derive(Debug, Clone, Copy)]
pub struct EmbedOptions {
    /// Images per forward pass.
    pub batch_size: usize,
    /// Resize and crop.
    pub preprocess: Preprocess,
    /// Decoding limits.
    pub limits: DecodeLimits,
    /// Test-time augmentation: each image's pooled vector is the mean of its own and its mirror
    /// image's (`--tta`). Never for drawings, where a mirror can be another character.
    pub mirror_views: bool,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        EmbedOptions {
            batch_size: 16,
            preprocess: Preprocess::default(),
            limits: DecodeLimits::default(),
            mirror_views: false,
        }
    }
}

/// A file that was left out, and why.
#[derive(Debug)]
pub struct Skipped {
    /// The error, which names the file.
    pub error: ImageError,
}

/// Progress after each batch.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Files handled so far (embedded or skipped).
    pub done: usize,
    /// Files in all.
    pub total: usize,
    /// Files skipped so far.
    pub skipped: usize,
}

/// The result of an embedding run.
#[derive(Debug)]
pub struct Embedded {
    /// Vector length.
    pub dim: usize,
    /// Row-major vectors, one per entry of `paths`.
    pub vectors: Vec<f32>,
    /// The files that were embedded, in row order.
    pub paths: Vec<PathBuf>,
    /// The files that were left out.
    pub skipped: Vec<Skipped>,
    /// Time spent decoding and running the network (model loading excluded).
    pub elapsed: Duration,
}

impl Embedded {
    /// Embedded images per second.
    pub fn images_per_second(&self) -> f64 {
        self.paths.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Embeds `paths` with `backbone`, in order, calling `progress` after each batch.
///
/// Files that cannot be decoded are skipped and reported in [`Embedded::skipped`]; an error is
/// returned only when the network itself fails.
pub fn embed_paths(
    backbone: &dyn Backbone,
    paths: &[PathBuf],
    options: &EmbedOptions,
    progress: impl FnMut(Progress),
) -> lookalike_core::Result<Embedded> {
    let load = |_: usize, path: &Path| {
        decode_file(path, &options.limits).map(|img| options.preprocess.apply(&img))
    };
    embed_with(backbone, paths, options.batch_size, None, load, progress)
}

/// Like [`embed_paths`], with the caller's `load(index, path)` turning a file into a
/// preprocessed image (for augmented views, say). Loading runs on rayon's pool.
///
/// With `until: Some(k)` each row is the flattened feature map after `k` units of the backbone
/// (what fine-tuning caches) instead of the pooled vector; `dim` is then its length.
pub fn embed_with(
    backbone: &dyn Backbone,
    paths: &[PathBuf],
    batch_size: usize,
    until: Option<usize>,
    load: impl Fn(usize, &Path) -> Result<RgbImage, ImageError> + Sync,
    mut progress: impl FnMut(Progress),
) -> lookalike_core::Result<Embedded> {
    let start = Instant::now();
    let mut dim = backbone.channels() as usize;
    let mut out = Embedded {
        dim,
        vectors: Vec::with_capacity(paths.len() * dim),
        paths: Vec::new(),
        skipped: Vec::new(),
        elapsed: Duration::ZERO,
    };
    let batch_size = batch_size.max(1);
    for (i, chunk) in paths.chunks(batch_size).enumerate() {
        let first = i * batch_size;
        let loaded: Vec<_> = chunk
            .par_iter()
            .enumerate()
            .map(|(j, p)| load(first + j, p))
            .collect();
        let mut images = Vec::with_capacity(chunk.len());
        for (path, result) in chunk.iter().zip(loaded) {
            match result {
                Ok(img) => {
                    images.push(img);
                    out.paths.push(path.clone());
                }
                Err(error) => out.skipped.push(Skipped { error }),
            }
        }
        if !images.is_empty() {
            let rows = match until {
                None => embed_images(backbone, &images)?,
                Some(k) => {
                    let (rows, row_len) = embed_maps(backbone, &images, k)?;
                    dim = row_len;
                    rows
                }
            };
            out.vectors.extend(rows);
        }
        progress(Progress {
            done: first + chunk.len(),
            total: paths.len(),
            skipped: out.skipped.len(),
        });
    }
    out.elapsed = start.elapsed();
    out.dim = dim;
    Ok(out)
}

/// Pooled vectors of same-sized images, row-major.
pub fn embed_images(
    backbone: &dyn Backbone,
    images: &[RgbImage],
) -> lookalike_core::Result<Vec<f32>> {
    let _no_grad = tch::no_grad_guard();
    let pixels = to_pixels(images)?.f_to_device(backbone.device())?;
    let pooled = backbone
        .features(&pixels)?
        .pooled
        .f_to_device(tch::Device::Cpu)?;
    let flat = pooled.f_contiguous()?.f_view([-1])?;
    Ok(Vec::<f32>::try_from(&flat)?)
}

/// Feature maps after `units` units, flattened to rows; returns them and the row length.
fn embed_maps(
    backbone: &dyn Backbone,
    images: &[RgbImage],
    units: usize,
) -> lookalike_core::Result<(Vec<f32>, usize)> {
    let _no_grad = tch::no_grad_guard();
    let pixels = to_pixels(images)?.f_to_device(backbone.device())?;
    let map = backbone
        .forward_units(&pixels, 0, units)?
        .f_to_device(tch::Device::Cpu)?;
    let row_len = map.numel() / images.len().max(1);
    let flat = map.f_contiguous()?.f_view([-1])?;
    Ok((Vec::<f32>::try_from(&flat)?, row_len))
}
