//! Saliency maps against pytorch-grad-cam (`scripts/golden_cam.py`): the same tiny CNN, weights
//! and pixels, every method, the last layer and an earlier one, both sides of each pair, maps of
//! `s` and of `d`. Plus the properties the pipeline promises: the last-layer shortcut equals the
//! general path, a batch equals separate calls, and each image's maps come from its own branch.

use lookalike_core::backbone::{self, BackboneConfig};
use lookalike_core::image::to_pixels;
use lookalike_core::{BackboneKind, SimilarityModel};
use lookalike_e2e::*;
use lookalike_explain::cam::{similarity_gradients, GradientPath, Layer};
use lookalike_explain::pair::{explain_batch, explain_batch_with, saliency};
use lookalike_explain::{ExplainOptions, Registry};
use tch::{Device, Tensor};

const SIZE: u32 = 96;

fn registry() -> Registry {
    let mut r = Registry::builtin();
    r.register(lookalike_gradcam_plus_plus::explainer());
    r.register(lookalike_xgradcam::explainer());
    r.register(lookalike_hirescam::explainer());
    r.register(lookalike_layercam::explainer());
    r
}

fn pixels(seeds: &[u32]) -> Tensor {
    let imgs: Vec<_> = seeds.iter().map(|&s| picture(SIZE, SIZE, s)).collect();
    to_pixels(&imgs).unwrap()
}

fn save(t: &Tensor, path: &std::path::Path) {
    let shape: Vec<u64> = t.size().iter().map(|&d| d as u64).collect();
    let values = Vec::<f32>::try_from(t.contiguous().view([-1])).unwrap();
    write_npy(path, &shape, &values);
}

fn tiny_model(weights: Option<&std::path::Path>) -> SimilarityModel {
    let backbone = backbone::load(&BackboneConfig {
        kind: BackboneKind::Tiny,
        weights,
        device: Device::Cpu,
        // Unfolded batch norms: the same arithmetic as PyTorch's eval mode.
        inference: weights.is_none(),
        seed: 3,
    })
    .unwrap();
    SimilarityModel::zero_shot(backbone, None)
}

#[test]
fn maps_match_pytorch_grad_cam_within_1e4() {
    let dir = tempfile::tempdir().unwrap();
    // Pair 3 is one image twice: its gradients vanish and its maps must come back flat.
    let b = Tensor::cat(&[pixels(&[4, 5]).flip([3]).neg() + 255.0, pixels(&[3])], 0);
    let a = pixels(&[1, 2, 3]);
    let (pa, pb, w, out) = (
        dir.path().join("a.npy"),
        dir.path().join("b.npy"),
        dir.path().join("tiny.safetensors"),
        dir.path().join("golden"),
    );
    save(&a, &pa);
    save(&b, &pb);
    let s = |p: &std::path::Path| p.display().to_string();
    script(
        "golden_cam.py",
        &[
            "--export",
            &s(&w),
            "--a",
            &s(&pa),
            "--b",
            &s(&pb),
            "--units",
            "4",
            "2",
            "--out",
            &s(&out),
        ],
    );
    let model = tiny_model(Some(&w));
    let registry = registry();
    let mut worst = 0f32;
    for unit in [4usize, 2] {
        let grads =
            similarity_gradients(&model, &a, &b, Layer::Unit(unit), GradientPath::Auto).unwrap();
        // pytorch-grad-cam's five CAMs (occlusion, built in, has no counterpart there).
        for explainer in registry.all().filter(|e| e.name() != "occlusion") {
            for (target, sign) in [("s", 1.0), ("d", -1.0)] {
                let maps = saliency(explainer, &grads, &[sign; 3]).unwrap();
                for (side, rows) in [("a", &maps[..3]), ("b", &maps[3..])] {
                    let name = format!("{}_{unit}_{side}_{target}.npy", explainer.name());
                    let (shape, golden) = read_npy(&out.join(&name));
                    assert!(
                        rows[2].flat,
                        "{name}: identical images should give a flat map"
                    );
                    assert!(
                        !rows[0].flat && !rows[1].flat,
                        "{name}: unexpected flat map"
                    );
                    let ours: Vec<f32> = rows[..2].iter().flat_map(|m| m.values.clone()).collect();
                    let cells = ours.len();
                    let golden = &golden[..cells];
                    assert_eq!(shape[1..], [rows[0].height as u64, rows[0].width as u64]);
                    let diff = max_abs_diff(&ours, golden);
                    worst = worst.max(diff);
                }
            }
        }
    }
    eprintln!("explanation parity: worst difference {worst:.2e} over 5 methods, 2 layers");
    assert!(
        worst <= 1e-4,
        "maps differ from pytorch-grad-cam by up to {worst}"
    );
    assert!(
        worst <= 1e-4,
        "maps differ from pytorch-grad-cam by up to {worst}"
    );
}

#[test]
fn the_last_layer_shortcut_equals_the_general_path() {
    let model = tiny_model(None);
    let (a, b) = (pixels(&[7]), pixels(&[8, 9]));
    for explainer in registry().all() {
        let opts = ExplainOptions::default();
        let fast = explain_batch_with(
            &model,
            &a,
            &b,
            explainer,
            Layer::Last,
            GradientPath::Auto,
            &opts,
        );
        let slow = explain_batch_with(
            &model,
            &a,
            &b,
            explainer,
            Layer::Last,
            GradientPath::General,
            &opts,
        );
        for (f, s) in fast.unwrap().iter().zip(&slow.unwrap()) {
            for (x, y) in [
                (&f.a.factual, &s.a.factual),
                (&f.b.counterfactual, &s.b.counterfactual),
            ] {
                let diff = max_abs_diff(&x.values, &y.values);
                assert!(
                    diff < 1e-4,
                    "{}: shortcut differs by {diff}",
                    explainer.name()
                );
                assert!((x.raw_max - y.raw_max).abs() <= 1e-4 * y.raw_max.max(1e-12));
            }
        }
    }
}

#[test]
fn a_batch_equals_separate_calls_and_each_image_uses_its_own_branch() {
    let model = tiny_model(None);
    let gradcam = lookalike_explain::GradCam;
    let query = pixels(&[11]);
    let hits = pixels(&[12, 13, 14]);
    for layer in [Layer::Last, Layer::Unit(2)] {
        let batch = explain_batch(&model, &query, &hits, &gradcam, layer).unwrap();
        for (i, e) in batch.iter().enumerate() {
            let hit = hits.narrow(0, i as i64, 1);
            let one = &explain_batch(&model, &query, &hit, &gradcam, layer).unwrap()[0];
            assert!((e.similarity - one.similarity).abs() < 1e-5);
            assert!(max_abs_diff(&e.a.factual.values, &one.a.factual.values) < 1e-4);
            assert!(max_abs_diff(&e.b.factual.values, &one.b.factual.values) < 1e-4);
            // Swapping the pair swaps the maps: B's maps are B's own, not A's.
            let swapped = &explain_batch(&model, &hit, &query, &gradcam, layer).unwrap()[0];
            assert!(max_abs_diff(&e.b.factual.values, &swapped.a.factual.values) < 1e-4);
            assert!(
                max_abs_diff(&e.a.counterfactual.values, &swapped.b.counterfactual.values) < 1e-4
            );
            // The counterfactual explains the other target: Grad-CAM's channel weights flip sign,
            // so the factual and counterfactual maps cannot both light up the same cells.
            assert_ne!(e.a.factual.values, e.a.counterfactual.values);
        }
    }
}

#[test]
fn identical_images_fall_back_to_occlusion_not_flat_or_nan() {
    // s = cos(p, p) = 1 is at its maximum: the gradient with respect to p vanishes. The factual
    // maps come from feature-level occlusion instead; the counterfactual ones are truly flat
    // (masking any cell only lowers the similarity), and say so.
    let model = tiny_model(None);
    let x = pixels(&[21]);
    for explainer in registry().all() {
        let e = &explain_batch(&model, &x, &x, explainer, Layer::Last).unwrap()[0];
        assert!(e.same);
        for m in [&e.a.factual, &e.b.factual] {
            assert!(m.values.iter().all(|v| v.is_finite()));
            assert!(!m.flat, "{}: the factual map is flat", explainer.name());
            if explainer.name() != "occlusion" {
                assert_eq!(
                    m.fallback.as_deref(),
                    Some("occlusion"),
                    "{}",
                    explainer.name()
                );
            }
        }
        for m in [&e.a.counterfactual, &e.b.counterfactual] {
            assert!(m.flat && m.flat_reason.is_some(), "{}", explainer.name());
        }
    }
}

#[test]
fn correspondences_sum_to_the_zero_shot_similarity() {
    use lookalike_explain::correspondence::correspondence;
    let model = tiny_model(None);
    let (a, b) = (pixels(&[31]), pixels(&[32]));
    let c = correspondence(&model, &a, &b, Layer::Last).unwrap();
    let s = model.compare(&a, &b).unwrap().similarity;
    assert_eq!(c.matrix.len(), (c.grid.0 * c.grid.1).pow(2));
    assert!(
        (f64::from(c.cosine) - s).abs() < 1e-4,
        "{} vs {s}",
        c.cosine
    );
    let top = c.top(3);
    assert!(
        top[0].contribution >= top[1].contribution && top[1].contribution >= top[2].contribution
    );
    assert!(correspondence(&model, &a, &pixels(&[1, 2]), Layer::Last).is_err());
}
