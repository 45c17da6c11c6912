//! From an image to a [`Report`]: model the runtime, select and parse the application's files,
//! give every import site an absolute module name from how its file is imported, resolve it, and
//! explain each failure.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use importgate_image::Image;
use importgate_python::resolve::{Failed, Failure, Found, StepResult};
use importgate_python::{Launch, Resolver, Runtime};
use importgate_source::{
    Caught, ImportKind, ImportSite, PackageArg, ParsedModule, Scope, TargetEnv,
};

use crate::closure::{self, CallMode, Reached, Walker};
use crate::entry::{self, CONFIG_FILE, Entry, Target as EntryTarget, What};
use crate::policy::{self, Policy};
use crate::{
    CheckError, CheckedImport, Code, Finding, ImportStatus, Kind, PythonSummary, Report, Severity,
    Startup, Summary, appfiles,
};

/// What the user asked for beyond the image itself. Flags here override the configuration
/// file, which overrides the defaults of [`Policy`].
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Globs of extra application files to check (added to the configuration's).
    pub include: Vec<String>,
    /// Globs of files to leave out (added to the configuration's).
    pub exclude: Vec<String>,
    /// A configuration file given on the command line: its name (`pyproject.toml` selects the
    /// `[tool.importgate]` table) and contents. Replaces the one found in the image.
    pub config: Option<(String, String)>,
    /// Codes to report exclusively (`--select`); replaces the configuration's list.
    pub select: Vec<String>,
    /// Codes never to report (`--ignore`); added to the configuration's list.
    pub ignore: Vec<String>,
    /// Module patterns whose failures are not reported (`--ignore-module`).
    pub ignore_modules: Vec<String>,
    /// `kind=level` (`--severity lazy=error`).
    pub severity: Vec<String>,
    /// The image's file modes are not final (a prediction, which runs no `RUN chmod`): the
    /// execute bit of the program the container starts is not judged.
    pub modes_unknown: bool,
    /// Told how many modules the startup path has parsed so far; silent by default.
    pub progress: importgate_image::ProgressSink,
    /// Where parsed modules are kept between runs (`None`: parse everything, keep nothing).
    pub cache: Option<Arc<importgate_image::LayerCache>>,
    /// The capture policy the image was loaded with, when it parsed ahead: its parses are
    /// used where the merged tree holds the same bytes.
    pub ahead: Option<Arc<crate::ParseAhead>>,
}

/// How a file is known to the import system: its module name and `__package__`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) package: Option<String>,
    /// Whether the file runs as `__main__` from a path (a script), where relative imports fail.
    pub(crate) script: bool,
    /// Whether the file runs as `__main__` (a script, the module of `python -m`, `python -c`):
    /// what sits under `if __name__ == "__main__":` runs only then.
    pub(crate) main: bool,
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

fn identity(file: &str, rt: &Runtime, resolver: &Resolver<'_>) -> Identity {
    let vfs = resolver.vfs();
    let real = vfs.realpath(file).unwrap_or_else(|| file.to_string());
    match &rt.launch {
        Launch::Script { path }
        | Launch::Lambda {
            bootstrap: path, ..
        } => {
            let abs = importgate_python::runtime::abspath(&rt.cwd, path);
            if vfs.realpath(&abs).as_deref() == Some(real.as_str()) {
                return Identity {
                    package: None,
                    script: true,
                    main: true,
                };
            }
        }
        Launch::Module { module } => {
            let res = resolver.resolve(module);
            let main_file = match res.last_found() {
                Some(Found::Source { file }) => Some((file.clone(), parent_of(module))),
                Some(found @ (Found::RegularPackage { .. } | Found::NamespacePackage { .. })) => {
                    found.search_path().and_then(|p| {
                        p.iter()
                            .map(|d| format!("{d}/__main__.py"))
                            .find(|f| vfs.is_file(f))
                            .map(|f| (f, Some(module.clone())))
                    })
                }
                _ => None,
            };
            if let Some((f, pkg)) = main_file
                && vfs.realpath(&f).as_deref() == Some(real.as_str())
            {
                return Identity {
                    package: pkg,
                    script: false,
                    main: true,
                };
            }
        }
        _ => {}
    }
    for entry in &rt.sys_path {
        let Some(rel) = real.strip_prefix(&format!("{}/", entry.path.trim_end_matches('/'))) else {
            continue;
        };
        let Some(rel) = rel.strip_suffix(".py") else {
            continue;
        };
        let parts: Vec<&str> = rel.split('/').collect();
        if !parts.iter().all(|p| is_identifier(p)) {
            continue;
        }
        // `pkg/__init__.py` and `pkg/mod.py` both run with `__package__ == "pkg"`.
        let package = parts[..parts.len() - 1].join(".");
        return Identity {
            package: (!package.is_empty()).then_some(package),
            script: false,
            main: false,
        };
    }
    Identity {
        package: None,
        script: false,
        main: false,
    }
}

fn parent_of(module: &str) -> Option<String> {
    module.rsplit_once('.').map(|(p, _)| p.to_string())
}

/// `importlib._bootstrap._resolve_name`: the absolute name of a relative import.
pub(crate) fn resolve_relative(
    module: Option<&str>,
    level: u32,
    id: &Identity,
) -> Result<String, (Code, String)> {
    let Some(package) = id.package.as_deref().filter(|p| !p.is_empty()) else {
        return Err((
            Code::RelativeImportNoParent,
            "attempted relative import with no known parent package".into(),
        ));
    };
    let parts: Vec<&str> = package.split('.').collect();
    let up = (level - 1) as usize;
    if up >= parts.len() {
        return Err((
            Code::RelativeImportBeyondTop,
            "attempted relative import beyond top-level package".into(),
        ));
    }
    let base = parts[..parts.len() - up].join(".");
    Ok(match module {
        Some(m) if !m.is_empty() => format!("{base}.{m}"),
        _ => base,
    })
}

struct Ctx<'a> {
    rt: &'a Runtime,
    resolver: Resolver<'a>,
    image: &'a Image,
    target: TargetEnv,
    /// Parsed modules by path, for `from a import b` name checks of non-application files.
    parsed: BTreeMap<String, Arc<ParsedModule>>,
    /// Parses from earlier runs.
    store: Option<Arc<crate::stored::StoredParses>>,
    /// Load-time checks: extension modules, shared libraries, the runtime user's permissions.
    native: crate::native::Native<'a>,
    progress: importgate_image::ProgressSink,
    /// Standard-library modules whose name an application module takes ([`shadowed_stdlib`]).
    shadowed: BTreeSet<String>,
    /// Files whose star imports [`Ctx::binds`] is following, outermost first.
    star_chain: Vec<String>,
    /// For a file that edits `sys.path`, the line of each edit it makes and `sys.path` without
    /// that edit and the file's later ones: what the statements above it see.
    before_edits: &'a [(String, u32, Runtime)],
    /// A resolver per entry of `before_edits`, made when a statement first needs it and kept
    /// with what it has looked up.
    before_resolvers: Vec<Option<Resolver<'a>>>,
}

impl<'a> Ctx<'a> {
    /// Runs `visit` with the `sys.path` a module-level statement at `line` of `file` sees: an
    /// edit further down the same file has not run yet.
    fn at_statement(&mut self, file: &str, line: u32, visit: impl FnOnce(&mut Self)) {
        let before: &'a [(String, u32, Runtime)] = self.before_edits;
        let Some((i, (_, _, rt))) = before
            .iter()
            .enumerate()
            .filter(|(_, (f, edit_line, _))| f == file && *edit_line > line)
            .min_by_key(|(_, (_, edit_line, _))| *edit_line)
        else {
            visit(self);
            return;
        };
        let fs = &self.image.fs;
        let resolver = self
            .before_resolvers
            .get_mut(i)
            .and_then(Option::take)
            .unwrap_or_else(|| Resolver::new(fs, rt));
        let outer_rt = std::mem::replace(&mut self.rt, rt);
        let outer = std::mem::replace(&mut self.resolver, resolver);
        visit(self);
        self.rt = outer_rt;
        let resolver = std::mem::replace(&mut self.resolver, outer);
        if let Some(slot) = self.before_resolvers.get_mut(i) {
            *slot = Some(resolver);
        }
    }

    fn module_source(&mut self, file: &str) -> Option<Arc<ParsedModule>> {
        if let Some(p) = self.parsed.get(file) {
            return Some(p.clone());
        }
        let store = self
            .store
            .as_deref()
            .map(|s| s as &dyn importgate_source::ParseStore);
        let v = self.rt.interpreter.version;
        let parsed = match self.image.fs.read(file).flatten() {
            Some(bytes) => importgate_source::parse_bytes_stored(&bytes, Some(file), store),
            None => importgate_source::parse_bytes_stored(
                self.zip_member_text(file)?.as_bytes(),
                Some(file),
                store,
            ),
        };
        let parsed = Arc::new(parsed.for_version(v.major as u32, v.minor as u32));
        self.parsed.insert(file.to_string(), parsed.clone());
        Some(parsed)
    }

    /// The source of a module inside a zip archive on `sys.path` (`/app/lib.zip/pkg/mod.py`):
    /// the archive is the longest existing file prefix of the path.
    fn zip_member_text(&self, file: &str) -> Option<String> {
        let mut cut = file.len();
        while let Some(i) = file[..cut].rfind('/') {
            let archive = &file[..i];
            if self.image.fs.is_file(archive) {
                let data = self.image.fs.read(archive).flatten()?;
                let bytes = importgate_python::zipdir::member_data(&data, &file[i + 1..])?;
                return String::from_utf8(bytes).ok();
            }
            cut = i;
        }
        None
    }

    /// Whether the sourceless module `file` (a `.pyc`) may bind `name`: `None` when its
    /// bytecode cannot be read (not captured, unknown magic number).
    fn bytecode_binds(&self, file: &str, name: &str) -> Option<bool> {
        let data = self.image.fs.read(file).flatten()?;
        match importgate_python::pyc::names(&data) {
            Ok(n) => Some(
                n.star_import
                    || n.names.contains(name)
                    || ["globals", "__getattr__", "exec", "vars", "__dict__"]
                        .iter()
                        .any(|d| n.names.contains(*d)),
            ),
            Err(error) => {
                tracing::debug!(%file, %error, "bytecode not read");
                None
            }
        }
    }

    /// Whether a package above `module` writes `sys.modules` or its namespace dynamically
    /// (six's `six.moves`, vendored-module aliases): then its submodules cannot be judged
    /// statically.
    fn dynamic_parent(&mut self, module: &str) -> bool {
        self.parent_where(module, |b| b.dynamic_namespace || b.dynamic_submodules)
            .is_some()
    }

    /// The nearest parent of `module` (a `.py` file) that installs an import hook: its
    /// submodules may exist without a file. (Entries it writes into `sys.modules` serve only the
    /// names they register: `import os.other` fails although `os` registers `os.path`.)
    fn registering_parent(&mut self, module: &str) -> Option<String> {
        self.parent_where(module, |b| b.import_hook)
    }

    /// The nearest parent of `module`, a `.py` file, whose bindings satisfy `pred`.
    fn parent_where(
        &mut self,
        module: &str,
        pred: impl Fn(&importgate_source::Bindings) -> bool,
    ) -> Option<String> {
        let mut name = module;
        while let Some((parent, _)) = name.rsplit_once('.') {
            let res = self.resolver.resolve(parent);
            if let Some(file) = res.last_found().and_then(Found::file).map(str::to_string)
                && file.ends_with(".py")
                && self.module_source(&file).is_some_and(|p| pred(&p.bindings))
            {
                return Some(parent.to_string());
            }
            name = parent;
        }
        None
    }

    /// Whether `name` is bound in the module `found` (a `.py` module or a package `__init__.py`);
    /// `true` when that cannot be known (extension, builtin, contents not read, dynamic namespace).
    /// Whether a statement of `file` before `at` binds `name` (or could: a star import, a
    /// module `__getattr__`); `None` when the file cannot be read or parsed.
    fn bound_before(
        &mut self,
        file: &str,
        id: &Identity,
        name: &str,
        at: (u32, u32),
    ) -> Option<bool> {
        let bytes = self.image.fs.read(file).flatten()?;
        let first = importgate_source::first_bindings(&bytes)?;
        if [name, "__getattr__"]
            .iter()
            .any(|n| first.get(*n).is_some_and(|&pos| pos < at))
        {
            return Some(true);
        }
        if first.get("*").is_none_or(|&pos| pos >= at) {
            return Some(false);
        }
        // Star imports before it: bound if one of them exports the name.
        let parsed = self.module_source(file)?;
        let stars: Vec<String> = parsed
            .imports
            .iter()
            .filter(|s| {
                (s.line, s.column) < at
                    && matches!(s.context.scope, Scope::Module)
                    && matches!(&s.kind, ImportKind::From { name, .. } if name == "*")
            })
            .filter_map(|s| site_target(s, id).and_then(|(m, _)| m.ok()))
            .collect();
        Some(self.stars_bind(file, stars, name, 0))
    }

    /// Whether one of the star imports of `file` (`from target import *`, its targets in
    /// order) binds `name`. Star imports that come back to a module whose stars are being
    /// followed add nothing: what that module binds itself was looked at where the chain met
    /// it first.
    fn stars_bind(&mut self, file: &str, targets: Vec<String>, name: &str, depth: u8) -> bool {
        if self.star_chain.iter().any(|f| f == file) {
            return false;
        }
        self.star_chain.push(file.to_string());
        let mut bound = false;
        for target in targets {
            let res = self.resolver.resolve(&target);
            bound = match res.last_found().cloned() {
                Some(f) if res.failure.is_none() => self.star_exports(&target, &f, name, depth + 1),
                // A star-import whose module is not in this image binds nothing (it raised,
                // and only a guarded one lets the module load at all).
                _ if res.failure.as_ref().is_some_and(|f| !f.uncertain) => false,
                _ => true,
            };
            if bound {
                break;
            }
        }
        self.star_chain.pop();
        bound
    }

    /// Whether, inside a chain of star imports, `name` of `file` is first bound by a `from`
    /// import of it from a module of that chain (`models` star-imported by the package that
    /// `from models import x` asks, with `from pkg import x` of its own): that binding needs
    /// the name to exist already, so it proves nothing.
    fn bound_from_chain(
        &self,
        file: &str,
        parsed: &ParsedModule,
        id: &Identity,
        name: &str,
    ) -> bool {
        if self.star_chain.is_empty() {
            return false;
        }
        let Some(site) = parsed.imports.iter().find(|s| {
            matches!(s.context.scope, Scope::Module)
                && matches!(s.kind, ImportKind::From { .. })
                && s.bound_name().as_deref() == Some(name)
        }) else {
            return false;
        };
        let Some((Ok(source), _)) = site_target(site, id) else {
            return false;
        };
        let res = self.resolver.resolve(&source);
        let in_chain = res
            .last_found()
            .and_then(Found::file)
            .map(|f| self.image.fs.realpath(f).unwrap_or_else(|| f.to_string()))
            .is_some_and(|f| self.star_chain.contains(&f));
        if !in_chain {
            return false;
        }
        // Only when that import is where the name is first bound.
        self.image
            .fs
            .read(file)
            .flatten()
            .and_then(|bytes| importgate_source::first_bindings(&bytes))
            .and_then(|first| first.get(name).copied())
            .is_some_and(|at| at == (site.line, site.column))
    }

    fn binds(&mut self, module: &str, found: &Found, name: &str, depth: u8) -> bool {
        if depth > 8 {
            return true;
        }
        let file = match found.file().filter(|f| f.ends_with(".py")) {
            Some(file) => file.to_string(),
            None => match found {
                Found::NamespacePackage { .. } => return false,
                // C code of the standard library: the names real interpreters of this
                // version bind.
                Found::Builtin | Found::Extension { .. } if self.stdlib_native(found) => {
                    return is_module_dunder(name)
                        || self.table_binds(module, name).unwrap_or(true);
                }
                // Frozen (3.11+) and preloaded modules have their source in the stdlib.
                Found::Frozen | Found::Preloaded => match self.stdlib_source(module) {
                    Some(file) => file,
                    None => return true,
                },
                // Sourceless bytecode: the names its code objects mention.
                Found::Bytecode { file } => {
                    return is_module_dunder(name)
                        || self.bytecode_binds(file, name).unwrap_or(true);
                }
                Found::RegularPackage { init, .. } if init.ends_with(".pyc") => {
                    return is_module_dunder(name)
                        || self.bytecode_binds(init, name).unwrap_or(true);
                }
                _ => return true,
            },
        };
        let Some(parsed) = self.module_source(&file) else {
            return true;
        };
        let b = &parsed.bindings;
        let is_pkg = file.ends_with("/__init__.py");
        let id = Identity {
            package: if is_pkg {
                Some(module.to_string())
            } else {
                parent_of(module)
            },
            script: false,
            main: false,
        };
        if b.names.contains(name) && !self.bound_from_chain(&file, &parsed, &id, name) {
            return true;
        }
        if b.getattr_serves(name) || is_module_dunder(name) {
            return true;
        }
        if b.dynamic_namespace {
            // A top-level stdlib module that fills its namespace at import (`re` before 3.11,
            // `socket`): the names real interpreters of this version bind, when known.
            let stdlib = self.rt.interpreter.stdlib.trim_end_matches('/');
            let top_level_stdlib = !module.contains('.')
                && (file == format!("{stdlib}/{module}.py")
                    || file == format!("{stdlib}/{module}/__init__.py"));
            return !top_level_stdlib || self.table_binds(module, name).unwrap_or(true);
        }
        if !parsed.syntax_errors.is_empty() {
            return true;
        }
        let targets: Vec<String> = b
            .star_imports
            .iter()
            .filter_map(|(star, level)| match level {
                0 => Some(star.clone().unwrap_or_default()),
                _ => resolve_relative(star.as_deref(), *level, &id).ok(),
            })
            .collect();
        self.stars_bind(&file, targets, name, depth)
    }

    /// Whether `from target import *` binds `name`: the names of a literal `__all__` (listed
    /// means exported), else every bound name not starting with `_` (rule E4,
    /// `Python/ceval.c:import_all_from`).
    fn star_exports(&mut self, target: &str, found: &Found, name: &str, depth: u8) -> bool {
        // Without `__all__`, a package's submodules imported by then (attributes of the
        // package) are exported too; whether one was cannot be told here.
        let submodule = self.resolver.submodule_exists(found, name);
        if let Some(file) = found.file().filter(|f| f.ends_with(".py"))
            && let Some(parsed) = self.module_source(file)
            && parsed.syntax_errors.is_empty()
        {
            if let Some(all) = &parsed.bindings.dunder_all {
                return all.iter().any(|n| n == name);
            }
            if name.starts_with('_') {
                return false;
            }
            if submodule {
                return true;
            }
        }
        // No C module defines `__all__`: a star-import binds its public names.
        if matches!(found, Found::Builtin | Found::Extension { .. })
            && self.stdlib_native(found)
            && name.starts_with('_')
        {
            return false;
        }
        self.binds(target, found, name, depth)
    }

    /// A builtin module, or an extension module of the standard library's `lib-dynload`.
    fn stdlib_native(&self, found: &Found) -> bool {
        match found {
            Found::Builtin => true,
            Found::Extension { file } => {
                let stdlib = self.rt.interpreter.stdlib.trim_end_matches('/');
                file.starts_with(&format!("{stdlib}/"))
            }
            _ => false,
        }
    }

    fn table_binds(&self, module: &str, name: &str) -> Option<bool> {
        let v = self.rt.interpreter.version;
        if v.major != 3 {
            return None;
        }
        crate::stdlib_names::binds(module, name, v.minor)
    }

    /// The source of a frozen or preloaded stdlib module (`os.py`, `codecs.py`).
    fn stdlib_source(&self, module: &str) -> Option<String> {
        let stdlib = self.rt.interpreter.stdlib.trim_end_matches('/');
        let rel = module.replace('.', "/");
        [
            format!("{stdlib}/{rel}.py"),
            format!("{stdlib}/{rel}/__init__.py"),
        ]
        .into_iter()
        .find(|f| self.image.fs.is_file(f))
    }
}

/// Attributes every module has without binding them (`from ._parser import __doc__`).
fn is_module_dunder(name: &str) -> bool {
    matches!(
        name,
        "__doc__"
            | "__name__"
            | "__file__"
            | "__spec__"
            | "__loader__"
            | "__package__"
            | "__path__"
            | "__builtins__"
            | "__cached__"
            | "__dict__"
            | "__annotations__"
    )
}

fn walk_notes(failed: &Failed, rt: &Runtime, limit_top: bool) -> Vec<String> {
    let mut notes = Vec::new();
    let top_level = !failed.module.contains('.');
    for step in &failed.walk {
        let what = match &step.result {
            StepResult::Missing => "does not exist".to_string(),
            StepResult::Archive => "is an archive whose contents were not inspected".to_string(),
            StepResult::Nothing => "has no such module".to_string(),
            StepResult::Portion { dir } => format!("has only the directory {dir}"),
            StepResult::Package { init } => format!("has {init}"),
            StepResult::Module { file } => format!("has {file}"),
        };
        let origin = if top_level {
            rt.sys_path
                .iter()
                .find(|e| e.path == step.entry)
                .map(|e| format!(" ({})", e.origin.describe()))
                .unwrap_or_default()
        } else {
            String::new()
        };
        if limit_top && matches!(step.result, StepResult::Missing) {
            continue;
        }
        notes.push(format!("searched {}{origin}: {what}", step.entry));
        for ext in &step.foreign_extensions {
            notes.push(importgate_python::abi::foreign_extension_note(
                ext,
                &rt.interpreter,
            ));
        }
    }
    notes
}

/// The file the hint of a failure asks to create, as an image path (see [`Finding::fix_path`]).
fn fix_path(failed: &Failed) -> Option<String> {
    match failed.failure {
        Failure::NotFound => failed
            .shadowed
            .first()
            .map(|sh| format!("{}/__init__.py", sh.dir)),
        Failure::ParentNotPackage { .. } => None,
    }
}

fn failure_finding(failed: &Failed, rt: &Runtime) -> (Code, String, Vec<String>, Option<String>) {
    let tail = failed.module.rsplit('.').next().unwrap_or(&failed.module);
    match &failed.failure {
        Failure::ParentNotPackage { parent, found } => (
            Code::ParentNotPackage,
            format!(
                "No module named '{}'; '{parent}' is not a package",
                failed.module
            ),
            vec![format!(
                "`{parent}` resolves to {}, which cannot have submodules",
                found.describe()
            )],
            Some(format!(
                "make `{parent}` a package (a directory with `__init__.py`) or import from the right module"
            )),
        ),
        Failure::NotFound => {
            let message = format!("No module named '{}'", failed.module);
            if let Some(sh) = failed.shadowed.first() {
                let parent = parent_of(&failed.module).unwrap_or_default();
                let mut notes = vec![
                    format!(
                        "`{parent}` resolves to {}, which hides the directory {} (no `__init__.py`)",
                        sh.winner.describe(),
                        sh.dir
                    ),
                    format!(
                        "{} exists but is never searched: a regular package or module found on any sys.path entry beats namespace directories",
                        sh.would_be
                    ),
                ];
                notes.extend(walk_notes(failed, rt, true));
                let hint = format!(
                    "create {} so that `{parent}` is a regular package there (it comes first on sys.path), or rename one of the two `{parent}` packages",
                    fix_path(failed).unwrap_or_default()
                );
                return (Code::NamespaceShadowed, message, notes, Some(hint));
            }
            let notes = walk_notes(failed, rt, false);
            let foreign = failed.walk.iter().any(|s| !s.foreign_extensions.is_empty());
            let hint = if foreign {
                format!(
                    "install a build of `{}` for this interpreter (Python {}, suffix `{}`)",
                    failed.module,
                    rt.interpreter.version,
                    rt.interpreter
                        .extension_suffixes
                        .first()
                        .cloned()
                        .unwrap_or_default()
                )
            } else if failed.module.contains('.') {
                let parent = parent_of(&failed.module).unwrap_or_default();
                format!(
                    "no `{tail}` in package `{parent}`: check the spelling, and that `{tail}.py` is copied into the image"
                )
            } else {
                let site = rt
                    .site_dirs
                    .first()
                    .cloned()
                    .unwrap_or_else(|| rt.interpreter.stdlib.clone());
                format!(
                    "install the distribution that provides `{tail}` (into {site}), or put its directory on PYTHONPATH"
                )
            };
            (Code::ModuleNotFound, message, notes, Some(hint))
        }
    }
}

fn source_line(text: &str, line: u32) -> Option<String> {
    text.lines()
        .nth(line.saturating_sub(1) as usize)
        .map(str::to_string)
}

/// An absolute module name, or why a relative import has none.
pub(crate) type Target = Result<String, (Code, String)>;

/// The absolute module a site imports and, for `from a import b`, the name; `None` for a
/// dynamic import whose module is not a literal.
pub(crate) fn site_target(site: &ImportSite, id: &Identity) -> Option<(Target, Option<String>)> {
    Some(match &site.kind {
        ImportKind::Import { module } => (Ok(module.clone()), None),
        ImportKind::From {
            module,
            level,
            name,
        } => {
            let m = if *level == 0 {
                Ok(module.clone().unwrap_or_default())
            } else {
                resolve_relative(module.as_deref(), *level, id)
            };
            (m, Some(name.clone()))
        }
        ImportKind::Dynamic {
            module,
            package,
            package_arg,
        } => {
            let m = module.as_ref()?;
            if m.starts_with('.') {
                let level = m.chars().take_while(|c| *c == '.').count() as u32;
                let rest = &m[level as usize..];
                let pkg = match package_arg {
                    PackageArg::Literal => package.clone(),
                    PackageArg::DunderPackage | PackageArg::DunderName => id.package.clone(),
                    _ => None,
                };
                let pid = Identity {
                    package: pkg,
                    script: id.script,
                    main: id.main,
                };
                (
                    resolve_relative((!rest.is_empty()).then_some(rest), level, &pid),
                    None,
                )
            } else {
                (Ok(m.clone()), None)
            }
        }
    })
}

/// The decided policy: defaults, then the configuration file (the one given, else
/// `pyproject.toml`'s `[tool.importgate]` or `importgate.toml` in the image's working
/// directory), then flags.
fn build_policy(
    image: &Image,
    rt: &Runtime,
    opts: &CheckOptions,
) -> Result<(Policy, Option<String>), CheckError> {
    let mut policy = Policy::default();
    let mut source = None;
    let found = match &opts.config {
        Some((name, text)) => policy::parse_config(name, text)?.map(|c| (name.clone(), c)),
        None => {
            let mut found = None;
            for name in ["importgate.toml", "pyproject.toml"] {
                let path = format!("{}/{name}", rt.cwd.trim_end_matches('/'));
                if let Some(text) = image.fs.read_to_string(&path)
                    && let Some(cfg) = policy::parse_config(&path, &text)?
                {
                    found = Some((path, cfg));
                    break;
                }
            }
            found
        }
    };
    if let Some((name, cfg)) = found {
        policy.apply(&cfg)?;
        source = Some(name);
    }
    if !opts.select.is_empty() {
        policy.select = Policy::parse_codes(&opts.select)?;
    }
    policy.ignore.extend(Policy::parse_codes(&opts.ignore)?);
    policy
        .ignore_modules
        .extend(opts.ignore_modules.iter().cloned());
    policy.include.extend(opts.include.iter().cloned());
    policy.exclude.extend(opts.exclude.iter().cloned());
    for kv in &opts.severity {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| policy::PolicyError::UnknownKind(kv.clone()))?;
        policy.set_severity(k.trim(), v.trim())?;
    }
    Ok((policy, source))
}

/// Runs the whole check on a loaded image.
pub fn check(image: &Image, opts: &CheckOptions) -> Result<Report, CheckError> {
    check_with(image, opts, &[])
}

/// [`check`], with the `sys.path` edits of `edit_files` (application modules on the startup
/// path, besides the entry's own) applied too: found on a first pass, they make a second one.
fn check_with(
    image: &Image,
    opts: &CheckOptions,
    edit_files: &[String],
) -> Result<Report, CheckError> {
    let mut rt = importgate_python::model(&image.fs, &image.config)?;
    let argv = importgate_python::runtime::program_argv(&image.fs, &image.config);
    // The program's environment: the image's, with what its entrypoint script exports.
    let config = importgate_python::runtime::with_exports(&image.config, &rt.exported);
    let server_notes = entry::apply_server_paths(&image.fs, &config, &mut rt, &argv);
    let rt = rt;
    let (policy, config_file) = build_policy(image, &rt, opts)?;
    let files = appfiles::select(&image.fs, &rt, &policy.include, &policy.exclude)?;
    let sources: Vec<(String, Arc<[u8]>)> = files
        .iter()
        .filter_map(|f| Some((f.clone(), image.fs.read(f)??)))
        .collect();
    let mut warnings: Vec<String> = image.warnings.clone();
    warnings.extend(rt.warnings.iter().cloned());
    for hook in &rt.startup_hooks {
        warnings.push(format!(
            "startup code may change the import system (not modelled): {hook}"
        ));
    }
    if sources.len() < files.len() {
        warnings.push(format!(
            "{} application files could not be read",
            files.len() - sources.len()
        ));
    }
    let ahead = opts.ahead.as_ref().map(|a| a.finish());
    let store = crate::stored::StoredParses::new(opts.cache.clone(), ahead).map(Arc::new);
    let v = rt.interpreter.version;
    let (major, minor) = (v.major as u32, v.minor as u32);
    let mut parsed: Vec<(String, Arc<ParsedModule>)> = importgate_source::parse_many_stored(
        sources,
        store
            .as_deref()
            .map(|s| s as &dyn importgate_source::ParseStore),
    )
    .into_iter()
    .map(|(f, m)| (f, Arc::new(m.for_version(major, minor))))
    .collect();
    // What the container runs, as typed targets; `python -c` code is checked like a file.
    let entry = entry::entry(&image.fs, &config, &rt, &argv, !opts.modes_unknown);
    let code: Option<(Arc<str>, crate::ConfigLoc)> = entry
        .code()
        .map(|(c, loc)| (Arc::<str>::from(c), loc.clone()));
    if let Some((c, _)) = &code {
        parsed.push((
            CONFIG_FILE.to_string(),
            Arc::new(importgate_source::parse_module(c).for_version(major, minor)),
        ));
    }
    let app_files: BTreeSet<String> = parsed.iter().map(|(f, _)| f.clone()).collect();
    let mut editing = entry_files(&image.fs, &rt, &entry);
    editing.extend(edit_files.iter().cloned());
    // `sys.path` edits change neither the version nor the working directory the tests are
    // decided against.
    let target = linux_target(&rt, existence_paths(&image.fs, &rt.cwd, &parsed));
    let edits = applied_edits(&image.fs, &editing, &parsed, &target);
    let mut lines: Vec<(&str, u32)> = edits.iter().map(|(f, e)| (f.as_str(), e.line)).collect();
    lines.sort_unstable();
    lines.dedup();
    let before_edits: Vec<(String, u32, Runtime)> = lines
        .into_iter()
        .map(|(file, line)| {
            let rt = with_path_edits(rt.clone(), &edits, Some((file, line)));
            (file.to_string(), line, rt)
        })
        .collect();
    let rt = with_path_edits(rt, &edits, None);

    let mut ctx = Ctx {
        progress: opts.progress.clone(),
        rt: &rt,
        resolver: Resolver::new(&image.fs, &rt),
        image,
        target,
        parsed: parsed.iter().cloned().collect(),
        native: crate::native::Native::new(
            image,
            &rt,
            store
                .clone()
                .map(|s| s as Arc<dyn importgate_source::ParseStore>),
        ),
        store,
        shadowed: BTreeSet::new(),
        star_chain: Vec::new(),
        before_edits: &before_edits,
        before_resolvers: before_edits.iter().map(|_| None).collect(),
    };
    ctx.shadowed = shadowed_stdlib(&image.fs, &rt, &ctx.resolver);
    if !ctx.shadowed.is_empty() {
        tracing::debug!(
            "application modules shadow the standard library's {:?}: following the standard \
             library's imports",
            ctx.shadowed
        );
        ctx.native.follow_stdlib();
    }

    ctx.native.know_app_files(app_files.clone());
    // The startup path.
    let reached = startup_closure(&mut ctx, &entry);
    // Modules on the startup path that edit `sys.path` for the imports after them (Django's
    // settings putting `apps/` on it, a package adding its vendored directory): once.
    if edit_files.is_empty() {
        let target = ctx.target.clone();
        let more: Vec<String> = reached
            .nodes
            .iter()
            .map(|n| n.file.clone())
            .filter(|f| app_files.contains(f) && !editing.contains(f))
            .filter(|f| {
                ctx.parsed
                    .get(f)
                    .is_some_and(|m| m.path_edits.iter().any(|e| edit_runs(e, &target)))
            })
            .collect();
        if !more.is_empty() {
            tracing::debug!("{more:?} edit sys.path: checking again with their edits");
            return check_with(image, opts, &more);
        }
    }
    // The native check follows third-party import-time code too: share what is parsed.
    ctx.native.know_sources(ctx.parsed.iter());
    let mut findings = entry_findings(&mut ctx, &entry, &argv);
    let mut imports = Vec::new();
    config_ref_findings(&mut ctx, &reached, &mut findings);

    let check_file = |ctx: &mut Ctx<'_>,
                      file: &str,
                      module: &ParsedModule,
                      third_party: bool,
                      findings: &mut Vec<Finding>,
                      imports: &mut Vec<CheckedImport>| {
        let text: Arc<str> = match &code {
            Some((c, _)) if file == CONFIG_FILE => c.clone(),
            _ => image
                .fs
                .read(file)
                .flatten()
                .map(|bytes| Arc::from(importgate_source::decode(&bytes).text))
                .unwrap_or_else(|| Arc::from("")),
        };
        // The script run by path is read by the file reader, which refuses undecodable bytes
        // that an import would let through (in comments).
        let run_by_path = !third_party
            && file != CONFIG_FILE
            && module.script_error.is_some()
            && identity(file, ctx.rt, &ctx.resolver).script;
        let first_error = if run_by_path {
            module.script_error.as_ref()
        } else {
            module.syntax_errors.first()
        };
        if !third_party {
            // CPython stops at the first error: one finding per file. In the script the
            // container runs, it stops the process before anything runs: a startup error.
            // The module `python -m` runs is compiled before it runs, like a script.
            let entry = file != CONFIG_FILE && {
                let id = identity(file, ctx.rt, &ctx.resolver);
                id.script || id.main
            };
            if let Some(err) = first_error {
                let (severity, kind, chain, notes) = if entry {
                    (
                        Severity::Error,
                        Kind::Startup,
                        vec![file.rsplit('/').next().unwrap_or(file).to_string()],
                        vec![
                            "the container's process cannot start: CPython refuses the program's \
                             main module before running any of it"
                                .to_string(),
                        ],
                    )
                } else {
                    (Severity::Warning, Kind::Undecidable, Vec::new(), Vec::new())
                };
                findings.push(Finding {
                    id: String::new(),
                    severity,
                    code: Code::SyntaxError,
                    module: String::new(),
                    file: file.to_string(),
                    line: err.line,
                    column: err.column,
                    message: if module.python2_hint {
                        format!("{} (this looks like Python 2 code)", err.message)
                    } else {
                        err.message.clone()
                    },
                    hint: None,
                    notes,
                    kind,
                    chain,
                    fix_path: None,
                    context: None,
                    config: None,
                    related: Vec::new(),
                    affects: Vec::new(),
                    source_line: source_line(&text, err.line),
                    uncertain: None,
                    span_len: 1,
                });
            }
        } else if !module.syntax_errors.is_empty() {
            return;
        }
        if run_by_path && module.syntax_errors.is_empty() {
            // The script never starts: none of its imports runs.
            return;
        }
        // `python -c` code runs as `__main__` without a package, at startup.
        let is_code = file == CONFIG_FILE;
        let id = if is_code {
            Identity {
                package: None,
                script: true,
                main: true,
            }
        } else {
            identity(file, ctx.rt, &ctx.resolver)
        };
        // Startup only when reached through imports whose failure is not caught.
        let chain = if is_code {
            Some(vec!["python -c".to_string()])
        } else {
            reached
                .by_file
                .get(file)
                .filter(|&&i| reached.hard.get(i).copied().unwrap_or(true))
                .map(|&i| reached.chain(i))
        };
        if third_party && chain.is_none() {
            return;
        }
        for site in &module.imports {
            if third_party
                && (site.context.catches_import_error()
                    || site.context.handler
                    || !closure::runs_at_import(site, &ctx.target)
                    || !closure::unconditional(site, &ctx.target))
            {
                // Only what breaks the startup path is reported in installed code.
                continue;
            }
            let mut site_findings = Vec::new();
            let mut site_imports = Vec::new();
            let line = if site.context.in_function.is_none() {
                site.line
            } else {
                // A function runs once the module's own edits have.
                u32::MAX
            };
            ctx.at_statement(file, line, |ctx| {
                check_site(
                    ctx,
                    &SiteIn {
                        file,
                        text: &text,
                        id: &id,
                        site,
                        chain: chain.as_deref(),
                        called: reached.called.get(file),
                        third_party,
                        reached: &reached,
                    },
                    &mut site_findings,
                    &mut site_imports,
                )
            });
            if third_party {
                // Only what breaks the startup path: the rest of a dependency is its own
                // business (optional extras, platform-specific code, functions never called).
                site_findings.retain(|f| f.kind == Kind::Startup && !ctx.dynamic_parent(&f.module));
                site_imports.retain(|i| i.status == ImportStatus::Error);
                if site_findings.is_empty() {
                    site_imports.clear();
                }
            }
            findings.extend(site_findings);
            imports.extend(site_imports);
        }
        if !third_party {
            for load in &module.native_loads {
                check_load(ctx, file, &text, load, module, chain.as_deref(), findings);
            }
        }
    };
    for (file, module) in &parsed {
        check_file(&mut ctx, file, module, false, &mut findings, &mut imports);
    }
    let outside: Vec<String> = reached
        .nodes
        .iter()
        .map(|n| n.file.clone())
        .filter(|f| !app_files.contains(f))
        .collect();
    for file in &outside {
        if let Some(module) = ctx.parsed.get(file).cloned() {
            check_file(&mut ctx, file, &module, true, &mut findings, &mut imports);
        }
    }
    if let Some(cycle) = {
        let (rt, resolver) = (ctx.rt, &ctx.resolver);
        let identity_of = |f: &str| identity(f, rt, resolver);
        crate::cycles::first_cycle(
            &crate::cycles::Inputs {
                resolver,
                vfs: &image.fs,
                parsed: &ctx.parsed,
                app_files: &app_files,
                identity: &identity_of,
            },
            &reached,
        )
    } {
        for imp in imports.iter_mut().filter(|i| {
            (i.file.as_str(), i.line, i.column) == (cycle.file.as_str(), cycle.line, cycle.column)
                && i.name.as_deref() == Some(cycle.name.as_str())
        }) {
            imp.status = ImportStatus::Error;
        }
        // A module importing from itself is already reported where it is checked.
        let known = findings.iter().any(|f| {
            f.code == Code::CircularImport
                && (f.file.as_str(), f.line, f.column)
                    == (cycle.file.as_str(), cycle.line, cycle.column)
        });
        if !known {
            findings.push(cycle_finding(&ctx, cycle));
        }
    }

    // Every failing import site inside a dependency on the startup path, before duplicates
    // are dropped: what decides which application statements raise.
    let failing_sites: BTreeMap<(String, u32, u32), String> = findings
        .iter()
        .filter(|f| {
            f.kind == Kind::Startup && f.severity == Severity::Error && !app_files.contains(&f.file)
        })
        .map(|f| ((f.file.clone(), f.line, f.column), f.module.clone()))
        .collect();
    // CPython stops at the first failing import of a missing dependency; the other
    // third-party modules importing it would fail the same way and are noise.
    let rank_of = |f: &Finding| {
        reached
            .rank
            .get(&(f.file.clone(), f.line, f.column))
            .copied()
            .unwrap_or(usize::MAX)
    };
    let mut first_by_module: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (i, f) in findings.iter().enumerate() {
        if f.kind == Kind::Startup && !app_files.contains(&f.file) {
            let r = (rank_of(f), i);
            let e = first_by_module.entry(f.module.clone()).or_insert(r);
            if r < *e {
                *e = r;
            }
        }
    }
    // The same failure seen from an application line (`import yaml.cyaml` whose extension
    // cannot load) is reported there, where the user can act on it, not a second time inside
    // the dependency.
    let in_app: BTreeSet<String> = findings
        .iter()
        .filter(|f| {
            app_files.contains(&f.file)
                && f.severity == Severity::Error
                && matches!(f.kind, Kind::Startup | Kind::ModuleLevel)
        })
        .map(|f| f.module.clone())
        .collect();
    let mut index = 0usize;
    findings.retain(|f| {
        let i = index;
        index += 1;
        f.kind != Kind::Startup
            || app_files.contains(&f.file)
            || (!in_app.contains(&f.module)
                && first_by_module.get(&f.module).is_none_or(|&(_, j)| j == i))
    });

    // A failure inside a dependency is shown where the application raises because of it.
    crate::attribute::attribute(
        &ctx.resolver,
        &reached,
        &app_files,
        &failing_sites,
        &mut findings,
        &mut imports,
    );
    dead_fallbacks(&parsed, &mut findings, &mut imports);
    shadow_hints(&ctx, &mut findings);
    if let Some((_, loc)) = &code {
        crate::attribute::place_code_findings(loc, &mut findings, &mut imports);
    }

    // Policy: severities per kind, then select/ignore/patterns/comments.
    findings = findings
        .into_iter()
        .filter_map(|mut f| {
            if !(f.code == Code::SyntaxError && f.kind == Kind::Undecidable) {
                let sev = policy.severity(f.kind)?;
                // An import that could not be decided stays a warning at most.
                f.severity = if f.severity == Severity::Warning && sev == Severity::Error {
                    Severity::Warning
                } else {
                    sev
                };
            }
            policy.keeps(&f).then_some(f)
        })
        .collect();
    findings.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.code).cmp(&(&b.file, b.line, b.column, b.code))
    });
    crate::attribute::assign_ids(&mut findings, &mut imports);
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let failing: BTreeSet<(&str, u32, u32)> = imports
        .iter()
        .filter(|i| i.status == ImportStatus::Error && app_files.contains(&i.file))
        .filter(|i| {
            i.finding.as_ref().is_some_and(|id| {
                findings
                    .iter()
                    .any(|f| &f.id == id && f.severity == Severity::Error)
            })
        })
        .map(|i| (i.file.as_str(), i.line, i.column))
        .collect();
    let summary = Summary {
        files: parsed.len(),
        imports: imports.len(),
        errors: count(Severity::Error),
        warnings: count(Severity::Warning),
        infos: count(Severity::Info),
        failing_statements: failing.len(),
        failing_files: failing
            .iter()
            .map(|(f, _, _)| *f)
            .collect::<BTreeSet<_>>()
            .len(),
    };
    let mut notes = server_notes;
    notes.extend(entry.notes.iter().cloned());
    if let Some(cfg) = config_file {
        notes.push(format!("configuration read from {cfg}"));
    }
    let startup = Startup {
        understood: entry.understood,
        notes,
        modules_reached: reached.nodes.len(),
        files_parsed: parsed.len() + reached.parsed_outside_app,
        third_party_files: outside.len(),
    };
    if !entry.understood {
        warnings.extend(entry.notes.iter().cloned());
    }
    if let Some(store) = &ctx.store {
        store.report();
    }
    if let Some(ahead) = &opts.ahead {
        tracing::debug!("parse ahead: {} of those parses used", ahead.used());
    }
    // Freeing hundreds of parsed modules takes longer than writing the report: another thread
    // does it meanwhile (or, when none can be started, this one).
    let parsed_modules = (std::mem::take(&mut ctx.parsed), ctx.native.take_sources());
    if let Err(e) = std::thread::Builder::new()
        .name("importgate-free".into())
        .spawn(move || drop(parsed_modules))
    {
        tracing::debug!("no thread to free the parsed modules: {e}");
    }
    Ok(Report {
        image: image.reference.clone(),
        python: PythonSummary {
            version: rt.interpreter.version.to_string(),
            executable: rt.interpreter.executable.clone(),
            sys_path: rt.sys_path.clone(),
        },
        entrypoint: rt.launch.describe(),
        findings,
        imports,
        summary,
        warnings,
        startup,
        mode: crate::Mode::Image,
        context_files: BTreeMap::new(),
        files: app_files.into_iter().collect(),
    })
}

/// `try: import tomllib` / `except ImportError: import tomli as tomllib`: when every import of
/// such a body works, the handler never runs, so its imports cannot fail. They are skipped like
/// dead branches, and what was found about them is dropped (a failure shared with other
/// statements stays).
fn dead_fallbacks(
    parsed: &[(String, Arc<ParsedModule>)],
    findings: &mut Vec<Finding>,
    imports: &mut [CheckedImport],
) {
    let mut dead: BTreeSet<(String, u32, u32)> = BTreeSet::new();
    for (file, module) in parsed {
        let status: BTreeMap<(u32, u32), Vec<ImportStatus>> = imports
            .iter()
            .filter(|i| &i.file == file)
            .fold(BTreeMap::new(), |mut m, i| {
                m.entry((i.line, i.column)).or_default().push(i.status);
                m
            });
        let works = |id: u32| {
            module
                .imports
                .iter()
                .filter(|s| s.context.try_body == Some(id))
                .all(|s| {
                    status
                        .get(&(s.line, s.column))
                        .is_some_and(|v| v.iter().all(|st| *st == ImportStatus::Ok))
                })
        };
        for site in &module.imports {
            if site.context.fallback_of.iter().any(|&id| works(id)) {
                dead.insert((file.clone(), site.line, site.column));
            }
        }
    }
    if dead.is_empty() {
        return;
    }
    for i in imports.iter_mut() {
        if dead.contains(&(i.file.clone(), i.line, i.column)) {
            i.status = ImportStatus::Skipped;
            i.finding = None;
            i.raised_in = None;
        }
    }
    findings.retain(|f| {
        !dead.contains(&(f.file.clone(), f.line, f.column))
            || f.affects
                .iter()
                .any(|a| !dead.contains(&(a.file.clone(), a.line, a.column)))
    });
}

/// The report of an import that meets a partially initialised module: CPython's words, where
/// the module stands and where it binds the name, and the cycle.
fn cycle_finding(ctx: &Ctx<'_>, cycle: crate::cycles::Cycle) -> Finding {
    let crate::cycles::Cycle {
        file,
        line,
        column,
        end_column,
        module,
        name,
        module_file,
        running,
        bound_on,
        chain,
    } = cycle;
    let text = ctx.image.fs.read_to_string(&file).unwrap_or_default();
    let source_line = source_line(&text, line);
    let span_len = end_column.saturating_sub(column).max(1);
    Finding {
        id: String::new(),
        severity: Severity::Error,
        code: Code::CircularImport,
        module: module.clone(),
        file,
        line,
        column,
        message: format!(
            "cannot import name '{name}' from partially initialized module '{module}' \
             (most likely due to a circular import) ({module_file})"
        ),
        hint: Some(format!(
            "bind `{name}` in `{module}` before line {} imports what comes back to it, or move \
             that import below line {bound_on}; or import the module (`import {module}`) and \
             use `{module}.{name}` where it is needed",
            running.0
        )),
        notes: vec![
            format!("fails at startup: {}", chain.join(" → ")),
            format!(
                "`{module}` is still running line {} of {module_file} when this import asks it \
                 for `{name}`, which it binds on line {bound_on}",
                running.0
            ),
        ],
        kind: Kind::Startup,
        chain,
        fix_path: None,
        context: None,
        config: None,
        related: vec![crate::Location {
            file: module_file,
            line: running.0,
            column: running.1,
            message: format!(
                "`{module}` is partially initialized here: `{name}` is bound on line {bound_on}"
            ),
            statement: String::new(),
        }],
        affects: Vec::new(),
        source_line,
        uncertain: None,
        span_len,
    }
}

/// What the paths of the application's existence tests (`os.path.exists("x.py")`,
/// `(BASE_DIR / "local.py").is_file()`) are in the image: relative ones are taken from the
/// working directory the container starts in.
fn existence_paths(
    vfs: &importgate_image::Vfs,
    cwd: &str,
    parsed: &[(String, Arc<ParsedModule>)],
) -> BTreeMap<String, Option<importgate_source::FileKind>> {
    let mut out = BTreeMap::new();
    for (_, module) in parsed {
        for site in &module.imports {
            for c in &site.context.conditions {
                if let importgate_source::Condition::PathExists { path, .. } = c
                    && !out.contains_key(path)
                {
                    let abs = importgate_python::runtime::abspath(cwd, path);
                    let kind = if vfs.is_dir(&abs) {
                        Some(importgate_source::FileKind::Dir)
                    } else if vfs.is_file(&abs) {
                        Some(importgate_source::FileKind::File)
                    } else {
                        None
                    };
                    out.insert(path.clone(), kind);
                }
            }
        }
    }
    out
}

/// `sys.path` as the program's own code leaves it: a script (or a module the program imports
/// first, or one on the startup path) that says
/// `sys.path.insert(0, os.path.join(os.path.dirname(__file__), "src"))` at module level, with a
/// path it spells out, puts that directory where it says for the imports that follow. Edits
/// under tests importgate cannot decide are not applied; neither are the `.pth` files of a
/// directory given to `site.addsitedir`. `before`: the file and line from which that file's
/// edits are left out (what a statement above them sees); the other files' edits count, as
/// the modules the program names run before their imports are checked.
fn with_path_edits(
    mut rt: Runtime,
    edits: &[(String, importgate_source::PathEdit)],
    before: Option<(&str, u32)>,
) -> Runtime {
    let applied = edits
        .iter()
        .filter(|(f, edit)| before.is_none_or(|(file, line)| !(f == file && edit.line >= line)));
    for (file, edit) in applied {
        let path = importgate_python::runtime::abspath(&rt.cwd, &edit.path);
        // Appending an entry already there changes nothing; inserting one moves it forward.
        if edit.index.is_none() && rt.sys_path.iter().any(|e| e.path == path) {
            continue;
        }
        let entry = importgate_python::SysPathEntry {
            path,
            origin: importgate_python::syspath::Origin::CodeEdit {
                file: file.clone(),
                line: edit.line,
            },
        };
        tracing::debug!("{file}:{}: sys.path gets {}", edit.line, entry.path);
        match edit.index {
            Some(i) => {
                let at = (i as usize).min(rt.sys_path.len());
                rt.sys_path.insert(at, entry);
            }
            None => rt.sys_path.push(entry),
        }
    }
    rt
}

/// The `sys.path` edits of `files` that surely run, by file (its real path).
fn applied_edits(
    vfs: &importgate_image::Vfs,
    files: &[String],
    parsed: &[(String, Arc<ParsedModule>)],
    target: &TargetEnv,
) -> Vec<(String, importgate_source::PathEdit)> {
    let mut edits = Vec::new();
    for file in files {
        let real = vfs.realpath(file).unwrap_or_else(|| file.clone());
        let Some((_, module)) = parsed.iter().find(|(f, _)| *f == real) else {
            continue;
        };
        for edit in module.path_edits.iter().filter(|e| edit_runs(e, target)) {
            edits.push((real.clone(), edit.clone()));
        }
    }
    edits
}

/// What the tests of the image's code are decided against: its interpreter's version on
/// Linux, and what exists of the paths its existence tests name.
pub(crate) fn linux_target(
    rt: &Runtime,
    paths: BTreeMap<String, Option<importgate_source::FileKind>>,
) -> TargetEnv {
    let v = rt.interpreter.version;
    TargetEnv {
        version: (v.major as u32, v.minor as u32, 0),
        sys_platform: "linux".into(),
        os_name: "posix".into(),
        platform_system: "Linux".into(),
        paths: Arc::new(paths),
    }
}

/// Whether a `sys.path` edit surely runs when its module does.
fn edit_runs(edit: &importgate_source::PathEdit, target: &TargetEnv) -> bool {
    let c = &edit.context;
    !c.type_checking && c.conditions.iter().all(|c| c.reaches(target) == Some(true))
}

/// The files whose module-level code runs first: the script, and the modules the program
/// imports by name (`-m`, a server's `module:attr`, Django's settings).
fn entry_files(vfs: &importgate_image::Vfs, rt: &Runtime, entry: &Entry) -> Vec<String> {
    let mut files: Vec<String> = entry.files.iter().map(|(f, _)| f.clone()).collect();
    let resolver = Resolver::new(vfs, rt);
    let modules = entry
        .modules()
        .into_iter()
        .map(|(m, _)| m)
        .chain(entry.django_settings.clone());
    for module in modules {
        let res = resolver.resolve(&module);
        if res.failure.is_none()
            && let Some(file) = res.last_found().and_then(Found::file)
        {
            files.push(vfs.realpath(file).unwrap_or_else(|| file.to_string()));
        }
    }
    files
}

/// A failure the standard library meets because an application module took the name of one
/// of its modules is fixed by renaming that module, not by defining what the standard library
/// expects in it.
fn shadow_hints(ctx: &Ctx<'_>, findings: &mut [Finding]) {
    let stdlib = format!("{}/", ctx.rt.interpreter.stdlib.trim_end_matches('/'));
    for f in findings {
        let top = f.module.split('.').next().unwrap_or_default();
        if !ctx.shadowed.contains(top) {
            continue;
        }
        let Some(inside) = f
            .related
            .iter()
            .find(|r| r.file.starts_with(&stdlib) && !r.file.contains("-packages/"))
        else {
            continue;
        };
        let res = ctx.resolver.resolve(top);
        let Some(path) = res.last_found().and_then(Found::file) else {
            continue;
        };
        f.notes.push(format!(
            "the application's {path} takes the place of the standard library's `{top}`, which {} imports",
            inside.file
        ));
        f.hint = Some(format!(
            "rename the application's `{top}` ({path}) and its imports: its name shadows the standard library's `{top}`"
        ));
        f.fix_path = Some(path.to_string());
    }
}

/// Standard-library modules that an import by name does not get, because a `sys.path` entry
/// before the standard library's (the script's directory, the working directory, PYTHONPATH)
/// holds a module or package of the same name: `queue.py` beside `main.py`. Names imported
/// before that entry is on the path (builtin, frozen, startup modules) cannot be shadowed;
/// the resolver knows those.
fn shadowed_stdlib(
    vfs: &importgate_image::Vfs,
    rt: &importgate_python::Runtime,
    resolver: &Resolver<'_>,
) -> BTreeSet<String> {
    let stdlib = rt.interpreter.stdlib.trim_end_matches('/');
    let dynload = rt.interpreter.lib_dynload.trim_end_matches('/');
    let is_stdlib =
        |dir: &str| dir.trim_end_matches('/') == stdlib || dir.trim_end_matches('/') == dynload;
    let module_name = |entry: &str| -> Option<String> {
        let stem = entry
            .strip_suffix(".py")
            .or_else(|| {
                entry
                    .split_once('.')
                    .filter(|(_, rest)| rest.ends_with(".so"))
                    .map(|(s, _)| s)
            })
            .unwrap_or(entry);
        (!stem.is_empty() && !stem.contains('.') && !stem.contains('-')).then(|| stem.to_string())
    };
    let mut names = BTreeSet::new();
    for entry in &rt.sys_path {
        if is_stdlib(&entry.path) {
            break;
        }
        for child in vfs.read_dir(&entry.path).unwrap_or_default() {
            if let Some(name) = module_name(child) {
                names.insert(name);
            }
        }
    }
    // The standard library's module names, listed once: the entries before it can hold
    // thousands of names (a PYTHONPATH directory), only the few in common are resolved.
    let mut stdlib_names = BTreeSet::new();
    for dir in [stdlib, dynload] {
        for child in vfs.read_dir(dir).unwrap_or_default() {
            let module = child.ends_with(".py")
                || child.ends_with(".so")
                || vfs.is_file(&format!("{dir}/{child}/__init__.py"));
            if let Some(name) = module_name(child).filter(|_| module) {
                stdlib_names.insert(name);
            }
        }
    }
    names
        .into_iter()
        .filter(|name| {
            // A namespace portion is no shadow: the standard library's regular package, later
            // on the path, wins over it.
            stdlib_names.contains(name)
                && resolver
                    .resolve(name)
                    .last_found()
                    .and_then(|f| f.file())
                    .is_some_and(|file| !file.starts_with(&format!("{stdlib}/")))
        })
        .collect()
}

/// Computes the modules run at startup (see [`closure`]).
fn startup_closure(ctx: &mut Ctx<'_>, entry: &Entry) -> Reached {
    // `celery -A proj`: a package that binds no `app` has its `proj.celery` submodule imported
    // (`celery.app.utils.find_app`), where the app and its configuration live.
    let celery_submodules: Vec<String> = entry
        .targets
        .iter()
        .filter_map(|t| match &t.what {
            What::CeleryApp { module } => Some(module.clone()),
            _ => None,
        })
        .filter_map(|m| {
            let res = ctx.resolver.resolve(&m);
            let found = res.last_found().filter(|_| res.failure.is_none())?.clone();
            (!ctx.binds(&m, &found, "app", 0) && ctx.resolver.submodule_exists(&found, "celery"))
                .then(|| format!("{m}.celery"))
        })
        .collect();
    let rt = ctx.rt;
    let resolver = &ctx.resolver;
    let identity_of = |f: &str| identity(f, rt, resolver);
    let code = ctx.parsed.get(CONFIG_FILE).cloned();
    let step = ctx.progress.step(
        "parsing the startup path",
        importgate_image::Unit::Modules,
        None,
    );
    // The standard library is not followed: its own imports work in any image whose
    // interpreter starts. Unless an application module takes the name of one of its modules:
    // then the standard library's `import queue` gets the application's `queue.py`.
    let skip = if ctx.shadowed.is_empty() {
        vec![rt.interpreter.stdlib.clone()]
    } else {
        Vec::new()
    };
    let mut walker = Walker::new(
        resolver,
        &ctx.image.fs,
        &ctx.target,
        (skip, rt.site_dirs.clone()),
        &identity_of,
        &mut ctx.parsed,
    );
    walker.progress = Some(&step);
    walker.store = ctx
        .store
        .as_deref()
        .map(|s| s as &dyn importgate_source::ParseStore);
    for (file, name) in &entry.files {
        walker.add_entry_file(file, name);
    }
    for (module, main) in entry.modules() {
        if main {
            walker.add_main_module(&module);
        } else {
            let (_, _, nodes) = walker.add_module_nodes(&module, None);
            walker.reached.config_roots.extend(nodes);
        }
    }
    for module in &celery_submodules {
        let (_, _, nodes) = walker.add_module_nodes(module, None);
        walker.reached.config_roots.extend(nodes);
    }
    for (module, function, mode) in &entry.calls {
        walker.add_call(module, function, *mode, false);
    }
    // `python -c`: the modules its code imports at the top level are roots.
    if let Some(code) = code {
        let id = Identity {
            package: None,
            script: true,
            main: true,
        };
        for site in &code.imports {
            if !closure::runs_at_import(site, walker.target) {
                continue;
            }
            if let Some((Ok(module), _)) = site_target(site, &id) {
                let (_, _, nodes) = walker.add_module_nodes(&module, None);
                walker.reached.config_roots.extend(nodes);
            }
        }
    }
    walker.run();
    // A Celery worker imports the modules its configuration lists (`include`, `imports`, `-I`)
    // when it starts: one that fails stops the worker.
    if entry.celery_worker {
        let mut named = Vec::new();
        for (node, n) in walker.reached.nodes.iter().enumerate() {
            if let Some(parsed) = walker.cache.get(&n.file) {
                for m in &parsed.celery_modules {
                    named.push((Some(node), n.file.clone(), m.clone()));
                }
            }
        }
        for m in &entry.celery_includes {
            named.push((
                None,
                CONFIG_FILE.to_string(),
                importgate_source::ConfigModule {
                    module: m.clone(),
                    setting: "--include".into(),
                    line: 0,
                    column: 0,
                },
            ));
        }
        for (parent, file, m) in named {
            let (_, ok, added) = walker.add_module_nodes(&m.module, parent);
            walker.reached.config_roots.extend(added);
            if !ok {
                walker.reached.config_refs.push(closure::ConfigRef {
                    module: m.module,
                    attr: None,
                    file,
                    line: m.line,
                    column: m.column,
                    setting: m.setting,
                    parent,
                    framework: "Celery",
                });
            }
        }
        walker.run();
    }
    // Django: the settings module, then the dotted strings Django imports from it.
    let settings = entry.django_settings.clone().or_else(|| {
        walker.reached.nodes.iter().find_map(|n| {
            let name = n.file.rsplit('/').next().unwrap_or_default();
            if !matches!(name, "wsgi.py" | "asgi.py" | "celery.py" | "manage.py") {
                return None;
            }
            closure_settings(&ctx.image.fs, &n.file)
        })
    });
    if let Some(settings) = settings {
        let root = (!walker.reached.nodes.is_empty()).then_some(0);
        let (node, ok, nodes) = walker.add_module_nodes(&settings, root);
        walker.reached.config_roots.extend(nodes);
        walker.run();
        if !ok {
            walker.reached.config_refs.push(closure::ConfigRef {
                module: settings.clone(),
                attr: None,
                file: CONFIG_FILE.to_string(),
                line: 0,
                column: 0,
                setting: "DJANGO_SETTINGS_MODULE".into(),
                parent: None,
                framework: "Django",
            });
        } else if let Some(node) = node
            && let Some(file) = walker.reached.nodes.get(node).map(|n| n.file.clone())
            && let Some(text) = ctx.image.fs.read_to_string(&file)
        {
            for (setting, value, line, column) in closure::django_strings(&text) {
                for (module, attr, required) in closure::django_targets(resolver, &setting, &value)
                {
                    let (_, ok, added) = walker.add_module_nodes(&module, Some(node));
                    if setting == "INSTALLED_APPS" && module.ends_with(".apps") {
                        // `django.setup()` runs each application's `AppConfig.ready()`.
                        walker.add_call(&module, "", CallMode::DjangoReady, false);
                    }
                    walker.reached.config_roots.extend(added);
                    if required && (!ok || attr.is_some()) {
                        walker.reached.config_refs.push(closure::ConfigRef {
                            module,
                            attr,
                            file: file.clone(),
                            line,
                            column,
                            setting: setting.clone(),
                            parent: Some(node),
                            framework: "Django",
                        });
                    }
                }
            }
            walker.run();
        }
    }
    walker.order();
    std::mem::take(&mut walker.reached)
}

fn closure_settings(vfs: &importgate_image::Vfs, file: &str) -> Option<String> {
    entry::django_settings_in(&vfs.read_to_string(file)?)
}

/// A finding about what the image configuration runs: at `<image-config>`, line = the
/// argument's position, always an error of the start itself.
fn config_finding(
    t: &EntryTarget,
    code: Code,
    module: &str,
    message: String,
    notes: Vec<String>,
    hint: Option<String>,
    argv: &[String],
) -> Finding {
    let shown = argv
        .get(t.loc.argument.saturating_sub(1) as usize)
        .cloned()
        .filter(|_| t.loc.argument > 0);
    Finding {
        id: String::new(),
        severity: Severity::Error,
        code,
        module: module.to_string(),
        file: CONFIG_FILE.to_string(),
        line: t.loc.argument,
        column: 1,
        message,
        hint,
        notes,
        kind: Kind::Startup,
        chain: if module.is_empty() {
            Vec::new()
        } else {
            vec![module.to_string()]
        },
        fix_path: None,
        context: None,
        config: Some(t.loc.clone()),
        related: Vec::new(),
        affects: Vec::new(),
        uncertain: None,
        span_len: shown
            .as_ref()
            .map_or(1, |s| u32::try_from(s.chars().count()).unwrap_or(1)),
        source_line: shown,
    }
}

/// The fix for a module the entrypoint names that is not found: the application's own module
/// is usually not copied where the container starts, or misspelled in the instruction.
fn entry_hint(
    failed: &Failed,
    code: Code,
    hint: Option<String>,
    cwd: &str,
    instruction: &str,
) -> Option<String> {
    if code != Code::ModuleNotFound || !failed.shadowed.is_empty() || failed.module.contains('.') {
        return hint;
    }
    Some(format!(
        "copy `{}` into {cwd} (the working directory, searched first) or install it, or fix the module name in {instruction}",
        failed.module
    ))
}

/// How the program that reads `module:attr` says the attribute is missing.
fn missing_attr_message(by: &str, module: &str, attr: &str, file: Option<&str>) -> String {
    match by {
        "uvicorn" => format!("Attribute \"{attr}\" not found in module \"{module}\"."),
        "gunicorn" | "flask" => format!("Failed to find attribute '{attr}' in '{module}'."),
        "fastapi" => format!("Could not find app name {attr} in {module}"),
        "celery" => format!("Module '{module}' has no attribute '{attr}'"),
        "waitress-serve" | "waitress" => format!("module '{module}' has no attribute '{attr}'"),
        "uwsgi" => format!(
            "unable to load app 0 (mountpoint='') (callable not found or import error): `{module}` has no `{attr}`"
        ),
        _ => format!(
            "cannot import name '{attr}' from '{module}'{}",
            file.map(|f| format!(" ({f})")).unwrap_or_default()
        ),
    }
}

/// Verifies every entry target the way the program reading it does: each failure stops the
/// process before it serves anything.
/// `program`: the command after the wrappers the model sees through
/// ([`importgate_python::runtime::program_argv`]).
fn entry_findings(ctx: &mut Ctx<'_>, entry: &Entry, program: &[String]) -> Vec<Finding> {
    let argv = ctx.image.config.argv();
    let mut out = Vec::new();
    let vfs = &ctx.image.fs;
    for t in &entry.targets {
        let by_note =
            |module: &str| format!("{} imports `{module}` when the container starts", t.by);
        match &t.what {
            What::Code { .. } => {}
            What::Program { name } => out.push(config_finding(
                t,
                Code::CommandNotFound,
                "",
                format!("exec: \"{name}\": executable file not found in $PATH"),
                vec![format!(
                    "PATH in the image: {}",
                    ctx.image
                        .config
                        .env_var("PATH")
                        .unwrap_or("(not set: Docker's default)")
                )],
                Some(format!(
                    "install `{name}` in the image, or fix the {} instruction",
                    t.loc.instruction
                )),
                &argv,
            )),
            What::Exec { path, error, why } => out.push(config_finding(
                t,
                Code::ExecFailed,
                "",
                format!("exec {path}: {error}"),
                vec![why.clone()],
                Some(format!(
                    "fix `{path}` in the image, or the {} instruction that runs it",
                    t.loc.instruction
                )),
                &argv,
            )),
            What::Refused { message, why, hint } => out.push(config_finding(
                t,
                Code::ExecFailed,
                "",
                message.clone(),
                vec![why.clone()],
                Some(hint.clone()),
                &argv,
            )),
            What::Script { path } | What::Path { path } => {
                let real = vfs.realpath(path).unwrap_or_else(|| path.clone());
                let message = if vfs.is_dir(&real) {
                    let main = format!("{}/__main__.py", real.trim_end_matches('/'));
                    if vfs.is_file(&main) {
                        continue;
                    }
                    format!("can't find '__main__' module in '{path}'")
                } else if vfs.is_file(&real) {
                    continue;
                } else if matches!(t.what, What::Path { .. }) && t.by == "streamlit" {
                    format!("Invalid value: File does not exist: {path}")
                } else if matches!(t.what, What::Path { .. }) && t.by == "functions-framework" {
                    format!(
                        "functions_framework.exceptions.MissingSourceException: File {path} that is expected to define function doesn't exist"
                    )
                } else if matches!(t.what, What::Path { .. }) {
                    format!("Path does not exist {path}")
                } else {
                    format!("can't open file '{path}': [Errno 2] No such file or directory")
                };
                out.push(config_finding(
                    t,
                    Code::ScriptNotFound,
                    "",
                    message,
                    vec![format!("working directory: {}", ctx.rt.cwd)],
                    Some(format!(
                        "copy {path} into the image, or fix the path in {}",
                        t.loc.instruction
                    )),
                    &argv,
                ));
            }
            What::MainModule { module } => {
                let res = ctx.resolver.resolve(module);
                if let Some(failed) = &res.failure {
                    let (code, message, mut notes, hint) = failure_finding(failed, ctx.rt);
                    notes.insert(0, by_note(module));
                    let hint = entry_hint(failed, code, hint, &ctx.rt.cwd, &t.loc.instruction);
                    let mut f =
                        config_finding(t, code, &failed.module, message, notes, hint, &argv);
                    f.fix_path = fix_path(failed);
                    out.push(f);
                    continue;
                }
                let main = format!("{module}.__main__");
                if let Some(found @ (Found::RegularPackage { .. } | Found::NamespacePackage { .. })) =
                    res.last_found()
                    && !ctx.resolver.submodule_exists(found, "__main__")
                {
                    out.push(config_finding(
                        t,
                        Code::ModuleNotFound,
                        &main,
                        format!(
                            "No module named {main}; '{module}' is a package and cannot be directly executed"
                        ),
                        vec![format!("`{module}` resolves to {}", found.describe())],
                        Some(format!("add `__main__.py` to `{module}`, or run the module that starts the program")),
                        &argv,
                    ));
                }
            }
            // uvicorn and daphne need `module:attribute` before they import anything.
            What::Attr { module, attr: None } if matches!(t.by.as_str(), "uvicorn" | "daphne") => {
                out.push(config_finding(
                    t,
                    Code::NameNotInModule,
                    module,
                    format!(
                        "Import string \"{module}\" must be in format \"<module>:<attribute>\"."
                    ),
                    vec![format!(
                        "{} reads the application as `module:attribute`",
                        t.by
                    )],
                    Some(format!(
                        "name the application object: `{module}:app` (the name the module binds)"
                    )),
                    &argv,
                ));
            }
            What::Attr { module, .. } | What::CeleryApp { module } if !module.is_empty() => {
                let res = ctx.resolver.resolve(module);
                if let Some(failed) = &res.failure {
                    let (code, message, mut notes, hint) = failure_finding(failed, ctx.rt);
                    notes.insert(0, by_note(module));
                    let hint = entry_hint(failed, code, hint, &ctx.rt.cwd, &t.loc.instruction);
                    let mut f =
                        config_finding(t, code, &failed.module, message, notes, hint, &argv);
                    f.fix_path = fix_path(failed);
                    out.push(f);
                    continue;
                }
                let Some(found) = res.last_found().cloned() else {
                    continue;
                };
                let missing = match &t.what {
                    What::Attr {
                        attr: Some(attr), ..
                    } => (!ctx.resolver.submodule_exists(&found, attr)
                        && !ctx.binds(module, &found, attr, 0))
                    .then(|| attr.clone()),
                    What::CeleryApp { .. } => celery_app_missing(ctx, module, &found),
                    _ => None,
                };
                if let Some(attr) = missing {
                    let file = found.file().map(str::to_string);
                    out.push(config_finding(
                        t,
                        Code::NameNotInModule,
                        module,
                        missing_attr_message(&t.by, module, &attr, file.as_deref()),
                        vec![
                            by_note(module),
                            format!("`{module}` resolves to {}", found.describe()),
                        ],
                        Some(format!(
                            "define `{attr}` in `{module}`, or name the object it does define in {}",
                            t.loc.instruction
                        )),
                        &argv,
                    ));
                }
            }
            What::Attr { .. } | What::CeleryApp { .. } => {}
        }
    }
    // The interpreter itself must load before any import runs: a runtime stage that copied
    // `bin/python3` but not the libpython (or a library it links) it needs dies in `ld.so`.
    let program_fails = entry
        .targets
        .iter()
        .any(|t| matches!(t.what, What::Program { .. } | What::Exec { .. }));
    let exe = &ctx.rt.interpreter.real_executable;
    if !program_fails
        && !matches!(ctx.rt.launch, Launch::Unknown { .. })
        && vfs.elf(exe).is_some()
        && let Err(missing) = ctx.native.loader.check(exe)
    {
        let shown = ctx.rt.interpreter.executable.clone();
        let t = EntryTarget {
            what: What::Program {
                name: shown.clone(),
            },
            by: "the container runtime".into(),
            // The argument that runs the interpreter (`python` of a Cmd behind a wrapper), else
            // the program itself.
            loc: entry::locate(
                &ctx.image.config,
                shown.rsplit('/').next().unwrap_or(&shown),
            ),
        };
        out.push(unloadable(
            &t,
            &shown,
            &missing,
            format!(
                "copy `{}` (and what it needs) into the final stage, or install the package that provides it",
                missing.library
            ),
            &argv,
        ));
    }
    // So must the programs Docker and the wrappers execute on the way (a launcher such as
    // `uv`, an init shim, a server binary): one missing a library dies in `ld.so` before
    // Python runs.
    let already = program_fails || out.iter().any(|f| f.code == Code::ExecFailed);
    if !already {
        let config = &ctx.image.config;
        let cwd = importgate_python::runtime::abspath("/", config.working_dir());
        let path_var = config
            .env_var("PATH")
            .unwrap_or(importgate_python::runtime::DEFAULT_PATH);
        let words: Vec<&String> = argv.first().into_iter().chain(program.first()).collect();
        for word in words {
            let Some(path) = importgate_python::runtime::which(vfs, path_var, &cwd, word) else {
                continue;
            };
            let real = vfs.realpath(&path).unwrap_or_else(|| path.clone());
            if real == *exe || vfs.elf(&real).is_none() {
                continue;
            }
            let Err(missing) = ctx.native.loader.check(&real) else {
                continue;
            };
            let t = EntryTarget {
                what: What::Program { name: word.clone() },
                by: "the container runtime".into(),
                loc: entry::locate(config, word),
            };
            out.push(unloadable(
                &t,
                word,
                &missing,
                format!(
                    "install the package that provides `{}` in the final stage, or use a static build of `{word}`",
                    missing.library
                ),
                &argv,
            ));
            break;
        }
    }
    out
}

/// `shown` (a program of the launch, `t`) dies in `ld.so` on a library no directory provides.
fn unloadable(
    t: &EntryTarget,
    shown: &str,
    missing: &importgate_python::ldso::MissingLibrary,
    hint: String,
    argv: &[String],
) -> Finding {
    let mut notes = vec![format!(
        "{} needs {}",
        missing.chain.join(" → "),
        missing.library
    )];
    if !missing.searched.is_empty() {
        notes.push(format!("searched: {}", missing.searched.join(", ")));
    }
    config_finding(
        t,
        Code::ExecFailed,
        "",
        format!(
            "{shown}: error while loading shared libraries: {}: cannot open shared object file: No such file or directory",
            missing.library
        ),
        notes,
        Some(hint),
        argv,
    )
}

/// Celery's `find_app` for `-A module`: `module.app`, `module.celery`, the submodule
/// `module.celery` of a package, else any Celery instance among the module's names. Missing
/// only when the module binds none of these and no other public name that could be one.
fn celery_app_missing(ctx: &mut Ctx<'_>, module: &str, found: &Found) -> Option<String> {
    if ctx.binds(module, found, "app", 0)
        || ctx.binds(module, found, "celery", 0)
        || ctx.resolver.submodule_exists(found, "celery")
    {
        return None;
    }
    let file = found.file().filter(|f| f.ends_with(".py"))?.to_string();
    let parsed = ctx.module_source(&file)?;
    let b = &parsed.bindings;
    let public = b.names.iter().any(|n| !n.starts_with('_'));
    (!public && b.star_imports.is_empty() && !b.has_getattr && !b.dynamic_namespace)
        .then(|| "celery".to_string())
}

/// Dotted strings in framework settings that Django imports and that fail: the module, or the
/// class or function named at the end.
fn config_ref_findings(ctx: &mut Ctx<'_>, reached: &Reached, findings: &mut Vec<Finding>) {
    for r in &reached.config_refs {
        let res = ctx.resolver.resolve(&r.module);
        let mut chain = r.parent.map(|p| reached.chain(p)).unwrap_or_default();
        let (code, message, notes, hint, fix) = match (&res.failure, &r.attr) {
            (Some(failed), _) => {
                let (code, message, notes, hint) = failure_finding(failed, ctx.rt);
                chain.push(failed.module.clone());
                (code, message, notes, hint, fix_path(failed))
            }
            (None, Some(attr)) => {
                let Some(found) = res.last_found().cloned() else {
                    continue;
                };
                if ctx.resolver.submodule_exists(&found, attr)
                    || ctx.binds(&r.module, &found, attr, 0)
                {
                    continue;
                }
                chain.push(r.module.clone());
                (
                    Code::NameNotInModule,
                    if r.setting == "INSTALLED_APPS" {
                        format!("Module '{}' does not contain a '{attr}' class.", r.module)
                    } else {
                        format!(
                            "Module \"{}\" does not define a \"{attr}\" attribute/class",
                            r.module
                        )
                    },
                    vec![format!("`{}` resolves to {}", r.module, found.describe())],
                    Some(format!(
                        "define `{attr}` in `{}`, or fix the `{}` entry",
                        r.module, r.setting
                    )),
                    None,
                )
            }
            (None, None) => continue,
        };
        // Settings Django imports only when they are first used: the process starts and
        // serves, and the first login, query, cache or file access raises.
        let on_use = closure::django_on_first_use(&r.setting);
        let mut all = Vec::new();
        if let Some(when) = on_use {
            all.push(format!(
                "Django imports every `{}` entry {when}: the container starts, that request fails",
                r.setting
            ));
        } else {
            all.push(format!("fails at startup: {}", chain.join(" → ")));
            all.push(match (r.framework, r.file == CONFIG_FILE) {
                ("Celery", true) => format!("the worker's `{}` option names it", r.setting),
                ("Celery", false) => format!(
                    "a Celery worker imports every module of `{}` when it starts",
                    r.setting
                ),
                (_, true) => format!("`{}` in the image's environment names it", r.setting),
                (_, false) => format!("Django imports every `{}` entry at startup", r.setting),
            });
        }
        all.extend(notes);
        let text = ctx.image.fs.read_to_string(&r.file).unwrap_or_default();
        let span = r.module.chars().count() + r.attr.as_ref().map_or(0, |a| a.chars().count() + 1);
        let module = match &res.failure {
            Some(failed) => failed.module.clone(),
            None => r.module.clone(),
        };
        findings.push(Finding {
            id: String::new(),
            severity: Severity::Error,
            code,
            module,
            file: r.file.clone(),
            line: r.line,
            column: r.column,
            message,
            hint,
            notes: all,
            kind: if on_use.is_some() {
                Kind::ModuleLevel
            } else {
                Kind::Startup
            },
            chain: if on_use.is_some() { Vec::new() } else { chain },
            fix_path: fix,
            context: None,
            config: (r.file == CONFIG_FILE).then(|| crate::ConfigLoc {
                instruction: "ENV".into(),
                argument: 0,
                code_line: None,
                code_column: None,
            }),
            related: Vec::new(),
            affects: Vec::new(),
            source_line: source_line(&text, r.line),
            uncertain: None,
            span_len: u32::try_from(span + 2).unwrap_or(1),
        });
    }
}

/// A `ctypes` load in the application's code: it raises `OSError` (or the module raises for a
/// `find_library` that finds nothing) while the module executes, which fails its import like a
/// missing library of an extension module.
fn check_load(
    ctx: &Ctx<'_>,
    file: &str,
    text: &str,
    load: &importgate_source::NativeLoad,
    module: &importgate_source::ParsedModule,
    chain: Option<&[String]>,
    findings: &mut Vec<Finding>,
) {
    let c = &load.context;
    if matches!(c.scope, Scope::Function(_))
        || c.type_checking
        || c.conditions
            .iter()
            .any(|k| k.reaches(&ctx.target) == Some(false))
    {
        return;
    }
    let finder = |f: &importgate_source::FinderRef| {
        (f.level == 0 && f.module.is_none())
            .then(|| ctx.native.finder_library(module, &f.function))
            .flatten()
    };
    let Some(p) = ctx.native.load_problem(load, "", &finder) else {
        return;
    };
    let (kind, severity) = if load.caught() {
        (Kind::Guarded, Severity::Info)
    } else if chain.is_some() {
        (Kind::Startup, Severity::Error)
    } else {
        (Kind::ModuleLevel, Severity::Error)
    };
    let mut notes = Vec::new();
    let mut startup = Vec::new();
    match kind {
        Kind::Startup => {
            startup = chain.map(<[String]>::to_vec).unwrap_or_default();
            notes.push(format!("fails at startup: {}", startup.join(" → ")));
        }
        Kind::Guarded => notes
            .push("the load is guarded (a handler catches the error), so it does not raise".into()),
        _ => notes
            .push("fails when this module is imported (not reached from the entrypoint)".into()),
    }
    notes.extend(p.notes);
    let library = match &load.target {
        importgate_source::LoadTarget::Dlopen(n)
        | importgate_source::LoadTarget::DlopenFound(n)
        | importgate_source::LoadTarget::RequireFound(n) => n.clone(),
        importgate_source::LoadTarget::RequireFoundVia(f) => f.function.clone(),
    };
    findings.push(Finding {
        id: String::new(),
        severity,
        code: p.code,
        module: library,
        file: file.to_string(),
        line: load.line,
        column: load.column,
        message: p.message,
        hint: p.hint,
        notes,
        kind,
        chain: startup,
        fix_path: None,
        context: None,
        config: None,
        related: Vec::new(),
        affects: Vec::new(),
        source_line: source_line(text, load.line),
        span_len: load.end_column.saturating_sub(load.column).max(1),
        uncertain: None,
    });
}

/// One import site and where it is.
struct SiteIn<'a> {
    file: &'a str,
    text: &'a str,
    id: &'a Identity,
    site: &'a ImportSite,
    /// The startup chain of the file, when the entrypoint reaches it.
    chain: Option<&'a [String]>,
    /// The file's functions called at startup, with whether every call is guarded.
    called: Option<&'a BTreeMap<String, bool>>,
    /// A dependency's file on the startup path (only what breaks startup is reported there).
    third_party: bool,
    /// The startup closure: failures of the dependencies on it are attributed to the
    /// statements that reach them ([`crate::attribute`]).
    reached: &'a Reached,
}

/// When the site runs, from its context and whether its module is on the startup path.
fn site_kind(ctx: &Ctx<'_>, s: &SiteIn<'_>) -> Kind {
    site_kind_for(ctx, s, Caught::MISSING_MODULE)
}

/// [`site_kind`] for a failure that the handlers around the site are known to catch or not
/// (`caught`; `None`: an `ImportError`, as they say): an `except ImportError` does not catch
/// the `SyntaxError` of a module that does not compile.
fn site_kind_for(ctx: &Ctx<'_>, s: &SiteIn<'_>, failure: Caught) -> Kind {
    let site = s.site;
    let dynamic = matches!(site.kind, ImportKind::Dynamic { .. });
    if site.context.caught.contains(failure) {
        Kind::Guarded
    } else if matches!(site.kind, ImportKind::Dynamic { module: None, .. }) {
        Kind::Undecidable
    } else if s.chain.is_some() && site.context.main_only.is_some_and(|m| m != s.id.main) {
        // Reached, but as `__main__` it is not (or is): that arm never runs here.
        Kind::Lazy
    } else if s.chain.is_some()
        && let Some(guarded) = closure::runs_at_startup(site, &ctx.target, s.called)
    {
        // The guards on the way there are `ImportError` handlers around calls: taken to catch
        // a missing module only.
        if guarded && failure == Caught::MISSING_MODULE {
            Kind::Guarded
        } else {
            Kind::Startup
        }
    } else if dynamic {
        Kind::Dynamic
    } else if matches!(site.context.scope, Scope::Function(_)) || site.context.lazy {
        Kind::Lazy
    } else {
        Kind::ModuleLevel
    }
}

/// The code a failure is reported with, given when the import runs.
fn kind_code(kind: Kind, site: &ImportSite, base: Code) -> Code {
    match kind {
        Kind::Guarded => Code::GuardedImportMissing,
        Kind::Lazy => Code::LazyImportMissing,
        Kind::Undecidable => base,
        _ if matches!(site.kind, ImportKind::Dynamic { .. }) => Code::DynamicImportMissing,
        _ => base,
    }
}

fn context_notes(kind: Kind, s: &SiteIn<'_>, failing: &str) -> (Vec<String>, Vec<String>) {
    let mut notes = Vec::new();
    let mut chain = Vec::new();
    match kind {
        Kind::Startup => {
            chain = s.chain.map(<[String]>::to_vec).unwrap_or_default();
            if !failing.is_empty() && chain.last().map(String::as_str) != Some(failing) {
                chain.push(failing.to_string());
            }
            notes.push(format!("fails at startup: {}", chain.join(" → ")));
        }
        Kind::Guarded => {
            notes.push("the import is guarded (a failure is caught), so it does not raise".into())
        }
        _ => {}
    }
    match s.site.context.main_only {
        Some(true) if !s.id.main => notes.push(
            "the import is under `if __name__ == \"__main__\":`, which runs only when the module is the program's `__main__`".into(),
        ),
        Some(false) if s.id.main => notes.push(
            "the import is in the arm that runs only when the module is not the program's `__main__`".into(),
        ),
        _ => {}
    }
    match &s.site.context.scope {
        Scope::Function(f) => notes.push(format!("fails when `{f}()` runs")),
        Scope::Class(c) => notes.push(format!("the import is in the body of class `{c}`")),
        Scope::Module => {}
    }
    if kind == Kind::ModuleLevel && s.chain.is_none() {
        notes.push("fails when this module is imported (not reached from the entrypoint)".into());
    }
    (notes, chain)
}

fn check_site(
    ctx: &mut Ctx<'_>,
    s: &SiteIn<'_>,
    findings: &mut Vec<Finding>,
    imports: &mut Vec<CheckedImport>,
) {
    let (file, site, id) = (s.file, s.site, s.id);
    let mut record = CheckedImport {
        file: file.to_string(),
        line: site.line,
        column: site.column,
        statement: site.statement.clone(),
        package: id.package.clone(),
        module: String::new(),
        name: None,
        status: ImportStatus::Ok,
        finding: None,
        raised_in: None,
    };
    let span_len = site.end_column.saturating_sub(site.column).max(1);
    let kind = site_kind(ctx, s);
    let finding_as = |kind, severity, code, module: &str, message: String, notes, hint| {
        let (mut all, chain): (Vec<String>, Vec<String>) = context_notes(kind, s, module);
        all.extend::<Vec<String>>(notes);
        Finding {
            id: String::new(),
            severity,
            code: kind_code(kind, site, code),
            module: module.to_string(),
            file: file.to_string(),
            line: site.line,
            column: site.column,
            message,
            hint,
            notes: all,
            kind,
            chain,
            fix_path: None,
            context: None,
            config: None,
            related: Vec::new(),
            affects: Vec::new(),
            source_line: source_line(s.text, site.line),
            uncertain: None,
            span_len,
        }
    };
    let finding = |severity, code, module: &str, message: String, notes, hint| {
        finding_as(kind, severity, code, module, message, notes, hint)
    };
    let other_kind = site_kind_for(ctx, s, Caught::OTHER_IMPORT_ERROR);
    let finding_other = |severity, code, module: &str, message: String, notes, hint| {
        finding_as(other_kind, severity, code, module, message, notes, hint)
    };
    // Code that never runs in this image (rule G2).
    let dead = site.context.type_checking
        || site
            .context
            .conditions
            .iter()
            .any(|c| c.reaches(&ctx.target) == Some(false));
    let Some((module, name)) = site_target(site, id) else {
        record.status = ImportStatus::Skipped;
        if !dead {
            findings.push(finding(
                Severity::Info,
                Code::Undecidable,
                "",
                "the module of this dynamic import is not a literal; it cannot be checked statically".into(),
                Vec::new(),
                None,
            ));
        }
        imports.push(record);
        return;
    };
    record.name = name.clone().filter(|n| n != "*");
    if dead {
        record.status = ImportStatus::Skipped;
        record.module = module.clone().unwrap_or_default();
        imports.push(record);
        return;
    }
    // A handler for `ModuleNotFoundError` alone (or a `find_spec` test) lets every other
    // `ImportError` through: a missing name, an extension that fails to load, a cycle.
    let outcome = |failure| {
        if site.context.caught.contains(failure) {
            (Severity::Info, ImportStatus::Guarded)
        } else {
            (Severity::Error, ImportStatus::Error)
        }
    };
    let (sev, status) = outcome(Caught::MISSING_MODULE);
    let (other_sev, other_status) = outcome(Caught::OTHER_IMPORT_ERROR);
    let module = match module {
        Ok(m) => m,
        Err((code, message)) => {
            let mut notes = Vec::new();
            if id.script {
                notes.push(format!(
                    "{file} runs as the main script (`{}`), so it has no package",
                    ctx.rt.launch.describe()
                ));
            }
            findings.push(finding(
                sev,
                code,
                "",
                message,
                notes,
                Some(if code == Code::RelativeImportNoParent {
                    "use an absolute import, or run the program as a module (`python -m package.module`)".into()
                } else {
                    "use an absolute import; a relative import cannot climb above the top-level package".into()
                }),
            ));
            record.status = status;
            imports.push(record);
            return;
        }
    };
    record.module = module.clone();
    let res = ctx.resolver.resolve(&module);
    if let Some(failed) = &res.failure
        && let Some(parent) = ctx.registering_parent(&failed.module)
    {
        // `six.moves`: a module the parent's import hook or `sys.modules` entries provide.
        findings.push(finding(
            Severity::Warning,
            Code::Undecidable,
            &failed.module,
            format!(
                "`{}` is not a file; `{parent}` installs an import hook, so whether it imports cannot be checked statically",
                failed.module
            ),
            Vec::new(),
            None,
        ));
        record.status = ImportStatus::Skipped;
        imports.push(record);
        return;
    }
    if let Some(failed) = &res.failure {
        let (code, message, mut notes, mut hint) = failure_finding(failed, ctx.rt);
        if code == Code::ModuleNotFound
            && let Some((note, better)) = ctx.native.not_found_hint(failed)
        {
            notes.push(note);
            hint = Some(better);
        }
        let sev = if failed.uncertain && status == ImportStatus::Error {
            Severity::Warning
        } else {
            sev
        };
        let mut f = finding(sev, code, &failed.module, message, notes, hint);
        f.fix_path = fix_path(failed);
        findings.push(f);
        record.status = status;
        imports.push(record);
        return;
    }
    // A module whose source does not compile raises SyntaxError when it is executed; not an
    // ImportError, so a `try/except ImportError` around it does not help (a handler for
    // `SyntaxError`, `Exception` or everything does).
    // `from pkg import sub` imports the submodule too, whatever the package's code did.
    let submodule = name
        .as_deref()
        .filter(|n| *n != "*")
        .zip(res.last_found())
        .filter(|(n, found)| ctx.resolver.submodule_exists(found, n))
        .map(|(n, _)| ctx.resolver.resolve(&format!("{module}.{n}")));
    if !site.context.caught.contains(Caught::SYNTAX_ERROR)
        && let Some((bad_module, file, err)) = std::iter::once(&res)
            .chain(submodule.as_ref())
            .flat_map(|r| r.found.iter())
            .find_map(|(m, found)| {
                let file = found.file().filter(|f| f.ends_with(".py"))?.to_string();
                let parsed = ctx.module_source(&file)?;
                let err = parsed.syntax_errors.first()?.clone();
                Some((m.clone(), file, err))
            })
    {
        let mut f = finding_as(
            site_kind_for(ctx, s, Caught::SYNTAX_ERROR),
            Severity::Error,
            Code::SyntaxError,
            &bad_module,
            format!("{} ({file}, line {})", err.message, err.line),
            vec![format!(
                "`{bad_module}` is {file}, which CPython cannot compile"
            )],
            Some(format!(
                "fix the syntax error on line {} of {file}",
                err.line
            )),
        );
        f.related.push(crate::Location {
            file: file.clone(),
            line: err.line,
            column: err.column,
            message: err.message.clone(),
            statement: String::new(),
        });
        findings.push(f);
        record.status = ImportStatus::Error;
        record.raised_in = Some(bad_module);
        imports.push(record);
        return;
    }
    let native = ctx.native.inspect(&ctx.resolver, &res).or_else(|| {
        submodule
            .as_ref()
            .and_then(|sub| ctx.native.inspect(&ctx.resolver, sub))
    });
    if let Some(p) = native {
        // The extension that cannot load, when it is not the module the statement names: the
        // frame inside the dependency where the ImportError comes from.
        let inner = p.module != module && !module.starts_with(&format!("{}.", p.module));
        let frame = inner
            .then(|| {
                let r = ctx.resolver.resolve(&p.module);
                r.last_found().and_then(Found::file).map(str::to_string)
            })
            .flatten();
        let (f_sev, f_status) = if p.code == Code::ModuleNotFound {
            (sev, status)
        } else {
            (other_sev, other_status)
        };
        let finding_for = if p.code == Code::ModuleNotFound {
            &finding as &dyn Fn(_, _, &str, String, _, _) -> Finding
        } else {
            &finding_other
        };
        let mut f = finding_for(f_sev, p.code, &p.module, p.message.clone(), p.notes, p.hint);
        if let Some(file) = frame {
            f.related.push(crate::Location {
                file,
                line: 1,
                column: 1,
                message: format!("`{}` fails to load: {}", p.module, p.message),
                statement: String::new(),
            });
            record.raised_in = Some(p.module.clone());
        }
        findings.push(f);
        record.status = f_status;
        imports.push(record);
        return;
    }
    // Off the startup path (whose dependencies' failures are attributed to the statements
    // that reach them), a dependency's own missing dependency is found here.
    let on_path = s.third_party
        || !crate::attribute::executed_nodes(&ctx.resolver, s.reached, &record).is_empty();
    let missing = (!on_path)
        .then(|| {
            ctx.native
                .missing_dependency(&ctx.resolver, &res)
                .or_else(|| {
                    submodule
                        .as_ref()
                        .and_then(|sub| ctx.native.missing_dependency(&ctx.resolver, sub))
                })
        })
        .flatten();
    if let Some(m) = missing {
        let p = m.problem;
        let mut f = finding(sev, p.code, &p.module, p.message.clone(), p.notes, p.hint);
        f.related.push(crate::Location {
            file: m.file,
            line: m.line,
            column: 1,
            message: format!("`{}` raises here: {}", m.raised_in, p.message),
            statement: String::new(),
        });
        findings.push(f);
        record.status = status;
        record.raised_in = Some(m.raised_in);
        imports.push(record);
        return;
    }
    // A module importing a name from itself while it runs (`from app.deps import x` in
    // app/deps/__init__.py, a script importing itself by name) gets itself from `sys.modules`,
    // partially initialised: the name must be bound by a statement before this one. That the
    // statement itself binds the name does not count.
    if let (Some(name), Some(found)) = (name.as_deref(), res.last_found())
        && name != "*"
        && closure::runs_at_import(site, &ctx.target)
        && found.file().is_some_and(|f| {
            let real = |p: &str| ctx.image.fs.realpath(p).unwrap_or_else(|| p.to_string());
            f == file || real(f) == real(file)
        })
        && !ctx.resolver.submodule_exists(found, name)
        && ctx.bound_before(file, id, name, (site.line, site.column)) == Some(false)
    {
        let where_ = found.file().unwrap_or_default().to_string();
        findings.push(finding_other(
            other_sev,
            Code::CircularImport,
            &module,
            format!(
                "cannot import name '{name}' from partially initialized module '{module}' \
                 (most likely due to a circular import) ({where_})"
            ),
            vec![format!(
                "`{module}` is this module itself: while it runs, it holds only what the \
                 statements before this one bound, and none of them binds `{name}`"
            )],
            Some(format!(
                "bind `{name}` before this line, or drop the import: the module's own names \
                 need no import"
            )),
        ));
        record.status = other_status;
        imports.push(record);
        return;
    }
    if let (Some(name), Some(found)) = (name.as_deref(), res.last_found().cloned())
        && name != "*"
        && !ctx.resolver.submodule_exists(&found, name)
        && !ctx.binds(&module, &found, name, 0)
    {
        let where_ = found.file().map(|f| format!(" ({f})")).unwrap_or_default();
        let hint = if found.search_path().is_some() {
            format!("define `{name}` in `{module}`, or add the submodule `{module}.{name}`")
        } else {
            format!("define `{name}` in `{module}`, or import it from the module that defines it")
        };
        let mut notes = vec![format!("`{module}` resolves to {}", found.describe())];
        if found.search_path().is_some() {
            notes.push(format!(
                "no submodule `{name}` in {}",
                found.search_path().unwrap_or_default().join(", ")
            ));
        }
        findings.push(finding_other(
            other_sev,
            Code::NameNotInModule,
            &module,
            format!("cannot import name '{name}' from '{module}'{where_}"),
            notes,
            Some(hint),
        ));
        record.status = other_status;
    }
    imports.push(record);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use importgate_image::{ImageConfig, Meta, Vfs};

    const SITE: &str = "usr/local/lib/python3.12/site-packages";

    fn image(extra: &[(&str, &str)], cmd: &[&str]) -> Image {
        let mut files: Vec<(String, String)> = [
            ("usr/local/bin/python3.12", "ELF"),
            ("usr/local/bin/python", "-> python3.12"),
            ("usr/local/lib/python3.12/os.py", ""),
            ("usr/local/lib/python3.12/json/__init__.py", ""),
            ("usr/local/lib/python3.12/lib-dynload/", ""),
            (&format!("{SITE}/")[..], ""),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        files.extend(extra.iter().map(|(a, b)| (a.to_string(), b.to_string())));
        let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (&a[..], &b[..])).collect();
        Image {
            reference: "test".into(),
            id: None,
            config: ImageConfig {
                env: vec!["PATH=/usr/local/bin:/usr/bin:/bin".into()],
                working_dir: "/app".into(),
                cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                ..ImageConfig::default()
            },
            fs: Vfs::from_files(&refs),
            layers: Vec::new(),
            warnings: Vec::new(),
            pending: Default::default(),
        }
    }

    fn by_module<'a>(r: &'a Report, m: &str) -> Vec<&'a Finding> {
        r.findings.iter().filter(|f| f.module == m).collect()
    }

    fn error_findings(r: &Report) -> Vec<&Finding> {
        r.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect()
    }

    /// The errors about the image configuration: (code, module, argument).
    fn config_errors(r: &Report) -> Vec<(Code, String, u32)> {
        r.findings
            .iter()
            .filter(|f| f.file == CONFIG_FILE && f.severity == Severity::Error)
            .map(|f| (f.code, f.module.clone(), f.line))
            .collect()
    }

    const UVICORN: &str = "#!/usr/local/bin/python3.12\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom uvicorn.main import main\nif __name__ == '__main__':\n    sys.exit(main())\n";

    /// `ddtrace-run gunicorn main:app`: the launcher execs the server, so the server's
    /// working directory is on `sys.path` (`import utils` works) and its target runs at startup.
    #[test]
    fn launchers_run_the_server_behind_them() {
        let script = |m: &str| format!("#!/usr/local/bin/python3.12\nfrom {m} import main\n");
        let mut files: Vec<(String, String)> = [
            ("gunicorn", "gunicorn.app.wsgiapp"),
            ("ddtrace-run", "ddtrace.commands.ddtrace_run"),
            (
                "opentelemetry-instrument",
                "opentelemetry.instrumentation.auto_instrumentation",
            ),
            ("newrelic-admin", "newrelic.admin"),
        ]
        .iter()
        .map(|(bin, m)| (format!("usr/local/bin/{bin}"), script(m)))
        .collect();
        for (module, code) in [
            ("gunicorn/__init__.py", ""),
            ("gunicorn/app/__init__.py", ""),
            ("gunicorn/app/wsgiapp.py", "def main(): pass\n"),
            ("ddtrace/__init__.py", ""),
            ("ddtrace/commands/__init__.py", ""),
            ("ddtrace/commands/ddtrace_run.py", "def main(): pass\n"),
            (
                "opentelemetry/instrumentation/auto_instrumentation/__init__.py",
                "def main(): pass\n",
            ),
            ("newrelic/__init__.py", ""),
            ("newrelic/admin/__init__.py", "def main(): pass\n"),
        ] {
            files.push((format!("{SITE}/{module}"), code.to_string()));
        }
        files.push(("app/utils.py".into(), String::new()));
        for cmd in [
            &["ddtrace-run", "gunicorn", "main:app"][..],
            &[
                "opentelemetry-instrument",
                "--service_name",
                "x",
                "gunicorn",
                "main:app",
            ][..],
            &["newrelic-admin", "run-program", "gunicorn", "main:app"][..],
        ] {
            for (main, missing) in [
                ("import utils\napp = object()\n", None),
                (
                    "import utils\nimport missing_dep\napp = object()\n",
                    Some("missing_dep"),
                ),
            ] {
                let mut f = files.clone();
                f.push(("app/main.py".into(), main.into()));
                let refs: Vec<(&str, &str)> = f.iter().map(|(a, b)| (&a[..], &b[..])).collect();
                let r = check(&image(&refs, cmd), &CheckOptions::default()).unwrap();
                let errors: Vec<(&str, Kind)> = error_findings(&r)
                    .iter()
                    .map(|f| (f.module.as_str(), f.kind))
                    .collect();
                match missing {
                    None => assert_eq!(errors, [], "{cmd:?}"),
                    Some(m) => assert_eq!(errors, [(m, Kind::Startup)], "{cmd:?}"),
                }
                assert!(
                    r.startup
                        .notes
                        .iter()
                        .any(|n| n == "gunicorn imports `main` (main:app) at startup"),
                    "{cmd:?}: {:?}",
                    r.startup.notes
                );
            }
        }
    }

    #[test]
    fn server_spec_module_and_attribute_are_checked() {
        let files = |main: &'static str| {
            vec![
                ("usr/local/bin/uvicorn", UVICORN),
                (
                    "usr/local/lib/python3.12/site-packages/uvicorn/__init__.py",
                    "",
                ),
                (
                    "usr/local/lib/python3.12/site-packages/uvicorn/main.py",
                    "def main():\n    pass\n",
                ),
                ("app/main.py", main),
            ]
        };
        let cmd = ["uvicorn", "--host", "0.0.0.0", "main:app"];
        let ok = check(
            &image(&files("app = object()\n"), &cmd),
            &CheckOptions::default(),
        )
        .unwrap();
        assert_eq!(config_errors(&ok), vec![]);
        let r = check(
            &image(&files("application = object()\n"), &cmd),
            &CheckOptions::default(),
        )
        .unwrap();
        assert_eq!(
            config_errors(&r),
            vec![(Code::NameNotInModule, "main".into(), 4)]
        );
        let f = &r.findings[0];
        assert_eq!(f.message, "Attribute \"app\" not found in module \"main\".");
        assert_eq!(f.config.as_ref().unwrap().instruction, "CMD");
        // Missing module: the server's own import is fine, the app's is not.
        let r = check(
            &image(&files("app = 1\n"), &["uvicorn", "web.main:app"]),
            &CheckOptions::default(),
        )
        .unwrap();
        assert_eq!(
            config_errors(&r),
            vec![(Code::ModuleNotFound, "web".into(), 2)]
        );
        // A factory call and an attribute star-imported from a submodule.
        let r = check(
            &image(
                &[
                    (
                        "usr/local/bin/gunicorn",
                        "#!/usr/local/bin/python3.12\nfrom gunicorn.app.wsgiapp import run\n",
                    ),
                    (
                        "usr/local/lib/python3.12/site-packages/gunicorn/__init__.py",
                        "",
                    ),
                    (
                        "usr/local/lib/python3.12/site-packages/gunicorn/app/__init__.py",
                        "",
                    ),
                    (
                        "usr/local/lib/python3.12/site-packages/gunicorn/app/wsgiapp.py",
                        "def run(): pass\n",
                    ),
                    ("app/web/__init__.py", "from .factory import *\n"),
                    (
                        "app/web/factory.py",
                        "__all__ = ['make_app']\ndef make_app(): pass\n",
                    ),
                ],
                &["gunicorn", "-b", ":80", "web:create_app()"],
            ),
            &CheckOptions::default(),
        )
        .unwrap();
        assert_eq!(
            config_errors(&r),
            vec![(Code::NameNotInModule, "web".into(), 4)]
        );
        assert!(
            r.findings[0].message.contains("'create_app'"),
            "{:?}",
            r.findings[0]
        );
    }

    /// gunicorn's configuration module runs at startup and may name the app and the worker
    /// class; the worker class is loaded before the app.
    #[test]
    fn gunicorn_config_and_worker_class() {
        let gunicorn = [
            (
                "usr/local/bin/gunicorn",
                "#!/usr/local/bin/python3.12\nfrom gunicorn.app.wsgiapp import run\n",
            ),
            (
                "usr/local/lib/python3.12/site-packages/gunicorn/__init__.py",
                "",
            ),
            (
                "usr/local/lib/python3.12/site-packages/gunicorn/app/__init__.py",
                "",
            ),
            (
                "usr/local/lib/python3.12/site-packages/gunicorn/app/wsgiapp.py",
                "def run(): pass\n",
            ),
            (
                "usr/local/lib/python3.12/site-packages/gunicorn/workers/__init__.py",
                "",
            ),
            (
                "usr/local/lib/python3.12/site-packages/gunicorn/workers/ggevent.py",
                "import gevent\nclass GeventWorker: pass\n",
            ),
            ("app/web.py", "app = 1\n"),
        ];
        let opts = CheckOptions::default();
        let mut files = gunicorn.to_vec();
        files.push((
            "app/gunicorn.conf.py",
            "import statsd_client\nwsgi_app = \"web:application\"\n",
        ));
        let r = check(&image(&files, &["gunicorn"]), &opts).unwrap();
        assert_eq!(
            config_errors(&r),
            vec![(Code::NameNotInModule, "web".into(), 1)]
        );
        let conf: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.file == "/app/gunicorn.conf.py")
            .collect();
        assert_eq!(conf.len(), 1, "{:#?}", r.findings);
        assert_eq!(
            (conf[0].module.as_str(), conf[0].kind),
            ("statsd_client", Kind::Startup)
        );
        // `-k gevent` loads gunicorn's gevent worker, which imports gevent.
        let r = check(
            &image(&gunicorn, &["gunicorn", "-k", "gevent", "web:app"]),
            &opts,
        )
        .unwrap();
        let errs = error_findings(&r);
        assert_eq!(errs.len(), 1, "{:#?}", r.findings);
        assert_eq!(errs[0].module, "gevent");
        // A dotted worker class whose module is missing.
        let r = check(
            &image(
                &gunicorn,
                &["gunicorn", "-k", "uvicorn.workers.UvicornWorker", "web:app"],
            ),
            &opts,
        )
        .unwrap();
        assert_eq!(
            config_errors(&r),
            vec![(Code::ModuleNotFound, "uvicorn".into(), 3)]
        );
    }

    /// uWSGI (the C binary: the launch is not otherwise understood) imports `module` with its
    /// `chdir` as `.` and `pythonpath` entries in front, from the command line or an ini file.
    #[test]
    fn uwsgi_module_and_callable() {
        let ini = "[uwsgi]\nchdir = /srv/site\npythonpath = /opt/lib\nmodule = proj.wsgi\ncallable = app\n";
        let files = [
            ("usr/local/bin/uwsgi", "ELF"),
            ("srv/site/proj/__init__.py", ""),
            (
                "srv/site/proj/wsgi.py",
                "import helpers\napplication = object()\n",
            ),
            ("opt/lib/helpers.py", ""),
            ("etc/uwsgi.ini", ini),
        ];
        let opts = CheckOptions::default();
        let r = check(&image(&files, &["uwsgi", "--ini", "/etc/uwsgi.ini"]), &opts).unwrap();
        assert!(r.startup.understood, "{:?}", r.startup);
        assert_eq!(
            config_errors(&r),
            vec![(Code::NameNotInModule, "proj.wsgi".into(), 1)]
        );
        assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
        let r = check(
            &image(
                &files,
                &[
                    "uwsgi",
                    "--http",
                    ":80",
                    "--chdir",
                    "/srv/site",
                    "--module",
                    "proj.wsgi:application",
                ],
            ),
            &opts,
        )
        .unwrap();
        // `helpers` is only on the ini's pythonpath.
        let errs = error_findings(&r);
        assert_eq!(errs.len(), 1, "{:#?}", r.findings);
        assert_eq!(
            (errs[0].module.as_str(), errs[0].kind),
            ("helpers", Kind::Startup)
        );
    }

    #[test]
    fn streamlit_runs_its_script() {
        let streamlit = "#!/usr/local/bin/python3.12\nfrom streamlit.web.cli import main\n";
        let files = [
            ("usr/local/bin/streamlit", streamlit),
            (
                "usr/local/lib/python3.12/site-packages/streamlit/__init__.py",
                "",
            ),
            (
                "usr/local/lib/python3.12/site-packages/streamlit/web/__init__.py",
                "",
            ),
            (
                "usr/local/lib/python3.12/site-packages/streamlit/web/cli.py",
                "def main(): pass\n",
            ),
            ("app/ui/dashboard.py", "import charts\nimport missing_lib\n"),
            ("app/ui/charts.py", ""),
        ];
        let opts = CheckOptions::default();
        let r = check(
            &image(&files, &["streamlit", "run", "ui/dashboard.py"]),
            &opts,
        )
        .unwrap();
        let errs = error_findings(&r);
        assert_eq!(errs.len(), 1, "{:#?}", r.findings);
        assert_eq!(
            (errs[0].module.as_str(), errs[0].kind),
            ("missing_lib", Kind::Startup)
        );
        let r = check(&image(&files, &["streamlit", "run", "ui/app.py"]), &opts).unwrap();
        assert_eq!(
            config_errors(&r),
            vec![(Code::ScriptNotFound, String::new(), 3)]
        );
    }

    #[test]
    fn python_entry_forms_are_checked() {
        let opts = CheckOptions::default();
        let r = check(&image(&[], &["python", "-m", "pkg"]), &opts).unwrap();
        assert_eq!(
            config_errors(&r),
            vec![(Code::ModuleNotFound, "pkg".into(), 3)]
        );
        let r = check(
            &image(&[("app/pkg/__init__.py", "")], &["python", "-m", "pkg"]),
            &opts,
        )
        .unwrap();
        assert_eq!(
            config_errors(&r),
            vec![(Code::ModuleNotFound, "pkg.__main__".into(), 3)]
        );
        let r = check(
            &image(
                &[("app/pkg/__init__.py", ""), ("app/pkg/__main__.py", "")],
                &["python", "-m", "pkg"],
            ),
            &opts,
        )
        .unwrap();
        assert_eq!(config_errors(&r), vec![]);
        let r = check(&image(&[], &["python", "/app/missing.py"]), &opts).unwrap();
        assert_eq!(
            config_errors(&r),
            vec![(Code::ScriptNotFound, String::new(), 2)]
        );
        let r = check(&image(&[("app/tool/x.py", "")], &["python", "tool"]), &opts).unwrap();
        assert_eq!(
            config_errors(&r),
            vec![(Code::ScriptNotFound, String::new(), 2)]
        );
        let r = check(&image(&[], &["gunicorn", "main:app"]), &opts).unwrap();
        assert_eq!(
            config_errors(&r),
            vec![(Code::CommandNotFound, String::new(), 1)]
        );
        // `-c`: the code's imports, placed on the argument with the line inside the code.
        let r = check(
            &image(
                &[("app/helper.py", ""), ("bin/sh", "ELF")],
                &["sh", "-c", "exec python -c 'import helper\nimport worker'"],
            ),
            &opts,
        )
        .unwrap();
        let errs = error_findings(&r);
        assert_eq!(errs.len(), 1, "{:#?}", r.findings);
        assert_eq!(
            (errs[0].file.as_str(), errs[0].line, errs[0].module.as_str()),
            (CONFIG_FILE, 3, "worker")
        );
        let cfg = errs[0].config.as_ref().unwrap();
        assert_eq!((cfg.code_line, cfg.code_column), (Some(2), Some(1)));
        assert_eq!(errs[0].kind, Kind::Startup);
    }

    /// The program is there but cannot be started: the kernel's and `env`'s own refusals.
    #[test]
    fn programs_that_exist_but_cannot_start() {
        let opts = CheckOptions::default();
        let run = |files: &[(&str, &str)], ep: &str, user: &str, opts: &CheckOptions| {
            let mut img = image(files, &["python", "main.py"]);
            img.config.entrypoint = Some(vec![ep.into()]);
            img.config.user = user.into();
            check(&img, opts).unwrap()
        };
        let passwd = (
            "etc/passwd",
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        );
        let ok_script = "#!/bin/sh\nexec \"$@\"\n";
        let base = [("bin/sh", "ELF"), ("app/main.py", ""), passwd];
        // Executable, interpreter present: nothing to say.
        let mut files = base.to_vec();
        files.push(("usr/local/bin/entry.sh", ok_script));
        assert_eq!(config_errors(&run(&files, "entry.sh", "", &opts)), vec![]);
        // Windows line endings on the #! line.
        let mut files = base.to_vec();
        files.push(("usr/local/bin/entry.sh", "#!/bin/sh\r\nexec \"$@\"\r\n"));
        let r = run(&files, "entry.sh", "", &opts);
        assert_eq!(
            config_errors(&r),
            vec![(Code::ExecFailed, String::new(), 1)]
        );
        // The interpreter is not in the image (bash on a slim/alpine base).
        let mut files = base.to_vec();
        files.push(("usr/local/bin/entry.sh", "#!/bin/bash\nexec \"$@\"\n"));
        let r = run(&files, "entry.sh", "", &opts);
        assert_eq!(
            config_errors(&r),
            vec![(Code::ExecFailed, String::new(), 1)]
        );
        assert!(r.findings[0].message.contains("no such file or directory"));
        // `#!/usr/bin/env bash`: env runs, bash is nowhere on PATH.
        let mut files = base.to_vec();
        files.push(("usr/bin/env", "ELF"));
        files.push((
            "usr/local/bin/entry.sh",
            "#!/usr/bin/env bash\nexec \"$@\"\n",
        ));
        let r = run(&files, "entry.sh", "", &opts);
        assert_eq!(
            config_errors(&r),
            vec![(Code::ExecFailed, String::new(), 1)]
        );
        files.push(("bin/bash", "ELF"));
        assert_eq!(config_errors(&run(&files, "entry.sh", "", &opts)), vec![]);
        // No execute bit: root needs one of the three, app its own.
        let mut img_files = base.to_vec();
        img_files.push(("app/start", ok_script));
        let mut img = image(&img_files, &["python", "main.py"]);
        img.config.entrypoint = Some(vec!["/app/start".into()]);
        let id = img.fs.lookup("/app/start", true).unwrap();
        let meta = img.fs.meta(id);
        img.fs.set_meta(
            id,
            Meta {
                mode: 0o644,
                ..meta
            },
        );
        let r = check(&img, &opts).unwrap();
        assert_eq!(
            config_errors(&r),
            vec![(Code::ExecFailed, String::new(), 1)]
        );
        assert!(r.findings[0].message.ends_with("permission denied"));
        // A prediction's modes are not final (no `RUN chmod` ran).
        let r = check(
            &img,
            &CheckOptions {
                modes_unknown: true,
                ..CheckOptions::default()
            },
        )
        .unwrap();
        assert_eq!(config_errors(&r), vec![]);
        img.fs.set_meta(
            id,
            Meta {
                mode: 0o700,
                uid: 0,
                ..meta
            },
        );
        assert_eq!(config_errors(&check(&img, &opts).unwrap()), vec![]);
        img.config.user = "app".into();
        assert_eq!(
            config_errors(&check(&img, &opts).unwrap()),
            vec![(Code::ExecFailed, String::new(), 1)]
        );
    }

    /// An entrypoint script that activates a venv changes PATH before `exec "$@"`: the program
    /// is not looked up on the image's PATH then; Docker's own exec still is.
    #[test]
    fn programs_are_looked_up_where_the_runtime_looks() {
        let opts = CheckOptions::default();
        let ep = "#!/bin/sh\nset -e\n. /opt/venv/bin/activate\nexec \"$@\"\n";
        let mut img = image(
            &[
                ("bin/sh", "ELF"),
                ("docker-entrypoint.sh", ep),
                ("opt/venv/bin/tool", "#!/bin/sh\n"),
            ],
            &["tool", "--serve"],
        );
        img.config.entrypoint = Some(vec!["/docker-entrypoint.sh".into()]);
        let r = check(&img, &opts).unwrap();
        assert_eq!(config_errors(&r), vec![]);
        img.config.entrypoint = Some(vec!["/entrypoint.sh".into()]);
        let r = check(&img, &opts).unwrap();
        assert_eq!(
            config_errors(&r),
            vec![(Code::CommandNotFound, String::new(), 1)]
        );
        let r = check(
            &image(&[("bin/sh", "ELF")], &["sh", "-c", "exec uvicorn main:app"]),
            &opts,
        )
        .unwrap();
        assert_eq!(
            config_errors(&r),
            vec![(Code::CommandNotFound, String::new(), 3)]
        );
    }

    #[test]
    fn console_script_target_and_entry_points() {
        let wrapper = "#!/usr/local/bin/python3.12\nimport re\nimport sys\nfrom report_tool.cli import main\nif __name__ == '__main__':\n    sys.exit(main())\n";
        let opts = CheckOptions::default();
        let r = check(
            &image(
                &[("usr/local/bin/report-tool", wrapper)],
                &["report-tool", "--daily"],
            ),
            &opts,
        )
        .unwrap();
        assert_eq!(
            config_errors(&r),
            vec![(Code::ModuleNotFound, "report_tool".into(), 1)]
        );
        let r = check(
            &image(
                &[
                    ("usr/local/bin/report-tool", wrapper),
                    (
                        "usr/local/lib/python3.12/site-packages/report_tool/__init__.py",
                        "",
                    ),
                    (
                        "usr/local/lib/python3.12/site-packages/report_tool/cli.py",
                        "def run():\n    pass\n",
                    ),
                ],
                &["report-tool"],
            ),
            &opts,
        )
        .unwrap();
        assert_eq!(
            config_errors(&r),
            vec![(Code::NameNotInModule, "report_tool.cli".into(), 1)]
        );
        assert!(
            r.findings[0]
                .message
                .starts_with("cannot import name 'main' from 'report_tool.cli'")
        );
    }

    #[test]
    fn django_settings_strings_name_their_class() {
        let settings = "INSTALLED_APPS = ['shop']\nMIDDLEWARE = [\n    'shop.middleware.Timing',\n]\nAUTHENTICATION_BACKENDS = ['auth_ext.backends.Backend']\nDATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': 'db.sqlite3'}}\n";
        let r = check(
            &image(
                &[
                    ("app/manage.py", "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site_cfg.settings')\n"),
                    ("app/site_cfg/__init__.py", ""),
                    ("app/site_cfg/settings.py", settings),
                    ("app/shop/__init__.py", ""),
                    ("app/shop/middleware.py", "class TimingMiddleware:\n    pass\n"),
                    ("usr/local/lib/python3.12/site-packages/django/__init__.py", ""),
                    ("usr/local/lib/python3.12/site-packages/django/db/__init__.py", ""),
                    ("usr/local/lib/python3.12/site-packages/django/db/backends/__init__.py", ""),
                    ("usr/local/lib/python3.12/site-packages/django/db/backends/sqlite3/__init__.py", ""),
                    ("usr/local/lib/python3.12/site-packages/django/db/backends/sqlite3/base.py", ""),
                ],
                &["python", "manage.py", "runserver"],
            ),
            &CheckOptions::default(),
        )
        .unwrap();
        let got: Vec<(Code, &str, u32)> = r
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| (f.code, f.module.as_str(), f.line))
            .collect();
        assert_eq!(
            got,
            vec![
                (Code::NameNotInModule, "shop.middleware", 3),
                (Code::ModuleNotFound, "auth_ext", 5),
            ],
            "{:#?}",
            r.findings
        );
    }

    /// `django.setup()` imports each application's `apps` submodule and runs its
    /// `AppConfig.ready()`: the signals module imported there runs at startup, a method
    /// Django never calls does not.
    #[test]
    fn django_app_config_ready_runs_at_startup() {
        let r = check(
            &image(
                &[
                    ("app/manage.py", "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site_cfg.settings')\n"),
                    ("app/site_cfg/__init__.py", ""),
                    ("app/site_cfg/settings.py", "INSTALLED_APPS = ['users', 'shop.apps.ShopConfig']\n"),
                    ("app/users/__init__.py", ""),
                    (
                        "app/users/apps.py",
                        "from django.apps import AppConfig\n\nclass UsersConfig(AppConfig):\n    name = 'users'\n\n    def ready(self):\n        import users.signals  # noqa\n\n    def other(self):\n        import missing_other\n",
                    ),
                    ("app/users/signals.py", "import missing_signals\n"),
                    ("app/shop/__init__.py", ""),
                    (
                        "app/shop/apps.py",
                        "from django.apps import AppConfig\n\nclass ShopConfig(AppConfig):\n    def ready(self):\n        from . import hooks\n",
                    ),
                    ("app/shop/hooks.py", "import missing_hooks\n"),
                    ("usr/local/lib/python3.12/site-packages/django/__init__.py", ""),
                    ("usr/local/lib/python3.12/site-packages/django/apps/__init__.py", "class AppConfig: pass\n"),
                ],
                &["python", "manage.py", "runserver"],
            ),
            &CheckOptions::default(),
        )
        .unwrap();
        let kind = |m: &str| by_module(&r, m).first().map(|f| f.kind);
        assert_eq!(
            kind("missing_signals"),
            Some(Kind::Startup),
            "{:#?}",
            r.findings
        );
        assert_eq!(
            kind("missing_hooks"),
            Some(Kind::Startup),
            "{:#?}",
            r.findings
        );
        assert_eq!(kind("missing_other"), Some(Kind::Lazy), "{:#?}", r.findings);
    }

    /// The application imports the missing module itself too: its own finding is the root
    /// cause of `import web` as well; a lazy one of its own does not hide the startup failure.
    #[test]
    fn dependency_failing_on_a_module_the_app_also_imports() {
        let web = format!("{SITE}/web/__init__.py");
        let r = check(
            &image(
                &[
                    ("app/main.py", "import web\nimport anyio\n"),
                    (&web, "import anyio\n"),
                ],
                &["python", "main.py"],
            ),
            &CheckOptions::default(),
        )
        .unwrap();
        let errors = error_findings(&r);
        assert_eq!(errors.len(), 1, "{:#?}", r.findings);
        assert_eq!(
            (errors[0].file.as_str(), errors[0].line),
            ("/app/main.py", 2)
        );
        let lines: Vec<u32> = errors[0].affects.iter().map(|a| a.line).collect();
        assert_eq!(lines, [2, 1]);
        let web_import = r.imports.iter().find(|i| i.module == "web").unwrap();
        assert_eq!(web_import.status, ImportStatus::Error);
        assert_eq!(web_import.finding.as_deref(), Some(errors[0].id.as_str()));

        let r = check(
            &image(
                &[
                    (
                        "app/main.py",
                        "import web\ndef later():\n    import anyio\n",
                    ),
                    (&web, "import anyio\n"),
                ],
                &["python", "main.py"],
            ),
            &CheckOptions::default(),
        )
        .unwrap();
        let errors = error_findings(&r);
        assert_eq!(errors.len(), 1, "{:#?}", r.findings);
        assert_eq!(
            (errors[0].file.as_str(), errors[0].line),
            ("/app/main.py", 1)
        );
        assert_eq!(errors[0].kind, Kind::Startup);
    }

    #[test]
    fn startup_closure_into_site_packages() {
        let lib = |p: &str| format!("{SITE}/{p}");
        let (a, b, c, d, e, f) = (
            lib("web/__init__.py"),
            lib("web/routing.py"),
            lib("web/util.py"),
            lib("tls/__init__.py"),
            lib("six.py"),
            lib("optional/__init__.py"),
        );
        let img = image(
            &[
                ("app/main.py", "import web\nimport services.jobs\n"),
                ("app/services/__init__.py", ""),
                (
                    "app/services/jobs.py",
                    "def refresh_cache():\n    import missing_lazy\n",
                ),
                ("app/tools.py", "import missing_tool\n"),
                (&a, "from . import routing\nfrom .util import helper\n"),
                // Both fail on the same missing module: only the first CPython runs is reported.
                (&b, "import anyio\nfrom . import util\n"),
                (&c, "import anyio\ndef helper():\n    import never_called\n"),
                // Reached only under try/except ImportError: its failure is caught.
                (
                    &d,
                    "try:\n    import optional\nexcept ImportError:\n    from fallback import x\n",
                ),
                (&f, "import OpenSSL\n"),
                (&e, "import sys\nsys.modules[__name__ + '.moves'] = None\n"),
                ("app/uses_tls.py", "import tls\nimport six.moves\n"),
            ],
            &["python", "main.py"],
        );
        let r = check(&img, &CheckOptions::default()).unwrap();
        assert!(r.startup.understood);
        let anyio = by_module(&r, "anyio");
        assert_eq!(anyio.len(), 1, "{:#?}", r.findings);
        // Located at the application statement that raises, the dependency frame related.
        assert_eq!(anyio[0].file, "/app/main.py");
        assert_eq!(anyio[0].line, 1);
        assert_eq!(anyio[0].related.len(), 1);
        assert_eq!(anyio[0].related[0].file, format!("/{b}"));
        assert_eq!(anyio[0].related[0].line, 1);
        assert_eq!(anyio[0].kind, Kind::Startup);
        assert_eq!(anyio[0].severity, Severity::Error);
        assert_eq!(anyio[0].chain, ["main.py", "web", "web.routing", "anyio"]);
        assert_eq!(
            anyio[0].notes[0],
            "raised inside web → web.routing → anyio: No module named 'anyio'"
        );
        assert_eq!(
            anyio[0].notes[1],
            "fails at startup: main.py → web → web.routing → anyio"
        );
        let web: Vec<_> = r.imports.iter().filter(|i| i.module == "web").collect();
        assert_eq!(web.len(), 1);
        assert_eq!(web[0].status, ImportStatus::Error);
        assert_eq!(web[0].finding.as_deref(), Some(anyio[0].id.as_str()));
        assert_eq!(web[0].raised_in.as_deref(), Some("web.routing"));
        assert_eq!(anyio[0].affects.len(), 1);
        let lazy = by_module(&r, "missing_lazy");
        assert_eq!(lazy.len(), 1);
        assert_eq!(lazy[0].code, Code::LazyImportMissing);
        assert_eq!(lazy[0].severity, Severity::Warning);
        assert!(
            lazy[0]
                .notes
                .iter()
                .any(|n| n == "fails when `refresh_cache()` runs")
        );
        let tool = by_module(&r, "missing_tool");
        assert_eq!(tool[0].kind, Kind::ModuleLevel);
        assert!(tool[0].chain.is_empty());
        // Not on the startup path (uses_tls.py is not imported by main.py): nothing from
        // installed code it would reach, and never anything from a function body.
        for m in ["never_called", "OpenSSL", "fallback"] {
            assert!(by_module(&r, m).is_empty(), "{m}: {:#?}", r.findings);
        }
        assert_eq!(r.startup.third_party_files, 3, "{:#?}", r.startup);
    }

    /// An `async def`'s body runs when its coroutine is run: handed to `asyncio.run` or
    /// `anyio.run`, awaited in a coroutine that runs, or made a task, and an ASGI
    /// application's lifespan and startup hooks; a coroutine only made (`main()` alone) runs
    /// nothing.
    #[test]
    fn coroutines_run_by_an_event_loop_run_their_imports() {
        let files = [
            (
                "app/bot.py",
                "import asyncio\nfrom worker import serve\n\nasync def main():\n    import missing_in_main\n    await setup()\n    asyncio.create_task(background())\n    never_awaited()\n    await serve()\n\nasync def setup():\n    import missing_in_setup\n\nasync def background():\n    import missing_in_task\n\nasync def never_awaited():\n    import missing_not_run\n\nasync def unused():\n    import missing_unused\n\nmain()\nasyncio.run(main())\n",
            ),
            (
                "app/worker.py",
                "async def serve():\n    import missing_in_serve\n",
            ),
            (
                "app/job.py",
                "import anyio\n\nasync def main():\n    import missing_in_anyio\n\nanyio.run(main)\n",
            ),
            (
                "app/idle.py",
                "async def main():\n    import missing_in_idle\n\nmain()\n",
            ),
            (
                "app/api.py",
                "from contextlib import asynccontextmanager\nfrom fastapi import FastAPI\n\n@asynccontextmanager\nasync def lifespan(app):\n    import missing_in_lifespan\n    try:\n        yield\n    finally:\n        import missing_after_yield\n        close()\n\ndef close():\n    import missing_in_close\n\napp = FastAPI(lifespan=lifespan)\n\n@app.on_event(\"startup\")\nasync def warm():\n    import missing_in_startup_hook\n\n@app.on_event(\"shutdown\")\nasync def bye():\n    import missing_in_shutdown\n",
            ),
            (
                "app/hooks.py",
                "from fastapi import FastAPI\n\napp = FastAPI()\n\n@app.on_event(\"startup\")\nasync def warm():\n    import missing_in_hook\n",
            ),
        ];
        let kind_of = |cmd: &[&str], m: &str| {
            let r = check(&image(&files, cmd), &CheckOptions::default()).unwrap();
            r.findings.iter().find(|f| f.module == m).map(|f| f.kind)
        };
        for m in [
            "missing_in_main",
            "missing_in_setup",
            "missing_in_task",
            "missing_in_serve",
        ] {
            assert_eq!(
                kind_of(&["python", "bot.py"], m),
                Some(Kind::Startup),
                "{m}"
            );
        }
        for m in ["missing_not_run", "missing_unused"] {
            assert_eq!(kind_of(&["python", "bot.py"], m), Some(Kind::Lazy), "{m}");
        }
        assert_eq!(
            kind_of(&["python", "job.py"], "missing_in_anyio"),
            Some(Kind::Startup)
        );
        // A coroutine made and never run (CPython warns "never awaited").
        assert_eq!(
            kind_of(&["python", "idle.py"], "missing_in_idle"),
            Some(Kind::Lazy)
        );
        // An ASGI application's startup: its lifespan (to its `yield`), else its startup hooks
        // (Starlette runs `on_event` hooks only without a lifespan).
        assert_eq!(
            kind_of(&["python", "api.py"], "missing_in_lifespan"),
            Some(Kind::Startup)
        );
        // What follows the `yield` runs at shutdown.
        for m in [
            "missing_in_startup_hook",
            "missing_in_shutdown",
            "missing_after_yield",
            "missing_in_close",
        ] {
            assert_eq!(kind_of(&["python", "api.py"], m), Some(Kind::Lazy), "{m}");
        }
        assert_eq!(
            kind_of(&["python", "hooks.py"], "missing_in_hook"),
            Some(Kind::Startup)
        );
    }

    /// Functions called while the container starts run their imports then: a module-level
    /// `app = create_app()`, a server's factory call, and what those call in turn (in the
    /// module or in one it imports, a class's `__init__` when it is instantiated); a function
    /// nobody calls stays lazy, and a call under `try/except ImportError` makes what it reaches
    /// guarded.
    #[test]
    fn functions_called_at_startup_run_their_imports() {
        let lazy_or_startup = |files: &[(&str, &str)], cmd: &[&str]| {
            let r = check(&image(files, cmd), &CheckOptions::default()).unwrap();
            let mut out: Vec<(String, Kind)> = r
                .findings
                .iter()
                .map(|f| (f.module.clone(), f.kind))
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        };
        let factory = [
            (
                "app/web/__init__.py",
                "import os\nfrom .helpers import setup\n\ndef create_app():\n    from . import views\n    import missing_direct\n    register(None)\n    setup()\n    if os.environ.get('APP_CONFIG') == 'development':\n        import missing_dev_only\n        unused()\n    return 1\n\ndef register(app):\n    import missing_registered\n\ndef unused():\n    import missing_unused\n\ndef gen():\n    import missing_gen\n    yield 1\n",
            ),
            ("app/web/views.py", "import missing_view\n"),
            (
                "app/web/helpers.py",
                "def setup():\n    import missing_helper\n    Registry()\n\ndef other():\n    import missing_other\n\nclass Registry:\n    def __init__(self):\n        import missing_in_init\n\n    def load(self):\n        import missing_in_method\n",
            ),
        ];
        let mut wsgi = factory.to_vec();
        wsgi.push((
            "app/wsgi.py",
            "import web\nfrom web import create_app\nweb.gen()\napp = create_app()\n",
        ));
        let startup =
            |v: &[(String, Kind)], m: &str| v.iter().find(|(n, _)| n == m).map(|(_, k)| *k);
        let got = lazy_or_startup(&wsgi, &["python", "wsgi.py"]);
        for m in [
            "missing_direct",
            "missing_registered",
            "missing_helper",
            "missing_view",
            "missing_in_init",
        ] {
            assert_eq!(startup(&got, m), Some(Kind::Startup), "{m}: {got:?}");
        }
        // Under a branch on configuration, an import (or a call) in a called function is not
        // taken to run.
        for m in [
            "missing_unused",
            "missing_other",
            "missing_dev_only",
            "missing_in_method",
        ] {
            assert_eq!(startup(&got, m), Some(Kind::Lazy), "{m}: {got:?}");
        }
        // Calling a generator function runs none of its body.
        assert_eq!(startup(&got, "missing_gen"), Some(Kind::Lazy), "{got:?}");

        // A server's factory call: gunicorn with parentheses, without them the object is the
        // app and nothing is called.
        let mut gunicorn = factory.to_vec();
        gunicorn.push((
            "usr/local/bin/gunicorn",
            "#!/usr/local/bin/python3.12\nfrom gunicorn.app.wsgiapp import run\n",
        ));
        gunicorn.push((SITE_GUNICORN_INIT, ""));
        gunicorn.push((SITE_GUNICORN_APP_INIT, ""));
        gunicorn.push((SITE_GUNICORN_WSGIAPP, "def run(): pass\n"));
        let got = lazy_or_startup(&gunicorn, &["gunicorn", "web:create_app()"]);
        assert_eq!(
            startup(&got, "missing_direct"),
            Some(Kind::Startup),
            "{got:?}"
        );
        assert_eq!(
            startup(&got, "missing_helper"),
            Some(Kind::Startup),
            "{got:?}"
        );
        let got = lazy_or_startup(&gunicorn, &["gunicorn", "web:create_app"]);
        assert_eq!(startup(&got, "missing_direct"), Some(Kind::Lazy), "{got:?}");

        // Guarded call: what the function imports is caught by the caller's handler.
        let mut guarded = factory.to_vec();
        guarded.push((
            "app/wsgi.py",
            "import web\ntry:\n    app = web.create_app()\nexcept ImportError:\n    app = None\n",
        ));
        let got = lazy_or_startup(&guarded, &["python", "wsgi.py"]);
        assert_eq!(
            startup(&got, "missing_direct"),
            Some(Kind::Guarded),
            "{got:?}"
        );
    }

    /// Syntax newer than the image's interpreter fails the import of the file that uses it
    /// (and the start, when that file is on the startup path): `except A, B:` is Python 3.14,
    /// the image's interpreter 3.12; a `match` (3.10) is fine there.
    #[test]
    fn syntax_newer_than_the_interpreter_is_a_syntax_error() {
        let files = [
            ("app/main.py", "import deps\nimport modern\n"),
            (
                "app/deps.py",
                "try:\n    pass\nexcept ValueError, TypeError:\n    pass\n",
            ),
            (
                "app/modern.py",
                "def f(x):\n    match x:\n        case _:\n            return 1\n",
            ),
        ];
        let r = check(
            &image(&files, &["python", "main.py"]),
            &CheckOptions::default(),
        )
        .unwrap();
        let errors: Vec<(&str, &str, u32, Kind)> = error_findings(&r)
            .iter()
            .map(|f| (f.code.as_str(), f.file.as_str(), f.line, f.kind))
            .collect();
        // `import deps` raises the SyntaxError; `import modern` works.
        assert_eq!(
            errors,
            [("syntax-error", "/app/main.py", 1, Kind::Startup)],
            "{:#?}",
            r.findings
        );
        let f = error_findings(&r)[0];
        assert!(
            f.message
                .contains("Multiple exception types must be parenthesized on Python 3.12"),
            "{f:#?}"
        );
    }

    /// six's `six.moves` is served by the import hook six installs (`sys.meta_path`): not a
    /// file, so not judged; a missing submodule of a plain module without a hook still is.
    #[test]
    fn submodules_of_a_module_with_an_import_hook_are_not_judged() {
        let files = [
            (
                "app/main.py",
                "from six.moves import range as xrange\nimport six.moves.urllib.parse\nimport plain.sub\n",
            ),
            (
                "usr/local/lib/python3.12/site-packages/six.py",
                "import sys\n\nclass _Importer(object):\n    def find_spec(self, name, path, target=None):\n        return None\n\n_importer = _Importer()\nsys.meta_path.append(_importer)\n",
            ),
            ("usr/local/lib/python3.12/site-packages/plain.py", "x = 1\n"),
        ];
        let r = check(
            &image(&files, &["python", "main.py"]),
            &CheckOptions::default(),
        )
        .unwrap();
        let errors: Vec<&str> = error_findings(&r)
            .iter()
            .map(|f| f.module.as_str())
            .collect();
        assert_eq!(errors, ["plain.sub"], "{:#?}", r.findings);
        let undecided = r
            .findings
            .iter()
            .filter(|f| f.code == Code::Undecidable && f.module.starts_with("six.moves"))
            .count();
        assert_eq!(undecided, 2, "{:#?}", r.findings);
    }

    /// `fastapi run` without a path finds `app/main.py` in the working directory and puts the
    /// directory above its package first on sys.path, as it does for a path it is given.
    #[test]
    fn fastapi_run_discovers_its_module_and_path() {
        let files = [
            (
                "usr/local/bin/fastapi",
                "#!/usr/local/bin/python3.12\nfrom fastapi_cli.cli import main\n",
            ),
            (
                "usr/local/lib/python3.12/site-packages/fastapi_cli/__init__.py",
                "",
            ),
            (
                "usr/local/lib/python3.12/site-packages/fastapi_cli/cli.py",
                "def main(): pass\n",
            ),
            ("app/app/__init__.py", ""),
            (
                "app/app/main.py",
                "from app.core import settings\nimport missing_dep\napp = None\n",
            ),
            ("app/app/core.py", "settings = 1\n"),
            (
                "usr/local/lib/python3.12/site-packages/fastapi/__init__.py",
                "",
            ),
            (
                "usr/local/lib/python3.12/site-packages/fastapi/__main__.py",
                "from fastapi_cli.cli import main\nmain()\n",
            ),
        ];
        // The console script and `python -m fastapi` (its `__main__` runs the same CLI).
        for cmd in [
            &["fastapi", "run"][..],
            &["python", "-m", "fastapi", "run"][..],
        ] {
            let r = check(&image(&files, cmd), &CheckOptions::default()).unwrap();
            assert!(r.startup.understood, "{cmd:?}: {:#?}", r.startup);
            let errors: Vec<(&str, &str, Kind)> = error_findings(&r)
                .iter()
                .map(|f| (f.code.as_str(), f.module.as_str(), f.kind))
                .collect();
            assert_eq!(
                errors,
                [("module-not-found", "missing_dep", Kind::Startup)],
                "{cmd:?}: {:#?}",
                r.findings
            );
        }
    }

    /// A Celery worker imports the modules its app lists in `include`/`imports` (and `-I`)
    /// when it starts: a missing one stops it, and their imports are startup imports; other
    /// subcommands do not import them.
    #[test]
    fn celery_worker_imports_its_included_modules() {
        let files = [
            (
                "usr/local/bin/celery",
                "#!/usr/local/bin/python3.12\nfrom celery.__main__ import main\n",
            ),
            (
                "usr/local/lib/python3.12/site-packages/celery/__init__.py",
                "class Celery: pass\n",
            ),
            (
                "usr/local/lib/python3.12/site-packages/celery/__main__.py",
                "def main(): pass\n",
            ),
            ("app/proj/__init__.py", ""),
            (
                "app/proj/celery.py",
                "from celery import Celery\n\napp = Celery(\"proj\", include=[\"proj.tasks\", \"proj.gone\"])\napp.conf.imports = (\"proj.extra\",)\n",
            ),
            ("app/proj/tasks.py", "import missing_dep\n"),
            ("app/proj/extra.py", ""),
        ];
        let errors = |cmd: &[&str]| {
            let r = check(&image(&files, cmd), &CheckOptions::default()).unwrap();
            let mut out: Vec<(String, Kind, String, u32)> = error_findings(&r)
                .iter()
                .map(|f| (f.module.clone(), f.kind, f.file.clone(), f.line))
                .collect();
            out.sort();
            out
        };
        assert_eq!(
            errors(&["celery", "-A", "proj", "worker", "-l", "info"]),
            [
                (
                    "missing_dep".into(),
                    Kind::Startup,
                    "/app/proj/tasks.py".into(),
                    1
                ),
                (
                    "proj.gone".into(),
                    Kind::Startup,
                    "/app/proj/celery.py".into(),
                    3
                ),
            ]
        );
        // `-I` adds modules; `beat` imports none of them (the missing module is not imported
        // by anything; the task module's import stays a module-level error).
        let with_option = errors(&[
            "celery",
            "-A",
            "proj",
            "worker",
            "-I",
            "proj.nope,proj.extra",
        ]);
        assert!(
            with_option
                .iter()
                .any(|(m, k, f, _)| m == "proj.nope" && *k == Kind::Startup && f == CONFIG_FILE),
            "{with_option:?}"
        );
        assert_eq!(
            errors(&["celery", "-A", "proj", "beat"]),
            [(
                "missing_dep".into(),
                Kind::ModuleLevel,
                "/app/proj/tasks.py".into(),
                1
            )]
        );
    }

    /// `waitress-serve pkg.mod.attr` (no colon) is `pkgutil.resolve_name`'s dotted form: the
    /// longest importable prefix is the module, the next name its attribute.
    #[test]
    fn waitress_dotted_target() {
        let files = [
            (
                "usr/local/bin/waitress-serve",
                "#!/usr/local/bin/python3.12\nfrom waitress.runner import run\n",
            ),
            (
                "usr/local/lib/python3.12/site-packages/waitress/__init__.py",
                "",
            ),
            (
                "usr/local/lib/python3.12/site-packages/waitress/runner.py",
                "def run(): pass\n",
            ),
            ("app/proj/__init__.py", ""),
            (
                "app/proj/wsgi.py",
                "import missing_dep\napplication = None\n",
            ),
        ];
        let errors = |target: &str| {
            let r = check(
                &image(&files, &["waitress-serve", target]),
                &CheckOptions::default(),
            )
            .unwrap();
            let mut out: Vec<(String, String)> = error_findings(&r)
                .iter()
                .map(|f| (f.code.as_str().to_string(), f.module.clone()))
                .collect();
            out.sort();
            out
        };
        assert_eq!(
            errors("proj.wsgi.application"),
            [("module-not-found".to_string(), "missing_dep".to_string())]
        );
        let missing_attr = errors("proj.wsgi.app");
        assert!(
            missing_attr
                .iter()
                .any(|(c, m)| c == "name-not-in-module" && m == "proj.wsgi"),
            "{missing_attr:?}"
        );
        assert!(
            errors("nope.wsgi.application")
                .iter()
                .any(|(c, m)| c == "module-not-found" && m == "nope"),
        );
    }

    /// Granian imports its target as Flask's CLI does: `src/svc/main.py:app` is `svc.main`
    /// with `/app/src` first on sys.path; `--factory` calls the object.
    #[test]
    fn granian_target_path_and_factory() {
        let files = [
            (
                "usr/local/bin/granian",
                "#!/usr/local/bin/python3.12\nfrom granian.cli import entrypoint\n",
            ),
            (
                "usr/local/lib/python3.12/site-packages/granian/__init__.py",
                "",
            ),
            (
                "usr/local/lib/python3.12/site-packages/granian/cli.py",
                "def entrypoint(): pass\n",
            ),
            ("app/src/svc/__init__.py", ""),
            (
                "app/src/svc/main.py",
                "from svc import routes\n\ndef make():\n    import missing_in_factory\n    return routes.app\n",
            ),
            (
                "app/src/svc/routes.py",
                "import missing_routes\napp = None\n",
            ),
        ];
        let r = check(
            &image(
                &files,
                &[
                    "granian",
                    "--interface",
                    "asgi",
                    "--factory",
                    "src/svc/main.py:make",
                ],
            ),
            &CheckOptions::default(),
        )
        .unwrap();
        assert!(r.startup.understood, "{:#?}", r.startup);
        let mut errors: Vec<(&str, Kind)> = error_findings(&r)
            .iter()
            .map(|f| (f.module.as_str(), f.kind))
            .collect();
        errors.sort();
        assert_eq!(
            errors,
            [
                ("missing_in_factory", Kind::Startup),
                ("missing_routes", Kind::Startup)
            ],
            "{:#?}",
            r.findings
        );
        assert_eq!(r.python.sys_path[0].path, "/app/src");
    }

    /// `if __name__ == "__main__":` runs only in the program's `__main__`: in the script run
    /// by path its imports and calls run at startup, in a module it imports they never do.
    #[test]
    fn dunder_main_blocks_run_only_in_main() {
        let block = "def main():\n    import {f}\n\nif __name__ == '__main__':\n    import {m}\n    main()\nelse:\n    import {e}\n";
        let module =
            |f: &str, m: &str, e: &str| block.replace("{f}", f).replace("{m}", m).replace("{e}", e);
        let script = format!(
            "import helper\n{}",
            module(
                "missing_script_fn",
                "missing_script_main",
                "missing_script_else"
            )
        );
        let helper = module(
            "missing_helper_fn",
            "missing_helper_main",
            "missing_helper_else",
        );
        let r = check(
            &image(
                &[("app/main.py", &script), ("app/helper.py", &helper)],
                &["python", "main.py"],
            ),
            &CheckOptions::default(),
        )
        .unwrap();
        let kind = |m: &str| by_module(&r, m).first().map(|f| f.kind);
        for m in [
            "missing_script_fn",
            "missing_script_main",
            "missing_helper_else",
        ] {
            assert_eq!(kind(m), Some(Kind::Startup), "{m}: {:#?}", r.findings);
        }
        for m in [
            "missing_script_else",
            "missing_helper_main",
            "missing_helper_fn",
        ] {
            assert_eq!(kind(m), Some(Kind::Lazy), "{m}: {:#?}", r.findings);
        }
    }

    /// Each case: files under /app, the command, and the `(file, line)` of the import that
    /// meets a partially initialised module, if any.
    #[test]
    fn a_name_star_imports_would_bring_only_from_the_asker_is_missing() {
        let files = [
            ("app/main.py", "import m\n"),
            ("app/pkg/__init__.py", "from m import *\n"),
            ("app/pkg/deps.py", "from pkg import *\n"),
            ("app/m.py", "from pkg.deps import sx\n"),
        ];
        let r = check(
            &image(&files, &["python", "main.py"]),
            &CheckOptions::default(),
        )
        .unwrap();
        let errors: Vec<(&str, u32, &str)> = r
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| (f.file.as_str(), f.line, f.code.as_str()))
            .collect();
        assert_eq!(errors, vec![("/app/m.py", 1, "name-not-in-module")]);
    }

    #[test]
    fn the_scripts_own_sys_path_edits_count() {
        let errors = |script: &str| -> Vec<(String, u32)> {
            let files = [
                ("app/scripts/run.py", script),
                ("app/core/__init__.py", ""),
                ("app/core/db.py", ""),
                ("opt/extra/extra_mod.py", ""),
            ];
            let r = check(
                &image(&files, &["python", "scripts/run.py"]),
                &CheckOptions::default(),
            )
            .unwrap();
            r.findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| (f.file.clone(), f.line))
                .collect()
        };
        // The script's directory is `scripts/`: `core` is not on the path by itself.
        assert_eq!(
            errors("import core.db\n"),
            vec![("/app/scripts/run.py".to_string(), 1)]
        );
        let fixed = "import os, sys\n\
                     sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))\n\
                     sys.path.append('/opt/extra')\n\
                     import core.db\n\
                     import extra_mod\n";
        assert_eq!(errors(fixed), Vec::<(String, u32)>::new());
        // An import above the edit runs before it; one in a function runs after.
        let late = "import os, sys\n\
                    import extra_mod\n\
                    def later():\n    import core.db\n\
                    sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))\n\
                    import core.db\n\
                    sys.path.append('/opt/extra')\n\
                    import extra_mod\n";
        assert_eq!(errors(late), vec![("/app/scripts/run.py".to_string(), 2)]);
        // A module on the startup path adding its vendored directory.
        let files = [
            ("app/main.py", "import core\nimport vendored\n"),
            (
                "app/core/__init__.py",
                "import os, sys\nsys.path.append(os.path.join(os.path.dirname(__file__), 'vendor'))\n",
            ),
            ("app/core/vendor/vendored.py", ""),
        ];
        let r = check(
            &image(&files, &["python", "main.py"]),
            &CheckOptions::default(),
        )
        .unwrap();
        assert_eq!(r.summary.errors, 0, "{:?}", r.findings);
        // An edit under a test importgate cannot decide may not run.
        let maybe = "import os, sys\n\
                     if os.environ.get('DEV'):\n    sys.path.insert(0, '/app')\n\
                     import core.db\n";
        assert_eq!(errors(maybe), vec![("/app/scripts/run.py".to_string(), 4)]);
    }

    #[test]
    fn except_module_not_found_error_lets_a_missing_name_through() {
        let errors = |main: &str| -> Vec<(u32, Code)> {
            let files = [
                ("app/main.py", main),
                ("app/lib.py", "present = 1\n"),
                (
                    "usr/local/lib/python3.12/contextlib.py",
                    "def suppress(*e):\n    pass\n",
                ),
            ];
            let r = check(
                &image(&files, &["python", "main.py"]),
                &CheckOptions::default(),
            )
            .unwrap();
            error_findings(&r)
                .iter()
                .map(|f| (f.line, f.code))
                .collect()
        };
        let only_missing = "try:\n    from lib import absent\nexcept ModuleNotFoundError:\n    pass\n\
                            try:\n    import nowhere\nexcept ModuleNotFoundError:\n    pass\n";
        assert_eq!(errors(only_missing), vec![(2, Code::NameNotInModule)]);
        let any = "try:\n    from lib import absent\nexcept ImportError:\n    pass\n\
                   from contextlib import suppress\nwith suppress(ImportError):\n    from lib import absent\n";
        assert_eq!(errors(any), vec![]);
    }

    #[test]
    fn a_module_the_compiler_refuses_raises_through_except_import_error() {
        let errors = |main: &str| -> Vec<(String, u32, String)> {
            let files = [
                ("app/main.py", main),
                (
                    "app/bad.py",
                    "import os\nfrom __future__ import annotations\n",
                ),
                ("app/star.py", "def f():\n    from os import *\n"),
                (
                    "usr/local/lib/python3.12/__future__.py",
                    "annotations = 1\n",
                ),
            ];
            let r = check(
                &image(&files, &["python", "main.py"]),
                &CheckOptions::default(),
            )
            .unwrap();
            r.findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| (f.file.clone(), f.line, format!("{:?}", f.code)))
                .collect()
        };
        let guarded = "try:\n    import bad\nexcept ImportError:\n    bad = None\n\
                       try:\n    import star\nexcept Exception:\n    star = None\n";
        assert_eq!(
            errors(guarded),
            vec![(
                "/app/main.py".to_string(),
                2,
                format!("{:?}", Code::SyntaxError)
            )]
        );
        assert_eq!(errors("import star\n").len(), 1);
    }

    #[test]
    fn an_application_module_named_like_the_standard_librarys_breaks_its_imports() {
        const LIB: &str = "usr/local/lib/python3.12";
        let stdlib = [
            (format!("{LIB}/queue.py"), "class Empty(Exception): pass\n"),
            (format!("{LIB}/http/__init__.py"), ""),
            (format!("{LIB}/http/server.py"), ""),
            (format!("{LIB}/mp/__init__.py"), ""),
            (
                format!("{LIB}/mp/pool.py"),
                "import os\nfrom queue import Empty\n",
            ),
            (format!("{LIB}/wsgi/__init__.py"), ""),
            (format!("{LIB}/wsgi/simple.py"), "import http.server\n"),
        ];
        let files = |extra: &[(&'static str, &'static str)]| -> Vec<(String, String)> {
            stdlib
                .iter()
                .map(|(a, b)| (a.clone(), b.to_string()))
                .chain(extra.iter().map(|(a, b)| (a.to_string(), b.to_string())))
                .collect()
        };
        let run = |files: Vec<(String, String)>| {
            let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (&a[..], &b[..])).collect();
            check(
                &image(&refs, &["python", "main.py"]),
                &CheckOptions::default(),
            )
            .unwrap()
        };
        let errors = |r: &Report| -> Vec<(String, u32)> {
            r.findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| (f.file.clone(), f.line))
                .collect()
        };
        // Without a shadow, the standard library's own imports are not followed at all.
        let r = run(files(&[
            ("app/main.py", "import mp.pool\n"),
            ("app/tasks.py", "import wsgi.simple\n"),
        ]));
        assert_eq!(errors(&r), Vec::<(String, u32)>::new());
        // `queue.py` beside the script: the pool's `from queue import Empty` gets it.
        let r = run(files(&[
            ("app/main.py", "import mp.pool\n"),
            ("app/queue.py", "x = 1\n"),
        ]));
        assert_eq!(errors(&r), vec![("/app/main.py".to_string(), 1)]);
        let f = &r.findings[0];
        assert!(
            f.hint
                .as_deref()
                .is_some_and(|h| h.contains("shadows the standard library's `queue`")),
            "{f:?}"
        );
        // Off the startup path: the name the pool asks for, and a module `http` that is no
        // package with a `server`.
        let r = run(files(&[
            ("app/main.py", "x = 1\n"),
            ("app/tasks.py", "import mp.pool\n"),
            ("app/queue.py", "x = 1\n"),
        ]));
        assert_eq!(errors(&r), vec![("/app/tasks.py".to_string(), 1)]);
        let r = run(files(&[
            ("app/main.py", "x = 1\n"),
            ("app/tasks.py", "import wsgi.simple\n"),
            ("app/http.py", ""),
        ]));
        assert_eq!(errors(&r), vec![("/app/tasks.py".to_string(), 1)]);
        // A namespace directory of the same name shadows nothing: the regular package wins.
        let r = run(files(&[
            ("app/main.py", "import wsgi.simple\n"),
            ("app/http/notes.txt", ""),
        ]));
        assert_eq!(errors(&r), Vec::<(String, u32)>::new());
    }

    #[test]
    fn imports_that_meet_a_partially_initialised_module() {
        type Case<'a> = (
            &'a str,
            &'a [(&'a str, &'a str)],
            &'a [&'a str],
            Option<(&'a str, u32)>,
        );
        let cases: &[Case] = &[
            (
                "the package binds its name after importing the submodule that asks for it",
                &[
                    ("app/main.py", "import web\n"),
                    (
                        "app/web/__init__.py",
                        "from web import routes\napp = object()\n",
                    ),
                    ("app/web/routes.py", "from web import app\n"),
                ],
                &["python", "main.py"],
                Some(("/app/web/routes.py", 1)),
            ),
            (
                "bound before the import: fine",
                &[
                    ("app/main.py", "import web\n"),
                    (
                        "app/web/__init__.py",
                        "app = object()\nfrom web import routes\n",
                    ),
                    ("app/web/routes.py", "from web import app\n"),
                ],
                &["python", "main.py"],
                None,
            ),
            (
                "two modules, entered from a",
                &[
                    ("app/main.py", "import a\n"),
                    ("app/a.py", "from b import f\ndef g(): pass\n"),
                    ("app/b.py", "from a import g\ndef f(): pass\n"),
                ],
                &["python", "main.py"],
                Some(("/app/b.py", 1)),
            ),
            (
                "two modules, entered from b",
                &[
                    ("app/main.py", "import b\n"),
                    ("app/a.py", "from b import f\ndef g(): pass\n"),
                    ("app/b.py", "from a import g\ndef f(): pass\n"),
                ],
                &["python", "main.py"],
                Some(("/app/a.py", 1)),
            ),
            (
                "plain imports are content with a partial module",
                &[
                    ("app/main.py", "import a\n"),
                    ("app/a.py", "import b\ndef g(): pass\n"),
                    ("app/b.py", "import a\ndef f(): pass\n"),
                ],
                &["python", "main.py"],
                None,
            ),
            (
                "relative: the package's name asked by its submodule",
                &[
                    ("app/main.py", "import pkg\n"),
                    ("app/pkg/__init__.py", "from .models import User\ndb = 1\n"),
                    ("app/pkg/models.py", "from . import db\nclass User: pass\n"),
                ],
                &["python", "main.py"],
                Some(("/app/pkg/models.py", 1)),
            ),
            (
                "submodules in a cycle come from sys.modules",
                &[
                    ("app/main.py", "import pkg\n"),
                    ("app/pkg/__init__.py", "from . import a\n"),
                    ("app/pkg/a.py", "from . import b\n"),
                    ("app/pkg/b.py", "from . import a\n"),
                ],
                &["python", "main.py"],
                None,
            ),
            (
                "the script imported by its name runs again",
                &[
                    ("app/main.py", "db = 1\nfrom models import helper\n"),
                    ("app/models.py", "from main import db\ndef helper(): pass\n"),
                ],
                &["python", "main.py"],
                Some(("/app/main.py", 2)),
            ),
            (
                "the script imported by its name, asked nothing it lacks",
                &[
                    ("app/main.py", "db = 1\nimport models\n"),
                    ("app/models.py", "from main import db\n"),
                ],
                &["python", "main.py"],
                None,
            ),
            (
                "a guarded import is caught",
                &[
                    ("app/main.py", "import a\n"),
                    ("app/a.py", "from b import f\ndef g(): pass\n"),
                    (
                        "app/b.py",
                        "try:\n    from a import g\nexcept ImportError:\n    g = None\ndef f(): pass\n",
                    ),
                ],
                &["python", "main.py"],
                None,
            ),
            (
                "a class binds its name when its body is done",
                &[
                    ("app/main.py", "import a\n"),
                    ("app/a.py", "class G:\n    import b\n"),
                    ("app/b.py", "from a import G\n"),
                ],
                &["python", "main.py"],
                Some(("/app/b.py", 1)),
            ),
            (
                "a star import or __getattr__ before may bind it",
                &[
                    ("app/main.py", "import a\nimport c\n"),
                    ("app/a.py", "from s import *\nimport b\n"),
                    ("app/s.py", "g = 1\n"),
                    ("app/b.py", "from a import g\n"),
                    (
                        "app/c.py",
                        "def __getattr__(n): return n\nimport d\nx = 1\n",
                    ),
                    ("app/d.py", "from c import x\n"),
                ],
                &["python", "main.py"],
                None,
            ),
            (
                "an import in a function the module calls runs at the call",
                &[
                    ("app/main.py", "import web\n"),
                    (
                        "app/web/__init__.py",
                        "def create():\n    from web import views\n    return 1\ninst = create()\nname = 1\n",
                    ),
                    ("app/web/views.py", "from web import name\n"),
                ],
                &["python", "main.py"],
                Some(("/app/web/views.py", 1)),
            ),
            (
                "bound before the call",
                &[
                    ("app/main.py", "import web\n"),
                    (
                        "app/web/__init__.py",
                        "def create():\n    from web import views\n    return 1\nname = 1\ninst = create()\n",
                    ),
                    ("app/web/views.py", "from web import name\n"),
                ],
                &["python", "main.py"],
                None,
            ),
            (
                "three modules",
                &[
                    ("app/main.py", "import a\n"),
                    ("app/a.py", "from b import x\ny = 1\n"),
                    ("app/b.py", "from c import z\nx = 1\n"),
                    ("app/c.py", "from a import y\nz = 1\n"),
                ],
                &["python", "main.py"],
                Some(("/app/c.py", 1)),
            ),
            (
                "a package importing from itself what no earlier statement bound",
                &[
                    ("app/main.py", "import pkg\n"),
                    ("app/pkg/__init__.py", "a = 1\nfrom pkg import b\nb = 2\n"),
                ],
                &["python", "main.py"],
                Some(("/app/pkg/__init__.py", 2)),
            ),
            (
                "a module importing from itself, answered only by a star import that comes back",
                &[
                    ("app/main.py", "import c\n"),
                    ("app/c.py", "from r import *\n"),
                    ("app/r.py", "from c import *\nfrom r import nope\n"),
                ],
                &["python", "main.py"],
                Some(("/app/r.py", 2)),
            ),
            (
                "a package importing from itself what it bound before",
                &[
                    ("app/main.py", "import pkg\n"),
                    ("app/pkg/__init__.py", "b = 1\nfrom pkg import b\n"),
                ],
                &["python", "main.py"],
                None,
            ),
            (
                "a name only the running star import binds",
                &[
                    ("app/main.py", "import a\n"),
                    ("app/a.py", "from s import *\n"),
                    ("app/s.py", "import b\ng = 1\n"),
                    ("app/b.py", "from a import g\n"),
                ],
                &["python", "main.py"],
                Some(("/app/b.py", 1)),
            ),
            (
                "an earlier star import whose __all__ leaves the name out",
                &[
                    ("app/main.py", "import a\n"),
                    ("app/a.py", "from s import *\nimport b\ng = 1\n"),
                    ("app/s.py", "__all__ = ['h']\nh = 1\ng = 2\n"),
                    ("app/b.py", "from a import g\n"),
                ],
                &["python", "main.py"],
                Some(("/app/b.py", 1)),
            ),
            (
                "a cycle caught by a guard, met again unguarded",
                &[
                    ("app/main.py", "import a\n"),
                    (
                        "app/a.py",
                        "try:\n    import b\nexcept ImportError:\n    pass\nimport b\ng = 1\n",
                    ),
                    ("app/b.py", "from a import g\n"),
                ],
                &["python", "main.py"],
                Some(("/app/b.py", 1)),
            ),
            (
                "an import under a test importgate cannot decide may not run",
                &[
                    ("app/main.py", "import a\n"),
                    (
                        "app/a.py",
                        "import os\nif os.environ.get('X'):\n    import b\ng = 1\n",
                    ),
                    ("app/b.py", "from a import g\n"),
                ],
                &["python", "main.py"],
                None,
            ),
        ];
        for (about, files, cmd, expected) in cases {
            let r = check(&image(files, cmd), &CheckOptions::default()).unwrap();
            let cycles: Vec<&Finding> = r
                .findings
                .iter()
                .filter(|f| f.code == Code::CircularImport)
                .collect();
            let got = cycles.first().map(|f| (f.file.as_str(), f.line));
            assert_eq!(got, *expected, "{about}: {:#?}", r.findings);
            assert!(cycles.len() <= 1, "{about}: {:#?}", r.findings);
            if let Some(f) = cycles.first() {
                assert_eq!(f.severity, Severity::Error, "{about}");
                assert!(
                    f.message.contains("partially initialized module"),
                    "{about}: {}",
                    f.message
                );
                let failing: Vec<_> = r
                    .imports
                    .iter()
                    .filter(|i| i.status == ImportStatus::Error)
                    .map(|i| (i.file.as_str(), i.line))
                    .collect();
                assert_eq!(failing, vec![(f.file.as_str(), f.line)], "{about}");
            } else {
                assert_eq!(r.summary.errors, 0, "{about}: {:#?}", r.findings);
            }
        }
    }

    const SITE_GUNICORN_INIT: &str = "usr/local/lib/python3.12/site-packages/gunicorn/__init__.py";
    const SITE_GUNICORN_APP_INIT: &str =
        "usr/local/lib/python3.12/site-packages/gunicorn/app/__init__.py";
    const SITE_GUNICORN_WSGIAPP: &str =
        "usr/local/lib/python3.12/site-packages/gunicorn/app/wsgiapp.py";

    #[test]
    fn guarded_dependency_failures_are_not_startup_errors() {
        let lib = |p: &str| format!("{SITE}/{p}");
        let (t, o, s) = (
            lib("tls/__init__.py"),
            lib("optional/__init__.py"),
            lib("six.py"),
        );
        let img = image(
            &[
                ("app/main.py", "import tls\nimport six.moves\n"),
                (
                    &t,
                    "try:\n    import optional\nexcept ImportError:\n    from fallback import x\n",
                ),
                (&o, "import OpenSSL\n"),
                (&s, "import sys\nsys.modules[__name__ + '.moves'] = None\n"),
            ],
            &["python", "main.py"],
        );
        let r = check(&img, &CheckOptions::default()).unwrap();
        for m in ["OpenSSL", "fallback"] {
            assert!(by_module(&r, m).is_empty(), "{m}: {:#?}", r.findings);
        }
        assert_eq!(r.startup.modules_reached, 4, "{:#?}", r.startup);
    }

    #[test]
    fn policy_from_pyproject_in_the_working_directory() {
        let img = image(
            &[
                (
                    "app/main.py",
                    "import missing_a\nimport missing_b  # importgate: ignore\n",
                ),
                (
                    "app/pyproject.toml",
                    "[tool.importgate]\nignore-modules = [\"missing_a\"]\n",
                ),
            ],
            &["python", "main.py"],
        );
        let r = check(&img, &CheckOptions::default()).unwrap();
        assert!(r.findings.is_empty(), "{:#?}", r.findings);
        assert!(
            r.startup
                .notes
                .iter()
                .any(|n| n == "configuration read from /app/pyproject.toml")
        );
        let err = check(
            &img,
            &CheckOptions {
                severity: vec!["lazy=loud".into()],
                ..CheckOptions::default()
            },
        );
        assert!(matches!(
            err,
            Err(CheckError::Policy(policy::PolicyError::UnknownSeverity(_)))
        ));
    }
}
