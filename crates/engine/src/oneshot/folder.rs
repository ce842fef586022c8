//! Groups of classes on disk: `ROOT/GROUP/CLASS/images` (an alphabet of characters), or
//! `ROOT/CLASS/images` as one group. `eval-oneshot --data` and one-shot training read it.

use std::path::{Path, PathBuf};

use lookalike_core::dataset::LabelledFolder;
use lookalike_core::image::has_image_extension;
use lookalike_core::{Error, Result};

use super::LeftOut;

/// Groups of classes: `ROOT/GROUP/CLASS/images` (an alphabet of characters), or
/// `ROOT/CLASS/images`, which is one group named after `ROOT`.
#[derive(Debug, Clone)]
pub struct GroupedFolder {
    /// The groups, sorted by name.
    pub groups: Vec<Group>,
    /// Whether the folder had two levels.
    pub nested: bool,
    /// Groups of a nested folder that are not labelled folders themselves (one class, an empty
    /// class), with the reason: they cannot hold a run, but the others still can.
    pub left_out: Vec<LeftOut>,
}

/// One group: its classes and their images.
#[derive(Debug, Clone)]
pub struct Group {
    /// The group's folder name.
    pub name: String,
    /// Class names, sorted.
    pub classes: Vec<String>,
    /// The images of each class, sorted by path.
    pub images: Vec<Vec<PathBuf>>,
}

impl GroupedFolder {
    /// Reads `root`. It is nested when every one of its subfolders holds subfolders and no
    /// images of its own; otherwise its subfolders are the classes of a single group.
    pub fn read(root: &Path) -> Result<Self> {
        let subdirs = |dir: &Path| -> Result<Vec<PathBuf>> {
            let entries = std::fs::read_dir(dir).map_err(|e| Error::Dataset {
                path: dir.to_path_buf(),
                message: format!("cannot read the folder: {e}"),
            })?;
            let mut dirs: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir() && !is_hidden(p))
                .collect();
            dirs.sort();
            Ok(dirs)
        };
        let top = subdirs(root)?;
        let mut nested = !top.is_empty();
        for dir in &top {
            let has_own_images = std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .any(|p| p.is_file() && has_image_extension(&p))
                })
                .unwrap_or(false);
            if has_own_images || subdirs(dir)?.is_empty() {
                nested = false;
                break;
            }
        }
        let group = |dir: &Path| -> Result<Group> {
            let folder = LabelledFolder::read(dir)?;
            let mut images = vec![Vec::new(); folder.classes.len()];
            for (path, &label) in folder.images.iter().zip(&folder.labels) {
                images[label].push(path.clone());
            }
            Ok(Group {
                name: file_name(dir),
                classes: folder.classes,
                images,
            })
        };
        let mut groups = Vec::new();
        let mut left_out = Vec::new();
        if nested {
            for dir in &top {
                match group(dir) {
                    Ok(g) => groups.push(g),
                    Err(Error::Dataset { message, .. }) => left_out.push(LeftOut {
                        group: file_name(dir),
                        reason: message,
                    }),
                    Err(e) => return Err(e),
                }
            }
        } else {
            groups.push(group(root)?);
        }
        Ok(GroupedFolder {
            groups,
            nested,
            left_out,
        })
    }
}

fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nested_folder_is_read_as_groups_and_a_flat_one_as_one_group() {
        let dir = std::env::temp_dir().join(format!("lookalike-oneshot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (g, c) in [
            ("alpha", "c1"),
            ("alpha", "c2"),
            ("beta", "c1"),
            ("beta", "c2"),
        ] {
            let d = dir.join("nested").join(g).join(c);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::create_dir_all(dir.join("flat").join(c)).unwrap();
            for i in 0..2 {
                std::fs::write(d.join(format!("{i}.png")), b"x").unwrap();
                std::fs::write(dir.join("flat").join(c).join(format!("{g}{i}.png")), b"x").unwrap();
            }
        }
        // A group with a single class cannot hold a run; it is left out, not fatal.
        std::fs::create_dir_all(dir.join("nested/gamma/c1")).unwrap();
        std::fs::write(dir.join("nested/gamma/c1/0.png"), b"x").unwrap();
        let nested = GroupedFolder::read(&dir.join("nested")).unwrap();
        assert!(nested.nested);
        assert_eq!(nested.left_out.len(), 1);
        assert_eq!(nested.left_out[0].group, "gamma");
        assert!(nested.left_out[0].reason.contains("at least two classes"));
        let names: Vec<&str> = nested.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["alpha", "beta"]);
        assert_eq!(nested.groups[1].classes, ["c1", "c2"]);
        let images: usize = nested
            .groups
            .iter()
            .flat_map(|g| &g.images)
            .map(Vec::len)
            .sum();
        assert_eq!(images, 8);
        let flat = GroupedFolder::read(&dir.join("flat")).unwrap();
        assert!(!flat.nested);
        assert_eq!(flat.groups.len(), 1);
        assert_eq!(flat.groups[0].name, "flat");
        assert_eq!(flat.groups[0].images[0].len(), 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
