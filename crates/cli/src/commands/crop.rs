//! `lookalike crop --model MODEL_DIR --data DIR --out DIR2`: the paper's "cropped" dataset
//! (Livieris et al., section 4.4). Each image is cropped to the box of its Grad-CAM map against
//! the same-class image the model finds most similar, and saved under the same class folder.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use lookalike_core::image::{decode_file, to_pixels};
use lookalike_core::DecodeLimits;
use lookalike_engine::evaluate::embed_folder;
use lookalike_engine::EmbedOptions;
use lookalike_explain::pair::saliency;
use lookalike_explain::{similarity_gradients, BBox, GradientPath};
use tch::Kind;

use super::explainers::{registry, render, MethodArgs};
use super::model::SimilarityArgs;
use super::progress;

/// Arguments of `lookalike crop`.
#[derive(Debug, Args)]
pub struct CropArgs {
    #[command(flatten)]
    pub model: SimilarityArgs,
    #[command(flatten)]
    pub method: MethodArgs,
    /// A labelled folder: one subfolder of images per class.
    #[arg(long)]
    pub data: PathBuf,
    /// Where the cropped folder goes (same class subfolders, PNG files).
    #[arg(long)]
    pub out: PathBuf,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs `lookalike crop`.
pub fn run(args: CropArgs) -> anyhow::Result<()> {
    let model = args.model.load()?;
    let registry = registry();
    let (explainer, layer, boxes) = args.method.resolve(&registry, model.backbone().units())?;
    let preprocess = model.config().map(|c| c.preprocess()).unwrap_or_default();
    let options = EmbedOptions {
        preprocess,
        ..EmbedOptions::default()
    };
    let bar = progress::bar(0, "embedding", args.quiet);
    let embedded = embed_folder(model.backbone(), &args.data, &options, None, |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    })
    .with_context(|| format!("embedding {}", args.data.display()))?;
    bar.finish_and_clear();
    let folder = &embedded.folder;
    let n = folder.images.len();
    let e = tch::no_grad(|| model.embed(&embedded.pooled))?;
    let d = tch::no_grad(|| model.distance_matrix(&e, &e))?.f_to_kind(Kind::Double)?;
    let d = Vec::<f64>::try_from(d.f_contiguous()?.f_view([-1])?)?;
    // Each image's most similar same-class partner.
    let partner: Vec<Option<usize>> = (0..n)
        .map(|i| {
            (0..n)
                .filter(|&j| j != i && folder.labels[j] == folder.labels[i])
                .min_by(|&x, &y| d[i * n + x].total_cmp(&d[i * n + y]))
        })
        .collect();
    let bar = progress::bar(n, "cropping", args.quiet);
    let mut report = Vec::new();
    let limits = DecodeLimits::default();
    let todo: Vec<usize> = (0..n).collect();
    for chunk in todo.chunks(16) {
        let mut originals = Vec::new();
        let (mut crops_a, mut crops_b) = (Vec::new(), Vec::new());
        for &i in chunk {
            let img = decode_file(&folder.images[i], &limits)?;
            let j = partner[i].unwrap_or(i);
            let other = decode_file(&folder.images[j], &limits)?;
            crops_a.push(preprocess.apply(&img));
            crops_b.push(preprocess.apply(&other));
            originals.push(img);
        }
        let grads = similarity_gradients(
            &model,
            &to_pixels(&crops_a)?,
            &to_pixels(&crops_b)?,
            layer,
            GradientPath::Auto,
        )?;
        let maps = saliency(explainer, &grads, &vec![1.0; chunk.len()])?;
        for (k, &i) in chunk.iter().enumerate() {
            let bbox = match partner[i] {
                Some(_) => render(&crops_a[k], &maps[k], &boxes, None)?,
                None => None,
            };
            let img = &originals[k];
            let cut = bbox.map(|b| to_original(&b, img.width(), img.height(), &preprocess));
            let out_img = match cut {
                Some(b) => {
                    image::imageops::crop_imm(img, b.x0, b.y0, b.width(), b.height()).to_image()
                }
                None => img.clone(),
            };
            let class = &folder.classes[folder.labels[i]];
            let stem = folder.images[i]
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| format!("{i}"));
            let dir = args.out.join(class);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = dir.join(format!("{stem}.png"));
            out_img
                .save(&path)
                .with_context(|| format!("writing {}", path.display()))?;
            report.push(serde_json::json!({
                "image": folder.images[i],
                "partner": partner[i].map(|j| &folder.images[j]),
                "box": cut,
                "out": path,
            }));
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let json = args.out.join("crops.json");
    std::fs::write(&json, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let cropped = report.iter().filter(|r| !r["box"].is_null()).count();
    println!(
        "cropped {cropped} of {n} images of {} into {} ({} skipped while embedding); boxes in {}",
        args.data.display(),
        args.out.display(),
        embedded.skipped.len(),
        json.display()
    );
    Ok(())
}

/// A box on the preprocessed crop, in the original image's pixels.
fn to_original(b: &BBox, width: u32, height: u32, preprocess: &lookalike_core::Preprocess) -> BBox {
    let (rw, rh) = preprocess.resized_size(width, height);
    let offset = |size: u32| {
        ((size as f64 - preprocess.crop as f64) / 2.0)
            .round_ties_even()
            .max(0.0)
    };
    let (ox, oy) = (offset(rw), offset(rh));
    let (sx, sy) = (width as f64 / rw as f64, height as f64 / rh as f64);
    let x = |v: u32| (((v as f64 + ox) * sx).round() as u32).min(width);
    let y = |v: u32| (((v as f64 + oy) * sy).round() as u32).min(height);
    let (x0, y0, x1, y1) = (x(b.x0), y(b.y0), x(b.x1), y(b.y1));
    BBox {
        x0,
        y0,
        x1: x1.max(x0 + 1).min(width),
        y1: y1.max(y0 + 1).min(height),
    }
}
