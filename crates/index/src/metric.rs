//! Distances between vectors, and the score (higher = more similar) that stores return.

use serde::{Deserialize, Serialize};

/// How two vectors are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Manhattan distance; a metric Siamese head over `w ⊙ e` ranks exactly like this.
    L1,
    /// Euclidean distance.
    L2,
    /// `1 − cos`, for unit vectors (zero-shot embeddings).
    Cosine,
}

impl Metric {
    /// Parses `l1`, `l2` or `cosine`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "l1" | "manhattan" => Ok(Metric::L1),
            "l2" | "euclidean" => Ok(Metric::L2),
            "cosine" | "cos" => Ok(Metric::Cosine),
            other => Err(format!(
                "unknown metric {other:?}: expected l1, l2 or cosine"
            )),
        }
    }

    /// The name users type.
    pub fn name(self) -> &'static str {
        match self {
            Metric::L1 => "l1",
            Metric::L2 => "l2",
            Metric::Cosine => "cosine",
        }
    }

    /// The distance between `a` and `b` (≥ 0).
    pub fn distance(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Metric::L1 => a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum(),
            Metric::L2 => a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y) * (x - y))
                .sum::<f32>()
                .sqrt(),
            Metric::Cosine => {
                let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                (1.0 - dot).max(0.0)
            }
        }
    }

    /// The score for a distance: `cos` for cosine, `−distance` otherwise.
    pub fn score(self, distance: f32) -> f32 {
        match self {
            Metric::Cosine => 1.0 - distance,
            Metric::L1 | Metric::L2 => -distance,
        }
    }

    /// Prepares a vector for storage or search: cosine vectors are scaled to unit length.
    pub fn prepare(self, mut v: Vec<f32>) -> Vec<f32> {
        if self == Metric::Cosine {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                v.iter_mut().for_each(|x| *x /= norm);
            }
        }
        v
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_and_scores() {
        let a = [1.0, 0.0];
        let b = [0.0, 2.0];
        assert_eq!(Metric::L1.distance(&a, &b), 3.0);
        assert!((Metric::L2.distance(&a, &b) - 5f32.sqrt()).abs() < 1e-6);
        let b = Metric::Cosine.prepare(b.to_vec());
        assert_eq!(b, vec![0.0, 1.0]);
        assert_eq!(Metric::Cosine.distance(&a, &b), 1.0);
        assert_eq!(Metric::Cosine.score(0.25), 0.75);
        assert_eq!(Metric::L1.score(3.0), -3.0);
        assert!(Metric::parse("dot").is_err());
    }
}
