//! The transfer gate at work: the surprise of pooled vectors under a trained model, a set of
//! images judged against the model's own validation images
//! ([`lookalike_core::siamese::familiarity`] has the rule and why).

use lookalike_core::siamese::{Familiarity, FamiliarityProfile};
use lookalike_core::{Result, SimilarityModel};
use tch::Tensor;

use crate::evaluate::to_f64;

/// The surprise of the rows `indices` of `pooled` (`[N, C]`, any device), or of every row
/// for `None`; `None` for a zero-shot model.
pub fn surprises(
    model: &SimilarityModel,
    pooled: &Tensor,
    indices: Option<&[usize]>,
) -> Result<Option<Vec<f64>>> {
    let _no_grad = tch::no_grad_guard();
    let device = model.backbone().device();
    let rows = match indices {
        Some(indices) => {
            let idx = Tensor::from_slice(&indices.iter().map(|&i| i as i64).collect::<Vec<_>>())
                .f_to_device(pooled.device())?;
            pooled.f_index_select(0, &idx)?
        }
        None => pooled.shallow_clone(),
    };
    model
        .surprise(&rows.f_to_device(device)?)?
        .map(|s| to_f64(&s))
        .transpose()
}

/// The profile training records: the surprise of its validation images. `None` for a
/// zero-shot model or too few images.
pub fn fit_profile(
    model: &SimilarityModel,
    pooled: &Tensor,
    validation: &[usize],
) -> Result<Option<FamiliarityProfile>> {
    Ok(surprises(model, pooled, Some(validation))?.and_then(|s| FamiliarityProfile::fit(&s)))
}

/// The gate's reading of the rows `indices` of `pooled`; `None` when the model has no
/// profile (zero-shot, trained from scratch, or trained before profiles were recorded).
pub fn judge(
    model: &SimilarityModel,
    pooled: &Tensor,
    indices: Option<&[usize]>,
) -> Result<Option<Familiarity>> {
    let Some(profile) = model.familiarity().copied() else {
        return Ok(None);
    };
    Ok(surprises(model, pooled, indices)?.map(|s| profile.judge(&s)))
}

/// How many images of a folder [`judge_folder`] reads at most.
pub const SAMPLE_LIMIT: usize = 300;

/// The gate's reading of up to `limit` images of `dir` (every file found, or that many evenly
/// spaced over the sorted list), embedded with `model`; `None` when the model has no
/// profile. Files that do not decode are skipped and returned.
pub fn judge_folder(
    model: &SimilarityModel,
    dir: &std::path::Path,
    options: &crate::EmbedOptions,
    limit: usize,
    progress: impl FnMut(crate::Progress),
) -> Result<Option<(Familiarity, Vec<crate::Skipped>)>> {
    let Some(profile) = model.familiarity().copied() else {
        return Ok(None);
    };
    let mut files = lookalike_core::image::find_images(dir)?;
    if files.len() > limit.max(1) {
        let step = files.len() as f64 / limit.max(1) as f64;
        files = (0..limit.max(1))
            .map(|i| files[(i as f64 * step) as usize].clone())
            .collect();
    }
    let load = |_: usize, path: &std::path::Path| {
        lookalike_core::image::decode_file(path, &options.limits)
            .map(|img| options.preprocess.apply(&img))
    };
    let done = crate::embed::embed_with(
        model.backbone(),
        &files,
        options.batch_size,
        None,
        load,
        progress,
    )?;
    if done.paths.is_empty() {
        return Ok(Some((profile.judge(&[]), done.skipped)));
    }
    let pooled =
        Tensor::from_slice(&done.vectors).f_view([done.paths.len() as i64, done.dim as i64])?;
    Ok(judge(model, &pooled, None)?.map(|f| (f, done.skipped)))
}
