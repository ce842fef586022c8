//! Pictures of maps: bilinear upsampling to the image, a perceptual colormap, overlays in RGB.
//!
//! The colormap is Turbo from the `colorous` crate (d3-scale-chromatic's maps, no dependencies):
//! a perceptually ordered rainbow where blue is low and red is high, which is how people read a
//! heatmap. `colorous` hands out RGB, and `image` writes RGB, so there is no BGR step to get
//! wrong (the reference code had one).

use std::path::Path;

use image::{Rgb, RgbImage};
use tch::Tensor;

use crate::boxes::{box_from_map, BBox, BoxOptions};
use crate::{Error, Result, SaliencyMap};

/// The map upsampled bilinearly (half-pixel centres, as `cv2.resize` and PyTorch's
/// `align_corners=False`) to `width × height`, row-major, in [0, 1].
pub fn upsample(map: &SaliencyMap, width: u32, height: u32) -> Result<Vec<f32>> {
    if map.flat {
        return Ok(vec![0.0; (width * height) as usize]);
    }
    let t = Tensor::from_slice(&map.values)
        .f_view([1, 1, map.height as i64, map.width as i64])?
        .f_upsample_bilinear2d([height as i64, width as i64], false, None, None)?
        .f_clamp(0.0, 1.0)?
        .f_view([-1])?;
    Ok(Vec::<f32>::try_from(t)?)
}

/// The colormap's colour for a value in [0, 1] (Turbo: blue low, red high).
pub fn color(v: f32) -> [u8; 3] {
    let c = colorous::TURBO.eval_continuous(f64::from(v));
    [c.r, c.g, c.b]
}

/// `image` blended with the coloured `heat` (row-major, the image's size, in [0, 1]): `alpha`
/// of the colour over `1 − alpha` of the image.
pub fn overlay(image: &RgbImage, heat: &[f32], alpha: f32) -> RgbImage {
    let w = image.width() as usize;
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let v = heat
            .get(y as usize * w + x as usize)
            .copied()
            .unwrap_or(0.0);
        let c = color(v);
        let p = image.get_pixel(x, y).0;
        Rgb(std::array::from_fn(|i| {
            (alpha * f32::from(c[i]) + (1.0 - alpha) * f32::from(p[i])).round() as u8
        }))
    })
}

/// Draws a box outline, two pixels wide, in `colour`.
pub fn draw_box(image: &mut RgbImage, b: &BBox, colour: [u8; 3]) {
    let (w, h) = image.dimensions();
    for x in b.x0..b.x1.min(w) {
        for y in [
            b.y0,
            b.y0 + 1,
            b.y1.saturating_sub(1),
            b.y1.saturating_sub(2),
        ] {
            if y < h {
                image.put_pixel(x, y, Rgb(colour));
            }
        }
    }
    for y in b.y0..b.y1.min(h) {
        for x in [
            b.x0,
            b.x0 + 1,
            b.x1.saturating_sub(1),
            b.x1.saturating_sub(2),
        ] {
            if x < w {
                image.put_pixel(x, y, Rgb(colour));
            }
        }
    }
}

/// The picture of one map: `image` (the crop the map lies on) under the upsampled map, with the
/// map's box drawn in white; and the box (none for a flat map).
pub fn overlay_with_box(
    image: &RgbImage,
    map: &SaliencyMap,
    boxes: &BoxOptions,
) -> Result<(RgbImage, Option<BBox>)> {
    let (w, h) = image.dimensions();
    let heat = upsample(map, w, h)?;
    let bbox = if map.flat {
        None
    } else {
        box_from_map(&heat, w, h, boxes)
    };
    let mut picture = overlay(image, &heat, 0.5);
    if let Some(b) = &bbox {
        draw_box(&mut picture, b, [255, 255, 255]);
    }
    Ok((picture, bbox))
}

/// An RGB image as PNG bytes.
pub fn png_bytes(image: &RgbImage) -> Result<Vec<u8>> {
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|source| Error::Write {
            path: "(memory)".into(),
            source,
        })?;
    Ok(out.into_inner())
}

/// Saves an RGB image as PNG.
pub fn save_png(image: &RgbImage, path: &Path) -> Result<()> {
    image.save(path).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_is_red_and_low_is_blue() {
        let [r, g, b] = color(1.0);
        assert!(
            r > 100 && r > 2 * b && r > g,
            "high should be red, got {r},{g},{b}"
        );
        let [r, _, b] = color(0.15);
        assert!(b > r, "low should be blue-ish, got r {r} b {b}");
    }

    #[test]
    fn upsampling_keeps_the_peak_where_it_was() {
        let map = SaliencyMap::from_raw(2, 2, &[0.0, 0.0, 0.0, 1.0]);
        let up = upsample(&map, 8, 8).unwrap();
        let (i, _) = up
            .iter()
            .enumerate()
            .fold((0, f32::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
        assert!(i % 8 >= 4 && i / 8 >= 4, "peak at {i}");
    }
}
