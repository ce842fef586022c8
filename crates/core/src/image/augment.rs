//! Random augmentation for training: flips, crops and light changes a photo can plausibly
//! undergo without changing what it shows.

use image::{imageops, RgbImage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One random view of `img`, reproducible from `seed`:
/// - a horizontal flip with probability ½;
/// - a crop of 60–100 % of the area with aspect ratio 3:4 to 4:3 (torchvision's
///   `RandomResizedCrop` idea; the caller's preprocessing resizes it afterwards);
/// - brightness and contrast scaled by up to ±20 %.
pub fn augment(img: &RgbImage, seed: u64) -> RgbImage {
    let mut rng = StdRng::seed_from_u64(seed);
    let (w, h) = img.dimensions();
    let area = f64::from(w) * f64::from(h) * rng.random_range(0.6..=1.0);
    let aspect = (rng.random_range((0.75f64).ln()..=(4.0f64 / 3.0).ln())).exp();
    let cw = ((area * aspect).sqrt().round() as u32).clamp(1, w);
    let ch = ((area / aspect).sqrt().round() as u32).clamp(1, h);
    let (x, y) = (rng.random_range(0..=w - cw), rng.random_range(0..=h - ch));
    let mut out = imageops::crop_imm(img, x, y, cw, ch).to_image();
    if rng.random_bool(0.5) {
        imageops::flip_horizontal_in_place(&mut out);
    }
    let brightness = rng.random_range(0.8..=1.2f32);
    let contrast = rng.random_range(0.8..=1.2f32);
    let mean =
        out.as_raw().iter().map(|&v| f32::from(v)).sum::<f32>() / out.as_raw().len().max(1) as f32;
    for v in out.iter_mut() {
        let x = ((f32::from(*v) - mean) * contrast + mean) * brightness;
        *v = x.round().clamp(0.0, 255.0) as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_are_random_but_reproducible() {
        let img = RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 100]));
        assert_eq!(augment(&img, 7), augment(&img, 7));
        assert_ne!(augment(&img, 7), augment(&img, 8));
        let v = augment(&img, 1);
        assert!(v.width() <= 64 && v.height() <= 48 && v.width() * v.height() >= 64 * 48 / 2);
    }
}
