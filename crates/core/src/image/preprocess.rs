//! The reference preprocessing: torchvision's `Resize(256)` then `CenterCrop(224)`, on 8-bit RGB;
//! or, for drawings (`resize_only`), a plain resize of the whole image to the network's input
//! size, optionally with the ink inverted (white strokes on black).

use fast_image_resize::{
    self as fir,
    images::{Image, ImageRef},
    FilterType, PixelType, ResizeAlg, ResizeOptions,
};
use image::imageops;
use image::RgbImage;
use tch::{Kind, Tensor};

/// Resize the shorter side to `resize`, then cut the centred `crop`×`crop` square.
///
/// This is what torchvision does for ImageNet evaluation, and what `scripts/reference.py` runs as
/// the peer: the longer side becomes `floor(resize × long / short)`, the filter is bilinear with
/// antialiasing (a triangle whose support widens when shrinking, as in Pillow), and the crop
/// offset is `round((size − crop) / 2)` with Python's round-half-to-even.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preprocess {
    /// Length of the shorter side after resizing.
    pub resize: u32,
    /// Side of the square crop.
    pub crop: u32,
    /// Resize the whole image to `crop`×`crop` instead (no crop: nothing of a drawing is cut;
    /// the aspect ratio is not kept).
    pub resize_only: bool,
    /// Invert every channel (`255 − v`), so that dark strokes on white become bright on black.
    pub invert: bool,
}

impl Default for Preprocess {
    fn default() -> Self {
        Preprocess {
            resize: 256,
            crop: 224,
            resize_only: false,
            invert: false,
        }
    }
}

impl Preprocess {
    /// The size the whole image is resized to before cropping.
    pub fn resized_size(&self, width: u32, height: u32) -> (u32, u32) {
        let (short, long) = (width.min(height) as u64, width.max(height) as u64);
        let long = (self.resize as u64 * long / short.max(1)) as u32;
        if width <= height {
            (self.resize, long)
        } else {
            (long, self.resize)
        }
    }

    /// Resizes (and crops) one image to `crop`×`crop`, inverted when asked.
    pub fn apply(&self, img: &RgbImage) -> RgbImage {
        let mut out = if self.resize_only {
            if img.dimensions() == (self.crop, self.crop) {
                img.clone()
            } else {
                resize_bilinear(img, self.crop, self.crop)
            }
        } else {
            self.resize_and_crop(img)
        };
        if self.invert {
            imageops::invert(&mut out);
        }
        out
    }

    fn resize_and_crop(&self, img: &RgbImage) -> RgbImage {
        let (w, h) = self.resized_size(img.width(), img.height());
        let resized;
        let src = if (w, h) == img.dimensions() {
            img
        } else {
            resized = resize_bilinear(img, w, h);
            &resized
        };
        let offset = |size: u32| {
            ((size as f64 - self.crop as f64) / 2.0)
                .round_ties_even()
                .max(0.0) as u32
        };
        let (left, top) = (offset(w), offset(h));
        let mut out = RgbImage::new(self.crop, self.crop);
        // Pad with black where the image is smaller than the crop, as torchvision does.
        let (cw, ch) = (self.crop.min(w), self.crop.min(h));
        let (dx, dy) = (offset_pad(self.crop, w), offset_pad(self.crop, h));
        let view = imageops::crop_imm(src, left, top, cw, ch).to_image();
        imageops::replace(&mut out, &view, dx as i64, dy as i64);
        out
    }
}

/// Bilinear resize with antialiasing, computed as Pillow computes it: a horizontal then a
/// vertical pass of fixed-point convolutions with a triangle filter whose support grows with the
/// scale factor. `fast_image_resize` implements exactly this (and with SIMD), which keeps us
/// within one grey level of `PIL.Image.resize(..., BILINEAR)`, what torchvision calls.
fn resize_bilinear(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let resize = || -> Result<RgbImage, Box<dyn std::error::Error>> {
        let src = ImageRef::new(img.width(), img.height(), img.as_raw(), PixelType::U8x3)?;
        let mut dst = Image::new(width, height, PixelType::U8x3);
        let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
        fir::Resizer::new().resize(&src, &mut dst, &options)?;
        RgbImage::from_raw(width, height, dst.into_vec()).ok_or_else(|| "short buffer".into())
    };
    resize()
        .unwrap_or_else(|_| imageops::resize(img, width, height, imageops::FilterType::Triangle))
}

/// Where a too-small image lands inside the crop (torchvision pads `(crop − size) / 2` on the
/// leading side, rounded down).
fn offset_pad(crop: u32, size: u32) -> u32 {
    crop.saturating_sub(size) / 2
}

/// Stacks same-sized RGB images into a float tensor `[N, 3, H, W]` of pixel values in 0..=255.
pub fn to_pixels(images: &[RgbImage]) -> Result<Tensor, tch::TchError> {
    let (w, h) = images.first().map_or((0, 0), |i| i.dimensions());
    let mut bytes = Vec::with_capacity(images.len() * (w * h * 3) as usize);
    for img in images {
        if img.dimensions() != (w, h) {
            return Err(tch::TchError::Shape(format!(
                "images in a batch must share one size, got {:?} and {:?}",
                (w, h),
                img.dimensions()
            )));
        }
        bytes.extend_from_slice(img.as_raw());
    }
    Tensor::from_slice(&bytes)
        .f_view([images.len() as i64, h as i64, w as i64, 3])?
        .f_permute([0, 3, 1, 2])?
        .f_to_kind(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_torchvision() {
        let p = Preprocess::default();
        assert_eq!(p.resized_size(500, 375), (341, 256));
        assert_eq!(p.resized_size(375, 500), (256, 341));
        assert_eq!(p.resized_size(100, 100), (256, 256));
        let out = p.apply(&RgbImage::new(320, 213));
        assert_eq!(out.dimensions(), (224, 224));
    }

    #[test]
    fn resize_only_keeps_the_whole_drawing_and_inverts_its_ink() {
        // A black dot in the top-left corner of a white 105 px drawing: a 256 → 224 centre
        // crop would cut it away; a plain resize to 28 px keeps it, and inversion makes it
        // the only bright pixel.
        let mut img = RgbImage::from_pixel(105, 105, image::Rgb([255, 255, 255]));
        for y in 0..4 {
            for x in 0..4 {
                img.put_pixel(x, y, image::Rgb([0, 0, 0]));
            }
        }
        let p = Preprocess {
            resize: 28,
            crop: 28,
            resize_only: true,
            invert: true,
        };
        let out = p.apply(&img);
        assert_eq!(out.dimensions(), (28, 28));
        assert!(
            out.get_pixel(0, 0)[0] > 200,
            "the corner stroke is kept, bright"
        );
        assert_eq!(out.get_pixel(27, 27)[0], 0, "the paper is black");
        let cropped = Preprocess::default().apply(&img);
        assert_eq!(
            cropped.get_pixel(0, 0)[0],
            255,
            "a centre crop loses the corner"
        );
    }

    #[test]
    fn pixels_are_nchw_floats() {
        let mut img = RgbImage::new(2, 1);
        img.put_pixel(1, 0, image::Rgb([10, 20, 30]));
        let t = to_pixels(&[img]).unwrap();
        assert_eq!(t.size(), [1, 3, 1, 2]);
        assert_eq!(t.double_value(&[0, 2, 0, 1]), 30.0);
    }
}
