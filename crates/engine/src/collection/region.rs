//! Search by a region of the query: a box given in pixels or in fractions of the image, or
//! found automatically (`auto`), cut out of the decoded image before preprocessing.
//!
//! The automatic box is a simple, documented object box, not a learned detector: product
//! photos put the object on a plain background, so the background colour is the median of the
//! image's border pixels, a pixel is foreground when its colour is farther from it than a
//! threshold (32 grey levels in the largest channel difference), and the box spans the rows
//! and columns holding at least 2% foreground pixels (so that stray noise does not stretch it),
//! padded by 1% of the image's size (enough to keep the
//! object's edge, little enough not to bring the background back). With no foreground, or a box covering nearly the whole
//! image, the whole image is used.

use image::RgbImage;
use serde::Serialize;

use super::CollectionError;

/// A box as asked: `[x, y, w, h]`, in pixels, or in fractions of the image when all four lie
/// in `0..=1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region(pub [f64; 4]);

/// How to cut the query.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Crop {
    /// The whole image.
    #[default]
    Whole,
    /// This box.
    Box(Region),
    /// The main object's box ([`object_box`]).
    Auto,
}

/// The box a search used, in pixels of the decoded image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UsedBox {
    /// `[x, y, w, h]` in pixels.
    #[serde(rename = "box")]
    pub rect: [u32; 4],
    /// The decoded image's `[width, height]`.
    pub image_size: [u32; 2],
    /// `given` or `auto`.
    pub method: &'static str,
}

impl Region {
    /// `X,Y,W,H` (as the CLI's `--crop` takes it).
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<f64> = text
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("crop {text:?}: expected X,Y,W,H (pixels or fractions)"))?;
        Self::from_slice(&parts)
    }

    /// `[x, y, w, h]` (as the API's `crop` takes it).
    pub fn from_slice(v: &[f64]) -> Result<Self, String> {
        let [x, y, w, h] = v else {
            return Err(format!(
                "crop: expected four numbers [x, y, w, h], got {}",
                v.len()
            ));
        };
        if v.iter().any(|n| !n.is_finite() || *n < 0.0) {
            return Err("crop: x, y, w and h must be numbers at least 0".into());
        }
        if *w <= 0.0 || *h <= 0.0 {
            return Err("crop: the width and the height must be more than 0".into());
        }
        Ok(Region([*x, *y, *w, *h]))
    }

    /// The box in pixels of a `width × height` image; fractions when all four are at most 1.
    pub fn pixels(&self, width: u32, height: u32) -> Result<[u32; 4], String> {
        let [x, y, w, h] = self.0;
        let fractions = self.0.iter().all(|v| *v <= 1.0);
        let (x, y, w, h) = if fractions {
            if x + w > 1.0 + 1e-9 || y + h > 1.0 + 1e-9 {
                return Err(format!(
                    "crop [{x}, {y}, {w}, {h}]: as fractions, x + w and y + h must be at most 1"
                ));
            }
            let fx = |v: f64, n: u32| (v * n as f64).round() as u32;
            (fx(x, width), fx(y, height), fx(w, width), fx(h, height))
        } else {
            if [x, y, w, h].iter().any(|v| v.fract() != 0.0) {
                return Err(format!(
                    "crop [{x}, {y}, {w}, {h}]: pixels are whole numbers (fractions are all at most 1)"
                ));
            }
            (x as u32, y as u32, w as u32, h as u32)
        };
        if w == 0
            || h == 0
            || x as u64 + w as u64 > width as u64
            || y as u64 + h as u64 > height as u64
        {
            return Err(format!(
                "crop [{x}, {y}, {w}, {h}] does not fit the {width} × {height} image"
            ));
        }
        Ok([x, y, w, h])
    }
}

/// Cuts `crop` out of `image`; returns the cut and the box used (`None` for the whole image).
pub fn apply(image: RgbImage, crop: Crop) -> Result<(RgbImage, Option<UsedBox>), CollectionError> {
    let (width, height) = image.dimensions();
    let (rect, method) = match crop {
        Crop::Whole => return Ok((image, None)),
        Crop::Box(region) => (
            region
                .pixels(width, height)
                .map_err(CollectionError::Invalid)?,
            "given",
        ),
        Crop::Auto => (object_box(&image), "auto"),
    };
    let [x, y, w, h] = rect;
    let cut = image::imageops::crop_imm(&image, x, y, w, h).to_image();
    Ok((
        cut,
        Some(UsedBox {
            rect,
            image_size: [width, height],
            method,
        }),
    ))
}

/// The main object's box (the method in this module's header), `[x, y, w, h]` in pixels.
pub fn object_box(image: &RgbImage) -> [u32; 4] {
    let (width, height) = image.dimensions();
    let whole = [0, 0, width, height];
    if width < 4 || height < 4 {
        return whole;
    }
    // The background: the median of the border, per channel.
    let mut border: [Vec<u8>; 3] = Default::default();
    for (x, y, p) in image.enumerate_pixels() {
        if x == 0 || y == 0 || x == width - 1 || y == height - 1 {
            for c in 0..3 {
                border[c].push(p[c]);
            }
        }
    }
    let background: Vec<i32> = border
        .iter_mut()
        .map(|v| {
            v.sort_unstable();
            v[v.len() / 2] as i32
        })
        .collect();
    let mut rows = vec![0u32; height as usize];
    let mut cols = vec![0u32; width as usize];
    for (x, y, p) in image.enumerate_pixels() {
        let far = (0..3)
            .map(|c| (p[c] as i32 - background[c]).abs())
            .max()
            .unwrap_or(0);
        if far > 32 {
            rows[y as usize] += 1;
            cols[x as usize] += 1;
        }
    }
    let span = |counts: &[u32], across: u32| -> Option<(u32, u32)> {
        let least = (across as f64 * 0.02).ceil().max(1.0) as u32;
        let first = counts.iter().position(|&n| n >= least)?;
        let last = counts.iter().rposition(|&n| n >= least)?;
        Some((first as u32, last as u32))
    };
    let (Some((y0, y1)), Some((x0, x1))) = (span(&rows, width), span(&cols, height)) else {
        return whole;
    };
    let pad_x = (width as f64 * 0.01).round() as u32;
    let pad_y = (height as f64 * 0.01).round() as u32;
    let (x0, y0) = (x0.saturating_sub(pad_x), y0.saturating_sub(pad_y));
    let (x1, y1) = ((x1 + pad_x).min(width - 1), (y1 + pad_y).min(height - 1));
    let (w, h) = (x1 - x0 + 1, y1 - y0 + 1);
    if w as u64 * h as u64 >= (width as u64 * height as u64) * 95 / 100 {
        return whole;
    }
    [x0, y0, w, h]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_in_pixels_and_fractions() {
        let r = Region::parse("0.5, 0, 0.5, 1").unwrap();
        assert_eq!(r.pixels(200, 100).unwrap(), [100, 0, 100, 100]);
        let r = Region::parse("10,20,30,40").unwrap();
        assert_eq!(r.pixels(200, 100).unwrap(), [10, 20, 30, 40]);
        assert!(Region::parse("10,20,300,40")
            .unwrap()
            .pixels(200, 100)
            .unwrap_err()
            .contains("does not fit the 200 × 100 image"));
        assert!(Region::parse("0.6,0,0.5,1")
            .unwrap()
            .pixels(10, 10)
            .is_err());
        assert!(Region::parse("1.5,2,30,40")
            .unwrap()
            .pixels(100, 100)
            .is_err());
        assert!(Region::parse("1,2,3").unwrap_err().contains("four"));
        assert!(Region::parse("1,2,0,3")
            .unwrap_err()
            .contains("more than 0"));
        assert!(Region::parse("a,b,c,d").unwrap_err().contains("X,Y,W,H"));
    }

    #[test]
    fn the_object_box_finds_an_object_on_a_plain_background() {
        let mut img = RgbImage::from_pixel(200, 100, image::Rgb([250, 250, 250]));
        for y in 30..70 {
            for x in 120..170 {
                img.put_pixel(x, y, image::Rgb([(x * 3) as u8, 20, 90]));
            }
        }
        // A few stray pixels do not stretch the box.
        img.put_pixel(3, 3, image::Rgb([0, 0, 0]));
        let [x, y, w, h] = object_box(&img);
        assert!(
            (112..=120).contains(&x) && (26..=30).contains(&y),
            "{x} {y}"
        );
        assert!((50..=66).contains(&w) && (40..=48).contains(&h), "{w} {h}");
        // A busy image is its own box.
        let busy = RgbImage::from_fn(50, 50, |x, y| image::Rgb([(x * 5) as u8, (y * 5) as u8, 0]));
        assert_eq!(object_box(&busy), [0, 0, 50, 50]);
    }
}
