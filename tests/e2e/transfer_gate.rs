//! The transfer gate: a trained model records how surprising its own validation images are;
//! `eval` on another domain then ranks with the zero-shot backbone, `index create --sample`
//! makes the same choice for a collection, and a collection that grows into another domain
//! says so.

use std::path::Path;

use lookalike_e2e::lookalike_json as json;
use lookalike_e2e::*;

/// Dark strokes on white, one folder per character: nothing like the coloured shapes.
fn glyph_folder(dir: &Path, classes: u32, per_class: u32) {
    for c in 0..classes {
        let folder = dir.join(format!("glyph-{c}"));
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..per_class {
            glyph(c, i, 64, 3)
                .save(folder.join(format!("{i:02}.png")))
                .unwrap();
        }
    }
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
        "1",
        "--epochs",
        "3",
        "--augment",
        "0",
        "--json",
    ]);
}

/// `lookalike eval --model MODEL --data DATA -q EXTRA...` as JSON.
fn eval(model: &Path, data: &Path, extra: &[&str]) -> serde_json::Value {
    let (model, data) = (model.to_str().unwrap(), data.to_str().unwrap());
    let mut args = vec!["eval", "--model", model, "--data", data, "-q"];
    args.extend_from_slice(extra);
    json(&args)
}

#[test]
fn another_domain_ranks_zero_shot_in_eval_and_in_a_sampled_collection() {
    let dir = tempfile::tempdir().unwrap();
    let (shapes, glyphs) = (dir.path().join("shapes"), dir.path().join("glyphs"));
    // 3 × 48 images: 21 validation images, enough for a profile.
    shapes_dataset(&shapes, 3, 48, 5);
    glyph_folder(&glyphs, 3, 12);
    let model = dir.path().join("model");
    train(&shapes, &model);
    let m = model.to_str().unwrap();

    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("model.json")).unwrap()).unwrap();
    let profile = &config["familiarity"];
    assert_eq!(profile["images"], 21, "{profile}");
    let (median, p95) = (
        profile["median"].as_f64().unwrap(),
        profile["p95"].as_f64().unwrap(),
    );
    assert!(median > 0.0 && p95 > median, "{profile}");

    // Its own kind of image: the head ranks, and the gate's figures are the head's.
    let own = eval(&model, &shapes, &["--json"]);
    let gate = &own["gate"];
    assert_eq!(gate["verdict"], "familiar", "{gate}");
    assert_eq!(gate["ranks_with"], "head");
    assert_eq!(gate["figures"]["map"], own["map"]);
    assert!(gate["share"].as_f64().unwrap() < 0.25, "{gate}");

    // Glyphs: unfamiliar, so the gate's figures are zero-shot's, never below them.
    let other = eval(&model, &glyphs, &["--json"]);
    let gate = &other["gate"];
    assert_eq!(gate["verdict"], "unfamiliar", "{gate}");
    assert_eq!(gate["ranks_with"], "zero-shot");
    assert_eq!(gate["images"], 36);
    for figure in ["precision_at_10", "map", "roc_auc"] {
        assert_eq!(
            gate["figures"][figure], other["zero_shot"]["figures"][figure],
            "{figure}"
        );
    }
    // Without the zero-shot figures the gate still says what it picks, with no figures.
    let bare = eval(&model, &glyphs, &["--no-zero-shot", "--json"]);
    assert_eq!(bare["gate"]["ranks_with"], "zero-shot");
    assert!(bare["gate"].get("figures").is_none(), "{bare}");
    let text = lookalike(&[
        "eval",
        "--model",
        m,
        "--data",
        glyphs.to_str().unwrap(),
        "-q",
    ]);
    let (stdout, _) = lookalike_e2e::text(&text);
    assert!(
        stdout.contains("unlike the model's training images")
            && stdout.contains("ranks with the zero-shot"),
        "{stdout}"
    );

    // A collection for glyphs, created with a sample of them: zero-shot over the model's own
    // (frozen, pretrained) backbone, saying what it replaced.
    let data = dir.path().join("collections");
    let d = data.to_str().unwrap();
    let create = |name: &str, sample: &Path| {
        let run = lookalike(&[
            "index",
            "create",
            name,
            "--model",
            m,
            "--sample",
            sample.to_str().unwrap(),
            "--data-dir",
            d,
        ]);
        let (out, err) = lookalike_e2e::text(&run);
        assert!(run.status.success(), "{err}");
        (out, err)
    };
    let (_, err) = create("letters", &glyphs);
    assert!(err.contains("so the collection ranks zero-shot"), "{err}");
    let stored: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data.join("letters/collection.json")).unwrap(),
    )
    .unwrap();
    assert!(stored["model"]["path"].is_null(), "{stored}");
    assert_eq!(
        stored["model"]["instead_of"].as_str().unwrap(),
        std::path::absolute(&model).unwrap().to_str().unwrap()
    );
    assert_eq!(
        stored["model"]["weights"].as_str().unwrap(),
        std::path::absolute(model.join("backbone.safetensors"))
            .unwrap()
            .to_str()
            .unwrap()
    );
    let info = json(&["index", "info", "letters", "--data-dir", d, "--json"]);
    assert!(
        info["model"].as_str().unwrap().contains("instead of"),
        "{info}"
    );
    // Shapes with a sample of shapes keep the trained head.
    let (_, err) = create("things", &shapes);
    assert!(err.contains("like the model's training images"), "{err}");
    let info = json(&["index", "info", "things", "--data-dir", d, "--json"]);
    assert!(
        info["model"].as_str().unwrap().contains("model (tiny)"),
        "{info}"
    );

    // The trained collection, grown with glyphs: counted, and said.
    let run = lookalike(&[
        "index",
        "add",
        "things",
        glyphs.to_str().unwrap(),
        "--data-dir",
        d,
        "-q",
    ]);
    let (_, err) = lookalike_e2e::text(&run);
    assert!(run.status.success(), "{err}");
    assert!(err.contains("warning: these images are unlike"), "{err}");
    let info = json(&["index", "info", "things", "--data-dir", d, "--json"]);
    let f = &info["familiarity"];
    assert_eq!(
        (f["images"].as_u64(), f["verdict"].as_str()),
        (Some(36), Some("unfamiliar")),
        "{f}"
    );
    assert!(
        f["unfamiliar"].as_u64().unwrap() >= 9,
        "a quarter of 36: {f}"
    );
    // Counted once: adding the same files again stores nothing and counts nothing.
    lookalike(&[
        "index",
        "add",
        "things",
        glyphs.to_str().unwrap(),
        "--data-dir",
        d,
        "-q",
    ]);
    let again = json(&["index", "info", "things", "--data-dir", d, "--json"]);
    assert_eq!(again["familiarity"], info["familiarity"]);
    // The shapes tip it back.
    lookalike(&[
        "index",
        "add",
        "things",
        shapes.to_str().unwrap(),
        "--data-dir",
        d,
        "-q",
    ]);
    let info = json(&["index", "info", "things", "--data-dir", d, "--json"]);
    assert_eq!(info["familiarity"]["images"], 36 + 144, "{info}");

    // Bad input.
    fails_with(
        &[
            "index",
            "create",
            "z",
            "--model",
            "zero-shot",
            "--backbone",
            "tiny",
            "--sample",
            glyphs.to_str().unwrap(),
            "--data-dir",
            d,
        ],
        "--sample is for a trained model",
    );
    fails_with(
        &[
            "index",
            "create",
            "z",
            "--model",
            m,
            "--sample",
            "/no/such/folder",
            "--data-dir",
            d,
        ],
        "no such folder",
    );
    let few = dir.path().join("few");
    glyph_folder(&few, 1, 5);
    fails_with(
        &[
            "index",
            "create",
            "z",
            "--model",
            m,
            "--sample",
            few.to_str().unwrap(),
            "--data-dir",
            d,
        ],
        "too few to judge",
    );
    // A model folder from before profiles were recorded.
    let old = dir.path().join("old-model");
    std::fs::create_dir_all(&old).unwrap();
    for f in ["head.safetensors", "backbone.safetensors"] {
        std::fs::copy(model.join(f), old.join(f)).unwrap();
    }
    let mut config = config.clone();
    config.as_object_mut().unwrap().remove("familiarity");
    std::fs::write(old.join("model.json"), config.to_string()).unwrap();
    fails_with(
        &[
            "index",
            "create",
            "z",
            "--model",
            old.to_str().unwrap(),
            "--sample",
            glyphs.to_str().unwrap(),
            "--data-dir",
            d,
        ],
        "records no familiarity profile",
    );
    assert!(!data.join("z").exists(), "a refused create leaves nothing");
    // Its eval has no gate, and says nothing false.
    let plain = eval(&old, &glyphs, &["--json"]);
    assert!(plain.get("gate").is_none(), "{plain}");
}
