//! Sealed segments against the hnsw_rs graph they were read out of: the same answers or better at
//! every `ef`, the same answers after reopening, and a refusal of damaged files.

use super::graph::{Graph, GraphParams};
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

fn graph_of(points: &[(PointId, Vec<f32>)], metric: Metric, m: usize) -> Graph {
    let params = GraphParams {
        max_connections: m,
        ef_construction: 64,
    };
    let graph = Graph::new(params, metric, points.len());
    // Batches below hnsw_rs's parallel threshold: the same graph on every run.
    for chunk in points.chunks(63) {
        graph.insert(chunk);
    }
    graph
}

/// hnsw_rs's graph, searched by hnsw_rs and by the sealed loop, on the same queries.
#[test]
fn sealed_recall_is_never_below_hnsw_rs_at_any_ef() {
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
        let graph = graph_of(&points, metric, 12);
        let path = dir.path().join(format!("{metric}.lks"));
        let segment = graph
            .to_segment(metric, dim, 42)
            .write(&path, |_| false)
            .unwrap();
        assert_eq!(segment.len(), points.len());
        for ef in [10, 16, 32, 64, 128] {
            let theirs: Vec<_> = queries
                .iter()
                .map(|q| graph.search(q, k, ef, None))
                .collect();
            let ours: Vec<_> = queries
                .iter()
                .map(|q| segment.search(q, k, ef, None))
                .collect();
            let (r_theirs, r_ours) = (recall(&theirs, &truth), recall(&ours, &truth));
            eprintln!("{metric} ef {ef}: recall@10 hnsw_rs {r_theirs:.4}, sealed {r_ours:.4}");
            assert!(
                r_ours >= r_theirs,
                "{metric} ef {ef}: sealed recall {r_ours} < hnsw_rs {r_theirs}"
            );
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
    let sealed = graph
        .to_segment(metric, 16, 9)
        .write(&path, |id| id < 100)
        .unwrap();
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

/// The mutable part is searched through a snapshot in the sealed layout plus an exact scan of
/// the points inserted since: recall at least hnsw_rs's on the same graph, newer points found at
/// once, filters honoured, and a new snapshot once enough points wait.
#[test]
fn the_mutable_part_answers_as_well_as_hnsw_rs_and_finds_new_points_at_once() {
    use super::mutable::{Mutable, MAX_PENDING, MIN_PENDING};
    let metric = Metric::L2;
    let dim = 32;
    let all: Vec<(PointId, Vec<f32>)> = clustered(6000, dim, 21, metric)
        .into_iter()
        .enumerate()
        .map(|(i, v)| (2 * i as PointId, v))
        .collect();
    let (first, later) = all.split_at(4000);
    let mut mutable = Mutable::new(graph_of(first, metric, 12), metric, dim);
    // Fewer than MIN_PENDING newer points: they wait in the exact scan.
    let (waiting, rest) = later.split_at(MIN_PENDING - 6);
    assert!(waiting.len() + rest.len() >= MAX_PENDING);
    assert!(!mutable.insert(waiting), "no snapshot due yet");
    let queries = clustered(300, dim, 78, metric);
    let k = 10;
    let truth_of = |base: &[(PointId, Vec<f32>)]| -> Vec<Vec<PointId>> {
        queries.iter().map(|q| truth(base, q, k, metric)).collect()
    };
    let seen = &all[..4000 + waiting.len()];
    let truth_now = truth_of(seen);
    for ef in [10, 16, 64] {
        let theirs: Vec<_> = queries
            .iter()
            .map(|q| mutable.graph().search(q, k, ef, None))
            .collect();
        let ours: Vec<_> = queries
            .iter()
            .map(|q| mutable.search(q, k, ef, None))
            .collect();
        let (r_theirs, r_ours) = (recall(&theirs, &truth_now), recall(&ours, &truth_now));
        eprintln!("mutable ef {ef}: recall@10 hnsw_rs {r_theirs:.4}, snapshot + scan {r_ours:.4}");
        assert!(r_ours >= r_theirs, "ef {ef}: {r_ours} < hnsw_rs {r_theirs}");
        assert!(ours.iter().all(|f| f.windows(2).all(|w| w[0].1 <= w[1].1)));
    }
    // A waiting point is its own nearest neighbour, at distance 0.
    for (id, v) in waiting.iter().step_by(97) {
        assert_eq!(mutable.search(v, 1, 64, None)[0], (*id, 0.0));
    }
    // Filters reach both the snapshot and the waiting points.
    let fours = |id: PointId| id.is_multiple_of(4);
    for q in &queries[..50] {
        let found = mutable.search(q, k, 64, Some(&fours));
        assert_eq!(found.len(), k);
        assert!(found.iter().all(|(id, _)| id.is_multiple_of(4)));
    }
    // Enough waiting points: a snapshot is due; once installed, all are still found.
    assert!(mutable.insert(rest), "a snapshot is due");
    let flat = mutable.snapshot();
    assert_eq!(flat.len(), all.len());
    mutable.install(flat);
    let truth_all = truth_of(&all);
    let ours: Vec<_> = queries
        .iter()
        .map(|q| mutable.search(q, k, 64, None))
        .collect();
    assert!(recall(&ours, &truth_all) > 0.95);
    for (id, v) in later.iter().step_by(101) {
        assert_eq!(mutable.search(v, 1, 64, None)[0], (*id, 0.0));
    }
}
