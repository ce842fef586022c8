//! How faithful each explanation method is on a set of pairs: mean deletion and insertion AUC
//! (RISE) of the similarity, with a seeded random map as the baseline. `lookalike
//! eval-explanations` and `lookalike report` both run this.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lookalike_core::image::load_for_model;
use lookalike_core::{DecodeLimits, Preprocess, SimilarityModel};
use lookalike_explain::faithfulness::{curves, random_map};
use lookalike_explain::pair::saliency;
use lookalike_explain::render::upsample;
use lookalike_explain::{
    similarity_gradients, Explainer, GradientPath, Layer, Result, SaliencyMap,
};
use serde::Serialize;

/// The name of the baseline in the scores.
pub const RANDOM: &str = "random";

/// Mean areas of one method.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MethodScore {
    /// Mean area under the deletion curve (lower is better).
    pub deletion_auc: f64,
    /// Mean area under the insertion curve (higher is better).
    pub insertion_auc: f64,
    /// Pairs that counted: the same pairs for every method.
    pub pairs: usize,
    /// Pairs where this method's map was flat (no gradient: a saturated head). A flat map has
    /// nothing to delete in order, so such a pair is left out for every method; otherwise the
    /// methods would be averaged over different pairs.
    pub flat: usize,
}

/// Deletion and insertion AUC of every method in `methods`, and of a random map (named
/// [`RANDOM`], seeded with `seed` plus the pair's number), on the image pairs `pairs`, each
/// curve in `steps` steps. A pair where any method's map is flat is left out for all of them
/// (and counted in [`MethodScore::flat`]), so every mean is over the same pairs; with no pair
/// left, the means are 0 and `pairs` is 0. `progress` is called after each pair.
#[allow(clippy::too_many_arguments)]
pub fn score_methods(
    model: &SimilarityModel,
    pairs: &[(PathBuf, PathBuf)],
    methods: &[&dyn Explainer],
    layer: Layer,
    steps: usize,
    seed: u64,
    preprocess: &Preprocess,
    mut progress: impl FnMut(usize),
) -> Result<BTreeMap<String, MethodScore>> {
    let mut scores: BTreeMap<String, MethodScore> = BTreeMap::new();
    let limits = DecodeLimits::default();
    for (i, (path_a, path_b)) in pairs.iter().enumerate() {
        let (crop, a) = load_for_model(path_a, &limits, preprocess)?;
        let (_, b) = load_for_model(path_b, &limits, preprocess)?;
        let grads = similarity_gradients(model, &a, &b, layer, GradientPath::Auto)?;
        let (w, h) = crop.dimensions();
        let mut maps: Vec<(String, SaliencyMap)> = Vec::new();
        for m in methods {
            let map = saliency(*m, &grads, &[1.0])?.swap_remove(0);
            maps.push((m.name().to_string(), map));
        }
        if let Some((_, first)) = maps.first() {
            let noise = random_map(first.height * first.width, seed.wrapping_add(i as u64));
            let random = SaliencyMap::from_raw(first.height, first.width, &noise);
            maps.push((RANDOM.into(), random));
        }
        let any_flat = maps.iter().any(|(_, map)| map.flat);
        for (name, map) in &maps {
            let s = scores.entry(name.clone()).or_default();
            if map.flat {
                s.flat += 1;
            }
            if any_flat {
                continue;
            }
            let heat = upsample(map, w, h)?;
            let c = curves(model, &a, &b, &heat, steps)?;
            s.deletion_auc += c.deletion_auc;
            s.insertion_auc += c.insertion_auc;
            s.pairs += 1;
        }
        progress(i + 1);
    }
    for s in scores.values_mut() {
        let n = s.pairs.max(1) as f64;
        s.deletion_auc /= n;
        s.insertion_auc /= n;
    }
    Ok(scores)
}
