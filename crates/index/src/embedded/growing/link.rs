//! Linking one reserved node into the growing graph (HNSW's insertion).
//!
//! From the entry point, a greedy descent through the levels above the node's own, then on each
//! of its levels, from the top down: a beam of `ef_construction`, and the neighbour-selection
//! heuristic over what it found (keep a candidate only if it is nearer to the new node than to
//! every neighbour kept so far, up to `M` above layer 0 and `2M` on it, as hnsw_rs does). Then,
//! from the bottom up, the node's list is set to that and the node is added to each chosen
//! neighbour's list, kept nearest first: a full one drops its farthest link (as hnsw_rs does). The whole of
//! it runs in one `pulp` dispatch, so distances use the CPU's best instruction set.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::PoisonError;

use super::{Growing, NO_ENTRY};
use crate::embedded::segment::{search, Kind, Layout, Scored, Scratch};

impl Growing {
    /// Links `node` (reserved, not linked yet) into the graph.
    pub(super) fn link_one(&self, node: u32) {
        let level = self.level(node);
        // The first node of an empty graph is its entry.
        if self
            .entry
            .compare_exchange(
                NO_ENTRY,
                ((level as u64) << 32) | node as u64,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
        {
            return;
        }
        let Some((_, top)) = self.entry() else {
            return;
        };
        // An insertion that may raise the top level holds `raising` throughout (and re-reads
        // the entry under it), so two such insertions never race for the entry.
        let _raising =
            (level > top).then(|| self.raising.lock().unwrap_or_else(PoisonError::into_inner));
        let Some((entry, top)) = self.entry() else {
            return;
        };
        search::with_scratch(|scratch| {
            pulp::Arch::new().dispatch(Link {
                graph: self,
                node,
                level,
                entry,
                top,
                scratch,
            })
        });
        if level > top {
            self.set_entry(node, level);
        }
    }
}

/// One insertion, as an operation `pulp` compiles per instruction set.
struct Link<'a> {
    graph: &'a Growing,
    node: u32,
    level: usize,
    entry: u32,
    top: usize,
    scratch: &'a mut Scratch,
}

impl pulp::WithSimd for Link<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let Link {
            graph: g,
            node,
            level,
            entry,
            top,
            scratch,
        } = self;
        let kind = g.kind;
        let q = g.vector(node);
        let mut start = (entry, kind.key(simd, q, g.vector(entry)));
        if level < top {
            start = search::descend(simd, g, q, start, top, level + 1);
        }
        // Search every level first, top down (each level's nearest starts the next), then link
        // bottom up: a search that reaches this node on a level then always finds its links on
        // the levels below.
        let mut chosen: Vec<(usize, Vec<Scored>)> = Vec::with_capacity(level.min(top) + 1);
        for l in (0..=level.min(top)).rev() {
            let mut found = search::beam(
                simd,
                g,
                q,
                start,
                l,
                g.ef_construction,
                false,
                &|_| true,
                scratch,
            );
            found.retain(|s| s.node != node);
            let Some(nearest) = found.first() else {
                continue;
            };
            start = (nearest.node, nearest.key);
            let cap = if l == 0 { g.m0 } else { g.m };
            chosen.push((l, select(simd, g, kind, &found, cap)));
        }
        for (l, links) in chosen.iter().rev() {
            {
                let _own = g.locks[node as usize]
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let (words, _) = g.list(node, *l);
                write_list(words, links);
            }
            for s in links {
                connect(simd, g, kind, s.node, node, s.key, *l);
            }
        }
    }
}

/// HNSW's neighbour-selection heuristic: from `candidates` (nearest first), keep each one that
/// is nearer to the new node than to every one kept so far, up to `cap`.
#[inline(always)]
fn select<S: pulp::Simd>(
    simd: S,
    g: &Growing,
    kind: Kind,
    candidates: &[Scored],
    cap: usize,
) -> Vec<Scored> {
    if candidates.len() <= cap {
        return candidates.to_vec();
    }
    let mut kept: Vec<Scored> = Vec::with_capacity(cap);
    for c in candidates {
        if kept.len() >= cap {
            break;
        }
        let v = g.vector(c.node);
        if kept
            .iter()
            .all(|r| kind.key(simd, v, g.vector(r.node)) >= c.key)
        {
            kept.push(*c);
        }
    }
    kept
}

/// Adds `new`, at key `key` from `n`, to `n`'s list on `level`, which is kept nearest first: a
/// full list drops its farthest link (as hnsw_rs does, so lists stay full), and `new` is not
/// added if it is farther than all of a full list. The place is found by a binary search, a few
/// distances.
#[inline(always)]
fn connect<S: pulp::Simd>(
    simd: S,
    g: &Growing,
    kind: Kind,
    n: u32,
    new: u32,
    key: f32,
    level: usize,
) {
    let _lock = g.locks[n as usize]
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let (words, cap) = g.list(n, level);
    let count = (words[0].load(Ordering::Relaxed) as usize).min(cap);
    if words[1..1 + count]
        .iter()
        .any(|w| w.load(Ordering::Relaxed) == new)
    {
        return;
    }
    let v = g.vector(n);
    let (mut lo, mut hi) = (0, count);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let t = words[1 + mid].load(Ordering::Relaxed);
        if kind.key(simd, v, g.vector(t)) <= key {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if lo >= cap {
        return;
    }
    // Shift the farther links one place (the last one falls off a full list), then insert.
    let end = count.min(cap - 1);
    for i in (lo..end).rev() {
        let t = words[1 + i].load(Ordering::Relaxed);
        words[2 + i].store(t, Ordering::Relaxed);
    }
    words[1 + lo].store(new, Ordering::Relaxed);
    words[0].store((count + 1).min(cap) as u32, Ordering::Release);
}

/// Writes `links` (nearest first) into a list (its words, count first): the links, then the
/// count.
fn write_list(words: &[AtomicU32], links: &[Scored]) {
    // Shrink first, so that a reader never takes a count larger than the links written.
    let old = words[0].load(Ordering::Relaxed) as usize;
    if links.len() < old {
        words[0].store(links.len() as u32, Ordering::Release);
    }
    for (w, l) in words[1..].iter().zip(links) {
        w.store(l.node, Ordering::Relaxed);
    }
    words[0].store(links.len() as u32, Ordering::Release);
}
