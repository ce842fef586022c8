//! Bad input gets a clear error that names the problem, and nothing already written is lost.

use lookalike_e2e::*;

#[test]
fn a_missing_weights_file_names_the_set_up_command() {
    let dir = tempfile::tempdir().unwrap();
    picture(50, 50, 0).save(dir.path().join("a.png")).unwrap();
    let d = dir.path().to_str().unwrap();
    let out = dir.path().join("v.npy");
    let o = out.to_str().unwrap();
    fails_with(
        &[
            "embed",
            d,
            "--out",
            o,
            "--weights",
            "/nonexistent/lite0.safetensors",
        ],
        "make setup",
    );
    fails_with(
        &[
            "embed",
            d,
            "--out",
            o,
            "--weights",
            "/nonexistent/lite0.safetensors",
        ],
        "/nonexistent/lite0.safetensors",
    );
    let run = std::process::Command::new(lookalike_bin())
        .args(["embed", d, "--out", o, "--backbone", "resnet50"])
        .env("LOOKALIKE_WEIGHTS_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!run.status.success());
    let (_, stderr) = text(&run);
    assert!(
        stderr.contains("no weights for resnet50") && stderr.contains("make setup"),
        "{stderr}"
    );
    // Weights of another network are refused with the name of what is missing.
    let tiny = dir.path().join("tiny.safetensors");
    reference(&[
        "resnet",
        "--depth",
        "18",
        "--seed",
        "1",
        "--export",
        tiny.to_str().unwrap(),
    ]);
    fails_with(
        &["embed", d, "--out", o, "--weights", tiny.to_str().unwrap()],
        "cannot load efficientnet-lite0 weights",
    );
    assert!(
        !out.exists(),
        "nothing is written when the model cannot load"
    );
}

#[test]
fn devices_backbones_and_outputs_are_checked_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    picture(50, 50, 0).save(dir.path().join("a.png")).unwrap();
    let d = dir.path().to_str().unwrap();
    let o = dir.path().join("v.npy");
    let o = o.to_str().unwrap();
    if !tch::Cuda::is_available() {
        fails_with(
            &["embed", d, "--out", o, "--device", "cuda"],
            "CUDA was requested but libtorch sees no CUDA device",
        );
    }
    fails_with(
        &["embed", d, "--out", o, "--device", "tpu"],
        "unknown device \"tpu\"",
    );
    fails_with(
        &["embed", d, "--out", o, "--backbone", "vgg"],
        "unknown backbone \"vgg\"",
    );
    fails_with(&["embed", d, "--out", "v.csv"], "unknown vector format");
    fails_with(
        &["embed", "/nonexistent/folder", "--out", o],
        "/nonexistent/folder",
    );
    let empty = tempfile::tempdir().unwrap();
    fails_with(
        &["embed", empty.path().to_str().unwrap(), "--out", o],
        "no images under",
    );
}

#[test]
fn a_run_where_nothing_decodes_keeps_the_old_output() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    std::fs::create_dir(&good).unwrap();
    picture(60, 60, 2).save(good.join("a.png")).unwrap();
    let out = dir.path().join("v.npy");
    let o = out.to_str().unwrap();
    assert!(lookalike(&[
        "embed",
        good.to_str().unwrap(),
        "--out",
        o,
        "--backbone",
        "tiny"
    ])
    .status
    .success());
    let before = std::fs::read(&out).unwrap();
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("x.jpg"), b"").unwrap();
    fails_with(
        &[
            "embed",
            bad.to_str().unwrap(),
            "--out",
            o,
            "--backbone",
            "tiny",
        ],
        "nothing was written",
    );
    assert_eq!(std::fs::read(&out).unwrap(), before);
}
