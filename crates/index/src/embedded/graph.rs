//! The HNSW graph (hnsw_rs), and its dump: derived data with a checkpoint sequence.
//!
//! A dump is a folder with hnsw_rs's two files and `checkpoint.json`, which records the write-log
//! sequence the graph reflects, its point count and a CRC-32 of each file. A dump is written to a
//! fresh folder and renamed into place, so a crash leaves either the old dump or the new one.
//! A dump whose checksums or load fail is reported, and the caller rebuilds from sled.

use std::fs;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use hnsw_rs::prelude::{AnnT, DistL1, DistL2, Distance, Hnsw, HnswIo};
use serde::{Deserialize, Serialize};

use super::segment::Builder;
use crate::{Metric, PointId, StoreError};

const BASENAME: &str = "graph";
const CHECKPOINT: &str = "checkpoint.json";
/// hnsw_rs's layer cap.
const MAX_LAYERS: usize = 16;

/// hnsw_rs's distance for our [`Metric`]. hnsw_rs asserts on negative distances, so cosine is
/// clamped at zero; vectors are unit length already ([`Metric::prepare`]).
#[derive(Debug, Clone, Copy)]
pub struct StoreDistance(pub Metric);

impl Distance<f32> for StoreDistance {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        match self.0 {
            Metric::L1 => DistL1.eval(a, b),
            Metric::L2 => DistL2.eval(a, b),
            Metric::Cosine => {
                let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                (1.0 - dot).max(0.0)
            }
        }
    }
}

/// The HNSW parameters, checked before hnsw_rs sees them (it exits the process when
/// `max_connections > 256`).
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

/// A graph over the live (and tombstoned) points.
pub struct Graph {
    hnsw: Hnsw<'static, f32, StoreDistance>,
    /// `M` (hnsw_rs reports it as a `u8`, which 256 overflows).
    m: usize,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("points", &self.hnsw.get_nb_point())
            .finish()
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
    /// CRC-32 of `graph.hnsw.graph`.
    pub graph_crc: u32,
    /// CRC-32 of `graph.hnsw.data`.
    pub data_crc: u32,
}

impl Graph {
    /// An empty graph sized for about `capacity` points.
    pub fn new(params: GraphParams, metric: Metric, capacity: usize) -> Self {
        let hnsw = Hnsw::new(
            params.max_connections,
            capacity.max(1024),
            MAX_LAYERS,
            params.ef_construction,
            StoreDistance(metric),
        );
        Graph {
            hnsw,
            m: params.max_connections,
        }
    }

    /// Nodes in the graph (tombstones included).
    pub fn len(&self) -> usize {
        self.hnsw.get_nb_point()
    }

    /// Adds points; large batches are inserted in parallel (rayon).
    pub fn insert(&self, points: &[(PointId, Vec<f32>)]) {
        if points.len() >= 64 {
            let refs: Vec<(&Vec<f32>, usize)> =
                points.iter().map(|(id, v)| (v, *id as usize)).collect();
            self.hnsw.parallel_insert(&refs);
        } else {
            for (id, v) in points {
                self.hnsw.insert((v.as_slice(), *id as usize));
            }
        }
    }

    /// The `k` nearest nodes accepted by `keep`, nearest first, by hnsw_rs's own search: the
    /// store searches a snapshot instead (`mutable.rs`); tests compare the two.
    #[cfg(test)]
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        keep: Option<&dyn Fn(PointId) -> bool>,
    ) -> Vec<(PointId, f32)> {
        use hnsw_rs::prelude::{FilterT, Neighbour};
        if k == 0 || self.len() == 0 {
            return Vec::new();
        }
        let found: Vec<Neighbour> = match keep {
            None => self.hnsw.search(query, k, ef.max(k)),
            Some(keep) => {
                let filter = |id: &usize| keep(*id as PointId);
                self.hnsw
                    .search_filter(query, k, ef.max(k), Some(&filter as &dyn FilterT))
            }
        };
        found
            .into_iter()
            .map(|n| (n.d_id as PointId, n.distance))
            .collect()
    }

    /// Lays the graph out as a sealed segment holding the writes up to `seq`, reading it through
    /// hnsw_rs's API: each point's id, level, vector and neighbour lists.
    pub fn to_segment(&self, metric: Metric, dimension: usize, seq: u64) -> Builder {
        let points = self.hnsw.get_point_indexation();
        // hnsw_rs's point iterator unwraps the entry point: an empty graph has none.
        let members: Vec<(PointId, usize)> = if self.len() == 0 {
            Vec::new()
        } else {
            points
                .into_iter()
                .map(|p| (p.get_origin_id() as PointId, p.get_point_id().0 as usize))
                .collect()
        };
        let empty = members.is_empty();
        // hnsw_rs keeps up to 2·M links on layer 0 and M above.
        let mut builder = Builder::new(metric, dimension, 2 * self.m, self.m, seq, members);
        if !empty {
            for p in points {
                let layers: Vec<Vec<PointId>> = p
                    .get_neighborhood_id()
                    .iter()
                    .map(|layer| layer.iter().map(|n| n.d_id as PointId).collect())
                    .collect();
                builder.node(p.get_origin_id() as PointId, p.get_v(), &layers);
            }
        }
        builder
    }

    /// Writes the graph into `dir` (replacing what is there) as of log sequence `seq`, on the
    /// sealed part's `generation`.
    pub fn dump(
        &self,
        dir: &Path,
        seq: u64,
        generation: u64,
        metric: Metric,
        dimension: usize,
    ) -> Result<(), StoreError> {
        let tmp = sibling(dir, "tmp");
        let old = sibling(dir, "old");
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
        if self.len() > 0 {
            self.hnsw.file_dump(&tmp, BASENAME).map_err(|e| {
                StoreError::Invalid(format!(
                    "cannot dump the HNSW graph into {}: {e}",
                    tmp.display()
                ))
            })?;
        }
        let checkpoint = Checkpoint {
            seq,
            generation,
            points: self.len(),
            dimension,
            metric,
            graph_crc: crc_of(&tmp.join(graph_file()))?,
            data_crc: crc_of(&tmp.join(data_file()))?,
        };
        let json = serde_json::to_vec_pretty(&checkpoint)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        fs::write(tmp.join(CHECKPOINT), json).map_err(|e| io(&tmp, e))?;
        for f in [graph_file(), data_file(), CHECKPOINT.to_string()] {
            sync_file(&tmp.join(f))?;
        }
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

    /// Loads the dump in `dir` (or the previous one, if a swap was interrupted). `Ok(None)` when
    /// there is no dump; `Err` with the reason when there is one but it is unusable.
    pub fn load(
        dir: &Path,
        params: GraphParams,
        metric: Metric,
        dimension: usize,
    ) -> Result<Option<(Graph, Checkpoint, std::time::Duration)>, String> {
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
        let checking = std::time::Instant::now();
        for (file, crc) in [
            (graph_file(), checkpoint.graph_crc),
            (data_file(), checkpoint.data_crc),
        ] {
            let found = crc_of(&dir.join(&file)).map_err(|e| e.to_string())?;
            if found != crc {
                return Err(format!("{} fails its checksum", dir.join(file).display()));
            }
        }
        let checked = checking.elapsed();
        if checkpoint.points == 0 {
            return Ok(Some((Graph::new(params, metric, 0), checkpoint, checked)));
        }
        // hnsw_rs's graph borrows its loader. The loader (two paths and options, no memory
        // map) is leaked so that the graph is 'static: a few hundred bytes per open.
        // (hnsw_rs's memory-mapped reload panics in `load_point` on a 1,000,000-point dump,
        // so the dump is read into memory.)
        let loader: &'static HnswIo = Box::leak(Box::new(HnswIo::new(&dir, BASENAME)));
        let loaded = catch_unwind(AssertUnwindSafe(|| {
            loader.load_hnsw_with_dist::<f32, StoreDistance>(StoreDistance(metric))
        }));
        let hnsw = match loaded {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => return Err(format!("hnsw_rs cannot load {}: {e}", dir.display())),
            Err(_) => return Err(format!("hnsw_rs panicked loading {}", dir.display())),
        };
        if hnsw.get_nb_point() != checkpoint.points {
            return Err(format!(
                "the dump in {} has {} points, its checkpoint says {}",
                dir.display(),
                hnsw.get_nb_point(),
                checkpoint.points
            ));
        }
        let graph = Graph {
            hnsw,
            m: params.max_connections,
        };
        Ok(Some((graph, checkpoint, checked)))
    }
}

fn graph_file() -> String {
    format!("{BASENAME}.hnsw.graph")
}

fn data_file() -> String {
    format!("{BASENAME}.hnsw.data")
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

/// CRC-32 of a file; 0 for a missing one (an empty graph has no files).
fn crc_of(path: &Path) -> Result<u32, StoreError> {
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(path, e)),
    };
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize())
}

fn sync_file(path: &Path) -> Result<(), StoreError> {
    match fs::File::open(path) {
        Ok(f) => f.sync_all().map_err(|e| io(path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path, e)),
    }
}
