//! `lookalike index create|add|rm|info|rebuild`: collections of images, built by operators.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use lookalike_core::{parse_device, BackboneKind};
use lookalike_engine::collection::{
    AddEvent, AddOptions, Collection, ModelRef, StoreRef, PRODUCT_KEY,
};
use lookalike_index::PointId;

use super::progress;

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
struct CreateArgs {
    /// The collection's name (letters, digits, '-', '_').
    name: String,
    /// A model folder written by `lookalike train`, or `zero-shot`.
    #[arg(long, value_name = "MODEL_DIR|zero-shot")]
    model: String,
    /// For zero-shot: the backbone.
    #[arg(long, default_value = "efficientnet-lite0", value_parser = BackboneKind::parse)]
    backbone: BackboneKind,
    /// For zero-shot: the backbone's weights file (default: the set-up's).
    #[arg(long, value_name = "FILE")]
    weights: Option<PathBuf>,
    /// For zero-shot with the tiny test backbone: its seed.
    #[arg(long, default_value_t = 0)]
    seed: i64,
    /// Where the vectors live: embedded (HNSW + sled, in the collection's folder) or
    /// pgvector (a PostgreSQL table; needs --url).
    #[arg(long, default_value = "embedded", value_parser = ["embedded", "pgvector"])]
    store: String,
    /// PostgreSQL URL for --store pgvector, e.g. postgres://user@host:5432/db?sslmode=verify-full.
    /// A password in it is used for this run only and never stored: later runs take it from
    /// PGPASSWORD or a passfile (PGPASSFILE, ~/.pgpass).
    #[arg(long, env = "LOOKALIKE_PG_URL", hide_env_values = true)]
    url: Option<String>,
    /// For --store pgvector: shard servers (comma separated). The table is hash-partitioned on
    /// its ids, one postgres_fdw partition with its own HNSW index on each shard.
    #[arg(long, value_name = "URL,URL,...", value_delimiter = ',')]
    shards: Vec<String>,
    /// For --shards: when a shard does not answer, search the others and say which was missing
    /// (instead of failing the search).
    #[arg(long)]
    partial_ok: bool,
    /// HNSW links per node (M) for the embedded store, 2 to 256.
    #[arg(long, default_value_t = 16)]
    m: usize,
    /// HNSW beam width while building, for the embedded store.
    #[arg(long, default_value_t = 200)]
    ef_construction: usize,
    /// A labelled folder (one subfolder per class) to calibrate a zero-shot model's cosine
    /// on, so that its similarity reads as a probability of "same". Without it a zero-shot
    /// similarity is the cosine itself.
    #[arg(long, value_name = "DIR")]
    calibrate: Option<PathBuf>,
    #[command(flatten)]
    data: DataDirArgs,
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

/// The model a `--model` option names.
pub fn model_ref(
    model: &str,
    backbone: BackboneKind,
    weights: Option<&Path>,
    seed: i64,
) -> anyhow::Result<ModelRef> {
    if model == "zero-shot" {
        ModelRef::zero_shot(backbone, weights, seed).context("reading the zero-shot weights")
    } else {
        ModelRef::siamese(Path::new(model)).with_context(|| format!("reading the model {model}"))
    }
}

async fn create(a: CreateArgs) -> anyhow::Result<()> {
    let device = parse_device(&a.data.device)?;
    let mut model = model_ref(&a.model, a.backbone, a.weights.as_deref(), a.seed)?;
    if let Some(dir) = &a.calibrate {
        anyhow::ensure!(
            model.path.is_none(),
            "--calibrate is for zero-shot collections: a trained model is calibrated by `lookalike train`"
        );
        let loaded = model.load(device)?;
        let options = lookalike_engine::EmbedOptions {
            preprocess: loaded.config().map(|c| c.preprocess()).unwrap_or_default(),
            ..lookalike_engine::EmbedOptions::default()
        };
        let bar = progress::bar(0, "calibrating", false);
        let calibration = lookalike_engine::train::calibrate::calibrate_on_folder(
            &loaded,
            dir,
            &options,
            0,
            |p| {
                bar.set_length(p.total as u64);
                bar.set_position(p.done as u64);
            },
        )
        .with_context(|| format!("calibrating on {}", dir.display()))?;
        bar.finish_and_clear();
        eprintln!(
            "calibrated the cosine on {} pairs: P(same) = sigmoid({:.3} * cos + {:.3}), ECE {:.3}",
            calibration.pairs, calibration.scale, calibration.offset, calibration.ece
        );
        model.calibration = Some(calibration);
    }
    if a.store != "pgvector" && (!a.shards.is_empty() || a.partial_ok) {
        anyhow::bail!("--shards and --partial-ok are only for --store pgvector");
    }
    let store = match (a.store.as_str(), a.url) {
        ("pgvector", Some(url)) => {
            let (store, had_password) = StoreRef::pgvector(&url, &a.shards, a.partial_ok);
            if had_password {
                eprintln!(
                    "warning: the PostgreSQL password is used for this run only and not stored; \
                     later commands take it from PGPASSWORD or a passfile (PGPASSFILE, ~/.pgpass)"
                );
            }
            store
        }
        ("pgvector", None) => {
            anyhow::bail!("--store pgvector needs --url postgres://... (or LOOKALIKE_PG_URL)")
        }
        (_, Some(url)) if std::env::var("LOOKALIKE_PG_URL").ok().as_ref() != Some(&url) => {
            anyhow::bail!("--url is only for --store pgvector")
        }
        _ => StoreRef::Embedded {
            max_connections: a.m,
            ef_construction: a.ef_construction,
        },
    };
    let collection = Collection::create(&a.data.data_dir, &a.name, model, store, device)
        .await
        .with_context(|| format!("creating collection {:?}", a.name))?;
    let info = collection.info().await?;
    println!(
        "created collection {:?} in {}: {}, {} store, {}-dimensional {} vectors",
        info.name,
        info.dir.display(),
        info.model,
        info.store.kind,
        info.store.dimension,
        info.store.metric
    );
    Ok(())
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
    Ok(())
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
