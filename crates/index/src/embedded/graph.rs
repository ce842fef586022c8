//! The growing graph's dump: derived data with a checkpoint sequence.
//!
//! A dump is a folder with the graph laid out as one segment file (`mutable.lks`, with its own
//! CRC-32s, `segment/file.rs`) and `checkpoint.json`, which records the write-log sequence the
//! graph reflects, the sealed part's generation it was made on and its point count. A dump is
//! written to a fresh folder and renamed into place, so a crash leaves either the old dump or
//! the new one. A dump that fails its checks is reported, and the caller rebuilds from sled.
//! (Stores written before the growing graph hold an hnsw_rs dump here instead; it is not read,
//! and the mutable part is rebuilt from sled once.)

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::growing::Growing;
use super::segment::Segment;
use crate::{Metric, StoreError};

const FILE: &str = "mutable.lks";
const CHECKPOINT: &str = "checkpoint.json";

/// The HNSW parameters, checked before a graph is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphParams {
    /// `M`: links per node and layer, 2..=256.
    pub max_connections: usize,
    /// Beam width while building.
    pub ef_construction: usize,
}

impl GraphParams {
    /// Checks the ranges.
    pub fn validate(self) -> Result<Self, StoreError> {
        if !(2..=256).contains(&self.max_connections) {
            return Err(StoreError::Invalid(format!(
                "HNSW max connections (M) must be between 2 and 256, got {}",
                self.max_connections
            )));
        }
        if !(1..=100_000).contains(&self.ef_construction) {
            return Err(StoreError::Invalid(format!(
                "HNSW ef_construction must be between 1 and 100000, got {}",
                self.ef_construction
            )));
        }
        Ok(self)
    }
}

/// What `checkpoint.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The last write-log sequence the graph reflects.
    pub seq: u64,
    /// The sealed part's generation ([`super::sealed::Manifest`]) the graph was dumped on; a dump
    /// of an older generation holds points that have been sealed since. (0 before segments.)
    #[serde(default)]
    pub generation: u64,
    /// Nodes in the graph.
    pub points: usize,
    /// Vector dimension.
    pub dimension: usize,
    /// Distance.
    pub metric: Metric,
    /// The sealed segment (its file name) the graph was started from: its points are in the
    /// graph, so it is not searched while this dump is the mutable part.
    #[serde(default)]
    pub absorbed: Option<String>,
}

/// Writes `graph` into `dir` (replacing what is there) as of log sequence `seq`, on the sealed
/// part's `generation`, started from the segment `absorbed`.
pub fn dump(
    graph: &Growing,
    dir: &Path,
    seq: u64,
    generation: u64,
    absorbed: Option<String>,
) -> Result<(), StoreError> {
    let tmp = sibling(dir, "tmp");
    let old = sibling(dir, "old");
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    if graph.len() > 0 {
        let path = tmp.join(FILE);
        graph
            .to_segment(seq)
            .write(&path, |_| false)
            .map_err(|e| io(&path, e))?;
    }
    let checkpoint = Checkpoint {
        seq,
        generation,
        points: graph.len(),
        dimension: graph.dimension(),
        metric: graph.metric(),
        absorbed,
    };
    let json =
        serde_json::to_vec_pretty(&checkpoint).map_err(|e| StoreError::Invalid(e.to_string()))?;
    fs::write(tmp.join(CHECKPOINT), json).map_err(|e| io(&tmp, e))?;
    sync_file(&tmp.join(CHECKPOINT))?;
    sync_file(&tmp)?;
    // Swap: dir → old, tmp → dir, drop old. Opening falls back to `old` if we die between.
    let _ = fs::remove_dir_all(&old);
    if dir.exists() {
        fs::rename(dir, &old).map_err(|e| io(dir, e))?;
    }
    fs::rename(&tmp, dir).map_err(|e| io(dir, e))?;
    if let Some(parent) = dir.parent() {
        sync_file(parent)?;
    }
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

/// Loads the dump in `dir` (or the previous one, if a swap was interrupted): the graph, its
/// checkpoint, and how long checking the file took. `Ok(None)` when there is no dump (or only
/// an hnsw_rs one); `Err` with the reason when there is one but it is unusable.
pub fn load(
    dir: &Path,
    params: GraphParams,
    metric: Metric,
    dimension: usize,
) -> Result<Option<(Growing, Checkpoint, Duration)>, String> {
    let old = sibling(dir, "old");
    let dir = if dir.join(CHECKPOINT).exists() {
        dir.to_path_buf()
    } else if old.join(CHECKPOINT).exists() {
        old
    } else {
        return Ok(None);
    };
    let text = fs::read(dir.join(CHECKPOINT)).map_err(|e| format!("{}: {e}", dir.display()))?;
    let checkpoint: Checkpoint = serde_json::from_slice(&text).map_err(|e| {
        format!(
            "{} is not a checkpoint: {e}",
            dir.join(CHECKPOINT).display()
        )
    })?;
    if checkpoint.metric != metric || checkpoint.dimension != dimension {
        return Err(format!(
            "the dump in {} is for {}-dimensional {} vectors, the store holds {dimension}-dimensional {metric}",
            dir.display(),
            checkpoint.dimension,
            checkpoint.metric
        ));
    }
    if checkpoint.points == 0 {
        return Ok(Some((
            Growing::new(params, metric, dimension),
            checkpoint,
            Duration::ZERO,
        )));
    }
    let path = dir.join(FILE);
    if !path.exists() && dir.join("graph.hnsw.graph").exists() {
        // An hnsw_rs dump, from before the growing graph.
        return Ok(None);
    }
    let checking = Instant::now();
    let segment = Segment::open(&path, metric, dimension)?;
    let checked = checking.elapsed();
    if segment.len() != checkpoint.points {
        return Err(format!(
            "{} has {} points, its checkpoint says {}",
            path.display(),
            segment.len(),
            checkpoint.points
        ));
    }
    let graph = Growing::from_segment(&segment, params)?;
    Ok(Some((graph, checkpoint, checked)))
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{suffix}"));
    dir.with_file_name(name)
}

fn io(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sync_file(path: &Path) -> Result<(), StoreError> {
    match fs::File::open(path) {
        Ok(f) => f.sync_all().map_err(|e| io(path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path, e)),
    }
}
