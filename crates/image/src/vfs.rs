//! The merged image filesystem held in memory: an arena of nodes (directories, files, symlinks,
//! other special files) with mode, owner and the layer each came from.
//!
//! Every lookup resolves symlinks the way a process chrooted into the image would see them:
//! absolute targets restart at the image root, `..` never climbs above `/`, and the number of hops
//! is bounded like the kernel's. Nothing here ever touches the host filesystem, so a hostile name
//! or link in a layer can at worst point at another node of the same tree.

use std::collections::BTreeMap;
use std::sync::Arc;

/// Index of a node in the arena. The root is always `NodeId(0)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u32);

impl NodeId {
    pub const ROOT: NodeId = NodeId(0);
}

/// Linux gives up after 40 links in one lookup (`ELOOP`); a hostile image must not make us spin.
const MAX_SYMLINK_HOPS: usize = 40;

/// Ownership, permission bits and provenance of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    /// Permission bits (`0o7777`), as stored in the layer.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Index (0 = base) of the layer that last wrote this node.
    pub layer: u32,
}

/// File contents are kept only for files the loader was asked to capture; everything else is
/// known by size alone, which is what keeps a multi-gigabyte image cheap to index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileData {
    pub size: u64,
    pub content: Option<Arc<[u8]>>,
    /// For ELF files the loader was asked to summarise: what the dynamic loader reads.
    pub elf: Option<Arc<crate::ElfSummary>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    Dir(BTreeMap<Box<str>, NodeId>),
    File(FileData),
    Symlink(Box<str>),
    /// Devices, FIFOs and sockets: present, but never a module.
    Other,
}

#[derive(Debug, Clone)]
struct Node {
    parent: NodeId,
    /// The name under which the parent lists it (empty for the root): a node is never renamed
    /// or moved, and keeping it makes [`Vfs::path_of`] a walk up rather than a search of each
    /// parent's (site-packages: thousands of) children.
    name: Box<str>,
    kind: NodeKind,
    meta: Meta,
}

/// What `stat`/`lstat` report about a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub id: NodeId,
    pub kind: FileType,
    pub meta: Meta,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Dir,
    File,
    Symlink,
    Other,
}

/// The kind of entry a layer (or a test) writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewNode {
    Dir,
    File(FileData),
    Symlink(String),
    Other,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VfsError {
    #[error("path `{0}` climbs above the image root")]
    EscapesRoot(String),
    #[error("path `{0}` has a parent that is not a directory")]
    ParentNotDir(String),
    #[error("too many levels of symbolic links resolving `{0}`")]
    SymlinkLoop(String),
    #[error("path `{0}` is empty or names the root")]
    Root(String),
}

/// The merged filesystem of an image.
#[derive(Debug, Clone)]
pub struct Vfs {
    nodes: Vec<Node>,
}

impl Default for Vfs {
    fn default() -> Self {
        Self::new()
    }
}

/// Splits a path into its components, dropping empty and `.` parts; `..` is kept for the walker.
fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty() && *c != ".")
}

/// Lexically cleans a layer member name into a relative path inside the image, refusing names
/// that would climb above the root (`../etc/passwd`), as Docker's applier does.
pub fn clean_member_name(name: &str) -> Result<String, VfsError> {
    let mut out: Vec<&str> = Vec::new();
    for c in components(name) {
        if c == ".." {
            if out.pop().is_none() {
                return Err(VfsError::EscapesRoot(name.to_string()));
            }
        } else {
            out.push(c);
        }
    }
    Ok(out.join("/"))
}

impl Vfs {
    pub fn new() -> Self {
        Vfs {
            nodes: vec![Node {
                parent: NodeId::ROOT,
                name: Box::from(""),
                kind: NodeKind::Dir(BTreeMap::new()),
                meta: Meta {
                    mode: 0o755,
                    ..Meta::default()
                },
            }],
        }
    }

    /// Builds a tree from literal `(path, contents)` pairs; a path ending in `/` is a directory and
    /// a content starting with `-> ` is a symlink. Meant for tests of every later stage.
    pub fn from_files(files: &[(&str, &str)]) -> Self {
        let mut vfs = Vfs::new();
        for (path, content) in files {
            let result = if let Some(dir) = path.strip_suffix('/') {
                vfs.insert(dir, NewNode::Dir, Meta::dir_default())
            } else if let Some(target) = content.strip_prefix("-> ") {
                vfs.insert(
                    path,
                    NewNode::Symlink(target.to_string()),
                    Meta::file_default(),
                )
            } else {
                vfs.insert(
                    path,
                    NewNode::File(FileData {
                        size: content.len() as u64,
                        content: Some(Arc::from(content.as_bytes())),
                        elf: None,
                    }),
                    // Programs and scripts are installed executable.
                    if path.starts_with("bin/")
                        || path.contains("/bin/")
                        || content.starts_with("#!")
                        || content.starts_with("ELF")
                    {
                        Meta {
                            mode: 0o755,
                            ..Meta::default()
                        }
                    } else {
                        Meta::file_default()
                    },
                )
            };
            if let Err(err) = result {
                tracing::warn!("test tree entry `{path}` not added: {err}");
            }
        }
        vfs
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0 as usize]
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id.0 as usize]
    }

    fn child(&self, dir: NodeId, name: &str) -> Option<NodeId> {
        match &self.node(dir).kind {
            NodeKind::Dir(children) => children.get(name).copied(),
            _ => None,
        }
    }

    fn push(&mut self, parent: NodeId, name: &str, kind: NodeKind, meta: Meta) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        self.nodes.push(Node {
            parent,
            name: Box::from(name),
            kind,
            meta,
        });
        id
    }

    /// Walks `path` from the root. Intermediate symlinks are always followed; the final component
    /// is followed only when `follow_final`. `create` makes missing intermediate directories, as a
    /// layer applier does for members whose parents were never listed.
    fn walk(
        &mut self,
        path: &str,
        follow_final: bool,
        create: Option<Meta>,
    ) -> Result<Option<NodeId>, VfsError> {
        let mut hops = 0;
        self.walk_from(NodeId::ROOT, path, follow_final, create, &mut hops, path)
    }

    fn walk_from(
        &mut self,
        start: NodeId,
        path: &str,
        follow_final: bool,
        create: Option<Meta>,
        hops: &mut usize,
        original: &str,
    ) -> Result<Option<NodeId>, VfsError> {
        let start = if path.starts_with('/') {
            NodeId::ROOT
        } else {
            start
        };
        let parts: Vec<&str> = components(path).collect();
        let mut cur = start;
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            if *part == ".." {
                cur = self.node(cur).parent;
                continue;
            }
            let next = match self.child(cur, part) {
                Some(n) => n,
                None => match create {
                    Some(meta) => {
                        if !matches!(self.node(cur).kind, NodeKind::Dir(_)) {
                            return Err(VfsError::ParentNotDir(original.to_string()));
                        }
                        let id = self.push(cur, part, NodeKind::Dir(BTreeMap::new()), meta);
                        if let NodeKind::Dir(children) = &mut self.node_mut(cur).kind {
                            children.insert(Box::from(*part), id);
                        }
                        id
                    }
                    None => return Ok(None),
                },
            };
            if let NodeKind::Symlink(target) = &self.node(next).kind
                && (!last || follow_final)
            {
                *hops += 1;
                if *hops > MAX_SYMLINK_HOPS {
                    return Err(VfsError::SymlinkLoop(original.to_string()));
                }
                let target = target.to_string();
                match self.walk_from(cur, &target, true, create, hops, original)? {
                    Some(resolved) => cur = resolved,
                    None => return Ok(None),
                }
            } else {
                cur = next;
            }
            if !last && !matches!(self.node(cur).kind, NodeKind::Dir(_)) {
                return if create.is_some() {
                    Err(VfsError::ParentNotDir(original.to_string()))
                } else {
                    Ok(None)
                };
            }
        }
        Ok(Some(cur))
    }

    /// Read-only lookup; `None` when the path does not exist, dangles, loops or crosses a file.
    pub fn lookup(&self, path: &str, follow_final: bool) -> Option<NodeId> {
        // `walk` without `create` never mutates; the clone-free route is a shared re-borrow.
        let mut hops = 0;
        self.lookup_from(NodeId::ROOT, path, follow_final, &mut hops)
    }

    fn lookup_from(
        &self,
        start: NodeId,
        path: &str,
        follow_final: bool,
        hops: &mut usize,
    ) -> Option<NodeId> {
        let start = if path.starts_with('/') {
            NodeId::ROOT
        } else {
            start
        };
        let parts: Vec<&str> = components(path).collect();
        let mut cur = start;
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            if *part == ".." {
                cur = self.node(cur).parent;
                continue;
            }
            let next = self.child(cur, part)?;
            if let NodeKind::Symlink(target) = &self.node(next).kind
                && (!last || follow_final)
            {
                *hops += 1;
                if *hops > MAX_SYMLINK_HOPS {
                    return None;
                }
                cur = self.lookup_from(cur, target, true, hops)?;
            } else {
                cur = next;
            }
            if !last && !matches!(self.node(cur).kind, NodeKind::Dir(_)) {
                return None;
            }
        }
        Some(cur)
    }

    /// Writes one layer member. Parent symlinks are followed (so `lib/x` lands in `usr/lib/x`
    /// under `lib -> usr/lib`), the final component is not: a directory over a symlink replaces
    /// the link, as Docker's applier does. A directory over a directory keeps its children.
    pub fn insert(&mut self, path: &str, new: NewNode, meta: Meta) -> Result<NodeId, VfsError> {
        let clean = clean_member_name(path)?;
        let (parent_path, name) = match clean.rsplit_once('/') {
            Some((p, n)) => (p, n),
            None => ("", clean.as_str()),
        };
        if name.is_empty() {
            // The root itself: only its attributes can change.
            if new == NewNode::Dir {
                self.node_mut(NodeId::ROOT).meta = meta;
                return Ok(NodeId::ROOT);
            }
            return Err(VfsError::Root(path.to_string()));
        }
        let parent_meta = Meta {
            mode: 0o755,
            uid: 0,
            gid: 0,
            layer: meta.layer,
        };
        let parent = self
            .walk(parent_path, true, Some(parent_meta))?
            .ok_or_else(|| VfsError::ParentNotDir(path.to_string()))?;
        if !matches!(self.node(parent).kind, NodeKind::Dir(_)) {
            return Err(VfsError::ParentNotDir(path.to_string()));
        }
        if let Some(existing) = self.child(parent, name)
            && new == NewNode::Dir
            && matches!(self.node(existing).kind, NodeKind::Dir(_))
        {
            self.node_mut(existing).meta = meta;
            return Ok(existing);
        }
        let kind = match new {
            NewNode::Dir => NodeKind::Dir(BTreeMap::new()),
            NewNode::File(data) => NodeKind::File(data),
            NewNode::Symlink(target) => NodeKind::Symlink(target.into_boxed_str()),
            NewNode::Other => NodeKind::Other,
        };
        let id = self.push(parent, name, kind, meta);
        if let NodeKind::Dir(children) = &mut self.node_mut(parent).kind {
            children.insert(Box::from(name), id);
        }
        Ok(id)
    }

    /// Makes `path` a hard link to `target`: the new name gets the target's data as it is now, so
    /// a later whiteout or overwrite of the target leaves the link intact. A link to a symlink
    /// links the symlink itself.
    pub fn hardlink(&mut self, path: &str, target: &str, layer: u32) -> Result<bool, VfsError> {
        let Some(src) = self.lookup(target, false) else {
            return Ok(false);
        };
        let node = self.node(src);
        let new = match &node.kind {
            NodeKind::File(data) => NewNode::File(data.clone()),
            NodeKind::Symlink(t) => NewNode::Symlink(t.to_string()),
            NodeKind::Other => NewNode::Other,
            NodeKind::Dir(_) => return Ok(false),
        };
        let meta = Meta { layer, ..node.meta };
        self.insert(path, new, meta)?;
        Ok(true)
    }

    /// Removes `path` (and its subtree) as a whiteout does. Parent symlinks are followed.
    pub fn remove(&mut self, path: &str) -> Result<bool, VfsError> {
        let clean = clean_member_name(path)?;
        let (parent_path, name) = match clean.rsplit_once('/') {
            Some((p, n)) => (p, n),
            None => ("", clean.as_str()),
        };
        if name.is_empty() {
            return Err(VfsError::Root(path.to_string()));
        }
        let Some(parent) = self.lookup(parent_path, true) else {
            return Ok(false);
        };
        if let NodeKind::Dir(children) = &mut self.node_mut(parent).kind {
            return Ok(children.remove(name).is_some());
        }
        Ok(false)
    }

    /// Empties a directory, as an opaque whiteout does for everything below its layer.
    pub fn clear_dir(&mut self, path: &str) -> Result<(), VfsError> {
        let clean = clean_member_name(path)?;
        if let Some(dir) = self.lookup(&clean, true)
            && let NodeKind::Dir(children) = &mut self.node_mut(dir).kind
        {
            children.clear();
        }
        Ok(())
    }

    pub fn kind(&self, id: NodeId) -> &NodeKind {
        &self.node(id).kind
    }

    /// Replaces a node's mode and owner (a `chmod`/`chown` of the model's own making).
    pub fn set_meta(&mut self, id: NodeId, meta: Meta) {
        self.node_mut(id).meta = meta;
    }

    pub fn meta(&self, id: NodeId) -> Meta {
        self.node(id).meta
    }

    pub fn parent(&self, id: NodeId) -> NodeId {
        self.node(id).parent
    }

    fn stat_of(&self, id: NodeId) -> Stat {
        let node = self.node(id);
        let (kind, size) = match &node.kind {
            NodeKind::Dir(_) => (FileType::Dir, 0),
            NodeKind::File(d) => (FileType::File, d.size),
            NodeKind::Symlink(t) => (FileType::Symlink, t.len() as u64),
            NodeKind::Other => (FileType::Other, 0),
        };
        Stat {
            id,
            kind,
            meta: node.meta,
            size,
        }
    }

    /// `os.stat`: follows every symlink.
    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.lookup(path, true).map(|id| self.stat_of(id))
    }

    /// `os.lstat`: does not follow the final component.
    pub fn lstat(&self, path: &str) -> Option<Stat> {
        self.lookup(path, false).map(|id| self.stat_of(id))
    }

    pub fn is_dir(&self, path: &str) -> bool {
        self.stat(path).is_some_and(|s| s.kind == FileType::Dir)
    }

    pub fn is_file(&self, path: &str) -> bool {
        self.stat(path).is_some_and(|s| s.kind == FileType::File)
    }

    pub fn exists(&self, path: &str) -> bool {
        self.lookup(path, true).is_some()
    }

    /// The names in a directory (after following symlinks), sorted; `None` if not a directory.
    pub fn read_dir(&self, path: &str) -> Option<Vec<&str>> {
        let id = self.lookup(path, true)?;
        match &self.node(id).kind {
            NodeKind::Dir(children) => Some(children.keys().map(|k| &**k).collect()),
            _ => None,
        }
    }

    /// Children of a directory node with their ids, sorted by name.
    pub fn children(&self, id: NodeId) -> impl Iterator<Item = (&str, NodeId)> {
        let map = match &self.node(id).kind {
            NodeKind::Dir(children) => Some(children),
            _ => None,
        };
        map.into_iter()
            .flat_map(|m| m.iter().map(|(k, v)| (&**k, *v)))
    }

    /// The captured contents of a file, following symlinks. `Ok(None)` means the file exists but
    /// its contents were not kept when the layers were read.
    pub fn read(&self, path: &str) -> Option<Option<Arc<[u8]>>> {
        let id = self.lookup(path, true)?;
        match &self.node(id).kind {
            NodeKind::File(data) => Some(data.content.clone()),
            _ => None,
        }
    }

    /// The ELF summary of a file, following symlinks (`None` if not summarised or not ELF).
    pub fn elf(&self, path: &str) -> Option<Arc<crate::ElfSummary>> {
        let id = self.lookup(path, true)?;
        match &self.node(id).kind {
            NodeKind::File(data) => data.elf.clone(),
            _ => None,
        }
    }

    /// Like `read`, decoded as UTF-8 (lossily: a module's bytes are never trusted to be valid).
    pub fn read_to_string(&self, path: &str) -> Option<String> {
        let bytes = self.read(path)??;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The absolute path of a node (no symlinks in it, since nodes are real entries).
    pub fn path_of(&self, mut id: NodeId) -> String {
        let mut parts: Vec<&str> = Vec::new();
        while id != NodeId::ROOT {
            let node = self.node(id);
            parts.push(&node.name);
            id = node.parent;
        }
        parts.reverse();
        format!("/{}", parts.join("/"))
    }

    /// `os.path.realpath` inside the image; `None` when the path does not exist.
    pub fn realpath(&self, path: &str) -> Option<String> {
        self.lookup(path, true).map(|id| self.path_of(id))
    }

    /// Every path below `dir` (not following symlinked directories), depth first, with its id.
    pub fn walk_files(&self, dir: &str) -> Vec<(String, NodeId)> {
        let mut out = Vec::new();
        let Some(start) = self.lookup(dir, true) else {
            return out;
        };
        let base = self.path_of(start);
        let mut stack = vec![(base, start)];
        while let Some((path, id)) = stack.pop() {
            for (name, child) in self.children(id) {
                let child_path = if path == "/" {
                    format!("/{name}")
                } else {
                    format!("{path}/{name}")
                };
                match self.node(child).kind {
                    NodeKind::Dir(_) => stack.push((child_path, child)),
                    _ => out.push((child_path, child)),
                }
            }
        }
        out.sort();
        out
    }
}

impl Meta {
    pub fn dir_default() -> Self {
        Meta {
            mode: 0o755,
            ..Meta::default()
        }
    }

    pub fn file_default() -> Self {
        Meta {
            mode: 0o644,
            ..Meta::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_symlinks_are_rerooted_and_dotdot_stops_at_root() {
        let vfs = Vfs::from_files(&[
            ("usr/lib/python3.12/os.py", "x"),
            ("lib", "-> /usr/lib"),
            ("bin/up", "-> ../../../../usr/lib"),
        ]);
        assert!(vfs.is_file("/lib/python3.12/os.py"));
        assert!(vfs.is_file("/bin/up/python3.12/os.py"));
        assert_eq!(
            vfs.realpath("/lib/python3.12/os.py").as_deref(),
            Some("/usr/lib/python3.12/os.py")
        );
    }

    #[test]
    fn members_under_a_symlinked_parent_land_in_the_target() {
        let mut vfs = Vfs::from_files(&[("usr/lib/", ""), ("lib", "-> usr/lib")]);
        vfs.insert("lib/x.py", NewNode::Dir, Meta::dir_default())
            .unwrap();
        assert!(vfs.is_dir("/usr/lib/x.py"));
    }

    #[test]
    fn a_directory_over_a_symlink_replaces_the_link() {
        let mut vfs = Vfs::from_files(&[("usr/lib/a", "1"), ("lib", "-> usr/lib")]);
        vfs.insert("lib", NewNode::Dir, Meta::dir_default())
            .unwrap();
        assert!(!vfs.exists("/lib/a"));
        assert_eq!(vfs.lstat("/lib").unwrap().kind, FileType::Dir);
    }

    #[test]
    fn symlink_loops_are_not_found() {
        let vfs = Vfs::from_files(&[("a", "-> b"), ("b", "-> a")]);
        assert_eq!(vfs.lookup("/a", true), None);
        assert!(vfs.lookup("/a", false).is_some());
    }

    #[test]
    fn member_names_cannot_escape() {
        assert_eq!(
            clean_member_name("../etc/passwd"),
            Err(VfsError::EscapesRoot("../etc/passwd".into()))
        );
        assert_eq!(clean_member_name("./a/./b/../c").unwrap(), "a/c");
    }

    #[test]
    fn hardlinks_keep_data_after_the_target_is_removed() {
        let mut vfs = Vfs::from_files(&[("a.py", "print(1)")]);
        assert!(vfs.hardlink("b.py", "/a.py", 1).unwrap());
        vfs.remove("a.py").unwrap();
        assert_eq!(vfs.read_to_string("/b.py").as_deref(), Some("print(1)"));
    }

    #[test]
    fn directory_over_directory_keeps_children() {
        let mut vfs = Vfs::from_files(&[("app/x.py", "")]);
        vfs.insert(
            "app",
            NewNode::Dir,
            Meta {
                mode: 0o700,
                ..Meta::default()
            },
        )
        .unwrap();
        assert!(vfs.is_file("/app/x.py"));
        assert_eq!(vfs.stat("/app").unwrap().meta.mode, 0o700);
    }
}
