//! The held-out groups of one-shot training from scratch: drawn once as N-way one-shot runs
//! (the evaluator of `eval-oneshot`) and scored after every epoch, to choose the epoch and to
//! calibrate the similarity.

use lookalike_core::dataset;
use lookalike_core::metrics::pair_metrics;
use lookalike_core::siamese::SiameseHead;
use lookalike_core::{Backbone, Result};
use tch::{Device, Tensor};

use super::{gather_turned, Drawings, Row};
use crate::evaluate::to_f64;
use crate::oneshot::{draw_runs, score_run, OneShotOptions, Run};
use crate::train::TrainOptions;

/// The held-out classes as one-shot runs: rows are positions in `val_rows`.
pub(super) struct Validation {
    pub(super) rows: Vec<usize>,
    pub(super) labels: Vec<usize>,
    pub(super) runs: Vec<(usize, Vec<Run>)>,
    pub(super) names: Vec<String>,
}

pub(super) fn validation(d: &Drawings, held: &[bool], opts: &TrainOptions) -> Validation {
    let (mut rows, mut labels) = (Vec::new(), Vec::new());
    let mut by_group: Vec<Vec<Vec<usize>>> = vec![Vec::new(); d.groups.len()];
    for c in (0..d.classes.len()).filter(|&c| held[c] && d.images[c].len() >= 2) {
        let local: Vec<usize> = (rows.len()..rows.len() + d.images[c].len()).collect();
        rows.extend(&d.images[c]);
        labels.extend(std::iter::repeat_n(c, local.len()));
        by_group[d.class_group[c]].push(local);
    }
    let mut rng = dataset::rng(opts.seed.wrapping_add(13));
    let runs = by_group
        .iter()
        .filter(|classes| classes.len() >= 2)
        .map(|classes| {
            let ways = opts.scratch.ways.min(classes.len());
            let options = OneShotOptions {
                ways,
                runs: opts.scratch.val_runs,
                seed: opts.seed,
            };
            (ways, draw_runs(classes, &options, &mut rng))
        })
        .collect();
    let names = if d.nested {
        (0..d.groups.len())
            .filter(|&g| (0..d.classes.len()).any(|c| held[c] && d.class_group[c] == g))
            .map(|g| d.groups[g].clone())
            .collect()
    } else {
        (0..d.classes.len())
            .filter(|&c| held[c])
            .map(|c| d.classes[c].clone())
            .collect()
    };
    Validation {
        rows,
        labels,
        runs,
        names,
    }
}

/// Pooled vectors of drawing rows (no distortion), in eval mode, without gradients.
pub(super) fn pooled_rows(backbone: &dyn Backbone, d: &Drawings, rows: &[usize]) -> Result<Tensor> {
    let _guard = tch::no_grad_guard();
    let mut parts = Vec::new();
    for chunk in rows.chunks(256) {
        let turned: Vec<Row> = chunk.iter().map(|&r| (r, 0)).collect();
        let x = gather_turned(&d.pixels, &turned)?.f_to_device(backbone.device())?;
        parts.push(backbone.features(&x)?.pooled.f_to_device(Device::Cpu)?);
    }
    Ok(Tensor::f_cat(&parts, 0)?)
}

/// The mean one-shot accuracy over the validation runs, and its pair metrics.
pub(super) fn score(
    head: &SiameseHead,
    pooled: &Tensor,
    val: &Validation,
    threshold: f64,
    seed: u64,
    device: Device,
) -> Result<(f64, lookalike_core::metrics::PairMetrics)> {
    let _guard = tch::no_grad_guard();
    let e = head.embed(&pooled.f_to_device(device)?)?;
    let pick = |ids: &[usize]| -> Result<Tensor> {
        let idx = Tensor::from_slice(&ids.iter().map(|&i| i as i64).collect::<Vec<_>>())
            .f_to_device(device)?;
        Ok(e.f_index_select(0, &idx)?)
    };
    let (mut right, mut trials) = (0.0, 0usize);
    for (ways, runs) in &val.runs {
        for run in runs {
            let z = to_f64(&head.logit_matrix(&pick(&run.queries)?, &pick(&run.examples)?)?)?;
            right += score_run(&z, *ways).0;
            trials += ways;
        }
    }
    let local: Vec<usize> = (0..val.rows.len()).collect();
    let pairs = dataset::make_pairs(&local, &val.labels, &mut dataset::rng(seed));
    let a: Vec<usize> = pairs.iter().map(|p| p.a).collect();
    let b: Vec<usize> = pairs.iter().map(|p| p.b).collect();
    let d = to_f64(&head.distance(&pick(&a)?, &pick(&b)?)?)?;
    let truth: Vec<bool> = pairs.iter().map(|p| p.different).collect();
    Ok((
        right / trials.max(1) as f64,
        pair_metrics(&d, &truth, threshold),
    ))
}
