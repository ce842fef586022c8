//! `lookalike_x_originals`: a collection's uploaded files, by content hash, on the server
//! connected to (the coordinator of a sharded table), so that any server explains and serves
//! an upload, not only the one that received it.
//!
//! Files are written before the points that name them (`ON CONFLICT DO NOTHING`: content is
//! written once, by whichever server gets there first) and never removed by a delete, which
//! could race with another server adding the same content again. `rebuild` removes the files
//! no point names that were kept more than an hour ago (a later add may still be on its way).

use super::PgVectorStore;
use crate::{StoreError, CONTENT_KEY};

impl PgVectorStore {
    pub(super) fn originals_table(&self) -> String {
        format!("{}_originals", self.table)
    }

    /// `CREATE TABLE IF NOT EXISTS` for the files (tables made before it get it on open).
    pub(super) fn originals_ddl(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {o} (sha256 text PRIMARY KEY, bytes bytea NOT NULL,
                 kept timestamptz NOT NULL DEFAULT now())",
            o = self.originals_table()
        )
    }

    pub(super) async fn keep_files(&self, files: &[(&str, &[u8])]) -> Result<(), StoreError> {
        if files.is_empty() {
            return Ok(());
        }
        let hashes: Vec<&str> = files.iter().map(|(h, _)| *h).collect();
        let bytes: Vec<&[u8]> = files.iter().map(|(_, b)| *b).collect();
        if let Some(bad) = hashes
            .iter()
            .find(|h| h.len() != 64 || !h.bytes().all(|c| c.is_ascii_hexdigit()))
        {
            return Err(StoreError::Invalid(format!(
                "{bad:?} is not a SHA-256 in hex: files are kept under their content hash"
            )));
        }
        let client = self.client.lock().await;
        client
            .execute(
                &format!(
                    "INSERT INTO {} (sha256, bytes) SELECT * FROM unnest($1::text[], $2::bytea[]) \
                     ON CONFLICT (sha256) DO NOTHING",
                    self.originals_table()
                ),
                &[&hashes, &bytes],
            )
            .await
            .map_err(|e| self.pg(e))?;
        Ok(())
    }

    pub(super) async fn read_file(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let client = self.client.lock().await;
        let row = client
            .query_opt(
                &format!(
                    "SELECT bytes FROM {} WHERE sha256 = $1",
                    self.originals_table()
                ),
                &[&sha256],
            )
            .await
            .map_err(|e| self.pg(e))?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Removes the files that no point names and that were kept over an hour ago; returns how
    /// many.
    pub(super) async fn drop_unnamed_files(&self) -> Result<u64, StoreError> {
        let client = self.client.lock().await;
        client
            .execute(
                &format!(
                    "DELETE FROM {o} f WHERE f.kept < now() - interval '1 hour' \
                     AND NOT EXISTS (SELECT 1 FROM {t} p WHERE p.metadata->>'{CONTENT_KEY}' = f.sha256)",
                    o = self.originals_table(),
                    t = self.table,
                ),
                &[],
            )
            .await
            .map_err(|e| self.pg(e))
    }
}
