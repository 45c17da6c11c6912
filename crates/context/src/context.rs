//! [`BuildContext`]: the context directory as the Docker CLI walks it, and its tar.
//!
//! The walk follows `docker build`'s legacy path (Docker CLI 28, `runBuild` →
//! `archive.TarWithOptions` from moby/go-archive v0.1.0): the Dockerfile and `.dockerignore`
//! are always sent (`TrimBuildFilesFromExcludes`), an excluded directory is skipped unless an
//! exception pattern starts with its path, entries are visited depth first with the names of
//! each directory sorted byte-wise, symlinks are stored as links and never followed, hard links
//! to a file already stored become tar hard links, uid and gid are 0, permission bits (with
//! setuid, setgid, sticky) and whole-second modification times are kept. A Dockerfile outside
//! the root is added as `.dockerfile.<20 hex digits>` and named in `.dockerignore`
//! (`AddDockerfileToBuildContext`).

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fs;
use std::hash::BuildHasher;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ignore::{Excluder, Flavor, MatchInfo, Matcher, clean, new_pattern, read_all};
use crate::{ContextError, IgnoreFile, Pattern};

/// What a context entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file (a hard link to an earlier entry is still a file here; the tar stores it
    /// as a link).
    File {
        size: u64,
    },
    Dir,
    /// Kept as a link, never followed; `target` as stored in the link.
    Symlink {
        target: String,
    },
}

/// One entry of the context tar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEntry {
    /// `/`-separated, relative to the context root, no leading `./`, no trailing `/`.
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits (and setuid/setgid/sticky) as on disk.
    pub mode: u32,
}

/// Where to look for the ignore file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IgnoreLookup {
    /// `<Dockerfile>.dockerignore` beside the Dockerfile (the path as given, e.g.
    /// `app.Dockerfile.dockerignore`) when it exists, else `<root>/.dockerignore`: what
    /// BuildKit (`docker buildx build`, `DOCKER_BUILDKIT=1`) does.
    #[default]
    DockerfileFirst,
    /// Only `<root>/.dockerignore`: what Docker CLI 28's legacy builder (`DOCKER_BUILDKIT=0
    /// docker build`) does — its `ReadDockerignore` never looks at `<Dockerfile>.dockerignore`.
    RootOnly,
}

/// Which engine's rules decide what the classic builder deletes from the received context
/// before building (`removeDockerfile` in moby's `builder/remotecontext/detect.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineRules {
    /// Engines 23 and later: `patternmatcher.MatchesOrParentMatches`.
    Current,
    /// Engines up to 20.10: `pkg/fileutils.Matches` (every pattern evaluated, one parent
    /// directory checked, regular expressions escaping only `.` and `$`).
    Engine2010,
}

impl EngineRules {
    /// The rules of an engine given its version string (`20.10.24+dfsg1`, `28.2.2`).
    pub fn for_version(version: &str) -> EngineRules {
        let major: u32 = version
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        if major >= 23 {
            EngineRules::Current
        } else {
            EngineRules::Engine2010
        }
    }
}

/// A build context: its root, its Dockerfile, its ignore file and the entries that are sent.
#[derive(Debug)]
pub struct BuildContext {
    root: PathBuf,
    dockerfile_path: PathBuf,
    /// The Dockerfile's path in the context, `None` when it lies outside the root.
    dockerfile_rel: Option<String>,
    dockerfile_text: String,
    ignore: Option<IgnoreFile>,
    /// The ignore file's path relative to the root (or as on disk when outside it).
    ignore_display: String,
    /// The file's patterns followed by the exceptions the CLI adds for the build files.
    excluder: Excluder,
    /// Text of `<root>/.dockerignore` as sent (the engine reads this one, whatever ignore file
    /// shaped the context).
    root_dockerignore: Option<String>,
    entries: Vec<ContextEntry>,
    index: HashMap<String, usize>,
    mtimes: Vec<u64>,
    /// Entry index → the earlier entry it is a hard link of.
    hardlinks: HashMap<usize, usize>,
    /// The Dockerfile's name inside the tar: its relative path, or a `.dockerfile.<hex>` name
    /// chosen once so it is known before the tar is written (the build request names it while
    /// the tar is still streaming).
    tar_dockerfile: String,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ContextError + '_ {
    move |source| ContextError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl BuildContext {
    /// Reads the Dockerfile (default `<root>/Dockerfile`, else `<root>/dockerfile`; a relative
    /// `dockerfile` is taken relative to the current directory as `docker build -f` does; it
    /// may lie outside root) and the ignore file (`<Dockerfile>.dockerignore` next to the
    /// Dockerfile preferred, else `<root>/.dockerignore`, see [`IgnoreLookup::DockerfileFirst`]),
    /// walks root as the Docker CLI does.
    pub fn open(root: &Path, dockerfile: Option<&Path>) -> Result<BuildContext, ContextError> {
        BuildContext::open_with(root, dockerfile, IgnoreLookup::DockerfileFirst)
    }

    /// [`BuildContext::open`] with the ignore-file lookup chosen.
    pub fn open_with(
        root: &Path,
        dockerfile: Option<&Path>,
        lookup: IgnoreLookup,
    ) -> Result<BuildContext, ContextError> {
        let root = fs::canonicalize(root).map_err(io_err(root))?;
        if !fs::symlink_metadata(&root).map_err(io_err(&root))?.is_dir() {
            return Err(ContextError::NotADirectory { path: root });
        }
        let given = match dockerfile {
            Some(p) => std::path::absolute(p).map_err(io_err(p))?,
            None => {
                let default = root.join("Dockerfile");
                let lower = root.join("dockerfile");
                if fs::symlink_metadata(&default).is_err() && fs::symlink_metadata(&lower).is_ok() {
                    lower
                } else {
                    default
                }
            }
        };
        let dockerfile_path = fs::canonicalize(&given).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                ContextError::NoDockerfile {
                    path: given.clone(),
                }
            } else {
                ContextError::Io {
                    path: given.clone(),
                    source: e,
                }
            }
        })?;
        let dockerfile_text =
            String::from_utf8_lossy(&fs::read(&dockerfile_path).map_err(io_err(&dockerfile_path))?)
                .into_owned();
        let dockerfile_rel = dockerfile_path
            .strip_prefix(&root)
            .ok()
            .and_then(|r| r.to_str())
            .map(|r| r.to_string())
            .filter(|r| !r.is_empty());

        let root_ignore_path = root.join(".dockerignore");
        let root_dockerignore = match fs::read(&root_ignore_path) {
            Ok(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(ContextError::Io {
                    path: root_ignore_path,
                    source: e,
                });
            }
        };
        let mut ignore_path = None;
        if lookup == IgnoreLookup::DockerfileFirst {
            let mut name = given.as_os_str().to_owned();
            name.push(".dockerignore");
            let candidate = PathBuf::from(name);
            if candidate.is_file() {
                ignore_path = Some(candidate);
            }
        }
        let ignore = match ignore_path {
            Some(p) => {
                let text = fs::read(&p).map_err(io_err(&p))?;
                Some(IgnoreFile::parse(&p, &String::from_utf8_lossy(&text))?)
            }
            None => match &root_dockerignore {
                Some(text) => Some(IgnoreFile::parse(&root_ignore_path, text)?),
                None => None,
            },
        };
        let ignore_display = ignore
            .as_ref()
            .map(|i| {
                let rel = i.path.strip_prefix(&root).unwrap_or(&i.path);
                rel.to_string_lossy().into_owned()
            })
            .unwrap_or_default();

        // TrimBuildFilesFromExcludes: the CLI's deprecated `Matches` decides whether the build
        // files need an exception appended.
        let mut all_patterns: Vec<Pattern> = ignore
            .as_ref()
            .map(|i| i.patterns.clone())
            .unwrap_or_default();
        let df_tar_rel = dockerfile_rel
            .clone()
            .unwrap_or_else(|| pathdiff(&dockerfile_path, &root));
        for file in [".dockerignore".to_string(), df_tar_rel] {
            let m = Matcher::for_file(&root_ignore_path, &all_patterns)?;
            if m.matches_one_parent(&clean(&file), true)
                && let Ok(Some(p)) = new_pattern(&format!("!{file}"), 0)
            {
                all_patterns.push(p);
            }
        }
        let matcher = Matcher::for_file(&root_ignore_path, &all_patterns)?;

        let mut ctx = BuildContext {
            root,
            dockerfile_path,
            dockerfile_rel,
            dockerfile_text,
            ignore,
            ignore_display,
            excluder: Excluder {
                matcher,
                patterns: all_patterns,
            },
            root_dockerignore,
            entries: Vec::new(),
            index: HashMap::new(),
            mtimes: Vec::new(),
            hardlinks: HashMap::new(),
            tar_dockerfile: String::new(),
        };
        ctx.tar_dockerfile = match &ctx.dockerfile_rel {
            Some(rel) => rel.clone(),
            None => format!(".dockerfile.{}", random_hex(20)),
        };
        let mut seen_inodes = HashMap::new();
        let root = ctx.root.clone();
        ctx.walk(&root, "", &MatchInfo::default(), &mut seen_inodes)?;
        Ok(ctx)
    }

    fn walk(
        &mut self,
        dir: &Path,
        rel_dir: &str,
        parent: &MatchInfo,
        seen_inodes: &mut HashMap<(u64, u64), usize>,
    ) -> Result<(), ContextError> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .map_err(io_err(dir))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_err(dir))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            // Non-UTF-8 names cannot be matched or reported as strings; they are left out.
            let Some(name_str) = name.to_str() else {
                continue;
            };
            let rel = if rel_dir.is_empty() {
                name_str.to_string()
            } else {
                format!("{rel_dir}/{name_str}")
            };
            let path = dir.join(&name);
            let meta = fs::symlink_metadata(&path).map_err(io_err(&path))?;
            let ft = meta.file_type();
            let (skip, _, info) = self.excluder.matcher.matches_using_parent(&rel, parent);
            if skip {
                if ft.is_dir() && self.excluder.matcher.must_enter(&rel) {
                    self.walk(&path, &rel, &info, seen_inodes)?;
                }
                continue;
            }
            let mode = meta.mode() & 0o7777;
            let kind = if ft.is_dir() {
                EntryKind::Dir
            } else if ft.is_symlink() {
                let target = fs::read_link(&path).map_err(io_err(&path))?;
                EntryKind::Symlink {
                    target: target.to_string_lossy().into_owned(),
                }
            } else if ft.is_file() {
                EntryKind::File { size: meta.len() }
            } else {
                // Sockets, FIFOs and device nodes: not modelled.
                continue;
            };
            let idx = self.entries.len();
            if !ft.is_dir() && meta.nlink() > 1 {
                match seen_inodes.get(&(meta.dev(), meta.ino())) {
                    Some(&first) => {
                        self.hardlinks.insert(idx, first);
                    }
                    None => {
                        seen_inodes.insert((meta.dev(), meta.ino()), idx);
                    }
                }
            }
            self.index.insert(rel.clone(), idx);
            self.mtimes.push(u64::try_from(meta.mtime()).unwrap_or(0));
            self.entries.push(ContextEntry {
                path: rel.clone(),
                kind,
                mode,
            });
            if ft.is_dir() {
                self.walk(&path, &rel, &info, seen_inodes)?;
            }
        }
        Ok(())
    }

    /// The context directory (absolute, symlinks resolved).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The Dockerfile on disk (absolute, symlinks resolved).
    pub fn dockerfile_path(&self) -> &Path {
        &self.dockerfile_path
    }

    /// The Dockerfile's path relative to the root, `None` when it lies outside the root.
    pub fn dockerfile_rel(&self) -> Option<&str> {
        self.dockerfile_rel.as_deref()
    }

    /// The Dockerfile's text.
    pub fn dockerfile_text(&self) -> &str {
        &self.dockerfile_text
    }

    /// The ignore file in effect, if any.
    pub fn ignore(&self) -> Option<&IgnoreFile> {
        self.ignore.as_ref()
    }

    /// The ignore file's path relative to the root (`.dockerignore`,
    /// `docker/app.Dockerfile.dockerignore`), or as on disk when it lies outside the root;
    /// empty when there is none.
    pub fn ignore_display(&self) -> &str {
        &self.ignore_display
    }

    /// Everything that is sent: dirs, files, symlinks, `/`-separated paths relative to root,
    /// in the Docker CLI's walk order (depth first, names sorted byte-wise within each
    /// directory, so `a/x` comes before `a.txt`). A file re-included below an excluded
    /// directory is sent without that directory's own entry, as the CLI does.
    pub fn entries(&self) -> &[ContextEntry] {
        &self.entries
    }

    /// The entry at `rel`, if it is sent.
    pub fn entry(&self, rel: &str) -> Option<&ContextEntry> {
        self.index.get(rel).map(|&i| &self.entries[i])
    }

    /// `Some(pattern)` when the ignore file drops `rel` (the pattern that decided, last match
    /// wins). Evaluated as the context walk does, including its pruning: below a directory the
    /// walk skips, the pattern that excluded the directory is returned. `rel` need not exist.
    pub fn excluded_by(&self, rel: &str) -> Option<&Pattern> {
        self.excluder.excluded_by(rel)
    }

    /// What the classic builder deletes from the received context before building: the
    /// Dockerfile and `.dockerignore` when the `.dockerignore` sent in the tar matches them
    /// (paths relative to the root; a Dockerfile outside the root is always deleted and not
    /// listed). Nothing is deleted without a `.dockerignore` at the root, except in the
    /// outside-Dockerfile case, where the CLI writes one naming itself.
    pub fn removed_by_engine(&self, rules: EngineRules) -> Vec<String> {
        let text = match (&self.root_dockerignore, &self.dockerfile_rel) {
            (Some(t), Some(_)) => t.clone(),
            (Some(t), None) => format!("{t}\n.dockerfile.0\n"),
            (None, None) => ".dockerignore\n.dockerfile.0\n".to_string(),
            (None, Some(_)) => return Vec::new(),
        };
        let mut patterns = Vec::new();
        for (line, raw) in read_all(&text) {
            match new_pattern(&raw, line) {
                Ok(Some(p)) => patterns.push(p),
                Ok(None) => {}
                Err(_) => return Vec::new(),
            }
        }
        let flavor = match rules {
            EngineRules::Current => Flavor::Current,
            EngineRules::Engine2010 => Flavor::Engine2010,
        };
        let Ok(m) = Matcher::new(&patterns, flavor) else {
            return Vec::new();
        };
        let mut files = vec![".dockerignore".to_string()];
        files.extend(self.dockerfile_rel.clone());
        files
            .into_iter()
            .filter(|f| self.index.contains_key(f))
            .filter(|f| {
                let f = clean(f);
                match rules {
                    EngineRules::Current => m.matches_or_parent_matches(&f).0,
                    EngineRules::Engine2010 => m.matches_one_parent(&f, false),
                }
            })
            .collect()
    }

    /// Reads a sent context file, following symlinks the way the builder resolves `COPY`
    /// sources (inside the context: an absolute target starts at the root). Refuses paths that
    /// escape the root (`PermissionDenied`) and files that are not sent (`NotFound`).
    pub fn read(&self, rel: &str) -> io::Result<Vec<u8>> {
        let resolved = self.resolve(rel)?;
        match self.entry(&resolved).map(|e| &e.kind) {
            Some(EntryKind::File { .. }) => {}
            Some(_) => {
                return Err(io::Error::other(format!("{resolved}: not a regular file")));
            }
            None => {
                let why = match self.excluded_by(&resolved) {
                    Some(p) => format!(
                        "excluded by {}:{} `{}`",
                        self.ignore_display, p.line, p.text
                    ),
                    None => "not in the build context".to_string(),
                };
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{resolved}: {why}"),
                ));
            }
        }
        let path = self.root.join(&resolved);
        let before = fs::symlink_metadata(&path)?;
        let mut f = fs::File::open(&path)?;
        let after = f.metadata()?;
        if !before.file_type().is_file()
            || before.ino() != after.ino()
            || before.dev() != after.dev()
        {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{resolved}: changed while being read"),
            ));
        }
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        Ok(buf)
    }

    /// Resolves `rel` inside the context (symlinks followed within the context, as sent).
    pub(crate) fn resolve(&self, rel: &str) -> io::Result<String> {
        let escape = || {
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{rel}: escapes the build context"),
            )
        };
        let mut todo: Vec<String> = Vec::new();
        push_components(&mut todo, rel);
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            match c.as_str() {
                "" | "." => {}
                ".." => {
                    if done.pop().is_none() {
                        return Err(escape());
                    }
                }
                "/" => done.clear(),
                name => {
                    done.push(name.to_string());
                    let cur = done.join("/");
                    if let Some(EntryKind::Symlink { target }) = self.entry(&cur).map(|e| &e.kind) {
                        hops += 1;
                        if hops > 40 {
                            return Err(io::Error::other(format!("{rel}: too many symlinks")));
                        }
                        done.pop();
                        push_components(&mut todo, target);
                    }
                }
            }
        }
        Ok(done.join("/"))
    }

    /// The Dockerfile's name inside the tar [`write_tar`](Self::write_tar) writes: its relative
    /// path, or a generated `.dockerfile.<hex>` when it lies outside root.
    pub fn tar_dockerfile_name(&self) -> &str {
        &self.tar_dockerfile
    }

    /// The context tar as the Docker CLI makes it; returns the Dockerfile's name inside the tar
    /// (the same as [`tar_dockerfile_name`](Self::tar_dockerfile_name)).
    pub fn write_tar<W: io::Write>(&self, w: W) -> Result<String, ContextError> {
        let mut b = tar::Builder::new(w);
        b.mode(tar::HeaderMode::Complete);
        b.follow_symlinks(false);
        let outside = self.dockerfile_rel.is_none();
        let random_name = self.tar_dockerfile.clone();
        let mut dockerignore_seen = false;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        for (i, e) in self.entries.iter().enumerate() {
            let mut h = tar::Header::new_gnu();
            h.set_uid(0);
            h.set_gid(0);
            h.set_mode(e.mode);
            h.set_mtime(self.mtimes[i]);
            let path = self.root.join(&e.path);
            match &e.kind {
                EntryKind::Dir => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    b.append_data(&mut h, format!("{}/", e.path), io::empty())
                        .map_err(ContextError::Tar)?;
                }
                EntryKind::Symlink { target } => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    b.append_link(&mut h, &e.path, target)
                        .map_err(ContextError::Tar)?;
                }
                EntryKind::File { .. } => {
                    if let Some(&first) = self.hardlinks.get(&i) {
                        h.set_entry_type(tar::EntryType::Link);
                        h.set_size(0);
                        b.append_link(&mut h, &e.path, &self.entries[first].path)
                            .map_err(ContextError::Tar)?;
                        continue;
                    }
                    let mut f = fs::File::open(&path).map_err(io_err(&path))?;
                    let meta = f.metadata().map_err(io_err(&path))?;
                    if !meta.is_file() {
                        return Err(ContextError::Io {
                            path,
                            source: io::Error::other("changed while the context was sent"),
                        });
                    }
                    h.set_entry_type(tar::EntryType::Regular);
                    if outside && e.path == ".dockerignore" {
                        dockerignore_seen = true;
                        let mut data = Vec::new();
                        f.read_to_end(&mut data).map_err(io_err(&path))?;
                        data.extend_from_slice(format!("\n{random_name}\n").as_bytes());
                        h.set_size(data.len() as u64);
                        b.append_data(&mut h, &e.path, data.as_slice())
                            .map_err(ContextError::Tar)?;
                    } else {
                        h.set_size(meta.len());
                        b.append_data(&mut h, &e.path, f.take(meta.len()))
                            .map_err(ContextError::Tar)?;
                    }
                }
            }
        }
        if !outside {
            b.finish().map_err(ContextError::Tar)?;
            return Ok(self.tar_dockerfile.clone());
        }
        let mut extra = vec![(random_name.clone(), self.dockerfile_text_bytes()?)];
        if !dockerignore_seen {
            extra.push((
                ".dockerignore".to_string(),
                format!(".dockerignore\n{random_name}\n").into_bytes(),
            ));
        }
        for (name, data) in extra {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o600);
            h.set_mtime(now);
            h.set_uid(0);
            h.set_gid(0);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, &name, data.as_slice())
                .map_err(ContextError::Tar)?;
        }
        b.finish().map_err(ContextError::Tar)?;
        Ok(random_name)
    }

    /// Everything under the root on disk, ignore file or not (for explaining what the ignore
    /// file dropped): `(path, kind)` in walk order. Unreadable directories are left out.
    pub(crate) fn disk_listing(&self) -> Vec<(String, EntryKind)> {
        fn walk(dir: &Path, rel_dir: &str, out: &mut Vec<(String, EntryKind)>) {
            let Ok(rd) = fs::read_dir(dir) else { return };
            let mut names: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.file_name())).collect();
            names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            for name in names {
                let Some(n) = name.to_str() else { continue };
                let rel = if rel_dir.is_empty() {
                    n.to_string()
                } else {
                    format!("{rel_dir}/{n}")
                };
                let path = dir.join(&name);
                let Ok(meta) = fs::symlink_metadata(&path) else {
                    continue;
                };
                let ft = meta.file_type();
                if ft.is_dir() {
                    out.push((rel.clone(), EntryKind::Dir));
                    walk(&path, &rel, out);
                } else if ft.is_symlink() {
                    let target = fs::read_link(&path)
                        .map(|t| t.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    out.push((rel, EntryKind::Symlink { target }));
                } else if ft.is_file() {
                    out.push((rel, EntryKind::File { size: meta.len() }));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, "", &mut out);
        out
    }

    pub(crate) fn excluder(&self) -> &Excluder {
        &self.excluder
    }

    fn dockerfile_text_bytes(&self) -> Result<Vec<u8>, ContextError> {
        fs::read(&self.dockerfile_path).map_err(io_err(&self.dockerfile_path))
    }
}

/// Pushes the components of `p` on a stack so that the first component is popped first; an
/// absolute path starts with the marker `/`.
fn push_components(stack: &mut Vec<String>, p: &str) {
    let mut parts: Vec<String> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::RootDir => parts.push("/".to_string()),
            Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => parts.push("..".to_string()),
            Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
        }
    }
    stack.extend(parts.into_iter().rev());
}

/// `filepath.Rel(root, path)` for a path outside the root (`../x/Dockerfile`).
fn pathdiff(path: &Path, root: &Path) -> String {
    let p: Vec<_> = path.components().collect();
    let r: Vec<_> = root.components().collect();
    let common = p.iter().zip(&r).take_while(|(a, b)| a == b).count();
    let mut out: Vec<String> = vec!["..".to_string(); r.len() - common];
    out.extend(
        p[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    out.join("/")
}

/// `n` random lowercase hex digits (the CLI uses `stringid.GenerateRandomID()[:20]`).
fn random_hex(n: usize) -> String {
    let mut s = String::new();
    let mut salt = 0u64;
    while s.len() < n {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let v = RandomState::new().hash_one((nanos, std::process::id(), salt));
        s.push_str(&format!("{v:016x}"));
        salt += 1;
    }
    s.truncate(n);
    s
}

#[cfg(test)]
mod tests;
