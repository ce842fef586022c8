//! Searches on a streaming-replication standby (`read_url`): writes, and the reads that decide
//! them (is this image stored?), stay on the primary, so an add never misses what it just
//! wrote; k-NN searches go to the standby, which may be behind, and say by how much.
//!
//! The lag has two measures:
//! - `bytes`: WAL the primary has written that the standby has not replayed;
//! - `seconds`: 0 when nothing is pending, else the time since the standby last replayed a
//!   transaction (`pg_last_xact_replay_timestamp()`), an upper bound on how old its view is.
//!
//! Every search answer carries the lag measured on the standby right after it, on the same
//! connection ([`Reader::lag`]): the primary's end of WAL is what the primary last sent the
//! standby (it sends it with every WAL message and keepalive), so a search costs no round trip
//! to the primary. `/metrics` takes the exact figure ([`PgVectorStore::replica_lag`]: the
//! primary's `pg_current_wal_lsn()` now, one statement on each server).

use std::time::Duration;

use serde::Serialize;
use tokio::sync::Mutex;
use tokio_postgres::Client;

use super::{error_text, open_client, PgVectorStore};
use crate::StoreError;

/// How far behind the primary the standby that answers searches is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReplicaLag {
    /// Seconds its view may be old (0: caught up).
    pub seconds: f64,
    /// WAL bytes it has yet to replay.
    pub bytes: u64,
}

/// The standby's connection.
pub(super) struct Reader {
    pub(super) client: Mutex<Client>,
    pub(super) url: String,
}

impl Reader {
    /// Connects to `url`, which must be a server in recovery (a standby).
    pub(super) async fn connect(
        url: &str,
        timeout: Duration,
        statement_timeout: Duration,
    ) -> Result<Reader, StoreError> {
        let (client, shown) = open_client(url, timeout).await?;
        let pg = |e: tokio_postgres::Error| StoreError::Postgres {
            url: shown.clone(),
            message: error_text(&e),
        };
        client
            .batch_execute(&format!(
                "SET statement_timeout = {}",
                statement_timeout.as_millis()
            ))
            .await
            .map_err(pg)?;
        let standby: bool = client
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .map_err(pg)?
            .get(0);
        if !standby {
            return Err(StoreError::Invalid(format!(
                "the read URL {shown} is not a standby (pg_is_in_recovery() is false): give a \
                 streaming replica of the primary, or no read URL"
            )));
        }
        Ok(Reader {
            client: Mutex::new(client),
            url: shown,
        })
    }
}

impl Reader {
    /// Its lag, measured on the standby alone with `client` (its connection, already held by
    /// the search that asks): the primary's end of WAL as the primary last reported it to the
    /// standby's WAL receiver (`pg_stat_wal_receiver.latest_end_lsn`, or, for a role that may
    /// not read it, what the standby has received), minus what it has replayed. No round trip
    /// to the primary; [`PgVectorStore::replica_lag`] takes one for the exact figure.
    pub(super) async fn lag(&self, client: &Client) -> Result<ReplicaLag, StoreError> {
        let row = client
            .query_one(
                "SELECT COALESCE(pg_wal_lsn_diff(GREATEST(r.latest_end_lsn, pg_last_wal_receive_lsn()), \
                 pg_last_wal_replay_lsn()), 0)::bigint, \
                 COALESCE(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)::float8 \
                 FROM (SELECT 1) one LEFT JOIN pg_stat_wal_receiver r ON TRUE",
                &[],
            )
            .await
            .map_err(|e| StoreError::Postgres {
                url: self.url.clone(),
                message: error_text(&e),
            })?;
        let bytes = row.get::<_, i64>(0).max(0) as u64;
        let since: f64 = row.get(1);
        Ok(ReplicaLag {
            seconds: if bytes == 0 { 0.0 } else { since.max(0.0) },
            bytes,
        })
    }
}

impl PgVectorStore {
    /// The lag of the standby that answers searches, exactly: the primary's current end of
    /// WAL (one statement there) minus what the standby has replayed; `None` without one.
    pub async fn replica_lag(&self) -> Result<Option<ReplicaLag>, StoreError> {
        let Some(reader) = &self.reader else {
            return Ok(None);
        };
        let pg_standby = |e: tokio_postgres::Error| StoreError::Postgres {
            url: reader.url.clone(),
            message: error_text(&e),
        };
        let row = reader
            .client
            .lock()
            .await
            .query_one(
                "SELECT pg_last_wal_replay_lsn()::text, \
                 COALESCE(pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(), FALSE), \
                 COALESCE(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)::float8",
                &[],
            )
            .await
            .map_err(pg_standby)?;
        let replayed: Option<String> = row.get(0);
        let idle: bool = row.get(1);
        let since: f64 = row.get(2);
        let behind: i64 = self
            .client
            .lock()
            .await
            .query_one(
                "SELECT COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn), 0)::bigint",
                &[&replayed.unwrap_or_else(|| "0/0".into())],
            )
            .await
            .map_err(|e| self.pg(e))?
            .get(0);
        let bytes = behind.max(0) as u64;
        let lag = ReplicaLag {
            seconds: if bytes == 0 && idle {
                0.0
            } else {
                since.max(0.0)
            },
            bytes,
        };
        Ok(Some(lag))
    }
}
