//! `EmbeddedStore`: sled as the source of truth; a growing graph and sealed segments as
//! the index.
//!
//! sled holds every id, vector, metadata object, thumbnail, a secondary index of metadata values
//! (for filters) and a write log with sequence numbers. Each batch is one sled transaction, and
//! [`Durability::Flushed`] fsyncs it before the call returns. The index is derived:
//! - new points go into the **growing** graph (`growing/`: our own HNSW construction, searched
//!   by the same loop as the segments), dumped with a checkpoint sequence (`graph.rs`);
//! - when it holds [`EmbeddedOptions::seal_at`] points, and at [`VectorStore::rebuild`], it is
//!   laid out as a **sealed segment** (`segment/`): one memory-mapped file, searched by our own
//!   loop; the manifest (`sealed.rs`) lists the segments and the writes they hold;
//! - a search runs over every segment with the same `ef` and merges the top `k`.
//!
//! `store.rs` is the [`VectorStore`] implementation (each write one sled transaction);
//! `search.rs` answers a query: filters through the value index, exact scans for small
//! candidate sets, the graph and the segments otherwise. `checkpoint.rs` says how the index follows sled and how it is recovered on open. Deleted
//! points become tombstones, skipped by searches until [`VectorStore::rebuild`].

mod checkpoint;
mod graph;
mod growing;
mod live;
mod lock;
mod records;
mod sealed;
mod search;
mod segment;
mod store;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};

use async_trait::async_trait;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use self::graph::GraphParams;
use self::growing::Growing;
use self::live::Live;
use self::lock::open_db;
use self::records::{LogOp, StoredConfig, FORMAT};
use self::sealed::Sealed;
use crate::filter::indexable_pairs;
use crate::rank::TopK;
use crate::{
    check_vector, Durability, Filter, Hit, Metadata, Metric, NewPoint, Point, PointId, Query,
    RebuildReport, StoreError, StoreInfo, VectorStore,
};

/// Settings of an embedded store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedOptions {
    /// HNSW `M` (2..=256). Fixed at creation.
    pub max_connections: usize,
    /// HNSW beam width while building. Fixed at creation.
    pub ef_construction: usize,
    /// Default beam width while searching.
    pub ef_search: usize,
    /// A filter matching at most this many points is answered exactly, not through the graph.
    pub exact_below: usize,
    /// The growing graph is sealed into a segment once this many points were added to it. The
    /// default is 100,000, or the `LOOKALIKE_SEAL_AT` environment variable (for tests and
    /// benchmarks). The first insert after a seal grows the last segment further (it is read
    /// back into the growing graph) while it holds at most `3 × seal_at` points, so a store
    /// that grows a little after sealing still searches one graph.
    pub seal_at: usize,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            max_connections: 16,
            ef_construction: 200,
            ef_search: 64,
            exact_below: 2048,
            seal_at: std::env::var("LOOKALIKE_SEAL_AT")
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .unwrap_or(100_000),
        }
    }
}

struct Trees {
    meta: sled::Tree,
    vectors: sled::Tree,
    metadata: sled::Tree,
    thumbnails: sled::Tree,
    by_value: sled::Tree,
    log: sled::Tree,
    tombstones: sled::Tree,
}

/// The shape of a store's index, for benchmarks and `index info`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IndexStats {
    /// Points in the growing (mutable) graph (tombstones included).
    pub mutable_points: usize,
    /// Of which read back from the last sealed segment, to grow it further.
    pub absorbed_points: usize,
    /// Sealed segments.
    pub segments: usize,
    /// Points in sealed segments (tombstones included).
    pub sealed_points: usize,
    /// Bytes of the segment files (memory-mapped).
    pub sealed_bytes: usize,
}

/// Where the time of [`EmbeddedStore::open`] went, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct OpenTimings {
    /// Opening sled (its own recovery) and reading the tombstones.
    pub sled: f64,
    /// Mapping the sealed segments and checking their CRC-32s and links.
    pub segments: f64,
    /// Checking the graph dump's CRC-32s.
    pub checksum: f64,
    /// Reading the dump into the growing graph.
    pub graph_load: f64,
    /// Replaying the log entries newer than the dump.
    pub replay: f64,
    /// Rebuilding the graph from sled (no usable dump).
    pub rebuild: f64,
}

/// A collection's vectors on local disk: `DIR/db` (sled) and `DIR/graph` (the HNSW dump).
pub struct EmbeddedStore {
    dir: PathBuf,
    db: sled::Db,
    trees: Trees,
    config: StoredConfig,
    options: EmbeddedOptions,
    live: RwLock<Live>,
    /// One writer at a time. Writers hold it across their sled transaction, its fsync and the
    /// graph update; the graph lock itself is held only for the in-memory update, so searches do
    /// not wait for the disk. A dump holds it too, so its checkpoint sequence and the graph agree.
    writer: Mutex<()>,
    warnings: Mutex<Vec<String>>,
    timings: Mutex<OpenTimings>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("dir", &self.dir)
            .field("config", &self.config)
            .finish()
    }
}

type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

impl EmbeddedStore {
    /// Creates an empty store in `dir` (which must not hold one yet).
    pub fn create(
        dir: &Path,
        dimension: usize,
        metric: Metric,
        options: EmbeddedOptions,
    ) -> Result<Self, StoreError> {
        let params = GraphParams {
            max_connections: options.max_connections,
            ef_construction: options.ef_construction,
        }
        .validate()?;
        if dimension == 0 {
            return Err(StoreError::Invalid(
                "a store needs a dimension of at least 1".into(),
            ));
        }
        if dir.join("db").exists() {
            return Err(StoreError::Mismatch(format!(
                "a vector store already exists at {}",
                dir.display()
            )));
        }
        let config = StoredConfig {
            format: FORMAT.into(),
            version: 1,
            dimension,
            metric,
            max_connections: params.max_connections,
            ef_construction: params.ef_construction,
        };
        let db = open_db(dir)?;
        let meta = db.open_tree("meta").map_err(|e| sled_err(dir, e))?;
        let json = serde_json::to_vec(&config).map_err(|e| StoreError::Invalid(e.to_string()))?;
        meta.insert("config", json).map_err(|e| sled_err(dir, e))?;
        db.flush().map_err(|e| sled_err(dir, e))?;
        drop(meta);
        // The same handle goes on: dropping it and opening again races sled's own I/O worker
        // for the file lock (sled#1289).
        Self::open_with(db, dir, options, std::time::Instant::now())
    }

    /// Opens the store in `dir`: loads the graph dump and replays newer writes, or rebuilds the
    /// graph from sled when the dump is missing or corrupt (see [`StoreInfo::warnings`]).
    pub fn open(dir: &Path, options: EmbeddedOptions) -> Result<Self, StoreError> {
        if !dir.join("db").exists() {
            return Err(StoreError::Missing {
                path: dir.to_path_buf(),
            });
        }
        let start = std::time::Instant::now();
        let db = open_db(dir)?;
        Self::open_with(db, dir, options, start)
    }

    /// Loads the store from an open sled database (see [`EmbeddedStore::open`]).
    fn open_with(
        db: sled::Db,
        dir: &Path,
        options: EmbeddedOptions,
        start: std::time::Instant,
    ) -> Result<Self, StoreError> {
        let tree = |name: &str| db.open_tree(name).map_err(|e| sled_err(dir, e));
        let trees = Trees {
            meta: tree("meta")?,
            vectors: tree("vectors")?,
            metadata: tree("metadata")?,
            thumbnails: tree("thumbnails")?,
            by_value: tree("by_value")?,
            log: tree("log")?,
            tombstones: tree("tombstones")?,
        };
        let raw = trees
            .meta
            .get("config")
            .map_err(|e| sled_err(dir, e))?
            .ok_or_else(|| StoreError::Corrupt {
                path: dir.to_path_buf(),
                key: "config".into(),
                message: "missing".into(),
            })?;
        let config: StoredConfig =
            serde_json::from_slice(&raw).map_err(|e| StoreError::Corrupt {
                path: dir.to_path_buf(),
                key: "config".into(),
                message: e.to_string(),
            })?;
        if config.format != FORMAT || config.version != 1 {
            return Err(StoreError::Mismatch(format!(
                "{} holds a {} v{} store; this build reads {FORMAT} v1",
                dir.display(),
                config.format,
                config.version
            )));
        }
        let mut tombstones = HashSet::new();
        for kv in trees.tombstones.iter() {
            let (k, _) = kv.map_err(|e| sled_err(dir, e))?;
            tombstones.extend(records::key_id(&k));
        }
        let store = EmbeddedStore {
            dir: dir.to_path_buf(),
            db,
            trees,
            options,
            live: RwLock::new(Live {
                mutable: Growing::new(params_of(&config), config.metric, config.dimension),
                absorbed: None,
                sealed: Sealed::default(),
                tombstones,
                undumped: AtomicUsize::new(0),
            }),
            config,
            writer: Mutex::new(()),
            warnings: Mutex::new(Vec::new()),
            timings: Mutex::new(OpenTimings {
                sled: start.elapsed().as_secs_f64(),
                ..OpenTimings::default()
            }),
        };
        store.load_index()?;
        Ok(store)
    }

    /// Opens the store in `dir`, creating it if there is none.
    pub fn open_or_create(
        dir: &Path,
        dimension: usize,
        metric: Metric,
        options: EmbeddedOptions,
    ) -> Result<Self, StoreError> {
        if dir.join("db").exists() {
            let store = Self::open(dir, options)?;
            if store.config.dimension != dimension || store.config.metric != metric {
                return Err(StoreError::Mismatch(format!(
                    "the store at {} holds {}-dimensional {} vectors, not {dimension}-dimensional {metric}",
                    dir.display(),
                    store.config.dimension,
                    store.config.metric
                )));
            }
            Ok(store)
        } else {
            Self::create(dir, dimension, metric, options)
        }
    }

    /// Where the time of opening went.
    pub fn open_timings(&self) -> OpenTimings {
        *self.timings.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn time(&self, f: impl FnOnce(&mut OpenTimings)) {
        f(&mut self.timings.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn sled(&self, e: sled::Error) -> StoreError {
        sled_err(&self.dir, e)
    }

    fn warn(&self, message: String) {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message);
    }

    /// Seals the growing graph into a segment now (whatever its size), so that every point
    /// written so far is in a memory-mapped segment. A no-op when it is empty.
    pub fn seal(&self) -> Result<(), StoreError> {
        let _writer = self.write_turn();
        self.seal_locked()
    }

    /// Dumps the growing graph now, whatever changed since its last dump (which
    /// [`VectorStore::flush`] does too, and [`VectorStore::checkpoint_if_due`] only when due).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let _writer = self.write_turn();
        self.dump_locked(&self.live())
    }

    /// The shape of the index: how many points are sealed, how many are not.
    pub fn index_stats(&self) -> IndexStats {
        let live = self.live();
        IndexStats {
            mutable_points: live.mutable.len(),
            absorbed_points: live.absorbed.as_ref().map_or(0, |a| a.points),
            segments: live.sealed.segments.len(),
            sealed_points: live.sealed.len(),
            sealed_bytes: live.sealed.bytes(),
        }
    }

    fn write_turn(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn live(&self) -> std::sync::RwLockReadGuard<'_, Live> {
        self.live.read().unwrap_or_else(|e| e.into_inner())
    }

    fn live_mut(&self) -> std::sync::RwLockWriteGuard<'_, Live> {
        self.live.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self, tree: &sled::Tree, id: PointId) -> Result<Option<sled::IVec>, StoreError> {
        tree.get(records::id_key(id)).map_err(|e| self.sled(e))
    }

    fn decode_vector(&self, id: PointId, bytes: &[u8]) -> Result<Vec<f32>, StoreError> {
        records::bytes_vector(bytes, self.config.dimension).ok_or_else(|| StoreError::Corrupt {
            path: self.dir.clone(),
            key: format!("vector {id}"),
            message: format!(
                "{} bytes for a {}-dimensional vector",
                bytes.len(),
                self.config.dimension
            ),
        })
    }

    fn vector_of(&self, id: PointId) -> Result<Option<Vec<f32>>, StoreError> {
        self.read(&self.trees.vectors, id)?
            .map(|raw| self.decode_vector(id, &raw))
            .transpose()
    }

    fn metadata_of(&self, id: PointId) -> Result<Option<Metadata>, StoreError> {
        self.read(&self.trees.metadata, id)?
            .map(|raw| {
                serde_json::from_slice(&raw).map_err(|e| StoreError::Corrupt {
                    path: self.dir.clone(),
                    key: format!("metadata {id}"),
                    message: e.to_string(),
                })
            })
            .transpose()
    }

    fn finish(&self, durability: Durability) -> Result<(), StoreError> {
        if durability == Durability::Flushed {
            self.db.flush().map_err(|e| self.sled(e))?;
        }
        Ok(())
    }

    fn points(&self) -> Result<u64, StoreError> {
        let raw = self.trees.meta.get("points").map_err(|e| self.sled(e))?;
        Ok(records::counter(raw.as_deref()))
    }
}

fn params_of(config: &StoredConfig) -> GraphParams {
    GraphParams {
        max_connections: config.max_connections,
        ef_construction: config.ef_construction,
    }
}

fn sled_err(dir: &Path, e: sled::Error) -> StoreError {
    StoreError::Sled {
        path: dir.to_path_buf(),
        message: e.to_string(),
    }
}

fn tx_err(e: TransactionError<StoreError>, dir: &Path) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => sled_err(dir, e),
    }
}

fn bump(
    meta: &sled::transaction::TransactionalTree,
    key: &str,
    by: u64,
    sub: bool,
) -> TxResult<u64> {
    let now = records::counter(meta.get(key)?.as_deref());
    let next = if sub {
        now.saturating_sub(by)
    } else {
        now + by
    };
    meta.insert(key, &next.to_be_bytes())?;
    Ok(now)
}

/// Reserves `n` log sequence numbers and returns the first. Sequences start at 1, so that a
/// checkpoint at 0 means "before every write".
fn take_seqs(meta: &sled::transaction::TransactionalTree, n: u64) -> TxResult<u64> {
    let first = records::counter(meta.get("next_seq")?.as_deref()).max(1);
    meta.insert("next_seq", &(first + n).to_be_bytes())?;
    Ok(first)
}
