//! Options that pick and load a backbone, shared by every command that runs a network.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use lookalike_core::backbone::{self, BackboneConfig};
use lookalike_core::{parse_device, weights, Backbone, BackboneKind, SimilarityModel};

/// Which network, which weights, which device.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Backbone: efficientnet-lite0 (default), resnet18, resnet34, resnet50, tiny, or conv4
    /// (4 conv blocks trained from scratch by `train`; no pretrained weights).
    #[arg(long, default_value = "efficientnet-lite0", value_parser = BackboneKind::parse)]
    pub backbone: BackboneKind,
    /// Weights file (safetensors); default: the set-up's weights folder.
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// Where the network runs: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Seed for everything random (the tiny test CNN's weights, splits, pairs, training).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl ModelArgs {
    /// Loads the backbone for inference.
    pub fn load(&self) -> anyhow::Result<Box<dyn Backbone>> {
        let device = parse_device(&self.device)?;
        let weights = weights::resolve(self.backbone, self.weights.as_deref());
        let config = BackboneConfig {
            kind: self.backbone,
            weights: weights.as_deref(),
            device,
            inference: true,
            seed: self.seed as i64,
        };
        backbone::load(&config).with_context(|| format!("loading the {} backbone", self.backbone))
    }
}

/// A trained model folder, or `zero-shot` with the backbone options.
#[derive(Debug, Args)]
pub struct SimilarityArgs {
    /// A model folder written by `lookalike train`, or `zero-shot` (pretrained features,
    /// cosine similarity, no training); `eval-oneshot` also takes `mhd` (the Modified Hausdorff
    /// Distance on ink, no network).
    #[arg(long, value_name = "MODEL_DIR|zero-shot")]
    pub model: String,
    /// Override the decision threshold on the distance d ("same" when d < threshold).
    #[arg(long)]
    pub threshold: Option<f64>,
    #[command(flatten)]
    pub backbone: ModelArgs,
}

impl SimilarityArgs {
    /// Loads the model.
    pub fn load(&self) -> anyhow::Result<SimilarityModel> {
        if let Some(t) = self.threshold {
            anyhow::ensure!(
                (0.0..=1.0).contains(&t),
                "--threshold must be between 0 and 1, got {t}"
            );
        }
        let mut model = if self.model == "zero-shot" {
            SimilarityModel::zero_shot(self.backbone.load()?, self.threshold)
        } else {
            let device = parse_device(&self.backbone.device)?;
            SimilarityModel::load(std::path::Path::new(&self.model), device)
                .with_context(|| format!("loading the model {}", self.model))?
        };
        if let Some(t) = self.threshold {
            model.set_threshold(t);
        }
        if let Some(note) = model.config().and_then(|c| c.calibration_note()) {
            eprintln!("note: {note}");
        }
        Ok(model)
    }
}
