//! The sealed part of a store: `DIR/segments/`, its `manifest.json` and the segments it lists.
//!
//! The manifest is the checkpoint of the sealed part: every write up to its log sequence `seq`
//! is in a listed segment, and every id below `next_id` is sealed (or was deleted before). It is
//! replaced atomically (temporary file, fsync, rename, fsync of the folder) after the segment
//! files it lists are durable, so a crash leaves the old manifest or the new one, never a list of
//! missing files. Files the manifest does not list are leftovers of an interrupted seal and are
//! removed on open. Its `generation` grows with each change; the mutable graph's dump records the
//! generation it was made on, so a dump older than the last seal is never loaded.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::segment::Segment;
use crate::{Metric, PointId};

const MANIFEST: &str = "manifest.json";

/// What `manifest.json` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Grows by one with every seal or merge.
    pub generation: u64,
    /// The last write-log sequence the segments hold.
    pub seq: u64,
    /// Ids below this are in a segment (or were deleted before it was sealed).
    pub next_id: u64,
    /// The segment files, oldest first.
    pub segments: Vec<SegmentEntry>,
    /// The number the next segment file takes.
    pub next_file: u64,
}

/// One listed segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentEntry {
    /// File name inside `segments/`.
    pub file: String,
    /// Nodes.
    pub points: usize,
}

impl Manifest {
    /// A fresh file name for the next segment.
    pub fn take_file(&mut self) -> String {
        let name = format!("segment-{:06}.lks", self.next_file);
        self.next_file += 1;
        name
    }
}

/// The sealed segments of a store, as listed by its manifest.
#[derive(Debug, Default)]
pub struct Sealed {
    /// The manifest they were opened from.
    pub manifest: Manifest,
    /// The segments, in the manifest's order.
    pub segments: Vec<Segment>,
}

impl Sealed {
    /// Opens `dir`'s manifest and every segment it lists (none when there is no manifest), and
    /// removes unlisted files. The error says which file is unusable and why.
    pub fn open(dir: &Path, metric: Metric, dimension: usize) -> Result<Sealed, String> {
        let path = dir.join(MANIFEST);
        let manifest: Manifest = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("{} does not parse: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest::default(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let mut segments = Vec::with_capacity(manifest.segments.len());
        for entry in &manifest.segments {
            let segment = Segment::open(&dir.join(&entry.file), metric, dimension)?;
            if segment.len() != entry.points {
                return Err(format!(
                    "{} has {} points, the manifest says {}",
                    segment.path().display(),
                    segment.len(),
                    entry.points
                ));
            }
            segments.push(segment);
        }
        let sealed = Sealed { manifest, segments };
        sealed.remove_unlisted(dir);
        Ok(sealed)
    }

    /// Deletes files in `dir` that the manifest does not list (interrupted seals).
    pub fn remove_unlisted(&self, dir: &Path) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let listed = name == MANIFEST || self.manifest.segments.iter().any(|s| s.file == name);
            if !listed {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Points in all segments, deleted ones included.
    pub fn len(&self) -> usize {
        self.segments.iter().map(Segment::len).sum()
    }

    /// Bytes of all segment files.
    pub fn bytes(&self) -> usize {
        self.segments.iter().map(Segment::bytes).sum()
    }

    /// Marks `id` deleted in the segment that holds it.
    pub fn mark_dead(&mut self, id: PointId) {
        for segment in &mut self.segments {
            if segment.mark_dead(id) {
                return;
            }
        }
    }
}

/// Replaces `dir`'s manifest atomically.
pub fn write_manifest(dir: &Path, manifest: &Manifest) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{MANIFEST}.tmp"));
    let json = serde_json::to_vec_pretty(manifest)?;
    {
        let mut file = fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut file, &json)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, dir.join(MANIFEST))?;
    fs::File::open(dir)?.sync_all()
}
