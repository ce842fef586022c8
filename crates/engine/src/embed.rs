//! Embedding many images: decode in parallel, forward in batches, keep going past bad files.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lookalike_core::image::{load_images, to_pixels};
use lookalike_core::{Backbone, DecodeLimits, ImageError, Preprocess};

/// How to embed.
#[derive(Debug, Clone, Copy)]
pub struct EmbedOptions {
    /// Images per forward pass.
    pub batch_size: usize,
    /// Resize and crop.
    pub preprocess: Preprocess,
    /// Decoding limits.
    pub limits: DecodeLimits,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        EmbedOptions {
            batch_size: 16,
            preprocess: Preprocess::default(),
            limits: DecodeLimits::default(),
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
    mut progress: impl FnMut(Progress),
) -> lookalike_core::Result<Embedded> {
    let start = Instant::now();
    let dim = backbone.channels() as usize;
    let mut out = Embedded {
        dim,
        vectors: Vec::with_capacity(paths.len() * dim),
        paths: Vec::new(),
        skipped: Vec::new(),
        elapsed: Duration::ZERO,
    };
    let _no_grad = tch::no_grad_guard();
    for (i, chunk) in paths.chunks(options.batch_size.max(1)).enumerate() {
        let mut images = Vec::with_capacity(chunk.len());
        for (path, result) in
            chunk
                .iter()
                .zip(load_images(chunk, &options.preprocess, &options.limits))
        {
            match result {
                Ok(img) => {
                    images.push(img);
                    out.paths.push(path.clone());
                }
                Err(error) => out.skipped.push(Skipped { error }),
            }
        }
        if !images.is_empty() {
            let pixels = to_pixels(&images)?.f_to_device(backbone.device())?;
            let pooled = backbone
                .features(&pixels)?
                .pooled
                .f_to_device(tch::Device::Cpu)?;
            let flat = pooled.f_contiguous()?.f_view([-1])?;
            out.vectors.extend(Vec::<f32>::try_from(&flat)?);
        }
        let done = (i * options.batch_size.max(1) + chunk.len()).min(paths.len());
        progress(Progress {
            done,
            total: paths.len(),
            skipped: out.skipped.len(),
        });
    }
    out.elapsed = start.elapsed();
    Ok(out)
}
