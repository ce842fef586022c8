//! Keeping the best `k` of a stream of scored ids, with a deterministic order.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::PointId;

/// The `k` highest scores seen so far; ties go to the smaller id.
#[derive(Debug)]
pub struct TopK {
    k: usize,
    // A min-heap by "goodness": the worst kept entry is on top.
    heap: BinaryHeap<Entry>,
}

#[derive(Debug, PartialEq)]
struct Entry {
    score: f32,
    id: PointId,
}

impl Eq for Entry {}

impl Ord for Entry {
    // "Greater" means worse, so the heap's top is the worst entry.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl TopK {
    /// Keeps at most `k`.
    pub fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// Offers one scored id.
    pub fn push(&mut self, id: PointId, score: f32) {
        if self.k == 0 || score.is_nan() {
            return;
        }
        let entry = Entry { score, id };
        if self.heap.len() < self.k {
            self.heap.push(entry);
        } else if let Some(worst) = self.heap.peek() {
            if entry < *worst {
                self.heap.pop();
                self.heap.push(entry);
            }
        }
    }

    /// The kept entries, best first.
    pub fn into_sorted(self) -> Vec<(PointId, f32)> {
        let mut v: Vec<Entry> = self.heap.into_vec();
        v.sort();
        v.into_iter().map(|e| (e.id, e.score)).collect()
    }
}

/// Sorts hits best first (descending score, then ascending id).
pub fn sort_scored(v: &mut [(PointId, f32)]) {
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_best_in_order() {
        let mut top = TopK::new(3);
        for (id, s) in [
            (1, 0.5),
            (2, 0.9),
            (3, 0.1),
            (4, 0.9),
            (5, 0.7),
            (6, f32::NAN),
        ] {
            top.push(id, s);
        }
        assert_eq!(top.into_sorted(), vec![(2, 0.9), (4, 0.9), (5, 0.7)]);
        let mut none = TopK::new(0);
        none.push(1, 1.0);
        assert!(none.into_sorted().is_empty());
    }
}
