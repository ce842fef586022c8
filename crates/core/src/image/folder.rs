//! Folders of images: finding them recursively. (Decoding them in parallel is
//! `lookalike_engine::embed`'s job, batch by batch.)

use std::path::{Path, PathBuf};

use super::ImageError;

/// File extensions treated as images when walking a folder (case-insensitive).
pub const IMAGE_EXTENSIONS: [&str; 9] = [
    "jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff", "jfif",
];

/// Every file under `root` (recursively, following symbolic links) whose extension names an
/// image format, sorted by path so that runs are repeatable. Other files are not listed.
pub fn find_images(root: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let io = |path: &Path, reason| ImageError::Io {
        path: path.into(),
        reason,
    };
    let meta = std::fs::metadata(root).map_err(|e| io(root, e))?;
    if !meta.is_dir() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut paths = Vec::new();
    for entry in walkdir::WalkDir::new(root).follow_links(true) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(root).to_path_buf();
            io(&path, e.into())
        })?;
        if entry.file_type().is_file() && has_image_extension(entry.path()) {
            paths.push(entry.into_path());
        }
    }
    paths.sort();
    Ok(paths)
}

/// Whether `path` ends in one of [`IMAGE_EXTENSIONS`] (any case).
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}
