//! Is a collection's catalogue like the images its trained model learnt from? The transfer
//! gate ([`lookalike_core::siamese::familiarity`]) applied to a collection as it grows.
//!
//! Every image added (by `index add`, an import or an upload) has the surprise of its pooled
//! vector measured while it is embedded, at no extra forward pass. The collection keeps two
//! counts in `familiarity.json`: images measured, and those above the model's
//! 95th-percentile validation image. When at least a quarter of at least 20 images are, `index
//! info` and the API's collection info say that the zero-shot backbone is expected to rank
//! this catalogue better (`index create --sample DIR` makes that choice before the first add).
//! The counts are of images ever added: a deleted image still counts.

use std::path::Path;

use lookalike_core::siamese::Familiarity;
use lookalike_core::SimilarityModel;
use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::{Collection, CollectionError};

/// The file beside `collection.json`.
pub const FILE: &str = "familiarity.json";

/// Images measured, and how many were unfamiliar to the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurpriseCounts {
    /// Images whose surprise was measured.
    pub measured: u64,
    /// Those above the model's 95th-percentile validation image.
    pub unfamiliar: u64,
}

impl SurpriseCounts {
    /// Reads `DIR/familiarity.json`; a missing file is zero counts.
    pub fn read(dir: &Path) -> Result<Self, CollectionError> {
        super::side_file::read(dir, FILE, "familiarity record")
    }

    /// Writes it atomically (temporary file, then rename).
    pub fn write(&self, dir: &Path) -> Result<(), CollectionError> {
        super::side_file::write(dir, FILE, self)
    }
}

/// Whether each row of `pooled` is unfamiliar to `model`; `None` when the model has no
/// familiarity profile (zero-shot, trained from scratch, or trained before profiles).
pub(crate) fn unfamiliar_rows(
    model: &SimilarityModel,
    pooled: &Tensor,
) -> Result<Option<Vec<bool>>, CollectionError> {
    let Some(profile) = model.familiarity().copied() else {
        return Ok(None);
    };
    let surprises = crate::familiarity::surprises(model, pooled, None)?;
    Ok(surprises.map(|s| s.into_iter().map(|x| profile.is_unfamiliar(x)).collect()))
}

impl Collection {
    /// The gate's reading of the images added so far; `None` when the model has no profile.
    pub fn familiarity(&self) -> Option<Familiarity> {
        let profile = self.models.facts().familiarity?;
        let counts = *self.surprises.lock().unwrap_or_else(|p| p.into_inner());
        Some(profile.judge_counts(counts.measured as usize, counts.unfamiliar as usize, None))
    }

    /// Counts the stored images among `rows` (`None`: the model has no profile), and writes
    /// the counts.
    pub(crate) fn record_surprises(
        &self,
        rows: Option<&[bool]>,
        stored: impl IntoIterator<Item = usize>,
    ) -> Result<(), CollectionError> {
        let Some(rows) = rows else {
            return Ok(());
        };
        let snapshot = {
            let mut counts = self.surprises.lock().unwrap_or_else(|p| p.into_inner());
            for row in stored {
                counts.measured += 1;
                counts.unfamiliar += u64::from(rows.get(row).copied().unwrap_or(true));
            }
            *counts
        };
        snapshot.write(&self.dir)
    }
}
