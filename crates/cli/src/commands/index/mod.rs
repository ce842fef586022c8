//! `lookalike index create|add|rm|info|rebuild`: collections of images, built by operators.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use lookalike_core::parse_device;
use lookalike_engine::collection::{AddEvent, AddOptions, Collection, PRODUCT_KEY};
use lookalike_index::PointId;

use super::progress;

mod create;

pub use create::model_ref;
use create::{create, CreateArgs};

/// Where collections live.
#[derive(Debug, Args, Clone)]
pub struct DataDirArgs {
    /// The folder that holds the collections.
    #[arg(
        long,
        value_name = "DIR",
        env = "LOOKALIKE_DATA_DIR",
        default_value = "index"
    )]
    pub data_dir: PathBuf,
    /// Where the network runs: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

impl DataDirArgs {
    /// Opens collection `name` with its own model.
    pub async fn open(&self, name: &str) -> anyhow::Result<Collection> {
        let device = parse_device(&self.device)?;
        Collection::open(&self.data_dir, name, device)
            .await
            .with_context(|| format!("opening collection {name:?}"))
    }
}

/// Manage collections.
#[derive(Debug, Args)]
pub struct IndexArgs {
    #[command(subcommand)]
    command: IndexCommand,
}

#[derive(Debug, Subcommand)]
enum IndexCommand {
    /// Create an empty collection bound to a model and a store.
    Create(CreateArgs),
    /// Add images (files or folders, recursively); files already indexed are skipped.
    Add(AddArgs),
    /// Import a product feed (Merchant Center columns; CSV, TSV or JSON Lines), idempotently.
    Import(super::import::ImportArgs),
    /// Delete images by id, or every image of a product (--product).
    Rm(RmArgs),
    /// Set (KEY=VALUE) or remove (KEY=) metadata keys of one image or of a product's images.
    Set(SetArgs),
    /// Show a collection's model, store, size and warnings.
    Info(InfoArgs),
    /// Drop deleted images for good and rebuild the index from the stored vectors.
    Rebuild(NameArgs),
}

#[derive(Debug, Args)]
struct AddArgs {
    /// The collection.
    name: String,
    /// Image files or folders.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Images per batch (one forward pass, one durable store write).
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Print `added ID PATH` for each image once it is stored durably.
    #[arg(long, short)]
    verbose: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// I/N: add only this worker's share of the images (by content hash), so that N processes,
    /// on N machines, fill one pgvector collection at once. Re-running a worker that died
    /// completes its share.
    #[arg(long, value_name = "I/N", value_parser = parse_worker)]
    worker: Option<(usize, usize)>,
    /// KEY=VALUE to give every added image (repeatable), e.g. `--meta product=SKU-1`.
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    meta: Vec<String>,
    #[command(flatten)]
    data: DataDirArgs,
}

/// `I/N` with `0 <= I < N`.
pub(crate) fn parse_worker(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("--worker {s:?}: expected I/N with 0 <= I < N, e.g. 0/3");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n) = (
        i.trim().parse::<usize>().map_err(|_| bad())?,
        n.trim().parse::<usize>().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

#[derive(Debug, Args)]
struct RmArgs {
    /// The collection.
    name: String,
    /// Ids to delete.
    #[arg(required_unless_present = "product")]
    ids: Vec<PointId>,
    /// Delete every image of this product instead.
    #[arg(long, conflicts_with = "ids")]
    product: Option<String>,
    #[command(flatten)]
    data: DataDirArgs,
}

#[derive(Debug, Args)]
struct SetArgs {
    /// The collection.
    name: String,
    /// Update every image of this product instead of one image.
    #[arg(long)]
    product: Option<String>,
    /// The image's id (unless --product), then KEY=VALUE to set (a number, true/false or JSON
    /// stays typed; anything else is text), KEY= to remove.
    #[arg(required = true, value_name = "ID KEY=VALUE")]
    pairs: Vec<String>,
    #[command(flatten)]
    data: DataDirArgs,
}

#[derive(Debug, Args)]
struct InfoArgs {
    /// The collection.
    name: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    data: DataDirArgs,
}

#[derive(Debug, Args)]
struct NameArgs {
    /// The collection.
    name: String,
    #[command(flatten)]
    data: DataDirArgs,
}

/// Runs `lookalike index ...`.
pub fn run(args: IndexArgs) -> anyhow::Result<()> {
    let runtime = super::runtime()?;
    runtime.block_on(async {
        match args.command {
            IndexCommand::Create(a) => create(a).await,
            IndexCommand::Add(a) => add(a).await,
            IndexCommand::Import(a) => super::import::run(a).await,
            IndexCommand::Rm(a) => rm(a).await,
            IndexCommand::Set(a) => set(a).await,
            IndexCommand::Info(a) => info(a).await,
            IndexCommand::Rebuild(a) => rebuild(a).await,
        }
    })
}

async fn add(a: AddArgs) -> anyhow::Result<()> {
    let collection = a.data.open(&a.name).await?;
    let hidden = a.quiet || a.json;
    let mut bar = progress::bar(0, "adding", true);
    let options = AddOptions {
        batch_size: a.batch.max(1),
        worker: a.worker,
        ..AddOptions::default()
    };
    let mut meta = metadata_pairs(&a.meta)?;
    meta.retain(|_, v| !v.is_null());
    let report = collection
        .add_with_metadata(&a.paths, &meta, options, |event| match event {
            AddEvent::Planned {
                found,
                new,
                already_indexed,
            } => {
                bar = progress::bar(new, "adding", hidden);
                if !hidden {
                    bar.println(format!(
                        "{found} images found, {new} new, {already_indexed} already indexed"
                    ));
                }
            }
            AddEvent::Added(batch) => {
                bar.inc(batch.len() as u64);
                if a.verbose {
                    for (id, path) in batch {
                        bar.suspend(|| println!("added {id} {}", path.display()));
                    }
                }
            }
            AddEvent::Skipped(e) => bar.suspend(|| eprintln!("skipped: {e}")),
        })
        .await
        .with_context(|| format!("adding to collection {:?}", a.name))?;
    bar.finish_and_clear();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let others = if a.worker.is_some() {
            format!(", {} left to the other workers", report.other_workers)
        } else {
            String::new()
        };
        println!(
            "added {} images to {:?} ({} already indexed, {} skipped{others})",
            report.added,
            a.name,
            report.already_indexed,
            report.skipped.len()
        );
    }
    if let Some(f) = collection.familiarity().filter(|f| f.falls_back()) {
        eprintln!("warning: {}", unfamiliar_advice(&f));
    }
    Ok(())
}

/// What a user should do about a collection whose images are unlike its model's.
fn unfamiliar_advice(f: &lookalike_core::siamese::Familiarity) -> String {
    format!(
        "{}; a collection created with `--sample DIR` (or `--model zero-shot`) would rank them \
         with the zero-shot backbone",
        f.explain()
    )
}

async fn rm(a: RmArgs) -> anyhow::Result<()> {
    let collection = a.data.open(&a.name).await?;
    if let Some(product) = &a.product {
        let n = collection.remove_product(product).await?;
        anyhow::ensure!(
            n > 0,
            "collection {:?} has no image of product {product:?}",
            a.name
        );
        println!(
            "deleted {n} images of product {product:?} from {:?}",
            a.name
        );
        return Ok(());
    }
    let n = collection.remove(&a.ids).await?;
    println!("deleted {n} of {} ids from {:?}", a.ids.len(), a.name);
    Ok(())
}

/// `KEY=VALUE` pairs as metadata: a number, true/false or JSON stays typed, anything else is
/// text (a `product` always text), and `KEY=` is `null` (removes the key in an update).
fn metadata_pairs(pairs: &[String]) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let mut patch = serde_json::Map::new();
    for pair in pairs {
        let (k, v) = pair
            .split_once('=')
            .filter(|(k, _)| !k.trim().is_empty())
            .with_context(|| format!("bad metadata {pair:?}: expected KEY=VALUE"))?;
        let key = k.trim();
        let value = if v.is_empty() {
            serde_json::Value::Null
        } else if key == PRODUCT_KEY {
            serde_json::Value::String(v.to_string())
        } else {
            serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_string()))
        };
        patch.insert(key.to_string(), value);
    }
    Ok(patch)
}

async fn set(a: SetArgs) -> anyhow::Result<()> {
    let (id, pairs) = match &a.product {
        Some(_) => (None, &a.pairs[..]),
        None => {
            let id: PointId = a.pairs[0].parse().with_context(|| {
                format!(
                    "{:?} is not an image id: give `index set NAME ID KEY=VALUE...` or \
                     `index set NAME --product PRODUCT KEY=VALUE...`",
                    a.pairs[0]
                )
            })?;
            (Some(id), &a.pairs[1..])
        }
    };
    anyhow::ensure!(!pairs.is_empty(), "give at least one KEY=VALUE to set");
    let patch = metadata_pairs(pairs)?;
    let collection = a.data.open(&a.name).await?;
    match (&a.product, id) {
        (Some(product), _) => {
            let n = collection.update_product(product, patch).await?;
            anyhow::ensure!(
                n > 0,
                "collection {:?} has no image of product {product:?}",
                a.name
            );
            println!("updated {n} images of product {product:?} in {:?}", a.name);
        }
        (None, Some(id)) => {
            anyhow::ensure!(
                collection.update_metadata(id, patch).await?,
                "collection {:?} has no image with id {id}",
                a.name,
            );
            println!("updated image {id} of {:?}", a.name);
        }
        (None, None) => anyhow::bail!("give an image id or --product"),
    }
    Ok(())
}

async fn info(a: InfoArgs) -> anyhow::Result<()> {
    let collection = a.data.open(&a.name).await?;
    let info = collection.info().await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    println!("collection  {}", info.name);
    println!("folder      {}", info.dir.display());
    println!("model       {}", info.model);
    println!("threshold   {}", info.threshold);
    println!("store       {} at {}", info.store.kind, info.store.location);
    println!(
        "vectors     {} × {} ({})",
        info.store.points, info.store.dimension, info.store.metric
    );
    println!("tombstones  {}", info.store.tombstones);
    if let Some(f) = &info.familiarity {
        println!("familiar    {}", f.explain());
        if f.falls_back() {
            println!("warning     {}", unfamiliar_advice(f));
        }
    }
    for w in &info.store.warnings {
        println!("warning     {w}");
    }
    Ok(())
}

async fn rebuild(a: NameArgs) -> anyhow::Result<()> {
    let collection = a.data.open(&a.name).await?;
    let report = collection.rebuild().await?;
    println!(
        "rebuilt {:?}: {} images, {} deleted ones dropped",
        a.name, report.points, report.removed_tombstones
    );
    Ok(())
}
