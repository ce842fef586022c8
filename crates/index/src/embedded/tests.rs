//! The growing graph and the sealed segments against hnsw_rs (the peer): recall at least
//! hnsw_rs's at every `ef`, the same answers after sealing and reopening, and a refusal of
//! damaged files.

use super::graph::GraphParams;
use super::growing::Growing;
use super::segment::Segment;
use crate::rank::TopK;
use crate::{Metric, PointId};

/// A fixed stream of numbers in [-1, 1) (xorshift64*).
struct Numbers(u64);

impl Numbers {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// `n` clustered vectors of `dim` dimensions (ReLU of cluster centre + noise, like embeddings).
fn clustered(n: usize, dim: usize, seed: u64, metric: Metric) -> Vec<Vec<f32>> {
    let mut c = Numbers(11);
    let centres: Vec<Vec<f32>> = (0..40)
        .map(|_| (0..dim).map(|_| c.next()).collect())
        .collect();
    let mut r = Numbers(seed);
    (0..n)
        .map(|i| {
            let v = centres[(i * 7) % 40]
                .iter()
                .map(|x| (x + 0.45 * r.next()).max(0.0))
                .collect();
            metric.prepare(v)
        })
        .collect()
}

fn truth(base: &[(PointId, Vec<f32>)], q: &[f32], k: usize, metric: Metric) -> Vec<PointId> {
    let mut top = TopK::new(k);
    for (id, v) in base {
        top.push(*id, metric.score(metric.distance(q, v)));
    }
    top.into_sorted().into_iter().map(|(id, _)| id).collect()
}

fn recall(found: &[Vec<(PointId, f32)>], truth: &[Vec<PointId>]) -> f64 {
    let hits: usize = found
        .iter()
        .zip(truth)
        .map(|(f, t)| f.iter().filter(|(id, _)| t.contains(id)).count())
        .sum();
    hits as f64 / truth.iter().map(Vec::len).sum::<usize>() as f64
}

fn params(m: usize) -> GraphParams {
    GraphParams {
        max_connections: m,
        ef_construction: 64,
    }
}

/// Our graph, in batches below the parallel threshold: the same graph on every run.
fn graph_of(points: &[(PointId, Vec<f32>)], metric: Metric, m: usize) -> Growing {
    let dim = points[0].1.len();
    let mut graph = Growing::new(params(m), metric, dim);
    for chunk in points.chunks(63) {
        graph.insert(chunk);
    }
    graph
}

/// hnsw_rs, the peer: built with the same `M` and `ef_construction`, searched by itself.
mod peer {
    use hnsw_rs::prelude::{DistL1, DistL2, Distance, Hnsw};

    use crate::{Metric, PointId};

    /// hnsw_rs's distance for our metric (cosine clamped at zero: hnsw_rs asserts on negative
    /// distances; vectors are unit length).
    #[derive(Debug, Clone, Copy)]
    pub struct StoreDistance(pub Metric);

    impl Distance<f32> for StoreDistance {
        fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
            match self.0 {
                Metric::L1 => DistL1.eval(a, b),
                Metric::L2 => DistL2.eval(a, b),
                Metric::Cosine => {
                    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                    (1.0 - dot).max(0.0)
                }
            }
        }
    }

    pub struct Peer(Hnsw<'static, f32, StoreDistance>);

    impl Peer {
        pub fn build(points: &[(PointId, Vec<f32>)], metric: Metric, m: usize) -> Peer {
            let hnsw = Hnsw::new(m, points.len(), 16, 64, StoreDistance(metric));
            for (id, v) in points {
                hnsw.insert((v.as_slice(), *id as usize));
            }
            Peer(hnsw)
        }

        pub fn search(&self, query: &[f32], k: usize, ef: usize) -> Vec<(PointId, f32)> {
            self.0
                .search(query, k, ef.max(k))
                .into_iter()
                .map(|n| (n.d_id as PointId, n.distance))
                .collect()
        }
    }
}

/// hnsw_rs's graph searched by hnsw_rs, against ours, growing and sealed, on the same queries.
#[test]
fn our_recall_is_never_below_hnsw_rs_at_any_ef() {
    let dir = tempfile::tempdir().unwrap();
    for (metric, dim) in [(Metric::L2, 48), (Metric::Cosine, 32), (Metric::L1, 24)] {
        // Ids with gaps, as after deletes: the segment maps them to dense nodes.
        let points: Vec<(PointId, Vec<f32>)> = clustered(6000, dim, 3, metric)
            .into_iter()
            .enumerate()
            .map(|(i, v)| (3 * i as PointId + 1, v))
            .collect();
        let queries = clustered(1000, dim, 77, metric);
        let k = 10;
        let truth: Vec<Vec<PointId>> = queries
            .iter()
            .map(|q| truth(&points, q, k, metric))
            .collect();
        let peer = peer::Peer::build(&points, metric, 12);
        let graph = graph_of(&points, metric, 12);
        let path = dir.path().join(format!("{metric}.lks"));
        let segment = graph.to_segment(42).write(&path, |_| false).unwrap();
        assert_eq!(segment.len(), points.len());
        for ef in [10, 16, 32, 64, 128] {
            let theirs: Vec<_> = queries.iter().map(|q| peer.search(q, k, ef)).collect();
            let growing: Vec<_> = queries
                .iter()
                .map(|q| graph.search(q, k, ef, None))
                .collect();
            let ours: Vec<_> = queries
                .iter()
                .map(|q| segment.search(q, k, ef, None))
                .collect();
            let (r_theirs, r_ours) = (recall(&theirs, &truth), recall(&ours, &truth));
            eprintln!("{metric} ef {ef}: recall@10 hnsw_rs {r_theirs:.4}, ours {r_ours:.4}");
            assert!(
                r_ours >= r_theirs,
                "{metric} ef {ef}: our recall {r_ours} < hnsw_rs {r_theirs}"
            );
            // Sealing changes the layout, not the graph: the same answers.
            assert_eq!(growing, ours, "{metric} ef {ef}");
            // Distances are the store's metric, nearest first.
            for (q, found) in queries.iter().zip(&ours).take(20) {
                assert!(found.windows(2).all(|w| w[0].1 <= w[1].1));
                let (id, d) = found[0];
                let v = &points[((id - 1) / 3) as usize].1;
                assert!((metric.distance(q, v) - d).abs() < 1e-4);
            }
        }
    }
}

#[test]
fn a_reopened_segment_answers_the_same_and_honours_tombstones_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let metric = Metric::L2;
    let points: Vec<(PointId, Vec<f32>)> = clustered(2000, 16, 5, metric)
        .into_iter()
        .enumerate()
        .map(|(i, v)| (i as PointId, v))
        .collect();
    let graph = graph_of(&points, metric, 8);
    let path = dir.path().join("s.lks");
    // Points 0..100 were deleted before sealing.
    let sealed = graph.to_segment(9).write(&path, |id| id < 100).unwrap();
    let mut reopened = Segment::open(&path, metric, 16).unwrap();
    let queries = clustered(30, 16, 8, metric);
    for q in &queries {
        let a = sealed.search(q, 10, 32, None);
        assert_eq!(a, reopened.search(q, 10, 32, None));
        assert!(
            a.iter().all(|(id, _)| *id >= 100),
            "a sealed tombstone came back"
        );
    }
    // Deletes after sealing, and a filter.
    for id in 100..1000 {
        assert!(reopened.mark_dead(id));
    }
    assert!(!reopened.mark_dead(5000), "not a node of this segment");
    let even = |id: PointId| id.is_multiple_of(2);
    for q in &queries {
        let found = reopened.search(q, 10, 64, Some(&even));
        assert_eq!(found.len(), 10);
        assert!(found
            .iter()
            .all(|(id, _)| *id >= 1000 && id.is_multiple_of(2)));
    }
    // The wrong store, and damage, are refused with the reason.
    let err = Segment::open(&path, Metric::L1, 16).unwrap_err();
    assert!(err.contains("16-dimensional l2"), "{err}");
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let err = Segment::open(&path, metric, 16).unwrap_err();
    assert!(err.contains("checksum"), "{err}");
    std::fs::write(&path, &bytes[..mid]).unwrap();
    let err = Segment::open(&path, metric, 16).unwrap_err();
    assert!(err.contains("bytes"), "{err}");
    std::fs::write(&path, b"not a segment").unwrap();
    assert!(Segment::open(&path, metric, 16).is_err());
}

/// The growing graph: a point is found as soon as it is linked, a reserved one is not reachable
/// yet (and breaks nothing), filters are honoured, searches run while a batch is linked in
/// parallel, and a graph read back from its segment answers the same and grows further.
#[test]
fn the_growing_graph_finds_new_points_at_once_and_grows_from_its_segment() {
    let dir = tempfile::tempdir().unwrap();
    let metric = Metric::L2;
    let dim = 32;
    let all: Vec<(PointId, Vec<f32>)> = clustered(6000, dim, 21, metric)
        .into_iter()
        .enumerate()
        .map(|(i, v)| (2 * i as PointId, v))
        .collect();
    let (first, later) = all.split_at(4000);
    let mut graph = graph_of(first, metric, 12);
    let queries = clustered(300, dim, 78, metric);
    let k = 10;
    let truth_of = |base: &[(PointId, Vec<f32>)]| -> Vec<Vec<PointId>> {
        queries.iter().map(|q| truth(base, q, k, metric)).collect()
    };

    // Reserved, not linked: searches go on and find only linked points.
    let (batch, rest) = later.split_at(1500);
    let nodes = graph.reserve(batch);
    assert_eq!(nodes.len(), batch.len());
    for (_, v) in batch.iter().step_by(97) {
        let found = graph.search(v, 1, 64, None);
        assert!(found[0].0 < 8000, "an unlinked point was reached");
    }
    // Linked in parallel while another thread searches.
    std::thread::scope(|s| {
        let (g, queries) = (&graph, &queries);
        let searching = s.spawn(move || {
            for q in queries.iter().cycle().take(3000) {
                assert_eq!(g.search(q, k, 32, None).len(), k);
            }
        });
        g.link(nodes);
        searching.join().unwrap();
    });
    let seen = &all[..4000 + batch.len()];
    let ours: Vec<_> = queries
        .iter()
        .map(|q| graph.search(q, k, 64, None))
        .collect();
    let r = recall(&ours, &truth_of(seen));
    assert!(r > 0.97, "recall@10 at ef 64 after a parallel batch: {r}");
    for (id, v) in batch.iter().step_by(97) {
        assert_eq!(graph.search(v, 1, 64, None)[0], (*id, 0.0));
    }
    // Filters.
    let fours = |id: PointId| id.is_multiple_of(4);
    for q in &queries[..50] {
        let found = graph.search(q, k, 64, Some(&fours));
        assert_eq!(found.len(), k);
        assert!(found.iter().all(|(id, _)| id.is_multiple_of(4)));
    }

    // Sealed and read back: the same answers; then it grows further.
    let path = dir.path().join("g.lks");
    let segment = graph.to_segment(1).write(&path, |_| false).unwrap();
    let mut back = Growing::from_segment(&segment, params(12)).unwrap();
    for q in &queries {
        assert_eq!(back.search(q, k, 64, None), segment.search(q, k, 64, None));
    }
    assert!(
        Growing::from_segment(&segment, params(16)).is_err(),
        "another M"
    );
    back.insert(rest);
    assert_eq!(back.len(), all.len());
    let ours: Vec<_> = queries
        .iter()
        .map(|q| back.search(q, k, 64, None))
        .collect();
    let r = recall(&ours, &truth_of(&all));
    assert!(r > 0.97, "recall@10 at ef 64 after growing a segment: {r}");
    for (id, v) in rest.iter().step_by(101) {
        assert_eq!(back.search(v, 1, 64, None)[0], (*id, 0.0));
    }
}
