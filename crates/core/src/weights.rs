//! Where pretrained weights live.
//!
//! `make setup` converts them once into the project's `weights/` folder. The binary looks, in
//! order, at an explicit `--weights FILE`, then `$LOOKALIKE_WEIGHTS_DIR`, then that folder
//! (its absolute path is fixed when the binary is built, so no variable has to be set).

use std::path::{Path, PathBuf};

use crate::BackboneKind;

/// The folder searched for `<backbone>.safetensors` when no file is named.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LOOKALIKE_WEIGHTS_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../weights")
}

/// The weights file for `kind`: `explicit` when given, else the default folder's file, else
/// `None` for a backbone that may start from random weights (the test CNN).
pub fn resolve(kind: BackboneKind, explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    let path = default_dir().join(kind.weights_file());
    if kind.needs_weights() || path.is_file() {
        Some(clean(&path))
    } else {
        None
    }
}

/// Removes `..` components made by joining, for readable messages.
fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
