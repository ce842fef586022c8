//! `lookalike_collections`: the collections a PostgreSQL database holds, so that a server on
//! any machine finds them with the URL alone (`lookalike serve --pg URL`).
//!
//! One row per collection: its name and its `collection.json` (which never holds a password).
//! The vectors, metadata and thumbnails are in the collection's own table already.

use std::time::Duration;

use super::{error_text, open_client};
use crate::StoreError;

const DDL: &str = "CREATE TABLE IF NOT EXISTS lookalike_collections (
    name text PRIMARY KEY, config jsonb NOT NULL, updated timestamptz NOT NULL DEFAULT now())";

/// Records (or replaces) collection `name`'s config in the database at `url`.
pub async fn publish_collection(
    url: &str,
    name: &str,
    config: &serde_json::Value,
    timeout: Duration,
) -> Result<(), StoreError> {
    let (client, shown) = open_client(url, timeout).await?;
    let pg = |e: tokio_postgres::Error| StoreError::Postgres {
        url: shown.clone(),
        message: error_text(&e),
    };
    client.batch_execute(DDL).await.map_err(pg)?;
    client
        .execute(
            "INSERT INTO lookalike_collections (name, config) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET config = EXCLUDED.config, updated = now()",
            &[&name, config],
        )
        .await
        .map_err(pg)?;
    Ok(())
}

/// Every collection recorded in the database at `url`, by name.
pub async fn list_collections(
    url: &str,
    timeout: Duration,
) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
    let (client, shown) = open_client(url, timeout).await?;
    let pg = |e: tokio_postgres::Error| StoreError::Postgres {
        url: shown.clone(),
        message: error_text(&e),
    };
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('lookalike_collections') IS NOT NULL",
            &[],
        )
        .await
        .map_err(pg)?
        .get(0);
    if !exists {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            "SELECT name, config FROM lookalike_collections ORDER BY name",
            &[],
        )
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
