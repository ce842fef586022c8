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
