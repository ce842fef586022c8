//! Decoding one image, from a file or from bytes, safely.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};

/// Why an image could not be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The file could not be read at all.
    #[error("{}: cannot read: {reason}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error. (Not the error's `source`: the message already says it, and a
        /// chain printer such as anyhow's would say it twice.)
        reason: std::io::Error,
    },
    /// The file has no bytes.
    #[error("{}: the file is empty", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The bytes are not one of the supported formats, whatever the file name says.
    #[error("{}: not an image in a supported format (JPEG, PNG, WebP, BMP, GIF, TIFF)", path.display())]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
    },
    /// The header claims more pixels than allowed (a decompression bomb or a mistake).
    #[error(
        "{}: {width}×{height} pixels is more than the limit of {limit} pixels; \
         refusing to decode it",
        path.display()
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Claimed width.
        width: u32,
        /// Claimed height.
        height: u32,
        /// The limit in pixels.
        limit: u64,
    },
    /// The data is damaged: truncated, corrupt or inconsistent.
    #[error("{}: corrupt or truncated {format} data: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The format the bytes claimed to be.
        format: String,
        /// What the decoder said.
        message: String,
    },
}

impl ImageError {
    /// The file this error is about.
    pub fn path(&self) -> &Path {
        match self {
            ImageError::Io { path, .. }
            | ImageError::Empty { path }
            | ImageError::UnsupportedFormat { path }
            | ImageError::TooLarge { path, .. }
            | ImageError::Corrupt { path, .. } => path,
        }
    }
}

/// Limits that protect the process from hostile or broken files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest accepted width × height. The default is Pillow's `MAX_IMAGE_PIXELS`
    /// (89,478,485), so that what Pillow accepts, we accept.
    pub max_pixels: u64,
    /// Largest allocation a decoder may make, in bytes.
    pub max_alloc: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_pixels: 89_478_485,
            max_alloc: 1 << 30,
        }
    }
}

const SUPPORTED: [ImageFormat; 6] = [
    ImageFormat::Jpeg,
    ImageFormat::Png,
    ImageFormat::WebP,
    ImageFormat::Bmp,
    ImageFormat::Gif,
    ImageFormat::Tiff,
];

/// Reads and decodes one file. See [`decode_bytes`].
pub fn decode_file(path: &Path, limits: &DecodeLimits) -> Result<RgbImage, ImageError> {
    let bytes = std::fs::read(path).map_err(|reason| ImageError::Io {
        path: path.into(),
        reason,
    })?;
    decode_bytes(&bytes, path, limits)
}

/// Decodes an image held in memory into 8-bit RGB, upright.
///
/// - The format comes from the bytes, not from the name.
/// - GIF and other animations give their first frame.
/// - The EXIF orientation is applied, as a camera viewer would.
/// - The pixel count is checked against `limits` from the header, before any pixel is decoded.
/// - A JPEG without its end-of-image marker is reported as truncated instead of being padded
///   with grey, as lenient decoders do.
///
/// `path` only names the source in errors.
pub fn decode_bytes(
    bytes: &[u8],
    path: &Path,
    limits: &DecodeLimits,
) -> Result<RgbImage, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty { path: path.into() });
    }
    let format = match image::guess_format(bytes) {
        Ok(f) if SUPPORTED.contains(&f) => f,
        _ => return Err(ImageError::UnsupportedFormat { path: path.into() }),
    };
    let corrupt = |message: String| ImageError::Corrupt {
        path: path.into(),
        format: format!("{format:?}").to_uppercase(),
        message,
    };
    // The size from the header alone (the `imagesize` crate reads a few bytes), so that a file
    // claiming a huge size is refused before any decoder runs or allocates.
    if let Ok(size) = imagesize::blob_size(bytes) {
        check_pixels(size.width as u64, size.height as u64, path, limits)?;
    }
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(corrupt(
            "the file ends before the end-of-image marker".into(),
        ));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(|e| corrupt(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    check_pixels(width.into(), height.into(), path, limits)?;
    if width == 0 || height == 0 {
        return Err(corrupt(format!("the header says {width}×{height} pixels")));
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| corrupt(e.to_string()))?;
    img.apply_orientation(orientation);
    Ok(img.into_rgb8())
}

fn check_pixels(
    width: u64,
    height: u64,
    path: &Path,
    limits: &DecodeLimits,
) -> Result<(), ImageError> {
    if width.saturating_mul(height) > limits.max_pixels {
        let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        return Err(ImageError::TooLarge {
            path: path.into(),
            width: clamp(width),
            height: clamp(height),
            limit: limits.max_pixels,
        });
    }
    Ok(())
}

/// True when the last scan of a JPEG is followed by an end-of-image marker (`FF D9`).
///
/// Entropy-coded data never contains `FF D9` or `FF DA` (every `FF` there is stuffed), so the
/// last start-of-scan must be followed by an end-of-image marker unless the file was cut short.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last = |marker: u8| {
        bytes
            .windows(2)
            .rposition(|w| w[0] == 0xFF && w[1] == marker)
    };
    match (last(0xDA), last(0xD9)) {
        (Some(sos), Some(eoi)) => eoi > sos,
        (None, _) => true, // no scan at all: let the decoder say what is wrong
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, 90]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Jpeg).unwrap();
        out.into_inner()
    }

    #[test]
    fn decodes_a_jpeg() {
        let img =
            decode_bytes(&jpeg(40, 30), Path::new("a.jpg"), &DecodeLimits::default()).unwrap();
        assert_eq!(img.dimensions(), (40, 30));
    }

    #[test]
    fn empty_text_and_truncated_files_are_named_errors() {
        let lim = DecodeLimits::default();
        let e = decode_bytes(b"", Path::new("e.jpg"), &lim).unwrap_err();
        assert_eq!(e.to_string(), "e.jpg: the file is empty");
        let e = decode_bytes(b"hello, I am text", Path::new("t.jpg"), &lim).unwrap_err();
        assert!(matches!(e, ImageError::UnsupportedFormat { .. }), "{e}");
        assert!(e.to_string().starts_with("t.jpg: not an image"));
        let full = jpeg(64, 64);
        let e = decode_bytes(&full[..full.len() * 2 / 3], Path::new("cut.jpg"), &lim).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cut.jpg: corrupt or truncated JPEG"),
            "{e}"
        );
    }

    #[test]
    fn the_pixel_limit_is_checked_from_the_header() {
        let lim = DecodeLimits {
            max_pixels: 100,
            ..DecodeLimits::default()
        };
        let e = decode_bytes(&jpeg(20, 10), Path::new("big.jpg"), &lim).unwrap_err();
        assert!(
            matches!(
                e,
                ImageError::TooLarge {
                    width: 20,
                    height: 10,
                    limit: 100,
                    ..
                }
            ),
            "{e}"
        );
    }
}
