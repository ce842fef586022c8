//! The distance kernels of the sealed search: plain loops over 16 independent lanes, which the
//! compiler turns into vector code. They are `#[inline(always)]` so that they are compiled inside
//! the search's `pulp` dispatch, with AVX2 and FMA where the CPU has them.
//!
//! The sealed search ranks by a *key* that orders points as the metric does but is cheaper:
//! squared L2 for L2, `1 − dot` for cosine (unit vectors), the sum of absolute differences for L1.
//! [`Kind::to_distance`] turns a key back into the store's distance.

use crate::Metric;

const LANES: usize = 16;

/// What the kernel computes, from the store's metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Sum of absolute differences.
    L1,
    /// Squared Euclidean distance.
    L2Squared,
    /// `1 − a·b` (cosine distance of unit vectors).
    OneMinusDot,
}

impl Kind {
    /// The kernel for a metric.
    pub fn of(metric: Metric) -> Self {
        match metric {
            Metric::L1 => Kind::L1,
            Metric::L2 => Kind::L2Squared,
            Metric::Cosine => Kind::OneMinusDot,
        }
    }

    /// The ranking key between `a` and `b` (same length).
    #[inline(always)]
    pub fn key(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Kind::L1 => lanes(a, b, |x, y| (x - y).abs()),
            Kind::L2Squared => lanes(a, b, |x, y| (x - y) * (x - y)),
            Kind::OneMinusDot => 1.0 - lanes(a, b, |x, y| x * y),
        }
    }

    /// The store's distance for a key ([`Metric::distance`]'s value).
    pub fn to_distance(self, key: f32) -> f32 {
        match self {
            Kind::L1 => key,
            Kind::L2Squared => key.max(0.0).sqrt(),
            Kind::OneMinusDot => key.max(0.0),
        }
    }
}

/// `Σ f(a_i, b_i)`, accumulated in 16 lanes and summed pairwise at the end.
#[inline(always)]
fn lanes(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            acc[i] += f(x[i], y[i]);
        }
    }
    let mut tail = 0f32;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += f(*x, *y);
    }
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            acc[i] += acc[i + width];
        }
        width /= 2;
    }
    acc[0] + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_rank_like_the_metric() {
        // 37 dimensions: two full chunks and a tail.
        let a: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
        for metric in [Metric::L1, Metric::L2, Metric::Cosine] {
            let (a, b) = (metric.prepare(a.clone()), metric.prepare(b.clone()));
            let kind = Kind::of(metric);
            let got = kind.to_distance(kind.key(&a, &b));
            let want = metric.distance(&a, &b);
            assert!((got - want).abs() < 1e-4, "{metric}: {got} vs {want}");
        }
    }
}
