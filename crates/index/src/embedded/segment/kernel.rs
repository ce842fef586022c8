//! The distance kernels of the sealed search, written with `pulp`'s portable SIMD types so that
//! one generic loop becomes AVX2 + FMA code (8 lanes) or scalar code, whichever the search's
//! dispatch picked. Four accumulators keep the FMA units busy; the tail (a dimension that is not
//! a multiple of the lane count) is summed in scalar code.
//!
//! The sealed search ranks by a *key* that orders points as the metric does but is cheaper:
//! squared L2 for L2, `1 − dot` for cosine (unit vectors), the sum of absolute differences for L1.
//! [`Kind::to_distance`] turns a key back into the store's distance.

use pulp::Simd;

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
    pub fn of(metric: crate::Metric) -> Self {
        use crate::Metric;
        match metric {
            Metric::L1 => Kind::L1,
            Metric::L2 => Kind::L2Squared,
            Metric::Cosine => Kind::OneMinusDot,
        }
    }

    /// The ranking key between `a` and `b` (same length), computed with `simd`.
    #[inline(always)]
    pub fn key<S: Simd>(self, simd: S, a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (a_head, a_tail) = S::as_simd_f32s(&a[..n]);
        let (b_head, b_tail) = S::as_simd_f32s(&b[..n]);
        let step = |acc: S::f32s, x: S::f32s, y: S::f32s| match self {
            Kind::L1 => simd.add_f32s(acc, simd.abs_f32s(simd.sub_f32s(x, y))),
            Kind::L2Squared => {
                let d = simd.sub_f32s(x, y);
                simd.mul_add_f32s(d, d, acc)
            }
            Kind::OneMinusDot => simd.mul_add_f32s(x, y, acc),
        };
        let zero = simd.splat_f32s(0.0);
        let mut acc = [zero; 4];
        let mut xs = a_head.chunks_exact(4);
        let mut ys = b_head.chunks_exact(4);
        for (x, y) in (&mut xs).zip(&mut ys) {
            for i in 0..4 {
                acc[i] = step(acc[i], x[i], y[i]);
            }
        }
        for (x, y) in xs.remainder().iter().zip(ys.remainder()) {
            acc[0] = step(acc[0], *x, *y);
        }
        let total = simd.add_f32s(simd.add_f32s(acc[0], acc[1]), simd.add_f32s(acc[2], acc[3]));
        let mut sum = simd.reduce_sum_f32s(total);
        for (x, y) in a_tail.iter().zip(b_tail) {
            sum += match self {
                Kind::L1 => (x - y).abs(),
                Kind::L2Squared => (x - y) * (x - y),
                Kind::OneMinusDot => x * y,
            };
        }
        match self {
            Kind::OneMinusDot => 1.0 - sum,
            Kind::L1 | Kind::L2Squared => sum,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metric;

    fn check<S: Simd>(simd: S) {
        // 77 dimensions: full groups of four vectors, single vectors and a scalar tail.
        let a: Vec<f32> = (0..77).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..77).map(|i| (i as f32 * 0.11).cos()).collect();
        for metric in [Metric::L1, Metric::L2, Metric::Cosine] {
            let (a, b) = (metric.prepare(a.clone()), metric.prepare(b.clone()));
            let kind = Kind::of(metric);
            let got = kind.to_distance(kind.key(simd, &a, &b));
            let want = metric.distance(&a, &b);
            assert!((got - want).abs() < 1e-4, "{metric}: {got} vs {want}");
        }
    }

    #[test]
    fn keys_rank_like_the_metric() {
        check(pulp::Scalar::new());
        #[cfg(target_arch = "x86_64")]
        if let Some(v3) = pulp::x86::V3::try_new() {
            check(v3);
        }
    }
}
