//! k-NN searches in SQL, on one table or pushed down to every shard.
//!
//! - Filters (`where_clause`): equality, sets and booleans are jsonb containment
//!   (`metadata @> ANY($n::jsonb[])`), which the GIN index serves; ranges are jsonpath
//!   (`metadata @? $n::jsonpath`), `exists` is `metadata ? key`, negation `NOT`. No collation
//!   and no subquery, so `postgres_fdw` ships them all to the shards.
//! - On one table: `ORDER BY embedding <op> $1 LIMIT k` in a transaction that sets
//!   `hnsw.ef_search` and pgvector 0.8's iterative scan.
//! - On shards: one `(… FROM partition ORDER BY … LIMIT k)` per shard under `UNION ALL`, with
//!   no outer `ORDER BY`, so the plan is an `Append` of `Async Foreign Scan`s that each send
//!   `ORDER BY … LIMIT k` to their shard, all at once; the best k are merged here. (A query on
//!   the parent gets a `Merge Append`, which PostgreSQL never runs asynchronously and whose
//!   shards get no `LIMIT`.)
//! - When the index comes up short (a selective filter), the same query runs again ordered by
//!   `(embedding <op> $1) + 0`, which no index serves: an exact scan, on every shard too.

use bytes::BytesMut;
use pgvector::Vector;
use serde_json::{json, Value};
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::Client;

use super::schema::{partition_name, shard_error};
use super::{error_text, PgVectorStore};
use crate::filter::{Bound, Condition};
use crate::{check_vector, Filter, Hit, PointId, Query, SearchAnswers, StoreError};

/// One parameter of a filter's SQL: a `jsonb[]` of objects for containment, a key for `?`, a
/// jsonpath for `@?`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum FilterParam {
    /// Objects any of which the metadata must contain.
    Objects(Vec<Value>),
    /// A key, as text.
    Text(String),
    /// A jsonpath.
    Path(JsonPath),
}

impl FilterParam {
    pub(super) fn sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            FilterParam::Objects(v) => v,
            FilterParam::Text(t) => t,
            FilterParam::Path(p) => p,
        }
    }
}

/// A jsonpath parameter, bound as PostgreSQL's `jsonpath` type itself (not text cast in SQL, so
/// that the condition stays a plain operator that `postgres_fdw` ships to the shards).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct JsonPath(pub String);

impl ToSql for JsonPath {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        // The binary form is a version byte (1) and the text, as for jsonb.
        out.extend_from_slice(&[1]);
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        ty.name() == "jsonpath"
    }

    to_sql_checked!();
}

/// The containment objects for `key` having a scalar whose text is `v` (as
/// `Condition::matches` compares them), as its value or inside an array there.
fn equal_objects(key: &str, v: &str) -> Vec<Value> {
    let mut scalars = vec![Value::String(v.to_string())];
    if let Ok(parsed @ (Value::Number(_) | Value::Bool(_))) = serde_json::from_str::<Value>(v) {
        if crate::scalar_text(&parsed).as_deref() == Some(v) {
            scalars.push(parsed);
        }
    }
    scalars
        .into_iter()
        .flat_map(|s| [json!({ key: s.clone() }), json!({ key: [s] })])
        .collect()
}

/// The jsonpath of a numeric range on `key`: lax mode looks inside an array, and a string or a
/// boolean compared with a number is unknown, so only numbers match, as in `Condition::matches`.
fn range_path(key: &str, min: Option<Bound>, max: Option<Bound>) -> String {
    let mut tests = Vec::new();
    if let Some(b) = min {
        tests.push(format!(
            "@ {} {}",
            if b.inclusive { ">=" } else { ">" },
            b.value
        ));
    }
    if let Some(b) = max {
        tests.push(format!(
            "@ {} {}",
            if b.inclusive { "<=" } else { "<" },
            b.value
        ));
    }
    if tests.is_empty() {
        tests.push("@.type() == \"number\"".into());
    }
    // A JSON string literal is a jsonpath string literal: the key is quoted, never spliced.
    let quoted = serde_json::to_string(key).unwrap_or_default();
    format!("lax $.{quoted} ? ({})", tests.join(" && "))
}

/// The SQL for one condition, pushing its parameters (numbered from `first`).
fn condition_sql(c: &Condition, first: usize, params: &mut Vec<FilterParam>) -> String {
    let n = first + params.len();
    match c {
        Condition::Equals { key, value } => {
            params.push(FilterParam::Objects(equal_objects(key, value)));
            format!("metadata @> ANY(${n}::jsonb[])")
        }
        Condition::In { key, values } => {
            let objects = values.iter().flat_map(|v| equal_objects(key, v)).collect();
            params.push(FilterParam::Objects(objects));
            format!("metadata @> ANY(${n}::jsonb[])")
        }
        Condition::Range { key, min, max } => {
            params.push(FilterParam::Path(JsonPath(range_path(key, *min, *max))));
            format!("metadata @? ${n}")
        }
        Condition::Exists { key } => {
            params.push(FilterParam::Text(key.clone()));
            format!("metadata ? ${n}")
        }
        Condition::Not(inner) => format!(
            "NOT COALESCE({}, FALSE)",
            condition_sql(inner, first, params)
        ),
    }
}

/// The SQL condition for `filter`, with its parameters starting at `$first`. Equality, sets and
/// booleans are jsonb containment (the GIN index serves them); ranges are jsonpath (`@?`),
/// `exists` is `?`, negation `NOT`.
pub(super) fn where_clause(filter: &Filter, first: usize) -> (String, Vec<FilterParam>) {
    let mut params = Vec::new();
    let parts: Vec<String> = filter
        .conditions
        .iter()
        .map(|c| condition_sql(c, first, &mut params))
        .collect();
    if parts.is_empty() {
        ("TRUE".into(), params)
    } else {
        (parts.join(" AND "), params)
    }
}

impl PgVectorStore {
    /// The tables a search reads: the table itself, or the partitions of the live shards.
    fn sources(&self, live: &[usize]) -> Vec<String> {
        if self.options.shards.is_empty() {
            vec![self.table.clone()]
        } else {
            live.iter()
                .map(|&i| partition_name(&self.table, i))
                .collect()
        }
    }

    /// The k-NN statement over `sources`; `exact` orders by an expression no index serves.
    pub(super) fn knn_sql(&self, q: &Query, sources: &[String], exact: bool) -> String {
        let (_, op) = self.ops();
        let (cond, _) = where_clause(&q.filter, 2);
        let columns = if q.with_vectors { ", embedding" } else { "" };
        let order = if exact {
            format!("(embedding {op} $1) + 0")
        } else {
            format!("embedding {op} $1")
        };
        let want = q.k + q.offset;
        let one = |t: &String| {
            format!(
                "SELECT id, embedding {op} $1 AS distance, metadata{columns} FROM {t} \
                 WHERE {cond} ORDER BY {order} LIMIT {want}"
            )
        };
        if self.options.shards.is_empty() {
            one(&sources[0])
        } else {
            sources
                .iter()
                .map(|t| format!("({})", one(t)))
                .collect::<Vec<_>>()
                .join(" UNION ALL ")
        }
    }

    /// One search over the live shards (all of them for a plain table).
    pub(super) async fn search_one(
        &self,
        client: &mut Client,
        q: &Query,
        live: &[usize],
    ) -> Result<Vec<Hit>, tokio_postgres::Error> {
        let want = q.k + q.offset;
        let sources = self.sources(live);
        let vector = Vector::from(self.metric.prepare(q.vector.clone()));
        let (_, filter_params) = where_clause(&q.filter, 2);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&vector];
        params.extend(filter_params.iter().map(FilterParam::sql));
        let ef = q.ef.unwrap_or(self.options.ef_search).max(want).min(1000);
        let tx = client.transaction().await?;
        tx.batch_execute(&format!(
            "SET LOCAL hnsw.ef_search = {ef}; SET LOCAL hnsw.iterative_scan = relaxed_order"
        ))
        .await?;
        let mut rows = tx.query(&self.knn_sql(q, &sources, false), &params).await?;
        if rows.len() < want {
            // The index came up short (a selective filter): count, and scan exactly if needed.
            let (count_cond, _) = where_clause(&q.filter, 1);
            let counts: Vec<String> = sources
                .iter()
                .map(|t| format!("(SELECT count(*) FROM {t} WHERE {count_cond})"))
                .collect();
            let count: i64 = tx
                .query_one(
                    &format!("SELECT ({})::bigint", counts.join(" + ")),
                    &params[1..],
                )
                .await?
                .get(0);
            if (rows.len() as i64) < count {
                rows = tx.query(&self.knn_sql(q, &sources, true), &params).await?;
            }
        }
        tx.commit().await?;
        let mut hits: Vec<Hit> = rows
            .iter()
            .map(|row| {
                let distance: f64 = row.get(1);
                let metadata: Value = row.get(2);
                Hit {
                    id: row.get::<_, i64>(0) as PointId,
                    score: self.metric.score((distance as f32).max(0.0)),
                    metadata: metadata.as_object().cloned().unwrap_or_default(),
                    vector: q.with_vectors.then(|| row.get::<_, Vector>(3).to_vec()),
                }
            })
            .collect();
        // relaxed_order may return rows slightly out of order, and shards come one by one.
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        Ok(hits.into_iter().skip(q.offset).take(q.k).collect())
    }

    /// The plan (`EXPLAIN VERBOSE`) of the statement a search for `q` runs over every shard:
    /// with shards, one `Async Foreign Scan` per shard whose `Remote SQL` holds the filter, the
    /// `ORDER BY` and the `LIMIT`.
    pub async fn explain(&self, q: &Query) -> Result<String, StoreError> {
        check_vector(self.dimension, &q.vector)?;
        let live: Vec<usize> = (0..self.options.shards.len()).collect();
        let sql = format!(
            "EXPLAIN VERBOSE {}",
            self.knn_sql(q, &self.sources(&live), false)
        );
        let vector = Vector::from(self.metric.prepare(q.vector.clone()));
        let (_, filter_params) = where_clause(&q.filter, 2);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&vector];
        params.extend(filter_params.iter().map(FilterParam::sql));
        let client = self.client.lock().await;
        let rows = client.query(&sql, &params).await.map_err(|e| self.pg(e))?;
        Ok(rows
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    /// The shards among `live` that do not answer a one-row read.
    async fn unanswering(&self, client: &Client, live: &[usize]) -> Vec<(usize, String)> {
        let mut down = Vec::new();
        for &i in live {
            let part = partition_name(&self.table, i);
            if let Err(e) = client
                .query(&format!("SELECT 1 FROM {part} LIMIT 1"), &[])
                .await
            {
                down.push((i, error_text(&e)));
            }
        }
        down
    }

    /// A batch of searches. A shard that fails is named; with `partial_ok` the others answer
    /// and the answer says which shards it lacks. Read on the standby, it says the standby's
    /// lag, measured there right after the searches.
    pub(super) async fn search_batch(
        &self,
        queries: &[Query],
    ) -> Result<SearchAnswers, StoreError> {
        for q in queries {
            check_vector(self.dimension, &q.vector)?;
        }
        // On the standby, when there is one.
        let mut client = match &self.reader {
            Some(reader) => reader.client.lock().await,
            None => self.client.lock().await,
        };
        let mut live: Vec<usize> = (0..self.options.shards.len()).collect();
        let mut missing = Vec::new();
        let mut answers = Vec::with_capacity(queries.len());
        for q in queries {
            if q.k == 0 {
                answers.push(Vec::new());
                continue;
            }
            loop {
                match self.search_one(&mut client, q, &live).await {
                    Ok(hits) => {
                        answers.push(hits);
                        break;
                    }
                    Err(e) if !self.options.shards.is_empty() => {
                        let down = self.unanswering(&client, &live).await;
                        let Some((first, why)) = down.first().cloned() else {
                            return Err(self.pg(e));
                        };
                        if !self.options.partial_ok || down.len() == live.len() {
                            return Err(shard_error(first, &self.options.shards[first], why));
                        }
                        for (i, why) in down {
                            live.retain(|&l| l != i);
                            missing.push(format!(
                                "shard {i} ({}): {why}",
                                super::redact_url(&self.options.shards[i])
                            ));
                        }
                    }
                    Err(e) => return Err(self.pg(e)),
                }
            }
        }
        let replica_lag = match &self.reader {
            Some(reader) => Some(reader.lag(&client).await?),
            None => None,
        };
        Ok(SearchAnswers {
            hits: answers,
            missing_shards: missing,
            replica_lag,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_sql() {
        let f = Filter::parse(&["label=rose", "size=3"]).unwrap();
        let (sql, params) = where_clause(&f, 2);
        assert_eq!(
            sql,
            "metadata @> ANY($2::jsonb[]) AND metadata @> ANY($3::jsonb[])"
        );
        assert_eq!(
            params[0],
            FilterParam::Objects(vec![json!({"label": "rose"}), json!({"label": ["rose"]})])
        );
        assert_eq!(
            params[1],
            FilterParam::Objects(vec![
                json!({"size": "3"}),
                json!({"size": ["3"]}),
                json!({"size": 3}),
                json!({"size": [3]})
            ])
        );
        assert_eq!(where_clause(&Filter::none(), 1).0, "TRUE");
        let f = Filter::parse(&["20<=price<50", "not brand exists", "c in (a, b)"]).unwrap();
        let (sql, params) = where_clause(&f, 1);
        assert_eq!(
            sql,
            "metadata @? $1 AND NOT COALESCE(metadata ? $2, FALSE) \
             AND metadata @> ANY($3::jsonb[])"
        );
        assert_eq!(
            params[0],
            FilterParam::Path(JsonPath("lax $.\"price\" ? (@ >= 20 && @ < 50)".into()))
        );
        assert_eq!(
            range_path(
                "we\"ird",
                None,
                Some(Bound {
                    value: 1.5,
                    inclusive: false
                })
            ),
            "lax $.\"we\\\"ird\" ? (@ < 1.5)"
        );
    }
}
