//! Every filter operator (equality, sets, ranges, booleans, `exists`, negation, and all of them
//! together) on every store, against `FlatStore`'s exact answer: the same matching ids, and `k`
//! hits whenever `k` match, each of them matching.
//!
//! 3,000 points: more than the embedded store answers exactly from its value index (2,048), so
//! broad filters go through the graph and selective ones through the exact path.

use std::collections::HashSet;

use lookalike_e2e::postgres::PgServer;
use lookalike_index::{
    Durability, EmbeddedOptions, EmbeddedStore, Filter, FlatStore, Metric, NewPoint, PgOptions,
    PgVectorStore, PointId, Query, VectorStore,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

const DIM: usize = 16;
const N: usize = 3000;

/// One condition per operator, and combinations; each is one `--filter`.
const FILTERS: &[&[&str]] = &[
    &["colour=red"],
    &["colour!=red"],
    &["colour in (red, blue)"],
    &["colour not in (red, blue)"],
    &["price<50"],
    &["price>=20"],
    &["20<=price<=80"],
    &["35<price<36"],
    &["80>=price>79"],
    &["on_sale"],
    &["!on_sale"],
    &["on_sale=false"],
    &["brand exists"],
    &["not brand exists"],
    &["sizes in (40)"],
    &["sizes>44"],
    &["stock=0"],
    &["not 10<=price<=110"],
    &["20<=price<=80", "on_sale", "colour in (red, green)"],
    &["brand exists", "not colour=black", "price<30"],
    &["price<0"],
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A shop's catalogue: prices (a few as text, which no range may match), stock, a sale flag, a
/// brand on three points in four, sizes as arrays.
fn shop(seed: u64) -> Vec<NewPoint> {
    let mut rng = StdRng::seed_from_u64(seed);
    let colours = ["red", "blue", "green", "black"];
    (0..N)
        .map(|i| {
            let vector = (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect();
            let price = ((i * 731) % 12000) as f64 / 100.0;
            let mut m = json!({
                "colour": colours[i % 4],
                "price": if i % 50 == 0 { json!(price.to_string()) } else { json!(price) },
                "stock": i % 5,
                "on_sale": i % 3 == 0,
                "sizes": [36 + i % 10, 38 + i % 7],
            });
            if i % 4 != 0 {
                m["brand"] = json!(format!("b{}", i % 9));
            }
            NewPoint {
                vector,
                metadata: m.as_object().unwrap().clone(),
                thumbnail: None,
            }
        })
        .collect()
}

fn queries(seed: u64, k: usize, filter: &Filter) -> Vec<Query> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..5)
        .map(|_| Query {
            filter: filter.clone(),
            ..Query::nearest((0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect(), k)
        })
        .collect()
}

/// Checks `store` against the exact store, operator by operator.
async fn filters_conform(store: &dyn VectorStore, metric: Metric) {
    let flat = FlatStore::new(DIM, metric);
    let points = shop(7);
    let mut ids = Vec::new();
    for chunk in points.chunks(500) {
        ids.extend(
            store
                .insert(chunk.to_vec(), Durability::Flushed)
                .await
                .unwrap(),
        );
    }
    let flat_ids = flat.insert(points, Durability::Flushed).await.unwrap();
    // Both stores number from their own start; compare by position.
    let position = |id: PointId| ids.iter().position(|x| *x == id).unwrap();
    let flat_position = |id: PointId| flat_ids.iter().position(|x| *x == id).unwrap();
    let (mut found, mut wanted) = (0, 0);
    for conds in FILTERS {
        let filter = Filter::parse(conds).unwrap();
        let exact: Vec<usize> = flat
            .ids(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(flat_position)
            .collect();
        let mut got: Vec<usize> = store
            .ids(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(position)
            .collect();
        got.sort_unstable();
        assert_eq!(
            got, exact,
            "{conds:?}: matching ids differ from the exact store's"
        );
        let matching: HashSet<usize> = exact.iter().copied().collect();
        for k in [10, exact.len() + 5] {
            let qs = queries(3, k, &filter);
            let answers = store.search(&qs).await.unwrap();
            let reference = flat.search(&qs).await.unwrap();
            for (a, r) in answers.iter().zip(&reference) {
                assert_eq!(
                    a.len(),
                    k.min(exact.len()),
                    "{conds:?}: k={k} must give min(k, matching) hits"
                );
                assert!(
                    a.iter().all(|h| matching.contains(&position(h.id))),
                    "{conds:?}: a hit does not match"
                );
                assert!(a.windows(2).all(|w| w[0].score >= w[1].score), "sorted");
                let want: HashSet<usize> = r.iter().map(|h| flat_position(h.id)).collect();
                found += a.iter().filter(|h| want.contains(&position(h.id))).count();
                wanted += r.len();
            }
        }
    }
    let recall = found as f64 / wanted as f64;
    assert!(recall >= 0.97, "filtered recall against exact: {recall:.3}");
}

#[test]
fn every_filter_operator_on_the_embedded_store() {
    runtime().block_on(async {
        for (metric, seal_at) in [(Metric::L1, usize::MAX), (Metric::Cosine, 1000)] {
            let dir = tempfile::tempdir().unwrap();
            let options = EmbeddedOptions {
                seal_at,
                ..EmbeddedOptions::default()
            };
            let store =
                EmbeddedStore::create(&dir.path().join("store"), DIM, metric, options).unwrap();
            filters_conform(&store, metric).await;
        }
    });
}

#[test]
fn every_filter_operator_on_pgvector() {
    let server = PgServer::start();
    runtime().block_on(async {
        for (name, metric) in [("filters_l1", Metric::L1), ("filters_cos", Metric::Cosine)] {
            let store =
                PgVectorStore::connect(&server.url(), name, DIM, metric, PgOptions::default())
                    .await
                    .unwrap();
            filters_conform(&store, metric).await;
        }
    });
}

#[test]
fn the_flat_store_is_its_own_reference() {
    // The reference itself, against a plain scan of the metadata.
    runtime().block_on(async {
        let flat = FlatStore::new(DIM, Metric::L2);
        let points = shop(7);
        let metas: Vec<_> = points.iter().map(|p| p.metadata.clone()).collect();
        flat.insert(points, Durability::Buffered).await.unwrap();
        for conds in FILTERS {
            let filter = Filter::parse(conds).unwrap();
            let n = metas.iter().filter(|m| filter.matches(m)).count();
            assert_eq!(flat.ids(&filter).await.unwrap().len(), n, "{conds:?}");
        }
        // A hand count of one range: prices are (i·731 mod 12000)/100, text on every 50th.
        let f = Filter::parse(&["20<=price<=80"]).unwrap();
        let by_hand = (0..N)
            .filter(|i| i % 50 != 0)
            .filter(|i| (2000..=8000).contains(&((i * 731) % 12000)))
            .count();
        assert_eq!(flat.ids(&f).await.unwrap().len(), by_hand);
    });
}
