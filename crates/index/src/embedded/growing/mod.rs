//! The growing graph: the part of the index that takes inserts, built and searched by our own
//! HNSW loop on flat `u32` link arrays.
//!
//! It replaced hnsw_rs as the mutable part. hnsw_rs's insertion searched with the costs that the
//! sealed loop had removed from queries (a `HashMap` visited set per layer, an `Arc` per
//! neighbour), so building a store took 3–4× as long as hnswlib (profile in `docs/index.md`), and
//! its graph had to be copied into the sealed layout to be searched quickly. Here:
//! - each node has a fixed slot of `1 + m0` atomic words on layer 0 (a count, then links), and
//!   `1 + m` per level above, so readers never see a half-grown list, only an old or a new one;
//! - a node's vector follows its layer-0 slot, in the same array (as in a sealed segment and in
//!   hnswlib), so scoring a neighbour and expanding it later read one region of memory, not two;
//! - a batch is **reserved** first (vectors, ids, levels and empty link slots appended, which
//!   needs `&mut`), then **linked** with `&self`, in parallel over rayon's threads (`link.rs`),
//!   while searches go on: a reserved node is unreachable until it is linked;
//! - searches and insertions run the same loop as sealed segments (`segment/search.rs`), through
//!   [`Layout`];
//! - `layout.rs` lays it out as a sealed segment (to seal it or to dump it) and reads a segment
//!   back into a growing graph (to reopen a dump, or to grow a sealed segment further).
//!
//! The construction is HNSW as published (Malkov & Yashunin 2018, algorithms 1–4, with the
//! neighbour-selection heuristic), organised like hnswlib's: a lock per node's links, one lock
//! for raising the top level, `M` links chosen per new node and up to `2M` kept on layer 0.

mod layout;
mod link;

use std::ops::Range;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use super::graph::GraphParams;
use super::segment::{search, Kind, Layout};
use crate::{Metric, PointId};

/// No level is higher (as in hnsw_rs); at `M` 16 even the smallest draw gives level 13.
const MAX_LEVEL: usize = 15;
/// No entry point yet (the graph is empty).
const NO_ENTRY: u64 = u64::MAX;
/// Batches at least this large are linked in parallel; smaller ones one by one, in order, so
/// the same inserts make the same graph.
const PARALLEL_FROM: usize = 64;

/// A graph that takes inserts.
pub struct Growing {
    kind: Kind,
    metric: Metric,
    dim: usize,
    /// Links chosen per new node, and the capacity of lists above layer 0.
    m: usize,
    /// Layer-0 capacity (`2m`).
    m0: usize,
    ef_construction: usize,
    ids: Vec<PointId>,
    /// `stride` words per node: the layer-0 count, `m0` links, then the vector's bits (written
    /// only by [`Growing::reserve`], which holds `&mut self`; never changed after).
    nodes: Vec<AtomicU32>,
    /// `1 + m0 + dim`.
    stride: usize,
    /// Node `i`'s lists above layer 0 are `upper_start[i]..upper_start[i + 1]`.
    upper_start: Vec<u32>,
    /// `1 + m` words per list: count, links.
    upper: Vec<AtomicU32>,
    /// One per node, held while its lists change.
    locks: Vec<Mutex<()>>,
    /// The entry node (low 32 bits) and the top level (above), or [`NO_ENTRY`].
    entry: AtomicU64,
    /// Held by an insertion that raises the top level, for all of it (as hnswlib does).
    raising: Mutex<()>,
}

impl std::fmt::Debug for Growing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Growing")
            .field("points", &self.len())
            .field("dim", &self.dim)
            .finish()
    }
}

impl Growing {
    /// An empty graph of `dim`-dimensional `metric` vectors.
    pub fn new(params: GraphParams, metric: Metric, dim: usize) -> Self {
        Growing {
            kind: Kind::of(metric),
            metric,
            dim,
            m: params.max_connections,
            m0: 2 * params.max_connections,
            ef_construction: params.ef_construction,
            ids: Vec::new(),
            nodes: Vec::new(),
            stride: 1 + 2 * params.max_connections + dim,
            upper_start: vec![0],
            upper: Vec::new(),
            locks: Vec::new(),
            entry: AtomicU64::new(NO_ENTRY),
            raising: Mutex::new(()),
        }
    }

    /// Nodes (tombstones included).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Vector dimension.
    pub fn dimension(&self) -> usize {
        self.dim
    }

    /// Distance.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Adds points: [`Growing::reserve`], then [`Growing::link`].
    pub fn insert(&mut self, points: &[(PointId, Vec<f32>)]) {
        let nodes = self.reserve(points);
        self.link(nodes);
    }

    /// Appends the points' vectors, ids, levels and empty link lists; they are not reachable
    /// until [`Growing::link`] links them. Returns their nodes.
    pub fn reserve(&mut self, points: &[(PointId, Vec<f32>)]) -> Range<u32> {
        let first = self.len() as u32;
        let words0 = 1 + self.m0;
        let words = 1 + self.m;
        for (id, vector) in points {
            let level = level_of(*id, self.m);
            self.ids.push(*id);
            self.nodes.extend((0..words0).map(|_| AtomicU32::new(0)));
            let given = &vector[..self.dim.min(vector.len())];
            self.nodes
                .extend(given.iter().map(|x| AtomicU32::new(x.to_bits())));
            self.nodes.resize_with(self.ids.len() * self.stride, || {
                AtomicU32::new(0.0f32.to_bits())
            });
            let start = *self.upper_start.last().unwrap_or(&0);
            self.upper_start.push(start + level as u32);
            self.upper
                .extend((0..level * words).map(|_| AtomicU32::new(0)));
            self.locks.push(Mutex::new(()));
        }
        first..self.len() as u32
    }

    /// Links the reserved `nodes` into the graph; large batches in parallel. Searches may run
    /// meanwhile.
    pub fn link(&self, nodes: Range<u32>) {
        use rayon::prelude::*;
        let mut nodes = nodes;
        // The first node of an empty graph becomes its entry; the others need it to start from.
        if self.entry.load(Ordering::Acquire) == NO_ENTRY {
            if let Some(first) = nodes.next() {
                self.link_one(first);
            }
        }
        if nodes.len() >= PARALLEL_FROM {
            nodes.into_par_iter().for_each(|node| self.link_one(node));
        } else {
            nodes.for_each(|node| self.link_one(node));
        }
    }

    /// The `k` nearest nodes accepted by `keep` (given the store's id), nearest first, as
    /// `(id, distance)` in the store's metric, searching with a beam of `ef`.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        keep: Option<&dyn Fn(PointId) -> bool>,
    ) -> Vec<(PointId, f32)> {
        let ids = &self.ids;
        let accept = |node: u32| keep.is_none_or(|keep| keep(ids[node as usize]));
        search::search(self, query, k, ef, keep.is_some(), &accept)
            .into_iter()
            .map(|(node, key)| (ids[node as usize], self.kind.to_distance(key)))
            .collect()
    }

    #[inline(always)]
    fn level(&self, node: u32) -> usize {
        let i = node as usize;
        (self.upper_start[i + 1] - self.upper_start[i]) as usize
    }

    /// The words of `node`'s list on `level` (count first), and its capacity.
    #[inline(always)]
    fn list(&self, node: u32, level: usize) -> (&[AtomicU32], usize) {
        if level == 0 {
            let start = node as usize * self.stride;
            (&self.nodes[start..start + 1 + self.m0], self.m0)
        } else {
            let slot = self.upper_start[node as usize] as usize + level - 1;
            let start = slot * (1 + self.m);
            (&self.upper[start..start + 1 + self.m], self.m)
        }
    }

    fn set_entry(&self, node: u32, level: usize) {
        self.entry
            .store(((level as u64) << 32) | node as u64, Ordering::Release);
    }
}

impl Layout for Growing {
    type Word = AtomicU32;

    #[inline(always)]
    fn kind(&self) -> Kind {
        self.kind
    }

    #[inline(always)]
    fn len(&self) -> usize {
        self.ids.len()
    }

    #[inline(always)]
    fn entry(&self) -> Option<(u32, usize)> {
        let e = self.entry.load(Ordering::Acquire);
        (e != NO_ENTRY).then_some((e as u32, (e >> 32) as usize))
    }

    #[inline(always)]
    fn vector(&self, node: u32) -> &[f32] {
        let start = node as usize * self.stride + 1 + self.m0;
        floats(&self.nodes[start..start + self.dim])
    }

    #[inline(always)]
    fn prefetch(&self, node: u32) {
        let start = node as usize * self.stride;
        search::prefetch(&self.nodes[start..start + self.stride]);
    }

    #[inline(always)]
    fn links(&self, node: u32, level: usize) -> &[AtomicU32] {
        // Every node is on layer 0; only the upper layers need its level (another array read).
        if level > 0 && level > self.level(node) {
            return &[];
        }
        let (words, cap) = self.list(node, level);
        // The count is stored after the links it covers (Release), so these links are written.
        let count = (words[0].load(Ordering::Acquire) as usize).min(cap);
        &words[1..1 + count]
    }
}

/// The vector words of a node as floats.
#[inline(always)]
fn floats(words: &[AtomicU32]) -> &[f32] {
    // SAFETY: `AtomicU32` has the size, alignment and bit validity of `u32`, hence of `f32`,
    // and every `u32` is a valid `f32`. Vector words are only written through `&mut Growing`
    // (`reserve`), never through a shared reference, so no write can race with this read for
    // as long as the returned borrow of `self` lives.
    #[allow(unsafe_code)]
    unsafe {
        std::slice::from_raw_parts(words.as_ptr().cast::<f32>(), words.len())
    }
}

/// A node's level, drawn from its id as HNSW draws it: `⌊−ln(u) / ln(m)⌋` for a uniform `u` in
/// (0, 1] (a hash of the id, so a rebuilt graph has the same levels).
fn level_of(id: PointId, m: usize) -> usize {
    let mut z = id.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let u = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let level = (-u.ln() / (m.max(2) as f64).ln()).floor();
    (level as usize).min(MAX_LEVEL)
}
