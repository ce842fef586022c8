//! N-way one-shot classification, the benchmark of Koch et al. (2015) on Omniglot, with the
//! protocol of Lake et al. (2015).
//!
//! A *run* takes `ways` classes of one group (an alphabet) and two image positions `i ≠ j`
//! (with Omniglot's sorted file names, two drawers). Each class's image `j` is the one example
//! the model is shown; each class's image `i` is a query. A query is classified as the class of
//! the example at the smallest distance `d`, so a run is `ways` trials and chance is `1 / ways`.
//! Queries and examples never repeat within a run, and a group must hold `ways` classes with two
//! images each to be used.
//!
//! A tie at the smallest distance (a saturated head gives `d = 1` to many examples) earns the
//! expected score of a random pick among the tied examples, never a lucky first index.
//!
//! - `folder.rs`: the grouped folder (`DIR/GROUP/CLASS/images`).
//! - `lake.rs`: Lake et al.'s own 20 runs (`all_runs.zip`), scored per run.
//! - `mhd.rs`: the Modified Hausdorff Distance on ink, the training-free baseline; any
//!   [`Measure`] runs through the same evaluators.

mod folder;
pub mod lake;
pub mod mhd;

use std::path::{Path, PathBuf};

use lookalike_core::dataset;
use lookalike_core::image::decode_file;
use lookalike_core::{Error, Result, SimilarityModel};
use rand::seq::{IndexedRandom, SliceRandom};
use rayon::prelude::*;
use serde::Serialize;
use tch::Tensor;

use crate::embed::{embed_paths, EmbedOptions, Progress, Skipped};
use crate::evaluate::to_f64;

pub use folder::{Group, GroupedFolder};
pub use lake::{evaluate_lake_runs, read_lake_runs, LakeResult, LakeRun, LakeRunResult};

/// What measures how far a query is from an example.
#[derive(Debug, Clone, Copy)]
pub enum Measure<'a> {
    /// A model's embeddings, by the head's negated similarity logit (never saturated), or the
    /// cosine for zero-shot.
    Model(&'a SimilarityModel),
    /// The Modified Hausdorff Distance between the drawings' centred ink ([`mhd`]).
    ModifiedHausdorff,
}

impl Measure<'_> {
    /// What the report calls it.
    pub fn describe(&self) -> String {
        match self {
            Measure::Model(m) => m.describe(),
            Measure::ModifiedHausdorff => "modified Hausdorff distance on ink".into(),
        }
    }

    /// Prepares `paths` once (embeddings, or ink points); files that do not decode are skipped.
    pub fn prepare(
        &self,
        paths: &[PathBuf],
        embed: &EmbedOptions,
        progress: impl FnMut(Progress),
    ) -> Result<Prepared<'_>> {
        match *self {
            Measure::Model(model) => {
                let done = embed_paths(model.backbone(), paths, embed, progress)?;
                let _no_grad = tch::no_grad_guard();
                let device = model.backbone().device();
                let pooled = Tensor::from_slice(&done.vectors)
                    .f_view([done.paths.len() as i64, done.dim as i64])?
                    .f_to_device(device)?;
                Ok(Prepared {
                    kind: Kind::Embedded {
                        model,
                        emb: model.embed(&pooled)?,
                    },
                    paths: done.paths,
                    skipped: done.skipped,
                })
            }
            Measure::ModifiedHausdorff => {
                let mut progress = progress;
                let decoded: Vec<_> = paths
                    .par_iter()
                    .map(|p| decode_file(p, &embed.limits).map(|img| mhd::ink_points(&img)))
                    .collect();
                let (mut ink, mut ok, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
                for (p, r) in paths.iter().zip(decoded) {
                    match r {
                        Ok(points) => {
                            ink.push(points);
                            ok.push(p.clone());
                        }
                        Err(error) => skipped.push(Skipped { error }),
                    }
                }
                progress(Progress {
                    done: paths.len(),
                    total: paths.len(),
                    skipped: skipped.len(),
                });
                Ok(Prepared {
                    kind: Kind::Ink(ink),
                    paths: ok,
                    skipped,
                })
            }
        }
    }
}

enum Kind<'a> {
    Embedded {
        model: &'a SimilarityModel,
        emb: Tensor,
    },
    Ink(Vec<mhd::Ink>),
}

/// Images ready to be compared, in the order of [`Prepared::paths`].
pub struct Prepared<'a> {
    kind: Kind<'a>,
    /// The images that were prepared.
    pub paths: Vec<PathBuf>,
    /// The files left out.
    pub skipped: Vec<Skipped>,
}

impl Prepared<'_> {
    /// The distance of every query row to every example row, row-major (lower is nearer).
    pub fn distances(&self, queries: &[usize], examples: &[usize]) -> Result<Vec<f64>> {
        match &self.kind {
            Kind::Embedded { model, emb } => {
                let _no_grad = tch::no_grad_guard();
                let device = model.backbone().device();
                let rows = |ids: &[usize]| -> Result<Tensor> {
                    let idx =
                        Tensor::from_slice(&ids.iter().map(|&i| i as i64).collect::<Vec<_>>())
                            .f_to_device(device)?;
                    Ok(emb.f_index_select(0, &idx)?)
                };
                to_f64(
                    &model
                        .logit_matrix(&rows(queries)?, &rows(examples)?)?
                        .f_neg()?,
                )
            }
            Kind::Ink(ink) => Ok(queries
                .par_iter()
                .flat_map_iter(|&q| {
                    examples
                        .iter()
                        .map(move |&e| mhd::modified_hausdorff(&ink[q], &ink[e]))
                })
                .collect()),
        }
    }
}

/// How many classes per run, how many runs per group, and the seed that draws them.
#[derive(Debug, Clone, Copy)]
pub struct OneShotOptions {
    /// Classes per run (20 in Koch et al.).
    pub ways: usize,
    /// Runs per usable group.
    pub runs: usize,
    /// Seed for the classes and image positions of every run.
    pub seed: u64,
}

/// The result of one group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupResult {
    /// The group's name.
    pub group: String,
    /// Its classes with at least two images.
    pub classes: usize,
    /// Runs made in it.
    pub runs: usize,
    /// Trials (`runs × ways`).
    pub trials: usize,
    /// The fraction classified correctly.
    pub accuracy: f64,
}

/// A group that was left out, and why.
#[derive(Debug, Clone, Serialize)]
pub struct LeftOut {
    /// The group's name.
    pub group: String,
    /// Why.
    pub reason: String,
}

/// What `lookalike eval-oneshot` reports.
#[derive(Debug, Clone, Serialize)]
pub struct OneShotResult {
    /// Classes per run.
    pub ways: usize,
    /// Runs per group.
    pub runs_per_group: usize,
    /// Trials over every group.
    pub trials: usize,
    /// The fraction of trials classified correctly (ties scored by their expectation).
    pub accuracy: f64,
    /// The binomial standard error of `accuracy`.
    pub standard_error: f64,
    /// `1 / ways`.
    pub chance: f64,
    /// Trials whose smallest distance was shared by more than one example.
    pub tied_trials: usize,
    /// Per group, sorted by name.
    pub groups: Vec<GroupResult>,
    /// Groups that could not be used.
    pub left_out: Vec<LeftOut>,
    /// Images embedded.
    pub images: usize,
    /// The seed.
    pub seed: u64,
}

/// One run: for each of `ways` classes, the query's and the example's row in the embeddings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The query rows, one per class.
    pub queries: Vec<usize>,
    /// The example rows, in the same class order.
    pub examples: Vec<usize>,
}

/// Draws `options.runs` runs in `classes` (each the rows of one class's images, in path order;
/// classes with fewer than two images must already be gone). Needs `classes.len() >= ways`.
pub fn draw_runs(
    classes: &[Vec<usize>],
    options: &OneShotOptions,
    rng: &mut impl rand::Rng,
) -> Vec<Run> {
    let ids: Vec<usize> = (0..classes.len()).collect();
    (0..options.runs)
        .map(|_| {
            let mut chosen: Vec<usize> = ids.choose_multiple(rng, options.ways).copied().collect();
            chosen.shuffle(rng);
            // Two positions every chosen class has: the drawers of Lake et al.'s protocol.
            let depth = chosen.iter().map(|&c| classes[c].len()).min().unwrap_or(0);
            let mut positions: Vec<usize> = (0..depth).collect();
            positions.shuffle(rng);
            let (query, example) = (positions[0], positions[1]);
            Run {
                queries: chosen.iter().map(|&c| classes[c][query]).collect(),
                examples: chosen.iter().map(|&c| classes[c][example]).collect(),
            }
        })
        .collect()
}

/// The score of each query of a run from its `ways × ways` distance matrix (row = query,
/// column = example, the right example on the diagonal): 1 when its own example is strictly
/// nearest, `1 / t` when it shares the smallest distance with `t − 1` others, else 0. Also
/// returns how many rows had a tie at the top. Distances within [`TIE`] (relative) of the
/// smallest count as tied: the model's own float32 rounding (the same image embedded in two
/// rows of a batch) is no evidence.
pub fn score_run(distances: &[f64], ways: usize) -> (f64, usize) {
    let mut score = 0.0;
    let mut tied = 0;
    for (class, row) in distances.chunks(ways).enumerate() {
        let (s, t) = score_row(row, class);
        score += s;
        tied += usize::from(t);
    }
    (score, tied)
}

/// One query's score against its row of distances when `right` is its own example: 1 when
/// strictly nearest, `1 / t` when tied with `t − 1` others at the smallest distance, else 0;
/// and whether the smallest distance was tied.
pub fn score_row(row: &[f64], right: usize) -> (f64, bool) {
    let min = row.iter().copied().fold(f64::INFINITY, f64::min);
    let near = |d: f64| d == min || d - min <= TIE * min.abs().max(1.0);
    let at_min = row.iter().filter(|&&d| near(d)).count();
    let score = if row.get(right).is_some_and(|&d| near(d)) {
        1.0 / at_min as f64
    } else {
        0.0
    };
    (score, at_min > 1)
}

/// The relative difference under which two distances tie (float32 noise).
pub const TIE: f64 = 1e-6;

fn too_small(group: &str, classes: usize, ways: usize) -> LeftOut {
    LeftOut {
        group: group.to_string(),
        reason: format!("{classes} class(es) with two or more images, fewer than the {ways} ways"),
    }
}

/// Prepares the images of `data` (embeddings under a model, or ink) and runs N-way one-shot
/// classification in every group that has `ways` classes of two images or more.
pub fn evaluate_one_shot(
    measure: &Measure<'_>,
    data: &Path,
    options: &OneShotOptions,
    embed: &EmbedOptions,
    progress: impl FnMut(Progress),
) -> Result<(OneShotResult, Vec<Skipped>)> {
    let invalid = |message: String| Error::Dataset {
        path: data.to_path_buf(),
        message,
    };
    if options.ways < 2 {
        return Err(invalid(format!(
            "--ways must be at least 2, got {}",
            options.ways
        )));
    }
    if options.runs == 0 {
        return Err(invalid("--runs must be at least 1".into()));
    }
    let folder = GroupedFolder::read(data)?;
    // Groups too small are left out before anything is embedded; a group can still fall short
    // after embedding if some of its images do not decode.
    let mut left_out = folder.left_out;
    let mut usable = Vec::new();
    for group in folder.groups {
        let classes = group.images.iter().filter(|imgs| imgs.len() >= 2).count();
        if classes < options.ways {
            left_out.push(too_small(&group.name, classes, options.ways));
        } else {
            usable.push(group);
        }
    }
    if usable.is_empty() {
        let why: Vec<String> = left_out
            .iter()
            .map(|l| format!("{}: {}", l.group, l.reason))
            .collect();
        return Err(invalid(format!(
            "no group can hold a {}-way run ({})",
            options.ways,
            why.join("; ")
        )));
    }
    let paths: Vec<PathBuf> = usable
        .iter()
        .flat_map(|g| g.images.iter().flatten().cloned())
        .collect();
    let done = measure.prepare(&paths, embed, progress)?;
    let row_of: std::collections::HashMap<&PathBuf, usize> =
        done.paths.iter().enumerate().map(|(i, p)| (p, i)).collect();

    let mut rng = dataset::rng(options.seed);
    let mut plans = Vec::new();
    for group in &usable {
        let classes: Vec<Vec<usize>> = group
            .images
            .iter()
            .map(|imgs| {
                imgs.iter()
                    .filter_map(|p| row_of.get(p).copied())
                    .collect::<Vec<_>>()
            })
            .filter(|rows| rows.len() >= 2)
            .collect();
        if classes.len() < options.ways {
            left_out.push(too_small(&group.name, classes.len(), options.ways));
            continue;
        }
        let runs = draw_runs(&classes, options, &mut rng);
        plans.push((group.name.clone(), classes.len(), runs));
    }
    if plans.is_empty() {
        return Err(invalid(format!(
            "no group can hold a {}-way run once the images that do not decode are left out",
            options.ways
        )));
    }
    left_out.sort_by(|a, b| a.group.cmp(&b.group));

    let mut groups = Vec::new();
    let (mut total, mut trials, mut tied_trials) = (0.0, 0, 0);
    for (name, classes, runs) in plans {
        let mut score = 0.0;
        for run in &runs {
            // By the negated logit: the calibrated distance saturates (and ties) far sooner.
            let d = done.distances(&run.queries, &run.examples)?;
            let (s, t) = score_run(&d, options.ways);
            score += s;
            tied_trials += t;
        }
        let n = runs.len() * options.ways;
        total += score;
        trials += n;
        groups.push(GroupResult {
            group: name,
            classes,
            runs: runs.len(),
            trials: n,
            accuracy: score / n as f64,
        });
    }
    let accuracy = total / trials as f64;
    let result = OneShotResult {
        ways: options.ways,
        runs_per_group: options.runs,
        trials,
        accuracy,
        standard_error: (accuracy * (1.0 - accuracy) / trials as f64).sqrt(),
        chance: 1.0 / options.ways as f64,
        tied_trials,
        groups,
        left_out,
        images: done.paths.len(),
        seed: options.seed,
    };
    Ok((result, done.skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_strictly_nearest_own_example_scores_one_and_ties_score_their_expectation() {
        // Row 0: own example nearest. Row 1: another nearer. Row 2: own tied with one other.
        let d = [
            0.1, 0.5, 0.9, //
            0.2, 0.4, 0.9, //
            0.3, 0.9, 0.3,
        ];
        let (score, tied) = score_run(&d, 3);
        assert!((score - 1.5).abs() < 1e-12, "{score}");
        assert_eq!(tied, 1);
        // A saturated head (every distance 1) scores chance, not the first index.
        let (score, tied) = score_run(&[1.0; 16], 4);
        assert!((score - 1.0).abs() < 1e-12, "{score}");
        assert_eq!(tied, 4);
    }

    #[test]
    fn runs_pick_distinct_classes_and_two_distinct_positions_shared_by_the_run() {
        // 6 classes of 5 images: class c holds rows 10c..10c+5.
        let classes: Vec<Vec<usize>> = (0..6).map(|c| (10 * c..10 * c + 5).collect()).collect();
        let options = OneShotOptions {
            ways: 4,
            runs: 50,
            seed: 3,
        };
        let runs = draw_runs(&classes, &options, &mut dataset::rng(3));
        assert_eq!(runs.len(), 50);
        for run in &runs {
            assert_eq!(run.queries.len(), 4);
            let class_of = |row: usize| row / 10;
            let q: Vec<usize> = run.queries.iter().map(|&r| class_of(r)).collect();
            let e: Vec<usize> = run.examples.iter().map(|&r| class_of(r)).collect();
            assert_eq!(q, e, "query and example of a trial share the class");
            let mut distinct = q.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), 4, "no class twice in a run");
            // One query position and one example position for the whole run, never equal.
            let qpos: Vec<usize> = run.queries.iter().map(|r| r % 10).collect();
            let epos: Vec<usize> = run.examples.iter().map(|r| r % 10).collect();
            assert!(qpos.iter().all(|&p| p == qpos[0]) && epos.iter().all(|&p| p == epos[0]));
            assert_ne!(qpos[0], epos[0]);
        }
        assert_eq!(runs, draw_runs(&classes, &options, &mut dataset::rng(3)));
        assert_ne!(runs, draw_runs(&classes, &options, &mut dataset::rng(4)));
    }
}
