//! The sealed search: greedy descent through the upper layers, then a beam of width `ef` over
//! layer 0, on flat `u32` neighbour arrays.
//!
//! - Visited nodes are marked in a per-thread array of `u16` tags that is reused from query to
//!   query (a new tag per query; the array is cleared once every 65,535 queries), as are the two
//!   heaps: a query allocates nothing but its answer.
//! - Heaps hold `(key, node)` pairs, 8 bytes each.
//! - A candidate's unvisited neighbours are marked and prefetched together, then scored, so
//!   their loads from memory overlap (hnswlib prefetches the next neighbour as it goes).
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

/// What the search loop needs of a graph: a vector per node and its links per level. The sealed
/// layout ([`View`]) and the growing graph (`growing/`) both provide it, so one loop serves both.
pub trait Layout {
    /// What a link is stored as: `u32`, or `AtomicU32` in a graph that grows while searched.
    type Word: Word;
    /// The ranking key.
    fn kind(&self) -> Kind;
    /// Nodes (a growing graph counts those reserved but not linked yet: they are unreachable).
    fn len(&self) -> usize;
    /// Where every search starts, and its level (the graph's top); `None` when empty.
    fn entry(&self) -> Option<(u32, usize)>;
    /// Node `node`'s vector.
    fn vector(&self, node: u32) -> &[f32];
    /// The links of `node` on `level` (none above its level). The loops over them are plain
    /// `for` loops: a closure here would be compiled outside `pulp`'s dispatch, without AVX.
    fn links(&self, node: u32, level: usize) -> &[Self::Word];
    /// Asks the CPU to start loading what searching `node` reads (its vector, and its layer-0
    /// links where they sit beside it), so that the loads of a candidate's neighbours overlap.
    fn prefetch(&self, node: u32);
}

/// Cache lines of a vector that a prefetch asks for: the rest follow by the hardware's own
/// stride prefetcher.
const PREFETCH_LINES: usize = 4;

/// Starts loading the first [`PREFETCH_LINES`] cache lines of `start` into every
/// cache level. Only a hint: it never faults, and does nothing off x86-64.
#[inline(always)]
pub fn prefetch<T>(start: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let ptr = start.as_ptr().cast::<i8>();
        let bytes = std::mem::size_of_val(start);
        for line in 0..PREFETCH_LINES.min(bytes.div_ceil(64)) {
            // SAFETY: SSE, which `_mm_prefetch` needs, is part of every x86-64 CPU; a prefetch
            // reads nothing and cannot fault, and the address stays inside the slice anyway
            // (`line * 64 < bytes`).
            #[allow(unsafe_code)]
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(ptr.wrapping_add(line * 64))
            };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = start;
}

/// A stored link.
pub trait Word {
    /// The node it points to.
    fn get(&self) -> u32;
}

impl Word for u32 {
    #[inline(always)]
    fn get(&self) -> u32 {
        *self
    }
}

impl Word for std::sync::atomic::AtomicU32 {
    #[inline(always)]
    fn get(&self) -> u32 {
        self.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Layout for View<'_> {
    type Word = u32;

    #[inline(always)]
    fn kind(&self) -> Kind {
        self.kind
    }

    #[inline(always)]
    fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    fn entry(&self) -> Option<(u32, usize)> {
        (self.len > 0).then(|| (self.entry, self.level(self.entry)))
    }

    #[inline(always)]
    fn vector(&self, node: u32) -> &[f32] {
        let start = node as usize * self.stride + 1 + self.m0;
        &self.floats[start..start + self.dim]
    }

    #[inline(always)]
    fn prefetch(&self, node: u32) {
        // The node's words: its layer-0 links, then its vector.
        let start = node as usize * self.stride;
        prefetch(&self.words[start..start + self.stride]);
    }

    #[inline(always)]
    fn links(&self, node: u32, level: usize) -> &[u32] {
        if level == 0 {
            let start = node as usize * self.stride;
            let count = self.words[start] as usize;
            &self.words[start + 1..start + 1 + count]
        } else if level <= self.level(node) {
            let slot = self.upper_start[node as usize] as usize + level - 1;
            let start = slot * self.upper_stride;
            let count = self.upper[start] as usize;
            &self.upper[start + 1..start + 1 + count]
        } else {
            &[]
        }
    }
}

impl View<'_> {
    /// Node `node`'s level (its number of upper lists).
    #[inline(always)]
    pub fn level(&self, node: u32) -> usize {
        let i = node as usize;
        (self.upper_start[i + 1] - self.upper_start[i]) as usize
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
pub struct Scratch {
    tags: Vec<u16>,
    tag: u16,
    /// Candidates to expand, nearest on top (keys negated).
    candidates: BinaryHeap<Scored>,
    /// The best `ef` accepted so far, farthest on top.
    best: BinaryHeap<Scored>,
    /// A candidate's neighbours not visited yet, prefetched together before they are scored.
    fresh: Vec<u32>,
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
pub fn search<L: Layout>(
    graph: &L,
    query: &[f32],
    k: usize,
    ef: usize,
    filtered: bool,
    accept: &dyn Fn(u32) -> bool,
) -> Vec<(u32, f32)> {
    let Some((entry, top)) = graph.entry() else {
        return Vec::new();
    };
    if k == 0 || query.len() != graph.vector(entry).len() {
        return Vec::new();
    }
    let ef = ef.max(k);
    with_scratch(|scratch| {
        pulp::Arch::new().dispatch(Query {
            graph,
            query,
            k,
            ef,
            entry,
            top,
            filtered,
            accept,
            scratch,
        })
    })
}

/// Runs `f` with this thread's reusable scratch space.
pub fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|scratch| f(&mut scratch.borrow_mut()))
}

/// One search, as an operation `pulp` compiles per instruction set (a closure would be compiled
/// once, outside the dispatch, without AVX).
struct Query<'a, L> {
    graph: &'a L,
    query: &'a [f32],
    k: usize,
    ef: usize,
    entry: u32,
    top: usize,
    filtered: bool,
    accept: &'a dyn Fn(u32) -> bool,
    scratch: &'a mut Scratch,
}

impl<L: Layout> pulp::WithSimd for Query<'_, L> {
    type Output = Vec<(u32, f32)>;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> Self::Output {
        let g = self.graph;
        let key = g.kind().key(simd, self.query, g.vector(self.entry));
        let start = descend(simd, g, self.query, (self.entry, key), self.top, 1);
        let mut found = beam(
            simd,
            g,
            self.query,
            start,
            0,
            self.ef,
            self.filtered,
            self.accept,
            self.scratch,
        );
        found.truncate(self.k);
        found.into_iter().map(|s| (s.node, s.key)).collect()
    }
}

/// Greedy descent from `start` (a node and its key) on levels `from` down to `to`: on each, move
/// to a nearer neighbour until none is nearer. Returns the node reached and its key.
#[inline(always)]
pub fn descend<S: pulp::Simd, L: Layout>(
    simd: S,
    graph: &L,
    query: &[f32],
    start: (u32, f32),
    from: usize,
    to: usize,
) -> (u32, f32) {
    let kind = graph.kind();
    let (mut node, mut key) = start;
    for level in (to.max(1)..=from).rev() {
        let mut moved = true;
        while moved {
            moved = false;
            for w in graph.links(node, level) {
                let n = w.get();
                let d = kind.key(simd, query, graph.vector(n));
                if d < key {
                    key = d;
                    node = n;
                    moved = true;
                }
            }
        }
    }
    (node, key)
}

/// A beam of width `ef` over `level`, from `start` (a node and its key): the best `ef` accepted
/// nodes found, nearest first. Refused nodes are walked through but never returned; `filtered`
/// says whether `accept` can refuse, and a search without refusals stops as soon as no candidate
/// can improve the answer.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn beam<S: pulp::Simd, L: Layout>(
    simd: S,
    graph: &L,
    query: &[f32],
    start: (u32, f32),
    level: usize,
    ef: usize,
    filtered: bool,
    accept: &dyn Fn(u32) -> bool,
    scratch: &mut Scratch,
) -> Vec<Scored> {
    let kind = graph.kind();
    let (node, key) = start;
    let tag = scratch.next_tag(graph.len());
    let Scratch {
        tags,
        candidates,
        best,
        fresh,
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
        // Mark the unvisited neighbours and start loading all of them, then score them: the
        // loads overlap instead of each waiting for the last (as hnswlib prefetches).
        fresh.clear();
        for w in graph.links(c.node, level) {
            let n = w.get();
            let seen = &mut tags[n as usize];
            if *seen != tag {
                *seen = tag;
                fresh.push(n);
                graph.prefetch(n);
            }
        }
        for &n in fresh.iter() {
            let d = kind.key(simd, query, graph.vector(n));
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
    let mut found: Vec<Scored> = best.drain().collect();
    found.sort_unstable();
    found
}
