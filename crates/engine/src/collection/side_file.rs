//! The small JSON records a collection keeps beside `collection.json` (`neighbours.json`,
//! `familiarity.json`): read as their default when missing, replaced atomically.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::CollectionError;

/// Reads `DIR/FILE`; a missing file is `T::default()`. `what` names the record in errors.
pub(crate) fn read<T: DeserializeOwned + Default>(
    dir: &Path,
    file: &str,
    what: &str,
) -> Result<T, CollectionError> {
    let path = dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            CollectionError::Invalid(format!("{}: not a {what}: {e}", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(CollectionError::io(&path, e)),
    }
}

/// Writes `DIR/FILE` atomically (a temporary file, then a rename).
pub(crate) fn write<T: Serialize>(
    dir: &Path,
    file: &str,
    value: &T,
) -> Result<(), CollectionError> {
    let path = dir.join(file);
    let tmp = dir.join(format!(".{file}.tmp-{}", std::process::id()));
    let text = serde_json::to_string(value).map_err(|e| CollectionError::Invalid(e.to_string()))?;
    std::fs::write(&tmp, text).map_err(|e| CollectionError::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| CollectionError::io(&path, e))
}
