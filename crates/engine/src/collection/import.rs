//! Importing a product feed: every row a product, every image link an image of it, re-imports
//! idempotent.
//!
//! - A row whose hash (of its image links and metadata, kept as `feed_hash` on its images) is
//!   the one stored, with all its images there, is unchanged: nothing is fetched.
//! - Otherwise an image whose link is stored is kept (its metadata updated if the row's
//!   changed, never re-embedded); a new link is fetched, and its content hash matched against
//!   the product's images before anything is embedded; images whose links left the row are
//!   deleted.
//! - Products of earlier imports that the feed lacks are deleted only with `prune`.
//! - A row that fails (parse, fetch, decode) is reported with its line and changes nothing.
//! - With `worker` `(i, n)`, only the rows whose product id falls to worker `i` (the first 64
//!   bits of its SHA-256, mod `n`) are imported, and pruned: n processes import one feed into
//!   one pgvector collection at once, each product by exactly one of them.
//!
//! Rows go in chunks: a chunk's images are fetched in parallel on their own threads, then
//! embedded batch by batch through the same path as `index add`.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use lookalike_index::{Condition, Durability, Filter, Metadata, PointId};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::add::Pending;
use super::{AddEvent, AddOptions, AddReport, Collection, CollectionError, PRODUCT_KEY};
use crate::feed::{
    read_feed, FeedFormat, FeedRow, FetchOptions, Fetcher, Origin, RowError, FEED_HASH,
};

/// The metadata key holding an image's link as the feed wrote it.
pub const IMAGE_LINK: &str = "image_link";

/// Rows fetched and embedded together.
const CHUNK: usize = 256;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Where and how images are fetched.
    pub fetch: FetchOptions,
    /// Delete products of earlier imports that this feed lacks.
    pub prune: bool,
    /// Images fetched at once.
    pub fetchers: usize,
    /// Embedding batches and thumbnails, as for `index add` (its `worker` is not used: an
    /// import splits by product, below).
    pub add: AddOptions,
    /// `Some((i, n))`: import (and prune) only the products that fall to worker `i` of `n`.
    pub worker: Option<(usize, usize)>,
}

/// The worker (of `n`) that imports product `product`.
pub fn product_worker(product: &str, n: usize) -> usize {
    super::add::worker_of(&format!("{:x}", Sha256::digest(product.as_bytes())), n)
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            fetch: FetchOptions::default(),
            prune: false,
            fetchers: 16,
            add: AddOptions::default(),
            worker: None,
        }
    }
}

/// What an import did, by row (product).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    /// Rows whose product was new.
    pub added: usize,
    /// Rows whose product changed (metadata, images).
    pub updated: usize,
    /// Rows whose product was stored as it is.
    pub unchanged: usize,
    /// Products of earlier imports deleted because the feed lacks them (`prune`).
    pub pruned: usize,
    /// Rows that could not be used, each with its line and reason.
    pub failed: Vec<RowError>,
    /// Rows left to the other workers (`ImportOptions::worker`).
    pub other_workers: usize,
}

/// What happened, as it happens.
#[derive(Debug)]
pub enum ImportEvent<'a> {
    /// The feed was read: this many rows in all.
    Planned {
        /// Rows, failed ones included.
        rows: usize,
    },
    /// This many more rows are done.
    Done(usize),
    /// A row failed.
    Failed(&'a RowError),
}

/// An image the feed wants for a product.
struct Wanted {
    link: String,
    /// Set once fetched: the content hash and the file.
    fetched: Option<(String, PathBuf)>,
}

/// A row's plan against what is stored.
struct Plan<'a> {
    row: &'a FeedRow,
    hash: String,
    stored: Vec<(PointId, Metadata)>,
    wanted: Vec<Wanted>,
}

/// The hash of a row: its links and metadata, canonical (keys sorted).
fn row_hash(row: &FeedRow) -> String {
    let canonical = json!({"images": row.images, "metadata": row.metadata});
    format!("{:x}", Sha256::digest(canonical.to_string().as_bytes()))
}

/// An image's metadata from its row: the row's keys, the product, the row hash and the link,
/// with the collection's own keys (path, sha256, size) carried over from `own`.
fn image_metadata(plan: &Plan<'_>, link: &str, own: Option<&Metadata>) -> Metadata {
    let mut m = plan.row.metadata.clone();
    m.insert(PRODUCT_KEY.into(), json!(plan.row.product));
    m.insert(FEED_HASH.into(), json!(plan.hash));
    m.insert(IMAGE_LINK.into(), json!(link));
    if let Some(own) = own {
        for key in super::RESERVED_KEYS {
            if let Some(v) = own.get(*key) {
                m.insert((*key).into(), v.clone());
            }
        }
    }
    m
}

fn text_of<'a>(m: &'a Metadata, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str)
}

impl Collection {
    /// Imports a feed's text. Row errors are reported, never fatal; an error is returned only
    /// for a feed that cannot be read at all (its header) or a store that fails.
    pub async fn import_feed(
        &self,
        text: &str,
        format: FeedFormat,
        options: &ImportOptions,
        mut on_event: impl FnMut(ImportEvent<'_>),
    ) -> Result<ImportReport, CollectionError> {
        let (rows, errors) = read_feed(text, format).map_err(CollectionError::Invalid)?;
        let mine = |product: &str| {
            options
                .worker
                .is_none_or(|(i, n)| product_worker(product, n) == i)
        };
        let (rows, others): (Vec<FeedRow>, Vec<FeedRow>) =
            rows.into_iter().partition(|r| mine(&r.product));
        // A bad row is reported by the worker of its product, or by every worker when its
        // product could not be read.
        let errors: Vec<RowError> = errors
            .into_iter()
            .filter(|e| e.product.as_deref().is_none_or(mine))
            .collect();
        let mut report = ImportReport {
            other_workers: others.len(),
            ..ImportReport::default()
        };
        on_event(ImportEvent::Planned {
            rows: rows.len() + errors.len(),
        });
        for e in &errors {
            on_event(ImportEvent::Failed(e));
        }
        on_event(ImportEvent::Done(errors.len()));
        let in_feed: HashSet<String> = rows
            .iter()
            .chain(&others)
            .map(|r| r.product.clone())
            .chain(errors.iter().filter_map(|e| e.product.clone()))
            .collect();
        report.failed = errors;
        let _adding = self.adding.lock().await;
        let mut stored = self.imported_products().await?;

        // Unchanged rows: the same hash on every image, and every image there.
        let mut plans = Vec::new();
        for row in &rows {
            let hash = row_hash(row);
            let images = stored.remove(&row.product).unwrap_or_default();
            let same = images.len() == row.images.len()
                && images
                    .iter()
                    .all(|(_, m)| text_of(m, FEED_HASH) == Some(hash.as_str()));
            if same {
                report.unchanged += 1;
                continue;
            }
            let links: HashSet<&str> = images
                .iter()
                .filter_map(|(_, m)| text_of(m, IMAGE_LINK))
                .collect();
            let wanted = row
                .images
                .iter()
                .map(|l| Wanted {
                    link: l.clone(),
                    fetched: links
                        .contains(l.as_str())
                        .then(|| (String::new(), PathBuf::new())),
                })
                .collect();
            plans.push(Plan {
                row,
                hash,
                stored: images,
                wanted,
            });
        }
        on_event(ImportEvent::Done(report.unchanged));

        let fetcher = Fetcher::new(options.fetch.clone());
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(options.fetchers.max(1))
            .build()
            .map_err(|e| CollectionError::Invalid(format!("starting the fetch threads: {e}")))?;
        let folder = self.dir.join("feed-images");
        std::fs::create_dir_all(&folder).map_err(|e| CollectionError::io(&folder, e))?;
        for chunk in plans.chunks_mut(CHUNK) {
            let failed = fetch_chunk(&pool, &fetcher, &folder, chunk);
            let done = chunk.len();
            self.apply_chunk(chunk, failed, options, &mut report, &mut on_event)
                .await?;
            on_event(ImportEvent::Done(done));
        }

        // Products of earlier imports that the feed lacks.
        if options.prune {
            let mut doomed = Vec::new();
            for (product, images) in stored {
                if !in_feed.contains(&product) && mine(&product) {
                    doomed.extend(images.iter().map(|(id, _)| *id));
                    report.pruned += 1;
                }
            }
            if !doomed.is_empty() {
                self.store.delete(&doomed, Durability::Flushed).await?;
            }
        }
        report.failed.sort_by_key(|e| e.line);
        Ok(report)
    }

    /// Every image of an earlier import (it has a `feed_hash`), by product.
    async fn imported_products(
        &self,
    ) -> Result<HashMap<String, Vec<(PointId, Metadata)>>, CollectionError> {
        let filter = Filter::none().and(Condition::Exists {
            key: FEED_HASH.into(),
        });
        let ids = self.store.ids(&filter).await?;
        let mut out: HashMap<String, Vec<(PointId, Metadata)>> = HashMap::new();
        for chunk in ids.chunks(1000) {
            for p in self.store.get(chunk).await? {
                if let Some(product) = text_of(&p.metadata, PRODUCT_KEY).map(str::to_string) {
                    out.entry(product).or_default().push((p.id, p.metadata));
                }
            }
        }
        Ok(out)
    }

    /// Embeds a fetched chunk's new images and brings its stored images in line; a row that
    /// failed changes nothing.
    async fn apply_chunk(
        &self,
        chunk: &[Plan<'_>],
        mut failed: HashMap<usize, String>,
        options: &ImportOptions,
        report: &mut ImportReport,
        on_event: &mut impl FnMut(ImportEvent<'_>),
    ) -> Result<(), CollectionError> {
        // What each row keeps, adds and drops.
        let mut pending = Vec::new();
        let mut owner = Vec::new();
        let mut updates: Vec<Vec<(PointId, Metadata)>> = vec![Vec::new(); chunk.len()];
        let mut drops: Vec<Vec<PointId>> = vec![Vec::new(); chunk.len()];
        let mut changed = vec![false; chunk.len()];
        for (i, plan) in chunk.iter().enumerate() {
            if failed.contains_key(&i) {
                continue;
            }
            let mut kept = HashSet::new();
            for w in &plan.wanted {
                let Some((sha, path)) = &w.fetched else {
                    continue;
                };
                // Stored under this link, or (a new link) the same content stored already.
                let existing = plan.stored.iter().find(|(id, m)| {
                    !kept.contains(id)
                        && (text_of(m, IMAGE_LINK) == Some(w.link.as_str())
                            || (!sha.is_empty() && text_of(m, "sha256") == Some(sha.as_str())))
                });
                match existing {
                    Some((id, m)) => {
                        kept.insert(*id);
                        let want = image_metadata(plan, &w.link, Some(m));
                        if &want != m {
                            updates[i].push((*id, want));
                        }
                    }
                    None => {
                        pending.push(Pending {
                            path: path.clone(),
                            sha256: sha.clone(),
                            metadata: image_metadata(plan, &w.link, None),
                        });
                        owner.push(i);
                        changed[i] = true;
                    }
                }
            }
            for (id, _) in &plan.stored {
                if !kept.contains(id) {
                    drops[i].push(*id);
                    changed[i] = true;
                }
            }
        }
        // Embed; a file that does not decode fails its row.
        let mut add_report = AddReport::default();
        let by_path: HashMap<PathBuf, usize> = pending
            .iter()
            .zip(&owner)
            .map(|(p, &i)| (p.path.clone(), i))
            .collect();
        let ids = self
            .add_pending(&pending, &options.add, &mut add_report, |event| {
                if let AddEvent::Skipped(e) = event {
                    let path = match e {
                        lookalike_core::ImageError::Io { path, .. } => Some(path.clone()),
                        other => by_path
                            .keys()
                            .find(|p| other.to_string().contains(&p.display().to_string()))
                            .cloned(),
                    };
                    if let Some(i) = path.and_then(|p| by_path.get(&p)) {
                        failed.entry(*i).or_insert_with(|| e.to_string());
                    }
                }
            })
            .await?;
        // Rows with a skipped image: take back what they added.
        for ((id, &i), p) in ids.iter().zip(&owner).zip(&pending) {
            if id.is_none() && !failed.contains_key(&i) {
                failed.insert(i, format!("{}: could not be used", p.path.display()));
            }
        }
        let undo: Vec<PointId> = ids
            .iter()
            .zip(&owner)
            .filter(|(_, i)| failed.contains_key(i))
            .filter_map(|(id, _)| *id)
            .collect();
        if !undo.is_empty() {
            self.store.delete(&undo, Durability::Flushed).await?;
        }
        let mut all_updates = Vec::new();
        let mut all_drops = Vec::new();
        for (i, plan) in chunk.iter().enumerate() {
            if let Some(reason) = failed.get(&i) {
                let e = RowError {
                    line: plan.row.line,
                    product: Some(plan.row.product.clone()),
                    reason: reason.clone(),
                };
                on_event(ImportEvent::Failed(&e));
                report.failed.push(e);
                continue;
            }
            if plan.stored.is_empty() {
                report.added += 1;
            } else if changed[i] || !updates[i].is_empty() {
                report.updated += 1;
            } else {
                report.unchanged += 1;
            }
            all_updates.append(&mut updates[i]);
            all_drops.append(&mut drops[i]);
        }
        if !all_updates.is_empty() {
            self.store
                .set_metadata(all_updates, Durability::Flushed)
                .await?;
        }
        if !all_drops.is_empty() {
            self.store.delete(&all_drops, Durability::Flushed).await?;
        }
        Ok(())
    }
}

/// A fetched image's content hash and file, or why it could not be had.
type Fetched = Result<(String, PathBuf), String>;

/// Fetches every image of the chunk not stored yet, on the pool; keeps fetched bytes under
/// `folder` by content hash. Returns the rows that failed, with why.
fn fetch_chunk(
    pool: &rayon::ThreadPool,
    fetcher: &Fetcher,
    folder: &std::path::Path,
    chunk: &mut [Plan<'_>],
) -> HashMap<usize, String> {
    let jobs: Vec<(usize, usize, String)> = chunk
        .iter()
        .enumerate()
        .flat_map(|(i, plan)| {
            plan.wanted
                .iter()
                .enumerate()
                .filter(|(_, w)| w.fetched.is_none())
                .map(move |(j, w)| (i, j, w.link.clone()))
        })
        .collect();
    let results: Vec<(usize, usize, Fetched)> = pool.install(|| {
        jobs.into_par_iter()
            .map(|(i, j, link)| {
                let got = fetcher.fetch(&link).and_then(|(bytes, origin)| {
                    let sha = format!("{:x}", Sha256::digest(&bytes));
                    match origin {
                        Origin::File(path) => Ok((sha, path)),
                        Origin::Url => keep(folder, &sha, &bytes).map(|path| (sha, path)),
                    }
                });
                (i, j, got)
            })
            .collect()
    });
    let mut failed = HashMap::new();
    for (i, j, got) in results {
        match got {
            Ok(fetched) => chunk[i].wanted[j].fetched = Some(fetched),
            Err(e) => {
                let column = if j == 0 {
                    "image_link".to_string()
                } else {
                    format!("additional_image_link {j}")
                };
                failed.entry(i).or_insert(format!("{column}: {e}"));
            }
        }
    }
    failed
}

/// Writes fetched bytes to `folder/SHA.EXT` (temporary file, fsync, rename); the extension is
/// the format the bytes are in, and bytes in no image format are refused here.
fn keep(folder: &std::path::Path, sha: &str, bytes: &[u8]) -> Result<PathBuf, String> {
    let format = image::guess_format(bytes).map_err(|_| "not an image".to_string())?;
    let ext = format.extensions_str().first().copied().unwrap_or("img");
    let path = folder.join(format!("{sha}.{ext}"));
    if path.exists() {
        return Ok(path);
    }
    let tmp = folder.join(format!("{sha}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("keeping {}: {e}", path.display())
    })?;
    Ok(path)
}
