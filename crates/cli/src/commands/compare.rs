//! `lookalike compare --model MODEL_DIR A B`: how alike two images are, and the decision.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use lookalike_core::image::{decode_file, to_pixels};
use lookalike_core::DecodeLimits;

use super::model::SimilarityArgs;

/// Arguments of `lookalike compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub model: SimilarityArgs,
    /// The first image.
    pub a: PathBuf,
    /// The second image.
    pub b: PathBuf,
    /// Test-time augmentation: compare the mean of each image's pooled vectors and its mirror
    /// image's (not for drawings, where a mirror can be another character).
    #[arg(long)]
    pub tta: bool,
    /// Print one JSON object with similarity, logit, distance and same.
    #[arg(long)]
    pub json: bool,
}

/// Runs `lookalike compare`.
pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let model = args.model.load()?;
    let preprocess = model.config().map(|c| c.preprocess()).unwrap_or_default();
    let load = |p: &PathBuf| -> anyhow::Result<tch::Tensor> {
        let img = preprocess.apply(&decode_file(p, &DecodeLimits::default())?);
        Ok(if args.tta {
            to_pixels(&[image::imageops::flip_horizontal(&img), img])?
        } else {
            to_pixels(&[img])?
        })
    };
    let (a, b) = (load(&args.a)?, load(&args.b)?);
    let c = model.compare(&a, &b).context("comparing the two images")?;
    if args.json {
        println!("{}", serde_json::to_string(&c)?);
    } else {
        println!(
            "{}: similarity {:.4} (logit {:.3}), distance {:.4} (threshold {}) with {}",
            if c.same { "same" } else { "different" },
            c.similarity,
            c.logit,
            c.distance,
            model.threshold(),
            model.describe()
        );
    }
    Ok(())
}
