//! Lake et al.'s own one-shot test: the 20 runs of Omniglot's `all_runs.zip`.
//!
//! `DIR/runNN/` holds `training/` (20 images, one per character: the examples), `test/` (20
//! images by another drawer: the queries) and `class_labels.txt`, whose lines are
//! `runNN/test/itemYY.png runNN/training/classZZ.png` (paths relative to `DIR`): each query and
//! its right example. Each query independently takes the example at the smallest distance (no
//! one-to-one assignment); a run's error is the fraction of queries it gets wrong (a tie at the
//! top scores its expectation), and the figure is the mean over runs.

use std::path::{Path, PathBuf};

use lookalike_core::image::find_images;
use lookalike_core::{Error, Result};
use serde::Serialize;

use super::{score_row, Measure};
use crate::embed::{EmbedOptions, Progress};

/// The name of a run's answer file.
pub const LABELS_FILE: &str = "class_labels.txt";

/// One of Lake's runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeRun {
    /// The run folder's name (`run01`).
    pub name: String,
    /// The examples: every image of `training/`, sorted.
    pub examples: Vec<PathBuf>,
    /// The queries, in the order of `class_labels.txt`.
    pub queries: Vec<PathBuf>,
    /// For each query, the index of its right example in `examples`.
    pub answers: Vec<usize>,
}

/// Reads every `runNN` folder of `dir`. Anything not in the format is an error naming the
/// folder, the file or the line.
pub fn read_lake_runs(dir: &Path) -> Result<Vec<LakeRun>> {
    let bad = |path: &Path, message: String| Error::Dataset {
        path: path.to_path_buf(),
        message,
    };
    let entries =
        std::fs::read_dir(dir).map_err(|e| bad(dir, format!("cannot read the folder: {e}")))?;
    let mut run_dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && is_run_name(&name_of(p)))
        .collect();
    run_dirs.sort();
    if run_dirs.is_empty() {
        return Err(bad(
            dir,
            format!(
                "not in Lake's all_runs format: no runNN folders (each holds {LABELS_FILE}, \
                 training/ and test/)"
            ),
        ));
    }
    run_dirs.iter().map(|r| read_run(dir, r)).collect()
}

fn read_run(dir: &Path, run: &Path) -> Result<LakeRun> {
    let bad = |path: &Path, message: String| Error::Dataset {
        path: path.to_path_buf(),
        message,
    };
    let labels = run.join(LABELS_FILE);
    let text = std::fs::read_to_string(&labels).map_err(|e| {
        bad(
            &labels,
            format!("not in Lake's all_runs format: cannot read {LABELS_FILE}: {e}"),
        )
    })?;
    let training = run.join("training");
    if !training.is_dir() || !run.join("test").is_dir() {
        return Err(bad(
            run,
            "not in Lake's all_runs format: a run holds training/ and test/ folders".into(),
        ));
    }
    let examples = find_images(&training)?;
    let mut out = LakeRun {
        name: name_of(run),
        examples,
        queries: Vec::new(),
        answers: Vec::new(),
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let at = |m: String| bad(&labels, format!("line {}: {m}", n + 1));
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [query, example] = parts[..] else {
            return Err(at(format!(
                "expected `runNN/test/itemYY.png runNN/training/classZZ.png`, got {line:?}"
            )));
        };
        let (query, example) = (dir.join(query), dir.join(example));
        if !query.is_file() {
            return Err(at(format!("no such test image {}", query.display())));
        }
        let Some(answer) = out.examples.iter().position(|e| same_file(e, &example)) else {
            return Err(at(format!(
                "{} is not an image of {}",
                example.display(),
                training.display()
            )));
        };
        out.queries.push(query);
        out.answers.push(answer);
    }
    if out.queries.is_empty() {
        return Err(bad(&labels, "lists no test image".into()));
    }
    Ok(out)
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn is_run_name(name: &str) -> bool {
    name.strip_prefix("run")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// One run's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct LakeRunResult {
    /// The run's folder name.
    pub run: String,
    /// Queries.
    pub trials: usize,
    /// Candidate examples.
    pub examples: usize,
    /// The fraction of queries classified wrong.
    pub error: f64,
    /// Queries whose smallest distance was shared.
    pub tied_trials: usize,
}

/// What `eval-oneshot --lake-runs` reports.
#[derive(Debug, Clone, Serialize)]
pub struct LakeResult {
    /// The mean over runs of `1 − error`.
    pub accuracy: f64,
    /// The mean error over runs.
    pub mean_error: f64,
    /// The standard error of the mean over runs.
    pub standard_error: f64,
    /// Per run.
    pub runs: Vec<LakeRunResult>,
    /// Images prepared.
    pub images: usize,
    /// What measured the distances.
    pub measure: String,
}

/// Scores `measure` on the runs of `dir`. Every image must decode: a run with a missing
/// image could not be scored as Lake scores it.
pub fn evaluate_lake_runs(
    measure: &Measure<'_>,
    dir: &Path,
    embed: &EmbedOptions,
    progress: impl FnMut(Progress),
) -> Result<LakeResult> {
    let runs = read_lake_runs(dir)?;
    let mut paths: Vec<PathBuf> = runs
        .iter()
        .flat_map(|r| r.examples.iter().chain(&r.queries).cloned())
        .collect();
    paths.sort();
    paths.dedup();
    let mut prepared = measure.prepare(&paths, embed, progress)?;
    if let Some(s) = std::mem::take(&mut prepared.skipped).into_iter().next() {
        return Err(s.error.into());
    }
    let row_of: std::collections::HashMap<&PathBuf, usize> = prepared
        .paths
        .iter()
        .enumerate()
        .map(|(i, p)| (p, i))
        .collect();
    let rows = |ps: &[PathBuf]| ps.iter().map(|p| row_of[p]).collect::<Vec<_>>();
    let mut results = Vec::new();
    for run in &runs {
        let d = prepared.distances(&rows(&run.queries), &rows(&run.examples))?;
        let (mut right, mut tied) = (0.0, 0);
        for (row, &answer) in d.chunks(run.examples.len()).zip(&run.answers) {
            let (s, t) = score_row(row, answer);
            right += s;
            tied += usize::from(t);
        }
        results.push(LakeRunResult {
            run: run.name.clone(),
            trials: run.queries.len(),
            examples: run.examples.len(),
            error: 1.0 - right / run.queries.len() as f64,
            tied_trials: tied,
        });
    }
    let n = results.len() as f64;
    let mean_error = results.iter().map(|r| r.error).sum::<f64>() / n;
    let var = results
        .iter()
        .map(|r| (r.error - mean_error).powi(2))
        .sum::<f64>()
        / (n - 1.0).max(1.0);
    Ok(LakeResult {
        accuracy: 1.0 - mean_error,
        mean_error,
        standard_error: (var / n).sqrt(),
        runs: results,
        images: paths.len(),
        measure: measure.describe(),
    })
}
