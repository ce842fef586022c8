//! `lookalike explain` run as a user runs it: four RGB overlays and a JSON summary on generated
//! images, and clear errors for bad input.

use lookalike_e2e::*;

fn two_images(dir: &std::path::Path) -> (String, String) {
    let (a, b) = (dir.join("a.png"), dir.join("b.png"));
    picture(160, 120, 1).save(&a).unwrap();
    picture(120, 160, 2).save(&b).unwrap();
    (a.display().to_string(), b.display().to_string())
}

#[test]
fn explain_writes_four_overlays_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_images(dir.path());
    let out = dir.path().join("why");
    let o = out.display().to_string();
    for (method, layer) in [("gradcam", "last"), ("gradcam++", "2"), ("xgradcam", "3")] {
        let run = lookalike(&[
            "explain",
            "--model",
            "zero-shot",
            "--backbone",
            "tiny",
            &a,
            &b,
            "--out",
            &o,
            "--method",
            method,
            "--layer",
            layer,
            "--json",
        ]);
        let (stdout, stderr) = text(&run);
        assert!(run.status.success(), "{stderr}");
        let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(v["method"], method);
        let s = v["similarity"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&s));
        assert_eq!(
            v["same"],
            v["distance"].as_f64().unwrap() < v["threshold"].as_f64().unwrap()
        );
        assert_eq!(
            v["factual_target"],
            if v["same"] == true {
                "similarity"
            } else {
                "distance"
            }
        );
        let expected_layer = if layer == "last" {
            4
        } else {
            layer.parse().unwrap()
        };
        assert_eq!(v["layer"], expected_layer);
        for key in [
            "a_factual",
            "a_counterfactual",
            "b_factual",
            "b_counterfactual",
        ] {
            let m = &v["maps"][key];
            assert!(m["raw_max"].as_f64().unwrap() >= 0.0);
            assert!(m["flat"].is_boolean());
            let png = image::open(out.join(m["png"].as_str().unwrap())).unwrap();
            assert_eq!((png.width(), png.height()), (224, 224));
            if m["flat"] == false {
                let bx = &m["box"];
                assert!(bx["x1"].as_u64().unwrap() > bx["x0"].as_u64().unwrap());
            }
        }
        let top = v["correspondences"]["top"].as_array().unwrap();
        assert_eq!(top.len(), 10);
        assert!(top[0]["contribution"].as_f64() >= top[9]["contribution"].as_f64());
        let full: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("explanation.json")).unwrap()).unwrap();
        let grid = &full["grids"]["a_factual"];
        let cells = grid["height"].as_u64().unwrap() * grid["width"].as_u64().unwrap();
        assert_eq!(grid["values"].as_array().unwrap().len() as u64, cells);
    }
}

#[test]
fn explain_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_images(dir.path());
    let o = dir.path().join("out").display().to_string();
    let base = ["explain", "--model", "zero-shot", "--backbone", "tiny"];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let check = |args: Vec<String>, needle: &str| {
        fails_with(&args.iter().map(String::as_str).collect::<Vec<_>>(), needle)
    };
    check(
        with(&[&a, &b, "--out", &o, "--method", "magic"]),
        "unknown explanation method \"magic\"",
    );
    check(
        with(&[&a, &b, "--out", &o, "--layer", "9"]),
        "layer 9 is out of range",
    );
    check(
        with(&[&a, &b, "--out", &o, "--layer", "deep"]),
        "--layer \"deep\"",
    );
    let broken = dir.path().join("broken.png");
    std::fs::write(&broken, b"not an image").unwrap();
    check(
        with(&[&a, &broken.display().to_string(), "--out", &o]),
        "broken.png",
    );
    fails_with(
        &[
            "explain",
            "--model",
            "/nonexistent/model",
            &a,
            &b,
            "--out",
            &o,
        ],
        "/nonexistent/model",
    );
}

#[test]
fn crop_writes_one_cropped_image_per_input_inside_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shapes");
    shapes_dataset(&data, 2, 4, 5);
    let out = dir.path().join("cropped");
    let run = lookalike(&[
        "crop",
        "--model",
        "zero-shot",
        "--backbone",
        "tiny",
        "--data",
        &data.display().to_string(),
        "--out",
        &out.display().to_string(),
        "-q",
    ]);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{stderr}");
    assert!(stdout.contains("of 8 images"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("crops.json")).unwrap()).unwrap();
    let rows = report.as_array().unwrap();
    assert_eq!(rows.len(), 8);
    for r in rows {
        let img = image::open(r["out"].as_str().unwrap()).unwrap();
        assert!(img.width() <= 64 && img.height() <= 64);
        if let Some(b) = r["box"].as_object() {
            let w = b["x1"].as_u64().unwrap() - b["x0"].as_u64().unwrap();
            assert_eq!(u64::from(img.width()), w);
            assert!(b["x1"].as_u64().unwrap() <= 64 && b["y1"].as_u64().unwrap() <= 64);
        }
        // The partner is another image of the same class.
        let (a, p) = (r["image"].as_str().unwrap(), r["partner"].as_str().unwrap());
        assert_ne!(a, p);
        let class = |s: &str| std::path::Path::new(s).parent().unwrap().to_path_buf();
        assert_eq!(class(a), class(p));
    }
}

#[test]
fn eval_explanations_reports_every_method_and_the_random_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shapes");
    shapes_dataset(&data, 2, 4, 9);
    let run = lookalike(&[
        "eval-explanations",
        "--model",
        "zero-shot",
        "--backbone",
        "tiny",
        "--data",
        &data.display().to_string(),
        "--all-methods",
        "--pairs",
        "3",
        "--steps",
        "4",
        "--json",
    ]);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let methods = v["methods"].as_object().unwrap();
    for m in [
        "gradcam",
        "gradcam++",
        "xgradcam",
        "hirescam",
        "layercam",
        "random",
    ] {
        let auc = |k: &str| methods[m][k].as_f64();
        if methods.contains_key(m) {
            for k in ["deletion_auc", "insertion_auc"] {
                let a = auc(k).unwrap();
                assert!((0.0..=1.0).contains(&a), "{m} {k} {a}");
            }
        }
    }
    assert!(methods.contains_key("random"));
    // Every method is averaged over the same pairs: a pair where one map is flat counts for none.
    let counted: Vec<u64> = methods
        .values()
        .map(|s| s["pairs"].as_u64().unwrap())
        .collect();
    assert!(counted.iter().all(|&n| n == counted[0]), "{methods:?}");
    let most_flat = methods
        .values()
        .map(|s| s["flat"].as_u64().unwrap())
        .max()
        .unwrap();
    assert!(counted[0] + most_flat <= 3, "{methods:?}");
    fails_with(
        &[
            "eval-explanations",
            "--model",
            "zero-shot",
            "--backbone",
            "tiny",
            "--data",
            &data.display().to_string(),
            "--method",
            "nope",
        ],
        "unknown explanation method",
    );
}
