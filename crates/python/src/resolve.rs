//! CPython's import system, statically, over the image's filesystem: `BuiltinImporter`,
//! `FrozenImporter` and `PathFinder` with one `FileFinder` per sys.path entry (rules C1–C13,
//! D1–D6 of docs/import-semantics.md). A [`Resolution`] keeps the walk — every entry tried and
//! what was there — so that a diagnostic can explain itself without resolving twice.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use importgate_image::Vfs;
use serde::Serialize;

use crate::runtime::{Runtime, unshadowable};

/// How one module was found, in CPython's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Found {
    Builtin,
    Frozen,
    /// Already in `sys.modules` when user code runs (`os`, `codecs`, …, and `os.path`).
    Preloaded,
    Source {
        file: String,
    },
    Bytecode {
        file: String,
    },
    Extension {
        file: String,
    },
    RegularPackage {
        init: String,
        path: Vec<String>,
    },
    NamespacePackage {
        portions: Vec<String>,
    },
}

impl Found {
    /// `__path__` for packages; `None` for modules, which cannot have submodules.
    pub fn search_path(&self) -> Option<&[String]> {
        match self {
            Found::RegularPackage { path, .. } => Some(path),
            Found::NamespacePackage { portions } => Some(portions),
            _ => None,
        }
    }

    pub fn file(&self) -> Option<&str> {
        match self {
            Found::Source { file } | Found::Bytecode { file } | Found::Extension { file } => {
                Some(file)
            }
            Found::RegularPackage { init, .. } => Some(init),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Found::Builtin => "a builtin module".into(),
            Found::Frozen => "a frozen module".into(),
            Found::Preloaded => "a module imported at interpreter startup".into(),
            Found::Source { file } => format!("the module {file}"),
            Found::Bytecode { file } => format!("the sourceless module {file}"),
            Found::Extension { file } => format!("the extension module {file}"),
            Found::RegularPackage { init, .. } => format!("{init}, a regular package"),
            Found::NamespacePackage { portions } => {
                format!("a namespace package ({})", portions.join(", "))
            }
        }
    }
}

/// What one FileFinder saw for one name in one directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum StepResult {
    /// The entry does not exist or is not a directory (CPython caches `None` for it).
    Missing,
    /// A file that may be a zip archive but whose contents were not available (not captured,
    /// too large, zip64): the verdict through it is uncertain.
    Archive,
    Nothing,
    Portion {
        dir: String,
    },
    Package {
        init: String,
    },
    Module {
        file: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Step {
    pub entry: String,
    pub result: StepResult,
    /// Extension files for this name that this interpreter will not load (another CPython,
    /// CPU or libc).
    pub foreign_extensions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Failure {
    /// No finder returned a spec.
    NotFound,
    /// `import a.b` where `a` is a module (rule D3).
    ParentNotPackage { parent: String, found: Found },
}

/// The outcome of importing a dotted name: each prefix found, then possibly a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Resolution {
    pub name: String,
    pub found: Vec<(String, Found)>,
    pub failure: Option<Failed>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Failed {
    /// The dotted name CPython reports (`No module named '...'`).
    pub module: String,
    pub failure: Failure,
    /// The search of the failing name: sys.path or the parent's `__path__`.
    pub walk: Vec<Step>,
    /// Directories of the parent package's name that lost to a regular package or module found
    /// elsewhere and that hold the missing name (rule C7): the seed's failure.
    pub shadowed: Vec<ShadowedPortion>,
    /// An archive on the search path could hold the module; the verdict is uncertain.
    pub uncertain: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ShadowedPortion {
    /// The namespace directory that lost (`/app/core`).
    pub dir: String,
    /// What won instead.
    pub winner: Found,
    /// The file or directory in `dir` that would have satisfied the import.
    pub would_be: String,
}

impl Resolution {
    pub fn last_found(&self) -> Option<&Found> {
        self.found.last().map(|(_, f)| f)
    }
}

/// One thing the import system looked at, recorded by a tracing resolver
/// ([`Resolver::tracing`]) while it runs the same code that decides verdicts: `importgate
/// explain` prints these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum TraceEvent {
    /// A component of the dotted name is looked up; `search` is sys.path (top level) or the
    /// parent's `__path__`.
    Component {
        name: String,
        search: Vec<String>,
        top_level: bool,
    },
    /// `FileFinder` tried one path in an entry, in CPython's order.
    Candidate {
        entry: String,
        path: String,
        /// `package` (`DIR/__init__SUFFIX`), `module` (`NAME SUFFIX`), `zip-member`.
        kind: String,
        exists: bool,
    },
    /// What the entry gave for the name. `consulted` is false for entries after the winner:
    /// CPython never looks there; they are walked to show what the winner shadows.
    Entry { step: Step, consulted: bool },
    /// The component's result (builtin, frozen and preloaded modules come without entries:
    /// meta-path finders before `PathFinder` answered).
    Found { name: String, found: Found },
    /// Resolution stopped here.
    Failed { failed: Failed },
}

/// Resolves module names for one runtime; caches directory listings as FileFinder does.
pub struct Resolver<'a> {
    vfs: &'a Vfs,
    rt: &'a Runtime,
    unshadowable: BTreeSet<String>,
    suffixes: Vec<String>,
    /// Shared, not cloned: a site-packages listing has thousands of names and is consulted for
    /// every top-level import.
    listings: crate::memo::Memo<Option<Arc<BTreeSet<String>>>>,
    /// Whole resolutions by dotted name: the checker asks for the same names from thousands of
    /// import sites (every `import numpy` in pandas), and a resolution depends only on the
    /// image and the runtime. Not used when tracing, whose events come from the walk itself.
    resolutions: crate::memo::Memo<Resolution>,
    /// Member names of zip archives on the path, by archive path (`None`: not a readable zip).
    zips: Mutex<BTreeMap<String, Option<Arc<BTreeSet<String>>>>>,
    /// The walk so far, when tracing (`None`: not recorded, the checker's case).
    trace: Option<Mutex<Vec<TraceEvent>>>,
}

/// What a sys.path entry that is not a directory turns out to be for `sys.path_hooks`.
enum FileEntry {
    /// `zipimporter(entry)` works: the archive's members and the prefix inside it.
    Zip {
        archive: String,
        prefix: String,
        members: Arc<BTreeSet<String>>,
    },
    /// A file whose contents are not available: it may or may not be a zip.
    Unknown,
    /// Neither a directory nor a zip: CPython caches `None` for it.
    Nothing,
}

fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

impl<'a> Resolver<'a> {
    pub fn new(vfs: &'a Vfs, rt: &'a Runtime) -> Self {
        let mut suffixes = rt.interpreter.extension_suffixes.clone();
        suffixes.push(".py".into());
        suffixes.push(".pyc".into());
        Resolver {
            vfs,
            rt,
            unshadowable: unshadowable(rt),
            suffixes,
            listings: crate::memo::Memo::default(),
            resolutions: crate::memo::Memo::default(),
            zips: Mutex::new(BTreeMap::new()),
            trace: None,
        }
    }

    /// A resolver that records every step of its walks (see [`TraceEvent`]); the verdicts are
    /// the same as without tracing, because the same code runs.
    pub fn tracing(mut self) -> Self {
        self.trace = Some(Mutex::new(Vec::new()));
        self
    }

    /// The events recorded since the last call.
    pub fn take_trace(&self) -> Vec<TraceEvent> {
        self.trace
            .as_ref()
            .map(|t| std::mem::take(&mut *t.lock().unwrap_or_else(|e| e.into_inner())))
            .unwrap_or_default()
    }

    fn trace_len(&self) -> usize {
        self.trace
            .as_ref()
            .map_or(0, |t| t.lock().unwrap_or_else(|e| e.into_inner()).len())
    }

    fn record(&self, event: impl FnOnce() -> TraceEvent) {
        if let Some(t) = &self.trace {
            t.lock().unwrap_or_else(|e| e.into_inner()).push(event());
        }
    }

    fn candidate(&self, entry: &str, path: &str, kind: &str, exists: bool) {
        self.record(|| TraceEvent::Candidate {
            entry: entry.to_string(),
            path: path.to_string(),
            kind: kind.to_string(),
            exists,
        });
    }

    pub fn runtime(&self) -> &Runtime {
        self.rt
    }

    pub fn vfs(&self) -> &Vfs {
        self.vfs
    }

    fn listing(&self, dir: &str) -> Option<Arc<BTreeSet<String>>> {
        self.listings.get_or_compute(dir, || {
            self.vfs
                .read_dir(dir)
                .map(|v| Arc::new(v.into_iter().map(str::to_string).collect::<BTreeSet<_>>()))
        })
    }

    /// The members of the zip archive at `path`, read once.
    fn zip_members(&self, path: &str) -> Option<Option<Arc<BTreeSet<String>>>> {
        if let Ok(cache) = self.zips.lock()
            && let Some(hit) = cache.get(path)
        {
            return Some(hit.clone());
        }
        // Contents not captured: unknown, not "not a zip".
        let data = self.vfs.read(path)??;
        let members = crate::zipdir::member_names(&data).map(Arc::new);
        if let Ok(mut cache) = self.zips.lock() {
            cache.insert(path.to_string(), members.clone());
        }
        Some(members)
    }

    /// `sys.path_hooks` for an entry that is not a directory: `zipimporter` accepts a zip
    /// file or a path inside one (`app.zip/lib`), found by walking up to an existing file.
    fn file_entry(&self, entry: &str) -> FileEntry {
        let mut archive = entry.trim_end_matches('/').to_string();
        let mut prefix = String::new();
        while !self.vfs.is_file(&archive) {
            if self.vfs.exists(&archive) {
                return FileEntry::Nothing;
            }
            match archive.rsplit_once('/') {
                Some((head, tail)) if !head.is_empty() => {
                    prefix = if prefix.is_empty() {
                        format!("{tail}/")
                    } else {
                        format!("{tail}/{prefix}")
                    };
                    archive = head.to_string();
                }
                _ => return FileEntry::Nothing,
            }
        }
        match self.zip_members(&archive) {
            None => FileEntry::Unknown,
            Some(None) => FileEntry::Nothing,
            Some(Some(members)) => FileEntry::Zip {
                archive,
                prefix,
                members,
            },
        }
    }

    /// `zipimporter.find_spec(tail)` (rule C16, `Lib/zipimport.py`): package `__init__.pyc`,
    /// `__init__.py`, then module `.pyc`, `.py` (never extension modules); else a namespace
    /// portion, but only when the archive has an explicit `tail/` directory entry.
    fn find_in_zip(
        &self,
        step: &mut Step,
        archive: &str,
        prefix: &str,
        members: &BTreeSet<String>,
        tail: &str,
    ) {
        let base = format!("{prefix}{tail}");
        for (suffix, package) in [
            ("/__init__.pyc", true),
            ("/__init__.py", true),
            (".pyc", false),
            (".py", false),
        ] {
            let member = format!("{base}{suffix}");
            let exists = members.contains(&member);
            self.candidate(
                &step.entry,
                &format!("{archive}/{member}"),
                "zip-member",
                exists,
            );
            if exists {
                let full = format!("{archive}/{member}");
                step.result = if package {
                    StepResult::Package { init: full }
                } else {
                    StepResult::Module { file: full }
                };
                return;
            }
        }
        if members.contains(&format!("{base}/")) {
            step.result = StepResult::Portion {
                dir: format!("{archive}/{base}"),
            };
        }
    }

    /// One `FileFinder.find_spec(tail)` in `dir` (rule C6).
    fn find_in(&self, dir: &str, tail: &str) -> Step {
        let mut step = Step {
            entry: dir.to_string(),
            result: StepResult::Nothing,
            foreign_extensions: Vec::new(),
        };
        let Some(names) = self.listing(dir) else {
            match self.file_entry(dir) {
                FileEntry::Zip {
                    archive,
                    prefix,
                    members,
                } => self.find_in_zip(&mut step, &archive, &prefix, &members, tail),
                FileEntry::Unknown => step.result = StepResult::Archive,
                FileEntry::Nothing => step.result = StepResult::Missing,
            }
            return step;
        };
        let base = join(dir, tail);
        let is_dir = names.contains(tail) && self.vfs.is_dir(&base);
        if is_dir {
            for suffix in &self.suffixes {
                let init = join(&base, &format!("__init__{suffix}"));
                let exists = self.vfs.is_file(&init);
                self.candidate(dir, &init, "package", exists);
                if exists {
                    step.result = StepResult::Package { init };
                    return step;
                }
            }
        }
        for suffix in &self.suffixes {
            let file = format!("{tail}{suffix}");
            let full = join(dir, &file);
            let exists = names.contains(&file) && self.vfs.is_file(&full);
            self.candidate(dir, &full, "module", exists);
            if exists {
                step.result = StepResult::Module { file: full };
                return step;
            }
        }
        // Extension files built for another interpreter are invisible to this one.
        let prefix = format!("{tail}.");
        for n in names.range(prefix.clone()..) {
            if !n.starts_with(&prefix) {
                break;
            }
            if n.ends_with(".so") && !self.suffixes.iter().any(|s| n == &format!("{tail}{s}")) {
                step.foreign_extensions.push(join(dir, n));
            }
        }
        if is_dir {
            step.result = StepResult::Portion { dir: base };
        }
        step
    }

    /// `PathFinder.find_spec(tail, search)`: the first regular package or module wins; namespace
    /// portions count only when nothing regular exists on any entry (rule C7).
    fn path_find(&self, tail: &str, search: &[String]) -> (Option<Found>, Vec<Step>, bool) {
        let mut walk = Vec::new();
        let mut winner: Option<Found> = None;
        let mut portions = Vec::new();
        let mut archive = false;
        for entry in search {
            let step = self.find_in(entry, tail);
            self.record(|| TraceEvent::Entry {
                step: step.clone(),
                consulted: winner.is_none(),
            });
            if winner.is_none() {
                match &step.result {
                    StepResult::Package { init } => {
                        // `__path__` is the package directory: `init`'s parent, which for a
                        // package inside a zip is `archive.zip/prefix/tail`.
                        let dir = init
                            .rsplit_once('/')
                            .map(|(d, _)| d.to_string())
                            .unwrap_or_else(|| join(entry, tail));
                        winner = Some(Found::RegularPackage {
                            init: init.clone(),
                            path: vec![dir],
                        })
                    }
                    StepResult::Module { file } => {
                        winner = Some(
                            if self
                                .rt
                                .interpreter
                                .extension_suffixes
                                .iter()
                                .any(|s| file.ends_with(s.as_str()))
                            {
                                Found::Extension { file: file.clone() }
                            } else if file.ends_with(".pyc") {
                                Found::Bytecode { file: file.clone() }
                            } else {
                                Found::Source { file: file.clone() }
                            },
                        )
                    }
                    StepResult::Portion { dir } => portions.push(dir.clone()),
                    StepResult::Archive => archive = true,
                    _ => {}
                }
            }
            walk.push(step);
        }
        let found = winner
            .or_else(|| (!portions.is_empty()).then_some(Found::NamespacePackage { portions }));
        (found, walk, archive)
    }

    /// `pkgutil.extend_path` / `pkg_resources.declare_namespace` in a package's `__init__`
    /// widen its `__path__` to every same-named directory on the parent's search path (D6/D7).
    fn extended_path(&self, found: Found, tail: &str, search: &[String]) -> Found {
        if let Found::RegularPackage { init, path } = &found
            && let Some(Some(src)) = self.vfs.read(init)
            && (memchr::memmem::find(&src, b"extend_path").is_some()
                || memchr::memmem::find(&src, b"declare_namespace").is_some())
        {
            let mut all = path.clone();
            for entry in search {
                let d = join(entry, tail);
                if !all.contains(&d) && self.vfs.is_dir(&d) {
                    all.push(d);
                }
            }
            return Found::RegularPackage {
                init: init.clone(),
                path: all,
            };
        }
        found
    }

    /// setuptools' `_EditableFinder`, after `PathFinder` on `sys.meta_path`: a top-level name
    /// in a finder's `MAPPING` loads `path/__init__.py` or `path.py` (D11).
    fn editable_find(&self, name: &str) -> Option<Found> {
        let (_, path) = self.rt.editable.iter().find(|(k, _)| k == name)?;
        let init = join(path, "__init__.py");
        if self.vfs.is_file(&init) {
            return Some(Found::RegularPackage {
                init,
                path: vec![path.clone()],
            });
        }
        let file = format!("{path}.py");
        self.vfs.is_file(&file).then_some(Found::Source { file })
    }

    /// All directories named `tail` without an `__init__` on `search`, for the shadowing note.
    fn lost_portions(&self, walk: &[Step]) -> Vec<String> {
        walk.iter()
            .filter_map(|s| match &s.result {
                StepResult::Portion { dir } => Some(dir.clone()),
                _ => None,
            })
            .collect()
    }

    /// The stdlib part of sys.path, where modules imported during startup come from.
    fn stdlib_entries(&self) -> Vec<String> {
        self.rt
            .sys_path
            .iter()
            .filter(|e| {
                matches!(
                    e.origin,
                    crate::Origin::Stdlib | crate::Origin::StdlibZip | crate::Origin::LibDynload
                )
            })
            .map(|e| e.path.clone())
            .collect()
    }

    /// Imports `name` (absolute, dotted) the way `importlib.import_module` would, stopping at the
    /// first component that fails.
    pub fn resolve(&self, name: &str) -> Resolution {
        if self.trace.is_none() {
            return self
                .resolutions
                .get_or_compute(name, || self.resolve_walk(name));
        }
        let start = self.trace_len();
        let res = self.resolve_walk(name);
        if self.trace.is_some() {
            // Found events the walk recorded itself (every component but the last).
            let done = self
                .trace
                .as_ref()
                .map(|t| {
                    t.lock().unwrap_or_else(|e| e.into_inner())[start..]
                        .iter()
                        .filter(|e| matches!(e, TraceEvent::Found { .. }))
                        .count()
                })
                .unwrap_or(0);
            for (name, found) in res.found.iter().skip(done) {
                self.record(|| TraceEvent::Found {
                    name: name.clone(),
                    found: found.clone(),
                });
            }
            if let Some(failed) = &res.failure {
                self.record(|| TraceEvent::Failed {
                    failed: failed.clone(),
                });
            }
        }
        res
    }

    fn resolve_walk(&self, name: &str) -> Resolution {
        let mut res = Resolution {
            name: name.to_string(),
            found: Vec::new(),
            failure: None,
        };
        let parts: Vec<&str> = name.split('.').collect();
        let mut search: Vec<String> = self.rt.sys_path.iter().map(|e| e.path.clone()).collect();
        let mut parent_lost: Vec<String> = Vec::new();
        for i in 0..parts.len() {
            let full = parts[..=i].join(".");
            let tail = parts[i];
            if let Some((name, found)) = i.checked_sub(1).and_then(|p| res.found.get(p)) {
                self.record(|| TraceEvent::Found {
                    name: name.clone(),
                    found: found.clone(),
                });
            }
            if let Some(prev) = i.checked_sub(1)
                && let Some(p) = res.found.get(prev).and_then(|(_, f)| f.search_path())
            {
                search = p.to_vec();
            }
            self.record(|| TraceEvent::Component {
                name: full.clone(),
                search: search.clone(),
                top_level: i == 0,
            });
            if i == 0
                && full == "distutils"
                && let Some(dir) = &self.rt.distutils_shim
            {
                // setuptools' DistutilsMetaFinder sits first on sys.meta_path.
                res.found.push((
                    full,
                    Found::RegularPackage {
                        init: join(dir, "__init__.py"),
                        path: vec![dir.clone()],
                    },
                ));
                continue;
            }
            if i == 0 && self.rt.interpreter.builtins.contains(&full) {
                res.found.push((full, Found::Builtin));
                continue;
            }
            if self.unshadowable.contains(&full) {
                // Already in sys.modules when user code runs (rule C4/D9): `os.path` needs no
                // parent package, and `encodings` keeps the stdlib location it was loaded from.
                let found = if i == 0 {
                    self.path_find(tail, &self.stdlib_entries()).0
                } else {
                    None
                };
                res.found.push((full, found.unwrap_or(Found::Preloaded)));
                continue;
            }
            if i > 0 {
                let (parent, pfound) = &res.found[i - 1];
                match pfound.search_path() {
                    Some(p) => search = p.to_vec(),
                    None if *pfound == Found::Preloaded && full == "os.path" => {
                        res.found.push((full, Found::Preloaded));
                        continue;
                    }
                    None => {
                        res.failure = Some(Failed {
                            module: full,
                            failure: Failure::ParentNotPackage {
                                parent: parent.clone(),
                                found: pfound.clone(),
                            },
                            walk: Vec::new(),
                            shadowed: Vec::new(),
                            uncertain: false,
                        });
                        return res;
                    }
                }
            }
            if self.rt.interpreter.frozen.contains(&full) {
                res.found.push((full, Found::Frozen));
                continue;
            }
            let (mut found, walk, archive) = self.path_find(tail, &search);
            if found.is_none() && i == 0 {
                found = self.editable_find(&full);
            }
            match found {
                Some(f) => {
                    let lost = match &f {
                        Found::RegularPackage { .. }
                        | Found::Source { .. }
                        | Found::Extension { .. }
                        | Found::Bytecode { .. } => self.lost_portions(&walk),
                        _ => Vec::new(),
                    };
                    let f = self.extended_path(f, tail, &search);
                    parent_lost = lost;
                    res.found.push((full, f));
                }
                None => {
                    let winner = res.found.last().map(|(_, f)| f.clone());
                    let shadowed = match winner {
                        Some(w) => parent_lost
                            .iter()
                            .filter_map(|dir| {
                                let step = self.find_in(dir, tail);
                                let would_be = match step.result {
                                    StepResult::Package { init } => init,
                                    StepResult::Module { file } => file,
                                    StepResult::Portion { dir } => dir,
                                    _ => return None,
                                };
                                Some(ShadowedPortion {
                                    dir: dir.clone(),
                                    winner: w.clone(),
                                    would_be,
                                })
                            })
                            .collect(),
                        None => Vec::new(),
                    };
                    res.failure = Some(Failed {
                        module: full,
                        failure: Failure::NotFound,
                        walk,
                        shadowed,
                        uncertain: archive,
                    });
                    return res;
                }
            }
        }
        res
    }

    /// Whether `module.name` is importable as a submodule (for `from module import name`).
    pub fn submodule_exists(&self, found: &Found, name: &str) -> bool {
        let Some(path) = found.search_path() else {
            return false;
        };
        let (f, _, _) = self.path_find(name, path);
        f.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::model;
    use importgate_image::ImageConfig;

    fn rt_for(vfs: &Vfs, cmd: &[&str], wd: &str, env: &[&str]) -> Runtime {
        let cfg = ImageConfig {
            env: env.iter().map(|s| s.to_string()).collect(),
            working_dir: wd.into(),
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        model(vfs, &cfg).unwrap()
    }

    fn base(extra: &[(&'static str, &'static str)]) -> Vfs {
        let mut files = vec![
            ("usr/local/bin/python3.12", "ELF"),
            ("usr/local/bin/python", "-> python3.12"),
            ("usr/local/lib/python3.12/os.py", ""),
            ("usr/local/lib/python3.12/json/__init__.py", ""),
            ("usr/local/lib/python3.12/lib-dynload/", ""),
            ("usr/local/lib/python3.12/site-packages/", ""),
        ];
        files.extend_from_slice(extra);
        Vfs::from_files(&files)
    }

    #[test]
    fn the_seed_regular_package_elsewhere_beats_the_namespace_dir() {
        let vfs = base(&[
            ("app/main.py", ""),
            ("app/core/aws_service.py", ""),
            (
                "usr/local/lib/python3.12/site-packages/core/__init__.py",
                "",
            ),
        ]);
        let rt = rt_for(&vfs, &["python", "main.py"], "/app", &[]);
        let r = Resolver::new(&vfs, &rt);
        let res = r.resolve("core.aws_service");
        let failed = res.failure.expect("must fail");
        assert_eq!(failed.module, "core.aws_service");
        assert_eq!(failed.shadowed.len(), 1);
        assert_eq!(failed.shadowed[0].dir, "/app/core");
        assert_eq!(failed.shadowed[0].would_be, "/app/core/aws_service.py");
    }

    #[test]
    fn namespace_portions_merge_across_entries() {
        let vfs = base(&[("p1/ns/a.py", ""), ("p2/ns/b.py", "")]);
        let rt = rt_for(&vfs, &["python", "-c", "1"], "/", &["PYTHONPATH=/p1:/p2"]);
        let r = Resolver::new(&vfs, &rt);
        assert!(r.resolve("ns.a").failure.is_none());
        assert!(r.resolve("ns.b").failure.is_none());
        assert!(r.resolve("ns.c").failure.is_some());
    }

    #[test]
    fn a_module_is_not_a_package() {
        let vfs = base(&[("app/a.py", ""), ("app/a/b.py", "")]);
        let rt = rt_for(&vfs, &["python", "-m", "x"], "/app", &[]);
        let r = Resolver::new(&vfs, &rt);
        let f = r.resolve("a.b").failure.unwrap();
        assert!(matches!(f.failure, Failure::ParentNotPackage { .. }));
    }

    #[test]
    fn extension_for_another_cpython_is_invisible() {
        let vfs = base(&[("app/fast.cpython-310-x86_64-linux-gnu.so", "")]);
        let rt = rt_for(&vfs, &["python", "-m", "x"], "/app", &[]);
        let r = Resolver::new(&vfs, &rt);
        let f = r.resolve("fast").failure.unwrap();
        assert_eq!(
            f.walk[0].foreign_extensions,
            ["/app/fast.cpython-310-x86_64-linux-gnu.so"]
        );
    }

    #[test]
    fn preloaded_stdlib_cannot_be_shadowed_but_others_can() {
        let vfs = base(&[("app/os.py", ""), ("app/json.py", "")]);
        let rt = rt_for(&vfs, &["python", "-m", "x"], "/app", &[]);
        let r = Resolver::new(&vfs, &rt);
        assert_eq!(
            r.resolve("os").last_found(),
            Some(&Found::Source {
                file: "/usr/local/lib/python3.12/os.py".into()
            })
        );
        assert_eq!(
            r.resolve("json").last_found(),
            Some(&Found::Source {
                file: "/app/json.py".into()
            })
        );
        assert!(r.resolve("os.path").failure.is_none());
        assert!(r.resolve("os.nope").failure.is_some());
    }

    #[test]
    fn submodules_of_preloaded_packages_come_from_the_stdlib() {
        let vfs = base(&[
            ("usr/local/lib/python3.12/encodings/__init__.py", ""),
            ("usr/local/lib/python3.12/encodings/idna.py", ""),
            ("app/encodings/other.py", ""),
        ]);
        let rt = rt_for(&vfs, &["python", "-m", "x"], "/app", &[]);
        let r = Resolver::new(&vfs, &rt);
        assert!(r.resolve("encodings.idna").failure.is_none());
        assert!(r.resolve("encodings.other").failure.is_some());
    }

    #[test]
    fn case_must_match_exactly() {
        let vfs = base(&[("app/Foo.py", "")]);
        let rt = rt_for(&vfs, &["python", "-m", "x"], "/app", &[]);
        let r = Resolver::new(&vfs, &rt);
        assert!(r.resolve("foo").failure.is_some());
    }
}
