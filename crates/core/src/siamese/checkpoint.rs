//! A trained model on disk: a folder with `model.json` (versioned, enough to rebuild the model),
//! `head.safetensors` and `backbone.safetensors`.
//!
//! The backbone's weights are copied in, so a checkpoint needs no other input, even after the
//! pretrained weights change or the backbone was fine-tuned.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Calibration, FamiliarityProfile, HeadKind, Loss};
use crate::{BackboneKind, Error, Preprocess, Result};

/// The checkpoint format this build writes. Version 2 added the calibration of the head's
/// logit; version 1 folders still load, uncalibrated.
pub const CHECKPOINT_FORMAT_VERSION: u32 = 2;
/// The oldest format this build reads.
pub const OLDEST_FORMAT_VERSION: u32 = 1;
/// The `format` field of every checkpoint's `model.json`.
pub const CHECKPOINT_FORMAT: &str = "lookalike-siamese";
/// The config file's name inside a checkpoint folder.
pub const CONFIG_FILE: &str = "model.json";
/// The head's weights.
pub const HEAD_FILE: &str = "head.safetensors";
/// The backbone's weights.
pub const BACKBONE_FILE: &str = "backbone.safetensors";

/// Everything needed to rebuild a trained model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelConfig {
    /// Always [`CHECKPOINT_FORMAT`].
    pub format: String,
    /// [`CHECKPOINT_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The backbone network.
    pub backbone: BackboneKind,
    /// Its pooled vector's length.
    pub channels: i64,
    /// The embedding's length.
    pub embedding_dim: i64,
    /// The pair head's form.
    pub head: HeadKind,
    /// "Same" when `d < threshold`.
    pub threshold: f64,
    /// Resize before the crop.
    pub resize: u32,
    /// Square crop (the input size with `resize_only`).
    pub crop: u32,
    /// Resized to `crop`×`crop` without cropping (drawings).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resize_only: bool,
    /// Ink inverted before the network.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invert: bool,
    /// How it was trained (absent for hand-made models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainingRecord>,
    /// `P(same | logit)`, fitted on the validation pairs (absent in version 1 folders and in
    /// hand-made models: the similarity is then the head's own `σ(logit)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// The surprise of the validation images' pooled vectors, which the transfer gate
    /// compares a catalogue with (absent in folders trained before it, and for backbones
    /// trained from scratch, which have no zero-shot backbone to fall back to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub familiarity: Option<FamiliarityProfile>,
}

impl ModelConfig {
    /// The preprocessing this model expects.
    pub fn preprocess(&self) -> Preprocess {
        Preprocess {
            resize: self.resize,
            crop: self.crop,
            resize_only: self.resize_only,
            invert: self.invert,
        }
    }

    /// A note for the user when the similarity is not calibrated, naming why.
    pub fn calibration_note(&self) -> Option<String> {
        if self.calibration.is_some() {
            return None;
        }
        Some(if self.format_version < 2 {
            format!(
                "this model folder is format version {}: its similarity is uncalibrated (the head's \
                 own sigmoid, which reads 0.000 far from the training images); retrain it with \
                 `lookalike train` to calibrate it",
                self.format_version
            )
        } else {
            "this model has no calibration: its similarity is the head's own sigmoid".to_string()
        })
    }
}

/// How a model was trained, and how well it did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainingRecord {
    /// The labelled folder.
    pub data: String,
    /// Class names, in label order.
    pub classes: Vec<String>,
    /// The seed of the split, the pairs and the initial weights.
    pub seed: u64,
    /// Train, validation and test fractions of each class.
    pub split: [f64; 3],
    /// The loss.
    pub loss: Loss,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Pairs per step.
    pub batch_size: usize,
    /// Extra augmented views per training image.
    pub augment: usize,
    /// The backbone's last units fine-tuned (0: frozen).
    #[serde(default)]
    pub fine_tune: usize,
    /// Dropout on the head's input.
    #[serde(default)]
    pub dropout: f64,
    /// AdamW's weight decay.
    #[serde(default)]
    pub weight_decay: f64,
    /// Epochs run (early stopping included).
    pub epochs: usize,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// Validation ROC AUC of the kept weights.
    pub val_auc: f64,
    /// Metrics on the held-out test split, by name.
    pub test: std::collections::BTreeMap<String, f64>,
    /// One-shot training from scratch: its episodes, expansion, distortions and held-out
    /// groups (the engine's `OneShotRecord`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_shot: Option<serde_json::Value>,
}

/// Reads and checks `DIR/model.json`.
pub fn read_config(dir: &Path) -> Result<ModelConfig> {
    let path = dir.join(CONFIG_FILE);
    let bad = |message: String| Error::Checkpoint {
        path: dir.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| bad(format!("cannot read {CONFIG_FILE}: {e}")))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| bad(format!("{CONFIG_FILE} is not valid JSON: {e}")))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(CHECKPOINT_FORMAT) {
        return Err(bad(format!(
            "{CONFIG_FILE} is not a Lookalike model (no \"format\": \"{CHECKPOINT_FORMAT}\")"
        )));
    }
    let found = value
        .get("format_version")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    if !(u64::from(OLDEST_FORMAT_VERSION)..=u64::from(CHECKPOINT_FORMAT_VERSION)).contains(&found) {
        return Err(Error::CheckpointVersion {
            path: dir.to_path_buf(),
            found,
            expected: CHECKPOINT_FORMAT_VERSION,
        });
    }
    serde_json::from_value(value).map_err(|e| bad(format!("{CONFIG_FILE}: {e}")))
}

/// Writes `DIR/model.json` last and atomically, so a folder with a config is complete.
pub fn write_config(dir: &Path, config: &ModelConfig) -> Result<()> {
    let text = serde_json::to_string_pretty(config).map_err(|e| Error::Checkpoint {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    atomic_write(&dir.join(CONFIG_FILE), text.as_bytes())
}

/// A temporary name beside `path` for atomic replacement.
pub(crate) fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e: std::io::Error| Error::Checkpoint {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let tmp = temp_beside(path);
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
