//! Options that pick and load a backbone, shared by every command that runs a network.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use lookalike_core::backbone::{self, BackboneConfig};
use lookalike_core::{parse_device, weights, Backbone, BackboneKind};

/// Which network, which weights, which device.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Backbone: efficientnet-lite0 (default), resnet18, resnet34, resnet50 or tiny.
    #[arg(long, default_value = "efficientnet-lite0", value_parser = BackboneKind::parse)]
    pub backbone: BackboneKind,
    /// Weights file (safetensors); default: the set-up's weights folder.
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// Where the network runs: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Seed for random weights (only the tiny test CNN may run without a weights file).
    #[arg(long, default_value_t = 0)]
    pub seed: i64,
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
            seed: self.seed,
        };
        backbone::load(&config).with_context(|| format!("loading the {} backbone", self.backbone))
    }
}
