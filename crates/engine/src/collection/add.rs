//! Adding images to a collection: find, hash, skip what is there, embed, store with metadata
//! and a thumbnail, batch by batch, each batch durable before it is reported.

use std::collections::HashSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use image::{DynamicImage, RgbImage};
use lookalike_core::image::{decode_file, find_images};
use lookalike_core::{DecodeLimits, ImageError, Preprocess};
use lookalike_index::{Durability, Filter, Inserted, Metadata, NewPoint, PointId};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Collection, CollectionError};
use crate::embed::{embed_with, Skipped};

/// How to add.
#[derive(Debug, Clone, Copy)]
pub struct AddOptions {
    /// Images per forward pass and per store transaction.
    pub batch_size: usize,
    /// Longest side of the stored thumbnails, in pixels (0: none).
    pub thumbnail_size: u32,
    /// Decoding limits.
    pub limits: DecodeLimits,
    /// `Some((i, n))`: add only the images whose content hash falls to worker `i` of `n`, so
    /// that `n` processes (on `n` machines) fill one shared collection at once, each image
    /// once. A worker that is re-run completes its share.
    pub worker: Option<(usize, usize)>,
}

impl Default for AddOptions {
    fn default() -> Self {
        AddOptions {
            batch_size: 32,
            thumbnail_size: 128,
            limits: DecodeLimits::default(),
            worker: None,
        }
    }
}

/// What happened, as it happens.
#[derive(Debug)]
pub enum AddEvent<'a> {
    /// Files found, and how many are new.
    Planned {
        /// Image files found.
        found: usize,
        /// Not indexed yet.
        new: usize,
        /// Already in the collection (same content).
        already_indexed: usize,
    },
    /// A batch is stored durably: these images are in the collection.
    Added(&'a [(PointId, PathBuf)]),
    /// A file was left out.
    Skipped(&'a ImageError),
}

/// The outcome of an add.
#[derive(Debug, Default, Clone, Serialize)]
pub struct AddReport {
    /// Image files found.
    pub found: usize,
    /// Images added.
    pub added: usize,
    /// Files already in the collection (same content).
    pub already_indexed: usize,
    /// Files that could not be used, with the reason.
    pub skipped: Vec<String>,
    /// Files left to the other workers (`AddOptions::worker`).
    pub other_workers: usize,
}

/// The worker (of `n`) that adds the image with this content hash: its first 64 bits, mod `n`.
pub fn worker_of(sha256: &str, n: usize) -> usize {
    let head = sha256.get(..16).unwrap_or(sha256);
    (u64::from_str_radix(head, 16).unwrap_or(0) % n.max(1) as u64) as usize
}

/// A file to add: where, its content hash, and the metadata it gets besides the collection's
/// own keys (its class folder as `label`, or a feed row's keys).
pub(crate) struct Pending {
    pub(crate) path: PathBuf,
    pub(crate) sha256: String,
    pub(crate) metadata: Metadata,
}

fn sha256_of(path: &Path) -> Result<String, ImageError> {
    let bytes = std::fs::read(path).map_err(|reason| ImageError::Io {
        path: path.to_path_buf(),
        reason,
    })?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

pub(super) fn thumbnail(img: &RgbImage, size: u32) -> Option<Vec<u8>> {
    if size == 0 {
        return None;
    }
    let small = DynamicImage::ImageRgb8(img.clone()).thumbnail(size, size);
    let mut out = Cursor::new(Vec::new());
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
    small.to_rgb8().write_with_encoder(encoder).ok()?;
    Some(out.into_inner())
}

impl Collection {
    /// Adds every image under `paths` (files or folders, recursively). Files whose content is
    /// already indexed are skipped; the folder holding each image is recorded as its `label`.
    /// Each batch is durable before [`AddEvent::Added`] reports it, so an interrupted add loses
    /// at most the batch in flight, and running it again completes the rest.
    pub async fn add(
        &self,
        paths: &[PathBuf],
        options: AddOptions,
        on_event: impl FnMut(AddEvent<'_>),
    ) -> Result<AddReport, CollectionError> {
        self.add_with_metadata(paths, &Metadata::new(), options, on_event)
            .await
    }

    /// [`Collection::add`], giving every new image the keys of `metadata` too, which may not
    /// set the collection's own keys ([`super::RESERVED_KEYS`]); a `label` given here replaces
    /// the folder's name.
    pub async fn add_with_metadata(
        &self,
        paths: &[PathBuf],
        metadata: &Metadata,
        options: AddOptions,
        mut on_event: impl FnMut(AddEvent<'_>),
    ) -> Result<AddReport, CollectionError> {
        super::check_metadata("the added images", metadata)?;
        let _adding = self.adding.lock().await;
        let mut report = AddReport::default();
        let mut files = Vec::new();
        for root in paths {
            if !root.exists() {
                return Err(CollectionError::Invalid(format!(
                    "{}: no such file or folder",
                    root.display()
                )));
            }
            files.extend(find_images(root)?);
        }
        report.found = files.len();
        let hashed: Vec<(PathBuf, Result<String, ImageError>)> = files
            .into_par_iter()
            .map(|p| {
                let h = sha256_of(&p);
                (p, h)
            })
            .collect();
        let mut pending = Vec::new();
        let mut seen = HashSet::new();
        for (path, hash) in hashed {
            let sha256 = match hash {
                Ok(h) => h,
                Err(e) => {
                    on_event(AddEvent::Skipped(&e));
                    report.skipped.push(e.to_string());
                    continue;
                }
            };
            if let Some((i, n)) = options.worker {
                if worker_of(&sha256, n) != i {
                    report.other_workers += 1;
                    continue;
                }
            }
            let filter = Filter::equal("sha256", &sha256);
            if !seen.insert(sha256.clone()) || !self.store.ids(&filter).await?.is_empty() {
                report.already_indexed += 1;
                continue;
            }
            let path = std::path::absolute(&path).unwrap_or(path);
            let mut own = metadata.clone();
            if let (Some(label), false) = (
                path.parent().and_then(Path::file_name),
                metadata.contains_key("label"),
            ) {
                own.insert("label".into(), json!(label.to_string_lossy()));
            }
            pending.push(Pending {
                path,
                sha256,
                metadata: own,
            });
        }
        on_event(AddEvent::Planned {
            found: report.found,
            new: pending.len(),
            already_indexed: report.already_indexed,
        });
        self.add_pending(&pending, &options, &mut report, on_event)
            .await?;
        Ok(report)
    }

    /// Embeds and stores files already hashed and checked as new, batch by batch, then flushes
    /// and records their neighbours; returns each file's new id (`None`: skipped). The caller
    /// holds `self.adding`.
    pub(crate) async fn add_pending(
        &self,
        pending: &[Pending],
        options: &AddOptions,
        report: &mut AddReport,
        mut on_event: impl FnMut(AddEvent<'_>),
    ) -> Result<Vec<Option<PointId>>, CollectionError> {
        let preprocess = self.preprocess();
        let mut ids = vec![None; pending.len()];
        let mut start = 0;
        for batch in pending.chunks(options.batch_size.max(1)) {
            let added = self
                .add_batch(batch, options, &preprocess, report, &mut on_event)
                .await?;
            let pairs: Vec<(PointId, PathBuf)> = added
                .iter()
                .map(|&(i, id)| (id, batch[i].path.clone()))
                .collect();
            for (i, id) in added {
                ids[start + i] = Some(id);
            }
            start += batch.len();
            on_event(AddEvent::Added(&pairs));
        }
        self.store.flush().await?;
        // After the whole add, so that each new image sees every other one.
        let new_ids: Vec<PointId> = ids.iter().flatten().copied().collect();
        self.record_neighbours(&new_ids).await?;
        Ok(ids)
    }

    async fn add_batch(
        &self,
        batch: &[Pending],
        options: &AddOptions,
        preprocess: &Preprocess,
        report: &mut AddReport,
        on_event: &mut impl FnMut(AddEvent<'_>),
    ) -> Result<Vec<(usize, PointId)>, CollectionError> {
        let paths: Vec<PathBuf> = batch.iter().map(|p| p.path.clone()).collect();
        let thumbs = Mutex::new(vec![None; batch.len()]);
        let sizes = Mutex::new(vec![(0u32, 0u32); batch.len()]);
        let load = |i: usize, path: &Path| {
            let img = decode_file(path, &options.limits)?;
            if let Ok(mut t) = thumbs.lock() {
                t[i] = thumbnail(&img, options.thumbnail_size);
            }
            if let Ok(mut s) = sizes.lock() {
                s[i] = img.dimensions();
            }
            Ok(preprocess.apply(&img))
        };
        let embedded = self.models.with(|model| -> Result<_, CollectionError> {
            let embedded = embed_with(model.backbone(), &paths, batch.len(), None, load, |_| {})?;
            let (e, unfamiliar) = if embedded.paths.is_empty() {
                (Vec::new(), None)
            } else {
                let rows = embedded.paths.len() as i64;
                let pooled = tch::Tensor::from_slice(&embedded.vectors)
                    .f_view([rows, embedded.dim as i64])?
                    .f_to_device(model.backbone().device())?;
                let e = tch::no_grad(|| model.embed(&pooled))?
                    .f_to_device(tch::Device::Cpu)?
                    .f_contiguous()?;
                (
                    Vec::<f32>::try_from(&e.f_view([-1])?)?,
                    super::familiar::unfamiliar_rows(model, &pooled)?,
                )
            };
            Ok((embedded, e, unfamiliar))
        })??;
        let (embedded, e, unfamiliar) = embedded;
        for Skipped { error } in &embedded.skipped {
            on_event(AddEvent::Skipped(error));
            report.skipped.push(error.to_string());
        }
        if embedded.paths.is_empty() {
            return Ok(Vec::new());
        }
        let width = e.len() / embedded.paths.len();
        let thumbs = thumbs.into_inner().unwrap_or_default();
        let sizes = sizes.into_inner().unwrap_or_default();
        let mut points = Vec::with_capacity(embedded.paths.len());
        let mut rows = Vec::with_capacity(embedded.paths.len());
        let mut embedded_rows = Vec::with_capacity(embedded.paths.len());
        // The embedded paths are the batch's, in order, less the skipped ones: walk both, so
        // that two files with one path (a feed's shared image) each get their own metadata.
        let mut next = 0;
        for (row, path) in embedded.paths.iter().enumerate() {
            let i = (next..batch.len())
                .find(|&i| &batch[i].path == path)
                .unwrap_or(row);
            next = i + 1;
            let item = &batch[i];
            let mut metadata = item.metadata.clone();
            metadata.insert("path".into(), json!(path.display().to_string()));
            metadata.insert("sha256".into(), json!(item.sha256));
            metadata.insert("width".into(), json!(sizes[i].0));
            metadata.insert("height".into(), json!(sizes[i].1));
            points.push(NewPoint {
                vector: self.space.vector(&e[row * width..(row + 1) * width]),
                metadata,
                thumbnail: thumbs[i].clone(),
            });
            rows.push(i);
            embedded_rows.push(row);
        }
        // Unique on the content hash in the store: another process may have added the same
        // image since it was checked above.
        let answers = self
            .store
            .insert_unique(points, Durability::Flushed)
            .await?;
        let mut added = Vec::with_capacity(answers.len());
        let mut stored = Vec::with_capacity(answers.len());
        for ((i, row), answer) in rows.into_iter().zip(embedded_rows).zip(answers) {
            match answer {
                Inserted::New(id) => {
                    added.push((i, id));
                    stored.push(row);
                }
                Inserted::Existing(_) => report.already_indexed += 1,
            }
        }
        self.record_surprises(unfamiliar.as_deref(), stored)?;
        report.added += added.len();
        Ok(added)
    }
}
