//! How good a similarity model is, in plain Rust.
//!
//! Pair metrics treat "different class" as the positive class and the distance `d` as its score:
//! accuracy, ROC AUC over the continuous scores of the whole set (ties get average ranks), and
//! precision, recall and F1 for "dissimilar". Retrieval metrics rank every other image for each
//! query by distance: precision@k and mean average precision.

use serde::Serialize;

/// Pair classification quality.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PairMetrics {
    /// Fraction of pairs decided right (`d ≥ threshold` means "different").
    pub pair_accuracy: f64,
    /// ROC AUC of `d` for "different"; `None` when the pairs hold only one kind.
    pub roc_auc: Option<f64>,
    /// Precision for "dissimilar".
    pub precision: f64,
    /// Recall for "dissimilar".
    pub recall: f64,
    /// F1 for "dissimilar".
    pub f1: f64,
    /// Number of pairs.
    pub pairs: usize,
}

/// Pair metrics for distances `d` with `different[i]` the truth of pair `i`.
pub fn pair_metrics(d: &[f64], different: &[bool], threshold: f64) -> PairMetrics {
    assert_eq!(d.len(), different.len(), "one truth per distance");
    let (mut tp, mut fp, mut tn, mut fun) = (0usize, 0usize, 0usize, 0usize);
    for (&x, &y) in d.iter().zip(different) {
        match (x >= threshold, y) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, false) => tn += 1,
            (false, true) => fun += 1,
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fun);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    PairMetrics {
        pair_accuracy: ratio(tp + tn, d.len()),
        roc_auc: roc_auc(d, different),
        precision,
        recall,
        f1,
        pairs: d.len(),
    }
}

/// ROC AUC: the probability that a random positive scores above a random negative (ties count
/// half), by the Mann–Whitney rank sum. `None` without both classes.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += order[i..=j].iter().filter(|&&k| positive[k]).count() as f64 * avg_rank;
        i = j + 1;
    }
    let u = rank_sum - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}

/// The ROC curve of `scores` for `positive`: `(false positive rate, true positive rate)` points
/// from (0, 0) to (1, 1), one per distinct score, thresholds from the highest score down (tied
/// scores move together, so the trapezoid area under it is [`roc_auc`]). Empty without both
/// classes.
pub fn roc_curve(scores: &[f64], positive: &[bool]) -> Vec<(f64, f64)> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut points = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            if positive[order[j]] {
                tp += 1;
            } else {
                fp += 1;
            }
            j += 1;
        }
        points.push((fp as f64 / n_neg as f64, tp as f64 / n_pos as f64));
        i = j;
    }
    points
}

/// Retrieval quality.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RetrievalMetrics {
    /// Mean over queries of the fraction of same-class images among the first `k`.
    pub precision_at_k: f64,
    /// Mean over queries (with at least one same-class image) of average precision.
    pub map: f64,
    /// The `k` of precision@k.
    pub k: usize,
}

/// Every image queries all the others; `distances` is `n × n`, row-major.
pub fn retrieval_metrics(distances: &[f64], labels: &[usize], k: usize) -> RetrievalMetrics {
    let n = labels.len();
    assert_eq!(distances.len(), n * n, "an n × n distance matrix");
    let (mut p_sum, mut ap_sum, mut ap_count) = (0.0, 0.0, 0usize);
    for q in 0..n {
        let row = &distances[q * n..(q + 1) * n];
        let mut others: Vec<usize> = (0..n).filter(|&j| j != q).collect();
        others.sort_by(|&a, &b| row[a].total_cmp(&row[b]).then(a.cmp(&b)));
        let relevant: Vec<bool> = others.iter().map(|&j| labels[j] == labels[q]).collect();
        let top = k.min(others.len());
        if top > 0 {
            p_sum += relevant[..top].iter().filter(|&&r| r).count() as f64 / top as f64;
        }
        let (mut hits, mut sum) = (0usize, 0.0);
        for (rank, &r) in relevant.iter().enumerate() {
            if r {
                hits += 1;
                sum += hits as f64 / (rank + 1) as f64;
            }
        }
        if hits > 0 {
            ap_sum += sum / hits as f64;
            ap_count += 1;
        }
    }
    RetrievalMetrics {
        precision_at_k: if n == 0 { 0.0 } else { p_sum / n as f64 },
        map: if ap_count == 0 {
            0.0
        } else {
            ap_sum / ap_count as f64
        },
        k,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_area_under_the_roc_curve_is_the_auc() {
        let d = [0.1, 0.4, 0.6, 0.8, 0.3, 0.9, 0.4];
        let y = [false, true, false, true, false, true, false];
        let curve = roc_curve(&d, &y);
        assert_eq!(curve.first(), Some(&(0.0, 0.0)));
        assert_eq!(curve.last(), Some(&(1.0, 1.0)));
        let area: f64 = curve
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
            .sum();
        assert!((area - roc_auc(&d, &y).unwrap()).abs() < 1e-12);
        assert!(roc_curve(&d, &[false; 7]).is_empty());
    }

    #[test]
    fn pair_metrics_by_hand() {
        // d:      0.1   0.4   0.6   0.8   0.3   0.9
        // truth:  same  diff  same  diff  same  diff   (threshold 0.5)
        // decide: same  same  diff  diff  same  diff  -> TP 2, FP 1, TN 2, FN 1
        let d = [0.1, 0.4, 0.6, 0.8, 0.3, 0.9];
        let y = [false, true, false, true, false, true];
        let m = pair_metrics(&d, &y, 0.5);
        assert_eq!(m.pairs, 6);
        assert!((m.pair_accuracy - 4.0 / 6.0).abs() < 1e-12);
        assert!((m.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.f1 - 2.0 / 3.0).abs() < 1e-12);
        // Positives 0.4, 0.8, 0.9 against negatives 0.1, 0.3, 0.6: 8 of 9 orderings right.
        assert!((m.roc_auc.unwrap() - 8.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn auc_counts_ties_as_half_and_needs_both_classes() {
        assert_eq!(roc_auc(&[0.5, 0.5], &[true, false]), Some(0.5));
        assert_eq!(roc_auc(&[0.1, 0.9], &[true, false]), Some(0.0));
        assert_eq!(roc_auc(&[0.1, 0.9], &[true, true]), None);
    }

    #[test]
    fn retrieval_metrics_by_hand() {
        // Three images, labels A A B. Distances: 0-1 close, 0-2 far, 1-2 closer than 1-0.
        let d = [
            0.0, 0.1, 0.9, //
            0.1, 0.0, 0.05, //
            0.9, 0.05, 0.0,
        ];
        let m = retrieval_metrics(&d, &[0, 0, 1], 1);
        // Query 0: top-1 is 1 (A, hit). Query 1: top-1 is 2 (B, miss). Query 2: top-1 is 1 (miss).
        assert!((m.precision_at_k - 1.0 / 3.0).abs() < 1e-12);
        // AP: query 0 = 1; query 1: relevant 0 at rank 2 -> 1/2; query 2 has none (skipped).
        assert!((m.map - 0.75).abs() < 1e-12);
    }
}
