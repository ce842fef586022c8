//! An HTML report of a similarity model on a labelled folder: the figures of `lookalike eval`,
//! a ROC curve and a similarity histogram, example pairs with their four maps, and the
//! faithfulness of every explainer.
//!
//! - [`data`]: the evaluated pairs as curves, which pairs to show, faithfulness in order.
//! - [`examples`]: the example pairs explained in one batch and written as PNG overlays.
//! - [`plots`]: the charts as SVG (plotters).
//! - [`html`]: the page.
//!
//! [`write_report`] builds the whole report in a temporary folder beside `out` and renames it
//! into place, so a failed run leaves no half-made report (and an earlier report stays whole
//! until the new one is complete).

pub mod data;
pub mod examples;
pub mod html;
pub mod plots;

use std::path::{Path, PathBuf};
use std::time::Instant;

use lookalike_core::SimilarityModel;
use lookalike_explain::{BoxOptions, Explainer, Layer};
use serde::Serialize;

use crate::evaluate::{evaluate_folder_scored, Evaluation, Subset};
use crate::faithfulness::score_methods;
use crate::EmbedOptions;

use data::{balanced_pairs, pick_examples, Faithfulness, PairScores};
use examples::{write_examples, ExampleFigure};

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can stop a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The model or the folder failed (the message names which).
    #[error(transparent)]
    Model(#[from] lookalike_core::Error),
    /// An explanation failed.
    #[error(transparent)]
    Explain(#[from] lookalike_explain::Error),
    /// The options do not make a report.
    #[error("{0}")]
    BadInput(String),
    /// A file of the report could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A chart could not be drawn.
    #[error("cannot draw a chart: {0}")]
    Plot(String),
}

/// What to put in a report, and where.
pub struct ReportOptions<'a> {
    /// The labelled folder.
    pub data: PathBuf,
    /// The report folder to create (or replace, if it holds an earlier report).
    pub out: PathBuf,
    /// Which images: all, or the model's held-out test split.
    pub subset: Subset,
    /// Seed of the evaluation pairs (and of the random faithfulness baseline).
    pub seed: u64,
    /// Example pairs of each kind (confident same, confident different, near the threshold).
    pub examples: usize,
    /// Same-class pairs for the faithfulness measures.
    pub pairs: usize,
    /// Steps of each deletion and insertion curve.
    pub steps: usize,
    /// The explainer of the example pairs.
    pub explainer: &'a dyn Explainer,
    /// The explainers whose faithfulness is measured.
    pub methods: Vec<&'a dyn Explainer>,
    /// The target layer of every map.
    pub layer: Layer,
    /// Boxes on the overlays.
    pub boxes: BoxOptions,
    /// How the folder is embedded.
    pub embed: EmbedOptions,
}

/// Where a report is.
#[derive(Debug, Clone, Copy)]
pub enum Stage {
    /// Embedding the folder: images done of total.
    Embedding(usize, usize),
    /// Explaining the example pairs.
    Examples,
    /// Measuring faithfulness: pairs done of total.
    Faithfulness(usize, usize),
}

/// Everything a report shows (also written as `report.json`).
#[derive(Debug, Serialize)]
pub struct Report {
    /// The model, described.
    pub model: String,
    /// The labelled folder.
    pub data: PathBuf,
    /// `all` or `test`.
    pub split: &'static str,
    /// The evaluation seed.
    pub seed: u64,
    /// Images left out because they could not be decoded.
    pub skipped: usize,
    /// The figures of `lookalike eval`.
    pub evaluation: Evaluation,
    /// The pairs behind them.
    pub scores: PairScores,
    /// The example pairs.
    pub examples: Vec<ExampleFigure>,
    /// The explainer of the examples.
    pub method: String,
    /// Faithfulness of every explainer.
    pub faithfulness: Faithfulness,
    /// Seconds the whole report took (model loading excluded).
    pub seconds: f64,
}

/// The ROC curve's file in the report folder.
pub const ROC: &str = "roc.svg";
/// The similarity histogram's file.
pub const HISTOGRAM: &str = "similarity.svg";
/// The faithfulness chart's file.
pub const FAITHFULNESS: &str = "faithfulness.svg";
/// The reliability diagram of the similarity.
pub const RELIABILITY: &str = "reliability.svg";
/// The mean deletion curves.
pub const DELETION: &str = "deletion.svg";
/// The mean insertion curves.
pub const INSERTION: &str = "insertion.svg";

/// Builds the report of `model` on `options.data` into `options.out`.
pub fn write_report(
    model: &SimilarityModel,
    options: &ReportOptions<'_>,
    mut progress: impl FnMut(Stage),
) -> Result<Report> {
    let start = Instant::now();
    check_out(&options.out)?;
    if options.steps == 0 {
        return Err(Error::BadInput("--steps must be at least 1".into()));
    }
    let layer = options.layer.resolve(model.backbone().units())?;
    let done = evaluate_folder_scored(
        model,
        &options.data,
        options.subset,
        options.seed,
        &options.embed,
        |p| progress(Stage::Embedding(p.done, p.total)),
    )?;
    if done.scored.pairs.is_empty() {
        return Err(Error::BadInput(format!(
            "{}: no pairs to evaluate (every class needs at least two images in the split)",
            options.data.display()
        )));
    }
    let folder = &done.embedded.folder;
    let threshold = model.threshold();
    let scores = PairScores::new(&done.scored, threshold, done.evaluation.pairs.roc_auc);

    let partial = sibling(&options.out, "partial")?;
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial).map_err(|source| Error::Write {
        path: partial.clone(),
        source,
    })?;
    let built = (|| -> Result<Report> {
        progress(Stage::Examples);
        let picked = pick_examples(&done.scored, threshold, options.examples);
        let examples = write_examples(
            model,
            &picked,
            &folder.images,
            &folder.classes,
            &folder.labels,
            &options.embed.preprocess,
            options.explainer,
            options.layer,
            &options.boxes,
            &partial,
        )?;
        let pairs: Vec<_> = balanced_pairs(&done.scored, options.pairs)
            .iter()
            .map(|p| (folder.images[p.a].clone(), folder.images[p.b].clone()))
            .collect();
        let total = pairs.len();
        let protocol =
            crate::faithfulness::Protocol::new(options.layer, options.steps, options.seed);
        let measured = score_methods(
            model,
            &pairs,
            &options.methods,
            &protocol,
            &options.embed.preprocess,
            |n| progress(Stage::Faithfulness(n, total)),
        )?;
        let mut faithfulness = Faithfulness::new(measured.methods, total, options.steps, layer);
        faithfulness.curves = measured.curves;
        let report = Report {
            model: model.describe(),
            data: options.data.clone(),
            split: match options.subset {
                Subset::All => "all",
                Subset::Test => "test",
            },
            seed: options.seed,
            skipped: done.embedded.skipped.len(),
            evaluation: done.evaluation.clone(),
            scores,
            examples,
            method: options.explainer.name().to_string(),
            faithfulness,
            seconds: start.elapsed().as_secs_f64(),
        };
        write(&partial.join(ROC), &plots::roc_svg(&report.scores)?)?;
        write(
            &partial.join(HISTOGRAM),
            &plots::histogram_svg(&report.scores)?,
        )?;
        write(
            &partial.join(FAITHFULNESS),
            &plots::faithfulness_svg(&report.faithfulness)?,
        )?;
        write(
            &partial.join(RELIABILITY),
            &plots::reliability_svg(&report.scores)?,
        )?;
        for (i, file) in [DELETION, INSERTION].into_iter().enumerate() {
            write(
                &partial.join(file),
                &plots::curves_svg(&report.faithfulness, i)?,
            )?;
        }
        write(&partial.join("index.html"), &html::page(&report))?;
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::BadInput(format!("cannot encode report.json: {e}")))?;
        write(&partial.join("report.json"), &json)?;
        Ok(report)
    })();
    match built {
        Ok(report) => {
            publish(&partial, &options.out)?;
            Ok(report)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            Err(e)
        }
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// `.NAME.TAG-PID` beside `out`, on the same file system (so renaming it is atomic).
fn sibling(out: &Path, tag: &str) -> Result<PathBuf> {
    let name = out
        .file_name()
        .ok_or_else(|| Error::BadInput(format!("--out {} names no folder", out.display())))?;
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty());
    let file = format!(".{}.{tag}-{}", name.to_string_lossy(), std::process::id());
    Ok(parent.map_or_else(|| PathBuf::from(&file), |p| p.join(&file)))
}

/// Refuses an `out` that is a file, or a folder holding something other than a report.
fn check_out(out: &Path) -> Result<()> {
    sibling(out, "check")?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            return Err(Error::BadInput(format!(
                "--out {}: the folder {} does not exist",
                out.display(),
                parent.display()
            )));
        }
    }
    if out.exists() {
        let empty = std::fs::read_dir(out).map(|mut d| d.next().is_none());
        let report = out.join("index.html").is_file() && out.join(ROC).is_file();
        if !out.is_dir() || !(report || matches!(empty, Ok(true))) {
            return Err(Error::BadInput(format!(
                "--out {} already exists and is not an earlier report; choose another folder",
                out.display()
            )));
        }
    }
    Ok(())
}

/// Moves the finished report into place, replacing an earlier one only once this one is whole.
fn publish(partial: &Path, out: &Path) -> Result<()> {
    let moved = |path: &Path, source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let old = sibling(out, "old")?;
    let replacing = out.exists();
    if replacing {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(out, &old).map_err(|e| moved(out, e))?;
    }
    if let Err(e) = std::fs::rename(partial, out) {
        if replacing {
            let _ = std::fs::rename(&old, out);
        }
        let _ = std::fs::remove_dir_all(partial);
        return Err(moved(out, e));
    }
    if replacing {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}
