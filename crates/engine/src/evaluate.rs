//! How well a similarity model separates classes: pair metrics on the paper's pairs and
//! retrieval metrics with every image as a query.

use std::path::Path;

use lookalike_core::dataset::{self, LabelledFolder};
use lookalike_core::metrics::{
    pair_metrics, retrieval_metrics, roc_auc, PairMetrics, RetrievalMetrics,
};
use lookalike_core::siamese::calibration::expected_calibration_error;
use lookalike_core::{Result, SimilarityModel};
use serde::Serialize;
use tch::{Kind, Tensor};

use lookalike_core::image::decode_file;

use crate::embed::{embed_with, EmbedOptions, Progress, Skipped};

/// Which images of a labelled folder to evaluate on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subset {
    /// Every image.
    All,
    /// The held-out test split the model's training made (same seed, same fractions).
    Test,
}

/// The figures `lookalike eval` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// Pair metrics.
    #[serde(flatten)]
    pub pairs: PairMetrics,
    /// Precision@10.
    pub precision_at_10: f64,
    /// Mean average precision.
    pub map: f64,
    /// Expected calibration error of the similarity on the pairs (10 bins): how far "0.8"
    /// is from "8 in 10 such pairs are the same class".
    pub ece: f64,
    /// Images evaluated.
    pub images: usize,
}

impl Evaluation {
    /// The figures by name, for a training record.
    pub fn to_map(&self) -> std::collections::BTreeMap<String, f64> {
        let value = serde_json::to_value(self).unwrap_or_default();
        value
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The pairs an evaluation drew and the distance the model gave each.
#[derive(Debug, Clone, Default)]
pub struct ScoredPairs {
    /// The pairs, as indices into the rows of the pooled vectors (the folder's images).
    pub pairs: Vec<dataset::Pair>,
    /// `d` of each pair.
    pub distances: Vec<f64>,
    /// The similarity logit `ℓ` of each pair (never saturated).
    pub logits: Vec<f64>,
}

/// Evaluates `model` on the images `indices` of precomputed pooled vectors `pooled` (`[N, C]`).
///
/// Pairs are the paper's (one same, one different per anchor), drawn with `seed`.
pub fn evaluate_pooled(
    model: &SimilarityModel,
    pooled: &Tensor,
    labels: &[usize],
    indices: &[usize],
    seed: u64,
) -> Result<Evaluation> {
    evaluate_pooled_scored(model, pooled, labels, indices, seed).map(|(e, _)| e)
}

/// [`evaluate_pooled`], also returning the pairs it drew and their distances.
pub fn evaluate_pooled_scored(
    model: &SimilarityModel,
    pooled: &Tensor,
    labels: &[usize],
    indices: &[usize],
    seed: u64,
) -> Result<(Evaluation, ScoredPairs)> {
    let _no_grad = tch::no_grad_guard();
    let device = model.backbone().device();
    let idx = Tensor::from_slice(&indices.iter().map(|&i| i as i64).collect::<Vec<_>>());
    let rows = pooled.f_index_select(0, &idx)?.f_to_device(device)?;
    let emb = model.embed(&rows)?;
    let local_labels: Vec<usize> = indices.iter().map(|&i| labels[i]).collect();
    let local: Vec<usize> = (0..indices.len()).collect();
    let pairs = dataset::make_pairs(&local, &local_labels, &mut dataset::rng(seed));
    let a = Tensor::from_slice(&pairs.iter().map(|p| p.a as i64).collect::<Vec<_>>())
        .f_to_device(device)?;
    let b = Tensor::from_slice(&pairs.iter().map(|p| p.b as i64).collect::<Vec<_>>())
        .f_to_device(device)?;
    let logit = model.logit(&emb.f_index_select(0, &a)?, &emb.f_index_select(0, &b)?)?;
    let d = to_f64(&model.similarity_of(&logit)?.f_neg()?.f_add_scalar(1.0)?)?;
    let logits = to_f64(&logit)?;
    let truth: Vec<bool> = pairs.iter().map(|p| p.different).collect();
    let mut pair = pair_metrics(&d, &truth, model.threshold());
    // Ranked by the exact logit: a saturated `d` would tie far pairs.
    let negated: Vec<f64> = logits.iter().map(|l| -l).collect();
    pair.roc_auc = roc_auc(&negated, &truth);
    let similarity: Vec<f64> = d.iter().map(|d| 1.0 - d).collect();
    let same: Vec<bool> = truth.iter().map(|t| !t).collect();
    let ece = expected_calibration_error(&similarity, &same, 10);
    let matrix = to_f64(&model.logit_matrix(&emb, &emb)?.f_neg()?)?;
    let RetrievalMetrics {
        precision_at_k,
        map,
        ..
    } = retrieval_metrics(&matrix, &local_labels, 10);
    let evaluation = Evaluation {
        pairs: pair,
        precision_at_10: precision_at_k,
        map,
        ece,
        images: indices.len(),
    };
    let scored = ScoredPairs {
        pairs: pairs
            .iter()
            .map(|p| dataset::Pair {
                a: indices[p.a],
                b: indices[p.b],
                different: p.different,
            })
            .collect(),
        distances: d,
        logits,
    };
    Ok((evaluation, scored))
}

/// A tensor's values, flattened, as `f64` on the CPU.
pub(crate) fn to_f64(t: &Tensor) -> Result<Vec<f64>> {
    let flat = t
        .f_to_device(tch::Device::Cpu)?
        .f_to_kind(Kind::Double)?
        .f_contiguous()?
        .f_view([-1])?;
    Ok(Vec::<f64>::try_from(&flat)?)
}

/// Pooled vectors of a labelled folder, with the images that could not be decoded removed.
pub struct EmbeddedFolder {
    /// The folder, without the skipped images.
    pub folder: LabelledFolder,
    /// `[N, D]` on the CPU, one row per image of `folder`.
    pub pooled: Tensor,
    /// The images left out.
    pub skipped: Vec<Skipped>,
}

/// Reads a labelled folder and embeds every image with `model`'s backbone: pooled vectors, or
/// with `until: Some(k)` the flattened feature maps after `k` units.
pub fn embed_folder(
    model: &dyn lookalike_core::Backbone,
    data: &Path,
    options: &EmbedOptions,
    until: Option<usize>,
    progress: impl FnMut(Progress),
) -> Result<EmbeddedFolder> {
    let mut folder = LabelledFolder::read(data)?;
    let load = |_: usize, path: &Path| {
        decode_file(path, &options.limits).map(|img| options.preprocess.apply(&img))
    };
    let done = embed_with(
        model,
        &folder.images,
        options.batch_size,
        until,
        load,
        progress,
    )?;
    let kept: std::collections::HashSet<&std::path::PathBuf> = done.paths.iter().collect();
    let keep: Vec<bool> = folder.images.iter().map(|p| kept.contains(p)).collect();
    folder.retain(&keep);
    let mut pooled =
        Tensor::from_slice(&done.vectors).f_view([done.paths.len() as i64, done.dim as i64])?;
    if options.mirror_views {
        if until.is_some() {
            return Err(lookalike_core::Error::Dataset {
                path: folder.root.clone(),
                message: "mirror views average pooled vectors, not the feature maps that \
                          fine-tuning caches"
                    .into(),
            });
        }
        // The mirror images of the images that decoded, averaged with them row by row.
        let mirrored = |_: usize, path: &Path| {
            decode_file(path, &options.limits)
                .map(|img| image::imageops::flip_horizontal(&options.preprocess.apply(&img)))
        };
        let again = embed_with(
            model,
            &folder.images,
            options.batch_size,
            until,
            mirrored,
            |_| {},
        )?;
        if again.paths != folder.images {
            return Err(lookalike_core::Error::Dataset {
                path: folder.root.clone(),
                message: "an image changed while it was embedded (its mirror image failed)".into(),
            });
        }
        let flipped = Tensor::from_slice(&again.vectors)
            .f_view([again.paths.len() as i64, again.dim as i64])?;
        pooled = pooled.f_add(&flipped)?.f_mul_scalar(0.5)?;
    }
    Ok(EmbeddedFolder {
        folder,
        pooled,
        skipped: done.skipped,
    })
}

/// An evaluation of a labelled folder, with everything it was computed from.
pub struct FolderEvaluation {
    /// The figures.
    pub evaluation: Evaluation,
    /// The pairs drawn and their distances (indices into `embedded.folder`).
    pub scored: ScoredPairs,
    /// The images evaluated (indices into `embedded.folder`).
    pub indices: Vec<usize>,
    /// The folder and its pooled vectors.
    pub embedded: EmbeddedFolder,
}

/// Evaluates `model` on a labelled folder.
pub fn evaluate_folder(
    model: &SimilarityModel,
    data: &Path,
    subset: Subset,
    seed: u64,
    options: &EmbedOptions,
    progress: impl FnMut(Progress),
) -> Result<(Evaluation, Vec<Skipped>)> {
    let done = evaluate_folder_scored(model, data, subset, seed, options, progress)?;
    Ok((done.evaluation, done.embedded.skipped))
}

/// [`evaluate_folder`], keeping the folder, the pairs and their distances.
pub fn evaluate_folder_scored(
    model: &SimilarityModel,
    data: &Path,
    subset: Subset,
    seed: u64,
    options: &EmbedOptions,
    progress: impl FnMut(Progress),
) -> Result<FolderEvaluation> {
    let embedded = embed_folder(model.backbone(), data, options, None, progress)?;
    let labels = &embedded.folder.labels;
    let indices: Vec<usize> = match (subset, model.config().and_then(|c| c.training.as_ref())) {
        (Subset::Test, Some(t)) => dataset::split(labels, t.split, t.seed).test,
        _ => (0..labels.len()).collect(),
    };
    let (evaluation, scored) =
        evaluate_pooled_scored(model, &embedded.pooled, labels, &indices, seed)?;
    Ok(FolderEvaluation {
        evaluation,
        scored,
        indices,
        embedded,
    })
}

/// The zero-shot figures beside a trained model's, on the same images and the same pairs.
#[derive(Debug, Clone, Serialize)]
pub struct ZeroShotBaseline {
    /// Cosine of the pretrained backbone's pooled vectors, evaluated like the model.
    pub figures: Evaluation,
    /// Which backbone weights and vectors it used.
    pub note: String,
}

/// The pretrained backbone under the trained `model`, compared by cosine on the images and
/// pairs that `done` evaluated: does the training pay on this folder? `None` for a zero-shot
/// model (it is its own baseline) and for a backbone trained from scratch (`conv4` has no
/// pretrained weights to compare with).
///
/// A frozen backbone is the pretrained one, saved in the model folder, so its pooled vectors
/// are reused. A fine-tuned one is not: the set-up's pretrained weights embed the folder again.
pub fn zero_shot_baseline(
    model: &SimilarityModel,
    model_dir: &Path,
    done: &FolderEvaluation,
    seed: u64,
    options: &EmbedOptions,
    progress: impl FnMut(Progress),
) -> Result<Option<ZeroShotBaseline>> {
    let Some(config) = model.config() else {
        return Ok(None);
    };
    if config.backbone.from_scratch() {
        return Ok(None);
    }
    let device = model.backbone().device();
    let fine_tuned = config.training.as_ref().is_some_and(|t| t.fine_tune > 0);
    let own = model_dir.join(lookalike_core::siamese::checkpoint::BACKBONE_FILE);
    let (weights, note) = if fine_tuned {
        match lookalike_core::weights::resolve(config.backbone, None) {
            Some(w) if w.is_file() => {
                let note = format!(
                    "the pretrained {} ({}), embedding the folder again: the model fine-tuned its backbone",
                    config.backbone,
                    w.display()
                );
                (Some(w), note)
            }
            _ => return Ok(None),
        }
    } else {
        let note = format!(
            "the model's own frozen {} backbone, same pooled vectors",
            config.backbone
        );
        (Some(own), note)
    };
    let backbone = lookalike_core::backbone::load(&lookalike_core::backbone::BackboneConfig {
        kind: config.backbone,
        weights: weights.as_deref(),
        device,
        inference: true,
        seed: 0,
    })?;
    let zero_shot = SimilarityModel::zero_shot(backbone, None);
    let figures = if fine_tuned {
        let again = embed_folder(
            zero_shot.backbone(),
            &done.embedded.folder.root,
            options,
            None,
            progress,
        )?;
        if again.folder.images != done.embedded.folder.images {
            return Err(lookalike_core::Error::Dataset {
                path: done.embedded.folder.root.clone(),
                message: "the folder changed while it was evaluated".into(),
            });
        }
        evaluate_pooled(
            &zero_shot,
            &again.pooled,
            &again.folder.labels,
            &done.indices,
            seed,
        )?
    } else {
        evaluate_pooled(
            &zero_shot,
            &done.embedded.pooled,
            &done.embedded.folder.labels,
            &done.indices,
            seed,
        )?
    };
    Ok(Some(ZeroShotBaseline { figures, note }))
}
