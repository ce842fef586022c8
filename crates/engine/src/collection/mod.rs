//! Collections: a model, a vector store, per-image metadata and thumbnails, under one name.
//!
//! A collection lives in `DATA_DIR/NAME/`: `collection.json` (the model it was built with, by
//! path and fingerprint, and where its vectors are) and, for the embedded store, `store/`.
//! Adding is incremental (files already indexed are recognised by their SHA-256), from paths
//! (`add.rs`) or uploaded bytes (`uploads.rs`, kept in `uploads/`, or in the store where it
//! keeps files: `originals.rs`); deleting leaves tombstones
//! until [`Collection::rebuild`]; every search re-ranks the store's candidates with the model's
//! exact head (`search.rs`), `products.rs` groups hits by product (and updates or deletes a
//! product's images together), and `explain.rs` explains hits in one batch. The model is a
//! [`ModelPool`] of replicas (`models.rs`), so one collection serves many threads.

mod add;
mod config;
mod error;
mod explain;
pub mod familiar;
mod import;
mod models;
pub mod novelty;
mod originals;
mod products;
mod region;
mod search;
mod side_file;
mod space;
mod uploads;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use lookalike_core::SimilarityModel;
use lookalike_index::{
    Durability, EmbeddedOptions, EmbeddedStore, Metadata, PgOptions, PgVectorStore, PointId,
    RebuildReport, StoreInfo, VectorStore,
};
use serde::Serialize;

pub use add::{worker_of, AddEvent, AddOptions, AddReport};
pub use config::{CollectionConfig, ModelRef, SessionUrls, StoreRef, CONFIG_FILE};
pub use error::CollectionError;
pub use explain::HitExplanation;
pub use import::{product_worker, ImportEvent, ImportOptions, ImportReport, IMAGE_LINK};
pub use models::{ModelFacts, ModelPool};
pub use novelty::Novelty;
pub use originals::{ImageSource, IN_STORE};
pub use products::{check_product, GroupHit, GroupResults, PRODUCT_KEY};
pub use region::{object_box, Crop, Region, UsedBox};
pub use search::{Provenance, QueryImage, SearchHit, SearchRequest, SearchResults};
pub use space::Space;
pub use uploads::{check_metadata, Upload, Uploaded, RESERVED_KEYS};

/// An open collection: its config, its model (loaded) and its store (connected).
pub struct Collection {
    dir: PathBuf,
    config: CollectionConfig,
    models: ModelPool,
    space: Space,
    store: Box<dyn VectorStore>,
    /// Held through an add, so that two adds never both decide an image is new.
    adding: tokio::sync::Mutex<()>,
    /// The catalogue's nearest-neighbour logits, for "nothing like this here".
    neighbours: std::sync::Mutex<novelty::NeighbourLogits>,
    /// Images added, and how many were unfamiliar to a trained model (the transfer gate).
    surprises: std::sync::Mutex<familiar::SurpriseCounts>,
}

impl std::fmt::Debug for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection")
            .field("dir", &self.dir)
            .field("config", &self.config)
            .finish()
    }
}

/// What `lookalike index info` shows.
#[derive(Debug, Clone, Serialize)]
pub struct CollectionInfo {
    /// The name.
    pub name: String,
    /// Its folder.
    pub dir: PathBuf,
    /// The model, in words.
    pub model: String,
    /// The model's fingerprint.
    pub fingerprint: String,
    /// The decision threshold on `d`.
    pub threshold: f64,
    /// The store's own report (kind, size, tombstones, warnings).
    pub store: StoreInfo,
    /// The transfer gate's reading of the images added so far (absent for models without a
    /// familiarity profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub familiarity: Option<lookalike_core::siamese::Familiarity>,
}

/// Checks a collection name: 1 to 50 letters, digits, `-` or `_`.
pub fn check_name(name: &str) -> Result<(), CollectionError> {
    let ok = !name.is_empty()
        && name.len() <= 50
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(CollectionError::Invalid(format!(
            "bad collection name {name:?}: use 1 to 50 letters, digits, '-' or '_'"
        )))
    }
}

impl Collection {
    /// Creates collection `name` in `data_dir`, bound to `model` and a new store.
    pub async fn create(
        data_dir: &Path,
        name: &str,
        model: ModelRef,
        store: StoreRef,
        device: tch::Device,
    ) -> Result<Self, CollectionError> {
        check_name(name)?;
        let dir = data_dir.join(name);
        if dir.join(CONFIG_FILE).exists() {
            return Err(CollectionError::Exists {
                name: name.into(),
                dir: data_dir.to_path_buf(),
            });
        }
        let loaded = model.load(device)?;
        let space = Space::of(&loaded)?;
        let dimension = match &space {
            Space::ZeroShot => loaded.backbone().channels() as usize,
            _ => lookalike_core::siamese::EMBEDDING_DIM as usize,
        };
        let config = CollectionConfig {
            format: config::FORMAT.into(),
            version: 1,
            name: name.into(),
            model,
            store,
            dimension,
            metric: space.metric(),
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        };
        // Only a new or empty folder becomes a collection, so that cleaning up after a failed
        // create removes nothing but what this create made.
        let occupied = std::fs::read_dir(&dir)
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(false);
        if occupied {
            return Err(CollectionError::Invalid(format!(
                "{} exists and is not a collection (no {CONFIG_FILE}); choose another name or --data-dir",
                dir.display()
            )));
        }
        std::fs::create_dir_all(&dir).map_err(|e| CollectionError::io(&dir, e))?;
        let store = match open_store(&dir, &config, true).await {
            Ok(s) => s,
            Err(e) => {
                // Leave nothing half-made behind.
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        // A PostgreSQL table outlives a deleted collection folder: never adopt its rows.
        let info = store.info().await?;
        if info.points > 0 {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(CollectionError::Invalid(format!(
                "{} already holds {} vectors from an earlier collection {name:?}; drop that table or choose another name",
                info.location, info.points
            )));
        }
        if let Err(e) = config.publish().await {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        config.write(&dir)?;
        let models = ModelPool::new(loaded, config.model.clone(), device);
        Ok(Collection {
            dir,
            config,
            models,
            space,
            store,
            adding: tokio::sync::Mutex::new(()),
            neighbours: Default::default(),
            surprises: Default::default(),
        })
    }

    /// Opens collection `name` in `data_dir` with the model it was built with.
    pub async fn open(
        data_dir: &Path,
        name: &str,
        device: tch::Device,
    ) -> Result<Self, CollectionError> {
        Self::open_reading(data_dir, name, device, None).await
    }

    /// [`Collection::open`], with the searches of a pgvector collection sent to `read_url`, a
    /// streaming standby of its database (writes stay on the primary). Ignored for other
    /// stores.
    pub async fn open_reading(
        data_dir: &Path,
        name: &str,
        device: tch::Device,
        read_url: Option<&str>,
    ) -> Result<Self, CollectionError> {
        check_name(name)?;
        let dir = data_dir.join(name);
        let mut config = CollectionConfig::read(&dir, name)?;
        if let (Some(read), StoreRef::Pgvector { session, .. }) = (read_url, &mut config.store) {
            session.read_url = Some(read.to_string());
        }
        let model = config.model.load(device)?;
        Self::assemble(dir, config, model, device).await
    }

    /// Opens collection `name` with `model`, which must be the one it was built with.
    pub async fn open_with(
        data_dir: &Path,
        name: &str,
        model: ModelRef,
        device: tch::Device,
    ) -> Result<Self, CollectionError> {
        check_name(name)?;
        let dir = data_dir.join(name);
        let config = CollectionConfig::read(&dir, name)?;
        if model.fingerprint != config.model.fingerprint {
            return Err(CollectionError::OtherModel {
                name: name.into(),
                expected: config.model.describe(),
                got: model.describe(),
            });
        }
        // The collection's own calibration (a zero-shot one's), which the caller's reference
        // to the same model does not carry.
        let model = ModelRef {
            calibration: config.model.calibration,
            ..model
        };
        let loaded = model.load(device)?;
        Self::assemble(dir, config, loaded, device).await
    }

    async fn assemble(
        dir: PathBuf,
        config: CollectionConfig,
        model: SimilarityModel,
        device: tch::Device,
    ) -> Result<Self, CollectionError> {
        let space = Space::of(&model)?;
        let store = open_store(&dir, &config, false).await?;
        let models = ModelPool::new(model, config.model.clone(), device);
        let neighbours = novelty::NeighbourLogits::read(&dir)?;
        let surprises = familiar::SurpriseCounts::read(&dir)?;
        Ok(Collection {
            dir,
            config,
            models,
            space,
            store,
            adding: tokio::sync::Mutex::new(()),
            neighbours: std::sync::Mutex::new(neighbours),
            surprises: std::sync::Mutex::new(surprises),
        })
    }

    /// Its config.
    pub fn config(&self) -> &CollectionConfig {
        &self.config
    }

    /// Its folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its model's replicas: [`ModelPool::with`] lends one to a job.
    pub fn models(&self) -> &ModelPool {
        &self.models
    }

    /// Lets up to `replicas` jobs use the model at once (a server sets this before sharing the
    /// collection between its workers; the CLI keeps the one it loaded).
    pub fn set_model_replicas(&mut self, replicas: usize) {
        self.models.set_capacity(replicas);
    }

    /// How its model resizes and crops images.
    pub fn preprocess(&self) -> lookalike_core::Preprocess {
        self.models.facts().preprocess
    }

    /// Its store.
    pub fn store(&self) -> &dyn VectorStore {
        self.store.as_ref()
    }

    /// Name, model, size and warnings.
    pub async fn info(&self) -> Result<CollectionInfo, CollectionError> {
        Ok(CollectionInfo {
            name: self.config.name.clone(),
            dir: self.dir.clone(),
            model: self.config.model.describe(),
            fingerprint: self.config.model.fingerprint.clone(),
            threshold: self.models.facts().threshold,
            store: self.store.info().await?,
            familiarity: self.familiarity(),
        })
    }

    /// Deletes images by id; returns how many existed.
    pub async fn remove(&self, ids: &[PointId]) -> Result<u64, CollectionError> {
        Ok(self.store.delete(ids, Durability::Flushed).await?)
    }

    /// Merges `patch` into an image's metadata (a `null` value removes the key); returns whether
    /// the image exists. The collection's own keys ([`RESERVED_KEYS`]) cannot be patched.
    pub async fn update_metadata(
        &self,
        id: PointId,
        patch: Metadata,
    ) -> Result<bool, CollectionError> {
        check_metadata(&format!("image {id}"), &patch)?;
        let Some(point) = self.store.get(&[id]).await?.pop() else {
            return Ok(false);
        };
        let mut metadata = point.metadata;
        for (k, v) in patch {
            if v.is_null() {
                metadata.remove(&k);
            } else {
                metadata.insert(k, v);
            }
        }
        Ok(self
            .store
            .set_metadata(vec![(id, metadata)], Durability::Flushed)
            .await?
            == 1)
    }

    /// Drops tombstones and rebuilds the index from the stored vectors, then re-measures the
    /// catalogue's nearest neighbours on a sample ([`novelty`]).
    pub async fn rebuild(&self) -> Result<RebuildReport, CollectionError> {
        let report = self.store.rebuild().await?;
        self.remeasure_neighbours().await?;
        Ok(report)
    }
}

async fn open_store(
    dir: &Path,
    config: &CollectionConfig,
    create: bool,
) -> Result<Box<dyn VectorStore>, CollectionError> {
    Ok(match &config.store {
        StoreRef::Embedded {
            max_connections,
            ef_construction,
        } => {
            let options = EmbeddedOptions {
                max_connections: *max_connections,
                ef_construction: *ef_construction,
                ..EmbeddedOptions::default()
            };
            let path = dir.join("store");
            Box::new(if create {
                EmbeddedStore::create(&path, config.dimension, config.metric, options)?
            } else {
                EmbeddedStore::open(&path, options)?
            })
        }
        StoreRef::Pgvector {
            url,
            shards,
            partial_ok,
            session,
        } => {
            let options = PgOptions {
                shards: shards
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        session
                            .shards
                            .get(i)
                            .cloned()
                            .flatten()
                            .unwrap_or(s.clone())
                    })
                    .collect(),
                partial_ok: *partial_ok,
                read_url: session.read_url.clone(),
                ..PgOptions::default()
            };
            let url = session.url.as_deref().unwrap_or(url);
            Box::new(
                PgVectorStore::connect(url, &config.name, config.dimension, config.metric, options)
                    .await?,
            )
        }
    })
}
