//! [`VectorStore`] on PostgreSQL: every write commits before it returns.

use async_trait::async_trait;
use pgvector::Vector;
use tokio_postgres::types::ToSql;
use tokio_postgres::Transaction;

use super::query::where_clause;
use super::schema::{partition_name, shard_error};
use super::{error_text, open_client, PgVectorStore};
use crate::{
    check_vector, Durability, Filter, Hit, Inserted, Metadata, NewPoint, Point, PointId, Query,
    RebuildReport, SearchAnswers, StoreError, StoreInfo, VectorStore,
};

fn to_i64(ids: &[PointId]) -> Vec<i64> {
    ids.iter()
        .map(|&id| id.min(i64::MAX as u64) as i64)
        .collect()
}

impl PgVectorStore {
    /// Inserts into a sharded table: ids first, then one INSERT without RETURNING, which
    /// postgres_fdw sends to each shard in batches (`batch_size`) rather than a row at a time.
    pub(super) async fn insert_into_shards(
        &self,
        tx: &Transaction<'_>,
        points: Vec<NewPoint>,
    ) -> Result<Vec<PointId>, StoreError> {
        if points.is_empty() {
            return Ok(Vec::new());
        }
        let n = points.len() as i64;
        let ids: Vec<i64> = tx
            .query(
                &format!(
                    "SELECT nextval('{}_id_seq') FROM generate_series(1, $1::bigint)",
                    self.table
                ),
                &[&n],
            )
            .await
            .map_err(|e| self.pg(e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut vectors = Vec::with_capacity(points.len());
        let mut metadata = Vec::with_capacity(points.len());
        let mut thumbnails = Vec::with_capacity(points.len());
        for p in points {
            vectors.push(Vector::from(self.metric.prepare(p.vector)));
            metadata.push(serde_json::Value::Object(p.metadata));
            thumbnails.push(p.thumbnail);
        }
        tx.execute(
            &format!(
                "INSERT INTO {} (id, embedding, metadata, thumbnail) \
                 SELECT * FROM unnest($1::bigint[], $2::vector[], $3::jsonb[], $4::bytea[])",
                self.table
            ),
            &[&ids, &vectors, &metadata, &thumbnails],
        )
        .await
        .map_err(|e| self.pg(e))?;
        Ok(ids.into_iter().map(|id| id as PointId).collect())
    }

    /// The table's rows (on every shard).
    async fn count(&self) -> Result<i64, StoreError> {
        let client = self.client.lock().await;
        Ok(client
            .query_one(&format!("SELECT count(*) FROM {}", self.table), &[])
            .await
            .map_err(|e| self.pg(e))?
            .get(0))
    }
}

#[async_trait]
impl VectorStore for PgVectorStore {
    async fn info(&self) -> Result<StoreInfo, StoreError> {
        let n = self.count().await?;
        Ok(StoreInfo {
            kind: "pgvector".into(),
            location: if self.options.shards.is_empty() {
                format!("{} (table {})", self.url, self.table)
            } else {
                format!(
                    "{} (table {} over {} shards)",
                    self.url,
                    self.table,
                    self.options.shards.len()
                )
            },
            dimension: self.dimension,
            metric: self.metric,
            points: n as u64,
            tombstones: 0,
            warnings: Vec::new(),
        })
    }

    async fn insert(
        &self,
        points: Vec<NewPoint>,
        durability: Durability,
    ) -> Result<Vec<PointId>, StoreError> {
        for p in &points {
            check_vector(self.dimension, &p.vector)?;
        }
        let mut client = self.client.lock().await;
        let tx = client.transaction().await.map_err(|e| self.pg(e))?;
        if durability == Durability::Buffered {
            tx.batch_execute("SET LOCAL synchronous_commit = off")
                .await
                .map_err(|e| self.pg(e))?;
        }
        let ids = if self.options.shards.is_empty() {
            let stmt = tx
                .prepare(&format!(
                    "INSERT INTO {} (embedding, metadata, thumbnail) VALUES ($1, $2, $3) \
                     RETURNING id",
                    self.table
                ))
                .await
                .map_err(|e| self.pg(e))?;
            let mut ids = Vec::with_capacity(points.len());
            for p in points {
                let vector = Vector::from(self.metric.prepare(p.vector));
                let metadata = serde_json::Value::Object(p.metadata);
                let row = tx
                    .query_one(&stmt, &[&vector, &metadata, &p.thumbnail])
                    .await
                    .map_err(|e| self.pg(e))?;
                ids.push(row.get::<_, i64>(0) as PointId);
            }
            ids
        } else {
            self.insert_into_shards(&tx, points).await?
        };
        tx.commit().await.map_err(|e| self.pg(e))?;
        Ok(ids)
    }

    async fn insert_unique(
        &self,
        points: Vec<NewPoint>,
        durability: Durability,
    ) -> Result<Vec<Inserted>, StoreError> {
        self.insert_unique_pg(points, durability).await
    }

    async fn delete(&self, ids: &[PointId], _durability: Durability) -> Result<u64, StoreError> {
        let client = self.client.lock().await;
        client
            .execute(
                &format!("DELETE FROM {} WHERE id = ANY($1)", self.table),
                &[&to_i64(ids)],
            )
            .await
            .map_err(|e| self.pg(e))
    }

    async fn set_metadata(
        &self,
        updates: Vec<(PointId, Metadata)>,
        _durability: Durability,
    ) -> Result<u64, StoreError> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await.map_err(|e| self.pg(e))?;
        let sql = format!("UPDATE {} SET metadata = $2 WHERE id = $1", self.table);
        let mut n = 0;
        for (id, meta) in updates {
            let meta = serde_json::Value::Object(meta);
            n += tx
                .execute(&sql, &[&(id as i64), &meta])
                .await
                .map_err(|e| self.pg(e))?;
        }
        tx.commit().await.map_err(|e| self.pg(e))?;
        Ok(n)
    }

    async fn get(&self, ids: &[PointId]) -> Result<Vec<Point>, StoreError> {
        let client = self.client.lock().await;
        let rows = client
            .query(
                &format!(
                    "SELECT id, embedding, metadata, thumbnail FROM {} WHERE id = ANY($1)",
                    self.table
                ),
                &[&to_i64(ids)],
            )
            .await
            .map_err(|e| self.pg(e))?;
        let mut by_id: std::collections::HashMap<PointId, Point> = rows
            .iter()
            .map(|row| {
                let id = row.get::<_, i64>(0) as PointId;
                let metadata: serde_json::Value = row.get(2);
                (
                    id,
                    Point {
                        id,
                        vector: row.get::<_, Vector>(1).to_vec(),
                        metadata: metadata.as_object().cloned().unwrap_or_default(),
                        thumbnail: row.get(3),
                    },
                )
            })
            .collect();
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    async fn ids(&self, filter: &Filter) -> Result<Vec<PointId>, StoreError> {
        let client = self.client.lock().await;
        let (cond, params) = where_clause(filter, 1);
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.sql()).collect();
        let rows = client
            .query(
                &format!("SELECT id FROM {} WHERE {cond} ORDER BY id", self.table),
                &params,
            )
            .await
            .map_err(|e| self.pg(e))?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as PointId).collect())
    }

    async fn search(&self, queries: &[Query]) -> Result<Vec<Vec<Hit>>, StoreError> {
        Ok(self.search_batch(queries).await?.hits)
    }

    async fn search_answers(&self, queries: &[Query]) -> Result<SearchAnswers, StoreError> {
        self.search_batch(queries).await
    }

    async fn keep_originals(&self, files: &[(&str, &[u8])]) -> Result<bool, StoreError> {
        self.keep_files(files).await?;
        Ok(true)
    }

    async fn original(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_file(sha256).await
    }

    async fn replica_lag(&self) -> Result<Option<crate::ReplicaLag>, StoreError> {
        PgVectorStore::replica_lag(self).await
    }

    async fn rebuild(&self) -> Result<RebuildReport, StoreError> {
        if self.options.shards.is_empty() {
            let client = self.client.lock().await;
            // Separate statements: VACUUM cannot run inside a (multi-statement) transaction.
            for sql in [
                format!("VACUUM {}", self.table),
                format!("REINDEX TABLE {}", self.table),
            ] {
                client.batch_execute(&sql).await.map_err(|e| self.pg(e))?;
            }
        } else {
            // Foreign tables are vacuumed and reindexed where they live.
            for (i, url) in self.options.shards.iter().enumerate() {
                let (client, shown) = open_client(url, self.options.connect_timeout)
                    .await
                    .map_err(|e| shard_error(i, url, e.to_string()))?;
                let part = partition_name(&self.table, i);
                for sql in [format!("VACUUM {part}"), format!("REINDEX TABLE {part}")] {
                    client
                        .batch_execute(&sql)
                        .await
                        .map_err(|e| shard_error(i, &shown, error_text(&e)))?;
                }
            }
        }
        self.drop_unnamed_files().await?;
        let n = self.count().await?;
        Ok(RebuildReport {
            points: n as u64,
            removed_tombstones: 0,
        })
    }

    async fn flush(&self) -> Result<(), StoreError> {
        // Every write above commits before it returns.
        Ok(())
    }
}
