//! Reading an image straight from the engine's own storage, when importgate runs on the
//! engine's host and may read it: the layers already sit unpacked there (overlay2,
//! fuse-overlayfs), so only metadata and the few files the checks need are read, instead of the
//! whole export stream.
//!
//! Nothing is trusted blindly: the directories come from the inspect's `GraphDriver` data, and
//! are used only when the engine's layer database maps this image's diff ids (through their
//! chain ids) to exactly those directories, and the stored config hashes to the image id. Any
//! doubt means the export is read instead. Nothing here ever writes.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

use crate::error::ImageError;
use crate::layer::{EntryKind, LayerIndex, Whiteout, copy_error, read_data, whiteout_name};
use crate::select::{BlobSource, MAX_SMALL, Selection};
use crate::source::read_small_file;
use crate::vfs::{FileData, clean_member_name};
use crate::{Capture, Keep};

/// Where to read an image held by the engine from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceMode {
    /// The engine's storage when it is readable and verified, else the export.
    #[default]
    Auto,
    /// Always the export stream (`GET /images/{id}/get`).
    Export,
    /// The engine's storage, or an error saying why it cannot be read.
    Storage,
}

/// Drivers whose layer directories hold each layer's own changes, with whiteouts as
/// overlayfs or AUFS write them.
const DRIVERS: &[&str] = &["overlay2", "fuse-overlayfs"];

/// Overlayfs marks a directory that hides its lower children with this xattr, set to `y`:
/// `trusted.` as root (overlay2), `user.` when mounted with `userxattr` (rootless engines).
const OPAQUE_XATTRS: &[&str] = &["trusted.overlay.opaque", "user.overlay.opaque"];

/// The verified way into one image's layers on the engine's host.
#[derive(Debug)]
pub(crate) struct StoragePlan {
    pub driver: String,
    /// The layers' directories, oldest first.
    pub layers: Vec<PathBuf>,
    /// For each, what names its contents: the chain id (which the diff ids below it make) and
    /// the cache id of the directory, hashed; the key of its index in the layer cache.
    pub keys: Vec<String>,
    /// The image config exactly as the engine stores it (its sha256 is the image id).
    pub config: Vec<u8>,
}

/// What the inspect says about the image's storage.
pub(crate) struct GraphDriver<'a> {
    pub name: &'a str,
    pub data: &'a HashMap<String, String>,
}

/// Why the storage is not used; said once at debug level (auto) or as the error (storage).
pub(crate) type Unusable = String;

/// Checks everything that makes the storage safe to read for this image, and reads its config.
pub(crate) fn plan(
    graph: &GraphDriver<'_>,
    image_id: &str,
    diff_ids: &[String],
) -> Result<StoragePlan, Unusable> {
    let driver = graph.name;
    if !DRIVERS.contains(&driver) {
        return Err(format!(
            "the engine's storage driver `{driver}` is not read directly"
        ));
    }
    let upper = graph
        .data
        .get("UpperDir")
        .filter(|u| !u.is_empty())
        .ok_or("the engine reports no UpperDir for the image")?;
    let mut layers: Vec<PathBuf> = graph
        .data
        .get("LowerDir")
        .map(|l| {
            l.split(':')
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default();
    // LowerDir lists the layer below the top first; the base comes last.
    layers.reverse();
    layers.push(PathBuf::from(upper));
    if layers.len() != diff_ids.len() {
        return Err(format!(
            "the engine reports {} layer directories for {} diff ids",
            layers.len(),
            diff_ids.len()
        ));
    }
    // `{root}/{driver}/{cache-id}/diff`: the root is where the layer database lives too.
    let root = layers[0]
        .parent()
        .and_then(Path::parent)
        .filter(|d| d.file_name().is_some_and(|n| n == driver))
        .and_then(Path::parent)
        .ok_or_else(|| format!("unexpected layer directory `{}`", layers[0].display()))?
        .to_path_buf();
    let layerdb = root
        .join("image")
        .join(driver)
        .join("layerdb")
        .join("sha256");
    let mut chain = String::new();
    let mut keys = Vec::with_capacity(layers.len());
    for (dir, diff_id) in layers.iter().zip(diff_ids) {
        chain = if chain.is_empty() {
            diff_id.clone()
        } else {
            format!(
                "sha256:{}",
                sha256_hex(format!("{chain} {diff_id}").as_bytes())
            )
        };
        let hex = hex_of(&chain).ok_or_else(|| format!("diff id `{diff_id}` is not sha256"))?;
        let cache_id = read_small_file(&layerdb.join(hex).join("cache-id"), 256)
            .map_err(|e| format!("the engine's layer database is not readable: {e}"))?;
        let cache_id = String::from_utf8_lossy(&cache_id).trim().to_string();
        let expected = root.join(driver).join(&cache_id).join("diff");
        keys.push(sha256_hex(
            format!("{driver}\0{chain}\0{cache_id}").as_bytes(),
        ));
        if cache_id.is_empty() || *dir != expected {
            return Err(format!(
                "layer directory `{}` is not the one the layer database names for {diff_id}",
                dir.display()
            ));
        }
        let meta = std::fs::metadata(dir)
            .map_err(|e| format!("layer directory `{}` is not readable: {e}", dir.display()))?;
        // A rootless or user-namespaced engine keeps files under shifted ids (its own root is
        // not uid 0), which its export maps back; owners read here would be wrong.
        if meta.uid() != 0 || meta.gid() != 0 {
            return Err(format!(
                "the engine maps user ids (layer directory `{}` belongs to {}:{})",
                dir.display(),
                meta.uid(),
                meta.gid()
            ));
        }
    }
    let id_hex = hex_of(image_id).ok_or_else(|| format!("image id `{image_id}` is not sha256"))?;
    let config_path = root
        .join("image")
        .join(driver)
        .join("imagedb")
        .join("content")
        .join("sha256")
        .join(id_hex);
    let config = read_small_file(&config_path, MAX_SMALL)
        .map_err(|e| format!("the engine's image database is not readable: {e}"))?;
    if sha256_hex(&config) != id_hex {
        return Err(format!(
            "`{}` does not hash to the image id",
            config_path.display()
        ));
    }
    Ok(StoragePlan {
        driver: driver.to_string(),
        layers,
        keys,
        config,
    })
}

fn hex_of(digest: &str) -> Option<&str> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The planned directories, indexed, as a [`BlobSource`], so the merge is the one every
/// source uses.
pub(crate) struct StorageDirs {
    name: String,
    config: Vec<u8>,
    indexes: Vec<Result<Arc<LayerIndex>, io::Error>>,
}

/// The layer cache's entry kind for indexes of storage directories.
const CACHE_KIND: &str = "storage";

/// The member name the config is known by (for messages only).
const CONFIG_MEMBER: &str = "config.json";

impl StorageDirs {
    /// Indexes every layer directory, in parallel; `advance` is told the bytes of each file
    /// indexed (read or not), as the export's progress counts the bytes streamed.
    /// A layer indexed by an earlier run (the same chain id in the same directory: the engine
    /// never changes a committed layer) comes from `cache`, not from a walk.
    pub(crate) fn index(
        name: String,
        plan: StoragePlan,
        capture: &Capture,
        advance: &(dyn Fn(u64) + Sync),
        cache: Option<&crate::LayerCache>,
    ) -> Self {
        let indexes = plan
            .layers
            .par_iter()
            .zip(plan.keys.par_iter())
            .map(|(dir, key)| {
                if let Some(hit) = cache.and_then(|c| c.get_index(CACHE_KIND, key)) {
                    return Ok(hit);
                }
                let index = index_dir(dir, capture, advance)?;
                if let Some(c) = cache {
                    c.put_index(CACHE_KIND, key, &index);
                }
                Ok(Arc::new(index))
            })
            .collect();
        StorageDirs {
            name,
            config: plan.config,
            indexes,
        }
    }

    /// Every layer, in order, with the stored config.
    pub(crate) fn selection(&self) -> Selection {
        Selection {
            config: self.config.clone(),
            config_member: CONFIG_MEMBER.into(),
            layers: (0..self.indexes.len()).map(|n| n.to_string()).collect(),
            layer_blobs: vec![None; self.indexes.len()],
            warnings: Vec::new(),
        }
    }
}

impl BlobSource for StorageDirs {
    fn name(&self) -> &str {
        &self.name
    }

    fn small(&self, path: &str) -> Result<Option<Vec<u8>>, ImageError> {
        Ok((path == CONFIG_MEMBER).then(|| self.config.clone()))
    }

    fn exists(&self, path: &str) -> bool {
        path == CONFIG_MEMBER
    }

    fn layers(
        &self,
        paths: &[String],
        _: &Arc<Capture>,
    ) -> Vec<Result<Arc<LayerIndex>, io::Error>> {
        paths
            .iter()
            .map(
                |p| match p.parse::<usize>().ok().and_then(|n| self.indexes.get(n)) {
                    Some(Ok(index)) => Ok(index.clone()),
                    Some(Err(e)) => Err(copy_error(e)),
                    None => Err(io::Error::new(io::ErrorKind::InvalidInput, "no such layer")),
                },
            )
            .collect()
    }
}

/// Indexes one layer directory into the entries its tar would have: the same names, kinds,
/// modes and owners, whiteouts in either on-disk form (overlayfs's 0/0 character devices and
/// opaque xattrs, AUFS's `.wh.` files), a second name of an inode as a hardlink to the first.
/// Contents are read only where `capture` keeps them.
pub(crate) fn index_dir(
    root: &Path,
    capture: &Capture,
    advance: &(dyn Fn(u64) + Sync),
) -> io::Result<LayerIndex> {
    let mut index = LayerIndex::default();
    // Inode → the first path seen for it, for files with several names in this layer.
    let mut inodes: FxHashMap<(u64, u64), String> = FxHashMap::default();
    let mut pending: Vec<(PathBuf, String)> = vec![(root.to_path_buf(), String::new())];
    while let Some((host, rel)) = pending.pop() {
        let mut children: Vec<_> = std::fs::read_dir(&host)?.collect::<Result<_, _>>()?;
        children.sort_by_key(|e| e.file_name());
        // Pushed in reverse so the walk visits names in order (as a sorted tar would).
        let mut subdirs = Vec::new();
        for child in children {
            let name = child.file_name();
            let base = name.to_string_lossy();
            let raw = if rel.is_empty() {
                base.to_string()
            } else {
                format!("{rel}/{base}")
            };
            let path = match clean_member_name(&raw) {
                Ok(p) if !p.is_empty() => p,
                _ => {
                    index
                        .warnings
                        .push(format!("entry `{raw}` has an unusable name; skipped"));
                    continue;
                }
            };
            let meta = child.metadata()?;
            index.members += 1;
            let mode = meta.mode() & 0o7777;
            let (uid, gid) = (meta.uid(), meta.gid());
            let owner = (mode, uid, gid);
            let push = |index: &mut LayerIndex, path: String, kind: EntryKind| {
                index.push(path, kind, owner);
            };
            // AUFS's own bookkeeping at the layer's top (`.wh..wh.plnk`, `.wh..wh.orph`).
            if rel.is_empty() && base.starts_with(".wh..wh.") && base != ".wh..wh..opq" {
                continue;
            }
            if let Some(wh) = whiteout_name(&base) {
                match wh {
                    Whiteout::Opaque => push(&mut index, rel.clone(), EntryKind::Opaque),
                    Whiteout::Removes(target) => {
                        push(&mut index, join(&rel, target), EntryKind::Whiteout);
                    }
                    Whiteout::Metadata => {}
                    Whiteout::Invalid => index
                        .warnings
                        .push(format!("invalid whiteout `{raw}` skipped")),
                }
                continue;
            }
            let ft = meta.file_type();
            if ft.is_char_device() && meta.rdev() == 0 {
                push(&mut index, path, EntryKind::Whiteout);
            } else if ft.is_dir() {
                if is_opaque(&child.path()) {
                    push(&mut index, path.clone(), EntryKind::Opaque);
                }
                push(&mut index, path.clone(), EntryKind::Dir);
                subdirs.push((child.path(), path));
            } else if ft.is_symlink() {
                let target = std::fs::read_link(child.path())?;
                push(
                    &mut index,
                    path,
                    EntryKind::Symlink(target.to_string_lossy().into_owned()),
                );
            } else if ft.is_file() {
                if meta.nlink() > 1 {
                    match inodes.get(&(meta.dev(), meta.ino())) {
                        Some(first) => {
                            let first = first.clone();
                            push(&mut index, path, EntryKind::Hardlink(first));
                            continue;
                        }
                        None => {
                            inodes.insert((meta.dev(), meta.ino()), path.clone());
                        }
                    }
                }
                let size = meta.len();
                advance(size);
                let data = if capture.keep(&format!("/{path}"), size) == Keep::Nothing {
                    FileData {
                        size,
                        content: None,
                        elf: None,
                    }
                } else {
                    let file = File::open(child.path())?;
                    let read_at = |offset: u64, buf: &mut [u8]| {
                        std::os::unix::fs::FileExt::read_at(&file, buf, offset)
                    };
                    read_data(
                        &mut BufReader::with_capacity(64 << 10, &file),
                        &path,
                        size,
                        capture,
                        false,
                        Some(&read_at),
                    )?
                };
                push(&mut index, path, EntryKind::File(data));
            } else {
                push(&mut index, path, EntryKind::Other);
            }
        }
        pending.extend(subdirs.into_iter().rev());
    }
    Ok(index)
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

fn is_opaque(dir: &Path) -> bool {
    OPAQUE_XATTRS
        .iter()
        .any(|attr| matches!(xattr::get(dir, attr), Ok(Some(v)) if v.as_slice() == b"y"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::apply_layer;
    use crate::testutil::capture_all;
    use crate::vfs::Vfs;
    use std::os::unix::fs::symlink;

    /// The layer directories, oldest first, indexed and merged as an image's layers are.
    fn merged(dirs: &[&Path]) -> (Vfs, Vec<String>) {
        let mut fs = Vfs::new();
        let mut warnings = Vec::new();
        for (n, dir) in dirs.iter().enumerate() {
            let idx = index_dir(dir, &capture_all, &|_| {}).unwrap();
            apply_layer(&mut fs, &idx, n as u32, &mut warnings);
        }
        (fs, warnings)
    }

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn aufs_whiteouts_hardlinks_and_symlinks_index_like_their_tar() {
        let base = tempfile::tempdir().unwrap();
        write(base.path(), "app/b.py", "b");
        write(base.path(), "app/d/a.py", "a");
        write(base.path(), "usr/lib/json/__init__.py", "");
        std::fs::hard_link(base.path().join("app/b.py"), base.path().join("app/h.py")).unwrap();
        symlink("b.py", base.path().join("app/l.py")).unwrap();
        let top = tempfile::tempdir().unwrap();
        write(top.path(), "app/.wh.b.py", "");
        write(top.path(), "app/d/.wh..wh..opq", "");
        write(top.path(), "app/d/c.py", "c");
        write(top.path(), "usr/lib/.wh.json", "");
        write(top.path(), ".wh..wh.plnk/123.456", "x");

        let (fs, warnings) = merged(&[base.path(), top.path()]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(!fs.exists("/app/b.py"));
        assert_eq!(fs.read_to_string("/app/h.py").as_deref(), Some("b"));
        assert!(fs.lstat("/app/l.py").is_some());
        assert!(!fs.exists("/app/l.py"), "dangling once b.py is gone");
        assert_eq!(fs.read_dir("/app/d").unwrap(), vec!["c.py"]);
        assert!(!fs.exists("/usr/lib/json"));
        assert!(!fs.exists("/.wh..wh.plnk"));
    }

    /// overlay2 keeps whiteouts as 0/0 character devices and opaque directories as an xattr;
    /// both need root (mknod, `trusted.*`), so the test says when it cannot make them.
    #[test]
    fn overlay_whiteouts_and_opaque_xattrs_index_like_their_tar() {
        let base = tempfile::tempdir().unwrap();
        write(base.path(), "app/gone.py", "");
        write(base.path(), "app/pkg/old.py", "");
        write(base.path(), "app/keep.py", "");
        let top = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(top.path().join("app/pkg")).unwrap();
        write(top.path(), "app/pkg/new.py", "");
        let made = std::process::Command::new("mknod")
            .arg(top.path().join("app/gone.py"))
            .args(["c", "0", "0"])
            .status()
            .is_ok_and(|s| s.success());
        let opaque = xattr::set(top.path().join("app/pkg"), "trusted.overlay.opaque", b"y").is_ok()
            || xattr::set(top.path().join("app/pkg"), "user.overlay.opaque", b"y").is_ok();
        if !made || !opaque {
            println!("skipped: cannot make a 0/0 device ({made}) or an opaque xattr ({opaque})");
            return;
        }
        let (fs, warnings) = merged(&[base.path(), top.path()]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(!fs.exists("/app/gone.py"));
        assert!(fs.is_file("/app/keep.py"));
        assert_eq!(fs.read_dir("/app/pkg").unwrap(), vec!["new.py"]);
    }

    #[test]
    fn the_first_name_of_an_inode_is_the_hardlink_target() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a/one", "1");
        std::fs::hard_link(dir.path().join("a/one"), dir.path().join("a/two")).unwrap();
        let idx = index_dir(dir.path(), &capture_all, &|_| {}).unwrap();
        let kinds: Vec<_> = idx.entries.iter().map(|e| (&e.path[..], &e.kind)).collect();
        assert!(
            matches!(kinds[1], ("a/one", EntryKind::File(_))),
            "{kinds:?}"
        );
        assert_eq!(kinds[2], ("a/two", &EntryKind::Hardlink("a/one".into())));
    }

    #[test]
    fn contents_are_read_only_when_captured() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "x.py", "print(1)");
        write(dir.path(), "y.txt", "data");
        let keep_py = |p: &str, _: u64| Keep::from(p.ends_with(".py"));
        let idx = index_dir(dir.path(), &keep_py, &|_| {}).unwrap();
        let content = |name: &str| match &idx.entries.iter().find(|e| e.path == name).unwrap().kind
        {
            EntryKind::File(d) => (d.size, d.content.clone()),
            other => panic!("{other:?}"),
        };
        assert_eq!(content("x.py"), (8, Some(Arc::from(&b"print(1)"[..]))));
        assert_eq!(content("y.txt"), (4, None));
    }

    #[test]
    fn a_plan_needs_a_known_driver_and_matching_layer_count() {
        let data: HashMap<String, String> = [(
            "UpperDir".to_string(),
            "/x/fuse-overlayfs/a/diff".to_string(),
        )]
        .into();
        let g = GraphDriver {
            name: "btrfs",
            data: &data,
        };
        let err = plan(&g, "sha256:00", &["sha256:aa".into()]).unwrap_err();
        assert!(err.contains("`btrfs` is not read directly"), "{err}");
        let g = GraphDriver {
            name: "fuse-overlayfs",
            data: &data,
        };
        let err = plan(&g, "sha256:00", &[]).unwrap_err();
        assert!(err.contains("1 layer directories for 0 diff ids"), "{err}");
        let empty = HashMap::new();
        let g = GraphDriver {
            name: "overlay2",
            data: &empty,
        };
        assert!(plan(&g, "sha256:00", &[]).unwrap_err().contains("UpperDir"));
    }

    /// A fake engine root, laid out as the engine lays out its layer and image databases.
    #[test]
    fn a_plan_follows_the_chain_ids_and_checks_the_config_hash() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let diff_ids = [
            format!("sha256:{}", "a".repeat(64)),
            format!("sha256:{}", "b".repeat(64)),
        ];
        let chain1 = diff_ids[0].clone();
        let chain2 = format!(
            "sha256:{}",
            sha256_hex(format!("{chain1} {}", diff_ids[1]).as_bytes())
        );
        let db = r.join("image/overlay2/layerdb/sha256");
        for (chain, cache) in [(&chain1, "c1"), (&chain2, "c2")] {
            write(&db, &format!("{}/cache-id", hex_of(chain).unwrap()), cache);
            std::fs::create_dir_all(r.join(format!("overlay2/{cache}/diff"))).unwrap();
        }
        let config = br#"{"config":{}}"#;
        let id = format!("sha256:{}", sha256_hex(config));
        write(
            &r.join("image/overlay2/imagedb/content/sha256"),
            hex_of(&id).unwrap(),
            std::str::from_utf8(config).unwrap(),
        );
        let dir = |c: &str| r.join(format!("overlay2/{c}/diff")).display().to_string();
        let data: HashMap<String, String> = [
            ("UpperDir".to_string(), dir("c2")),
            ("LowerDir".to_string(), dir("c1")),
        ]
        .into();
        let g = GraphDriver {
            name: "overlay2",
            data: &data,
        };
        let p = plan(&g, &id, &diff_ids).unwrap();
        assert_eq!(
            p.layers,
            vec![PathBuf::from(dir("c1")), PathBuf::from(dir("c2"))]
        );
        assert_eq!(p.config, config);

        // Swapped directories, or a config that is not this image's: not used.
        let swapped: HashMap<String, String> = [
            ("UpperDir".to_string(), dir("c1")),
            ("LowerDir".to_string(), dir("c2")),
        ]
        .into();
        let g2 = GraphDriver {
            name: "overlay2",
            data: &swapped,
        };
        assert!(
            plan(&g2, &id, &diff_ids)
                .unwrap_err()
                .contains("layer database")
        );
        let other = format!("sha256:{}", "c".repeat(64));
        assert!(plan(&g, &other, &diff_ids).is_err());

        // Files under shifted ids (rootless, userns-remap): the owners would be wrong.
        if std::os::unix::fs::chown(dir("c1"), Some(100_000), Some(100_000)).is_ok() {
            let err = plan(&g, &id, &diff_ids).unwrap_err();
            assert!(err.contains("maps user ids"), "{err}");
        }
    }
}
