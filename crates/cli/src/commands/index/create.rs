//! `lookalike index create`: a new collection bound to a model and a store; with `--sample`,
//! the transfer gate first decides whether the trained head or the zero-shot backbone ranks it.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use lookalike_core::siamese::Verdict;
use lookalike_core::{parse_device, BackboneKind};
use lookalike_engine::collection::{Collection, ModelRef, StoreRef};

use super::super::progress;
use super::DataDirArgs;

#[derive(Debug, Args)]
pub(super) struct CreateArgs {
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
    /// Images like the ones the collection will hold (a folder; up to 300 are read). With a
    /// trained model, the transfer gate measures them first: when they are unlike the
    /// model's training images, the collection is created zero-shot over the model's
    /// pretrained backbone instead, which ranks such catalogues better (docs/training.md).
    #[arg(long, value_name = "DIR")]
    sample: Option<PathBuf>,
    #[command(flatten)]
    data: DataDirArgs,
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

pub(super) async fn create(a: CreateArgs) -> anyhow::Result<()> {
    let device = parse_device(&a.data.device)?;
    let mut model = model_ref(&a.model, a.backbone, a.weights.as_deref(), a.seed)?;
    if let Some(dir) = &a.sample {
        model = gate(model, dir, device)?;
    }
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

/// `index create --sample DIR`: the trained `model`, or the zero-shot ranking the transfer
/// gate picks when `dir` is unlike the model's training images.
fn gate(model: ModelRef, dir: &Path, device: tch::Device) -> anyhow::Result<ModelRef> {
    anyhow::ensure!(
        model.path.is_some(),
        "--sample is for a trained model: it decides whether the model's head or the zero-shot \
         backbone ranks the catalogue"
    );
    anyhow::ensure!(dir.is_dir(), "--sample {}: no such folder", dir.display());
    let loaded = model.load(device)?;
    anyhow::ensure!(
        loaded.familiarity().is_some(),
        "--sample: {} records no familiarity profile (it was trained before `lookalike train` \
         recorded one, or from scratch); retrain it, or leave out --sample",
        model.describe()
    );
    let options = lookalike_engine::EmbedOptions {
        preprocess: loaded.config().map(|c| c.preprocess()).unwrap_or_default(),
        ..lookalike_engine::EmbedOptions::default()
    };
    let bar = progress::bar(0, "measuring the sample", false);
    let judged = lookalike_engine::familiarity::judge_folder(
        &loaded,
        dir,
        &options,
        lookalike_engine::familiarity::SAMPLE_LIMIT,
        |p| {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
        },
    )
    .with_context(|| format!("measuring the sample {}", dir.display()))?;
    bar.finish_and_clear();
    let Some((familiarity, skipped)) = judged else {
        return Ok(model);
    };
    for s in &skipped {
        eprintln!("skipped: {}", s.error);
    }
    eprintln!("sample: {}", familiarity.explain());
    match familiarity.verdict {
        Verdict::Unfamiliar => {
            let fallback = ModelRef::fallback_of(&model)?;
            eprintln!("so the collection ranks zero-shot: {}", fallback.describe());
            Ok(fallback)
        }
        Verdict::TooFew => anyhow::bail!(
            "--sample {}: {} usable images are too few to judge (at least {}); give a larger \
             sample, or leave out --sample",
            dir.display(),
            familiarity.images,
            lookalike_core::siamese::familiarity::MIN_IMAGES
        ),
        Verdict::Familiar => Ok(model),
    }
}
