//! The `VectorStore` trait and the types that cross it.
//!
//! Only our own types cross the trait: a backend's errors, ids and distances stay inside its
//! module. Requests are batches, a higher score always means more similar, and writes say how
//! durable they must be before they return.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Filter, Metric, StoreError};

/// A string value of `key` in `metadata`.
pub(crate) fn text_of(metadata: &Metadata, key: &str) -> Option<String> {
    metadata
        .get(key)
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// A point's id. Ids are assigned by the store, grow monotonically and are never reused, so a
/// deleted id never comes back.
pub type PointId = u64;

/// Per-image metadata: a JSON object (`label`, `path`, `sha256`, anything the user adds).
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// What to add: the vector, its metadata and an optional small thumbnail (encoded image bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct NewPoint {
    /// The vector, of the store's dimension.
    pub vector: Vec<f32>,
    /// Its metadata.
    pub metadata: Metadata,
    /// A small encoded image (JPEG or PNG), if any.
    pub thumbnail: Option<Vec<u8>>,
}

/// A stored point, as [`VectorStore::get`] returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Its id.
    pub id: PointId,
    /// The vector.
    pub vector: Vec<f32>,
    /// Its metadata.
    pub metadata: Metadata,
    /// Its thumbnail, if one was stored.
    pub thumbnail: Option<Vec<u8>>,
}

/// The metadata key that names an image by its content (the SHA-256 of its bytes, in hex):
/// [`VectorStore::insert_unique`] stores each value once.
pub const CONTENT_KEY: &str = "sha256";

/// The metadata key of the caller's own id for an image (a SKU): unique in a collection.
pub const EXTERNAL_KEY: &str = "external_id";

/// What became of one point given to [`VectorStore::insert_unique`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Stored under this new id.
    New(PointId),
    /// Not stored: a point with the same [`CONTENT_KEY`] is stored under this id (earlier, by
    /// another process, or earlier in the same batch).
    Existing(PointId),
}

impl Inserted {
    /// The point's id, new or existing.
    pub fn id(self) -> PointId {
        match self {
            Inserted::New(id) | Inserted::Existing(id) => id,
        }
    }
}

/// How durable a write must be before the call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// On disk (fsynced, or committed by the database): survives a crash or a SIGKILL.
    #[default]
    Flushed,
    /// Applied, but may be lost by a crash in the next moments (bulk loads that flush at the end).
    Buffered,
}

/// One search: the `k` best points after skipping `offset`, among those matching `filter`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The query vector.
    pub vector: Vec<f32>,
    /// How many hits to return at most.
    pub k: usize,
    /// How many of the best hits to skip first (paging).
    pub offset: usize,
    /// Only points whose metadata match.
    pub filter: Filter,
    /// The HNSW beam width (`ef`); `None` for the store's default.
    pub ef: Option<usize>,
    /// Whether hits carry their vectors (for exact re-ranking).
    pub with_vectors: bool,
    /// Whether hits carry their metadata (true unless only ids and scores are wanted).
    pub with_metadata: bool,
}

impl Query {
    /// The `k` nearest points to `vector`, unfiltered.
    pub fn nearest(vector: Vec<f32>, k: usize) -> Self {
        Query {
            vector,
            k,
            offset: 0,
            filter: Filter::default(),
            ef: None,
            with_vectors: false,
            with_metadata: true,
        }
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The point's id.
    pub id: PointId,
    /// Higher is more similar (see [`Metric::score`]).
    pub score: f32,
    /// Its metadata (empty when the query did not ask for it).
    pub metadata: Metadata,
    /// Its vector, when the query asked for it.
    pub vector: Option<Vec<f32>>,
}

/// A batch of searches' hits, and where they came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchAnswers {
    /// One list of hits per query, as [`VectorStore::search`] gives them.
    pub hits: Vec<Vec<Hit>>,
    /// The shards these hits lack (a sharded store with `partial_ok`), as
    /// `shard N (URL): why`; empty when every shard answered.
    pub missing_shards: Vec<String>,
    /// How far behind its primary the replica that gave these hits was; `None` when the
    /// primary (or a store without replicas) answered.
    pub replica_lag: Option<crate::ReplicaLag>,
}

/// What a store says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreInfo {
    /// `flat`, `embedded` or `pgvector`.
    pub kind: String,
    /// Where it lives (a folder, or a URL without its password).
    pub location: String,
    /// The vectors' dimension.
    pub dimension: usize,
    /// The distance.
    pub metric: Metric,
    /// Live points.
    pub points: u64,
    /// Deleted points still taking room in the graph, until a rebuild.
    pub tombstones: u64,
    /// Things the user should know (e.g. a corrupt graph dump that was rebuilt from sled).
    pub warnings: Vec<String>,
}

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildReport {
    /// Live points in the new index.
    pub points: u64,
    /// Tombstones removed.
    pub removed_tombstones: u64,
}

/// A collection's vectors: exact ([`crate::FlatStore`]), embedded HNSW + sled
/// ([`crate::EmbeddedStore`]) or PostgreSQL + pgvector ([`crate::PgVectorStore`]).
///
/// Every implementation passes the same conformance suite (`tests/conformance.rs`).
#[async_trait]
pub trait VectorStore: Send + Sync {
    /// Its kind, place, size and warnings.
    async fn info(&self) -> Result<StoreInfo, StoreError>;

    /// What the user should know about this store (e.g. a dump that was rebuilt), without
    /// [`VectorStore::info`]'s counting, which a large PostgreSQL table makes slow.
    async fn warnings(&self) -> Vec<String> {
        Vec::new()
    }

    /// How far behind its primary the replica that answers searches is; `None` when searches
    /// read the primary (or the store has no replicas).
    async fn replica_lag(&self) -> Result<Option<crate::ReplicaLag>, StoreError> {
        Ok(None)
    }

    /// Keeps uploaded files, each under its content hash (SHA-256, hex), where every process
    /// that opens this store reads them: a table beside the vectors. Returns `false`, keeping
    /// nothing, for a store that keeps no files (the embedded store: its collection keeps them
    /// in its own folder). Keeping content that is kept already is not an error.
    async fn keep_originals(&self, files: &[(&str, &[u8])]) -> Result<bool, StoreError> {
        let _ = files;
        Ok(false)
    }

    /// The file kept under content hash `sha256` by [`VectorStore::keep_originals`], if any.
    async fn original(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let _ = sha256;
        Ok(None)
    }

    /// Adds points and returns their new ids, in order. The whole batch is stored, or none of it.
    async fn insert(
        &self,
        points: Vec<NewPoint>,
        durability: Durability,
    ) -> Result<Vec<PointId>, StoreError>;

    /// Adds the points whose [`CONTENT_KEY`] is not stored yet and returns, in order, each
    /// point's new id or the id of the point that already holds its content. A point whose
    /// [`EXTERNAL_KEY`] is held by a point of other content fails the whole batch with
    /// [`StoreError::Conflict`], and none of it is stored. Points without a content key are
    /// always added.
    ///
    /// This default checks, then inserts: enough for stores that one process owns (the
    /// embedded store's lock file, a [`crate::FlatStore`] in memory) when the caller serializes
    /// its adds. [`crate::PgVectorStore`] enforces it in the database, under unique indexes,
    /// for any number of processes at once.
    async fn insert_unique(
        &self,
        points: Vec<NewPoint>,
        durability: Durability,
    ) -> Result<Vec<Inserted>, StoreError> {
        let mut held = crate::unique::Held::default();
        for p in &points {
            for (key, map) in [
                (CONTENT_KEY, &mut held.content),
                (EXTERNAL_KEY, &mut held.external),
            ] {
                if let Some(v) = text_of(&p.metadata, key) {
                    if let Some(&id) = self.ids(&Filter::equal(key, &v)).await?.first() {
                        map.insert(v, id);
                    }
                }
            }
        }
        let plan = crate::unique::Plan::new(points, &held)?;
        let (fresh, plan) = plan.take();
        let ids = self.insert(fresh, durability).await?;
        plan.finish(&ids)
    }

    /// Deletes points; returns how many existed. Unknown ids are not an error.
    async fn delete(&self, ids: &[PointId], durability: Durability) -> Result<u64, StoreError>;

    /// Replaces the metadata of existing points; returns how many existed.
    async fn set_metadata(
        &self,
        updates: Vec<(PointId, Metadata)>,
        durability: Durability,
    ) -> Result<u64, StoreError>;

    /// The points with these ids that exist, in the order asked.
    async fn get(&self, ids: &[PointId]) -> Result<Vec<Point>, StoreError>;

    /// Ids of the live points whose metadata match `filter`, ascending.
    async fn ids(&self, filter: &Filter) -> Result<Vec<PointId>, StoreError>;

    /// Runs a batch of searches. Each answer is sorted by descending score (ties by id), holds
    /// `min(k, matching − offset)` hits, and never a deleted point.
    async fn search(&self, queries: &[Query]) -> Result<Vec<Vec<Hit>>, StoreError>;

    /// [`VectorStore::search`], saying what this answer lacks (shards that did not answer) and
    /// how old it may be (a replica's lag). Each answer says it of itself, so concurrent
    /// searches never see each other's.
    async fn search_answers(&self, queries: &[Query]) -> Result<SearchAnswers, StoreError> {
        Ok(SearchAnswers {
            hits: self.search(queries).await?,
            ..SearchAnswers::default()
        })
    }

    /// Drops tombstones and rebuilds the index from the stored vectors.
    async fn rebuild(&self) -> Result<RebuildReport, StoreError>;

    /// Makes everything written so far durable, including derived data such as a graph dump.
    async fn flush(&self) -> Result<(), StoreError>;

    /// Writes derived data (such as a graph dump) if enough was written since it was last
    /// written that reopening would otherwise replay much; for callers that write often, such
    /// as a server after each upload. Writes made with [`Durability::Flushed`] are durable
    /// either way. The default does nothing.
    async fn checkpoint_if_due(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
