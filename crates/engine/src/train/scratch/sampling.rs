//! What one training step sees: an N-way episode inside one group (an alphabet), or anchors
//! with a positive and a negative whose class comes from the anchor's own group with a given
//! share. Rows are `(image, quarter turns)`: with rotation class expansion a character turned
//! by 90° is another class.

use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;

/// One trainable class: its images (rows of the drawing table), its quarter turns and its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainClass {
    /// Rows of the drawing table.
    pub images: Vec<usize>,
    /// Quarter turns applied to every image of the class (0 for the original class).
    pub turns: u8,
    /// Index of its group.
    pub group: usize,
}

/// An image as a training step sees it.
pub type Row = (usize, u8);

/// N-way classification of queries against one example per class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    /// One example per class, in class order.
    pub support: Vec<Row>,
    /// The queries; none is its class's example.
    pub queries: Vec<Row>,
    /// The class (index into `support`) of each query.
    pub target: Vec<i64>,
}

/// The classes of each group, for classes with at least two images.
pub fn classes_by_group(classes: &[TrainClass], groups: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); groups];
    for (c, class) in classes.iter().enumerate() {
        if class.images.len() >= 2 {
            out[class.group].push(c);
        }
    }
    out
}

/// Draws an episode: with probability `within_group`, `ways` classes of one group (picked with
/// probability proportional to its classes, so every class is drawn as often), else from all
/// groups; each class shows one example and up to `queries` other images. Fewer ways when the
/// group has fewer classes; `None` when no group has two.
pub fn draw_episode(
    classes: &[TrainClass],
    by_group: &[Vec<usize>],
    ways: usize,
    queries: usize,
    within_group: f64,
    rng: &mut impl Rng,
) -> Option<Episode> {
    let all: Vec<usize> = by_group.iter().flatten().copied().collect();
    let pool: Vec<usize> = if rng.random_bool(within_group.clamp(0.0, 1.0)) {
        let usable: Vec<&Vec<usize>> = by_group.iter().filter(|g| g.len() >= 2).collect();
        usable.choose_weighted(rng, |g| g.len()).ok()?.to_vec()
    } else {
        all
    };
    if pool.len() < 2 {
        return None;
    }
    let chosen: Vec<usize> = pool
        .choose_multiple(rng, ways.min(pool.len()))
        .copied()
        .collect();
    let mut episode = Episode {
        support: Vec::new(),
        queries: Vec::new(),
        target: Vec::new(),
    };
    for (k, &c) in chosen.iter().enumerate() {
        let class = &classes[c];
        let take = (queries + 1).min(class.images.len());
        let picked: Vec<usize> = class.images.choose_multiple(rng, take).copied().collect();
        episode.support.push((picked[0], class.turns));
        for &q in &picked[1..] {
            episode.queries.push((q, class.turns));
            episode.target.push(k as i64);
        }
    }
    Some(episode)
}

/// `n` triples (anchor, positive, negative): the positive another image of the anchor's class,
/// the negative an image of another class, of the anchor's own group with probability
/// `within_group` (when the group has another class).
pub fn draw_triples(
    classes: &[TrainClass],
    by_group: &[Vec<usize>],
    n: usize,
    within_group: f64,
    rng: &mut impl Rng,
) -> Vec<[Row; 3]> {
    let all: Vec<usize> = by_group.iter().flatten().copied().collect();
    if all.len() < 2 {
        return Vec::new();
    }
    (0..n)
        .map(|_| {
            let c = *all.choose(rng).expect("two classes");
            let class = &classes[c];
            let mut two: Vec<usize> = class.images.choose_multiple(rng, 2).copied().collect();
            two.shuffle(rng);
            let own = &by_group[class.group];
            let pool = if own.len() >= 2 && rng.random_bool(within_group.clamp(0.0, 1.0)) {
                own
            } else {
                &all
            };
            let other = loop {
                let o = *pool.choose(rng).expect("not empty");
                if o != c {
                    break o;
                }
            };
            let neg = &classes[other];
            let n_img = *neg.images.choose(rng).expect("two images");
            [
                (two[0], class.turns),
                (two[1], class.turns),
                (n_img, neg.turns),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// 3 groups of 4 classes of 5 images; class c holds rows 10c..10c+5; group = c / 4.
    fn classes() -> Vec<TrainClass> {
        (0..12)
            .map(|c| TrainClass {
                images: (10 * c..10 * c + 5).collect(),
                turns: (c % 2) as u8,
                group: c / 4,
            })
            .collect()
    }

    #[test]
    fn episodes_stay_in_one_group_with_distinct_support_and_query_images() {
        let cls = classes();
        let by = classes_by_group(&cls, 3);
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for _ in 0..100 {
            let e = draw_episode(&cls, &by, 20, 3, 1.0, &mut rng).unwrap();
            assert_eq!(e.support.len(), 4, "a group of 4 classes gives 4 ways");
            let groups: Vec<usize> = e.support.iter().map(|r| r.0 / 40).collect();
            assert!(groups.iter().all(|&g| g == groups[0]), "{groups:?}");
            assert_eq!(e.queries.len(), 12);
            for (q, &t) in e.queries.iter().zip(&e.target) {
                let s = e.support[t as usize];
                assert_eq!(q.0 / 10, s.0 / 10, "a query is of its target's class");
                assert_ne!(q.0, s.0, "never the example itself");
                assert_eq!(q.1, s.1);
            }
        }
        // With no within-group share, episodes mix groups.
        let mixed = (0..50)
            .filter_map(|_| draw_episode(&cls, &by, 6, 1, 0.0, &mut rng))
            .filter(|e| e.support.iter().any(|r| r.0 / 40 != e.support[0].0 / 40))
            .count();
        assert!(mixed > 40, "{mixed}");
    }

    #[test]
    fn negatives_come_from_the_anchor_s_group_at_the_share_asked() {
        let cls = classes();
        let by = classes_by_group(&cls, 3);
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let share = |p: f64, rng: &mut rand::rngs::StdRng| {
            let t = draw_triples(&cls, &by, 4000, p, rng);
            for [a, b, n] in &t {
                assert_eq!(a.0 / 10, b.0 / 10);
                assert_ne!(a.0, b.0);
                assert_ne!(a.0 / 10, n.0 / 10);
            }
            t.iter().filter(|[a, _, n]| a.0 / 40 == n.0 / 40).count() as f64 / 4000.0
        };
        assert!(share(1.0, &mut rng) == 1.0);
        // Uniform over the 11 other classes: 3 of them share the group.
        let base = share(0.0, &mut rng);
        assert!((base - 3.0 / 11.0).abs() < 0.03, "{base}");
        let half = share(0.5, &mut rng);
        assert!((half - (0.5 + 0.5 * 3.0 / 11.0)).abs() < 0.03, "{half}");
    }
}
