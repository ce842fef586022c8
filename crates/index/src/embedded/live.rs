//! `Live`: the index as searches see it — the growing graph, the sealed segments, and the
//! tombstones of both — and how one query runs over all of them.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::growing::Growing;
use super::sealed::{Sealed, SegmentEntry};
use crate::PointId;

/// The index: the growing graph, the sealed segments and the tombstones of both.
pub(super) struct Live {
    pub(super) mutable: Growing,
    /// The sealed segment the growing graph was started from, if any: its points are in the
    /// growing graph, and it is not searched; sealing the growing graph replaces it.
    pub(super) absorbed: Option<SegmentEntry>,
    pub(super) sealed: Sealed,
    pub(super) tombstones: HashSet<PointId>,
    /// Inserts and deletes since the growing graph's last dump (reset by a dump, which holds
    /// only the read lock).
    pub(super) undumped: AtomicUsize,
}

impl Live {
    /// Points added to the growing graph (not read back from a segment).
    pub(super) fn added(&self) -> usize {
        self.mutable.len() - self.absorbed.as_ref().map_or(0, |a| a.points)
    }

    /// Whether so much was written since the last dump that reopening would replay much: at
    /// least 1,024 writes, and at least an eighth of the growing graph.
    pub(super) fn dump_due(&self) -> bool {
        let n = self.undumped.load(Ordering::Relaxed);
        n >= 1024 && n >= self.mutable.len() / 8
    }

    /// The `k` nearest live points accepted by `keep`, over every segment, nearest first, as
    /// `(id, distance)`.
    pub(super) fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        keep: Option<&dyn Fn(PointId) -> bool>,
    ) -> Vec<(PointId, f32)> {
        let mut found = if self.mutable.len() == 0 {
            Vec::new()
        } else if self.tombstones.is_empty() {
            self.mutable.search(query, k, ef, keep)
        } else {
            let alive =
                |id: PointId| !self.tombstones.contains(&id) && keep.is_none_or(|keep| keep(id));
            self.mutable.search(query, k, ef, Some(&alive))
        };
        for segment in &self.sealed.segments {
            found.extend(segment.search(query, k, ef, keep));
        }
        if !self.sealed.segments.is_empty() {
            found.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            found.truncate(k);
        }
        found
    }
}
