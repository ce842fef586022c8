//! `FlatStore`: exact search over points kept in memory. The recall reference for the other
//! stores, and fine on its own for a few thousand images.

use std::collections::BTreeMap;
use std::sync::RwLock;

use async_trait::async_trait;

use crate::rank::TopK;
use crate::{
    Durability, Filter, Hit, Metadata, Metric, NewPoint, Point, PointId, Query, RebuildReport,
    StoreError, StoreInfo, VectorStore,
};

/// Exact search by scanning every point.
#[derive(Debug)]
pub struct FlatStore {
    dimension: usize,
    metric: Metric,
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    points: BTreeMap<PointId, Point>,
    next_id: PointId,
}

impl FlatStore {
    /// An empty store for vectors of `dimension`, compared by `metric`.
    pub fn new(dimension: usize, metric: Metric) -> Self {
        FlatStore {
            dimension,
            metric,
            state: RwLock::new(State::default()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Exact top-k of `query` among `candidates` (id, vector, metadata).
pub(crate) fn exact_search<'a>(
    metric: Metric,
    query: &Query,
    candidates: impl Iterator<Item = (PointId, &'a [f32], &'a Metadata)>,
) -> Vec<Hit> {
    let vector = metric.prepare(query.vector.clone());
    let mut top = TopK::new(query.k + query.offset);
    for (id, v, meta) in candidates {
        if query.filter.matches(meta) {
            top.push(id, metric.score(metric.distance(&vector, v)));
        }
    }
    top.into_sorted()
        .into_iter()
        .skip(query.offset)
        .map(|(id, score)| Hit {
            id,
            score,
            metadata: Metadata::new(),
            vector: None,
        })
        .collect()
}

#[async_trait]
impl VectorStore for FlatStore {
    async fn info(&self) -> Result<StoreInfo, StoreError> {
        Ok(StoreInfo {
            kind: "flat".into(),
            location: "memory".into(),
            dimension: self.dimension,
            metric: self.metric,
            points: self.read().points.len() as u64,
            tombstones: 0,
            warnings: Vec::new(),
        })
    }

    async fn insert(
        &self,
        points: Vec<NewPoint>,
        _durability: Durability,
    ) -> Result<Vec<PointId>, StoreError> {
        for p in &points {
            crate::check_vector(self.dimension, &p.vector)?;
        }
        let mut state = self.write();
        let mut ids = Vec::with_capacity(points.len());
        for p in points {
            let id = state.next_id;
            state.next_id += 1;
            state.points.insert(
                id,
                Point {
                    id,
                    vector: self.metric.prepare(p.vector),
                    metadata: p.metadata,
                    thumbnail: p.thumbnail,
                },
            );
            ids.push(id);
        }
        Ok(ids)
    }

    async fn delete(&self, ids: &[PointId], _durability: Durability) -> Result<u64, StoreError> {
        let mut state = self.write();
        Ok(ids
            .iter()
            .filter(|id| state.points.remove(id).is_some())
            .count() as u64)
    }

    async fn set_metadata(
        &self,
        updates: Vec<(PointId, Metadata)>,
        _durability: Durability,
    ) -> Result<u64, StoreError> {
        let mut state = self.write();
        let mut n = 0;
        for (id, meta) in updates {
            if let Some(p) = state.points.get_mut(&id) {
                p.metadata = meta;
                n += 1;
            }
        }
        Ok(n)
    }

    async fn get(&self, ids: &[PointId]) -> Result<Vec<Point>, StoreError> {
        let state = self.read();
        Ok(ids
            .iter()
            .filter_map(|id| state.points.get(id).cloned())
            .collect())
    }

    async fn ids(&self, filter: &Filter) -> Result<Vec<PointId>, StoreError> {
        let state = self.read();
        Ok(state
            .points
            .values()
            .filter(|p| filter.matches(&p.metadata))
            .map(|p| p.id)
            .collect())
    }

    async fn search(&self, queries: &[Query]) -> Result<Vec<Vec<Hit>>, StoreError> {
        let state = self.read();
        let mut answers = Vec::with_capacity(queries.len());
        for q in queries {
            crate::check_vector(self.dimension, &q.vector)?;
            let candidates = state
                .points
                .values()
                .map(|p| (p.id, p.vector.as_slice(), &p.metadata));
            let mut hits = exact_search(self.metric, q, candidates);
            for h in &mut hits {
                let p = &state.points[&h.id];
                if q.with_metadata {
                    h.metadata = p.metadata.clone();
                }
                if q.with_vectors {
                    h.vector = Some(p.vector.clone());
                }
            }
            answers.push(hits);
        }
        Ok(answers)
    }

    async fn rebuild(&self) -> Result<RebuildReport, StoreError> {
        Ok(RebuildReport {
            points: self.read().points.len() as u64,
            removed_tombstones: 0,
        })
    }

    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
