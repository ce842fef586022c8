//! [`VectorStore`] for [`EmbeddedStore`]: every write is one sled transaction (ids, vectors,
//! metadata, the value index and the write log together), then the index follows; reads and
//! searches go through `search.rs`.

use super::*;

#[async_trait]
impl VectorStore for EmbeddedStore {
    async fn info(&self) -> Result<StoreInfo, StoreError> {
        let warnings = self.warnings().await;
        Ok(StoreInfo {
            kind: "embedded".into(),
            location: self.dir.display().to_string(),
            dimension: self.config.dimension,
            metric: self.config.metric,
            points: self.points()?,
            tombstones: self.live().tombstones.len() as u64,
            warnings,
        })
    }

    async fn warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn insert(
        &self,
        points: Vec<NewPoint>,
        durability: Durability,
    ) -> Result<Vec<PointId>, StoreError> {
        if points.is_empty() {
            return Ok(Vec::new());
        }
        for p in &points {
            check_vector(self.config.dimension, &p.vector)?;
        }
        let metric = self.config.metric;
        let points: Vec<NewPoint> = points
            .into_iter()
            .map(|p| NewPoint {
                vector: metric.prepare(p.vector),
                ..p
            })
            .collect();
        let encoded: Vec<(Vec<u8>, Vec<u8>)> = points
            .iter()
            .map(|p| {
                let meta = serde_json::to_vec(&p.metadata)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                Ok((records::vector_bytes(&p.vector), meta))
            })
            .collect::<Result<_, StoreError>>()?;
        let _writer = self.write_turn();
        let t = &self.trees;
        let n = points.len() as u64;
        let ids = (
            &t.meta,
            &t.vectors,
            &t.metadata,
            &t.thumbnails,
            &t.by_value,
            &t.log,
        )
            .transaction(|(meta, vectors, metadata, thumbnails, by_value, log)| {
                let first_id = bump(meta, "next_id", n, false)?;
                let first_seq = take_seqs(meta, n)?;
                bump(meta, "points", n, false)?;
                let mut ids = Vec::with_capacity(points.len());
                for (i, (p, (vec_bytes, meta_bytes))) in points.iter().zip(&encoded).enumerate() {
                    let id = first_id + i as u64;
                    let key = records::id_key(id);
                    vectors.insert(&key, vec_bytes.as_slice())?;
                    metadata.insert(&key, meta_bytes.as_slice())?;
                    if let Some(thumb) = &p.thumbnail {
                        thumbnails.insert(&key, thumb.as_slice())?;
                    }
                    for (k, v) in indexable_pairs(&p.metadata) {
                        by_value.insert(records::value_key(&k, &v, id), &[])?;
                    }
                    let seq = first_seq + i as u64;
                    log.insert(&seq.to_be_bytes(), &LogOp::Insert(id).encode())?;
                    ids.push(id);
                }
                Ok(ids)
            })
            .map_err(|e| tx_err(e, &self.dir))?;
        self.finish(durability)?;
        let batch: Vec<(PointId, Vec<f32>)> = ids
            .iter()
            .copied()
            .zip(points.into_iter().map(|p| p.vector))
            .collect();
        // Room for the batch is made under the write lock (a few copies); the linking, which is
        // the insertion's real work, under the read lock, so searches go on meanwhile (the
        // writer's turn keeps other writers out).
        if self.live().mutable.len() == 0 {
            self.absorb_last_segment();
        }
        let nodes = {
            let mut live = self.live_mut();
            live.undumped.fetch_add(batch.len(), Ordering::Relaxed);
            live.mutable.reserve(&batch)
        };
        let full = {
            let live = self.live();
            live.mutable.link(nodes);
            live.added() >= self.options.seal_at
        };
        if full {
            // The points are stored already: a failed seal leaves them in the mutable graph.
            if let Err(e) = self.seal_locked() {
                self.warn(format!(
                    "sealing the HNSW graph failed ({e}); it stays mutable"
                ));
            }
        }
        Ok(ids)
    }

    async fn delete(&self, ids: &[PointId], durability: Durability) -> Result<u64, StoreError> {
        let _writer = self.write_turn();
        let t = &self.trees;
        let removed = (
            &t.meta,
            &t.vectors,
            &t.metadata,
            &t.thumbnails,
            &t.by_value,
            &t.log,
            &t.tombstones,
        )
            .transaction(
                |(meta, vectors, metadata, thumbnails, by_value, log, tombstones)| {
                    let mut removed = Vec::new();
                    for &id in ids {
                        let key = records::id_key(id);
                        if vectors.remove(&key)?.is_none() {
                            continue;
                        }
                        if let Some(old) = metadata.remove(&key)? {
                            let old: Metadata = serde_json::from_slice(&old).unwrap_or_default();
                            for (k, v) in indexable_pairs(&old) {
                                by_value.remove(records::value_key(&k, &v, id))?;
                            }
                        }
                        thumbnails.remove(&key)?;
                        tombstones.insert(&key, &[])?;
                        let seq = take_seqs(meta, 1)?;
                        log.insert(&seq.to_be_bytes(), &LogOp::Delete(id).encode())?;
                        removed.push(id);
                    }
                    bump(meta, "points", removed.len() as u64, true)?;
                    Ok(removed)
                },
            )
            .map_err(|e| tx_err(e, &self.dir))?;
        self.finish(durability)?;
        let mut live = self.live_mut();
        live.undumped.fetch_add(removed.len(), Ordering::Relaxed);
        for &id in &removed {
            live.tombstones.insert(id);
            live.sealed.mark_dead(id);
        }
        Ok(removed.len() as u64)
    }

    async fn set_metadata(
        &self,
        updates: Vec<(PointId, Metadata)>,
        durability: Durability,
    ) -> Result<u64, StoreError> {
        let _writer = self.write_turn();
        let t = &self.trees;
        let n = (&t.metadata, &t.by_value)
            .transaction(|(metadata, by_value)| {
                let mut n = 0;
                for (id, new) in &updates {
                    let key = records::id_key(*id);
                    let Some(old) = metadata.get(key)? else {
                        continue;
                    };
                    let old: Metadata = serde_json::from_slice(&old).unwrap_or_default();
                    for (k, v) in indexable_pairs(&old) {
                        by_value.remove(records::value_key(&k, &v, *id))?;
                    }
                    for (k, v) in indexable_pairs(new) {
                        by_value.insert(records::value_key(&k, &v, *id), &[])?;
                    }
                    let bytes = serde_json::to_vec(new).map_err(|e| {
                        ConflictableTransactionError::Abort(StoreError::Invalid(e.to_string()))
                    })?;
                    metadata.insert(&key, bytes)?;
                    n += 1;
                }
                Ok(n)
            })
            .map_err(|e| tx_err(e, &self.dir))?;
        self.finish(durability)?;
        Ok(n)
    }

    async fn get(&self, ids: &[PointId]) -> Result<Vec<Point>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let (Some(vector), Some(metadata)) = (self.vector_of(id)?, self.metadata_of(id)?)
            else {
                continue;
            };
            let thumbnail = self.read(&self.trees.thumbnails, id)?.map(|v| v.to_vec());
            out.push(Point {
                id,
                vector,
                metadata,
                thumbnail,
            });
        }
        Ok(out)
    }

    async fn ids(&self, filter: &Filter) -> Result<Vec<PointId>, StoreError> {
        self.matching_ids(filter)
    }

    async fn search(&self, queries: &[Query]) -> Result<Vec<Vec<Hit>>, StoreError> {
        let live = self.live();
        let total = self.points()?;
        queries
            .iter()
            .map(|q| self.search_one(q, &live, total))
            .collect()
    }

    async fn rebuild(&self) -> Result<RebuildReport, StoreError> {
        let report = self.rebuild_index(true)?;
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(report)
    }

    async fn flush(&self) -> Result<(), StoreError> {
        // No write may slip between the checkpoint sequence and the dump.
        let _writer = self.write_turn();
        self.dump_locked(&self.live())
    }

    async fn checkpoint_if_due(&self) -> Result<(), StoreError> {
        let _writer = self.write_turn();
        let live = self.live();
        if live.dump_due() {
            self.dump_locked(&live)?;
        }
        Ok(())
    }
}
