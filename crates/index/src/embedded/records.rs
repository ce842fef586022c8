//! How the embedded store lays its records out in sled.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `meta` | `config`, `next_id`, `next_seq`, `points` | JSON, u64 |
//! | `vectors` | id | little-endian f32s |
//! | `metadata` | id | JSON object |
//! | `thumbnails` | id | encoded image |
//! | `by_value` | key, value, id (length-prefixed) | empty |
//! | `log` | seq | op (1 = insert, 2 = delete), id |
//! | `tombstones` | id | empty: deleted, but still a node of the graph |
//!
//! Integers in keys are big-endian, so sled's byte order is numeric order.

use serde::{Deserialize, Serialize};

use crate::{Metric, PointId};

/// The `config` record: what the store was created with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredConfig {
    /// Always `lookalike-embedded`.
    pub format: String,
    /// Layout version.
    pub version: u32,
    /// Vector dimension.
    pub dimension: usize,
    /// Distance.
    pub metric: Metric,
    /// HNSW `M`.
    pub max_connections: usize,
    /// HNSW `ef_construction`.
    pub ef_construction: usize,
}

/// The format name in [`StoredConfig`].
pub const FORMAT: &str = "lookalike-embedded";

/// An entry of the write log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOp {
    /// The point was added.
    Insert(PointId),
    /// The point was deleted.
    Delete(PointId),
}

impl LogOp {
    /// 9 bytes: the op, then the id.
    pub fn encode(self) -> [u8; 9] {
        let (op, id) = match self {
            LogOp::Insert(id) => (1u8, id),
            LogOp::Delete(id) => (2u8, id),
        };
        let mut out = [0u8; 9];
        out[0] = op;
        out[1..].copy_from_slice(&id.to_be_bytes());
        out
    }

    /// The inverse of [`LogOp::encode`].
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let id = u64::from_be_bytes(bytes.get(1..9)?.try_into().ok()?);
        match bytes.first()? {
            1 => Some(LogOp::Insert(id)),
            2 => Some(LogOp::Delete(id)),
            _ => None,
        }
    }
}

/// An id as a sled key.
pub fn id_key(id: PointId) -> [u8; 8] {
    id.to_be_bytes()
}

/// A sled key back to an id.
pub fn key_id(key: &[u8]) -> Option<PointId> {
    Some(u64::from_be_bytes(
        key.get(key.len().checked_sub(8)?..)?.try_into().ok()?,
    ))
}

/// A vector as bytes.
pub fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Bytes back to a vector; `None` when the length is not `dimension` floats.
pub fn bytes_vector(bytes: &[u8], dimension: usize) -> Option<Vec<f32>> {
    if bytes.len() != dimension * 4 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

/// The `by_value` prefix for `key = value`.
pub fn value_prefix(key: &str, value: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + key.len() + value.len());
    out.extend_from_slice(&(key.len() as u32).to_be_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&(value.len() as u32).to_be_bytes());
    out.extend_from_slice(value.as_bytes());
    out
}

/// The `by_value` key for `key = value` on point `id`.
pub fn value_key(key: &str, value: &str, id: PointId) -> Vec<u8> {
    let mut out = value_prefix(key, value);
    out.extend_from_slice(&id.to_be_bytes());
    out
}

/// A u64 counter as stored in `meta`.
pub fn counter(bytes: Option<&[u8]>) -> u64 {
    bytes
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for op in [LogOp::Insert(7), LogOp::Delete(u64::MAX)] {
            assert_eq!(LogOp::decode(&op.encode()), Some(op));
        }
        assert_eq!(LogOp::decode(&[3, 0, 0, 0, 0, 0, 0, 0, 1]), None);
        assert_eq!(key_id(&value_key("label", "rose", 42)), Some(42));
        let v = vec![1.5, -2.0, 0.0];
        assert_eq!(bytes_vector(&vector_bytes(&v), 3), Some(v));
        assert_eq!(bytes_vector(&[0; 8], 3), None);
        // A key that is a prefix of another key does not share its value prefix.
        assert!(!value_key("ab", "c", 1).starts_with(&value_prefix("a", "bc")));
    }
}
