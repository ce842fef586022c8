//! Labelled folders (one subfolder per class), the seeded stratified split, and the paper's
//! pairs.
//!
//! The split is made by image, per class, before any pair exists, so no test image ever shows
//! up in a training pair.

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::SeedableRng;

use crate::image::find_images;
use crate::{Error, Result};

/// The images of a labelled folder, with their class labels.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledFolder {
    /// The folder.
    pub root: PathBuf,
    /// Class names (subfolder names), sorted; a label is an index into this.
    pub classes: Vec<String>,
    /// Every image, grouped by class, in path order.
    pub images: Vec<PathBuf>,
    /// The class of each image.
    pub labels: Vec<usize>,
}

impl LabelledFolder {
    /// Reads `root`: each subfolder is a class and holds its images (searched recursively).
    /// Hidden folders are ignored.
    ///
    /// Fails with a clear message for fewer than two classes or a class without images.
    pub fn read(root: &Path) -> Result<Self> {
        let bad = |message: String| Error::Dataset {
            path: root.to_path_buf(),
            message,
        };
        let entries =
            std::fs::read_dir(root).map_err(|e| bad(format!("cannot read the folder: {e}")))?;
        let mut class_dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_dir()
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        class_dirs.sort();
        if class_dirs.len() < 2 {
            return Err(bad(format!(
                "found {} class folder(s); a labelled folder needs one subfolder per class, and at least two classes",
                class_dirs.len()
            )));
        }
        let mut out = LabelledFolder {
            root: root.to_path_buf(),
            classes: Vec::new(),
            images: Vec::new(),
            labels: Vec::new(),
        };
        for dir in class_dirs {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let images = find_images(&dir)?;
            if images.is_empty() {
                return Err(bad(format!("class {name:?} has no images")));
            }
            out.labels
                .extend(std::iter::repeat_n(out.classes.len(), images.len()));
            out.images.extend(images);
            out.classes.push(name);
        }
        Ok(out)
    }

    /// Keeps only the images at `keep` (e.g. those that decoded), in order.
    pub fn retain(&mut self, keep: &[bool]) {
        let mut i = 0;
        self.images.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        let mut j = 0;
        self.labels.retain(|_| {
            j += 1;
            keep[j - 1]
        });
    }
}

/// Indices of images in the train, validation and test splits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    /// For fitting.
    pub train: Vec<usize>,
    /// For early stopping.
    pub val: Vec<usize>,
    /// Held out for the final figures.
    pub test: Vec<usize>,
}

/// Splits each class by `fractions` (train, validation, test), shuffled with `seed`.
///
/// A class with at least three images gets at least one in each split.
pub fn split(labels: &[usize], fractions: [f64; 3], seed: u64) -> Split {
    let mut rng = StdRng::seed_from_u64(seed);
    let classes = labels.iter().copied().max().map_or(0, |m| m + 1);
    let mut out = Split::default();
    for c in 0..classes {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
        idx.shuffle(&mut rng);
        let n = idx.len();
        let total: f64 = fractions.iter().sum();
        let mut n_train = ((n as f64) * fractions[0] / total).round() as usize;
        let mut n_val = ((n as f64) * fractions[1] / total).round() as usize;
        if n >= 3 {
            n_train = n_train.clamp(1, n - 2);
            n_val = n_val.clamp(1, n - n_train - 1);
        } else {
            n_train = n_train.min(n);
            n_val = n_val.min(n - n_train);
        }
        out.train.extend(&idx[..n_train]);
        out.val.extend(&idx[n_train..n_train + n_val]);
        out.test.extend(&idx[n_train + n_val..]);
    }
    for part in [&mut out.train, &mut out.val, &mut out.test] {
        part.sort_unstable();
    }
    out
}

/// Two images and whether their classes differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Pair {
    /// The anchor.
    pub a: usize,
    /// Its partner.
    pub b: usize,
    /// True for a different-class pair (label y = 1).
    pub different: bool,
}

/// The paper's pairs over the images `indices`: for every anchor one same-class pair and one
/// different-class pair, never an image with itself. An anchor alone in its class among
/// `indices` gets neither (so the pairs stay balanced).
pub fn make_pairs(indices: &[usize], labels: &[usize], rng: &mut StdRng) -> Vec<Pair> {
    let classes = indices
        .iter()
        .map(|&i| labels[i])
        .max()
        .map_or(0, |m| m + 1);
    let mut by_class = vec![Vec::new(); classes];
    for &i in indices {
        by_class[labels[i]].push(i);
    }
    let mut pairs = Vec::with_capacity(indices.len() * 2);
    for &a in indices {
        let own = &by_class[labels[a]];
        if own.len() < 2 || own.len() == indices.len() {
            continue;
        }
        let same = loop {
            let b = *own.choose(rng).expect("at least two in the class");
            if b != a {
                break b;
            }
        };
        let other = loop {
            let b = *indices.choose(rng).expect("not empty");
            if labels[b] != labels[a] {
                break b;
            }
        };
        pairs.push(Pair {
            a,
            b: same,
            different: false,
        });
        pairs.push(Pair {
            a,
            b: other,
            different: true,
        });
    }
    pairs
}

/// A seeded random generator for pairs and shuffles.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_stratified_disjoint_and_seeded() {
        let labels: Vec<usize> = (0..100).map(|i| i % 4).collect();
        let s = split(&labels, [0.7, 0.15, 0.15], 3);
        assert_eq!(s.train.len() + s.val.len() + s.test.len(), 100);
        for c in 0..4 {
            let count = |v: &[usize]| v.iter().filter(|&&i| labels[i] == c).count();
            assert_eq!(
                (count(&s.train), count(&s.val), count(&s.test)),
                (18, 4, 3),
                "class {c}"
            );
        }
        let mut all: Vec<usize> = [s.train.clone(), s.val.clone(), s.test.clone()].concat();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(split(&labels, [0.7, 0.15, 0.15], 3), s);
        assert_ne!(split(&labels, [0.7, 0.15, 0.15], 4), s);
    }

    #[test]
    fn pairs_follow_the_paper() {
        let labels: Vec<usize> = (0..30).map(|i| i % 3).collect();
        let idx: Vec<usize> = (0..30).collect();
        let pairs = make_pairs(&idx, &labels, &mut rng(1));
        assert_eq!(pairs.len(), 60);
        for (k, p) in pairs.iter().enumerate() {
            assert_ne!(p.a, p.b, "never an image with itself");
            assert_eq!(p.different, labels[p.a] != labels[p.b]);
            assert_eq!(
                p.a,
                idx[k / 2],
                "one same and one different pair per anchor"
            );
            assert_eq!(p.different, k % 2 == 1);
        }
    }
}
