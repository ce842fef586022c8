//! Scores a person can read, as a user meets them: a trained model's calibrated similarity and
//! its logit, a version-1 model folder, a zero-shot collection calibrated on a labelled folder,
//! the "nothing like this here" notice, and the bad inputs of all of it.

use std::path::Path;

use image::{Rgb, RgbImage};
use lookalike_e2e::*;
use serde_json::Value;

fn json(args: &[&str]) -> Value {
    let run = lookalike(args);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{args:?} failed:\n{stderr}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn train(data: &Path, out: &Path) {
    json(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--backbone",
        "tiny",
        "--seed",
        "3",
        "--augment",
        "0",
        "--json",
    ]);
}

/// A picture from "another domain": smooth colour waves, nothing like the shapes.
fn far_picture(path: &Path) {
    RgbImage::from_fn(64, 64, |x, y| {
        let v = |f: f32| (127.0 + 120.0 * f.sin()) as u8;
        Rgb([
            v(x as f32 / 3.0),
            v(y as f32 / 5.0 + 1.0),
            v((x + y) as f32 / 7.0),
        ])
    })
    .save(path)
    .unwrap();
}

#[test]
fn a_trained_model_is_calibrated_and_reports_its_logit_and_calibration_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shapes");
    shapes_dataset(&data, 3, 30, 4);
    let model = dir.path().join("m");
    train(&data, &model);
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("model.json")).unwrap()).unwrap();
    assert_eq!(config["format_version"], 2);
    let calibration = &config["calibration"];
    assert_eq!(calibration["method"], "platt");
    assert!(
        calibration["scale"].as_f64().unwrap() > 0.0,
        "{calibration}"
    );
    assert!(calibration["pairs"].as_u64().unwrap() > 10);

    let (m, d) = (model.to_str().unwrap(), data.to_str().unwrap());
    let eval = json(&[
        "eval", "--model", m, "--data", d, "--split", "test", "--json",
    ]);
    let ece = eval["ece"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&ece), "{eval}");

    let a = data.join("disc/000.png");
    let far = dir.path().join("far.png");
    far_picture(&far);
    let same = json(&[
        "compare",
        "--model",
        m,
        a.to_str().unwrap(),
        a.to_str().unwrap(),
        "--json",
    ]);
    let other = json(&[
        "compare",
        "--model",
        m,
        a.to_str().unwrap(),
        far.to_str().unwrap(),
        "--json",
    ]);
    let (ls, lo) = (
        same["logit"].as_f64().unwrap(),
        other["logit"].as_f64().unwrap(),
    );
    assert!(ls > lo, "an image is more like itself: {ls} vs {lo}");
    let s = same["similarity"].as_f64().unwrap();
    let p = 1.0
        / (1.0
            + (-(calibration["scale"].as_f64().unwrap() * ls
                + calibration["offset"].as_f64().unwrap()))
            .exp());
    assert!(
        (s - p).abs() < 1e-6,
        "similarity {s} is the calibrated probability {p}"
    );

    // A version-1 folder (no calibration) still loads, with a note, and reads σ(logit).
    let mut v1 = config.clone();
    v1["format_version"] = 1.into();
    v1.as_object_mut().unwrap().remove("calibration");
    std::fs::write(model.join("model.json"), v1.to_string()).unwrap();
    let run = lookalike(&[
        "compare",
        "--model",
        m,
        a.to_str().unwrap(),
        far.to_str().unwrap(),
        "--json",
    ]);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("format version 1") && stderr.contains("uncalibrated"),
        "{stderr}"
    );
    let old: Value = serde_json::from_str(stdout.trim()).unwrap();
    let sigmoid = 1.0 / (1.0 + (-old["logit"].as_f64().unwrap()).exp());
    assert!((old["similarity"].as_f64().unwrap() - sigmoid).abs() < 1e-9);

    // Bad input: an unknown explanation target.
    fails_with(
        &[
            "explain",
            "--model",
            m,
            a.to_str().unwrap(),
            far.to_str().unwrap(),
            "--out",
            dir.path().join("why").to_str().unwrap(),
            "--target",
            "odds",
        ],
        "unknown --target \"odds\": expected logit or probability",
    );
    fails_with(
        &[
            "explain",
            "--model",
            m,
            a.to_str().unwrap(),
            far.to_str().unwrap(),
            "--out",
            dir.path().join("why").to_str().unwrap(),
            "--method",
            "rise",
            "--masks",
            "5000",
        ],
        "5000 RISE masks asked for, but the limit is 2000",
    );
}

#[test]
fn a_far_query_is_out_of_the_catalogue_and_a_catalogue_image_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shapes");
    shapes_dataset(&data, 3, 30, 5);
    let model = dir.path().join("m");
    train(&data, &model);
    let index = dir.path().join("index");
    let di = index.to_str().unwrap();
    let run = lookalike(&[
        "index",
        "create",
        "shop2",
        "--model",
        model.to_str().unwrap(),
        "--data-dir",
        di,
    ]);
    assert!(run.status.success());
    let run = lookalike(&[
        "index",
        "add",
        "shop2",
        data.to_str().unwrap(),
        "--data-dir",
        di,
        "--quiet",
    ]);
    assert!(run.status.success(), "{}", text(&run).1);
    assert!(index.join("shop2/neighbours.json").is_file());

    let far = dir.path().join("far.png");
    far_picture(&far);
    let search = |q: &Path| {
        json(&[
            "search",
            "shop2",
            q.to_str().unwrap(),
            "-k",
            "12",
            "--json",
            "--data-dir",
            di,
        ])
    };
    let out = search(&far);
    assert_eq!(out["out_of_catalogue"], true, "{out}");
    let novelty = &out["novelty"];
    assert!(novelty["percentile"].as_f64().unwrap() < 1.0, "{novelty}");
    let hits = out["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 12);
    let logits: Vec<f64> = hits.iter().map(|h| h["logit"].as_f64().unwrap()).collect();
    assert!(
        logits.windows(2).all(|w| w[0] >= w[1]),
        "ranked by logit: {logits:?}"
    );
    assert!(logits.first() != logits.last(), "{logits:?}");

    let own = data.join("bars/007.png");
    let out = search(&own);
    assert_eq!(out["out_of_catalogue"], false, "{out}");
    let first = &out["hits"][0];
    assert!(
        first["path"].as_str().unwrap().ends_with("bars/007.png"),
        "{first}"
    );
    let top = first["similarity"].as_f64().unwrap();
    assert!(out["hits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["similarity"].as_f64().unwrap() <= top));

    // The CLI says it in words too.
    let run = lookalike(&["search", "shop2", far.to_str().unwrap(), "--data-dir", di]);
    assert!(
        text(&run).0.contains("nothing like this here"),
        "{}",
        text(&run).0
    );
}

#[test]
fn a_zero_shot_collection_is_calibrated_on_a_labelled_folder_and_one_class_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shapes");
    shapes_dataset(&data, 3, 12, 6);
    let index = dir.path().join("index");
    let di = index.to_str().unwrap();
    let zero = [
        "--model",
        "zero-shot",
        "--backbone",
        "tiny",
        "--data-dir",
        di,
    ];
    let mut args = vec!["index", "create", "cal"];
    args.extend_from_slice(&zero);
    args.extend_from_slice(&["--calibrate", data.to_str().unwrap()]);
    let run = lookalike(&args);
    assert!(run.status.success(), "{}", text(&run).1);
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(index.join("cal/collection.json")).unwrap())
            .unwrap();
    assert_eq!(
        config["model"]["calibration"]["method"], "platt",
        "{config}"
    );

    let one = dir.path().join("one");
    shapes_dataset(&one, 1, 5, 6);
    let mut args = vec!["index", "create", "bad"];
    args.extend_from_slice(&zero);
    args.extend_from_slice(&["--calibrate", one.to_str().unwrap()]);
    fails_with(&args, "at least two classes");
    assert!(
        !index.join("bad").exists(),
        "a refused calibration leaves no collection"
    );
}
