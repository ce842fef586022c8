//! The tables: one on the server connected to, or a hash-partitioned parent whose partitions are
//! `postgres_fdw` foreign tables, one on each shard server, each with its own HNSW index.
//!
//! Sharded layout for collection `x` and `n` shards:
//! - on shard `i`: `lookalike_x_p{i}` (`id bigint PRIMARY KEY`, the same columns and indexes);
//! - on the coordinator: `lookalike_x` `PARTITION BY HASH (id)` with ids from the sequence
//!   `lookalike_x_id_seq`, the foreign server `lookalike_x_s{i}` (`extensions 'vector'` so the
//!   distance operators are shipped, `async_capable 'true'` so the shards are scanned at once),
//!   and the foreign table `lookalike_x_p{i}` as partition `REMAINDER i` of `MODULUS n`.
//!
//! A hash partition holds each id once, so the shards' primary keys keep ids unique overall.

use tokio_postgres::GenericClient;

use super::{conninfo, error_text, open_client, PgVectorStore};
use crate::{Metric, StoreError};

const FORMAT: &str = "lookalike-pgvector";

/// What a table's comment records.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct TableConfig {
    format: String,
    dimension: usize,
    metric: Metric,
    /// 0 for a plain table, else the number of shards of the parent.
    #[serde(default)]
    shards: usize,
    /// Whether the unique indexes on the content hash and the external id exist (tables made
    /// before them get them on open: `unique.rs`).
    #[serde(default)]
    pub(super) unique: bool,
}

/// The table for collection `name`: `lookalike_` plus its letters, digits and underscores.
pub(super) fn table_name(name: &str) -> Result<String, StoreError> {
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

/// The partition of `table` on shard `i`.
pub(super) fn partition_name(table: &str, i: usize) -> String {
    format!("{table}_p{i}")
}

pub(super) fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The unique indexes on the content hash and the external id (a point without the key is not
/// indexed: NULLs never conflict).
pub(super) fn unique_ddl(t: &str) -> String {
    format!(
        "CREATE UNIQUE INDEX IF NOT EXISTS {t}_sha256 ON {t} ((metadata->>'{c}'));
         CREATE UNIQUE INDEX IF NOT EXISTS {t}_external_id ON {t} ((metadata->>'{e}'));",
        c = crate::CONTENT_KEY,
        e = crate::EXTERNAL_KEY,
    )
}

/// The comment recorded on a table, if it has one of ours.
pub(super) async fn recorded(
    client: &impl GenericClient,
    table: &str,
) -> Result<Option<Option<TableConfig>>, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL, obj_description(to_regclass($1), 'pg_class')",
            &[&table],
        )
        .await?;
    let exists: bool = row.get(0);
    let comment: Option<String> = row.get(1);
    Ok(exists.then(|| comment.and_then(|c| serde_json::from_str(&c).ok())))
}

impl PgVectorStore {
    /// Checks the table (or creates it, with its shards), after setting the statement timeout.
    pub(super) fn config_comment(config: &TableConfig) -> Result<String, StoreError> {
        serde_json::to_string(config)
            .map(|c| quote_literal(&c))
            .map_err(|e| StoreError::Invalid(e.to_string()))
    }

    pub(super) async fn prepare(&self) -> Result<(), StoreError> {
        self.prepare_vectors().await?;
        let sql = self.originals_ddl();
        let client = self.client.lock().await;
        client.batch_execute(&sql).await.map_err(|e| self.pg(e))
    }

    /// The vectors' table: checked, or created with its shards.
    async fn prepare_vectors(&self) -> Result<(), StoreError> {
        let client = self.client.lock().await;
        let timeout_ms = self.options.statement_timeout.as_millis();
        client
            .batch_execute(&format!(
                "SET statement_timeout = {timeout_ms}; CREATE EXTENSION IF NOT EXISTS vector"
            ))
            .await
            .map_err(|e| self.pg(e))?;
        let shards = self.options.shards.len();
        let want = TableConfig {
            format: FORMAT.into(),
            dimension: self.dimension,
            metric: self.metric,
            shards,
            unique: true,
        };
        match recorded(&*client, &self.table)
            .await
            .map_err(|e| self.pg(e))?
        {
            Some(found) => {
                let unique = found.as_ref().is_some_and(|c| c.unique);
                self.check(&self.table, &self.url, found, &want)?;
                drop(client);
                if unique {
                    Ok(())
                } else {
                    self.add_unique_indexes(&want).await
                }
            }
            None if shards == 0 => {
                let sql = format!(
                    "BEGIN; {} COMMIT;",
                    self.table_ddl(&self.table, &want, "bigserial")?
                );
                client.batch_execute(&sql).await.map_err(|e| self.pg(e))
            }
            None => {
                for (i, url) in self.options.shards.iter().enumerate() {
                    self.prepare_shard(i, url).await?;
                }
                let sql = self.coordinator_ddl(&want)?;
                client
                    .batch_execute("CREATE EXTENSION IF NOT EXISTS postgres_fdw")
                    .await
                    .map_err(|e| self.pg(e))?;
                client.batch_execute(&sql).await.map_err(|e| self.pg(e))
            }
        }
    }

    fn check(
        &self,
        table: &str,
        url: &str,
        found: Option<TableConfig>,
        want: &TableConfig,
    ) -> Result<(), StoreError> {
        match found {
            Some(c)
                if c.format == want.format
                    && c.dimension == want.dimension
                    && c.metric == want.metric =>
            {
                if c.shards == want.shards {
                    Ok(())
                } else {
                    Err(StoreError::Mismatch(format!(
                        "table {table} at {url} is spread over {} shards, not {}",
                        c.shards, want.shards
                    )))
                }
            }
            Some(c) => Err(StoreError::Mismatch(format!(
                "table {table} at {url} holds {}-dimensional {} vectors, not {}-dimensional {}",
                c.dimension, c.metric, want.dimension, want.metric
            ))),
            None => Err(StoreError::Mismatch(format!(
                "table {table} at {url} exists but was not made by Lookalike"
            ))),
        }
    }

    /// `CREATE TABLE` with the HNSW and GIN indexes and the comment (no transaction).
    fn table_ddl(&self, t: &str, config: &TableConfig, id: &str) -> Result<String, StoreError> {
        let (opclass, _) = self.ops();
        let comment =
            serde_json::to_string(config).map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(format!(
            "CREATE TABLE {t} (id {id} PRIMARY KEY, embedding vector({dim}) NOT NULL,
                 metadata jsonb NOT NULL DEFAULT '{{}}', thumbnail bytea);
             CREATE INDEX {t}_hnsw ON {t} USING hnsw (embedding {opclass})
                 WITH (m = {m}, ef_construction = {efc});
             CREATE INDEX {t}_metadata ON {t} USING gin (metadata jsonb_path_ops);
             {unique}
             COMMENT ON TABLE {t} IS {comment};",
            unique = unique_ddl(t),
            dim = self.dimension,
            m = self.options.max_connections,
            efc = self.options.ef_construction,
            comment = quote_literal(&comment),
        ))
    }

    /// Creates (or checks) shard `i`'s partition table on its own server.
    async fn prepare_shard(&self, i: usize, url: &str) -> Result<(), StoreError> {
        let (client, shown) = open_client(url, self.options.connect_timeout)
            .await
            .map_err(|e| shard_error(i, url, e.to_string()))?;
        let pg = |e: tokio_postgres::Error| shard_error(i, &shown, error_text(&e));
        client
            .batch_execute("CREATE EXTENSION IF NOT EXISTS vector")
            .await
            .map_err(pg)?;
        let part = partition_name(&self.table, i);
        let want = TableConfig {
            format: format!("{FORMAT}-shard"),
            dimension: self.dimension,
            metric: self.metric,
            shards: self.options.shards.len(),
            unique: true,
        };
        match recorded(&client, &part).await.map_err(pg)? {
            Some(found) => {
                self.check(&part, &shown, found, &want)?;
                let rows: i64 = client
                    .query_one(&format!("SELECT count(*) FROM {part}"), &[])
                    .await
                    .map_err(pg)?
                    .get(0);
                if rows > 0 {
                    return Err(shard_error(
                        i,
                        &shown,
                        format!("{part} already holds {rows} vectors from an earlier collection"),
                    ));
                }
                Ok(())
            }
            None => {
                let sql = format!("BEGIN; {} COMMIT;", self.table_ddl(&part, &want, "bigint")?);
                client.batch_execute(&sql).await.map_err(pg)
            }
        }
    }

    /// The coordinator's partitioned parent, foreign servers, user mappings and partitions, in
    /// one transaction.
    fn coordinator_ddl(&self, config: &TableConfig) -> Result<String, StoreError> {
        let t = &self.table;
        let n = self.options.shards.len();
        let comment =
            serde_json::to_string(config).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut sql = format!(
            "BEGIN;
             CREATE SEQUENCE {t}_id_seq;
             CREATE TABLE {t} (id bigint NOT NULL DEFAULT nextval('{t}_id_seq'),
                 embedding vector({dim}) NOT NULL, metadata jsonb NOT NULL DEFAULT '{{}}',
                 thumbnail bytea) PARTITION BY HASH (id);
             ALTER SEQUENCE {t}_id_seq OWNED BY {t}.id;
             COMMENT ON TABLE {t} IS {comment};\n",
            dim = self.dimension,
            comment = quote_literal(&comment),
        );
        for (i, url) in self.options.shards.iter().enumerate() {
            let info = conninfo::ConnInfo::parse(url)?;
            let c = &info.config;
            let host = match c.get_hosts().first() {
                Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
                _ => {
                    return Err(shard_error(
                        i,
                        &info.shown,
                        "a shard needs a TCP host name".into(),
                    ))
                }
            };
            let port = c.get_ports().first().copied().unwrap_or(5432);
            let user = c.get_user().unwrap_or("postgres").to_string();
            let dbname = c.get_dbname().unwrap_or(&user).to_string();
            let mut options = vec![
                ("host", host),
                ("port", port.to_string()),
                ("dbname", dbname),
                ("extensions", "vector".into()),
                ("async_capable", "true".into()),
                ("fetch_size", "1000".into()),
                ("batch_size", "500".into()),
                (
                    "connect_timeout",
                    self.options.connect_timeout.as_secs().max(2).to_string(),
                ),
                (
                    "options",
                    format!(
                        "-c hnsw.ef_search={} -c hnsw.iterative_scan=relaxed_order",
                        self.options.ef_search.clamp(1, 1000)
                    ),
                ),
                ("sslmode", info.ssl_mode.libpq_name().into()),
            ];
            if let Some(root) = &info.root_cert {
                options.push(("sslrootcert", root.display().to_string()));
            }
            let options = options
                .iter()
                .map(|(k, v)| format!("{k} {}", quote_literal(v)))
                .collect::<Vec<_>>()
                .join(", ");
            let part = partition_name(t, i);
            sql.push_str(&format!(
                "CREATE SERVER {t}_s{i} FOREIGN DATA WRAPPER postgres_fdw OPTIONS ({options});
                 CREATE USER MAPPING FOR CURRENT_USER SERVER {t}_s{i} OPTIONS (user {user});
                 CREATE FOREIGN TABLE {part} PARTITION OF {t}
                     FOR VALUES WITH (MODULUS {n}, REMAINDER {i})
                     SERVER {t}_s{i} OPTIONS (table_name {part_lit});\n",
                user = quote_literal(&user),
                part_lit = quote_literal(&part),
            ));
        }
        sql.push_str("COMMIT;");
        Ok(sql)
    }
}

/// An error on shard `i`, naming it.
pub(super) fn shard_error(i: usize, url: &str, message: String) -> StoreError {
    StoreError::Shard {
        shard: i,
        url: conninfo::redact_url(url),
        message,
    }
}
