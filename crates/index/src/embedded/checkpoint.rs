//! How the derived index follows sled: sealing, dumping, merging, and recovery on open.
//!
//! - **Seal** (the mutable graph reached [`EmbeddedOptions::seal_at`](super::EmbeddedOptions),
//!   or [`EmbeddedStore::seal`]): sled is flushed, the growing graph is laid out as a segment
//!   file (temporary name, fsync, rename), the manifest is replaced to list it with the log
//!   sequence and next id it covers, the graph is swapped for an empty one, an empty dump of the
//!   new generation replaces the old dump, and the log entries the manifest covers are dropped.
//! - **Dump** ([`VectorStore::flush`](crate::VectorStore::flush)): the mutable graph is dumped
//!   with the log sequence and the generation it reflects.
//! - **Merge** ([`VectorStore::rebuild`](crate::VectorStore::rebuild)): every live vector in
//!   sled goes into a new growing graph, laid out as one new segment, which replaces all others in one manifest
//!   swap; tombstones are forgotten only after that swap.
//! - **Open**: map and check every listed segment, then load the mutable dump if it was made on
//!   the current generation and replay the log after it; a dump of an older generation (a crash
//!   mid-seal) is ignored and the mutable graph is rebuilt from sled's ids at or above the
//!   manifest's `next_id`. A missing or corrupt segment, or a corrupt dump, is rebuilt from sled
//!   with a warning.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use super::graph;
use super::growing::Growing;
use super::records::{self, LogOp};
use super::sealed::{write_manifest, Manifest, Sealed, SegmentEntry};
use super::{params_of, EmbeddedStore, Live};
use crate::{PointId, RebuildReport, StoreError};

impl EmbeddedStore {
    /// The folder of the mutable graph's dump.
    pub(super) fn graph_dir(&self) -> PathBuf {
        self.dir.join("graph")
    }

    /// The folder of the sealed segments.
    pub(super) fn segments_dir(&self) -> PathBuf {
        self.dir.join("segments")
    }

    pub(super) fn current_seq(&self) -> Result<u64, StoreError> {
        let raw = self.trees.meta.get("next_seq").map_err(|e| self.sled(e))?;
        Ok(records::counter(raw.as_deref()).saturating_sub(1))
    }

    fn next_id(&self) -> Result<u64, StoreError> {
        let raw = self.trees.meta.get("next_id").map_err(|e| self.sled(e))?;
        Ok(records::counter(raw.as_deref()))
    }

    fn empty_graph(&self) -> Growing {
        Growing::new(
            params_of(&self.config),
            self.config.metric,
            self.config.dimension,
        )
    }

    /// Sealed segments, then the mutable graph: dump + replay, or rebuilt from sled.
    pub(super) fn load_index(&self) -> Result<(), StoreError> {
        let start = Instant::now();
        let sealed = match Sealed::open(
            &self.segments_dir(),
            self.config.metric,
            self.config.dimension,
        ) {
            Ok(sealed) => sealed,
            Err(reason) => {
                self.warn(format!(
                    "a sealed segment is unusable ({reason}); rebuilt the index from sled"
                ));
                return self.timed_rebuild();
            }
        };
        {
            let mut live = self.live_mut();
            live.sealed = sealed;
            let Live {
                sealed, tombstones, ..
            } = &mut *live;
            for &id in tombstones.iter() {
                sealed.mark_dead(id);
            }
        }
        self.time(|t| t.segments = start.elapsed().as_secs_f64());
        let generation = self.live().sealed.manifest.generation;

        let start = Instant::now();
        let params = params_of(&self.config);
        match graph::load(
            &self.graph_dir(),
            params,
            self.config.metric,
            self.config.dimension,
        ) {
            Ok(Some((mut graph, checkpoint, checked))) if checkpoint.generation == generation => {
                let loaded = start.elapsed();
                if let Some(file) = &checkpoint.absorbed {
                    // The dump holds that segment's points: it is not searched.
                    let mut live = self.live_mut();
                    let at = live.sealed.segments.iter().position(|s| {
                        s.path()
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy() == *file)
                    });
                    let entry = live
                        .sealed
                        .manifest
                        .segments
                        .iter()
                        .find(|e| e.file == *file)
                        .cloned();
                    match (at, entry) {
                        (Some(at), Some(entry)) => {
                            live.sealed.segments.remove(at);
                            live.absorbed = Some(entry);
                        }
                        _ => {
                            drop(live);
                            self.warn(format!(
                                "the HNSW graph dump grows segment {file}, which the manifest does not list; rebuilt it from sled"
                            ));
                            return self.timed_mutable_from_sled();
                        }
                    }
                }
                self.time(|t| {
                    t.checksum = checked.as_secs_f64();
                    t.graph_load = (loaded - checked).as_secs_f64();
                });
                self.replay(&mut graph, checkpoint.seq)?;
                self.live_mut().mutable = graph;
                self.time(|t| t.replay = (start.elapsed() - loaded).as_secs_f64());
                Ok(())
            }
            // No dump, or one made before the last seal (a crash between the manifest's swap
            // and the dump's): the mutable part is whatever sled holds past the sealed ids.
            Ok(_) => self.timed_mutable_from_sled(),
            Err(reason) => {
                self.warn(format!(
                    "the HNSW graph dump is unusable ({reason}); rebuilt it from sled"
                ));
                self.timed_mutable_from_sled()
            }
        }
    }

    /// Inserts the log's inserts after `seq` (less those deleted since) into `graph`.
    fn replay(&self, graph: &mut Growing, seq: u64) -> Result<(), StoreError> {
        let mut replay = Vec::new();
        let mut deleted = Vec::new();
        let from = (seq + 1).to_be_bytes();
        for kv in self.trees.log.range(from..) {
            let (k, v) = kv.map_err(|e| self.sled(e))?;
            match LogOp::decode(&v) {
                Some(LogOp::Insert(id)) => {
                    if let Some(vector) = self.vector_of(id)? {
                        replay.push((id, vector));
                    }
                }
                Some(LogOp::Delete(id)) => deleted.push(id),
                None => {
                    return Err(StoreError::Corrupt {
                        path: self.dir.clone(),
                        key: format!("log {:?}", records::key_id(&k)),
                        message: "unknown operation".into(),
                    })
                }
            }
        }
        // A point added and deleted after the dump is not in the graph, nor needed.
        let deleted: HashSet<PointId> = deleted.into_iter().collect();
        replay.retain(|(id, _)| !deleted.contains(id));
        graph.insert(&replay);
        Ok(())
    }

    fn timed_mutable_from_sled(&self) -> Result<(), StoreError> {
        let start = Instant::now();
        let _writer = self.write_turn();
        let from = self.live().sealed.manifest.next_id;
        let points = self.vectors_from(from)?;
        let mut graph = self.empty_graph();
        graph.insert(&points);
        let full = graph.len() >= self.options.seal_at;
        {
            let mut live = self.live_mut();
            live.mutable = graph;
            live.absorbed = None;
        }
        if full {
            self.seal_locked()?;
        } else {
            self.dump_locked(&self.live())?;
        }
        self.time(|t| t.rebuild = start.elapsed().as_secs_f64());
        Ok(())
    }

    /// Every vector in sled with an id of at least `from`.
    fn vectors_from(&self, from: PointId) -> Result<Vec<(PointId, Vec<f32>)>, StoreError> {
        let mut points = Vec::new();
        for kv in self.trees.vectors.range(records::id_key(from)..) {
            let (k, v) = kv.map_err(|e| self.sled(e))?;
            let id = records::key_id(&k).unwrap_or_default();
            points.push((id, self.decode_vector(id, &v)?));
        }
        Ok(points)
    }

    fn timed_rebuild(&self) -> Result<(), StoreError> {
        let start = Instant::now();
        self.rebuild_index(false)?;
        self.time(|t| t.rebuild = start.elapsed().as_secs_f64());
        Ok(())
    }

    /// One new segment from every live vector in sled, replacing every segment and the mutable
    /// graph; with `drop_tombstones`, also forgets the tombstones. Searches go on against the old
    /// index until the swap.
    pub(super) fn rebuild_index(&self, drop_tombstones: bool) -> Result<RebuildReport, StoreError> {
        let _writer = self.write_turn();
        let points = self.vectors_from(0)?;
        let mut graph = self.empty_graph();
        graph.insert(&points);
        let mut manifest = self.live().sealed.manifest.clone();
        manifest.segments.clear();
        let segments = self.seal_graph(&graph, &mut manifest, &|_| false)?;
        let removed = {
            let mut live = self.live_mut();
            let old = std::mem::replace(
                &mut live.sealed,
                Sealed {
                    manifest,
                    segments: segments.into_iter().collect(),
                },
            );
            live.mutable = self.empty_graph();
            live.absorbed = None;
            let removed = live.tombstones.len() as u64;
            if drop_tombstones {
                // Only now: until the manifest's swap, the old segments still held these points.
                self.trees.tombstones.clear().map_err(|e| self.sled(e))?;
                live.tombstones.clear();
            }
            drop(old);
            removed
        };
        self.live().sealed.remove_unlisted(&self.segments_dir());
        self.dump_locked(&self.live())?;
        Ok(RebuildReport {
            points: points.len() as u64,
            removed_tombstones: if drop_tombstones { removed } else { 0 },
        })
    }

    /// Seals the mutable graph, if it holds anything; the caller holds the writer's turn.
    pub(super) fn seal_locked(&self) -> Result<(), StoreError> {
        let (segment, manifest) = {
            let live = self.live();
            if live.mutable.len() == 0 {
                return Ok(());
            }
            let mut manifest = live.sealed.manifest.clone();
            // The segment the growing graph was started from is replaced by the new one.
            if let Some(absorbed) = &live.absorbed {
                manifest.segments.retain(|e| e.file != absorbed.file);
            }
            let keep = |id: PointId| live.tombstones.contains(&id);
            let segment = self.seal_graph(&live.mutable, &mut manifest, &keep)?;
            (segment, manifest)
        };
        let old = {
            let mut live = self.live_mut();
            live.sealed.segments.extend(segment);
            live.sealed.manifest = manifest;
            live.absorbed = None;
            std::mem::replace(&mut live.mutable, self.empty_graph())
        };
        // Freed outside the lock.
        drop(old);
        self.live().sealed.remove_unlisted(&self.segments_dir());
        self.dump_locked(&self.live())
    }

    /// Starts the (empty) growing graph from the last sealed segment, if it holds at most
    /// `3 × seal_at` points: its points are read back (a copy of its arrays), it stops being
    /// searched, and the next seal replaces it. So a sealed store that grows by less than
    /// `seal_at` still searches one graph. The caller holds the writer's turn.
    pub(super) fn absorb_last_segment(&self) {
        let grown = {
            let live = self.live();
            if live.mutable.len() > 0 || live.absorbed.is_some() {
                return;
            }
            let (Some(last), Some(entry)) = (
                live.sealed.segments.last(),
                live.sealed.manifest.segments.last(),
            ) else {
                return;
            };
            let listed = last
                .path()
                .file_name()
                .is_some_and(|n| n.to_string_lossy() == entry.file);
            if !listed || last.len() > self.options.seal_at.saturating_mul(3) {
                return;
            }
            match Growing::from_segment(last, params_of(&self.config)) {
                Ok(graph) => (graph, entry.clone()),
                Err(e) => {
                    self.warn(format!("cannot grow the last segment further ({e})"));
                    return;
                }
            }
        };
        let segment = {
            let mut live = self.live_mut();
            live.mutable = grown.0;
            live.absorbed = Some(grown.1);
            live.sealed.segments.pop()
        };
        // Unmapped outside the lock; the file stays until the next seal replaces it.
        drop(segment);
    }

    /// Writes `graph` as a new segment and `manifest` (with it added, and the current log
    /// sequence and next id) to disk, in that order. `dead` marks nodes already deleted.
    fn seal_graph(
        &self,
        graph: &Growing,
        manifest: &mut Manifest,
        dead: &dyn Fn(PointId) -> bool,
    ) -> Result<Option<super::segment::Segment>, StoreError> {
        let seq = self.current_seq()?;
        let next_id = self.next_id()?;
        // The segment must never hold a write that sled could still lose.
        self.db.flush().map_err(|e| self.sled(e))?;
        let dir = self.segments_dir();
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let builder = graph.to_segment(seq);
        let segment = if builder.len() == 0 {
            None
        } else {
            let file = manifest.take_file();
            let path = dir.join(&file);
            let segment = builder.write(&path, dead).map_err(|e| io(&path, e))?;
            manifest.segments.push(SegmentEntry {
                file,
                points: segment.len(),
            });
            Some(segment)
        };
        manifest.generation += 1;
        manifest.seq = seq;
        manifest.next_id = next_id;
        write_manifest(&dir, manifest).map_err(|e| io(&dir, e))?;
        Ok(segment)
    }

    /// Writes the mutable graph's dump, then drops the log entries it (and the segments) cover.
    pub(super) fn dump_locked(&self, live: &Live) -> Result<(), StoreError> {
        let seq = self.current_seq()?;
        self.db.flush().map_err(|e| self.sled(e))?;
        graph::dump(
            &live.mutable,
            &self.graph_dir(),
            seq,
            live.sealed.manifest.generation,
            live.absorbed.as_ref().map(|a| a.file.clone()),
        )?;
        live.undumped.store(0, std::sync::atomic::Ordering::Relaxed);
        let keys: Vec<_> = self
            .trees
            .log
            .range(..=seq.to_be_bytes())
            .keys()
            .collect::<Result<_, _>>()
            .map_err(|e| self.sled(e))?;
        for k in keys {
            self.trees.log.remove(k).map_err(|e| self.sled(e))?;
        }
        self.db.flush().map_err(|e| self.sled(e))?;
        Ok(())
    }
}

fn io(path: &std::path::Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}
