//! `lookalike train --backbone conv4` as a user runs it on a grouped folder of generated
//! characters: a small CNN trained from scratch, end to end, on within-group episodes; a model
//! folder that stands alone (eval-oneshot, compare and Grad-CAM read it after the data and the
//! working folder are gone); and the bad input of one-shot training.

use std::path::Path;

use lookalike_e2e::*;
use serde_json::Value;

fn train(data: &Path, out: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--backbone",
        "conv4",
        "--resize-only",
        "--invert",
        "--quiet",
        "--json",
    ];
    args.extend_from_slice(extra);
    let run = lookalike(&args);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{args:?}:\n{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

fn oneshot(model: &Path, data: &Path, ways: &str) -> Value {
    let run = lookalike(&[
        "eval-oneshot",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--ways",
        ways,
        "--runs",
        "30",
        "--json",
    ]);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn conv4_trains_from_scratch_on_episodes_and_its_model_stands_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("alphabets");
    glyph_alphabets(&data, 3, 5, 6, 40, 0);
    let unseen = tmp.path().join("unseen");
    glyph_alphabets(&unseen, 1, 5, 6, 40, 500);
    let model = tmp.path().join("work/model");
    let r = train(
        &data,
        &model,
        &[
            "--loss",
            "prototypical",
            "--ways",
            "5",
            "--queries",
            "2",
            "--steps",
            "15",
            "--epochs",
            "4",
            "--patience",
            "4",
            "--val-runs",
            "10",
            "--lr",
            "0.003",
        ],
    );
    let one_shot = &r["one_shot"];
    assert_eq!(one_shot["held_out"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(
        one_shot["train_classes"],
        2 * 5 * 4,
        "two groups, rotations as classes"
    );
    let val = one_shot["val_one_shot"].as_f64().unwrap();
    assert!(val > 0.4, "5-way on the held-out group, chance 0.2: {val}");
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("model.json")).unwrap()).unwrap();
    assert_eq!(config["backbone"], "conv4");
    assert_eq!(config["crop"], 28, "conv4's own input size by default");
    assert_eq!(
        (config["resize_only"].clone(), config["invert"].clone()),
        (Value::Bool(true), Value::Bool(true))
    );

    // The folder stands alone: moved away from where it was trained, with no weights set-up.
    let moved = tmp.path().join("moved");
    std::fs::rename(&model, &moved).unwrap();
    std::fs::remove_dir_all(tmp.path().join("work")).unwrap();
    let o = oneshot(&moved, &unseen, "5");
    let acc = o["accuracy"].as_f64().unwrap();
    assert!(acc > 0.4, "5-way on an unseen alphabet, chance 0.2: {acc}");
    let a = unseen.join("group0/char00/00.png");
    let b = unseen.join("group0/char00/01.png");
    let c = unseen.join("group0/char03/00.png");
    let compare = |x: &Path, y: &Path| -> f64 {
        let run = lookalike(&[
            "compare",
            "--model",
            moved.to_str().unwrap(),
            x.to_str().unwrap(),
            y.to_str().unwrap(),
            "--json",
        ]);
        assert!(run.status.success(), "{}", text(&run).1);
        let v: Value = serde_json::from_str(&text(&run).0).unwrap();
        v["logit"].as_f64().unwrap()
    };
    let (same, different) = (compare(&a, &b), compare(&a, &c));
    assert!(same.is_finite() && different.is_finite());
    // Grad-CAM explains it, its last block the target layer.
    let out = tmp.path().join("explained");
    let run = lookalike(&[
        "explain",
        "--model",
        moved.to_str().unwrap(),
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", text(&run).1);
    let pngs = std::fs::read_dir(&out)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count();
    assert!(pngs >= 2, "heatmaps written");

    // BCE on pairs whose negatives come half from the anchor's alphabet, at 56 px.
    let bce = tmp.path().join("bce");
    let r = train(
        &data,
        &bce,
        &[
            "--loss",
            "bce",
            "--within-group",
            "0.5",
            "--input-size",
            "56",
            "--steps",
            "5",
            "--batch-size",
            "16",
            "--epochs",
            "2",
            "--no-rotations",
            "--val-runs",
            "5",
        ],
    );
    assert_eq!(r["one_shot"]["train_classes"], 10, "{r}");
    assert_eq!(r["one_shot"]["options"]["within_group"], 0.5);
    assert!(oneshot(&bce, &unseen, "5")["accuracy"].as_f64().unwrap() > 0.2);
}

#[test]
fn bad_one_shot_training_input_is_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let one = tmp.path().join("one");
    glyph_alphabets(&one, 1, 4, 3, 32, 0);
    let two = tmp.path().join("two");
    glyph_alphabets(&two, 2, 3, 3, 32, 0);
    let out = tmp.path().join("model");
    let o = out.to_str().unwrap();
    let base = |data: &Path| -> Vec<String> {
        [
            "train",
            "--data",
            data.to_str().unwrap(),
            "--out",
            o,
            "--backbone",
            "conv4",
        ]
        .map(String::from)
        .to_vec()
    };
    let fails = |mut args: Vec<String>, extra: &[&str], needle: &str| {
        args.extend(extra.iter().map(|s| s.to_string()));
        fails_with(&args.iter().map(String::as_str).collect::<Vec<_>>(), needle)
    };
    fails(base(&one), &[], "with 1 usable group(s) (group0)");
    fails(
        base(&two),
        &["--weights", "/some/conv4.safetensors"],
        "has no pretrained weights, but --weights",
    );
    fails(
        base(&two),
        &["--input-size", "8"],
        "--input-size 8: conv4 halves its input four times",
    );
    fails(
        base(&two),
        &["--fine-tune", "1"],
        "trains every layer from scratch",
    );
    fails(base(&two), &["--within-group", "1.5"], "--within-group 1.5");
    fails(
        base(&two),
        &["--val-groups", "2"],
        "--val-groups 2: hold out at least one of the 2 groups",
    );
    let tiny: Vec<String> = [
        "train",
        "--data",
        two.to_str().unwrap(),
        "--out",
        o,
        "--backbone",
        "tiny",
    ]
    .map(String::from)
    .to_vec();
    fails(
        tiny.clone(),
        &["--loss", "prototypical"],
        "--loss prototypical trains on episodes",
    );
    fails(tiny, &[], "a grouped folder (DIR/GROUP/CLASS/images)");
    assert!(!out.exists(), "nothing written");
}
