//! Where a stored image's file is: on this machine (added by path, or uploaded to a collection
//! whose store keeps no files: `DIR/uploads/SHA256.EXT`), or in the store itself (uploaded to a
//! pgvector collection, so that every server reads it). The metadata's `path` tells which:
//! a stored file's reads `db:uploads/SHA256.EXT`.

use std::borrow::Cow;
use std::path::PathBuf;

use lookalike_index::{Metadata, PointId};

use super::{Collection, CollectionError};

/// How the `path` of a file kept in the store begins.
pub const IN_STORE: &str = "db:uploads/";

/// A stored image's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// A file on this machine.
    File(PathBuf),
    /// Bytes read from the store.
    Kept {
        /// The image's `path`: [`IN_STORE`], its hash and extension.
        path: String,
        /// The file.
        bytes: Vec<u8>,
    },
}

impl ImageSource {
    /// The file's bytes (read now for a [`ImageSource::File`]).
    pub fn bytes(&self) -> std::io::Result<Cow<'_, [u8]>> {
        match self {
            ImageSource::File(path) => std::fs::read(path).map(Cow::Owned),
            ImageSource::Kept { bytes, .. } => Ok(Cow::Borrowed(bytes)),
        }
    }

    /// The bytes of stored image `id`'s file, or [`CollectionError::FileMissing`] when it is
    /// gone: what serving, searching by and explaining a stored image all read.
    pub fn into_bytes(self, id: PointId) -> Result<Vec<u8>, CollectionError> {
        match self {
            ImageSource::File(path) => {
                std::fs::read(&path).map_err(|e| CollectionError::FileMissing {
                    id,
                    path: path.display().to_string(),
                    why: e.to_string(),
                })
            }
            ImageSource::Kept { bytes, .. } => Ok(bytes),
        }
    }

    /// Its name, for messages and for guessing the format from the extension.
    pub fn name(&self) -> Cow<'_, str> {
        match self {
            ImageSource::File(path) => path.to_string_lossy(),
            ImageSource::Kept { path, .. } => Cow::Borrowed(path),
        }
    }
}

/// The `path` recorded for upload `sha256` kept in the store.
pub(super) fn kept_path(sha256: &str, extension: &str) -> String {
    format!("{IN_STORE}{sha256}.{extension}")
}

impl Collection {
    /// The file of stored image `id` (`None` if there is no such image).
    pub async fn image_source(&self, id: PointId) -> Result<Option<ImageSource>, CollectionError> {
        let Some(point) = self.store.get(&[id]).await?.pop() else {
            return Ok(None);
        };
        let path = point
            .metadata
            .get("path")
            .and_then(|p| p.as_str())
            .ok_or_else(|| CollectionError::Invalid(format!("image {id} has no stored file")))?;
        Ok(Some(self.source_of(id, path, &point.metadata).await?))
    }

    /// The files of stored images known by `(id, path)`, as a search's hits give them, in order.
    pub async fn sources_of(
        &self,
        hits: &[(PointId, &str, &Metadata)],
    ) -> Result<Vec<(PointId, ImageSource)>, CollectionError> {
        let mut out = Vec::with_capacity(hits.len());
        for (id, path, metadata) in hits {
            out.push((*id, self.source_of(*id, path, metadata).await?));
        }
        Ok(out)
    }

    async fn source_of(
        &self,
        id: PointId,
        path: &str,
        metadata: &Metadata,
    ) -> Result<ImageSource, CollectionError> {
        if !path.starts_with(IN_STORE) {
            return Ok(ImageSource::File(PathBuf::from(path)));
        }
        let sha256 = metadata
            .get("sha256")
            .and_then(|s| s.as_str())
            .ok_or_else(|| {
                CollectionError::Invalid(format!(
                    "image {id} is kept in the store without its sha256"
                ))
            })?;
        match self.store.original(sha256).await? {
            Some(bytes) => Ok(ImageSource::Kept {
                path: path.to_string(),
                bytes,
            }),
            None => Err(CollectionError::FileMissing {
                id,
                path: path.to_string(),
                why: "the store keeps no file of its content".into(),
            }),
        }
    }
}
