//! [`PathMap`]: image paths back to context paths through the final stage's COPY/ADD.
//!
//! The map replays the plan's `COPY`/`ADD` steps on two views of the context: the entries that
//! are sent (what the build sees) and everything on disk (what the build would see without the
//! ignore file). The first gives [`PathMap::to_context`]; the difference between the two
//! explains an absent path ([`PathMap::why_absent`]).
//!
//! COPY semantics modelled: a directory source copies its contents into the destination; a
//! file source goes to `dest/<name>` when the destination ends in `/`, names a directory already
//! in the layout (from `WORKDIR` or an earlier `COPY`), or there are several sources, else to
//! the destination itself; wildcard sources (`*`, `?`, `[...]`, matched per path component as
//! Go's `filepath.Match` does) copy every match; a source that is a symlink is followed inside
//! the context; `COPY --from=<stage>` takes the files that stage copied from the context
//! (traced through any number of stages); `FROM <stage>` inherits that stage's files; a later
//! step overwrites an earlier one's file at the same path. Not modelled: what `RUN` creates,
//! moves or deletes, files of base images and `--from=<image>`, `ADD` of URLs and archives
//! (which `ADD` unpacks), `COPY --parents` and `--exclude`.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::context::EntryKind;
use crate::ignore::{Excluder, clean};
use crate::{BuildContext, BuildPlan, CopyFrom, CopyStep, EngineRules, Pattern, Step};

/// Image path -> context path, following COPY/ADD of the plan's final stage (and `--from`
/// stages back to the context). Later COPYs win over earlier ones.
#[derive(Debug)]
pub struct PathMap {
    /// Final stage layout built from the sent context.
    real: Fs,
    /// Final stage layout built from everything on disk.
    shadow: Fs,
    /// Context paths that exist on disk.
    on_disk: HashSet<String>,
    /// Sent regular files, sorted.
    sent_files: Vec<String>,
    /// Context paths some image path of the final stage comes from.
    copied: HashSet<String>,
    excluder: Excluder,
    ignore_display: String,
    /// Dockerfile lines of the final stage's `CMD` and `ENTRYPOINT`.
    cmd_line: Option<usize>,
    entrypoint_line: Option<usize>,
}

/// Where an image path came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextLocation {
    /// Relative to the context root (`.` for the root itself).
    pub path: String,
    /// Line of the COPY/ADD that read it from the context (in the final stage, or in the stage
    /// a `COPY --from` or `FROM <stage>` took it from).
    pub copy_line: usize,
}

/// Why a path is absent from the image although a context file would provide it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Absence {
    /// The context file exists on disk but the ignore file drops it. `ignore_file` is the
    /// ignore file's path relative to the context root (`.dockerignore`).
    Excluded {
        path: String,
        pattern: Pattern,
        ignore_file: String,
    },
    /// A COPY covers the path (it lies below a directory copied from the context), but the
    /// context has no such file.
    NotInContext { path: String },
}

#[derive(Debug, Clone)]
struct Node {
    dir: bool,
    link: Option<String>,
    /// Context path and the line of the COPY that read it; `None` for directories made by
    /// `WORKDIR` or as parents.
    origin: Option<(String, usize)>,
}

/// A file tree keyed by `/`-separated paths without a leading `/` (`""` is the root).
type Fs = BTreeMap<String, Node>;

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

fn key(path: &str) -> String {
    let c = clean(&format!("/{path}"));
    c.trim_start_matches('/').to_string()
}

fn mkdirs(fs: &mut Fs, path: &str) {
    let parts: Vec<&str> = if path.is_empty() {
        Vec::new()
    } else {
        path.split('/').collect()
    };
    for n in 0..=parts.len() {
        let p = parts[..n].join("/");
        let e = fs.entry(p).or_insert(Node {
            dir: true,
            link: None,
            origin: None,
        });
        if !e.dir && n < parts.len() {
            *e = Node {
                dir: true,
                link: None,
                origin: None,
            };
        }
    }
}

/// The context as a tree: entries, their implicit parents (sent files below an excluded
/// directory arrive without the directory's own entry) and the root.
fn context_fs<'a>(items: impl Iterator<Item = (&'a str, &'a EntryKind)>) -> Fs {
    let mut fs = Fs::new();
    fs.insert(
        String::new(),
        Node {
            dir: true,
            link: None,
            origin: Some((".".into(), 0)),
        },
    );
    for (path, kind) in items {
        let parts: Vec<&str> = path.split('/').collect();
        for n in 1..parts.len() {
            let p = parts[..n].join("/");
            fs.entry(p.clone()).or_insert(Node {
                dir: true,
                link: None,
                origin: Some((p, 0)),
            });
        }
        let node = match kind {
            EntryKind::Dir => Node {
                dir: true,
                link: None,
                origin: Some((path.to_string(), 0)),
            },
            EntryKind::File { .. } => Node {
                dir: false,
                link: None,
                origin: Some((path.to_string(), 0)),
            },
            EntryKind::Symlink { target } => Node {
                dir: false,
                link: Some(target.clone()),
                origin: Some((path.to_string(), 0)),
            },
        };
        fs.insert(path.to_string(), node);
    }
    fs
}

/// Follows symlinks inside the tree (absolute targets start at its root, `..` stops at the
/// root, as the builder's scoped resolution does). `None` when the path does not exist.
fn resolve(fs: &Fs, path: &str) -> Option<String> {
    let mut todo: Vec<String> = path.split('/').rev().map(str::to_string).collect();
    let mut done: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(c) = todo.pop() {
        match c.as_str() {
            "" | "." => {}
            ".." => {
                done.pop();
            }
            name => {
                done.push(name.to_string());
                let cur = done.join("/");
                let node = fs.get(&cur)?;
                if let Some(target) = &node.link {
                    hops += 1;
                    if hops > 40 {
                        return None;
                    }
                    done.pop();
                    if target.starts_with('/') {
                        done.clear();
                    }
                    todo.extend(target.split('/').rev().map(str::to_string));
                }
            }
        }
    }
    let p = done.join("/");
    fs.contains_key(&p).then_some(p)
}

fn has_wildcards(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Go's `filepath.Match`, which the builder uses for wildcard `COPY`/`ADD` sources: `*` and `?`
/// do not match `/`; `[...]` classes with `^` negation and ranges; `\` escapes. A malformed
/// pattern matches nothing. Every token but `*` matches exactly one character, so on a mismatch
/// only the last `*` needs to take one more character: linear in the name for each star, where
/// retrying every split would be exponential in the number of stars (`COPY *a*a*a*a*a*ab`).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = name.chars().collect();
    if !well_formed(&p) {
        return false;
    }
    let (mut pi, mut si) = (0, 0);
    // After the last `*` seen: where its pattern continues and how much of the name it took.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi + 1, si));
            pi += 1;
            continue;
        }
        if pi < p.len() {
            if let Some(&c) = s.get(si)
                && let Some(used) = one_char(&p[pi..], c)
            {
                pi += used;
                si += 1;
                continue;
            }
        } else if si == s.len() {
            return true;
        }
        match star {
            Some((next, taken)) if taken < s.len() && s[taken] != '/' => {
                star = Some((next, taken + 1));
                pi = next;
                si = taken + 1;
            }
            _ => return false,
        }
    }
}

/// How many pattern characters the token at the start of `p` (not `*`) uses to match `c`, or
/// `None` when it does not match.
fn one_char(p: &[char], c: char) -> Option<usize> {
    match p[0] {
        '?' => (c != '/').then_some(1),
        '[' if c != '/' => match class(&p[1..], c) {
            Some((true, used)) => Some(1 + used),
            _ => None,
        },
        '[' => None,
        '\\' => (p.get(1) == Some(&c)).then_some(2),
        lit => (lit == c).then_some(1),
    }
}

/// Whether every class is closed and no `\` ends the pattern (Go's `ErrBadPattern` otherwise).
fn well_formed(p: &[char]) -> bool {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' if i + 1 >= p.len() => return false,
            '\\' => i += 2,
            '[' => match class(&p[i + 1..], '\0') {
                Some((_, used)) => i += 1 + used,
                None => return false,
            },
            _ => i += 1,
        }
    }
    true
}

/// A class after its `[`: whether `c` is in it, and how many characters it spans with its `]`;
/// `None` when it is not closed.
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 0;
    let negated = p.first() == Some(&'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut n = 0;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && n > 0 {
            i += 1;
            break;
        }
        let lo = if ch == '\\' {
            i += 1;
            *p.get(i)?
        } else {
            ch
        };
        i += 1;
        let mut hi = lo;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|c| *c != ']') {
            i += 1;
            hi = if p[i] == '\\' {
                i += 1;
                *p.get(i)?
            } else {
                p[i]
            };
            i += 1;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
        n += 1;
    }
    Some((matched != negated, i))
}

fn is_remote_or_archive(add: bool, src: &str) -> bool {
    if src.contains("://") || src.starts_with("git@") {
        return true;
    }
    add && [
        ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst",
    ]
    .iter()
    .any(|ext| src.ends_with(ext))
}

/// Replays one COPY/ADD into `dst` from `src` (the context when `from_context`, else a stage).
fn apply_copy(dst: &mut Fs, src: &Fs, from_context: bool, c: &CopyStep) {
    let mut matches: Vec<String> = Vec::new();
    for s in &c.sources {
        if is_remote_or_archive(c.add, s) {
            continue;
        }
        let s = key(s);
        if has_wildcards(&s) {
            let depth = s.split('/').count();
            matches.extend(
                src.keys()
                    .filter(|k| !k.is_empty() && k.split('/').count() == depth && glob_match(&s, k))
                    .cloned(),
            );
        } else if let Some(r) = resolve(src, &s) {
            matches.push(r);
        }
    }
    let dest = key(&c.dest);
    let dest_dir = c.dest.ends_with('/')
        || c.sources.len() > 1
        || matches.len() > 1
        || dst.get(&dest).is_some_and(|n| n.dir);
    let origin = |n: &Node, path: &str| -> Option<(String, usize)> {
        if from_context {
            n.origin.as_ref().map(|_| {
                (
                    if path.is_empty() {
                        ".".to_string()
                    } else {
                        path.to_string()
                    },
                    c.line,
                )
            })
        } else {
            n.origin.clone()
        }
    };
    for m in matches {
        let Some(node) = src.get(&m) else { continue };
        if node.dir {
            mkdirs(dst, &dest);
            if let Some(d) = dst.get_mut(&dest) {
                d.origin = origin(node, &m);
            }
            let prefix = if m.is_empty() {
                String::new()
            } else {
                format!("{m}/")
            };
            let below: Vec<(String, Node)> = src
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, n)| (k.clone(), n.clone()))
                .collect();
            for (k, n) in below {
                let target = join(&dest, &k[prefix.len()..]);
                if let Some((parent, _)) = target.rsplit_once('/') {
                    mkdirs(dst, parent);
                }
                let o = origin(&n, &k);
                dst.insert(
                    target,
                    Node {
                        dir: n.dir,
                        link: n.link.clone(),
                        origin: o,
                    },
                );
            }
        } else {
            let name = m.rsplit('/').next().unwrap_or(&m);
            let target = if dest_dir {
                join(&dest, name)
            } else {
                dest.clone()
            };
            if let Some((parent, _)) = target.rsplit_once('/') {
                mkdirs(dst, parent);
            } else {
                mkdirs(dst, "");
            }
            let o = origin(node, &m);
            dst.insert(
                target,
                Node {
                    dir: false,
                    link: node.link.clone(),
                    origin: o,
                },
            );
        }
    }
}

/// The final stage's tree, every stage replayed from `context`.
fn final_fs(plan: &BuildPlan, context: &Fs) -> Fs {
    let mut done: Vec<Fs> = Vec::with_capacity(plan.stages.len());
    for stage in &plan.stages {
        let mut fs = match stage.base {
            crate::Base::Stage(i) => done.get(i).cloned().unwrap_or_default(),
            _ => Fs::new(),
        };
        mkdirs(&mut fs, "");
        for step in &stage.steps {
            match step {
                Step::Workdir { path, .. } => mkdirs(&mut fs, &key(path)),
                Step::Copy(c) => match &c.from {
                    CopyFrom::Context => apply_copy(&mut fs, context, true, c),
                    CopyFrom::Stage(i) => {
                        if let Some(src) = done.get(*i) {
                            let src = src.clone();
                            apply_copy(&mut fs, &src, false, c);
                        }
                    }
                    CopyFrom::Image(_) => {}
                },
                _ => {}
            }
        }
        done.push(fs);
    }
    done.into_iter().nth(plan.target).unwrap_or_default()
}

impl PathMap {
    /// The Dockerfile line of the final stage's `CMD` or `ENTRYPOINT` (by instruction name),
    /// where findings about what the container runs are shown.
    pub fn instruction_line(&self, instruction: &str) -> Option<usize> {
        match instruction {
            "CMD" => self.cmd_line,
            "ENTRYPOINT" => self.entrypoint_line,
            _ => None,
        }
    }

    /// Replays the plan on the context (see the module documentation for what is modelled).
    pub fn new(ctx: &BuildContext, plan: &BuildPlan) -> PathMap {
        let removed = ctx.removed_by_engine(EngineRules::Current);
        let sent = context_fs(
            ctx.entries()
                .iter()
                .filter(|e| !removed.contains(&e.path))
                .map(|e| (e.path.as_str(), &e.kind)),
        );
        let disk = ctx.disk_listing();
        let disk_fs = context_fs(disk.iter().map(|(p, k)| (p.as_str(), k)));
        let real = final_fs(plan, &sent);
        let shadow = final_fs(plan, &disk_fs);
        let copied = real
            .values()
            .filter_map(|n| n.origin.as_ref().map(|o| o.0.clone()))
            .collect();
        let mut sent_files: Vec<String> = ctx
            .entries()
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::File { .. }))
            .map(|e| e.path.clone())
            .collect();
        sent_files.sort();
        let last = plan.stages.get(plan.target);
        PathMap {
            cmd_line: last.and_then(|s| s.cmd_line),
            entrypoint_line: last.and_then(|s| s.entrypoint_line),
            real,
            shadow,
            on_disk: disk.into_iter().map(|(p, _)| p).collect(),
            sent_files,
            copied,
            excluder: ctx.excluder().clone(),
            ignore_display: ctx.ignore_display().to_string(),
        }
    }

    /// The context file or directory an image path (absolute, e.g. `/app/core/x.py` or
    /// `/app/core`) was copied from; `None` when no COPY/ADD from the context put it there.
    pub fn to_context(&self, image_path: &str) -> Option<ContextLocation> {
        let n = self.real.get(&key(image_path))?;
        let (path, copy_line) = n.origin.clone()?;
        Some(ContextLocation { path, copy_line })
    }

    /// Every file and symlink of the final stage that came from the context: absolute image
    /// path and origin, sorted by image path.
    pub fn mapped_files(&self) -> Vec<(String, ContextLocation)> {
        self.real
            .iter()
            .filter(|(_, n)| !n.dir)
            .filter_map(|(k, n)| {
                let (path, copy_line) = n.origin.clone()?;
                Some((format!("/{k}"), ContextLocation { path, copy_line }))
            })
            .collect()
    }

    /// For a path absent from the image: why. [`Absence::Excluded`] when a context file would
    /// be copied there but the ignore file drops it (the deciding pattern); else
    /// [`Absence::NotInContext`] when the path lies below a directory copied from the context
    /// and the context has no such file. `None` when the path is in the image or no COPY
    /// covers it.
    pub fn why_absent(&self, image_path: &str) -> Option<Absence> {
        let k = key(image_path);
        if self.real.contains_key(&k) {
            return None;
        }
        if let Some((path, _)) = self.shadow.get(&k).and_then(|n| n.origin.clone())
            && let Some(p) = self.excluder.excluded_by(&path)
        {
            return Some(Absence::Excluded {
                path,
                pattern: p.clone(),
                ignore_file: self.ignore_display.clone(),
            });
        }
        // The nearest ancestor copied from a context directory.
        let parts: Vec<&str> = k.split('/').collect();
        for n in (0..parts.len()).rev() {
            let parent = parts[..n].join("/");
            let Some(node) = self.real.get(&parent) else {
                continue;
            };
            let (true, Some((ctx_dir, _))) = (node.dir, &node.origin) else {
                continue;
            };
            let base = if ctx_dir == "." { "" } else { ctx_dir.as_str() };
            let candidate = join(base, &parts[n..].join("/"));
            if !self.on_disk.contains(&candidate) {
                return Some(Absence::NotInContext { path: candidate });
            }
            return self
                .excluder
                .excluded_by(&candidate)
                .map(|p| Absence::Excluded {
                    path: candidate.clone(),
                    pattern: p.clone(),
                    ignore_file: self.ignore_display.clone(),
                });
        }
        None
    }

    /// Context files that would provide `module_rel` (`core/aws_service.py`,
    /// `utils/__init__.py`) but that no COPY brings into the image: sent files whose path is
    /// `module_rel` or ends in `/module_rel`, sorted.
    pub fn uncopied_candidates(&self, module_rel: &str) -> Vec<String> {
        let rel = module_rel.trim_start_matches('/');
        let suffix = format!("/{rel}");
        self.sent_files
            .iter()
            .filter(|p| {
                (p.as_str() == rel || p.ends_with(&suffix)) && !self.copied.contains(p.as_str())
            })
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests;
