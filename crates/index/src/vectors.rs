//! Embedding files: `.npy` (float32, C order, rows × dim) or `.fvecs` (per row: dim as a
//! little-endian i32, then dim little-endian f32), plus `NAME.paths.txt` with one source path per
//! row.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use npyz::WriterBuilder;

/// What can go wrong reading or writing a vector file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VectorsError {
    /// The extension names no format we write.
    #[error("{}: unknown vector format; use a name ending in .npy or .fvecs", path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// An I/O failure.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file's contents do not make a matrix of f32.
    #[error("{}: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The data handed in is not rows × dim.
    #[error("{len} values do not make rows of {dim}")]
    Shape {
        /// Number of values.
        len: usize,
        /// Row length.
        dim: usize,
    },
    /// A path cannot be listed one per line.
    #[error("{0:?}: a path with a line break cannot be written to the paths list")]
    BadPath(PathBuf),
}

/// The on-disk formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorFile {
    /// NumPy `.npy`, float32, shape `(rows, dim)`.
    Npy,
    /// `.fvecs`, as in the ANN benchmarks (SIFT1M, ...).
    Fvecs,
}

impl VectorFile {
    /// The format named by a file's extension.
    pub fn from_path(path: &Path) -> Result<Self, VectorsError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("npy") => Ok(VectorFile::Npy),
            Some("fvecs") => Ok(VectorFile::Fvecs),
            _ => Err(VectorsError::UnknownFormat { path: path.into() }),
        }
    }
}

/// A row-major matrix of vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct Vectors {
    /// Length of each row.
    pub dim: usize,
    /// `rows × dim` values.
    pub data: Vec<f32>,
}

impl Vectors {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

/// `vecs.npy` → `vecs.paths.txt`.
pub fn paths_file_for(vectors: &Path) -> PathBuf {
    vectors.with_extension("paths.txt")
}

/// Writes `data` (rows of `dim`) to `path` in the format its extension names and, when `paths`
/// is given, the list of source paths beside it. Both files are written to a temporary name and
/// renamed into place, so an interrupted run never leaves a half-written file over an old one.
pub fn write_vectors(
    path: &Path,
    data: &[f32],
    dim: usize,
    paths: Option<&[PathBuf]>,
) -> Result<(), VectorsError> {
    let format = VectorFile::from_path(path)?;
    if dim == 0 || !data.len().is_multiple_of(dim) {
        return Err(VectorsError::Shape {
            len: data.len(),
            dim,
        });
    }
    if let Some(bad) = paths
        .into_iter()
        .flatten()
        .find(|p| p.to_string_lossy().contains(['\n', '\r']))
    {
        return Err(VectorsError::BadPath(bad.clone()));
    }
    let rows = data.len() / dim;
    atomic_write(path, |w| match format {
        VectorFile::Npy => write_npy(w, data, rows, dim),
        VectorFile::Fvecs => {
            for row in data.chunks_exact(dim) {
                w.write_all(&(dim as i32).to_le_bytes())?;
                for v in row {
                    w.write_all(&v.to_le_bytes())?;
                }
            }
            Ok(())
        }
    })?;
    if let Some(paths) = paths {
        atomic_write(&paths_file_for(path), |w| {
            for p in paths {
                writeln!(w, "{}", p.display())?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

fn write_npy(w: &mut dyn Write, data: &[f32], rows: usize, dim: usize) -> std::io::Result<()> {
    let mut out = npyz::WriteOptions::<f32>::new()
        .default_dtype()
        .shape(&[rows as u64, dim as u64])
        .writer(w)
        .begin_nd()?;
    out.extend(data.iter().copied())?;
    out.finish()
}

fn atomic_write(
    path: &Path,
    body: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), VectorsError> {
    let io = |source| VectorsError::Io {
        path: path.into(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut w = BufWriter::new(File::create(&tmp)?);
        body(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Reads a `.npy` (2-d float32) or `.fvecs` file.
pub fn read_vectors(path: &Path) -> Result<Vectors, VectorsError> {
    let format = VectorFile::from_path(path)?;
    let io = |source| VectorsError::Io {
        path: path.into(),
        source,
    };
    let malformed = |message: String| VectorsError::Malformed {
        path: path.into(),
        message,
    };
    let file = File::open(path).map_err(io)?;
    match format {
        VectorFile::Npy => {
            let npy = npyz::NpyFile::new(BufReader::new(file)).map_err(io)?;
            let shape = npy.shape().to_vec();
            if shape.len() != 2 {
                return Err(malformed(format!(
                    "expected a 2-d array, found shape {shape:?}"
                )));
            }
            let data: Vec<f32> = npy
                .into_vec()
                .map_err(|e| malformed(format!("expected float32 values: {e}")))?;
            Ok(Vectors {
                dim: shape[1] as usize,
                data,
            })
        }
        VectorFile::Fvecs => {
            let mut r = BufReader::new(file);
            let mut data = Vec::new();
            let mut dim = None;
            let mut head = [0u8; 4];
            while !r.fill_buf().map_err(io)?.is_empty() {
                r.read_exact(&mut head).map_err(io)?;
                let d = i32::from_le_bytes(head);
                if d <= 0 || dim.is_some_and(|x| x != d as usize) {
                    return Err(malformed(format!(
                        "row {} has dimension {d}",
                        data.len() / dim.unwrap_or(1)
                    )));
                }
                dim = Some(d as usize);
                let mut row = vec![0u8; 4 * d as usize];
                r.read_exact(&mut row)
                    .map_err(|_| malformed("the last row is cut short".into()))?;
                data.extend(
                    row.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
            }
            Ok(Vectors {
                dim: dim.unwrap_or(0),
                data,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 1.0).collect();
        for name in ["v.npy", "v.fvecs"] {
            let path = dir.path().join(name);
            let paths = vec![
                PathBuf::from("a.jpg"),
                PathBuf::from("b c.png"),
                PathBuf::from("d.gif"),
            ];
            write_vectors(&path, &data, 4, Some(&paths)).unwrap();
            let back = read_vectors(&path).unwrap();
            assert_eq!(
                back,
                Vectors {
                    dim: 4,
                    data: data.clone()
                }
            );
            assert_eq!(back.rows(), 3);
            let list = std::fs::read_to_string(paths_file_for(&path)).unwrap();
            assert_eq!(list, "a.jpg\nb c.png\nd.gif\n");
        }
    }

    #[test]
    fn npy_header_is_what_numpy_expects() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.npy");
        write_vectors(&path, &[1.0, 2.0], 2, None).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..6], b"\x93NUMPY");
        let header = String::from_utf8_lossy(&bytes[10..]);
        assert!(
            header.contains("'descr': '<f4'") && header.contains("'shape': (1, 2"),
            "{header}"
        );
    }

    #[test]
    fn bad_shapes_and_names_are_refused_without_touching_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.fvecs");
        write_vectors(&path, &[1.0; 4], 2, None).unwrap();
        assert!(matches!(
            write_vectors(&path, &[1.0; 5], 2, None),
            Err(VectorsError::Shape { .. })
        ));
        assert!(matches!(
            write_vectors(&dir.path().join("v.csv"), &[1.0], 1, None),
            Err(VectorsError::UnknownFormat { .. })
        ));
        assert_eq!(read_vectors(&path).unwrap().rows(), 2);
        std::fs::write(&path, [3u8, 0, 0, 0, 1, 2]).unwrap();
        let e = read_vectors(&path).unwrap_err().to_string();
        assert!(e.contains("cut short"), "{e}");
    }
}
