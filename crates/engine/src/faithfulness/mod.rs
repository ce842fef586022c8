//! How faithful each explanation method is on a set of pairs, by RISE's deletion and insertion
//! ([`lookalike_explain::faithfulness`]), against smooth random maps, with bootstrap intervals
//! and the results grouped by the pair's starting similarity. `lookalike eval-explanations`
//! and `lookalike report` both run this.
//!
//! The protocol, stated in every result ([`Protocol`]):
//! - each method's signed map of the evidence for similarity (the map towards "same" minus the map
//!   towards "different", [`MapOrder::Signed`]), or the map shown to a user (the similarity
//!   direction after ReLU, [`MapOrder::Shown`]), upsampled bilinearly to the image;
//! - deletion to the mean colour and insertion from a Gaussian blur, `steps` steps;
//! - scored by the head's logit and by the similarity, from the same forward passes;
//! - per pair, every curve min-max rescaled by the smallest and largest score any method's curve
//!   of that pair reached (`normalise: pair`, SANE's per-pair normalisation; one scale for all
//!   methods of a pair, so their areas stay comparable): logits of different pairs live on
//!   different scales, and a ratio of raw logit areas would mean nothing;
//! - the baseline `random` is the mean over `random_seeds` smooth random maps at the
//!   explainer's grid, upsampled like the real maps;
//! - a pair where any method's map is flat is left out for every method.

mod order;
mod stats;

use order::similarity_maps;
pub use order::MapOrder;

use std::collections::BTreeMap;
use std::path::PathBuf;

use lookalike_core::image::load_for_model;
use lookalike_core::{DecodeLimits, Preprocess, SimilarityModel};
use lookalike_explain::faithfulness::{auc, curves, random_map, Curves, Mode, Scores};
use lookalike_explain::render::upsample;
use lookalike_explain::{
    explain_batch_with, ExplainOptions, Explainer, GradientPath, Layer, Result, SaliencyMap,
};
use serde::Serialize;

/// The name of the baseline in the scores.
pub const RANDOM: &str = "random";
/// The scores every curve records.
pub const SCORES: [&str; 2] = ["logit", "similarity"];
/// The starting-similarity groups' edges.
pub const GROUPS: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0 + 1e-9];

/// How the curves are made and scored.
#[derive(Debug, Clone, Serialize)]
pub struct Protocol {
    /// What the maps explain and RISE's masks.
    #[serde(skip)]
    pub explain: ExplainOptions,
    /// The maps' target, as named.
    pub target: &'static str,
    /// The target layer.
    #[serde(skip)]
    pub layer: Layer,
    /// Steps of each curve (`1/steps` of the pixels each).
    pub steps: usize,
    /// Which map orders the pixels.
    pub order: MapOrder,
    /// Conditional (image A perturbed) or simultaneous (both).
    pub mode: Mode,
    /// Per-pair min-max rescaling of the curves, one scale for all methods of a pair.
    pub normalise: bool,
    /// The score the `methods` table ranks by: `logit` or `similarity`.
    pub score: &'static str,
    /// Smooth random maps averaged into the baseline.
    pub random_seeds: usize,
    /// Seed of the baseline and the bootstrap.
    pub seed: u64,
    /// In words.
    pub deletion: &'static str,
    /// In words.
    pub insertion: &'static str,
}

impl Protocol {
    /// RISE's deletion and insertion, conditional, normalised per pair, scored by the logit.
    pub fn new(layer: Layer, steps: usize, seed: u64) -> Self {
        Protocol {
            // Conditional: only A is perturbed, so only A's maps are needed.
            explain: ExplainOptions {
                only_a: true,
                ..ExplainOptions::default()
            },
            target: "logit",
            layer,
            steps,
            order: MapOrder::Signed,
            mode: Mode::Conditional,
            normalise: true,
            score: "logit",
            random_seeds: 3,
            seed,
            deletion: "pixels replaced by the ImageNet mean colour, most salient first",
            insertion:
                "pixels restored into a Gaussian blur (kernel 11, sigma 5), most salient first",
        }
    }
}

/// One method's areas, with 95% bootstrap intervals over pairs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MethodScore {
    /// Mean area under the deletion curve (lower is better).
    pub deletion_auc: f64,
    /// Mean area under the insertion curve (higher is better).
    pub insertion_auc: f64,
    /// Its 95% interval.
    pub deletion_ci: [f64; 2],
    /// Its 95% interval.
    pub insertion_ci: [f64; 2],
    /// Mean deletion area over the random baseline's (below 1 beats random).
    pub deletion_ratio: f64,
    /// Its 95% interval (paired bootstrap).
    pub deletion_ratio_ci: [f64; 2],
    /// Mean insertion area over the random baseline's (above 1 beats random).
    pub insertion_ratio: f64,
    /// Its 95% interval (paired bootstrap).
    pub insertion_ratio_ci: [f64; 2],
    /// Pairs that counted: the same pairs for every method.
    pub pairs: usize,
    /// Pairs where this method's map was flat (left out for every method).
    pub flat: usize,
}

/// The methods' mean areas over the pairs whose starting similarity lies in one range.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// `[from, to)` of the starting similarity.
    pub similarity: [f64; 2],
    /// Pairs in it.
    pub pairs: usize,
    /// Mean deletion and insertion area by method (the primary score).
    pub methods: BTreeMap<String, [f64; 2]>,
}

/// The whole measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Faithfulness {
    /// How it was measured.
    pub protocol: Protocol,
    /// Pairs asked for.
    pub pairs: usize,
    /// Pairs left out: a flat map, or a pair whose score does not move when fully perturbed.
    pub left_out: usize,
    /// By method, on the primary score; the baseline is [`RANDOM`].
    pub methods: BTreeMap<String, MethodScore>,
    /// The same for each score (`logit`, `similarity`).
    pub by_score: BTreeMap<String, BTreeMap<String, MethodScore>>,
    /// By starting similarity.
    pub groups: Vec<Group>,
    /// The mean curves by method (primary score), deletion then insertion, for plots.
    pub curves: BTreeMap<String, [Vec<f64>; 2]>,
}

/// One method's areas and mean curves on one pair: name, deletion area, insertion area, the
/// deletion curve, the insertion curve.
type MethodCurves = (String, f64, f64, Vec<f64>, Vec<f64>);

/// Per pair and method, the two areas for each score, and the mean curves.
#[derive(Default)]
struct Tally {
    /// `[score][method]` → per-pair (deletion, insertion).
    areas: BTreeMap<(usize, String), Vec<(f64, f64)>>,
    /// Starting similarity of each kept pair.
    start: Vec<f64>,
    /// Flat maps by method.
    flat: BTreeMap<String, usize>,
    /// Summed curves by method (primary score).
    curves: BTreeMap<String, [Vec<f64>; 2]>,
    left_out: usize,
}

fn score_of(s: &Scores, which: usize) -> &[f64] {
    if which == 0 {
        &s.logit
    } else {
        &s.similarity
    }
}

/// Per pair and score, the smallest and largest value over every curve of every method (the
/// baseline's included), deletion and insertion separately: the pair's min-max scale (SANE's
/// per-pair normalisation), the same for every method so that their areas stay comparable.
fn pair_scale(all: &[(String, Vec<Curves>)], which: usize, insertion: bool) -> Option<(f64, f64)> {
    let (lo, hi) = all
        .iter()
        .flat_map(|(_, cs)| cs.iter())
        .flat_map(|c| {
            score_of(if insertion { &c.insertion } else { &c.deletion }, which)
                .iter()
                .copied()
        })
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    (hi - lo > 1e-9 * hi.abs().max(1.0)).then_some((lo, hi))
}

/// `(deletion, insertion)` curves of `c` under score `which`, rescaled by the pair's scales.
fn areas(c: &Curves, which: usize, scale: Option<[(f64, f64); 2]>) -> (Vec<f64>, Vec<f64>) {
    let del = score_of(&c.deletion, which);
    let ins = score_of(&c.insertion, which);
    match scale {
        None => (del.to_vec(), ins.to_vec()),
        Some([(dl, dh), (il, ih)]) => (
            del.iter().map(|v| (v - dl) / (dh - dl)).collect(),
            ins.iter().map(|v| (v - il) / (ih - il)).collect(),
        ),
    }
}

/// Deletion and insertion areas of every method in `methods` and of the smooth random
/// baseline ([`RANDOM`]) on the image pairs `pairs`. `progress` is called after each pair.
pub fn score_methods(
    model: &SimilarityModel,
    pairs: &[(PathBuf, PathBuf)],
    methods: &[&dyn Explainer],
    protocol: &Protocol,
    preprocess: &Preprocess,
    mut progress: impl FnMut(usize),
) -> Result<Faithfulness> {
    let limits = DecodeLimits::default();
    let mut tally = Tally::default();
    let simultaneous = protocol.mode == Mode::Simultaneous;
    let steps = protocol.steps;
    for (i, (path_a, path_b)) in pairs.iter().enumerate() {
        let (crop_a, a) = load_for_model(path_a, &limits, preprocess)?;
        let (crop_b, b) = load_for_model(path_b, &limits, preprocess)?;
        let mut maps: Vec<(String, SaliencyMap, SaliencyMap)> = Vec::new();
        let mut start = None;
        for m in methods {
            let e = explain_batch_with(
                model,
                &a,
                &b,
                *m,
                protocol.layer,
                GradientPath::Auto,
                &protocol.explain,
            )?
            .swap_remove(0);
            start.get_or_insert(e.similarity);
            let (ma, mb) = similarity_maps(&e, protocol.order);
            maps.push((m.name().to_string(), ma, mb));
        }
        let any_flat = maps
            .iter()
            .any(|(_, ma, mb)| ma.flat || (simultaneous && mb.flat));
        for (name, ma, mb) in &maps {
            if ma.flat || (simultaneous && mb.flat) {
                *tally.flat.entry(name.clone()).or_default() += 1;
            }
        }
        if any_flat || maps.is_empty() {
            tally.left_out += 1;
            progress(i + 1);
            continue;
        }
        let grid = (maps[0].1.height, maps[0].1.width);
        let (wa, ha) = crop_a.dimensions();
        let (wb, hb) = crop_b.dimensions();
        // Each method's curves, then the random baseline's (several seeds, averaged).
        let mut all: Vec<(String, Vec<Curves>)> = Vec::new();
        for (name, ma, mb) in &maps {
            let heat_a = upsample(ma, wa, ha)?;
            let heat_b = if simultaneous {
                Some(upsample(mb, wb, hb)?)
            } else {
                None
            };
            all.push((
                name.clone(),
                vec![curves(model, &a, &b, &heat_a, heat_b.as_deref(), steps)?],
            ));
        }
        let mut random = Vec::new();
        for r in 0..protocol.random_seeds.max(1) {
            let seed = protocol.seed.wrapping_add(1000 * i as u64 + r as u64);
            let map =
                |s: u64| SaliencyMap::from_raw(grid.0, grid.1, &random_map(grid.0, grid.1, s));
            let heat_a = upsample(&map(seed), wa, ha)?;
            let heat_b = if simultaneous {
                Some(upsample(&map(seed ^ 0xB), wb, hb)?)
            } else {
                None
            };
            random.push(curves(model, &a, &b, &heat_a, heat_b.as_deref(), steps)?);
        }
        all.push((RANDOM.to_string(), random));
        // Every method must have a usable curve under both scores, or the pair is left out.
        let mut per_score: Vec<Vec<MethodCurves>> = Vec::new();
        let mut usable = true;
        for which in 0..SCORES.len() {
            let scale = if protocol.normalise {
                match (
                    pair_scale(&all, which, false),
                    pair_scale(&all, which, true),
                ) {
                    (Some(d), Some(i)) => Some([d, i]),
                    _ => {
                        usable = false;
                        break;
                    }
                }
            } else {
                None
            };
            let mut row = Vec::new();
            for (name, cs) in &all {
                let mut d_sum = vec![0.0; steps + 1];
                let mut i_sum = vec![0.0; steps + 1];
                for c in cs {
                    let (d, ins) = areas(c, which, scale);
                    for k in 0..=steps {
                        d_sum[k] += d[k] / cs.len() as f64;
                        i_sum[k] += ins[k] / cs.len() as f64;
                    }
                }
                row.push((name.clone(), auc(&d_sum), auc(&i_sum), d_sum, i_sum));
            }
            per_score.push(row);
        }
        if !usable {
            tally.left_out += 1;
            progress(i + 1);
            continue;
        }
        let primary = SCORES
            .iter()
            .position(|s| *s == protocol.score)
            .unwrap_or(0);
        for (which, row) in per_score.into_iter().enumerate() {
            for (name, d, ins, dc, ic) in row {
                tally
                    .areas
                    .entry((which, name.clone()))
                    .or_default()
                    .push((d, ins));
                if which == primary {
                    let sums = tally
                        .curves
                        .entry(name)
                        .or_insert_with(|| [vec![0.0; steps + 1], vec![0.0; steps + 1]]);
                    for k in 0..=steps {
                        sums[0][k] += dc[k];
                        sums[1][k] += ic[k];
                    }
                }
            }
        }
        tally.start.push(start.unwrap_or(0.0));
        progress(i + 1);
    }
    Ok(summarise(tally, protocol, pairs.len()))
}

fn summarise(tally: Tally, protocol: &Protocol, asked: usize) -> Faithfulness {
    let kept = tally.start.len();
    let primary = SCORES
        .iter()
        .position(|s| *s == protocol.score)
        .unwrap_or(0);
    let mut by_score = BTreeMap::new();
    for (which, score) in SCORES.iter().enumerate() {
        let random = tally
            .areas
            .get(&(which, RANDOM.to_string()))
            .cloned()
            .unwrap_or_default();
        let (rd, ri): (Vec<f64>, Vec<f64>) = random.iter().copied().unzip();
        let mut table = BTreeMap::new();
        for ((w, name), values) in &tally.areas {
            if *w != which {
                continue;
            }
            let (d, i): (Vec<f64>, Vec<f64>) = values.iter().copied().unzip();
            let seed = protocol.seed ^ (which as u64 + 1);
            let n = d.len();
            let ratio = |x: &[f64], base: &[f64], s: &[usize]| {
                stats::mean_of(x, s) / stats::mean_of(base, s)
            };
            table.insert(
                name.clone(),
                MethodScore {
                    deletion_auc: stats::mean(&d),
                    insertion_auc: stats::mean(&i),
                    deletion_ci: stats::bootstrap(n, seed, |s| stats::mean_of(&d, s)),
                    insertion_ci: stats::bootstrap(n, seed, |s| stats::mean_of(&i, s)),
                    deletion_ratio: stats::mean(&d) / stats::mean(&rd),
                    deletion_ratio_ci: stats::bootstrap(n, seed, |s| ratio(&d, &rd, s)),
                    insertion_ratio: stats::mean(&i) / stats::mean(&ri),
                    insertion_ratio_ci: stats::bootstrap(n, seed, |s| ratio(&i, &ri, s)),
                    pairs: n,
                    flat: tally.flat.get(name).copied().unwrap_or(0),
                },
            );
        }
        // A method flat on every pair still gets a row, with no pairs.
        for (name, flat) in &tally.flat {
            table.entry(name.clone()).or_insert_with(|| MethodScore {
                flat: *flat,
                ..MethodScore::default()
            });
        }
        by_score.insert(score.to_string(), table);
    }
    let groups = GROUPS
        .windows(2)
        .map(|edge| {
            let members: Vec<usize> = (0..kept)
                .filter(|&p| edge[0] <= tally.start[p] && tally.start[p] < edge[1])
                .collect();
            let methods = tally
                .areas
                .iter()
                .filter(|((w, _), _)| *w == primary)
                .map(|((_, name), v)| {
                    let d: Vec<f64> = members.iter().map(|&p| v[p].0).collect();
                    let i: Vec<f64> = members.iter().map(|&p| v[p].1).collect();
                    (name.clone(), [stats::mean(&d), stats::mean(&i)])
                })
                .collect();
            Group {
                similarity: [edge[0], edge[1].min(1.0)],
                pairs: members.len(),
                methods,
            }
        })
        .collect();
    let curves = tally
        .curves
        .into_iter()
        .map(|(name, [d, i])| {
            let n = kept.max(1) as f64;
            (
                name,
                [
                    d.iter().map(|v| v / n).collect(),
                    i.iter().map(|v| v / n).collect(),
                ],
            )
        })
        .collect();
    Faithfulness {
        protocol: protocol.clone(),
        pairs: asked,
        left_out: tally.left_out,
        methods: by_score.get(protocol.score).cloned().unwrap_or_default(),
        by_score,
        groups,
        curves,
    }
}
