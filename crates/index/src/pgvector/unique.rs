//! Idempotent adds from any number of processes: each content hash (`sha256`) is stored once
//! and each external id belongs to one image, whoever writes.
//!
//! - A plain table has unique indexes on `(metadata->>'sha256')` and
//!   `(metadata->>'external_id')`, and rows go in with `INSERT … ON CONFLICT DO NOTHING
//!   RETURNING id`: a row that returns nothing lost to a row already there (or committed by
//!   another process meanwhile, which PostgreSQL waits for), and a second look says which.
//! - A sharded table cannot have a unique index on its parent: PostgreSQL only allows one that
//!   includes the partition key (`id`, drawn from a sequence, so two copies of an image would
//!   get different ids and may land on different shards), and none at all over foreign
//!   partitions. Each shard has the same unique indexes, which hold within it. Across shards,
//!   every add runs under transaction-scoped advisory locks on the coordinator, one per content
//!   hash and external id of the batch (taken in sorted order, so two batches never deadlock):
//!   it looks for the keys on every shard, then inserts what is new. postgres_fdw commits the
//!   shards' transactions before the coordinator's, which releases the locks, so the next
//!   writer of the same key sees the row. This holds for every writer that goes through the
//!   coordinator, as Lookalike always does; a program writing to a shard directly bypasses it.
//! - Tables made before these indexes get them on open (`add_unique_indexes`), once, under an
//!   advisory lock; duplicates already stored fail the open, naming them.

use std::collections::BTreeSet;

use pgvector::Vector;
use tokio_postgres::Transaction;

use super::schema::{partition_name, recorded, shard_error, unique_ddl, TableConfig};
use super::{error_text, open_client, PgVectorStore};
use crate::store::text_of;
use crate::unique::{external_conflict, Held, Plan};
use crate::{check_vector, Durability, Inserted, NewPoint, StoreError, CONTENT_KEY, EXTERNAL_KEY};

/// Why a transaction failed: a deadlock or serialization failure that running it again will
/// clear, or anything else.
enum Retry {
    Again(tokio_postgres::Error),
    Fail(StoreError),
}

impl From<StoreError> for Retry {
    fn from(e: StoreError) -> Self {
        Retry::Fail(e)
    }
}

/// A stable 64-bit key (FNV-1a) for an advisory lock on `value` of `kind` in `table`: the same
/// in every process and on every machine.
fn lock_key(table: &str, kind: &str, value: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in [table, kind, value].join("\0").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

impl PgVectorStore {
    /// [`crate::VectorStore::insert_unique`] on PostgreSQL.
    pub(super) async fn insert_unique_pg(
        &self,
        points: Vec<NewPoint>,
        durability: Durability,
    ) -> Result<Vec<Inserted>, StoreError> {
        for p in &points {
            check_vector(self.dimension, &p.vector)?;
        }
        let mut client = self.client.lock().await;
        let mut attempt = 0;
        loop {
            let tx = client.transaction().await.map_err(|e| self.pg(e))?;
            if durability == Durability::Buffered {
                tx.batch_execute("SET LOCAL synchronous_commit = off")
                    .await
                    .map_err(|e| self.pg(e))?;
            }
            let answer = if self.options.shards.is_empty() {
                self.insert_on_conflict(&tx, points.clone()).await
            } else {
                self.insert_locked(&tx, points.clone()).await
            };
            let answer = match answer {
                Ok(a) => tx.commit().await.map(|()| a).map_err(|e| self.retry(e)),
                Err(e) => Err(e),
            };
            match answer {
                Ok(a) => return Ok(a),
                // Two batches that wait on each other's rows (one image ordered before another
                // in one, after it in the other, through the external id): PostgreSQL cancels
                // one, which runs again.
                Err(Retry::Again(_)) if attempt < 5 => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(10 << attempt)).await;
                }
                Err(Retry::Again(e)) => return Err(self.pg(e)),
                Err(Retry::Fail(e)) => return Err(e),
            }
        }
    }

    fn retry(&self, e: tokio_postgres::Error) -> Retry {
        use tokio_postgres::error::SqlState;
        match e.code() {
            Some(c)
                if *c == SqlState::T_R_DEADLOCK_DETECTED
                    || *c == SqlState::T_R_SERIALIZATION_FAILURE =>
            {
                Retry::Again(e)
            }
            _ => Retry::Fail(self.pg(e)),
        }
    }

    /// One table: row by row, `ON CONFLICT DO NOTHING`.
    async fn insert_on_conflict(
        &self,
        tx: &Transaction<'_>,
        points: Vec<NewPoint>,
    ) -> Result<Vec<Inserted>, Retry> {
        let t = &self.table;
        let insert = tx
            .prepare(&format!(
                "INSERT INTO {t} (embedding, metadata, thumbnail) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING RETURNING id"
            ))
            .await
            .map_err(|e| self.retry(e))?;
        let holder = |key: &str| format!("SELECT id FROM {t} WHERE metadata->>'{key}' = $1");
        let by_content = tx
            .prepare(&holder(CONTENT_KEY))
            .await
            .map_err(|e| self.retry(e))?;
        let by_external = tx
            .prepare(&holder(EXTERNAL_KEY))
            .await
            .map_err(|e| self.retry(e))?;
        // In the order of their content hashes, so that two batches sharing images take their
        // rows' locks in the same order (the answers go back in the order given).
        let mut order: Vec<(usize, NewPoint)> = points.into_iter().enumerate().collect();
        order.sort_by_key(|(_, p)| text_of(&p.metadata, CONTENT_KEY));
        let mut out = vec![Inserted::New(0); order.len()];
        for (at, p) in order {
            let content = text_of(&p.metadata, CONTENT_KEY);
            let external = text_of(&p.metadata, EXTERNAL_KEY);
            let vector = Vector::from(self.metric.prepare(p.vector));
            let metadata = serde_json::Value::Object(p.metadata);
            let rows = tx
                .query(&insert, &[&vector, &metadata, &p.thumbnail])
                .await
                .map_err(|e| self.retry(e))?;
            if let Some(row) = rows.first() {
                out[at] = Inserted::New(row.get::<_, i64>(0) as u64);
                continue;
            }
            if let Some(c) = &content {
                if let Some(row) = tx
                    .query_opt(&by_content, &[c])
                    .await
                    .map_err(|e| self.retry(e))?
                {
                    out[at] = Inserted::Existing(row.get::<_, i64>(0) as u64);
                    continue;
                }
            }
            if let Some(e) = &external {
                if let Some(row) = tx
                    .query_opt(&by_external, &[e])
                    .await
                    .map_err(|e| self.retry(e))?
                {
                    return Err(external_conflict(e, &row.get::<_, i64>(0).to_string()).into());
                }
            }
            return Err(StoreError::Conflict(format!(
                "{t}: an image conflicted with one that has since been deleted; add it again"
            ))
            .into());
        }
        Ok(out)
    }

    /// Shards: advisory locks on the batch's keys, a look on every shard, then the insert.
    async fn insert_locked(
        &self,
        tx: &Transaction<'_>,
        points: Vec<NewPoint>,
    ) -> Result<Vec<Inserted>, Retry> {
        let mut keys = BTreeSet::new();
        let mut probes = Vec::new();
        for p in &points {
            for key in [CONTENT_KEY, EXTERNAL_KEY] {
                if let Some(v) = text_of(&p.metadata, key) {
                    keys.insert(lock_key(&self.table, key, &v));
                    probes.push(serde_json::json!({ key: v }));
                }
            }
        }
        let keys: Vec<i64> = keys.into_iter().collect();
        // Sorted: unnest yields them in order, so locks are always taken in the same order.
        tx.query_one(
            "SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::bigint[]) AS k",
            &[&keys],
        )
        .await
        .map_err(|e| self.retry(e))?;
        let rows = tx
            .query(
                &format!(
                    "SELECT id, metadata->>'{CONTENT_KEY}', metadata->>'{EXTERNAL_KEY}' \
                     FROM {} WHERE metadata @> ANY($1::jsonb[])",
                    self.table
                ),
                &[&probes],
            )
            .await
            .map_err(|e| self.retry(e))?;
        let mut held = Held::default();
        for row in &rows {
            let id = row.get::<_, i64>(0) as u64;
            if let Some(c) = row.get::<_, Option<String>>(1) {
                held.content.insert(c, id);
            }
            if let Some(e) = row.get::<_, Option<String>>(2) {
                held.external.insert(e, id);
            }
        }
        let (fresh, plan) = Plan::new(points, &held)?.take();
        let ids = self.insert_into_shards(tx, fresh).await?;
        Ok(plan.finish(&ids)?)
    }

    /// Adds the unique indexes to a table made before them (on each shard, for a sharded
    /// table), unless another process did meanwhile; fails, naming them, if the table holds
    /// the same image or external id twice.
    pub(super) async fn add_unique_indexes(&self, want: &TableConfig) -> Result<(), StoreError> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await.map_err(|e| self.pg(e))?;
        tx.query_one(
            "SELECT pg_advisory_xact_lock($1)",
            &[&lock_key(&self.table, "migration", "unique")],
        )
        .await
        .map_err(|e| self.pg(e))?;
        let done = recorded(&tx, &self.table)
            .await
            .map_err(|e| self.pg(e))?
            .flatten()
            .is_some_and(|c| c.unique);
        if done {
            return tx.commit().await.map_err(|e| self.pg(e));
        }
        for key in [CONTENT_KEY, EXTERNAL_KEY] {
            self.refuse_duplicates(&tx, key).await?;
        }
        if self.options.shards.is_empty() {
            tx.batch_execute(&unique_ddl(&self.table))
                .await
                .map_err(|e| self.pg(e))?;
        } else {
            for (i, url) in self.options.shards.iter().enumerate() {
                let (shard, shown) = open_client(url, self.options.connect_timeout)
                    .await
                    .map_err(|e| shard_error(i, url, e.to_string()))?;
                shard
                    .batch_execute(&unique_ddl(&partition_name(&self.table, i)))
                    .await
                    .map_err(|e| shard_error(i, &shown, error_text(&e)))?;
            }
        }
        tx.batch_execute(&format!(
            "COMMENT ON TABLE {} IS {}",
            self.table,
            Self::config_comment(want)?
        ))
        .await
        .map_err(|e| self.pg(e))?;
        tx.commit().await.map_err(|e| self.pg(e))
    }

    async fn refuse_duplicates(&self, tx: &Transaction<'_>, key: &str) -> Result<(), StoreError> {
        let t = &self.table;
        let rows = tx
            .query(
                &format!(
                    "SELECT metadata->>'{key}', array_agg(id ORDER BY id) FROM {t} \
                     WHERE metadata ? '{key}' GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT 5"
                ),
                &[],
            )
            .await
            .map_err(|e| self.pg(e))?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut found = Vec::new();
        let mut extra = Vec::new();
        for row in &rows {
            let value: String = row.get(0);
            let ids: Vec<i64> = row.get(1);
            extra.extend(ids.iter().skip(1).map(i64::to_string));
            let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
            found.push(format!("{key} {value:?} as ids {}", ids.join(", ")));
        }
        Err(StoreError::Conflict(format!(
            "table {t} at {} holds the same {key} more than once ({}), written before Lookalike \
             made {key} unique. Keep one of each and delete the others (e.g. DELETE FROM {t} \
             WHERE id IN ({})), then open it again",
            self.url,
            found.join("; "),
            extra.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn lock_keys_are_stable_and_distinct() {
        // Fixed by the algorithm, so every process and machine takes the same lock.
        assert_eq!(lock_key("t", "sha256", "a"), lock_key("t", "sha256", "a"));
        assert_ne!(
            lock_key("t", "sha256", "a"),
            lock_key("t", "external_id", "a")
        );
        assert_ne!(lock_key("t", "sha256", "a"), lock_key("u", "sha256", "a"));
        assert_eq!(lock_key("", "", ""), 0x0832_8807_b4eb_6fed);
    }
}
