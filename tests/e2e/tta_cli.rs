//! Test-time augmentation (`--tta`) in `eval` and `compare`: each image counts as the mean of
//! its own pooled vector and its mirror image's.

use lookalike_e2e::*;

use lookalike_e2e::lookalike_json as json;

#[test]
fn tta_averages_each_image_with_its_mirror_in_compare_and_eval() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shapes");
    shapes_dataset(&data, 3, 12, 4);
    let model = dir.path().join("m");
    let (d, m) = (data.to_str().unwrap(), model.to_str().unwrap());
    json(&[
        "train",
        "--data",
        d,
        "--out",
        m,
        "--backbone",
        "tiny",
        "--seed",
        "2",
        "--epochs",
        "3",
        "--json",
    ]);

    // Two asymmetric pictures and their mirror images.
    let pics = dir.path().join("pics");
    std::fs::create_dir_all(&pics).unwrap();
    let path = |name: &str| pics.join(name).display().to_string();
    for (i, seed) in [(0, 11), (1, 12)] {
        // Square and at the resize size, so that the centre crop is symmetric.
        let p = picture(256, 256, seed);
        p.save(path(&format!("{i}.png"))).unwrap();
        image::imageops::flip_horizontal(&p)
            .save(path(&format!("{i}-mirror.png")))
            .unwrap();
    }
    let compare = |a: &str, b: &str, tta: bool| {
        let (a, b) = (path(a), path(b));
        let mut args = vec!["compare", "--model", m, &a, &b, "--json"];
        if tta {
            args.push("--tta");
        }
        json(&args)["logit"].as_f64().unwrap()
    };
    let plain = compare("0.png", "1.png", false);
    let tta = compare("0.png", "1.png", true);
    let mirrored = compare("0-mirror.png", "1-mirror.png", false);
    // With --tta an image and its mirror image are the same input.
    let tta_of_mirrors = compare("0-mirror.png", "1-mirror.png", true);
    assert!(
        (tta - tta_of_mirrors).abs() < 1e-4 * tta.abs().max(1.0),
        "{tta} vs {tta_of_mirrors}"
    );
    assert!(
        (tta - plain).abs() > 1e-6 && (tta - mirrored).abs() > 1e-6,
        "--tta changes the logit of asymmetric pictures: {plain}, {mirrored}, {tta}"
    );
    let itself = {
        let a = path("0.png");
        json(&[
            "compare",
            "--model",
            m,
            &a,
            &path("0-mirror.png"),
            "--tta",
            "--json",
        ])
    };
    assert!(
        itself["similarity"].as_f64().unwrap()
            >= json(&[
                "compare",
                "--model",
                m,
                &path("0.png"),
                &path("1.png"),
                "--tta",
                "--json"
            ])["similarity"]
                .as_f64()
                .unwrap(),
        "a picture and its mirror image are the same under --tta: {itself}"
    );

    // eval --tta: the same keys, other figures than without, and the zero-shot column computed
    // from the same averaged vectors.
    let without = json(&["eval", "--model", m, "--data", d, "--json"]);
    let with = json(&["eval", "--model", m, "--data", d, "--tta", "--json"]);
    assert_eq!(with["images"], without["images"]);
    assert_eq!(with["pairs"], without["pairs"]);
    assert_ne!(with["roc_auc"], without["roc_auc"], "{with} vs {without}");
    let zero_tta = json(&[
        "eval",
        "--model",
        "zero-shot",
        "--backbone",
        "tiny",
        "--seed",
        "2",
        "--data",
        d,
        "--tta",
        "--json",
    ]);
    let with_seeded = json(&[
        "eval", "--model", m, "--data", d, "--tta", "--seed", "2", "--json",
    ]);
    assert_eq!(with_seeded["zero_shot"]["figures"], zero_tta);
}
