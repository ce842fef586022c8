//! Images in: decoding, the reference preprocessing, and folders decoded in parallel.
//!
//! The pipeline for one file is [`decode_file`] (any supported format, EXIF orientation applied,
//! pixel limit enforced before any pixel buffer is allocated) then [`Preprocess::apply`] (resize
//! the shorter side, centre-crop), then [`to_pixels`] to make a batch tensor.

mod augment;
mod decode;
mod folder;
mod preprocess;

pub use augment::augment;
pub use decode::{decode_bytes, decode_file, DecodeLimits, ImageError};
pub use folder::{find_images, has_image_extension, IMAGE_EXTENSIONS};
pub use preprocess::{to_pixels, Preprocess};

/// One image file as a model sees it: decoded, resized and cropped (the crop, for overlays) and
/// as float pixels `[1, 3, H, W]`. What `search`, `explain` and friends all start from.
pub fn load_for_model(
    path: &std::path::Path,
    limits: &DecodeLimits,
    preprocess: &Preprocess,
) -> crate::Result<(image::RgbImage, tch::Tensor)> {
    let crop = preprocess.apply(&decode_file(path, limits)?);
    let pixels = to_pixels(std::slice::from_ref(&crop))?;
    Ok((crop, pixels))
}
