//! Times explaining a query's top 10 hits with EfficientNet-Lite0 (zero-shot): one batched call
//! against ten separate calls, at the last layer and at an earlier one. Run by
//! `scripts/bench_explain.py`, which also times pytorch-grad-cam on the same model and pixels.
//!
//! It also times the feature-level methods (occlusion, Integrated Gradients, Shapley) on the same
//! batch, to show what they add to Grad-CAM.
//!
//! `cargo run --release -p lookalike-engine --example bench_explain -- WEIGHTS PIXELS.npy`,
//! where PIXELS is `[1 + k, 3, 224, 224]` float pixels (the query first). Prints one JSON line.

use std::time::Instant;

use lookalike_core::backbone::{self, BackboneConfig};
use lookalike_core::{BackboneKind, SimilarityModel};
use lookalike_explain::{explain_pairs, GradCam, Layer};
use tch::{Device, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (weights, pixels) = (std::path::Path::new(&args[1]), std::fs::read(&args[2])?);
    let npy = npyz::NpyFile::new(&pixels[..])?;
    let shape: Vec<i64> = npy.shape().iter().map(|&d| d as i64).collect();
    let values = npy.into_vec::<f32>()?;
    let all = Tensor::from_slice(&values).view(&shape[..]);
    let (query, hits) = (all.narrow(0, 0, 1), all.narrow(0, 1, shape[0] - 1));
    let k = hits.size()[0];
    let backbone = backbone::load(&BackboneConfig {
        kind: BackboneKind::EfficientNetLite0,
        weights: Some(weights),
        device: Device::Cpu,
        inference: true,
        seed: 0,
    })?;
    let model = SimilarityModel::zero_shot(backbone, None);
    let opts = lookalike_explain::ExplainOptions::default();
    let mut out = serde_json::Map::new();
    // The floor: one plain forward of the query and its hits.
    let mut forward = f64::MAX;
    for _ in 0..4 {
        let t = Instant::now();
        let _ = model.embed_pixels(&all)?;
        forward = forward.min(t.elapsed().as_secs_f64());
    }
    out.insert("forward_only_s".into(), forward.into());
    // Warm-up: libtorch's CPU kernels are set up per shape on first use, so run every measured
    // call once before timing anything.
    for layer in [Layer::Last, Layer::Unit(12)] {
        explain_pairs(&model, &query, &hits, &GradCam, layer, &opts)?;
        explain_pairs(
            &model,
            &query,
            &hits.narrow(0, 0, 1),
            &GradCam,
            layer,
            &opts,
        )?;
    }
    for (name, layer) in [("last", Layer::Last), ("unit12", Layer::Unit(12))] {
        // The best of three.
        let mut batched = f64::MAX;
        let mut separate = f64::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            let e = explain_pairs(&model, &query, &hits, &GradCam, layer, &opts)?;
            assert_eq!(e.len() as i64, k);
            batched = batched.min(t.elapsed().as_secs_f64());
            let t = Instant::now();
            for i in 0..k {
                explain_pairs(
                    &model,
                    &query,
                    &hits.narrow(0, i, 1),
                    &GradCam,
                    layer,
                    &opts,
                )?;
            }
            separate = separate.min(t.elapsed().as_secs_f64());
        }
        out.insert(format!("{name}_batched_s"), batched.into());
        out.insert(format!("{name}_separate_s"), separate.into());
    }
    // What the feature-level methods add, batched at the last layer (best of three).
    let registry = lookalike_engine::explainers::registry();
    for name in ["occlusion", "integrated-gradients", "shapley"] {
        let method = registry.get(name)?;
        explain_pairs(&model, &query, &hits, method, Layer::Last, &opts)?;
        let mut best = f64::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            explain_pairs(&model, &query, &hits, method, Layer::Last, &opts)?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        out.insert(format!("last_{name}_batched_s"), best.into());
    }
    out.insert("hits".into(), k.into());
    out.insert("threads".into(), tch::get_num_threads().into());
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}
