//! Sealed segments: read-only HNSW graphs in a flat layout, memory-mapped, searched by our own
//! loop ([`search`]).
//!
//! A segment is made once from the growing graph ([`Builder`], fed its points, levels and
//! neighbour lists) and never changes afterwards, except for its in-memory tombstones: points
//! deleted after sealing are marked here and skipped by searches until a rebuild merges the
//! segments again. The search loop (`search.rs`) is generic over [`Layout`], so the growing
//! graph is searched (and built) by the same code.

mod file;
mod kernel;
pub mod search;

use std::path::{Path, PathBuf};

use self::file::Mapped;
use self::search::View;
use crate::{Metric, PointId};

pub use self::file::Header;
pub use self::kernel::Kind;
pub use self::search::{Layout, Scored, Scratch};

/// A sealed segment: its mapped file and the tombstones of its nodes.
pub struct Segment {
    path: PathBuf,
    mapped: Mapped,
    /// One bit per node: deleted (in the file when sealed, or since).
    dead: Vec<u64>,
    dead_count: usize,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("path", &self.path)
            .field("points", &self.len())
            .field("dead", &self.dead_count)
            .finish()
    }
}

impl Segment {
    /// Maps and checks the segment at `path`, which must hold `dimension`-dimensional `metric`
    /// vectors; the error says what is wrong.
    pub fn open(path: &Path, metric: Metric, dimension: usize) -> Result<Segment, String> {
        let mapped = file::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let h = mapped.header;
        if h.metric != metric || h.dim != dimension {
            return Err(format!(
                "{} holds {}-dimensional {} vectors, the store {dimension}-dimensional {metric}",
                path.display(),
                h.dim,
                h.metric
            ));
        }
        let dead: Vec<u64> = mapped.slice(mapped.sections.dead).to_vec();
        let dead_count = dead.iter().map(|w| w.count_ones() as usize).sum();
        Ok(Segment {
            path: path.to_path_buf(),
            mapped,
            dead,
            dead_count,
        })
    }

    /// Its file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Nodes, deleted ones included.
    pub fn len(&self) -> usize {
        self.mapped.header.len
    }

    /// The size of its file in bytes.
    pub fn bytes(&self) -> usize {
        self.mapped.map.len()
    }

    /// The store's ids of its nodes, ascending.
    pub fn ids(&self) -> &[u64] {
        self.mapped.slice(self.mapped.sections.ids)
    }

    fn node_of(&self, id: PointId) -> Option<usize> {
        self.ids().binary_search(&id).ok()
    }

    /// Marks `id` deleted; false when it is not a node here.
    pub fn mark_dead(&mut self, id: PointId) -> bool {
        let Some(node) = self.node_of(id) else {
            return false;
        };
        let (word, bit) = (node / 64, 1u64 << (node % 64));
        if self.dead[word] & bit == 0 {
            self.dead[word] |= bit;
            self.dead_count += 1;
        }
        true
    }

    fn is_dead(&self, node: u32) -> bool {
        let node = node as usize;
        self.dead[node / 64] & (1u64 << (node % 64)) != 0
    }

    /// Its header.
    pub fn header(&self) -> Header {
        self.mapped.header
    }

    /// Its arrays, for the search loop.
    pub fn view(&self) -> View<'_> {
        let s = &self.mapped.sections;
        view_of(
            &self.mapped.header,
            self.mapped.slice(s.nodes),
            self.mapped.slice(s.upper_start),
            self.mapped.slice(s.upper),
        )
    }

    /// The `k` nearest live points accepted by `keep`, nearest first, as `(id, distance)` in the
    /// store's metric, searching with a beam of `ef`.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        keep: Option<&dyn Fn(PointId) -> bool>,
    ) -> Vec<(PointId, f32)> {
        let view = self.view();
        let ids = self.ids();
        let filtered = keep.is_some() || self.dead_count > 0;
        let accept = |node: u32| -> bool {
            !self.is_dead(node) && keep.is_none_or(|keep| keep(ids[node as usize]))
        };
        search::search(&view, query, k, ef, filtered, &accept)
            .into_iter()
            .map(|(node, key)| (ids[node as usize], view.kind.to_distance(key)))
            .collect()
    }
}

/// The searchable view of a segment's arrays (mapped or in memory).
fn view_of<'a>(h: &Header, nodes: &'a [u32], upper_start: &'a [u32], upper: &'a [u32]) -> View<'a> {
    View {
        kind: Kind::of(h.metric),
        dim: h.dim,
        m0: h.m0,
        stride: h.stride(),
        words: nodes,
        floats: bytemuck::cast_slice(nodes),
        upper_start,
        upper,
        upper_stride: 1 + h.m,
        entry: h.entry,
        len: h.len,
    }
}

/// Lays a graph out as a segment, node by node, then writes it.
pub struct Builder {
    header: Header,
    ids: Vec<u64>,
    nodes: Vec<u32>,
    upper_start: Vec<u32>,
    upper: Vec<u32>,
}

impl Builder {
    /// A segment of the nodes `members` (`(id, level)`, any order) with link capacities `m0`
    /// (layer 0) and `m` (above), holding the writes up to log sequence `seq`.
    pub fn new(
        metric: Metric,
        dim: usize,
        m0: usize,
        m: usize,
        seq: u64,
        mut members: Vec<(PointId, usize)>,
    ) -> Self {
        members.sort_unstable();
        members.dedup_by_key(|(id, _)| *id);
        let len = members.len();
        let mut upper_start = Vec::with_capacity(len + 1);
        let mut total = 0u32;
        let (mut top, mut entry) = (0usize, 0u32);
        for (node, &(_, level)) in members.iter().enumerate() {
            upper_start.push(total);
            total += level as u32;
            if level > top || node == 0 {
                (top, entry) = (level, node as u32);
            }
        }
        upper_start.push(total);
        let header = Header {
            metric,
            dim,
            len,
            m0,
            m,
            top,
            entry,
            upper_lists: total as usize,
            seq,
        };
        Builder {
            ids: members.iter().map(|(id, _)| *id).collect(),
            nodes: vec![0; len * header.stride()],
            upper: vec![0; total as usize * (1 + m)],
            upper_start,
            header,
        }
    }

    /// Nodes.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    fn node_of(&self, id: PointId) -> Option<u32> {
        self.ids.binary_search(&id).ok().map(|n| n as u32)
    }

    fn level(&self, node: usize) -> usize {
        (self.upper_start[node + 1] - self.upper_start[node]) as usize
    }

    /// Node `n`'s links among `ids`: members other than `n` of at least `min_level`, `cap` at most.
    fn links(
        &self,
        n: usize,
        ids: Option<&Vec<PointId>>,
        cap: usize,
        min_level: usize,
    ) -> Vec<u32> {
        ids.map_or(&[][..], Vec::as_slice)
            .iter()
            .filter_map(|&t| self.node_of(t))
            .filter(|&t| t as usize != n && self.level(t as usize) >= min_level)
            .take(cap)
            .collect()
    }

    /// Sets node `id`'s vector and its neighbours per layer (`layers[0]` is layer 0). Links to
    /// ids that are not members, and links past the capacities, are dropped.
    pub fn node(&mut self, id: PointId, vector: &[f32], layers: &[Vec<PointId>]) {
        let Some(node) = self.node_of(id) else {
            return;
        };
        let h = self.header;
        let n = node as usize;
        let level = self.level(n);
        let base = n * h.stride();
        let zero = self.links(n, layers.first(), h.m0, 0);
        self.nodes[base] = zero.len() as u32;
        self.nodes[base + 1..base + 1 + zero.len()].copy_from_slice(&zero);
        let v = base + 1 + h.m0;
        for (slot, x) in self.nodes[v..v + h.dim].iter_mut().zip(vector) {
            *slot = x.to_bits();
        }
        for l in 1..=level {
            let up = self.links(n, layers.get(l), h.m, l);
            let start = (self.upper_start[n] as usize + l - 1) * (1 + h.m);
            self.upper[start] = up.len() as u32;
            self.upper[start + 1..start + 1 + up.len()].copy_from_slice(&up);
        }
    }

    /// Writes the segment to `path` (via a temporary file, fsynced, renamed), with the nodes for
    /// which `dead` holds marked deleted, and maps it.
    pub fn write(self, path: &Path, dead: impl Fn(PointId) -> bool) -> std::io::Result<Segment> {
        let mut bitmap = vec![0u64; self.ids.len().div_ceil(64)];
        for (node, id) in self.ids.iter().enumerate() {
            if dead(*id) {
                bitmap[node / 64] |= 1 << (node % 64);
            }
        }
        file::write(
            path,
            &self.header,
            &self.nodes,
            &self.ids,
            &self.upper_start,
            &self.upper,
            &bitmap,
        )?;
        Segment::open(path, self.header.metric, self.header.dim)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }
}
