//! `lookalike embed DIR --out FILE`: a folder of images into a vector file and a paths list.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use lookalike_core::device::device_name;
use lookalike_core::image::{find_images, IMAGE_EXTENSIONS};
use lookalike_engine::{embed_paths, EmbedOptions};
use lookalike_index::{paths_file_for, write_vectors, VectorFile};

use super::model::ModelArgs;
use super::progress;

/// Arguments of `lookalike embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// A folder (searched recursively) or a single image.
    pub input: PathBuf,
    /// Output vectors: NAME.npy or NAME.fvecs; the paths go to NAME.paths.txt beside it.
    #[arg(long, short)]
    pub out: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Images per forward pass.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub batch_size: u32,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs `lookalike embed`.
pub fn run(args: EmbedArgs) -> anyhow::Result<()> {
    VectorFile::from_path(&args.out)?;
    let paths = find_images(&args.input).context("listing the images to embed")?;
    if paths.is_empty() {
        bail!(
            "no images under {} (looked for files ending in .{})",
            args.input.display(),
            IMAGE_EXTENSIONS.join(", .")
        );
    }
    let backbone = args.model.load()?;
    let bar = progress::bar(paths.len(), "embedding", args.quiet || args.json);
    let options = EmbedOptions {
        batch_size: args.batch_size as usize,
        ..EmbedOptions::default()
    };
    let done = embed_paths(backbone.as_ref(), &paths, &options, |p| {
        bar.set_position(p.done as u64);
        if p.skipped > 0 {
            bar.set_message(format!("({} skipped)", p.skipped));
        }
    })?;
    bar.finish_and_clear();
    for s in &done.skipped {
        eprintln!("skipped {}", s.error);
    }
    if done.paths.is_empty() {
        bail!(
            "none of the {} images could be decoded; nothing was written",
            paths.len()
        );
    }
    write_vectors(&args.out, &done.vectors, done.dim, Some(&done.paths))?;
    let device = device_name(backbone.device());
    if args.json {
        let summary = serde_json::json!({
            "images": done.paths.len(),
            "skipped": done.skipped.len(),
            "dim": done.dim,
            "backbone": backbone.kind().name(),
            "device": device,
            "seconds": done.elapsed.as_secs_f64(),
            "images_per_second": done.images_per_second(),
            "vectors": args.out,
            "paths": paths_file_for(&args.out),
        });
        println!("{summary}");
    } else {
        println!(
            "embedded {} images ({} skipped) with {} on {} in {:.1} s: {:.1} images/s",
            done.paths.len(),
            done.skipped.len(),
            backbone.kind(),
            device,
            done.elapsed.as_secs_f64(),
            done.images_per_second()
        );
        println!(
            "vectors: {} ({} × {} float32)",
            args.out.display(),
            done.paths.len(),
            done.dim
        );
        println!("paths:   {}", paths_file_for(&args.out).display());
    }
    Ok(())
}
