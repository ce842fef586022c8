//! `PgVectorStore`: PostgreSQL + pgvector, for galleries that outgrow one machine.
//!
//! One table per collection: `id bigserial` (ids are never reused), `embedding vector(D)`,
//! `metadata jsonb`, `thumbnail bytea`, an HNSW index with the metric's operator class and a GIN
//! index on the metadata. Filters become SQL `WHERE` clauses; pgvector 0.8's iterative index scan
//! keeps filtered searches from coming up short, and an exact scan backs it up when they still
//! do. The table's comment records its dimension and metric, so a mismatch is caught on open.
//!
//! In production, shard the table with Citus (`create_distributed_table(table, 'id')`) and
//! replicate with streaming replication; nothing here assumes a single node.

use std::time::Duration;

use async_trait::async_trait;
use pgvector::Vector;
use tokio::sync::Mutex;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};

use crate::{
    check_vector, Durability, Filter, Hit, Metadata, Metric, NewPoint, Point, PointId, Query,
    RebuildReport, StoreError, StoreInfo, VectorStore,
};

const FORMAT: &str = "lookalike-pgvector";

/// Connection and index settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// How long to wait for the server before giving up.
    pub connect_timeout: Duration,
    /// The longest a single statement may run.
    pub statement_timeout: Duration,
    /// HNSW `m`, fixed at creation.
    pub max_connections: usize,
    /// HNSW `ef_construction`, fixed at creation.
    pub ef_construction: usize,
    /// Default `hnsw.ef_search`.
    pub ef_search: usize,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(60),
            max_connections: 16,
            ef_construction: 200,
            ef_search: 64,
        }
    }
}

/// A collection's vectors in one PostgreSQL table.
pub struct PgVectorStore {
    client: Mutex<Client>,
    url: String,
    table: String,
    dimension: usize,
    metric: Metric,
    options: PgOptions,
}

impl std::fmt::Debug for PgVectorStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgVectorStore")
            .field("url", &self.url)
            .field("table", &self.table)
            .finish()
    }
}

/// `url` with its password replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((userinfo, host)) = rest.rsplit_once('@') {
            if let Some((user, _)) = userinfo.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
        return url.to_string();
    }
    url.split_whitespace()
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***".to_string()
            } else {
                kv.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(serde::Serialize, serde::Deserialize)]
struct TableConfig {
    format: String,
    dimension: usize,
    metric: Metric,
}

impl PgVectorStore {
    /// Connects to `url` and opens the table for collection `name`, creating it (and the
    /// `vector` extension) if needed. Fails, naming the URL, if the server does not answer within
    /// the connect timeout, or if the table holds other vectors.
    pub async fn connect(
        url: &str,
        name: &str,
        dimension: usize,
        metric: Metric,
        options: PgOptions,
    ) -> Result<Self, StoreError> {
        let shown = redact_url(url);
        if !(2..=100).contains(&options.max_connections) {
            return Err(StoreError::Invalid(format!(
                "pgvector HNSW m must be between 2 and 100, got {}",
                options.max_connections
            )));
        }
        if dimension == 0 || dimension > 2000 {
            return Err(StoreError::Invalid(format!(
                "pgvector indexes vectors of 1 to 2000 dimensions, not {dimension}"
            )));
        }
        let table = table_name(name)?;
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Unreachable {
                url: shown.clone(),
                message: format!("not a PostgreSQL URL: {e}"),
            })?;
        config.connect_timeout(options.connect_timeout);
        let connecting = tokio::time::timeout(options.connect_timeout, config.connect(NoTls));
        let (client, connection) = match connecting.await {
            Err(_) => {
                return Err(StoreError::Unreachable {
                    url: shown,
                    message: format!("no answer within {:?}", options.connect_timeout),
                })
            }
            Ok(Err(e)) => {
                return Err(StoreError::Unreachable {
                    url: shown,
                    message: error_text(&e),
                })
            }
            Ok(Ok(pair)) => pair,
        };
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let store = PgVectorStore {
            client: Mutex::new(client),
            url: shown,
            table,
            dimension,
            metric,
            options,
        };
        store.prepare_table().await?;
        Ok(store)
    }

    fn pg(&self, e: tokio_postgres::Error) -> StoreError {
        StoreError::Postgres {
            url: self.url.clone(),
            message: error_text(&e),
        }
    }

    fn ops(&self) -> (&'static str, &'static str) {
        match self.metric {
            Metric::L1 => ("vector_l1_ops", "<+>"),
            Metric::L2 => ("vector_l2_ops", "<->"),
            Metric::Cosine => ("vector_cosine_ops", "<=>"),
        }
    }

    async fn prepare_table(&self) -> Result<(), StoreError> {
        let client = self.client.lock().await;
        let timeout_ms = self.options.statement_timeout.as_millis();
        client
            .batch_execute(&format!("SET statement_timeout = {timeout_ms}"))
            .await
            .map_err(|e| self.pg(e))?;
        client
            .batch_execute("CREATE EXTENSION IF NOT EXISTS vector")
            .await
            .map_err(|e| self.pg(e))?;
        let t = &self.table;
        let existing: Option<String> = client
            .query_one("SELECT obj_description(to_regclass($1), 'pg_class')", &[t])
            .await
            .map_err(|e| self.pg(e))?
            .get(0);
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[t])
            .await
            .map_err(|e| self.pg(e))?
            .get(0);
        if exists {
            let found: Option<TableConfig> = existing
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok());
            return match found {
                Some(c)
                    if c.format == FORMAT
                        && c.dimension == self.dimension
                        && c.metric == self.metric =>
                {
                    Ok(())
                }
                Some(c) => Err(StoreError::Mismatch(format!(
                    "table {t} at {} holds {}-dimensional {} vectors, not {}-dimensional {}",
                    self.url, c.dimension, c.metric, self.dimension, self.metric
                ))),
                None => Err(StoreError::Mismatch(format!(
                    "table {t} at {} exists but was not made by Lookalike",
                    self.url
                ))),
            };
        }
        let (opclass, _) = self.ops();
        let comment = serde_json::to_string(&TableConfig {
            format: FORMAT.into(),
            dimension: self.dimension,
            metric: self.metric,
        })
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let sql = format!(
            "BEGIN;
             CREATE TABLE {t} (id bigserial PRIMARY KEY, embedding vector({dim}) NOT NULL,
                 metadata jsonb NOT NULL DEFAULT '{{}}', thumbnail bytea);
             CREATE INDEX {t}_hnsw ON {t} USING hnsw (embedding {opclass})
                 WITH (m = {m}, ef_construction = {efc});
             CREATE INDEX {t}_metadata ON {t} USING gin (metadata jsonb_path_ops);
             COMMENT ON TABLE {t} IS {comment};
             COMMIT;",
            dim = self.dimension,
            m = self.options.max_connections,
            efc = self.options.ef_construction,
            comment = quote_literal(&comment),
        );
        client.batch_execute(&sql).await.map_err(|e| self.pg(e))
    }

    /// The SQL condition for `filter`, with its parameters starting at `$first`.
    fn where_clause(filter: &Filter, first: usize) -> (String, Vec<String>) {
        let mut parts = Vec::new();
        let mut params = Vec::new();
        for (i, (k, v)) in filter.equals.iter().enumerate() {
            let (pk, pv) = (first + 2 * i, first + 2 * i + 1);
            parts.push(format!(
                "(metadata->>${pk}::text = ${pv}::text OR (jsonb_typeof(metadata->${pk}::text) = 'array' \
                 AND EXISTS (SELECT 1 FROM jsonb_array_elements(metadata->${pk}::text) e \
                 WHERE e #>> '{{}}' = ${pv}::text)))"
            ));
            params.push(k.clone());
            params.push(v.clone());
        }
        if parts.is_empty() {
            ("TRUE".into(), params)
        } else {
            (parts.join(" AND "), params)
        }
    }

    async fn search_one(&self, client: &mut Client, q: &Query) -> Result<Vec<Hit>, StoreError> {
        check_vector(self.dimension, &q.vector)?;
        let want = q.k + q.offset;
        if want == 0 {
            return Ok(Vec::new());
        }
        let (_, op) = self.ops();
        let t = &self.table;
        let vector = Vector::from(self.metric.prepare(q.vector.clone()));
        let (cond, filter_params) = Self::where_clause(&q.filter, 2);
        let columns = if q.with_vectors { ", embedding" } else { "" };
        let sql = format!(
            "SELECT id, (embedding {op} $1)::real AS distance, metadata{columns} FROM {t} \
             WHERE {cond} ORDER BY embedding {op} $1 LIMIT {want}"
        );
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&vector];
        params.extend(filter_params.iter().map(|p| p as &(dyn ToSql + Sync)));
        let ef = q.ef.unwrap_or(self.options.ef_search).max(want).min(1000);
        let tx = client.transaction().await.map_err(|e| self.pg(e))?;
        tx.batch_execute(&format!(
            "SET LOCAL hnsw.ef_search = {ef}; SET LOCAL hnsw.iterative_scan = relaxed_order"
        ))
        .await
        .map_err(|e| self.pg(e))?;
        let mut rows = tx.query(&sql, &params).await.map_err(|e| self.pg(e))?;
        if rows.len() < want {
            // The index came up short (a selective filter): count, and scan exactly if needed.
            let (count_cond, _) = Self::where_clause(&q.filter, 1);
            let count_sql = format!("SELECT count(*) FROM {t} WHERE {count_cond}");
            let count: i64 = tx
                .query_one(&count_sql, &params[1..])
                .await
                .map_err(|e| self.pg(e))?
                .get(0);
            if (rows.len() as i64) < count {
                tx.batch_execute("SET LOCAL enable_indexscan = off")
                    .await
                    .map_err(|e| self.pg(e))?;
                rows = tx.query(&sql, &params).await.map_err(|e| self.pg(e))?;
            }
        }
        tx.commit().await.map_err(|e| self.pg(e))?;
        let mut hits: Vec<Hit> = rows
            .iter()
            .map(|row| {
                let distance: f32 = row.get(1);
                let metadata: serde_json::Value = row.get(2);
                Hit {
                    id: row.get::<_, i64>(0) as PointId,
                    score: self.metric.score(distance.max(0.0)),
                    metadata: metadata.as_object().cloned().unwrap_or_default(),
                    vector: q.with_vectors.then(|| row.get::<_, Vector>(3).to_vec()),
                }
            })
            .collect();
        // relaxed_order may return rows slightly out of order.
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        Ok(hits.into_iter().skip(q.offset).take(q.k).collect())
    }
}

fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
    }
}

/// The table for collection `name`: `lookalike_` plus its letters, digits and underscores.
fn table_name(name: &str) -> Result<String, StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 50
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        return Err(StoreError::Invalid(format!(
            "collection name {name:?} must be 1 to 50 letters, digits, '-' or '_'"
        )));
    }
    Ok(format!(
        "lookalike_{}",
        name.to_ascii_lowercase().replace('-', "_")
    ))
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn to_i64(ids: &[PointId]) -> Vec<i64> {
    ids.iter()
        .map(|&id| id.min(i64::MAX as u64) as i64)
        .collect()
}

#[async_trait]
impl VectorStore for PgVectorStore {
    async fn info(&self) -> Result<StoreInfo, StoreError> {
        let client = self.client.lock().await;
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM {}", self.table), &[])
            .await
            .map_err(|e| self.pg(e))?
            .get(0);
        Ok(StoreInfo {
            kind: "pgvector".into(),
            location: format!("{} (table {})", self.url, self.table),
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
        let stmt = tx
            .prepare(&format!(
                "INSERT INTO {} (embedding, metadata, thumbnail) VALUES ($1, $2, $3) RETURNING id",
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
        tx.commit().await.map_err(|e| self.pg(e))?;
        Ok(ids)
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
        let (cond, params) = Self::where_clause(filter, 1);
        let params: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
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
        let mut client = self.client.lock().await;
        let mut answers = Vec::with_capacity(queries.len());
        for q in queries {
            answers.push(self.search_one(&mut client, q).await?);
        }
        Ok(answers)
    }

    async fn rebuild(&self) -> Result<RebuildReport, StoreError> {
        let client = self.client.lock().await;
        // Separate statements: VACUUM cannot run inside a (multi-statement) transaction.
        for sql in [
            format!("VACUUM {}", self.table),
            format!("REINDEX TABLE {}", self.table),
        ] {
            client.batch_execute(&sql).await.map_err(|e| self.pg(e))?;
        }
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM {}", self.table), &[])
            .await
            .map_err(|e| self.pg(e))?
            .get(0);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact_url("postgres://me:secret@db:5432/x"),
            "postgres://me:***@db:5432/x"
        );
        assert_eq!(redact_url("postgres://db/x"), "postgres://db/x");
        assert_eq!(
            redact_url("host=db password=secret user=me"),
            "host=db password=*** user=me"
        );
    }

    #[test]
    fn table_names_are_safe() {
        assert_eq!(table_name("My-shop_1").unwrap(), "lookalike_my_shop_1");
        assert!(table_name("x; DROP TABLE y").is_err());
        assert!(table_name("").is_err());
    }
}
