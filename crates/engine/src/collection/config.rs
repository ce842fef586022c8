//! `collection.json`: what a collection is bound to (a model, a store) and how to find it again.

use std::path::{Path, PathBuf};

use lookalike_core::backbone::{self, BackboneConfig};
use lookalike_core::{weights, BackboneKind, SimilarityModel};
use lookalike_index::Metric;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::CollectionError;

/// The format name in `collection.json`.
pub const FORMAT: &str = "lookalike-collection";
/// The file that describes a collection.
pub const CONFIG_FILE: &str = "collection.json";

/// The model a collection was built with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRef {
    /// A trained model folder (absolute), or `None` for zero-shot.
    pub path: Option<PathBuf>,
    /// The backbone (for zero-shot; a trained model's folder names its own).
    pub backbone: BackboneKind,
    /// Zero-shot weights file, if not the set-up's default.
    pub weights: Option<PathBuf>,
    /// Seed of the tiny test backbone's random weights.
    pub seed: i64,
    /// SHA-256 over the model's files: a changed model cannot search an old index.
    pub fingerprint: String,
    /// A zero-shot collection's calibration of the cosine (`index create --calibrate DIR`). A
    /// trained model carries its own in `model.json`; this one, when set, replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<lookalike_core::siamese::Calibration>,
    /// A zero-shot collection that the transfer gate chose instead of this trained model
    /// (`index create --sample DIR`: the sample was unlike the model's training images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instead_of: Option<PathBuf>,
}

impl ModelRef {
    /// A trained model folder.
    pub fn siamese(dir: &Path) -> Result<Self, CollectionError> {
        let dir = std::path::absolute(dir).map_err(|e| CollectionError::io(dir, e))?;
        let config = lookalike_core::siamese::checkpoint::read_config(&dir)?;
        let mut me = ModelRef {
            path: Some(dir),
            backbone: config.backbone,
            weights: None,
            seed: 0,
            fingerprint: String::new(),
            calibration: None,
            instead_of: None,
        };
        me.fingerprint = me.compute_fingerprint()?;
        Ok(me)
    }

    /// The zero-shot ranking a trained model falls back to: its own backbone's weights when
    /// frozen (`backbone.safetensors`, the pretrained weights), the set-up's pretrained ones
    /// when it fine-tuned them.
    pub fn fallback_of(model: &ModelRef) -> Result<Self, CollectionError> {
        let Some(dir) = &model.path else {
            return Err(CollectionError::Invalid(
                "a zero-shot collection has no trained model to fall back from".into(),
            ));
        };
        let config = lookalike_core::siamese::checkpoint::read_config(dir)?;
        let fine_tuned = config.training.as_ref().is_some_and(|t| t.fine_tune > 0);
        if config.backbone.from_scratch() {
            return Err(CollectionError::Invalid(format!(
                "{}: a {} backbone trained from scratch has no pretrained weights to rank with",
                dir.display(),
                config.backbone
            )));
        }
        let weights = if fine_tuned {
            weights::resolve(config.backbone, None)
                .filter(|w| w.is_file())
                .ok_or_else(|| {
                    CollectionError::Invalid(format!(
                        "{} fine-tuned its {}, and the set-up has no pretrained weights for it \
                         (`make setup` fetches them)",
                        dir.display(),
                        config.backbone
                    ))
                })?
        } else {
            dir.join(lookalike_core::siamese::checkpoint::BACKBONE_FILE)
        };
        let mut me = Self::zero_shot(config.backbone, Some(&weights), 0)?;
        me.instead_of = Some(dir.clone());
        Ok(me)
    }

    /// Zero-shot over a backbone.
    pub fn zero_shot(
        backbone: BackboneKind,
        weights: Option<&Path>,
        seed: i64,
    ) -> Result<Self, CollectionError> {
        let weights = weights::resolve(backbone, weights)
            .map(|w| std::path::absolute(&w).map_err(|e| CollectionError::io(&w, e)))
            .transpose()?;
        let mut me = ModelRef {
            path: None,
            backbone,
            weights,
            seed,
            fingerprint: String::new(),
            calibration: None,
            instead_of: None,
        };
        me.fingerprint = me.compute_fingerprint()?;
        Ok(me)
    }

    /// `siamese <dir>` or `zero-shot (<backbone>)`.
    pub fn describe(&self) -> String {
        match (&self.path, &self.instead_of) {
            (Some(p), _) => format!("{} ({})", p.display(), self.backbone),
            (None, None) => format!("zero-shot ({})", self.backbone),
            (None, Some(m)) => format!(
                "zero-shot ({}), instead of {}: the catalogue was unlike its training images",
                self.backbone,
                m.display()
            ),
        }
    }

    /// SHA-256 over the files that decide the model's outputs.
    pub fn compute_fingerprint(&self) -> Result<String, CollectionError> {
        let mut hash = Sha256::new();
        match &self.path {
            Some(dir) => {
                hash.update(b"siamese\0");
                for file in ["model.json", "head.safetensors", "backbone.safetensors"] {
                    let path = dir.join(file);
                    hash.update(std::fs::read(&path).map_err(|e| CollectionError::io(&path, e))?);
                }
            }
            None => {
                hash.update(format!("zero-shot\0{}\0{}\0", self.backbone, self.seed));
                if let Some(w) = &self.weights {
                    hash.update(std::fs::read(w).map_err(|e| CollectionError::io(w, e))?);
                }
            }
        }
        Ok(format!("{:x}", hash.finalize()))
    }

    /// Loads the model, after checking that its files still have the recorded fingerprint.
    pub fn load(&self, device: tch::Device) -> Result<SimilarityModel, CollectionError> {
        let now = self.compute_fingerprint()?;
        if now != self.fingerprint {
            return Err(CollectionError::ModelChanged {
                model: self.describe(),
            });
        }
        let mut model = match &self.path {
            Some(dir) => SimilarityModel::load(dir, device)?,
            None => {
                let backbone = backbone::load(&BackboneConfig {
                    kind: self.backbone,
                    weights: self.weights.as_deref(),
                    device,
                    inference: true,
                    seed: self.seed,
                })?;
                SimilarityModel::zero_shot(backbone, None)
            }
        };
        if self.calibration.is_some() {
            model.set_calibration(self.calibration);
        }
        Ok(model)
    }
}

/// Where a collection's vectors live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum StoreRef {
    /// An HNSW index over sled, in the collection's folder.
    Embedded {
        /// HNSW `M`.
        max_connections: usize,
        /// HNSW `ef_construction`.
        ef_construction: usize,
    },
    /// A PostgreSQL table.
    Pgvector {
        /// The connection URL, never with a password (it comes from `PGPASSWORD` or a libpq
        /// passfile when connecting).
        url: String,
        /// Shard servers (the table is hash-partitioned over them through `postgres_fdw`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        shards: Vec<String>,
        /// Answer from the shards that answer, saying which one was missing.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        partial_ok: bool,
        /// The URL as given on this run, password included: kept in memory, never written.
        #[serde(skip)]
        session: SessionUrls,
    },
}

/// The URLs a store connects with on this run, passwords included; never serialised, and shown
/// without their passwords.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SessionUrls {
    /// The main URL, if it had a password.
    pub url: Option<String>,
    /// The shards' URLs, where they had one.
    pub shards: Vec<Option<String>>,
    /// A streaming standby that searches read on this run (`serve --read-url`).
    pub read_url: Option<String>,
}

impl std::fmt::Debug for SessionUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionUrls(..)")
    }
}

impl StoreRef {
    /// A pgvector store at `url` over `shards`: what is kept is the URLs without their
    /// passwords; the passwords stay in memory for this run only. Returns the store and whether
    /// any password was taken out.
    pub fn pgvector(url: &str, shards: &[String], partial_ok: bool) -> (StoreRef, bool) {
        let main = lookalike_index::strip_password(url);
        let stripped: Vec<Option<String>> = shards
            .iter()
            .map(|s| lookalike_index::strip_password(s))
            .collect();
        let had = main.is_some() || stripped.iter().any(Option::is_some);
        let store = StoreRef::Pgvector {
            url: main.clone().unwrap_or_else(|| url.to_string()),
            shards: shards
                .iter()
                .zip(&stripped)
                .map(|(s, t)| t.clone().unwrap_or_else(|| s.clone()))
                .collect(),
            partial_ok,
            session: SessionUrls {
                url: main.map(|_| url.to_string()),
                shards: shards
                    .iter()
                    .zip(&stripped)
                    .map(|(s, t)| t.as_ref().map(|_| s.clone()))
                    .collect(),
                read_url: None,
            },
        };
        (store, had)
    }

    /// Moves any password out of the stored URLs into [`SessionUrls`]; returns whether there
    /// was one.
    fn scrub(&mut self) -> bool {
        match self {
            StoreRef::Pgvector {
                url,
                shards,
                partial_ok,
                ..
            } => {
                let (clean, had) = StoreRef::pgvector(url, shards, *partial_ok);
                *self = clean;
                had
            }
            StoreRef::Embedded { .. } => false,
        }
    }
}

/// Everything `collection.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionConfig {
    /// Always `lookalike-collection`.
    pub format: String,
    /// Version 1.
    pub version: u32,
    /// The collection's name.
    pub name: String,
    /// The model.
    pub model: ModelRef,
    /// The store.
    pub store: StoreRef,
    /// Index vector length.
    pub dimension: usize,
    /// Index metric.
    pub metric: Metric,
    /// Seconds since the Unix epoch at creation.
    pub created: u64,
}

impl CollectionConfig {
    /// Reads `DIR/collection.json`.
    pub fn read(dir: &Path, name: &str) -> Result<Self, CollectionError> {
        let path = dir.join(CONFIG_FILE);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CollectionError::Unknown {
                    name: name.into(),
                    dir: dir.parent().unwrap_or(dir).to_path_buf(),
                })
            }
            Err(e) => return Err(CollectionError::io(&path, e)),
        };
        let mut config: CollectionConfig = serde_json::from_slice(&text)
            .map_err(|e| CollectionError::Invalid(format!("{}: {e}", path.display())))?;
        if config.format != FORMAT || config.version != 1 {
            return Err(CollectionError::Invalid(format!(
                "{} is a {} v{} file; this build reads {FORMAT} v1",
                path.display(),
                config.format,
                config.version
            )));
        }
        if config.store.scrub() {
            // Written by an older Lookalike: the password leaves the disk now, and this run
            // keeps it in memory.
            config.write(dir)?;
            eprintln!(
                "warning: {} held a PostgreSQL password; it was rewritten without it. Give the \
                 password through PGPASSWORD or a passfile (PGPASSFILE, ~/.pgpass) from now on",
                path.display()
            );
        }
        Ok(config)
    }

    /// For a pgvector collection, records this config in the database's
    /// `lookalike_collections` table (`lookalike serve --pg URL` serves it from there).
    pub async fn publish(&self) -> Result<(), CollectionError> {
        let StoreRef::Pgvector { url, session, .. } = &self.store else {
            return Ok(());
        };
        let json =
            serde_json::to_value(self).map_err(|e| CollectionError::Invalid(e.to_string()))?;
        let url = session.url.as_deref().unwrap_or(url);
        let timeout = lookalike_index::PgOptions::default().connect_timeout;
        lookalike_index::publish_collection(url, &self.name, &json, timeout).await?;
        Ok(())
    }

    /// Writes `DIR/collection.json` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), CollectionError> {
        let path = dir.join(CONFIG_FILE);
        let tmp = dir.join(format!("{CONFIG_FILE}.tmp"));
        let json =
            serde_json::to_vec_pretty(self).map_err(|e| CollectionError::Invalid(e.to_string()))?;
        std::fs::write(&tmp, json).map_err(|e| CollectionError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| CollectionError::io(&path, e))
    }
}
