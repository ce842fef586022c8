//! Every supported format decodes to the same upright RGB pixels; animations give their first
//! frame; EXIF orientation is applied.

use std::io::Cursor;
use std::path::Path;

use image::codecs::gif::GifEncoder;
use image::{Delay, Frame, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use lookalike_core::image::decode_bytes;
use lookalike_core::DecodeLimits;

fn pattern() -> RgbImage {
    RgbImage::from_fn(24, 16, |x, y| {
        Rgb([
            (x * 10) as u8,
            (y * 15) as u8,
            if x < 12 { 200 } else { 20 },
        ])
    })
}

fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

#[test]
fn lossless_formats_give_back_the_exact_pixels() {
    let img = pattern();
    for format in [
        ImageFormat::Png,
        ImageFormat::Bmp,
        ImageFormat::Tiff,
        ImageFormat::WebP,
    ] {
        let bytes = encode(&img, format);
        let back = decode_bytes(&bytes, Path::new("x"), &DecodeLimits::default()).unwrap();
        assert_eq!(back, img, "{format:?}");
    }
}

#[test]
fn jpeg_decodes_close_to_the_original() {
    let img = pattern();
    let back = decode_bytes(
        &encode(&img, ImageFormat::Jpeg),
        Path::new("x"),
        &DecodeLimits::default(),
    )
    .unwrap();
    assert_eq!(back.dimensions(), img.dimensions());
    let mean: f64 = back
        .as_raw()
        .iter()
        .zip(img.as_raw())
        .map(|(a, b)| (*a as f64 - *b as f64).abs())
        .sum::<f64>()
        / img.as_raw().len() as f64;
    assert!(mean < 6.0, "mean error {mean}");
}

#[test]
fn a_gif_gives_its_first_frame() {
    let mut bytes = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut bytes);
        for color in [[255u8, 0, 0, 255], [0, 0, 255, 255]] {
            let frame = Frame::from_parts(
                RgbaImage::from_pixel(8, 8, Rgba(color)),
                0,
                0,
                Delay::from_numer_denom_ms(100, 1),
            );
            enc.encode_frame(frame).unwrap();
        }
    }
    let img = decode_bytes(&bytes, Path::new("anim.gif"), &DecodeLimits::default()).unwrap();
    assert_eq!(img.get_pixel(4, 4), &Rgb([255, 0, 0]));
}

/// A JPEG with an EXIF APP1 segment whose IFD0 holds only the Orientation tag.
fn jpeg_with_orientation(img: &RgbImage, orientation: u16) -> Vec<u8> {
    let jpeg = encode(img, ImageFormat::Jpeg);
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\0\x2a\0\0\0\x08"); // big-endian TIFF header, IFD0 at 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_is_applied() {
    let img = pattern();
    let limits = DecodeLimits::default();
    let plain = decode_bytes(&jpeg_with_orientation(&img, 1), Path::new("a.jpg"), &limits).unwrap();
    assert_eq!(plain.dimensions(), (24, 16));
    // 6: the camera was turned; the viewer rotates 90° clockwise.
    let turned =
        decode_bytes(&jpeg_with_orientation(&img, 6), Path::new("b.jpg"), &limits).unwrap();
    assert_eq!(turned, image::imageops::rotate90(&plain));
    // 3: upside down.
    let flipped =
        decode_bytes(&jpeg_with_orientation(&img, 3), Path::new("c.jpg"), &limits).unwrap();
    assert_eq!(flipped, image::imageops::rotate180(&plain));
}
