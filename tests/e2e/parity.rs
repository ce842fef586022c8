//! Numerical parity with PyTorch: the same preprocessing (within one grey level) and the same
//! pooled features (within 1e-4) as the peer, on the same inputs.

use lookalike_core::backbone::{self, BackboneConfig};
use lookalike_core::image::{decode_file, to_pixels};
use lookalike_core::{BackboneKind, DecodeLimits, Preprocess};
use lookalike_e2e::*;

/// Decodes and preprocesses files in Rust and in the peer; returns (rust, peer) uint8 values.
fn both_preprocess(files: &[std::path::PathBuf], dir: &std::path::Path) -> (Vec<f32>, Vec<f32>) {
    let out = dir.join("peer.npy");
    let mut args = vec!["preprocess".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.extend(["--out".into(), out.display().to_string()]);
    reference(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (shape, peer) = read_npy(&out);
    assert_eq!(shape, vec![files.len() as u64, 224, 224, 3]);
    let ours: Vec<f32> = files
        .iter()
        .flat_map(|f| {
            let img =
                Preprocess::default().apply(&decode_file(f, &DecodeLimits::default()).unwrap());
            img.into_raw().into_iter().map(f32::from)
        })
        .collect();
    (ours, peer)
}

#[test]
fn preprocessing_matches_torchvision_within_one_grey_level() {
    let dir = tempfile::tempdir().unwrap();
    // Shrinking, enlarging, square, odd crop offsets (ties round to even), portrait and landscape.
    let sizes = [
        (500, 375),
        (375, 500),
        (224, 224),
        (100, 150),
        (257, 481),
        (640, 259),
        (1203, 911),
    ];
    let mut files = Vec::new();
    for (i, &(w, h)) in sizes.iter().enumerate() {
        let path = dir.path().join(format!("img{i}.png"));
        picture(w, h, i as u32).save(&path).unwrap();
        files.push(path);
    }
    let (ours, peer) = both_preprocess(&files, dir.path());
    let worst = max_abs_diff(&ours, &peer);
    let differing = ours.iter().zip(&peer).filter(|(a, b)| a != b).count();
    eprintln!(
        "preprocessing: worst {worst}, {differing} of {} values differ",
        ours.len()
    );
    assert!(
        worst <= 1.0,
        "preprocessing differs from torchvision by up to {worst} grey levels"
    );
}

/// JPEG decoders are allowed to differ: the `image` crate (zune-jpeg) and Pillow (libjpeg-turbo)
/// upsample chroma and round colour conversion differently, by up to a few grey levels on some
/// pixels (measured on the Flowers photos: at most 4, 0.1 to 0.3 on average). Resizing and
/// cropping add at most one more. This pins that the gap stays that small.
#[test]
fn jpeg_decoding_matches_pillow_closely() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, &(w, h)) in [(320, 240), (480, 640), (224, 224)].iter().enumerate() {
        let path = dir.path().join(format!("img{i}.jpg"));
        picture(w, h, i as u32 + 3).save(&path).unwrap();
        files.push(path);
    }
    let (ours, peer) = both_preprocess(&files, dir.path());
    let worst = max_abs_diff(&ours, &peer);
    let mean = ours
        .iter()
        .zip(&peer)
        .map(|(a, b)| (a - b).abs())
        .sum::<f32>()
        / ours.len() as f32;
    eprintln!("jpeg: worst {worst}, mean {mean}");
    assert!(
        worst <= 5.0 && mean <= 0.5,
        "JPEG pixels differ from Pillow's: worst {worst}, mean {mean}"
    );
}

/// Four generated pictures, preprocessed in Rust, as float pixels `[4, 3, 224, 224]`, saved for
/// the peer too.
fn shared_input(dir: &std::path::Path) -> (tch::Tensor, std::path::PathBuf) {
    let images: Vec<_> = (0..4u32)
        .map(|i| Preprocess::default().apply(&picture(300 + 40 * i, 260 + 25 * i, 10 + i)))
        .collect();
    let pixels = to_pixels(&images).unwrap();
    let path = dir.join("pixels.npy");
    let values = Vec::<f32>::try_from(pixels.contiguous().view([-1])).unwrap();
    write_npy(&path, &[4, 3, 224, 224], &values);
    (pixels, path)
}

/// Pooled features of `kind` in Rust, both with batch norms as separate layers (training form)
/// and folded into the convolutions (what `embed` runs).
fn ours(kind: BackboneKind, weights: &std::path::Path, pixels: &tch::Tensor) -> [Vec<f32>; 2] {
    [false, true].map(|inference| {
        let config = BackboneConfig {
            kind,
            weights: Some(weights),
            device: tch::Device::Cpu,
            inference,
            seed: 0,
        };
        let model = backbone::load(&config).unwrap();
        let f = tch::no_grad(|| model.features(pixels)).unwrap();
        assert_eq!(f.pooled.size(), [4, kind.channels()]);
        assert_eq!(f.map.size()[..2], [4, kind.channels()]);
        Vec::<f32>::try_from(f.pooled.contiguous().view([-1])).unwrap()
    })
}

fn assert_close(kind: BackboneKind, ours: &[Vec<f32>; 2], peer: &[f32]) {
    let scale = peer.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(
        scale > 1e-2,
        "{kind}: the peer's features are all near zero; the test would prove nothing"
    );
    for (form, v) in ["unfolded", "folded"].iter().zip(ours) {
        let worst = max_abs_diff(v, peer);
        eprintln!("{kind} ({form}): max abs difference {worst:e} (largest value {scale})");
        assert!(
            worst <= 1e-4,
            "{kind} ({form}) differs from PyTorch by {worst}"
        );
    }
}

#[test]
fn efficientnet_lite0_matches_pytorch_with_the_pretrained_weights() {
    let dir = tempfile::tempdir().unwrap();
    let (pixels, input) = shared_input(dir.path());
    let weights = lite0_weights();
    let out = dir.path().join("peer.npy");
    reference(&[
        "lite0",
        "--weights",
        weights.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let (shape, peer) = read_npy(&out);
    assert_eq!(shape, vec![4, 1280]);
    assert_close(
        BackboneKind::EfficientNetLite0,
        &ours(BackboneKind::EfficientNetLite0, &weights, &pixels),
        &peer,
    );
}

#[test]
fn torchvision_resnets_match_pytorch_with_exported_seeded_weights() {
    let dir = tempfile::tempdir().unwrap();
    let (pixels, input) = shared_input(dir.path());
    for (kind, depth) in [
        (BackboneKind::ResNet50, "50"),
        (BackboneKind::ResNet18, "18"),
    ] {
        let weights = dir.path().join(format!("resnet{depth}.safetensors"));
        let out = dir.path().join(format!("peer{depth}.npy"));
        reference(&[
            "resnet",
            "--depth",
            depth,
            "--seed",
            "7",
            "--export",
            weights.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let (_, peer) = read_npy(&out);
        assert_close(kind, &ours(kind, &weights, &pixels), &peer);
    }
}
