//! Adding images that arrive as bytes (an HTTP upload), each with the caller's metadata and,
//! optionally, the caller's own id (a SKU, say).
//!
//! The bytes are kept before the image is stored, so that it can be served and explained later
//! like a file added by path: in the store when it keeps files (pgvector: every server reads
//! them), else in `DIR/uploads/SHA256.EXT` (temporary file, fsync, rename).
//! Everything is checked before anything is written, so a request with one bad image stores none.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use image::RgbImage;
use lookalike_core::image::{decode_bytes, to_pixels};
use lookalike_index::{Durability, Filter, Inserted, Metadata, NewPoint, PointId, StoreError};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::add::thumbnail;
use super::originals::kept_path;
use super::{AddOptions, Collection, CollectionError};

/// Metadata keys the collection writes itself; a caller's metadata may not set them.
pub const RESERVED_KEYS: &[&str] = &["path", "sha256", "width", "height", "external_id"];

/// The longest caller id, in bytes.
const MAX_EXTERNAL_ID: usize = 256;

/// One uploaded image.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Where it came from, for messages (a file name or `images[3]`).
    pub name: String,
    /// The caller's metadata (`label` and any other keys but [`RESERVED_KEYS`]).
    pub metadata: Metadata,
    /// The caller's own id, unique in the collection; stored as `external_id`.
    pub external_id: Option<String>,
}

/// What became of one upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Uploaded {
    /// The image's id in the collection.
    pub id: PointId,
    /// The caller's id, if one was given (or the stored one, for content already indexed).
    pub external_id: Option<String>,
    /// `false` when the same content was indexed already: `id` is that image.
    pub created: bool,
}

/// An upload that passed every check and will be stored.
struct Checked {
    index: usize,
    sha256: String,
    extension: &'static str,
    image: RgbImage,
}

/// Refuses caller metadata that sets one of [`RESERVED_KEYS`], or a `product` that is not a
/// non-empty string ([`super::check_product`]); `what` names its image.
pub fn check_metadata(what: &str, metadata: &Metadata) -> Result<(), CollectionError> {
    super::check_product(what, metadata)?;
    match metadata
        .keys()
        .find(|k| RESERVED_KEYS.contains(&k.as_str()))
    {
        Some(key) => Err(CollectionError::Invalid(format!(
            "{what}: metadata key {key:?} is reserved: the collection sets {} itself, \
             and they cannot be changed",
            RESERVED_KEYS.join(", ")
        ))),
        None => Ok(()),
    }
}

fn check_caller_input(uploads: &[Upload]) -> Result<(), CollectionError> {
    let mut ids = HashSet::new();
    for u in uploads {
        check_metadata(&u.name, &u.metadata)?;
        if let Some(id) = &u.external_id {
            if id.trim().is_empty() || id.len() > MAX_EXTERNAL_ID {
                return Err(CollectionError::Invalid(format!(
                    "{}: the id must be 1 to {MAX_EXTERNAL_ID} bytes, not blank",
                    u.name
                )));
            }
            if !ids.insert(id.as_str()) {
                return Err(CollectionError::Invalid(format!(
                    "{}: the id {id:?} is given twice in one request",
                    u.name
                )));
            }
        }
    }
    Ok(())
}

impl Collection {
    /// Adds uploaded images. Content already indexed is not added again: its existing id comes
    /// back with `created: false`. A caller id used by another image is refused
    /// ([`CollectionError::Conflict`]), as is any upload that does not decode; in either case
    /// nothing of the request is stored.
    pub async fn add_uploads(
        &self,
        uploads: Vec<Upload>,
        options: AddOptions,
    ) -> Result<Vec<Uploaded>, CollectionError> {
        check_caller_input(&uploads)?;
        // One add at a time per collection: the "already indexed?" checks must not race.
        let _adding = self.adding.lock().await;
        let mut results: Vec<Option<Uploaded>> = vec![None; uploads.len()];
        let mut new = Vec::new();
        let mut seen = HashSet::new();
        for (index, u) in uploads.iter().enumerate() {
            let sha256 = format!("{:x}", Sha256::digest(&u.bytes));
            if let Some(existing) = self.find_one("sha256", &sha256).await? {
                results[index] = Some(Uploaded {
                    id: existing.0,
                    external_id: existing.1,
                    created: false,
                });
                continue;
            }
            if let Some(id) = &u.external_id {
                if let Some((other, _)) = self.find_one("external_id", id).await? {
                    // Another server may have stored this very image since the look above.
                    if self.sha256_of(other).await?.as_deref() == Some(sha256.as_str()) {
                        results[index] = Some(Uploaded {
                            id: other,
                            external_id: Some(id.clone()),
                            created: false,
                        });
                        continue;
                    }
                    return Err(CollectionError::Conflict(format!(
                        "{}: the id {id:?} is already used by image {other}",
                        u.name
                    )));
                }
            }
            if !seen.insert(sha256.clone()) {
                return Err(CollectionError::Invalid(format!(
                    "{}: the same image is uploaded twice in one request",
                    u.name
                )));
            }
            let image = decode_bytes(&u.bytes, std::path::Path::new(&u.name), &options.limits)?;
            let extension = image::guess_format(&u.bytes)
                .ok()
                .and_then(|f| f.extensions_str().first().copied())
                .unwrap_or("img");
            new.push(Checked {
                index,
                sha256,
                extension,
                image,
            });
        }
        for batch in new.chunks(options.batch_size.max(1)) {
            let answers = self.store_uploads(&uploads, batch, &options).await?;
            for (c, answer) in batch.iter().zip(answers) {
                results[c.index] = Some(match answer {
                    Inserted::New(id) => Uploaded {
                        id,
                        external_id: uploads[c.index].external_id.clone(),
                        created: true,
                    },
                    // Added by another server since the check above.
                    Inserted::Existing(id) => Uploaded {
                        id,
                        external_id: self.external_id_of(id).await?,
                        created: false,
                    },
                });
            }
        }
        // The points are durable already (Durability::Flushed); the graph's dump follows when
        // enough has changed, not after every upload.
        self.store.checkpoint_if_due().await?;
        let created: Vec<_> = results
            .iter()
            .flatten()
            .filter(|u| u.created)
            .map(|u| u.id)
            .collect();
        self.record_neighbours(&created).await?;
        Ok(results.into_iter().flatten().collect())
    }

    /// The id (and caller id) of the one image whose metadata has `key = value`, if any.
    async fn find_one(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Option<(PointId, Option<String>)>, CollectionError> {
        let filter = Filter::equal(key, value);
        let Some(&id) = self.store.ids(&filter).await?.first() else {
            return Ok(None);
        };
        Ok(Some((id, self.external_id_of(id).await?)))
    }

    /// The content hash stored with image `id`, if any.
    async fn sha256_of(&self, id: PointId) -> Result<Option<String>, CollectionError> {
        Ok(self.store.get(&[id]).await?.pop().and_then(|p| {
            p.metadata
                .get("sha256")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        }))
    }

    /// The caller id stored with image `id`, if any.
    async fn external_id_of(&self, id: PointId) -> Result<Option<String>, CollectionError> {
        Ok(self.store.get(&[id]).await?.pop().and_then(|p| {
            p.metadata
                .get("external_id")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        }))
    }

    /// Keeps the bytes, embeds and stores one batch of checked uploads; returns their ids.
    async fn store_uploads(
        &self,
        uploads: &[Upload],
        batch: &[Checked],
        options: &AddOptions,
    ) -> Result<Vec<Inserted>, CollectionError> {
        let files: Vec<(&str, &[u8])> = batch
            .iter()
            .map(|c| (c.sha256.as_str(), uploads[c.index].bytes.as_slice()))
            .collect();
        let paths: Vec<String> = if self.store.keep_originals(&files).await? {
            batch
                .iter()
                .map(|c| kept_path(&c.sha256, c.extension))
                .collect()
        } else {
            let folder = self.dir.join("uploads");
            std::fs::create_dir_all(&folder).map_err(|e| CollectionError::io(&folder, e))?;
            let mut paths = Vec::with_capacity(batch.len());
            for c in batch {
                let path = folder.join(format!("{}.{}", c.sha256, c.extension));
                keep_file(&path, &uploads[c.index].bytes)?;
                paths.push(path.display().to_string());
            }
            paths
        };
        let preprocess = self.preprocess();
        let crops: Vec<RgbImage> = batch.iter().map(|c| preprocess.apply(&c.image)).collect();
        type Embedded = (Vec<f32>, Option<Vec<bool>>);
        let (e, unfamiliar) =
            self.models
                .with(|model| -> Result<Embedded, CollectionError> {
                    let pixels = to_pixels(&crops)?.f_to_device(model.backbone().device())?;
                    let pooled = tch::no_grad(|| model.backbone().features(&pixels))?.pooled;
                    let e = tch::no_grad(|| model.embed(&pooled))?
                        .f_to_device(tch::Device::Cpu)?
                        .f_contiguous()?;
                    Ok((
                        Vec::try_from(&e.f_view([-1])?)?,
                        super::familiar::unfamiliar_rows(model, &pooled)?,
                    ))
                })??;
        let width = e.len() / batch.len();
        let points = batch
            .iter()
            .zip(&paths)
            .enumerate()
            .map(|(row, (c, path))| {
                let upload = &uploads[c.index];
                let mut metadata = upload.metadata.clone();
                metadata.insert("path".into(), json!(path));
                metadata.insert("sha256".into(), json!(c.sha256));
                metadata.insert("width".into(), json!(c.image.width()));
                metadata.insert("height".into(), json!(c.image.height()));
                if let Some(id) = &upload.external_id {
                    metadata.insert("external_id".into(), json!(id));
                }
                NewPoint {
                    vector: self.space.vector(&e[row * width..(row + 1) * width]),
                    metadata,
                    thumbnail: thumbnail(&c.image, options.thumbnail_size),
                }
            })
            .collect();
        // Unique in the store: several servers may add the same image at once.
        let answers = match self.store.insert_unique(points, Durability::Flushed).await {
            Err(StoreError::Conflict(message)) => return Err(CollectionError::Conflict(message)),
            other => other?,
        };
        let stored = answers
            .iter()
            .enumerate()
            .filter(|(_, a)| matches!(a, Inserted::New(_)))
            .map(|(row, _)| row);
        self.record_surprises(unfamiliar.as_deref(), stored)?;
        Ok(answers)
    }
}

/// Writes `bytes` to `path` durably (temporary file, fsync, rename). Content-addressed: a file
/// already there has these bytes.
fn keep_file(path: &PathBuf, bytes: &[u8]) -> Result<(), CollectionError> {
    if path.exists() {
        return Ok(());
    }
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CollectionError::io(path, e)
    })
}
