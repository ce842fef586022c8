//! Products: images that share a `product` id (a reserved metadata key), searched, updated and
//! deleted together.
//!
//! A grouped search returns the k best *groups* (products), each with its best-matching image
//! and the ids of its other images. It asks the store for more candidates until k distinct
//! groups are found or the store has nothing more, so one product with many near-identical
//! photos never crowds the others out of the page.

use lookalike_index::{scalar_text, Condition, Durability, Filter, Metadata, PointId};
use serde::Serialize;

use super::{Collection, CollectionError, SearchHit, SearchRequest};

/// The reserved metadata key naming an image's product.
pub const PRODUCT_KEY: &str = "product";

/// The longest product id, in bytes.
const MAX_PRODUCT: usize = 256;

/// The most candidates one grouped search reads from the store.
const MAX_CANDIDATES: usize = 1 << 20;

/// Refuses a `product` that is not a non-empty string of at most 256 bytes.
pub fn check_product(what: &str, metadata: &Metadata) -> Result<(), CollectionError> {
    match metadata.get(PRODUCT_KEY) {
        None | Some(serde_json::Value::Null) => Ok(()),
        Some(serde_json::Value::String(s)) if !s.is_empty() && s.len() <= MAX_PRODUCT => Ok(()),
        Some(other) => Err(CollectionError::Invalid(format!(
            "{what}: \"product\" must be a non-empty string of at most {MAX_PRODUCT} bytes, \
             not {other}"
        ))),
    }
}

/// One group of a grouped search: a product (or an image without one).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupHit {
    /// The group's value of the `group_by` key; `None` for an image without it (a group of one).
    pub group: Option<String>,
    /// Its best-matching image.
    pub best: SearchHit,
    /// The ids of its other images that match the filter, ascending.
    pub other_ids: Vec<PointId>,
}

/// A page of groups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupResults {
    /// The metadata key the hits were grouped by.
    pub group_by: String,
    /// The groups, best first.
    pub groups: Vec<GroupHit>,
    /// As for an ungrouped search.
    pub novelty: Option<super::Novelty>,
    /// Which shards and replica gave the hits, over every round of widening.
    pub provenance: super::Provenance,
}

impl Collection {
    /// The ids of a product's images, ascending.
    pub async fn product_ids(&self, product: &str) -> Result<Vec<PointId>, CollectionError> {
        Ok(self.store.ids(&Filter::equal(PRODUCT_KEY, product)).await?)
    }

    /// Deletes every image of a product; returns how many there were.
    pub async fn remove_product(&self, product: &str) -> Result<u64, CollectionError> {
        let ids = self.product_ids(product).await?;
        self.remove(&ids).await
    }

    /// Merges `patch` into the metadata of every image of a product (a `null` removes a key);
    /// returns how many images were updated. Like [`Collection::update_metadata`], the
    /// collection's own keys cannot be patched; `product` itself can (moving the images).
    pub async fn update_product(
        &self,
        product: &str,
        patch: Metadata,
    ) -> Result<u64, CollectionError> {
        super::check_metadata(&format!("product {product:?}"), &patch)?;
        let ids = self.product_ids(product).await?;
        let mut updates = Vec::with_capacity(ids.len());
        for point in self.store.get(&ids).await? {
            let mut metadata = point.metadata;
            for (k, v) in &patch {
                if v.is_null() {
                    metadata.remove(k);
                } else {
                    metadata.insert(k.clone(), v.clone());
                }
            }
            updates.push((point.id, metadata));
        }
        Ok(self
            .store
            .set_metadata(updates, Durability::Flushed)
            .await?)
    }

    /// The `k` best groups of images by their `group_by` key (after skipping `offset`), each
    /// with its best image; images without the key are groups of one. `k` groups come back
    /// whenever that many match. `exclude` leaves one image and, if it has one, its group out
    /// (for "more like this").
    pub async fn search_groups(
        &self,
        vector: Vec<f32>,
        request: &SearchRequest,
        group_by: &str,
        exclude: Option<(PointId, &Metadata)>,
    ) -> Result<GroupResults, CollectionError> {
        let want = request.k + request.offset;
        let mut filter = request.filter.clone();
        let own_group = exclude.and_then(|(_, m)| m.get(group_by).and_then(scalar_text));
        if let Some(g) = &own_group {
            filter = filter.and(Condition::Not(Box::new(Condition::Equals {
                key: group_by.into(),
                value: g.clone(),
            })));
        }
        let excluded = exclude.map(|(id, _)| id);
        let mut asked = (want * 4).max(32);
        let mut provenance = super::Provenance::default();
        let (groups, novelty) = loop {
            let wider = SearchRequest {
                k: asked,
                offset: 0,
                filter: filter.clone(),
                ef: request.ef,
            };
            let found = self.search_vector(vector.clone(), &wider).await?;
            provenance.merge(found.provenance);
            let exhausted = found.hits.len() < asked;
            let mut groups: Vec<(Option<String>, SearchHit)> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for hit in found.hits {
                if Some(hit.id) == excluded {
                    continue;
                }
                let key = hit.metadata.get(group_by).and_then(scalar_text);
                if key.as_ref().is_none_or(|k| seen.insert(k.clone())) {
                    groups.push((key, hit));
                }
            }
            if groups.len() >= want || exhausted || asked >= MAX_CANDIDATES {
                let novelty = self.novelty(groups.first().map(|(_, h)| h.logit));
                break (groups, novelty);
            }
            asked = (asked * 4).min(MAX_CANDIDATES);
        };
        let mut out = Vec::with_capacity(request.k);
        for (group, best) in groups.into_iter().skip(request.offset).take(request.k) {
            let other_ids = match &group {
                Some(g) => {
                    let mine = request.filter.clone().and(Condition::Equals {
                        key: group_by.into(),
                        value: g.clone(),
                    });
                    let mut ids = self.store.ids(&mine).await?;
                    ids.retain(|&id| id != best.id && Some(id) != excluded);
                    ids
                }
                None => Vec::new(),
            };
            out.push(GroupHit {
                group,
                best,
                other_ids,
            });
        }
        Ok(GroupResults {
            group_by: group_by.into(),
            groups: out,
            novelty,
            provenance,
        })
    }
}
