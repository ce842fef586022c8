//! `PgVectorStore`: PostgreSQL + pgvector, for galleries that outgrow one machine.
//!
//! One table per collection: `id` (ids are never reused), `embedding vector(D)`, `metadata
//! jsonb`, `thumbnail bytea`, an HNSW index with the metric's operator class and a GIN index on
//! the metadata. The table's comment records its dimension, metric and shards, so a mismatch is
//! caught on open.
//!
//! - `conninfo.rs`: URLs without passwords on disk; passwords from `PGPASSWORD` or a passfile.
//! - `tls.rs`: `sslmode=require|verify-ca|verify-full` through rustls.
//! - `schema.rs`: the tables, on one server or hash-partitioned over `postgres_fdw` shards.
//! - `query.rs`: filters as shippable SQL, and k-NN searches (pushed down to every shard).
//! - `replica.rs`: searches on a streaming standby (`read_url`), with its lag.
//! - `catalog.rs`: `lookalike_collections`, the collections a database holds.
//! - `originals.rs`: the uploaded files, by content hash, for every server to read.
//! - `store.rs`: the [`VectorStore`](crate::VectorStore) implementation.
//! - `unique.rs`: idempotent adds from many processes (unique content hash and external id).

mod catalog;
mod conninfo;
mod originals;
mod query;
mod replica;
mod schema;
mod store;
mod tls;
mod unique;

use std::time::Duration;

use tokio::sync::Mutex;
use tokio_postgres::Client;

use crate::{Metric, StoreError};
pub use catalog::{list_collections, publish_collection};
pub use conninfo::{redact_url, strip_password};
pub use replica::ReplicaLag;

/// Connection and index settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// How long to wait for the server (and, for a sharded table, each shard) before giving up.
    pub connect_timeout: Duration,
    /// The longest a single statement may run.
    pub statement_timeout: Duration,
    /// HNSW `m`, fixed at creation.
    pub max_connections: usize,
    /// HNSW `ef_construction`, fixed at creation.
    pub ef_construction: usize,
    /// Default `hnsw.ef_search` (on shards, fixed when the table is created).
    pub ef_search: usize,
    /// Shard servers: the table is hash-partitioned on `id`, one `postgres_fdw` partition on
    /// each. Empty: one table on the server connected to.
    pub shards: Vec<String>,
    /// When a shard does not answer, search the others and say which one was missing
    /// ([`crate::SearchAnswers::missing_shards`]) instead of failing.
    pub partial_ok: bool,
    /// A streaming standby of the server connected to: k-NN searches go there, with its lag
    /// ([`PgVectorStore::replica_lag`]); everything else stays on the primary.
    pub read_url: Option<String>,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(60),
            max_connections: 16,
            ef_construction: 200,
            ef_search: 64,
            shards: Vec::new(),
            partial_ok: false,
            read_url: None,
        }
    }
}

/// A collection's vectors in one PostgreSQL table (or one partitioned over shards).
pub struct PgVectorStore {
    client: Mutex<Client>,
    url: String,
    table: String,
    dimension: usize,
    metric: Metric,
    options: PgOptions,
    /// The standby that answers searches, if any.
    reader: Option<replica::Reader>,
}

impl std::fmt::Debug for PgVectorStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgVectorStore")
            .field("url", &self.url)
            .field("table", &self.table)
            .field("shards", &self.options.shards.len())
            .finish()
    }
}

/// Opens a connection to `url` (TLS as its `sslmode` says; the password from the URL,
/// `PGPASSWORD` or a passfile) within `timeout`. Returns the client and the URL as shown.
pub(crate) async fn open_client(
    url: &str,
    timeout: Duration,
) -> Result<(Client, String), StoreError> {
    let info = conninfo::ConnInfo::parse(url)?;
    let shown = info.shown.clone();
    let unreachable = |message: String| StoreError::Unreachable {
        url: shown.clone(),
        message,
    };
    let tls = tls::connector(&info.ssl_mode, info.root_cert.as_deref()).map_err(unreachable)?;
    let mut config = info.config;
    config.connect_timeout(timeout);
    let client = match tokio::time::timeout(timeout, config.connect(tls)).await {
        Err(_) => return Err(unreachable(format!("no answer within {timeout:?}"))),
        Ok(Err(e)) => return Err(unreachable(error_text(&e))),
        Ok(Ok((client, connection))) => {
            tokio::spawn(async move {
                let _ = connection.await;
            });
            client
        }
    };
    Ok((client, info.shown))
}

impl PgVectorStore {
    /// Connects to `url` and opens the table for collection `name`, creating it (and the
    /// `vector` extension, and with shards the partitions on each) if needed. Fails, naming the
    /// URL, if the server does not answer within the connect timeout, or if the table holds
    /// other vectors or another layout of shards.
    pub async fn connect(
        url: &str,
        name: &str,
        dimension: usize,
        metric: Metric,
        options: PgOptions,
    ) -> Result<Self, StoreError> {
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
        let table = schema::table_name(name)?;
        let (client, shown) = open_client(url, options.connect_timeout).await?;
        let reader = match &options.read_url {
            Some(read) => Some(
                replica::Reader::connect(read, options.connect_timeout, options.statement_timeout)
                    .await?,
            ),
            None => None,
        };
        let store = PgVectorStore {
            reader,
            client: Mutex::new(client),
            url: shown,
            table,
            dimension,
            metric,
            options,
        };
        store.prepare().await?;
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
}

pub(crate) fn error_text(e: &tokio_postgres::Error) -> String {
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
