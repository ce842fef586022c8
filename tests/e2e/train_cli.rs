//! `lookalike train`, `eval` and `compare` as a user runs them, on generated classes with the
//! tiny CNN (fast), and their bad inputs.

use std::path::Path;

use lookalike_e2e::*;
use serde_json::Value;

use lookalike_e2e::lookalike_json as json;

/// `lookalike eval --split test --seed SEED --json` of a trained model.
fn eval_test_split(model: &str, data: &Path, seed: &str) -> Value {
    json(&[
        "eval",
        "--model",
        model,
        "--data",
        data.to_str().unwrap(),
        "--split",
        "test",
        "--seed",
        seed,
        "--json",
    ])
}

fn train(data: &Path, out: &Path, seed: &str) -> Value {
    train_with(data, out, seed, &["--augment", "1"])
}

/// `lookalike train` of the tiny CNN with `extra` options, as JSON.
fn train_with(data: &Path, out: &Path, seed: &str, extra: &[&str]) -> Value {
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    let mut args = vec![
        "train",
        "--data",
        d,
        "--out",
        o,
        "--backbone",
        "tiny",
        "--seed",
        seed,
        "--json",
    ];
    args.extend_from_slice(extra);
    json(&args)
}

#[test]
fn training_learns_generated_classes_repeatably_and_eval_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shapes");
    shapes_dataset(&data, 4, 40, 1);
    std::fs::write(data.join("disc/broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();

    let (m1, m2) = (dir.path().join("m1"), dir.path().join("m2"));
    let first = train(&data, &m1, "5");
    assert_eq!(
        first["skipped"], 1,
        "the broken file is skipped and counted"
    );
    let test = &first["test"];
    for key in [
        "pair_accuracy",
        "roc_auc",
        "precision",
        "recall",
        "f1",
        "precision_at_10",
        "map",
        "pairs",
        "images",
    ] {
        assert!(test.get(key).is_some(), "missing {key} in {test}");
    }
    let auc = test["roc_auc"].as_f64().unwrap();
    let acc = test["pair_accuracy"].as_f64().unwrap();
    assert!(
        auc > 0.8 && acc > 0.7,
        "clearly better than chance (0.5): AUC {auc}, accuracy {acc}"
    );

    // The same seed gives the same model, bit for bit.
    let second = train(&data, &m2, "5");
    assert_eq!(first["test"], second["test"]);
    for file in ["head.safetensors", "backbone.safetensors"] {
        assert_eq!(
            std::fs::read(m1.join(file)).unwrap(),
            std::fs::read(m2.join(file)).unwrap(),
            "{file}"
        );
    }

    // eval on the recorded test split with the training seed reproduces the figures.
    let m = m1.to_str().unwrap();
    let mut eval = eval_test_split(m, &data, "5");
    let beside = eval
        .as_object_mut()
        .unwrap()
        .remove("zero_shot")
        .expect("a trained model's figures come with the zero-shot ones");
    // Its own test images are familiar: the transfer gate keeps the head's figures.
    let gate = eval.as_object_mut().unwrap().remove("gate").unwrap();
    assert_eq!(gate["ranks_with"], "head", "{gate}");
    assert_eq!(gate["figures"], first["test"]);
    assert_eq!(eval, first["test"]);
    assert!(
        beside["note"].as_str().unwrap().contains("frozen tiny"),
        "{beside}"
    );

    // The zero-shot figures beside the model's are those of `eval --model zero-shot` with the
    // same backbone (the tiny CNN seeded as in training) on the same images and pairs.
    let d = data.to_str().unwrap();
    let all = json(&["eval", "--model", m, "--data", d, "--seed", "5", "--json"]);
    let zero = json(&[
        "eval",
        "--model",
        "zero-shot",
        "--backbone",
        "tiny",
        "--seed",
        "5",
        "--data",
        d,
        "--json",
    ]);
    assert_eq!(all["zero_shot"]["figures"], zero, "{all}");
    assert!(
        zero.get("zero_shot").is_none(),
        "zero-shot is its own baseline"
    );
    let plain = lookalike(&[
        "eval",
        "--model",
        m,
        "--data",
        d,
        "--no-zero-shot",
        "--json",
    ]);
    assert!(!text(&plain).0.contains("zero_shot"), "--no-zero-shot");
    let shown = lookalike(&["eval", "--model", m, "--data", d, "--seed", "5"]);
    let (out, err) = text(&shown);
    assert!(shown.status.success(), "{err}");
    let header = out
        .lines()
        .find(|l| l.contains("model"))
        .unwrap_or_default();
    assert!(header.contains("zero-shot"), "a zero-shot column:\n{out}");
    let p10 = out
        .lines()
        .find(|l| l.starts_with("precision@10"))
        .unwrap_or_default();
    assert_eq!(p10.split_whitespace().count(), 3, "two figures: {p10}");

    // compare: a disc is closer to another disc than to a square.
    let disc = |i: usize| data.join(format!("disc/{i:03}.png")).display().to_string();
    let square = data.join("square/000.png").display().to_string();
    let same = json(&["compare", "--model", m, &disc(0), &disc(1), "--json"]);
    let diff = json(&["compare", "--model", m, &disc(0), &square, "--json"]);
    for c in [&same, &diff] {
        let (s, d) = (
            c["similarity"].as_f64().unwrap(),
            c["distance"].as_f64().unwrap(),
        );
        assert!(
            (s + d - 1.0).abs() < 1e-9 && (0.0..=1.0).contains(&d),
            "{c}"
        );
        assert_eq!(c["same"].as_bool().unwrap(), d < 0.5);
    }
    assert!(
        same["distance"].as_f64().unwrap() < diff["distance"].as_f64().unwrap(),
        "{same} vs {diff}"
    );
}

#[test]
fn zero_shot_needs_no_training() {
    let dir = tempfile::tempdir().unwrap();
    shapes_dataset(dir.path(), 3, 8, 2);
    let eval = json(&[
        "eval",
        "--model",
        "zero-shot",
        "--backbone",
        "tiny",
        "--data",
        dir.path().to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(eval["images"], 24);
    assert_eq!(eval["pairs"], 48);
}

#[test]
fn bad_training_input_gets_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model");
    let train_fails = |data: &Path, extra: &[&str], needle: &str| {
        let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
        let mut args = vec!["train", "--data", d, "--out", o, "--backbone", "tiny"];
        args.extend_from_slice(extra);
        fails_with(&args, needle);
    };
    let one = dir.path().join("one");
    shapes_dataset(&one, 1, 5, 3);
    train_fails(&one, &[], "at least two classes");
    let empty_class = dir.path().join("empty");
    shapes_dataset(&empty_class, 2, 5, 3);
    std::fs::create_dir(empty_class.join("zzz")).unwrap();
    train_fails(&empty_class, &[], "class \"zzz\" has no images");
    let good = dir.path().join("good");
    shapes_dataset(&good, 2, 10, 4);
    // (A diverging loss is stopped before anything is saved: crates/engine/tests/fit_head.rs.)
    train_fails(&good, &["--lr=-1"], "--lr must be a positive number");
    train_fails(&good, &["--lr", "1e36"], "at most 10");
    train_fails(&good, &["--split", "0.7,0.3"], "three positive fractions");
    train_fails(
        &good,
        &["--fine-tune", "4"],
        "tiny has 4 units; fine-tune at most 3",
    );
    train_fails(&good, &["--head", "cosine"], "unknown head \"cosine\"");
    assert!(
        !out.join("model.json").exists(),
        "no checkpoint after a refused run"
    );
}

#[test]
fn checkpoints_from_another_version_or_backbone_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    shapes_dataset(&data, 2, 10, 5);
    let model = dir.path().join("m");
    train(&data, &model, "1");
    let (m, d) = (model.to_str().unwrap(), data.to_str().unwrap());
    let config = std::fs::read_to_string(model.join("model.json")).unwrap();
    let image = data.join("disc/000.png");
    let i = image.to_str().unwrap();

    std::fs::write(
        model.join("model.json"),
        config.replace("\"format_version\": 2", "\"format_version\": 99"),
    )
    .unwrap();
    fails_with(
        &["compare", "--model", m, i, i],
        "checkpoint format version 99, but this build of Lookalike reads versions 1 to 2",
    );
    std::fs::write(
        model.join("model.json"),
        config.replace("\"backbone\": \"tiny\"", "\"backbone\": \"resnet18\""),
    )
    .unwrap();
    fails_with(
        &["eval", "--model", m, "--data", d],
        "cannot load resnet18 weights",
    );
    std::fs::write(model.join("model.json"), "{\"format\": \"something else\"}").unwrap();
    fails_with(
        &["eval", "--model", m, "--data", d],
        "is not a Lookalike model",
    );
    fails_with(
        &["eval", "--model", "/nonexistent/model", "--data", d],
        "cannot read model.json",
    );
    fails_with(
        &[
            "eval",
            "--model",
            "zero-shot",
            "--backbone",
            "tiny",
            "--data",
            d,
            "--split",
            "test",
        ],
        "--split test needs a model trained",
    );
}

#[test]
fn fine_tuning_the_last_units_trains_and_reloads_to_the_same_figures() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shapes");
    shapes_dataset(&data, 3, 20, 7);
    let model = dir.path().join("ft");
    let m = model.to_str().unwrap();
    let out = train_with(
        &data,
        &model,
        "2",
        &["--fine-tune", "2", "--epochs", "8", "--augment", "0"],
    );
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("model.json")).unwrap()).unwrap();
    assert_eq!(config["training"]["fine_tune"], 2);
    // The saved backbone is no longer the seeded one.
    let frozen = dir.path().join("frozen");
    train_with(&data, &frozen, "2", &["--epochs", "1", "--augment", "0"]);
    let tensors = |p: &Path| std::fs::read(p.join("backbone.safetensors")).unwrap();
    assert_ne!(
        tensors(&model),
        tensors(&frozen),
        "fine-tuning changed the backbone's weights"
    );
    // Reloaded (batch norms folded for inference), the model gives the recorded test figures.
    let eval = eval_test_split(m, &data, "2");
    for key in ["roc_auc", "pair_accuracy", "map"] {
        let (a, b) = (
            eval[key].as_f64().unwrap(),
            out["test"][key].as_f64().unwrap(),
        );
        assert!(
            (a - b).abs() < 1e-3,
            "{key}: {a} after reloading vs {b} when trained"
        );
    }
    // The tiny CNN has no pretrained weights, so a fine-tuned one has no zero-shot figures
    // beside its own, and eval says why.
    assert!(eval.get("zero_shot").is_none(), "{eval}");
    let run = lookalike(&["eval", "--model", m, "--data", data.to_str().unwrap()]);
    let (_, err) = text(&run);
    assert!(run.status.success(), "{err}");
    assert!(
        err.contains("no zero-shot figures") && err.contains("fine-tuned its tiny"),
        "{err}"
    );
}
