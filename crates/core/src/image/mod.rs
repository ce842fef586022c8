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
pub use folder::{find_images, IMAGE_EXTENSIONS};
pub use preprocess::{to_pixels, Preprocess};
