//! How an embedded store answers a query: the ids a filter admits (through the secondary index of
//! metadata values where it can), an exact scan when few points match, and otherwise the mutable
//! graph and every sealed segment searched with the same `ef`, their top `k` merged.

use super::*;

impl EmbeddedStore {
    pub(super) fn matching_ids(&self, filter: &Filter) -> Result<Vec<PointId>, StoreError> {
        if filter.is_empty() {
            return self
                .trees
                .vectors
                .iter()
                .keys()
                .map(|k| k.map(|k| records::key_id(&k).unwrap_or_default()))
                .collect::<Result<_, _>>()
                .map_err(|e| self.sled(e));
        }
        // Equality and sets come from the value index; the rest are checked on the metadata.
        let mut result: Option<Vec<PointId>> = None;
        for pairs in filter.conditions.iter().filter_map(|c| c.index_pairs()) {
            let mut ids = Vec::new();
            for (key, value) in &pairs {
                for k in self
                    .trees
                    .by_value
                    .scan_prefix(records::value_prefix(key, value))
                    .keys()
                {
                    ids.push(records::key_id(&k.map_err(|e| self.sled(e))?).unwrap_or_default());
                }
            }
            result = Some(match result {
                None => ids,
                Some(prev) => {
                    let set: HashSet<PointId> = ids.into_iter().collect();
                    prev.into_iter().filter(|id| set.contains(id)).collect()
                }
            });
        }
        let mut ids = match result {
            Some(ids) => ids,
            None => self.matching_ids(&Filter::none())?,
        };
        ids.sort_unstable();
        ids.dedup();
        if filter.conditions.iter().any(|c| c.index_pairs().is_none()) {
            let mut kept = Vec::with_capacity(ids.len());
            for id in ids {
                if self.metadata_of(id)?.is_some_and(|m| filter.matches(&m)) {
                    kept.push(id);
                }
            }
            ids = kept;
        }
        Ok(ids)
    }

    pub(super) fn exact(
        &self,
        query: &[f32],
        ids: &[PointId],
        want: usize,
    ) -> Result<Vec<(PointId, f32)>, StoreError> {
        let metric = self.config.metric;
        let mut top = TopK::new(want);
        for &id in ids {
            if let Some(v) = self.vector_of(id)? {
                top.push(id, metric.score(metric.distance(query, &v)));
            }
        }
        Ok(top.into_sorted())
    }

    pub(super) fn search_one(
        &self,
        q: &Query,
        live: &Live,
        total: u64,
    ) -> Result<Vec<Hit>, StoreError> {
        check_vector(self.config.dimension, &q.vector)?;
        let metric = self.config.metric;
        let vector = metric.prepare(q.vector.clone());
        let want = q.k + q.offset;
        if want == 0 {
            return Ok(Vec::new());
        }
        let ef = q.ef.unwrap_or(self.options.ef_search).max(want);
        let scores = |found: Vec<(PointId, f32)>| -> Vec<(PointId, f32)> {
            found
                .into_iter()
                .map(|(id, d)| (id, metric.score(d)))
                .collect()
        };
        let scored: Vec<(PointId, f32)> = if q.filter.is_empty() {
            let found = live.search(&vector, want, ef, None);
            if found.len() < want.min(total as usize) {
                // The graph came up short (many tombstones): answer exactly.
                let ids = self.matching_ids(&Filter::none())?;
                self.exact(&vector, &ids, want)?
            } else {
                scores(found)
            }
        } else {
            let ids = self.matching_ids(&q.filter)?;
            if ids.len() <= self.options.exact_below.max(want) {
                self.exact(&vector, &ids, want)?
            } else {
                // Widen the beam in proportion to the filter's selectivity.
                let widen = (total as usize).div_ceil(ids.len().max(1)).clamp(1, 16);
                let keep = |id: PointId| ids.binary_search(&id).is_ok();
                let found = live.search(&vector, want, ef * widen, Some(&keep));
                if found.len() < want {
                    self.exact(&vector, &ids, want)?
                } else {
                    scores(found)
                }
            }
        };
        let mut scored = scored;
        crate::rank::sort_scored(&mut scored);
        let mut hits = Vec::with_capacity(q.k);
        for (id, score) in scored.into_iter().skip(q.offset).take(q.k) {
            let metadata = if q.with_metadata {
                match self.metadata_of(id)? {
                    Some(m) => m,
                    None => continue, // deleted between the graph search and now
                }
            } else {
                Metadata::new()
            };
            let vector = if q.with_vectors {
                self.vector_of(id)?
            } else {
                None
            };
            hits.push(Hit {
                id,
                score,
                metadata,
                vector,
            });
        }
        Ok(hits)
    }
}
