//! The numbers behind a report: the evaluated pairs as curves, the example pairs it shows, and
//! the faithfulness scores, all derived from the same pairs `lookalike eval` draws.

use lookalike_core::dataset::Pair;
use lookalike_core::metrics::roc_curve;
use serde::Serialize;

use crate::evaluate::ScoredPairs;
use crate::faithfulness::{MethodScore, RANDOM};

/// The evaluated pairs as the charts need them.
#[derive(Debug, Clone, Serialize)]
pub struct PairScores {
    /// `d` of each pair.
    pub distances: Vec<f64>,
    /// Whether each pair's classes differ.
    pub different: Vec<bool>,
    /// The model's decision threshold on `d`.
    pub threshold: f64,
    /// ROC points (false positive rate, true positive rate) of `d` for "different".
    pub roc: Vec<(f64, f64)>,
    /// The area under it, as `lookalike eval` computes it.
    pub roc_auc: Option<f64>,
    /// Where the threshold puts the model on the curve.
    pub operating_point: (f64, f64),
}

impl PairScores {
    /// The curves of `scored` at `threshold`.
    pub fn new(scored: &ScoredPairs, threshold: f64, roc_auc: Option<f64>) -> Self {
        let different: Vec<bool> = scored.pairs.iter().map(|p| p.different).collect();
        let d = &scored.distances;
        let rate = |want: bool| {
            let total = different.iter().filter(|&&x| x == want).count();
            let called = d
                .iter()
                .zip(&different)
                .filter(|&(&d, &x)| x == want && d >= threshold)
                .count();
            if total == 0 {
                0.0
            } else {
                called as f64 / total as f64
            }
        };
        PairScores {
            roc: roc_curve(d, &different),
            operating_point: (rate(false), rate(true)),
            distances: d.clone(),
            different,
            threshold,
            roc_auc,
        }
    }
}

/// Why a pair was picked as an example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExampleKind {
    /// Called the same, with the smallest distances.
    ConfidentSame,
    /// Called different, with the largest distances.
    ConfidentDifferent,
    /// The distances closest to the threshold, either way.
    NearThreshold,
}

impl ExampleKind {
    /// A heading for the kind.
    pub fn title(self) -> &'static str {
        match self {
            ExampleKind::ConfidentSame => "Confident \u{201c}same\u{201d}",
            ExampleKind::ConfidentDifferent => "Confident \u{201c}different\u{201d}",
            ExampleKind::NearThreshold => "Near the threshold",
        }
    }
}

/// An evaluated pair shown in the report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ExamplePair {
    /// Why it was picked.
    pub kind: ExampleKind,
    /// The pair (indices into the evaluated folder).
    pub pair: Pair,
    /// Its distance.
    pub distance: f64,
}

/// Up to `per_kind` pairs of each kind, no pair twice: the most confident "same" (smallest `d`
/// under the threshold), the most confident "different" (largest `d` at or over it), and the
/// closest to the threshold among the rest.
pub fn pick_examples(scored: &ScoredPairs, threshold: f64, per_kind: usize) -> Vec<ExamplePair> {
    let d = &scored.distances;
    let mut by_distance: Vec<usize> = (0..d.len()).collect();
    by_distance.sort_by(|&i, &j| d[i].total_cmp(&d[j]).then(i.cmp(&j)));
    let mut by_nearness = by_distance.clone();
    by_nearness.sort_by(|&i, &j| {
        let (a, b) = ((d[i] - threshold).abs(), (d[j] - threshold).abs());
        a.total_cmp(&b).then(i.cmp(&j))
    });
    // The paper's pairs hold both (a, b) and (b, a): a pair is shown once, either way round.
    let mut shown: Vec<(usize, usize)> = Vec::new();
    let mut pick = |order: &mut dyn Iterator<Item = usize>, keep: &dyn Fn(usize) -> bool| {
        let mut picked = Vec::new();
        for i in order.filter(|&i| keep(i)) {
            if picked.len() == per_kind {
                break;
            }
            let p = scored.pairs[i];
            let key = (p.a.min(p.b), p.a.max(p.b));
            if !shown.contains(&key) {
                shown.push(key);
                picked.push(i);
            }
        }
        picked
    };
    let same = pick(&mut by_distance.iter().copied(), &|i| d[i] < threshold);
    let different = pick(&mut by_distance.iter().rev().copied(), &|i| {
        d[i] >= threshold
    });
    let near = pick(&mut by_nearness.into_iter(), &|_| true);
    [
        (ExampleKind::ConfidentSame, same),
        (ExampleKind::ConfidentDifferent, different),
        (ExampleKind::NearThreshold, near),
    ]
    .into_iter()
    .flat_map(|(kind, picked)| {
        picked.into_iter().map(move |i| ExamplePair {
            kind,
            pair: scored.pairs[i],
            distance: d[i],
        })
    })
    .collect()
}

/// The first `n` pairs of the evaluation, half same-class and half different, for the
/// faithfulness measures.
pub fn balanced_pairs(scored: &ScoredPairs, n: usize) -> Vec<Pair> {
    let same = scored
        .pairs
        .iter()
        .filter(|p| !p.different)
        .take(n.div_ceil(2));
    let different = scored.pairs.iter().filter(|p| p.different).take(n / 2);
    same.chain(different).copied().collect()
}

/// Faithfulness of every method, the random baseline last.
#[derive(Debug, Clone, Serialize)]
pub struct Faithfulness {
    /// `(method, scores)`, the methods by name, then `random`.
    pub methods: Vec<(String, MethodScore)>,
    /// Same-class pairs measured.
    pub pairs: usize,
    /// Steps of each curve.
    pub steps: usize,
    /// The target layer (backbone units run).
    pub layer: usize,
    /// Mean deletion and insertion curves by method (the normalised logit).
    pub curves: std::collections::BTreeMap<String, [Vec<f64>; 2]>,
}

impl Faithfulness {
    /// Orders `scores` by name with the random baseline last.
    pub fn new(
        scores: std::collections::BTreeMap<String, MethodScore>,
        pairs: usize,
        steps: usize,
        layer: usize,
    ) -> Self {
        let (mut methods, random): (Vec<_>, Vec<_>) =
            scores.into_iter().partition(|(name, _)| name != RANDOM);
        methods.extend(random);
        Faithfulness {
            methods,
            pairs,
            steps,
            layer,
            curves: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(d: &[f64]) -> ScoredPairs {
        ScoredPairs {
            pairs: (0..d.len())
                .map(|i| Pair {
                    a: i,
                    b: i + 100,
                    different: i % 2 == 1,
                })
                .collect(),
            distances: d.to_vec(),
            logits: d.iter().map(|d| -d).collect(),
        }
    }

    #[test]
    fn examples_are_the_extremes_and_the_closest_to_the_threshold() {
        let s = scored(&[0.05, 0.9, 0.45, 0.52, 0.1, 0.99, 0.7]);
        let picked = pick_examples(&s, 0.5, 2);
        let by = |k: ExampleKind| -> Vec<f64> {
            picked
                .iter()
                .filter(|e| e.kind == k)
                .map(|e| e.distance)
                .collect()
        };
        assert_eq!(by(ExampleKind::ConfidentSame), vec![0.05, 0.1]);
        assert_eq!(by(ExampleKind::ConfidentDifferent), vec![0.99, 0.9]);
        assert_eq!(by(ExampleKind::NearThreshold), vec![0.52, 0.45]);
        assert_eq!(picked[0].pair.a, 0);
    }

    #[test]
    fn a_pair_is_shown_once_either_way_round() {
        let s = scored(&[0.2, 0.8]);
        let picked = pick_examples(&s, 0.5, 3);
        assert_eq!(picked.len(), 2);
        assert!(picked.iter().all(|e| e.kind != ExampleKind::NearThreshold));
        let mut s = scored(&[0.45, 0.45, 0.9]);
        s.pairs[1] = Pair {
            a: s.pairs[0].b,
            b: s.pairs[0].a,
            different: false,
        };
        let picked = pick_examples(&s, 0.5, 2);
        let distances: Vec<f64> = picked.iter().map(|e| e.distance).collect();
        assert_eq!(distances, vec![0.45, 0.9], "{picked:?}");
    }

    #[test]
    fn the_operating_point_counts_pairs_called_different() {
        let s = scored(&[0.2, 0.8, 0.6, 0.4]);
        let p = PairScores::new(&s, 0.5, Some(0.75));
        // same-class pairs: 0.2, 0.6 -> one called different; different: 0.8, 0.4 -> one.
        assert_eq!(p.operating_point, (0.5, 0.5));
        assert_eq!(p.roc.last(), Some(&(1.0, 1.0)));
    }
}
