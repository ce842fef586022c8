//! Shared helpers for the end-to-end tests: where things are, the PyTorch peer, and generated
//! images.
//!
//! The peer is `scripts/reference.py` run by the project's virtual environment (`make setup`
//! creates it). When it is missing the tests fail with a message that says so: they never skip.

pub mod postgres;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{Rgb, RgbImage};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The virtual environment's Python.
pub fn python() -> PathBuf {
    let py = root().join(".venv/bin/python");
    assert!(
        py.exists(),
        "{} is missing: run `make setup` first",
        py.display()
    );
    py
}

/// Runs `scripts/reference.py ARGS...` and panics with its output if it fails.
pub fn reference(args: &[&str]) {
    script("reference.py", args);
}

/// Runs `scripts/NAME ARGS...` with the virtual environment's Python and panics with its output
/// if it fails.
pub fn script(name: &str, args: &[&str]) {
    let out = Command::new(python())
        .arg(root().join("scripts").join(name))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name} {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `lookalike` binary built beside this test (same profile).
pub fn lookalike_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let bin = dir.join("lookalike");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`make test` does)",
        bin.display()
    );
    bin
}

/// Runs `lookalike ARGS...` with an empty environment for weights, as a user would.
pub fn lookalike(args: &[&str]) -> Output {
    Command::new(lookalike_bin())
        .args(args)
        .env_remove("LOOKALIKE_WEIGHTS_DIR")
        .output()
        .unwrap()
}

/// `lookalike index create NAME --model zero-shot --backbone tiny --data-dir DATA EXTRA...`
/// Runs lookalike with `args`, which must succeed, and parses its standard output as JSON.
pub fn lookalike_json(args: &[&str]) -> serde_json::Value {
    let run = lookalike(args);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{args:?} failed:\n{stderr}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// (the tests' small untrained collection; EXTRA picks another store), asserted to succeed.
pub fn create_tiny_collection(data: &std::path::Path, name: &str, extra: &[&str]) {
    let mut args = vec![
        "index",
        "create",
        name,
        "--model",
        "zero-shot",
        "--backbone",
        "tiny",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let run = lookalike(&args);
    assert!(run.status.success(), "{args:?}: {}", text(&run).1);
}

/// The converted EfficientNet-Lite0 weights from the set-up.
pub fn lite0_weights() -> PathBuf {
    let w = root().join("weights/efficientnet-lite0.safetensors");
    assert!(
        w.exists(),
        "{} is missing: run `make setup` first",
        w.display()
    );
    w
}

/// A deterministic picture with smooth gradients, hard edges and texture, so that resizing,
/// cropping and convolutions all have something to get wrong.
pub fn picture(width: u32, height: u32, seed: u32) -> RgbImage {
    let s = seed as f32;
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let disc = ((fx - 0.3 - 0.05 * s).powi(2) + (fy - 0.6).powi(2)).sqrt() < 0.25;
        let stripes = ((x / (3 + seed % 5)) + (y / 7)).is_multiple_of(2);
        let noise = (x
            .wrapping_mul(2654435761)
            .wrapping_add(y.wrapping_mul(40503))
            .wrapping_add(seed * 977)
            >> 13)
            % 32;
        let r = if disc { 230 } else { (255.0 * fx) as u32 };
        let g = if stripes {
            40 + noise
        } else {
            (200.0 * fy) as u32 + noise / 2
        };
        let b = ((128.0 + 100.0 * (fx * 9.0 + s).sin() * (fy * 5.0).cos()) as u32).min(255);
        Rgb([r.min(255) as u8, g.min(255) as u8, b as u8])
    })
}

/// Reads a NumPy array of any shape as (shape, values as f32).
pub fn read_npy(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    let values = match npy.dtype() {
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Uint => npy
            .into_vec::<u8>()
            .unwrap()
            .into_iter()
            .map(f32::from)
            .collect(),
        _ => npy.into_vec::<f32>().unwrap(),
    };
    (shape, values)
}

/// Writes a float32 NumPy array.
pub fn write_npy(path: &Path, shape: &[u64], values: &[f32]) {
    use npyz::WriterBuilder;
    let mut w = npyz::WriteOptions::<f32>::new()
        .default_dtype()
        .shape(shape)
        .writer(std::io::BufWriter::new(
            std::fs::File::create(path).unwrap(),
        ))
        .begin_nd()
        .unwrap();
    w.extend(values.iter().copied()).unwrap();
    w.finish().unwrap();
}

/// The largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A PNG whose header claims `width`×`height` pixels and that holds no pixel data: a
/// decompression bomb's first bytes.
pub fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(&ihdr);
    out.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    out
}

/// CRC-32 (IEEE), as PNG chunks use it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Output of a command as text: (stdout, stderr).
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A labelled folder of generated images: `classes` visual classes (a red disc, green bars, a
/// blue square, a yellow cross, ...) at random places and sizes on noisy backgrounds, `per_class`
/// PNGs each, in `dir/<class>/`.
pub fn shapes_dataset(dir: &Path, classes: usize, per_class: usize, seed: u32) {
    let names = ["disc", "bars", "square", "cross", "ring", "diagonal"];
    for (c, name) in names.iter().enumerate().take(classes) {
        let folder = dir.join(name);
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..per_class {
            let mut state =
                (seed.wrapping_mul(7919) ^ (c as u32 * 104_729) ^ (i as u32 * 15_485_863))
                    .wrapping_add(1);
            let mut rand = move |n: u32| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state % n.max(1)
            };
            let (cx, cy, r) = (
                20 + rand(24) as i32,
                20 + rand(24) as i32,
                10 + rand(8) as i32,
            );
            let base = [
                rand(60) as u8 + 40,
                rand(60) as u8 + 40,
                rand(60) as u8 + 40,
            ];
            let img = RgbImage::from_fn(64, 64, |x, y| {
                let (dx, dy) = (x as i32 - cx, y as i32 - cy);
                let inside = match c {
                    0 => dx * dx + dy * dy < r * r,
                    1 => dx.abs() < r && dy.abs() < r && (y / 4) % 2 == 0,
                    2 => dx.abs() < r && dy.abs() < r,
                    3 => (dx.abs() < 3 && dy.abs() < r) || (dy.abs() < 3 && dx.abs() < r),
                    4 => (dx * dx + dy * dy - r * r).abs() < 3 * r,
                    _ => (dx - dy).abs() < 3 && dx.abs() < r,
                };
                let color = [
                    [220, 40, 40],
                    [40, 200, 60],
                    [50, 70, 220],
                    [230, 210, 40],
                    [200, 60, 200],
                    [40, 200, 200],
                ][c];
                let noise = ((x * 31 + y * 17 + i as u32 * 7) % 23) as u8;
                if inside {
                    Rgb(color)
                } else {
                    Rgb([base[0] + noise, base[1] + noise, base[2] + noise])
                }
            });
            img.save(folder.join(format!("{i:03}.png"))).unwrap();
        }
    }
}

/// Runs `lookalike ARGS...`, which must fail with `needle` in its error output.
pub fn fails_with(args: &[&str], needle: &str) {
    let run = lookalike(args);
    let (_, stderr) = text(&run);
    assert!(!run.status.success(), "{args:?} should fail");
    assert!(
        stderr.contains(needle),
        "{args:?}: expected {needle:?} in:\n{stderr}"
    );
}

/// A generated "character": `strokes` dark line segments on white, fixed by `class`, each end
/// moved by up to `jitter` pixels by `drawer` (another hand drawing the same character), on a
/// `size`-px square.
pub fn glyph(class: u32, drawer: u32, size: u32, jitter: i32) -> RgbImage {
    let mut state = class.wrapping_mul(2_654_435_761).wrapping_add(12_345) | 1;
    let mut next = move |n: u32| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state % n.max(1)
    };
    let mut hand = drawer.wrapping_mul(40_503).wrapping_add(class * 7 + 1) | 1;
    let mut wobble = move || {
        hand ^= hand << 13;
        hand ^= hand >> 17;
        hand ^= hand << 5;
        if jitter == 0 {
            0
        } else {
            (hand % (2 * jitter as u32 + 1)) as i32 - jitter
        }
    };
    let margin = size / 6;
    let span = size - 2 * margin;
    let segments: Vec<[i32; 4]> = (0..3)
        .map(|_| {
            let mut p = || (margin + next(span)) as i32;
            [p(), p(), p(), p()]
        })
        .map(|[a, b, c, d]| [a + wobble(), b + wobble(), c + wobble(), d + wobble()])
        .collect();
    let thick = (size as f32 / 28.0).max(1.0);
    RgbImage::from_fn(size, size, |x, y| {
        let (px, py) = (x as f32, y as f32);
        let near = segments.iter().any(|&[x0, y0, x1, y1]| {
            let (ax, ay, bx, by) = (x0 as f32, y0 as f32, x1 as f32, y1 as f32);
            let (dx, dy) = (bx - ax, by - ay);
            let len2 = (dx * dx + dy * dy).max(1e-6);
            let t = (((px - ax) * dx + (py - ay) * dy) / len2).clamp(0.0, 1.0);
            let (qx, qy) = (ax + t * dx - px, ay + t * dy - py);
            qx * qx + qy * qy <= thick * thick
        });
        if near {
            Rgb([0, 0, 0])
        } else {
            Rgb([255, 255, 255])
        }
    })
}

/// A grouped folder of generated characters: `DIR/groupG/charC/NN.png`, `groups` × `classes`
/// characters of `drawers` drawings each; class ids start at `first_class`.
pub fn glyph_alphabets(
    dir: &Path,
    groups: u32,
    classes: u32,
    drawers: u32,
    size: u32,
    first_class: u32,
) {
    for g in 0..groups {
        for c in 0..classes {
            let class = first_class + g * classes + c;
            let folder = dir.join(format!("group{g}")).join(format!("char{c:02}"));
            std::fs::create_dir_all(&folder).unwrap();
            for d in 0..drawers {
                glyph(class, d, size, 2)
                    .save(folder.join(format!("{d:02}.png")))
                    .unwrap();
            }
        }
    }
}
