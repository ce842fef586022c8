//! The head's training loop on synthetic features: it learns separable classes, repeats itself
//! with the same seed, and stops on a non-finite loss.

use lookalike_core::dataset::split;
use lookalike_core::Error;
use lookalike_engine::train::{fit_head, FeatureViews, TrainOptions};
use tch::{Kind, Tensor};

/// `classes` Gaussian clusters of `per_class` points in 32 dimensions.
fn clusters(classes: usize, per_class: usize, seed: i64) -> (Tensor, Vec<usize>) {
    tch::manual_seed(seed);
    let centers = Tensor::randn([classes as i64, 32], (Kind::Float, tch::Device::Cpu)) * 3.0;
    let labels: Vec<usize> = (0..classes * per_class).map(|i| i % classes).collect();
    let idx = Tensor::from_slice(&labels.iter().map(|&l| l as i64).collect::<Vec<_>>());
    let points = centers.index_select(0, &idx)
        + Tensor::randn([labels.len() as i64, 32], (Kind::Float, tch::Device::Cpu));
    (points, labels)
}

/// libtorch's random generator is global: tests that seed it must not run at the same time.
static TORCH_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn options() -> TrainOptions {
    TrainOptions {
        epochs: 15,
        patience: 15,
        learning_rate: 3e-3,
        ..TrainOptions::default()
    }
}

#[test]
fn learns_separable_classes_and_repeats_with_the_same_seed() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let (points, labels) = clusters(4, 50, 0);
    let s = split(&labels, [0.6, 0.2, 0.2], 1);
    let features = FeatureViews {
        table: points,
        n_images: labels.len(),
        n_views: 1,
    };
    let mut epochs = Vec::new();
    let fitted = fit_head(&features, &labels, &s, &options(), None, |e| epochs.push(e)).unwrap();
    assert_eq!(epochs.len(), 15);
    assert!(fitted.val_auc > 0.95, "val AUC {}", fitted.val_auc);
    assert!(
        epochs.last().unwrap().loss < epochs[0].loss,
        "the loss goes down"
    );
    let again = fit_head(&features, &labels, &s, &options(), None, |_| {}).unwrap();
    assert_eq!(again.val_auc, fitted.val_auc);
    let w = |f: &lookalike_engine::train::FittedHead| f.vs.variables()["embed.weight"].copy();
    assert!(w(&fitted).equal(&w(&again)), "same seed, same weights");
}

#[test]
fn a_non_finite_loss_stops_training() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let (points, labels) = clusters(2, 20, 3);
    let _ = points.get(0).fill_(f64::NAN);
    let s = split(&labels, [0.6, 0.2, 0.2], 1);
    let features = FeatureViews {
        table: points,
        n_images: labels.len(),
        n_views: 1,
    };
    let err = fit_head(&features, &labels, &s, &options(), None, |_| {})
        .err()
        .expect("NaN features must stop training");
    assert!(matches!(err, Error::Diverged { epoch: 1, .. }), "{err}");
    assert!(err.to_string().contains("no checkpoint was written"));
}
