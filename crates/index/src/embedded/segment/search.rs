//! The sealed search: greedy descent through the upper layers, then a beam of width `ef` over
//! layer 0, on flat `u32` neighbour arrays.
//!
//! - Visited nodes are marked in a per-thread array of `u16` tags that is reused from query to
//!   query (a new tag per query; the array is cleared once every 65,535 queries), as are the two
//!   heaps: a query allocates nothing but its answer.
//! - Heaps hold `(key, node)` pairs, 8 bytes each.
//! - Deleted or filtered-out nodes are still walked through (they keep the graph connected) but
//!   never enter the answer.
//! - The whole search runs inside one `pulp` dispatch, so the distance loop is compiled for the
//!   best instruction set the CPU has (AVX2 + FMA on most x86-64 machines).

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::kernel::Kind;

/// A sealed graph, borrowed from its file.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The ranking key.
    pub kind: Kind,
    /// Vector dimension.
    pub dim: usize,
    /// Layer-0 link capacity.
    pub m0: usize,
    /// `u32` words per node: link count, `m0` links, the vector's bits.
    pub stride: usize,
    /// The nodes' words (layer 0 and vectors), as integers…
    pub words: &'a [u32],
    /// …and the same words as floats.
    pub floats: &'a [f32],
    /// Node `i`'s upper lists are `upper_start[i]..upper_start[i + 1]` (one per level above 0).
    pub upper_start: &'a [u32],
    /// Upper-layer lists of `1 + m` words: a count, then links.
    pub upper: &'a [u32],
    /// Words per upper list.
    pub upper_stride: usize,
    /// Where every search starts (a node of the top level).
    pub entry: u32,
    /// Nodes.
    pub len: usize,
}

impl View<'_> {
    #[inline(always)]
    fn vector(&self, node: u32) -> &[f32] {
        let start = node as usize * self.stride + 1 + self.m0;
        &self.floats[start..start + self.dim]
    }

    #[inline(always)]
    fn links0(&self, node: u32) -> &[u32] {
        let start = node as usize * self.stride;
        let count = self.words[start] as usize;
        &self.words[start + 1..start + 1 + count]
    }

    #[inline(always)]
    fn level(&self, node: u32) -> usize {
        let i = node as usize;
        (self.upper_start[i + 1] - self.upper_start[i]) as usize
    }

    #[inline(always)]
    fn links_up(&self, node: u32, level: usize) -> &[u32] {
        let slot = self.upper_start[node as usize] as usize + level - 1;
        let start = slot * self.upper_stride;
        let count = self.upper[start] as usize;
        &self.upper[start + 1..start + 1 + count]
    }
}

/// A node and its key; ordered by key, then node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// The ranking key.
    pub key: f32,
    /// The node (or index).
    pub node: u32,
}

impl Eq for Scored {}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key
            .total_cmp(&other.key)
            .then(self.node.cmp(&other.node))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What a search reuses from one query to the next, per thread.
#[derive(Default)]
struct Scratch {
    tags: Vec<u16>,
    tag: u16,
    /// Candidates to expand, nearest on top (keys negated).
    candidates: BinaryHeap<Scored>,
    /// The best `ef` accepted so far, farthest on top.
    best: BinaryHeap<Scored>,
}

impl Scratch {
    /// A fresh tag for a graph of `len` nodes.
    fn next_tag(&mut self, len: usize) -> u16 {
        if self.tags.len() < len {
            self.tags.resize(len, 0);
        }
        self.tag = self.tag.wrapping_add(1);
        if self.tag == 0 {
            self.tags.iter_mut().for_each(|t| *t = 0);
            self.tag = 1;
        }
        self.tag
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// The `k` nearest accepted nodes to `query`, nearest first, as `(node, key)`, searching with a
/// beam of `ef` (at least `k`). `filtered` says whether `accept` can refuse nodes: a search
/// without refusals stops as soon as no candidate can improve the answer.
pub fn search(
    view: &View<'_>,
    query: &[f32],
    k: usize,
    ef: usize,
    filtered: bool,
    accept: &dyn Fn(u32) -> bool,
) -> Vec<(u32, f32)> {
    if k == 0 || view.len == 0 || query.len() != view.dim {
        return Vec::new();
    }
    let ef = ef.max(k);
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        pulp::Arch::new().dispatch(Beam {
            view,
            query,
            k,
            ef,
            filtered,
            accept,
            scratch: &mut scratch,
        })
    })
}

/// One search, as an operation `pulp` compiles per instruction set (a closure would be compiled
/// once, outside the dispatch, without AVX).
struct Beam<'a, 'v> {
    view: &'a View<'v>,
    query: &'a [f32],
    k: usize,
    ef: usize,
    filtered: bool,
    accept: &'a dyn Fn(u32) -> bool,
    scratch: &'a mut Scratch,
}

impl pulp::WithSimd for Beam<'_, '_> {
    type Output = Vec<(u32, f32)>;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> Self::Output {
        search_in(
            simd,
            self.view,
            self.query,
            self.k,
            self.ef,
            self.filtered,
            self.accept,
            self.scratch,
        )
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn search_in<S: pulp::Simd>(
    simd: S,
    view: &View<'_>,
    query: &[f32],
    k: usize,
    ef: usize,
    filtered: bool,
    accept: &dyn Fn(u32) -> bool,
    scratch: &mut Scratch,
) -> Vec<(u32, f32)> {
    let kind = view.kind;
    // Greedy descent: on each level, move to a nearer neighbour until none is nearer.
    let mut node = view.entry;
    let mut key = kind.key(simd, query, view.vector(node));
    for level in (1..=view.level(node)).rev() {
        let mut moved = true;
        while moved {
            moved = false;
            for &n in view.links_up(node, level) {
                let d = kind.key(simd, query, view.vector(n));
                if d < key {
                    key = d;
                    node = n;
                    moved = true;
                }
            }
        }
    }

    // Layer 0: the beam.
    let tag = scratch.next_tag(view.len);
    let Scratch {
        tags,
        candidates,
        best,
        ..
    } = scratch;
    candidates.clear();
    best.clear();
    tags[node as usize] = tag;
    candidates.push(Scored { key: -key, node });
    if accept(node) {
        best.push(Scored { key, node });
    }
    let mut bound = if best.len() >= ef {
        best.peek().map_or(f32::INFINITY, |s| s.key)
    } else {
        f32::INFINITY
    };
    while let Some(c) = candidates.pop() {
        let c_key = -c.key;
        if c_key > bound && (best.len() >= ef || !filtered) {
            break;
        }
        for &n in view.links0(c.node) {
            let seen = &mut tags[n as usize];
            if *seen == tag {
                continue;
            }
            *seen = tag;
            let d = kind.key(simd, query, view.vector(n));
            if best.len() < ef || d < bound {
                candidates.push(Scored { key: -d, node: n });
                if accept(n) {
                    best.push(Scored { key: d, node: n });
                    if best.len() > ef {
                        best.pop();
                    }
                }
                if best.len() >= ef {
                    bound = best.peek().map_or(f32::INFINITY, |s| s.key);
                }
            }
        }
    }
    let mut found: Vec<(u32, f32)> = best.drain().map(|s| (s.node, s.key)).collect();
    found.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    found.truncate(k);
    found
}
