//! `lookalike embed` as a user runs it: a nested folder of every format, bad files among them.

use std::io::Cursor;
use std::path::Path;

use image::ImageFormat;
use lookalike_e2e::*;
use lookalike_index::{paths_file_for, read_vectors};

/// Writes good images in every format (nested) and the bad files the issue lists.
fn gallery(dir: &Path) -> Vec<&'static str> {
    let good = [
        ("a/one.jpg", ImageFormat::Jpeg),
        ("a/two.png", ImageFormat::Png),
        ("a/deeper/three.webp", ImageFormat::WebP),
        ("b/four.bmp", ImageFormat::Bmp),
        ("b/five.gif", ImageFormat::Gif),
        ("b/six.tiff", ImageFormat::Tiff),
        ("seven.JPEG", ImageFormat::Jpeg),
    ];
    for (i, (name, format)) in good.iter().enumerate() {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut bytes = Cursor::new(Vec::new());
        picture(180 + 20 * i as u32, 150, i as u32)
            .write_to(&mut bytes, *format)
            .unwrap();
        std::fs::write(&path, bytes.into_inner()).unwrap();
    }
    let mut jpeg = Cursor::new(Vec::new());
    picture(200, 200, 9)
        .write_to(&mut jpeg, ImageFormat::Jpeg)
        .unwrap();
    let jpeg = jpeg.into_inner();
    std::fs::write(dir.join("bad/empty.jpg"), b"").unwrap_or_else(|_| {
        std::fs::create_dir_all(dir.join("bad")).unwrap();
        std::fs::write(dir.join("bad/empty.jpg"), b"").unwrap();
    });
    std::fs::write(dir.join("bad/truncated.jpg"), &jpeg[..jpeg.len() / 2]).unwrap();
    std::fs::write(
        dir.join("bad/text.jpg"),
        b"this is a shopping list, not a photo\n",
    )
    .unwrap();
    std::fs::write(dir.join("bad/bomb.png"), png_header_only(100_000, 100_000)).unwrap();
    std::fs::write(dir.join("notes.txt"), b"not an image, not listed").unwrap();
    good.iter().map(|(n, _)| *n).collect()
}

#[test]
fn embeds_every_format_recursively_and_skips_bad_files_with_a_count() {
    let dir = tempfile::tempdir().unwrap();
    let good = gallery(dir.path());
    let out = dir.path().join("vectors.npy");
    let run = lookalike(&[
        "embed",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["images"], good.len());
    assert_eq!(summary["skipped"], 4);
    assert_eq!(summary["dim"], 1280);
    assert_eq!(summary["backbone"], "efficientnet-lite0");
    assert!(summary["images_per_second"].as_f64().unwrap() > 0.0);
    for (file, reason) in [
        ("empty.jpg", "the file is empty"),
        ("truncated.jpg", "corrupt or truncated JPEG"),
        ("text.jpg", "not an image in a supported format"),
        ("bomb.png", "100000×100000 pixels is more than the limit"),
    ] {
        let line = stderr
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("{file} not reported:\n{stderr}"));
        assert!(line.contains(reason), "{line}");
    }
    let vectors = read_vectors(&out).unwrap();
    assert_eq!((vectors.rows(), vectors.dim), (good.len(), 1280));
    assert!(
        vectors.data.iter().all(|v| v.is_finite() && *v >= 0.0),
        "ReLU6 features are finite and >= 0"
    );
    let listed = std::fs::read_to_string(paths_file_for(&out)).unwrap();
    let mut expected: Vec<String> = good
        .iter()
        .map(|g| dir.path().join(g).display().to_string())
        .collect();
    expected.sort();
    assert_eq!(listed.lines().collect::<Vec<_>>(), expected);
    // Different pictures give different vectors; the same run twice gives the same ones.
    assert_ne!(vectors.row(0), vectors.row(1));
    let again = dir.path().join("again.fvecs");
    assert!(lookalike(&[
        "embed",
        dir.path().to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
        "-q"
    ])
    .status
    .success());
    assert_eq!(read_vectors(&again).unwrap(), vectors);
}

#[test]
fn a_human_summary_says_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    picture(64, 64, 1).save(dir.path().join("x.png")).unwrap();
    let out = dir.path().join("v.fvecs");
    let run = lookalike(&[
        "embed",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--backbone",
        "tiny",
    ]);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stdout.contains("embedded 1 images (0 skipped) with tiny on cpu"),
        "{stdout}"
    );
    assert!(stdout.contains("images/s"), "{stdout}");
    assert_eq!(read_vectors(&out).unwrap().dim, 64);
}
