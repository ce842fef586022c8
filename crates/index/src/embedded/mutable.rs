//! The mutable part of the index: the hnsw_rs graph that takes inserts, and how it is searched.
//!
//! hnsw_rs builds the graph; searches do not go through hnsw_rs. A snapshot of the graph in the
//! sealed layout ([`Flat`]) is searched by the sealed loop, and the points inserted since the
//! snapshot (a few hundred at most, kept contiguous) by an exact scan. The writer takes a new
//! snapshot once [`MIN_PENDING`] to [`MAX_PENDING`] points wait (more for a larger graph):
//! reading the graph out costs a few link copies per node, a small fraction of what hnsw_rs
//! spent inserting them.

use super::graph::Graph;
use super::segment::{nearest_exact, Flat};
use crate::{Metric, PointId};

/// A new snapshot is taken once `len / 64` points were inserted since the last one, but never
/// fewer than [`MIN_PENDING`] nor more than [`MAX_PENDING`]: the exact scan stays short, and
/// reading the graph out costs at most `64` node copies per inserted point below 65,536 nodes
/// (100 at the default `seal_at` of 100,000), against hnsw_rs's thousands of distances.
pub const MIN_PENDING: usize = 256;
/// See [`MIN_PENDING`].
pub const MAX_PENDING: usize = 1024;

/// How many points may wait for a snapshot of a graph of `len` nodes.
fn pending_cap(len: usize) -> usize {
    (len / 64).clamp(MIN_PENDING, MAX_PENDING)
}

/// The mutable graph, its snapshot and the points newer than the snapshot.
pub struct Mutable {
    graph: Graph,
    metric: Metric,
    dim: usize,
    /// The graph as of the last snapshot (`None` before the first).
    flat: Option<Flat>,
    /// Ids of the points inserted since, and their vectors, contiguous.
    pending_ids: Vec<PointId>,
    pending: Vec<f32>,
}

impl std::fmt::Debug for Mutable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mutable")
            .field("points", &self.len())
            .field("pending", &self.pending_ids.len())
            .finish()
    }
}

impl Mutable {
    /// `graph` as the mutable part, with a fresh snapshot of it.
    pub fn new(graph: Graph, metric: Metric, dim: usize) -> Self {
        let mut mutable = Mutable {
            graph,
            metric,
            dim,
            flat: None,
            pending_ids: Vec::new(),
            pending: Vec::new(),
        };
        if mutable.graph.len() > 0 {
            let flat = mutable.snapshot();
            mutable.install(flat);
        }
        mutable
    }

    /// The hnsw_rs graph (to seal or dump it).
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Nodes in the graph (tombstones included).
    pub fn len(&self) -> usize {
        self.graph.len()
    }

    /// Inserts points into the graph; true when a new snapshot is due ([`Mutable::snapshot`],
    /// then [`Mutable::install`]).
    pub fn insert(&mut self, points: &[(PointId, Vec<f32>)]) -> bool {
        self.graph.insert(points);
        for (id, v) in points {
            self.pending_ids.push(*id);
            self.pending.extend_from_slice(v);
        }
        self.pending_ids.len() >= pending_cap(self.graph.len())
    }

    /// The graph as it is now, in the sealed layout. Takes only `&self`, so searches go on
    /// meanwhile; the caller must keep other writers out until [`Mutable::install`].
    pub fn snapshot(&self) -> Flat {
        // The sequence is not used: a snapshot is never written.
        self.graph.to_segment(self.metric, self.dim, 0).into_flat()
    }

    /// Replaces the snapshot with `flat`, taken since the last insert: nothing is pending now.
    pub fn install(&mut self, flat: Flat) {
        self.flat = Some(flat);
        self.pending_ids.clear();
        self.pending.clear();
    }

    /// The `k` nearest points accepted by `keep`, nearest first, as `(id, distance)`.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        keep: Option<&dyn Fn(PointId) -> bool>,
    ) -> Vec<(PointId, f32)> {
        let mut found = match &self.flat {
            Some(flat) => flat.search(query, k, ef, keep),
            None => Vec::new(),
        };
        if !self.pending_ids.is_empty() {
            let ids = &self.pending_ids;
            let accept = |i: usize| keep.is_none_or(|keep| keep(ids[i]));
            let newer = nearest_exact(self.metric, &self.pending, self.dim, query, k, &accept);
            found.extend(newer.into_iter().map(|(i, d)| (ids[i], d)));
            found.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            found.truncate(k);
        }
        found
    }
}
