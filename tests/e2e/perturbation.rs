//! The explainers made for similarity, on the tiny CNN with a Siamese metric head: what their
//! maths promises (Integrated Gradients and Shapley values add up to the score's change,
//! occlusion is the score's drop), the logit target's maps where the probability saturates,
//! identical pairs, and RISE's limits.

use lookalike_core::backbone::{self, BackboneConfig};
use lookalike_core::image::to_pixels;
use lookalike_core::siamese::{HeadKind, ModelConfig, SiameseHead};
use lookalike_core::{BackboneKind, SimilarityModel};
use lookalike_e2e::*;
use lookalike_explain::{
    explain_batch_with, score_gradients, ExplainOptions, Explainer, GradientPath, Layer, Probe,
    ScoreTarget,
};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

fn pixels(seeds: &[u32]) -> Tensor {
    let imgs: Vec<_> = seeds.iter().map(|&s| picture(96, 96, s)).collect();
    to_pixels(&imgs).unwrap()
}

fn tiny_backbone() -> Box<dyn lookalike_core::Backbone> {
    backbone::load(&BackboneConfig {
        kind: BackboneKind::Tiny,
        weights: None,
        device: Device::Cpu,
        inference: true,
        seed: 5,
    })
    .unwrap()
}

/// The tiny CNN under a metric head with seeded random weights and a bias that puts unrelated
/// pictures far past saturation, as a far-away catalogue does.
fn siamese(bias: f64) -> SimilarityModel {
    tch::manual_seed(11);
    let backbone = tiny_backbone();
    let vs = VarStore::new(Device::Cpu);
    let head = SiameseHead::new(&vs.root(), backbone.channels(), HeadKind::Metric);
    tch::no_grad(|| {
        for (name, mut t) in vs.variables() {
            if name == "pair.b" {
                let _ = t.fill_(bias);
            }
            if name == "pair.v" {
                let _ = t.fill_(1.0);
            }
        }
    });
    let config = ModelConfig {
        format: "lookalike-siamese".into(),
        format_version: 2,
        backbone: BackboneKind::Tiny,
        channels: backbone.channels(),
        embedding_dim: 256,
        head: HeadKind::Metric,
        threshold: 0.5,
        resize: 96,
        crop: 96,
        resize_only: false,
        invert: false,
        training: None,
        calibration: None,
        familiarity: None,
    };
    SimilarityModel::siamese(backbone, head, vs, config)
}

fn registry() -> lookalike_explain::Registry {
    lookalike_engine::explainers::registry()
}

/// The raw signed attribution of `explainer` for pairs (a, b), and the scores with one side
/// emptied (all-zero feature map), for checking completeness.
fn attribution(
    model: &SimilarityModel,
    explainer: &dyn Explainer,
    a: &Tensor,
    b: &Tensor,
) -> (Tensor, Vec<f64>, Vec<f64>) {
    attribution_at(model, explainer, a, b, Layer::Last)
}

/// [`attribution`] at `layer`.
fn attribution_at(
    model: &SimilarityModel,
    explainer: &dyn Explainer,
    a: &Tensor,
    b: &Tensor,
    layer: Layer,
) -> (Tensor, Vec<f64>, Vec<f64>) {
    let options = ExplainOptions::default();
    let grads = score_gradients(model, a, b, layer, GradientPath::Auto, options.target).unwrap();
    let probe = Probe {
        model,
        activations: &grads.activations,
        pixels_a: a,
        pixels_b: b,
        unit: grads.unit,
        options: &options,
    };
    let attr = explainer
        .attribute(&probe)
        .unwrap()
        .expect("a perturbation method");
    let n = grads.pairs() as i64;
    let pooled = probe.pooled().unwrap();
    let (pa, pb) = (pooled.narrow(0, 0, n), pooled.narrow(0, n, n));
    let zero = pa.zeros_like();
    let empty_a = probe.score_pooled(&zero, &pb).unwrap();
    let empty_b = probe.score_pooled(&pa, &zero).unwrap();
    let to = |t: Tensor| Vec::<f64>::try_from(t.to_kind(Kind::Double)).unwrap();
    let full = to(probe.score_pooled(&pa, &pb).unwrap());
    let drop_a: Vec<f64> = full.iter().zip(to(empty_a)).map(|(f, e)| f - e).collect();
    let drop_b: Vec<f64> = full.iter().zip(to(empty_b)).map(|(f, e)| f - e).collect();
    (attr, drop_a, drop_b)
}

#[test]
fn integrated_gradients_and_shapley_values_add_up_to_the_score_change() {
    let model = siamese(-5.0);
    let (a, b) = (pixels(&[1, 2]), pixels(&[3, 4]));
    let registry = registry();
    for name in ["integrated-gradients", "shapley"] {
        let (attr, drop_a, drop_b) = attribution(&model, registry.get(name).unwrap(), &a, &b);
        let sums = Vec::<f64>::try_from(attr.sum_dim_intlist(&[1i64, 2][..], false, Kind::Double))
            .unwrap();
        for i in 0..2 {
            for (sum, want) in [(sums[i], drop_a[i]), (sums[2 + i], drop_b[i])] {
                // Shapley is exact by construction; the Riemann sum of IG within 2%.
                let tol = if name == "shapley" { 1e-3 } else { 0.02 } * want.abs().max(1e-3);
                assert!(
                    (sum - want).abs() <= tol,
                    "{name}: cells sum to {sum}, the score changed by {want}"
                );
            }
        }
    }
}

#[test]
fn occlusion_is_the_score_drop_of_each_masked_cell() {
    let model = siamese(-5.0);
    let (a, b) = (pixels(&[5]), pixels(&[6]));
    let (attr, _, _) = attribution(&model, registry().get("occlusion").unwrap(), &a, &b);
    // By hand for cell (1, 2) of A: zero it, pool, score.
    let backbone = model.backbone();
    let fa = backbone.forward_units(&a, 0, backbone.units()).unwrap();
    let fb = backbone.forward_units(&b, 0, backbone.units()).unwrap();
    let score = |f: &Tensor| {
        let pa = f.mean_dim(&[2i64, 3][..], false, None);
        let pb = fb.mean_dim(&[2i64, 3][..], false, None);
        model
            .logit(&model.embed(&pa).unwrap(), &model.embed(&pb).unwrap())
            .unwrap()
            .double_value(&[0])
    };
    let masked = fa.copy();
    let _ = masked.narrow(2, 1, 1).narrow(3, 2, 1).fill_(0.0);
    let want = score(&fa) - score(&masked);
    let got = attr.double_value(&[0, 1, 2]);
    assert!(
        (got - want).abs() < 1e-3 * want.abs().max(1e-2),
        "{got} vs {want}"
    );
    // An earlier layer runs the rest of the network per masked map, and masks blocks of cells
    // (at most 7 × 7 of them): every cell of a block gets the drop of masking the whole block.
    let (attr, _, _) = attribution_at(
        &model,
        registry().get("occlusion").unwrap(),
        &a,
        &b,
        Layer::Unit(1),
    );
    let (h, w) = (attr.size()[1], attr.size()[2]);
    assert!(
        h >= 14 && w >= 14,
        "unit 1 is {h} × {w}: too small to test blocks"
    );
    let (bh, bw) = ((h + 6) / 7, (w + 6) / 7);
    let f1 = backbone.forward_units(&a, 0, 1).unwrap();
    let block = f1.ones_like();
    let _ = block.narrow(2, 0, bh).narrow(3, 0, bw).fill_(0.0);
    let tail = backbone
        .forward_units(&(&f1 * &block), 1, backbone.units())
        .unwrap();
    let want = score(&fa) - score(&tail);
    for (i, j) in [(0, 0), (bh - 1, bw - 1), (0, bw - 1)] {
        let got = attr.double_value(&[0, i, j]);
        assert!(
            (got - want).abs() < 1e-3 * want.abs().max(1e-2),
            "cell ({i}, {j}): {got} vs {want}"
        );
    }
    let next = attr.double_value(&[0, 0, bw]);
    assert!(
        (next - want).abs() > 1e-9,
        "the next block has its own drop"
    );
    let options = ExplainOptions::default();
    let e = explain_batch_with(
        &model,
        &a,
        &b,
        registry().get("occlusion").unwrap(),
        Layer::Unit(2),
        GradientPath::Auto,
        &options,
    )
    .unwrap();
    assert!(!e[0].a.factual.flat || !e[0].a.counterfactual.flat);
}

#[test]
fn the_logit_target_explains_a_saturated_pair_that_the_probability_cannot() {
    // A bias of 200: every pair's probability of "same" is 0 to machine precision.
    let model = siamese(200.0);
    let (a, b) = (pixels(&[7]), pixels(&[8, 9]));
    let gradcam = registry();
    let gradcam = gradcam.get("gradcam").unwrap();
    let run = |target| {
        let options = ExplainOptions {
            target,
            ..ExplainOptions::default()
        };
        explain_batch_with(
            &model,
            &a,
            &b,
            gradcam,
            Layer::Last,
            GradientPath::Auto,
            &options,
        )
        .unwrap()
    };
    let by_logit = run(ScoreTarget::Logit);
    let by_probability = run(ScoreTarget::Probability);
    for (l, p) in by_logit.iter().zip(&by_probability) {
        assert!(l.similarity < 1e-12 && !l.same);
        assert!(l.logit < -150.0, "{}", l.logit);
        for side in [&l.a, &l.b] {
            assert!(
                !side.factual.flat || !side.counterfactual.flat,
                "the logit's maps must carry signal: {:?} / {:?} (raw max {} / {})",
                side.factual.flat_reason,
                side.counterfactual.flat_reason,
                side.factual.raw_max,
                side.counterfactual.raw_max,
            );
        }
        assert!(
            p.a.factual.flat,
            "the saturated probability has no gradient"
        );
        let reason = p.a.factual.flat_reason.as_deref().unwrap_or_default();
        assert!(
            reason.contains("saturated") && reason.contains("logit"),
            "{reason}"
        );
    }
    // The two hits' logits differ even though both similarities read 0.
    assert_ne!(by_logit[0].logit, by_logit[1].logit);
}

#[test]
fn identical_images_under_a_head_get_occlusion_maps() {
    let model = siamese(-5.0);
    let x = pixels(&[10]);
    let e = &explain_batch_with(
        &model,
        &x,
        &x,
        registry().get("gradcam").unwrap(),
        Layer::Last,
        GradientPath::Auto,
        &ExplainOptions::default(),
    )
    .unwrap()[0];
    assert!(e.same);
    assert!(!e.a.factual.flat && e.a.factual.fallback.as_deref() == Some("occlusion"));
    assert!(e.a.counterfactual.flat && e.a.counterfactual.flat_reason.is_some());
}

/// RISE at the last layer on the pair (`a`, `b`) with these options.
fn rise(
    model: &SimilarityModel,
    a: &Tensor,
    b: &Tensor,
    options: &ExplainOptions,
) -> lookalike_explain::Result<Vec<lookalike_explain::PairExplanation>> {
    let registry = registry();
    let rise = registry.get("rise").unwrap();
    explain_batch_with(model, a, b, rise, Layer::Last, GradientPath::Auto, options)
}

#[test]
fn rise_is_seeded_and_refuses_more_masks_than_its_limit() {
    let model = siamese(-5.0);
    let (a, b) = (pixels(&[12]), pixels(&[13]));
    let options = ExplainOptions {
        masks: Some(60),
        ..ExplainOptions::default()
    };
    let run = || rise(&model, &a, &b, &options).unwrap();
    let (one, two) = (run(), run());
    assert_eq!(one[0].a.factual.values, two[0].a.factual.values);
    assert_eq!((one[0].a.factual.height, one[0].a.factual.width), (12, 12));
    assert!(!one[0].a.factual.flat || !one[0].a.counterfactual.flat);
    let too_many = ExplainOptions {
        masks: Some(3000),
        max_masks: 2000,
        ..ExplainOptions::default()
    };
    let err = rise(&model, &a, &b, &too_many).unwrap_err().to_string();
    assert!(
        err.contains("3000 RISE masks") && err.contains("limit is 2000"),
        "{err}"
    );
}

#[test]
fn rise_for_image_a_alone_gives_the_same_a_maps_and_leaves_b_out() {
    let model = siamese(-5.0);
    let (a, b) = (pixels(&[14]), pixels(&[15]));
    let run = |options: &ExplainOptions| rise(&model, &a, &b, options).unwrap().swap_remove(0);
    let both = ExplainOptions {
        masks: Some(40),
        ..ExplainOptions::default()
    };
    let (whole, a_only) = (
        run(&both),
        run(&ExplainOptions {
            only_a: true,
            ..both
        }),
    );
    assert_eq!(whole.a.factual.values, a_only.a.factual.values);
    assert_eq!(
        whole.a.counterfactual.values,
        a_only.a.counterfactual.values
    );
    assert!(!whole.b.factual.flat || !whole.b.counterfactual.flat);
    assert!(a_only.b.factual.flat && a_only.b.counterfactual.flat);
    // Another mask shape gives another map of A; a shape out of range is refused by name.
    let coarse = run(&ExplainOptions {
        mask_grid: Some(3),
        mask_keep: Some(0.7),
        ..both
    });
    assert_ne!(coarse.a.factual.values, whole.a.factual.values);
    let bad = ExplainOptions {
        mask_keep: Some(1.5),
        ..both
    };
    let err = rise(&model, &a, &b, &bad).unwrap_err().to_string();
    assert!(err.contains("RISE masks keeping 1.5"), "{err}");
}
