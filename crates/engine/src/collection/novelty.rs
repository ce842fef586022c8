//! "Nothing like this here": how close a collection's images are to their own nearest
//! neighbour, so that a search can tell a query from another domain.
//!
//! Every image added gets its nearest neighbour's logit `ℓ` in the collection (one store
//! search, after the add, so a batch sees itself). The collection keeps a sample of these
//! logits in `neighbours.json`: all of them up to [`SAMPLE`], then a seeded reservoir, so it
//! stays small at any size. A search whose best hit is farther than the
//! [`OUT_OF_CATALOGUE_PERCENTILE`]-th percentile of that distribution (fewer than 1 in 100
//! catalogue images have a neighbour that far) is out of the catalogue.
//!
//! An image's recorded logit is its neighbour at the time it was added; later, closer images
//! do not lower it again until `index rebuild` re-measures a sample. The distribution can only
//! be too pessimistic (neighbours too far) that way, so the notice errs towards silence.

use std::path::Path;

use lookalike_index::{Filter, PointId, Query};
use serde::{Deserialize, Serialize};

use super::{Collection, CollectionError};

/// The file beside `collection.json`.
pub const FILE: &str = "neighbours.json";
/// The most logits kept.
pub const SAMPLE: usize = 20_000;
/// A best hit below this percentile of the catalogue's nearest-neighbour logits is "out of
/// the catalogue".
pub const OUT_OF_CATALOGUE_PERCENTILE: f64 = 1.0;
/// Below this many recorded images there is no judging.
pub const MIN_IMAGES: usize = 20;
/// How many images `index rebuild` re-measures.
pub const REMEASURE: usize = 5_000;

/// The sample of nearest-neighbour logits.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NeighbourLogits {
    /// Images recorded, ever (the reservoir's denominator).
    pub seen: u64,
    /// The sample, in no order.
    pub logits: Vec<f64>,
}

/// Where a query's best hit falls among the catalogue's own nearest neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Novelty {
    /// The best hit is farther than [`Novelty::cutoff_percentile`] of the catalogue's images'
    /// nearest neighbours.
    pub out_of_catalogue: bool,
    /// The share (0–100) of catalogue images whose nearest neighbour is at most as close as the
    /// query's best hit: low means unusually far.
    pub percentile: f64,
    /// The best hit's logit.
    pub best_logit: f64,
    /// The cut-off percentile ([`OUT_OF_CATALOGUE_PERCENTILE`]).
    pub cutoff_percentile: f64,
    /// The logit at that percentile.
    pub cutoff_logit: f64,
    /// How many nearest-neighbour logits the judgement rests on.
    pub sample: usize,
}

impl NeighbourLogits {
    /// Reads `DIR/neighbours.json`; a missing file is an empty record.
    pub fn read(dir: &Path) -> Result<Self, CollectionError> {
        super::side_file::read(dir, FILE, "neighbour record")
    }

    /// Writes it atomically (temporary file, then rename).
    pub fn write(&self, dir: &Path) -> Result<(), CollectionError> {
        super::side_file::write(dir, FILE, self)
    }

    /// Records one image's nearest-neighbour logit (reservoir sampling past [`SAMPLE`], seeded
    /// by the count, so the same adds give the same sample).
    pub fn record(&mut self, logit: f64) {
        if !logit.is_finite() {
            return;
        }
        self.seen += 1;
        if self.logits.len() < SAMPLE {
            self.logits.push(logit);
            return;
        }
        // A SplitMix64 step of the count: a uniform slot in 0..seen.
        let mut z = self.seen.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let slot = (z ^ (z >> 31)) % self.seen;
        if (slot as usize) < SAMPLE {
            self.logits[slot as usize] = logit;
        }
    }

    /// Judges a best hit's logit; `None` with fewer than [`MIN_IMAGES`] recorded.
    pub fn judge(&self, best_logit: f64) -> Option<Novelty> {
        let n = self.logits.len();
        if n < MIN_IMAGES || !best_logit.is_finite() {
            return None;
        }
        let mut sorted = self.logits.clone();
        sorted.sort_by(f64::total_cmp);
        let at_most = sorted.partition_point(|&l| l <= best_logit);
        let percentile = 100.0 * at_most as f64 / n as f64;
        let rank = ((OUT_OF_CATALOGUE_PERCENTILE / 100.0) * n as f64).floor() as usize;
        let cutoff_logit = sorted[rank.min(n - 1)];
        Some(Novelty {
            out_of_catalogue: best_logit < cutoff_logit,
            percentile,
            best_logit,
            cutoff_percentile: OUT_OF_CATALOGUE_PERCENTILE,
            cutoff_logit,
            sample: n,
        })
    }
}

impl Collection {
    /// How a search whose best hit has logit `best` compares with the catalogue's own nearest
    /// neighbours (`None` while too few images are recorded).
    pub fn novelty(&self, best: Option<f64>) -> Option<Novelty> {
        let record = self.neighbours.lock().unwrap_or_else(|p| p.into_inner());
        best.and_then(|b| record.judge(b))
    }

    /// Measures the nearest-neighbour logit of each of `ids` (already stored) and records it.
    pub(crate) async fn record_neighbours(&self, ids: &[PointId]) -> Result<(), CollectionError> {
        if ids.is_empty() {
            return Ok(());
        }
        let logits = self.nearest_logits(ids).await?;
        let snapshot = {
            let mut record = self.neighbours.lock().unwrap_or_else(|p| p.into_inner());
            for l in logits {
                record.record(l);
            }
            record.clone()
        };
        snapshot.write(&self.dir)
    }

    /// Re-measures a sample of up to [`REMEASURE`] images from scratch (after a rebuild, or for
    /// a collection made before neighbours were recorded).
    pub async fn remeasure_neighbours(&self) -> Result<usize, CollectionError> {
        let mut ids = self.store.ids(&Filter::default()).await?;
        if ids.len() > REMEASURE {
            let step = ids.len() as f64 / REMEASURE as f64;
            ids = (0..REMEASURE)
                .map(|i| ids[(i as f64 * step) as usize])
                .collect();
        }
        let logits = self.nearest_logits(&ids).await?;
        let mut fresh = NeighbourLogits::default();
        for l in &logits {
            fresh.record(*l);
        }
        fresh.write(&self.dir)?;
        *self.neighbours.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(logits.len())
    }

    /// The logit of each image's nearest other image (images alone in the collection are
    /// left out).
    async fn nearest_logits(&self, ids: &[PointId]) -> Result<Vec<f64>, CollectionError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(256) {
            let points = self.store.get(chunk).await?;
            let queries: Vec<Query> = points
                .iter()
                .map(|p| Query {
                    vector: p.vector.clone(),
                    k: self.space.candidates(2),
                    offset: 0,
                    filter: Filter::default(),
                    ef: None,
                    with_vectors: true,
                    with_metadata: false,
                })
                .collect();
            let found = self.store.search(&queries).await?;
            for (point, hits) in points.iter().zip(found) {
                let best = hits
                    .iter()
                    .filter(|h| h.id != point.id)
                    .filter_map(|h| h.vector.as_ref())
                    .map(|x| self.space.logit(&point.vector, x))
                    .max_by(f64::total_cmp);
                out.extend(best);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_percentile_separates_a_far_query() {
        let mut r = NeighbourLogits::default();
        for i in 0..1000 {
            r.record(-10.0 + i as f64 / 100.0);
        }
        let far = r.judge(-50.0).unwrap();
        assert!(far.out_of_catalogue && far.percentile == 0.0, "{far:?}");
        let near = r.judge(-5.0).unwrap();
        assert!(
            !near.out_of_catalogue && (near.percentile - 50.1).abs() < 0.2,
            "{near:?}"
        );
        // The cut-off is the 1st percentile: 10 of 1000 are below it.
        assert!((far.cutoff_logit - (-9.9)).abs() < 1e-9, "{far:?}");
    }

    #[test]
    fn too_few_images_say_nothing_and_the_sample_stays_bounded() {
        let mut r = NeighbourLogits::default();
        for _ in 0..5 {
            r.record(1.0);
        }
        assert!(r.judge(-100.0).is_none());
        r.record(f64::NAN);
        assert_eq!(r.seen, 5);
        for i in 0..(SAMPLE + 5000) {
            r.record(i as f64);
        }
        assert_eq!(r.logits.len(), SAMPLE);
        assert_eq!(r.seen, (SAMPLE + 5005) as u64);
    }
}
