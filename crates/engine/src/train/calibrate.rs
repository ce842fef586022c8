//! The last step of training: Platt scaling of the trained head's logit on the validation pairs
//! (the pairs that picked the best epoch), so that `similarity` reads as a probability of "same".

use lookalike_core::dataset::Pair;
use lookalike_core::siamese::Calibration;
use lookalike_core::{Error, Result, SimilarityModel};
use tch::Tensor;

use crate::evaluate::to_f64;

/// The similarity logits `ℓ` of `pairs` (indices into the rows of `pooled`) under `model`.
pub fn pair_logits(model: &SimilarityModel, pooled: &Tensor, pairs: &[Pair]) -> Result<Vec<f64>> {
    let _no_grad = tch::no_grad_guard();
    let device = model.backbone().device();
    let index = |side: fn(&Pair) -> usize| {
        Tensor::from_slice(&pairs.iter().map(|p| side(p) as i64).collect::<Vec<_>>())
            .f_to_device(device)
    };
    let rows = pooled.f_to_device(device)?;
    let a = model.embed(&rows.f_index_select(0, &index(|p| p.a)?)?)?;
    let b = model.embed(&rows.f_index_select(0, &index(|p| p.b)?)?)?;
    to_f64(&model.logit(&a, &b)?)
}

/// Fits the calibration of `model` on `pairs`.
pub fn fit_calibration(
    model: &SimilarityModel,
    pooled: &Tensor,
    pairs: &[Pair],
) -> Result<Calibration> {
    let logits = pair_logits(model, pooled, pairs)?;
    let same: Vec<bool> = pairs.iter().map(|p| !p.different).collect();
    Calibration::fit(&logits, &same).map_err(|e| Error::Dataset {
        path: "validation pairs".into(),
        message: e.to_string(),
    })
}

/// Fits a calibration of `model` (zero-shot, typically) on a labelled folder: every image
/// embedded once, the paper's pairs (one same and one different partner per image, seeded)
/// scored by their logit. `index create --calibrate DIR` uses it.
pub fn calibrate_on_folder(
    model: &SimilarityModel,
    data: &std::path::Path,
    options: &crate::EmbedOptions,
    seed: u64,
    progress: impl FnMut(crate::Progress),
) -> Result<Calibration> {
    let embedded = crate::evaluate::embed_folder(model.backbone(), data, options, None, progress)?;
    let folder = &embedded.folder;
    let all: Vec<usize> = (0..folder.images.len()).collect();
    let pairs = lookalike_core::dataset::make_pairs(
        &all,
        &folder.labels,
        &mut lookalike_core::dataset::rng(seed),
    );
    fit_calibration(model, &embedded.pooled, &pairs).map_err(|e| match e {
        Error::Dataset { message, .. } => Error::Dataset {
            path: data.to_path_buf(),
            message,
        },
        other => other,
    })
}
