//! `lookalike eval-oneshot` (issue 7) as a user runs it: groups of generated classes, a model
//! that tells them apart, classes that cannot be told apart (ties must score exactly chance),
//! groups too small to use, and bad input.

use std::path::Path;

use image::{Rgb, RgbImage};
use lookalike_e2e::*;
use serde_json::Value;

fn oneshot(model: &[&str], data: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["eval-oneshot", "--data", data.to_str().unwrap(), "--json"];
    args.extend_from_slice(model);
    args.extend_from_slice(extra);
    let run = lookalike(&args);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{args:?} failed:\n{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

/// `classes` class folders of `per_class` 48-px images under `dir`; class `c` is a flat colour
/// picked by `colour(c)` with a little per-image noise.
fn colour_classes(dir: &Path, classes: usize, per_class: usize, colour: impl Fn(usize) -> [u8; 3]) {
    for c in 0..classes {
        let folder = dir.join(format!("class{c:02}"));
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..per_class {
            let [r, g, b] = colour(c);
            let img = RgbImage::from_fn(48, 48, |x, y| {
                let n = ((x * 7 + y * 13 + i as u32 * 5) % 9) as u8;
                Rgb([
                    r.saturating_add(n),
                    g.saturating_add(n),
                    b.saturating_add(n),
                ])
            });
            img.save(folder.join(format!("{i:02}.png"))).unwrap();
        }
    }
}

#[test]
fn one_shot_accuracy_is_high_for_distinct_classes_and_exactly_chance_for_identical_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = ["--model", "zero-shot", "--backbone", "tiny"];

    // Two alphabets of 6 classes with clearly different colours, one of 2 (too small for 4 ways)
    // and one of a single class.
    let nested = tmp.path().join("alphabets");
    let hue = |c: usize| [(c * 40) as u8, 255 - (c * 40) as u8, ((c * 97) % 256) as u8];
    colour_classes(&nested.join("alpha"), 6, 3, hue);
    colour_classes(&nested.join("beta"), 6, 3, |c| hue(5 - c));
    colour_classes(&nested.join("gamma"), 2, 3, hue);
    colour_classes(&nested.join("delta"), 1, 3, hue); // one class: not a labelled folder
    let r = oneshot(&tiny, &nested, &["--ways", "4", "--runs", "5"]);
    assert_eq!(r["ways"], 4);
    assert_eq!(
        r["trials"],
        2 * 5 * 4,
        "two usable groups × 5 runs × 4 ways"
    );
    assert_eq!(r["images"], 36, "the too-small group is not embedded");
    let groups: Vec<&str> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["alpha", "beta"]);
    let left: Vec<&str> = r["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["group"].as_str().unwrap())
        .collect();
    assert_eq!(left, ["delta", "gamma"], "named, and the others still run");
    assert!(r["left_out"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("at least two classes"));
    assert!(r["left_out"][1]["reason"]
        .as_str()
        .unwrap()
        .contains("2 class(es)"));
    assert!((r["chance"].as_f64().unwrap() - 0.25).abs() < 1e-12);
    let acc = r["accuracy"].as_f64().unwrap();
    assert!(
        acc > 0.9,
        "flat colours are told apart even by random features: {acc}"
    );

    // Seeded: the same runs again; another seed draws others but as many.
    assert_eq!(oneshot(&tiny, &nested, &["--ways", "4", "--runs", "5"]), r);
    let other = oneshot(
        &tiny,
        &nested,
        &["--ways", "4", "--runs", "5", "--seed", "9"],
    );
    assert_eq!(other["trials"], r["trials"]);
    assert_eq!(other["seed"], 9);

    // Identical classes: every distance ties, so every trial scores 1/ways, never a lucky
    // first index. A flat folder is one group named after it.
    let same = tmp.path().join("same");
    colour_classes(&same, 5, 2, |_| [90, 120, 150]);
    let r = oneshot(&tiny, &same, &["--ways", "5", "--runs", "4"]);
    assert_eq!(r["groups"][0]["group"], "same");
    assert_eq!(r["tied_trials"], 20);
    assert!((r["accuracy"].as_f64().unwrap() - 0.2).abs() < 1e-9, "{r}");

    // A trained model reads the same way (its head, not cosine).
    let train = tmp.path().join("train");
    shapes_dataset(&train, 4, 10, 1);
    let model = tmp.path().join("model");
    let run = lookalike(&[
        "train",
        "--data",
        train.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--backbone",
        "tiny",
        "--epochs",
        "5",
        "--quiet",
    ]);
    assert!(run.status.success(), "{}", text(&run).1);
    let trained = oneshot(
        &["--model", model.to_str().unwrap()],
        &nested,
        &["--ways", "3"],
    );
    assert_eq!(
        trained["trials"],
        2 * 20 * 3,
        "20 runs per group by default"
    );
    let human = lookalike(&[
        "eval-oneshot",
        "--model",
        model.to_str().unwrap(),
        "--data",
        nested.to_str().unwrap(),
        "--ways",
        "3",
        "--quiet",
    ]);
    let (stdout, _) = text(&human);
    assert!(
        stdout.contains("3-way one-shot") && stdout.contains("left out gamma"),
        "{stdout}"
    );
}

#[test]
fn bad_one_shot_input_is_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    colour_classes(&data, 3, 1, |c| [(c * 80) as u8, 40, 40]);
    let d = data.to_str().unwrap();
    let tiny = ["--model", "zero-shot", "--backbone", "tiny"];
    let with = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["eval-oneshot", "--data", d].map(String::from).to_vec();
        a.extend(tiny.iter().chain(extra).map(|s| s.to_string()));
        a
    };
    let fails = |args: Vec<String>, needle: &str| {
        fails_with(&args.iter().map(String::as_str).collect::<Vec<_>>(), needle)
    };
    fails(
        with(&["--ways", "2"]),
        "0 class(es) with two or more images",
    );
    fails(with(&["--ways", "1"]), "1 is not in 2..=1000");
    fails(with(&["--runs", "0"]), "0 is not in 1..=100000");
    fails(
        [
            "eval-oneshot",
            "--data",
            "/no/such/folder",
            "--model",
            "zero-shot",
            "--backbone",
            "tiny",
        ]
        .map(String::from)
        .to_vec(),
        "no such folder",
    );
    let lone = tmp.path().join("lone");
    colour_classes(&lone, 1, 3, |_| [1, 2, 3]);
    fails(
        [
            "eval-oneshot",
            "--data",
            lone.to_str().unwrap(),
            "--model",
            "zero-shot",
            "--backbone",
            "tiny",
        ]
        .map(String::from)
        .to_vec(),
        "at least two classes",
    );
}
