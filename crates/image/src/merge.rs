//! Applying indexed layers, oldest first, onto one [`Vfs`] with Docker's semantics: opaque
//! markers, then whiteouts (so they only hide lower layers), then the layer's own entries.

use rustc_hash::FxHashMap;

use crate::layer::{EntryKind, LayerIndex};
use crate::vfs::{FileData, Meta, NewNode, Vfs};

/// Applies one layer; problems that Docker would survive (or that only affect one path) become
/// warnings prefixed with the layer number.
pub(crate) fn apply_layer(fs: &mut Vfs, layer: &LayerIndex, n: u32, warnings: &mut Vec<String>) {
    for w in &layer.warnings {
        warnings.push(format!("layer {n}: {w}"));
    }
    // Opaque markers apply first, wherever they sit in the tar (image-spec "opaque whiteout").
    for e in layer.entries.iter().filter(|e| e.kind == EntryKind::Opaque) {
        if let Err(err) = fs.clear_dir(&e.path) {
            warnings.push(format!("layer {n}: opaque directory `{}`: {err}", e.path));
        }
    }
    // Whiteouts hide lower layers only; applying them before this layer's entries ensures a
    // file and its whiteout in the same layer keep the file.
    for e in layer
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Whiteout)
    {
        if let Err(err) = fs.remove(&e.path) {
            warnings.push(format!("layer {n}: whiteout `{}`: {err}", e.path));
        }
    }
    let mut aufs_links: FxHashMap<&str, &FileData> = FxHashMap::default();
    for e in &layer.entries {
        let meta = Meta {
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            layer: n,
        };
        let result = match &e.kind {
            EntryKind::Opaque | EntryKind::Whiteout => continue,
            EntryKind::AufsLinkTarget(data) => {
                aufs_links.insert(&e.path, data);
                continue;
            }
            EntryKind::Dir => fs.insert(&e.path, NewNode::Dir, meta).map(|_| ()),
            EntryKind::File(data) => fs
                .insert(&e.path, NewNode::File(data.clone()), meta)
                .map(|_| ()),
            EntryKind::Symlink(t) => fs
                .insert(&e.path, NewNode::Symlink(t.clone()), meta)
                .map(|_| ()),
            EntryKind::Other => fs.insert(&e.path, NewNode::Other, meta).map(|_| ()),
            EntryKind::Hardlink(target) => {
                if let Some(data) = aufs_links.get(target.as_str()) {
                    fs.insert(&e.path, NewNode::File((*data).clone()), meta)
                        .map(|_| ())
                } else {
                    match fs.hardlink(&e.path, target, n) {
                        Ok(true) => Ok(()),
                        Ok(false) => {
                            warnings.push(format!(
                                "layer {n}: hardlink `/{}` -> `/{target}`: target missing",
                                e.path
                            ));
                            Ok(())
                        }
                        Err(err) => Err(err),
                    }
                }
            }
        };
        if let Err(err) = result {
            warnings.push(format!("layer {n}: `/{}` not applied: {err}", e.path));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::index_blob;
    use crate::testutil::*;

    fn merged(layers: &[Vec<u8>]) -> (Vfs, Vec<String>) {
        let mut fs = Vfs::new();
        let mut warnings = Vec::new();
        for (i, l) in layers.iter().enumerate() {
            let idx = index_blob(&l[..], &capture_all).unwrap();
            apply_layer(&mut fs, &idx, i as u32, &mut warnings);
        }
        (fs, warnings)
    }

    #[test]
    fn standard_image_merges_like_docker() {
        let img = TestImage::standard();
        let (fs, warnings) = merged(&img.layers);
        assert!(
            fs.is_file("/usr/lib/site.py"),
            "written through lib -> usr/lib"
        );
        assert!(!fs.exists("/etc/old.conf"));
        assert!(!fs.exists("/opt/cache/a"));
        assert!(fs.is_file("/opt/cache/b"));
        assert!(!fs.exists("/base.txt"));
        assert_eq!(
            fs.read_to_string("/app/linked.txt").as_deref(),
            Some("base")
        );
        assert_eq!(fs.stat("/app/main.py").unwrap().meta.layer, 2);
        assert!(fs.stat("/dev-fifo").is_some());
        assert!(!fs.exists("/escape"));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("../escape"));
    }

    #[test]
    fn opaque_marker_after_new_children_still_applies_first() {
        let l0 = TarBuilder::new().file("d/old", "1").build();
        let l1 = TarBuilder::new()
            .file("d/new", "2")
            .file("d/.wh..wh..opq", "")
            .build();
        let (fs, _) = merged(&[l0, l1]);
        assert_eq!(fs.read_dir("/d").unwrap(), vec!["new"]);
    }

    #[test]
    fn whiteout_and_file_in_one_layer_keep_the_file() {
        let l0 = TarBuilder::new().file("a", "old").build();
        let l1 = TarBuilder::new().file("a", "new").file(".wh.a", "").build();
        let (fs, _) = merged(&[l0, l1]);
        assert_eq!(fs.read_to_string("/a").as_deref(), Some("new"));
    }

    #[test]
    fn missing_hardlink_target_is_a_warning() {
        let l0 = TarBuilder::new().hardlink("x", "nowhere").build();
        let (fs, warnings) = merged(&[l0]);
        assert!(!fs.exists("/x"));
        assert!(warnings[0].contains("target missing"));
    }

    #[test]
    fn hardlink_survives_removal_of_its_target() {
        let l0 = TarBuilder::new().file("a", "data").build();
        let l1 = TarBuilder::new().hardlink("b", "/a").build();
        let l2 = TarBuilder::new().file(".wh.a", "").build();
        let (fs, _) = merged(&[l0, l1, l2]);
        assert_eq!(fs.read_to_string("/b").as_deref(), Some("data"));
    }

    #[test]
    fn aufs_plnk_targets_feed_hardlinks() {
        let l0 = TarBuilder::new()
            .file(".wh..wh.plnk/1.2", "hidden")
            .hardlink("x", ".wh..wh.plnk/1.2")
            .build();
        let (fs, _) = merged(&[l0]);
        assert_eq!(fs.read_to_string("/x").as_deref(), Some("hidden"));
        assert!(!fs.exists("/.wh..wh.plnk"));
    }
}
