//! The training drawings in memory: every image of a grouped folder (`DIR/GROUP/CLASS/images`,
//! or `DIR/CLASS/images` as one group) decoded and preprocessed once into a uint8 table, and
//! the split of whole groups (alphabets) into training and held-out ones for early stopping.

use std::path::{Path, PathBuf};

use lookalike_core::image::decode_file;
use lookalike_core::{DecodeLimits, Error, Preprocess, Result};
use rand::seq::SliceRandom;
use rayon::prelude::*;
use tch::Tensor;

use crate::embed::Skipped;
use crate::oneshot::GroupedFolder;

/// Every decodable drawing of a grouped folder.
pub struct Drawings {
    /// `[N, 3, s, s]` uint8, on the CPU.
    pub pixels: Tensor,
    /// Class names: `GROUP/CLASS` for a nested folder, `CLASS` for a flat one.
    pub classes: Vec<String>,
    /// The group of each class.
    pub class_group: Vec<usize>,
    /// Group names.
    pub groups: Vec<String>,
    /// The rows of each class's images.
    pub images: Vec<Vec<usize>>,
    /// Whether the folder had groups.
    pub nested: bool,
    /// Files that did not decode.
    pub skipped: Vec<Skipped>,
}

impl Drawings {
    /// Reads `data`. A nested folder needs two groups or more (whole groups are held out).
    pub fn read(data: &Path, preprocess: &Preprocess, limits: &DecodeLimits) -> Result<Self> {
        let folder = GroupedFolder::read(data)?;
        if folder.nested && folder.groups.len() < 2 {
            let names: Vec<&str> = folder.groups.iter().map(|g| g.name.as_str()).collect();
            return Err(Error::Dataset {
                path: data.to_path_buf(),
                message: format!(
                    "a grouped folder (DIR/GROUP/CLASS/images) with {} usable group(s) ({}): \
                     one-shot training holds whole groups out to choose its epoch and needs at \
                     least two; add a group, or give DIR/CLASS/images (held-out classes then)",
                    folder.groups.len(),
                    names.join(", ")
                ),
            });
        }
        let mut classes = Vec::new();
        let mut class_group = Vec::new();
        let mut paths: Vec<(usize, PathBuf)> = Vec::new();
        for (g, group) in folder.groups.iter().enumerate() {
            for (name, imgs) in group.classes.iter().zip(&group.images) {
                let c = classes.len();
                classes.push(if folder.nested {
                    format!("{}/{name}", group.name)
                } else {
                    name.clone()
                });
                class_group.push(g);
                paths.extend(imgs.iter().map(|p| (c, p.clone())));
            }
        }
        let decoded: Vec<_> = paths
            .par_iter()
            .map(|(_, p)| decode_file(p, limits).map(|img| preprocess.apply(&img)))
            .collect();
        let side = preprocess.crop as usize;
        let mut bytes: Vec<u8> = Vec::with_capacity(paths.len() * 3 * side * side);
        let mut images = vec![Vec::new(); classes.len()];
        let mut skipped = Vec::new();
        let mut rows = 0;
        for ((c, _), result) in paths.iter().zip(decoded) {
            match result {
                Ok(img) => {
                    // HWC → CHW.
                    let raw = img.as_raw();
                    for ch in 0..3 {
                        bytes.extend(raw.iter().skip(ch).step_by(3));
                    }
                    images[*c].push(rows);
                    rows += 1;
                }
                Err(error) => skipped.push(Skipped { error }),
            }
        }
        let s = side as i64;
        let pixels = Tensor::from_slice(&bytes).f_view([rows as i64, 3, s, s])?;
        Ok(Drawings {
            pixels,
            classes,
            class_group,
            groups: folder.groups.iter().map(|g| g.name.clone()).collect(),
            images,
            nested: folder.nested,
            skipped,
        })
    }

    /// The held-out classes: every class of `val_groups` seeded groups (nested), or a seeded
    /// fifth of the classes (flat; at least two). Fails when either side would be too small to
    /// train or to make a one-shot run.
    pub fn held_out(&self, data: &Path, val_groups: usize, seed: u64) -> Result<Vec<bool>> {
        let mut rng = lookalike_core::dataset::rng(seed.wrapping_add(11));
        let mut held = vec![false; self.classes.len()];
        if self.nested {
            if val_groups == 0 || val_groups >= self.groups.len() {
                return Err(Error::Dataset {
                    path: data.to_path_buf(),
                    message: format!(
                        "--val-groups {val_groups}: hold out at least one of the {} groups and \
                         train on at least one",
                        self.groups.len()
                    ),
                });
            }
            let mut order: Vec<usize> = (0..self.groups.len()).collect();
            order.shuffle(&mut rng);
            for (c, g) in self.class_group.iter().enumerate() {
                held[c] = order[..val_groups].contains(g);
            }
        } else {
            let mut order: Vec<usize> = (0..self.classes.len()).collect();
            order.shuffle(&mut rng);
            let n = (self.classes.len() / 5).max(2);
            for &c in &order[..n.min(order.len())] {
                held[c] = true;
            }
        }
        let usable = |want: bool| {
            (0..self.classes.len())
                .filter(|&c| held[c] == want && self.images[c].len() >= 2)
                .count()
        };
        if usable(true) < 2 || usable(false) < 2 {
            return Err(Error::Dataset {
                path: data.to_path_buf(),
                message: format!(
                    "one-shot training needs two classes of two images or more on each side of \
                     the held-out split; it has {} to train on and {} held out",
                    usable(false),
                    usable(true)
                ),
            });
        }
        Ok(held)
    }
}
