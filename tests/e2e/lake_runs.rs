//! `lookalike eval-oneshot --lake-runs DIR` on a generated folder in Lake's all_runs format,
//! scored by the Modified Hausdorff Distance on ink (`--model mhd`), whose answers are known:
//! a shifted copy of a drawing is at distance 0 from it, any other character further.

use std::path::Path;

use image::{Rgb, RgbImage};
use lookalike_e2e::*;
use serde_json::Value;

/// `img` moved by (dx, dy) on a white page of the same size.
fn shifted(img: &RgbImage, dx: u32, dy: u32) -> RgbImage {
    let mut out = RgbImage::from_pixel(img.width(), img.height(), Rgb([255, 255, 255]));
    for (x, y, p) in img.enumerate_pixels() {
        if x + dx < img.width() && y + dy < img.height() {
            out.put_pixel(x + dx, y + dy, *p);
        }
    }
    out
}

/// A run of `ways` characters: `training/classZZ.png` is character `first + k`; the test item
/// listed for class k is a shifted copy of character `first + shown[k]`.
fn write_run(dir: &Path, run: &str, first: u32, shown: &[usize]) {
    std::fs::create_dir_all(dir.join(run).join("training")).unwrap();
    std::fs::create_dir_all(dir.join(run).join("test")).unwrap();
    let mut labels = String::new();
    for (k, &show) in shown.iter().enumerate() {
        let class = glyph(first + k as u32, 0, 60, 0);
        class
            .save(dir.join(format!("{run}/training/class{:02}.png", k + 1)))
            .unwrap();
        let item = shifted(&glyph(first + show as u32, 0, 60, 0), 3, 2);
        item.save(dir.join(format!("{run}/test/item{:02}.png", k + 1)))
            .unwrap();
        labels += &format!(
            "{run}/test/item{:02}.png {run}/training/class{:02}.png\n",
            k + 1,
            k + 1
        );
    }
    std::fs::write(dir.join(run).join("class_labels.txt"), labels).unwrap();
}

fn lake(dir: &Path, model: &[&str]) -> Value {
    let mut args = vec![
        "eval-oneshot",
        "--lake-runs",
        dir.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(model);
    let run = lookalike(&args);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{args:?}:\n{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn lake_runs_are_scored_per_run_and_averaged() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("all_runs");
    // run01: every test item is its own character, shifted: no error.
    write_run(&runs, "run01", 10, &[0, 1, 2, 3, 4]);
    // run02: items 3 and 4 show each other's character, and item 5 shows character 1 (so two
    // queries take class 1; no one-to-one assignment): 3 of 5 wrong.
    write_run(&runs, "run02", 30, &[0, 1, 3, 2, 0]);
    let r = lake(&runs, &["--model", "mhd"]);
    let errors: Vec<f64> = r["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["error"].as_f64().unwrap())
        .collect();
    assert_eq!(errors, [0.0, 0.6], "{r}");
    assert_eq!(r["runs"][1]["run"], "run02");
    assert_eq!(r["runs"][0]["trials"], 5);
    assert!((r["mean_error"].as_f64().unwrap() - 0.3).abs() < 1e-12);
    assert!((r["accuracy"].as_f64().unwrap() - 0.7).abs() < 1e-12);
    assert!(
        (r["standard_error"].as_f64().unwrap() - 0.3).abs() < 1e-9,
        "sd 0.424/√2"
    );
    assert_eq!(r["images"], 20);

    // A network goes through the same reader and scoring.
    let net = lake(&runs, &["--model", "zero-shot", "--backbone", "tiny"]);
    assert_eq!(net["runs"].as_array().unwrap().len(), 2);
    let acc = net["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));

    let human = lookalike(&[
        "eval-oneshot",
        "--lake-runs",
        runs.to_str().unwrap(),
        "--model",
        "mhd",
    ]);
    let (stdout, _) = text(&human);
    assert!(
        stdout.contains("mean error 30.0 %") && stdout.contains("run02"),
        "{stdout}"
    );
}

#[test]
fn folders_not_in_lake_s_format_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(empty.join("images")).unwrap();
    let e = empty.to_str().unwrap();
    fails_with(
        &["eval-oneshot", "--lake-runs", e, "--model", "mhd"],
        "no runNN folders",
    );
    let runs = tmp.path().join("runs");
    write_run(&runs, "run01", 1, &[0, 1]);
    let r = runs.to_str().unwrap();
    let labels = runs.join("run01/class_labels.txt");
    std::fs::write(
        &labels,
        "run01/test/item01.png run01/training/class01.png\nitem02.png\n",
    )
    .unwrap();
    fails_with(
        &["eval-oneshot", "--lake-runs", r, "--model", "mhd"],
        "class_labels.txt: line 2",
    );
    std::fs::write(
        &labels,
        "run01/test/item01.png run01/training/class09.png\n",
    )
    .unwrap();
    fails_with(
        &["eval-oneshot", "--lake-runs", r, "--model", "mhd"],
        "class09.png is not an image of",
    );
    std::fs::remove_file(&labels).unwrap();
    fails_with(
        &["eval-oneshot", "--lake-runs", r, "--model", "mhd"],
        "cannot read class_labels.txt",
    );
    fails_with(
        &[
            "eval-oneshot",
            "--lake-runs",
            r,
            "--data",
            r,
            "--model",
            "mhd",
        ],
        "cannot be used with",
    );
}
