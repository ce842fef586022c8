//! A sealed layout kept in memory: a snapshot of the mutable hnsw_rs graph, searched by the same
//! loop as a segment file, and an exact scan for the few points newer than the snapshot.
//!
//! hnsw_rs's own search costs a fixed ≈ 250 µs per query (a `HashMap` visited set per layer,
//! `Arc`s per neighbour) however small its graph, which made a store with a few unsealed points
//! 4× slower than a sealed one. The mutable part is instead read out into this layout (the same
//! [`Builder`] as sealing, without the file) and searched by our loop; points inserted since are
//! scanned exactly until the next snapshot.

use std::collections::BinaryHeap;

use super::kernel::Kind;
use super::search::{self, Scored};
use super::{view_of, Builder};
use crate::{Metric, PointId};

/// A graph in the sealed layout, in memory.
pub struct Flat {
    builder: Builder,
}

impl std::fmt::Debug for Flat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flat").field("points", &self.len()).finish()
    }
}

impl Builder {
    /// Keeps the laid-out graph in memory, to be searched without a file.
    pub fn into_flat(self) -> Flat {
        Flat { builder: self }
    }
}

impl Flat {
    /// Nodes.
    pub fn len(&self) -> usize {
        self.builder.ids.len()
    }

    /// The `k` nearest points accepted by `keep`, nearest first, as `(id, distance)` in the
    /// store's metric, searching with a beam of `ef`.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        keep: Option<&dyn Fn(PointId) -> bool>,
    ) -> Vec<(PointId, f32)> {
        let b = &self.builder;
        let view = view_of(&b.header, &b.nodes, &b.upper_start, &b.upper);
        let ids = &b.ids;
        let accept = |node: u32| keep.is_none_or(|keep| keep(ids[node as usize]));
        search::search(&view, query, k, ef, keep.is_some(), &accept)
            .into_iter()
            .map(|(node, key)| (ids[node as usize], view.kind.to_distance(key)))
            .collect()
    }
}

/// The `k` nearest of `vectors` (`dim` floats each) to `query` whose index `accept` admits,
/// nearest first, as `(index, distance)` in `metric`'s distance: an exact scan.
pub fn nearest_exact(
    metric: Metric,
    vectors: &[f32],
    dim: usize,
    query: &[f32],
    k: usize,
    accept: &dyn Fn(usize) -> bool,
) -> Vec<(usize, f32)> {
    if k == 0 || dim == 0 || query.len() != dim {
        return Vec::new();
    }
    let kind = Kind::of(metric);
    let mut found = pulp::Arch::new().dispatch(Scan {
        kind,
        vectors,
        dim,
        query,
        k,
        accept,
    });
    found.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    found
        .into_iter()
        .map(|(i, key)| (i, kind.to_distance(key)))
        .collect()
}

/// One exact scan, compiled per instruction set by `pulp`.
struct Scan<'a> {
    kind: Kind,
    vectors: &'a [f32],
    dim: usize,
    query: &'a [f32],
    k: usize,
    accept: &'a dyn Fn(usize) -> bool,
}

impl pulp::WithSimd for Scan<'_> {
    type Output = Vec<(usize, f32)>;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> Self::Output {
        let mut best: BinaryHeap<Scored> = BinaryHeap::with_capacity(self.k + 1);
        for (i, v) in self.vectors.chunks_exact(self.dim).enumerate() {
            if !(self.accept)(i) {
                continue;
            }
            let key = self.kind.key(simd, self.query, v);
            if best.len() < self.k || best.peek().is_some_and(|w| key < w.key) {
                best.push(Scored {
                    key,
                    node: i as u32,
                });
                if best.len() > self.k {
                    best.pop();
                }
            }
        }
        best.into_iter().map(|s| (s.node as usize, s.key)).collect()
    }
}
