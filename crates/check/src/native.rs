//! What only the image can reveal about an import that the finder resolves: whether CPython can
//! then load it. Extension modules must match the platform's machine and find every shared
//! library they need through the image's dynamic loader; the runtime user must be able to list
//! the directories the finder searches and read the module files. Each problem becomes a finding
//! on the import that triggers it, in the words CPython would use.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use importgate_image::{Image, Vfs};
use importgate_python::abi::machine_for_arch;
use importgate_python::access::{self, User};
use importgate_python::ldso::{Loader, MissingLibrary, package_for, package_for_name};
use importgate_python::memo::Memo;
use importgate_python::resolve::{Failed, Found, Resolution};
use importgate_python::{Origin, Resolver, Runtime};
use importgate_source::{
    FinderRef, ImportKind, ImportSite, LoadTarget, NativeLoad, ParsedModule, Scope, TargetEnv,
};

use crate::Code;
use crate::checker::{Identity, site_target};
use crate::closure;

/// Whether the loader should summarise a member as ELF: anything named like a shared object.
/// Only the summary is kept, so the size bound is the per-member cap of the image crate.
pub fn wants_elf_summary(path: &str, _size: u64) -> bool {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    // Programs too (`/usr/local/bin/uv`, a server binary): what the Entrypoint runs must load.
    name.ends_with(".so")
        || name.contains(".so.")
        || dir.ends_with("/bin")
        || dir.ends_with("/sbin")
}

/// The dynamic loader's configuration files, whose contents the loader model reads.
pub fn wants_contents(path: &str, size: u64) -> bool {
    size <= 16 << 20
        && (path == "/etc/ld.so.cache"
            || path == "/etc/ld.so.conf"
            || (path.starts_with("/etc/ld.so.conf.d/") && path.ends_with(".conf"))
            || (path.starts_with("/etc/ld-musl-") && path.ends_with(".path")))
}

/// A load-time failure of an import that the finder resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeProblem {
    pub code: Code,
    /// The dotted module whose loading fails.
    pub module: String,
    pub message: String,
    pub notes: Vec<String>,
    pub hint: Option<String>,
}

/// A module an installed package surely imports that is not in the image
/// ([`Native::missing_dependency`]): the problem, the module whose code raises it, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingDependency {
    pub problem: NativeProblem,
    pub raised_in: String,
    pub file: String,
    pub line: u32,
}

/// Stdlib modules that import an extension of `lib-dynload` unconditionally (no pure-Python
/// fallback), so a missing library of that extension breaks the import.
const STDLIB_EXTENSIONS: &[(&str, &str)] = &[
    ("sqlite3", "_sqlite3"),
    ("ssl", "_ssl"),
    ("ctypes", "_ctypes"),
    ("lzma", "_lzma"),
    ("bz2", "_bz2"),
    ("curses", "_curses"),
    ("dbm.gnu", "_gdbm"),
    ("xml.parsers.expat", "pyexpat"),
    ("readline", "readline"),
    ("zlib", "zlib"),
    ("csv", "_csv"),
    ("tkinter", "_tkinter"),
    ("dbm.ndbm", "_dbm"),
];

/// The distribution packages that ship a stdlib extension module split out of the
/// interpreter's own package: (extension, Debian/Ubuntu, Alpine, Fedora/RHEL). Official
/// `python` images build them all in; distro Pythons leave them to these packages.
const STDLIB_EXTENSION_PACKAGES: &[(&str, &str, &str, &str)] = &[
    (
        "_tkinter",
        "python3-tk",
        "python3-tkinter",
        "python3-tkinter",
    ),
    ("_gdbm", "python3-gdbm", "python3-gdbm", "python3-libs"),
    ("_dbm", "python3-gdbm", "python3-gdbm", "python3-libs"),
    ("_sqlite3", "libpython3-stdlib", "python3", "python3-libs"),
    ("_ssl", "libpython3-stdlib", "python3", "python3-libs"),
    ("_ctypes", "libpython3-stdlib", "python3", "python3-libs"),
    ("_lzma", "libpython3-stdlib", "python3", "python3-libs"),
    ("_bz2", "libpython3-stdlib", "python3", "python3-libs"),
    ("_curses", "libpython3-stdlib", "python3", "python3-libs"),
    ("pyexpat", "libpython3-stdlib", "python3", "python3-libs"),
    ("_csv", "libpython3-stdlib", "python3", "python3-libs"),
];

/// At most this many extension modules are checked per distribution package: scipy has a few
/// hundred, and a pathological tree must not make the check quadratic.
const MAX_EXTENSIONS_PER_PACKAGE: usize = 4096;

/// At most this many third-party modules are followed from one import: pandas executes a few
/// hundred; a pathological tree must not make the check unbounded.
const MAX_FILES_PER_WALK: usize = 4096;

/// The first extension module that fails to load on a walk, with the modules executed from the
/// walk's start down to it (inclusive).
#[derive(Debug, Clone)]
struct Hit {
    chain: Vec<String>,
    module: String,
    file: String,
    /// A `ctypes` load in `module`'s code that fails, instead of an extension module.
    load: Option<Box<NativeProblem>>,
}

impl Hit {
    fn new(chain: Vec<String>, module: &str, file: &str) -> Hit {
        Hit {
            chain,
            module: module.to_string(),
            file: file.to_string(),
            load: None,
        }
    }

    /// The same failure, reached after the modules of `prefix`.
    fn after(mut self, prefix: &[String]) -> Hit {
        let mut chain = prefix.to_vec();
        let skip = usize::from(chain.last() == self.chain.first());
        chain.extend(self.chain.drain(..).skip(skip));
        self.chain = chain;
        self
    }
}

/// One walk's state: the files executed so far (CPython does not run a module twice).
struct Walk {
    visited: BTreeSet<String>,
    /// Files still executing, with their depth.
    in_progress: BTreeMap<String, usize>,
    /// The lowest depth of an executing file a cycle skipped, since the current file started.
    low: usize,
    files: usize,
}

/// Whether one extension module loads.
#[derive(Debug, Clone)]
enum ExtVerdict {
    Loads,
    /// Refused by `dlopen` before its libraries are looked at (wrong machine).
    Problem(NativeProblem),
    Missing(MissingLibrary),
}

/// What `ctypes.util.find_library(name)` returns in the image (Linux: `ldconfig -p`, then
/// `gcc`/`cc` and `ld -t`, each of the last two only with `objdump` to read the soname).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindLibrary {
    /// The soname `ldconfig -p` lists first.
    Found(String),
    /// `None`, with why each way came up empty.
    NotFound(Vec<String>),
    /// The compiler or linker fallback would run: what it finds is not decided here.
    Unknown,
}

/// Per-check state for the native checks.
pub struct Native<'a> {
    vfs: &'a Vfs,
    /// `PATH` of the image's Env (`shutil.which` searches it), else Python's `os.defpath`.
    path_dirs: Vec<String>,
    rt: &'a Runtime,
    pub user: User,
    pub loader: Loader<'a>,
    machine: Option<u16>,
    target: TargetEnv,
    /// The site directories (`…-packages/`) whose modules are followed.
    site_prefixes: Vec<String>,
    /// Verdict per extension-module path.
    verdicts: Memo<ExtVerdict>,
    /// First failing extension `(module, file)` per package directory scanned as a fallback.
    packages: Memo<Option<(String, String)>>,
    /// By package directory: the modules its own files import under a handler for every
    /// `ImportError` ([`Native::optional_in_package`]).
    optional: Memo<Arc<BTreeSet<String>>>,
    /// First failing extension per third-party module file, walked from scratch: an image's
    /// code imports the same few packages from thousands of sites.
    walks: Mutex<BTreeMap<String, Option<Hit>>>,
    /// Parsed third-party modules (seeded with the startup closure's), `None` when unreadable.
    sources: Memo<Option<Arc<ParsedModule>>>,
    /// Parses from earlier runs.
    store: Option<Arc<dyn importgate_source::ParseStore>>,
    /// Resolutions of the module names the walks import.
    resolutions: Memo<Arc<Resolution>>,
    /// Modules followed by the walks, and those parsed for them alone, for the figures.
    walked: AtomicUsize,
    parsed_here: AtomicUsize,
    /// Time spent in [`Native::inspect`], for the performance figures.
    spent: Mutex<std::time::Duration>,
    /// The application's files, when told ([`Native::know_app_files`]): every other module
    /// outside the standard library is followed, also installed code outside the site
    /// directories (a `pip install --target` tree on `PYTHONPATH`, a Lambda task root).
    app_files: Option<BTreeSet<String>>,
    /// [`Native::missing_dependency`]'s walks, by the file of the module walked from.
    missing_walks: Memo<Option<MissingHit>>,
    /// The walks go through the standard library too: an application module shadows one of
    /// its modules, so its own imports can fail.
    through_stdlib: bool,
}

/// What [`Native::missing_dependency`]'s walk meets: the chain of modules to the one that
/// raises, the file and line that raise, and the name asked for when the module is there but
/// lacks it (`None`: the module is missing).
type MissingHit = (Vec<String>, String, u32, Option<String>);

/// How an installed module is known to the import system: a package is its own `__package__`,
/// a module its parent's; never `__main__`.
fn installed_identity(name: &str, is_package: bool) -> Identity {
    Identity {
        package: if is_package {
            Some(name.to_string())
        } else {
            name.rsplit_once('.').map(|(p, _)| p.to_string())
        },
        script: false,
        main: false,
    }
}

fn parent(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some(("", _)) => "/",
        Some((p, _)) => p,
        None => "/",
    }
}

impl<'a> Native<'a> {
    pub fn new(
        image: &'a Image,
        rt: &'a Runtime,
        store: Option<Arc<dyn importgate_source::ParseStore>>,
    ) -> Self {
        let vfs = &image.fs;
        let machine =
            machine_for_arch(&image.config.architecture).or_else(|| interpreter_machine(vfs, rt));
        let site_prefixes = rt
            .sys_path
            .iter()
            .filter(|e| {
                !matches!(
                    e.origin,
                    Origin::Stdlib | Origin::StdlibZip | Origin::LibDynload
                ) && e.path.contains("-packages")
            })
            .map(|e| format!("{}/", e.path.trim_end_matches('/')))
            .collect();
        let path_dirs = image
            .config
            .env_var("PATH")
            .unwrap_or("/bin:/usr/bin")
            .split(':')
            .filter(|d| !d.is_empty())
            .map(String::from)
            .collect();
        Native {
            site_prefixes,
            path_dirs,
            vfs,
            rt,
            user: access::program_user(vfs, &image.config, rt.run_as.as_deref()),
            loader: Loader::new(vfs, &image.config, machine),
            machine,
            target: crate::checker::linux_target(rt, Default::default()),
            verdicts: Memo::default(),
            packages: Memo::default(),
            optional: Memo::default(),
            walks: Mutex::new(BTreeMap::new()),
            sources: Memo::default(),
            store,
            resolutions: Memo::default(),
            walked: AtomicUsize::new(0),
            parsed_here: AtomicUsize::new(0),
            spent: Mutex::new(std::time::Duration::ZERO),
            app_files: None,
            missing_walks: Memo::default(),
            through_stdlib: false,
        }
    }

    /// Tells which files are the application's (whose imports are checked at their own
    /// sites); without it, only the site directories' modules are followed.
    /// Makes [`Native::missing_dependency`] walk the standard library's imports as well.
    pub fn follow_stdlib(&mut self) {
        self.through_stdlib = true;
    }

    pub fn know_app_files(&mut self, files: BTreeSet<String>) {
        self.app_files = Some(files);
    }

    /// Whether a module file is followed by the walks: installed code, not the application's.
    fn followed(&self, file: &str) -> bool {
        match &self.app_files {
            Some(app) => {
                !app.contains(file)
                    && (self.in_site_dir(file)
                        || !app
                            .contains(&self.vfs.realpath(file).unwrap_or_else(|| file.to_string())))
            }
            None => self.in_site_dir(file),
        }
    }

    /// Number of distinct ELF objects whose dependencies were followed.
    pub fn elf_inspected(&self) -> usize {
        self.loader.inspected.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// The first problem loading the modules of a successful resolution, if any.
    pub fn inspect(&self, resolver: &Resolver<'_>, res: &Resolution) -> Option<NativeProblem> {
        if res.failure.is_some() {
            return None;
        }
        let started = std::time::Instant::now();
        let verdict = self.inspect_resolved(resolver, res);
        if let Ok(mut spent) = self.spent.lock() {
            *spent += started.elapsed();
        }
        verdict
    }

    fn inspect_resolved(&self, resolver: &Resolver<'_>, res: &Resolution) -> Option<NativeProblem> {
        if let Some(p) = self.permissions(res) {
            return Some(p);
        }
        // Each module the import executes, in order: the packages on the way, then the
        // module. The first extension that cannot load is the error CPython raises.
        for (name, found) in &res.found {
            let hit = self.entry_problem(resolver, name, found);
            if let Some(hit) = hit {
                if let Some(mut p) = hit.load {
                    p.notes
                        .insert(0, format!("loading chain: {}", hit.chain.join(" → ")));
                    return Some(*p);
                }
                return self.extension(&hit.module, &hit.file, &hit.chain);
            }
        }
        None
    }

    /// `shutil.which(program)` in the image.
    fn which(&self, program: &str) -> Option<String> {
        self.path_dirs
            .iter()
            .map(|d| format!("{}/{program}", d.trim_end_matches('/')))
            .find(|p| self.vfs.is_file(p))
    }

    /// `ctypes.util.find_library(name)` on Linux, as far as the image decides it.
    pub fn find_library(&self, name: &str) -> FindLibrary {
        let mut why = Vec::new();
        if !self.vfs.is_file("/sbin/ldconfig") {
            why.push(
                "the image has no /sbin/ldconfig, whose `ldconfig -p` is the first way".into(),
            );
        } else if self.loader.flavor == importgate_python::ldso::Flavor::Musl {
            why.push("musl's /sbin/ldconfig lists no cache for `ldconfig -p`".into());
        } else {
            let prefix = format!("lib{name}.");
            if let Some(soname) = self
                .loader
                .cached_sonames()
                .iter()
                .find(|s| s.starts_with(&prefix))
            {
                return FindLibrary::Found(soname.clone());
            }
            why.push(format!(
                "`ldconfig -p` lists no `{prefix}*` (/etc/ld.so.cache{})",
                if self.vfs.is_file("/etc/ld.so.cache") {
                    ""
                } else {
                    " does not exist"
                }
            ));
        }
        let objdump = self.which("objdump");
        let compiler = self.which("gcc").or_else(|| self.which("cc"));
        let ld = self.which("ld");
        if objdump.is_some() && (compiler.is_some() || ld.is_some()) {
            return FindLibrary::Unknown;
        }
        why.push(match (compiler.or(ld), objdump) {
            (None, _) => "no `gcc`, `cc` or `ld` on PATH for the fallbacks".into(),
            (Some(p), _) => {
                format!("{p} is there but `objdump` is not on PATH, so its result is dropped")
            }
        });
        FindLibrary::NotFound(why)
    }

    /// The error a `ctypes` load raises in the image, if it fails.
    pub fn load_problem(
        &self,
        load: &NativeLoad,
        module: &str,
        finder: &dyn Fn(&FinderRef) -> Option<String>,
    ) -> Option<NativeProblem> {
        let library = |missing: MissingLibrary, name: &str, via: Option<String>| {
            let lib = missing.library.clone();
            let mut notes = Vec::new();
            if let Some(via) = via {
                notes.push(via);
            }
            if missing.chain.is_empty() {
                notes.push(format!(
                    "`{}` loads `{name}` with dlopen; searched {}",
                    load.statement,
                    missing.searched.join(", ")
                ));
            } else {
                let links: Vec<&str> = missing
                    .chain
                    .iter()
                    .map(|o| o.rsplit('/').next().unwrap_or(o))
                    .collect();
                notes.push(format!(
                    "`{}` loads {}, which needs {} → `{lib}` (DT_NEEDED); searched {}",
                    load.statement,
                    missing.chain.first().map(String::as_str).unwrap_or(name),
                    links.join(" → "),
                    missing.searched.join(", ")
                ));
            }
            let hint = if let Some(dir) = &missing.not_in_cache {
                format!(
                    "`{lib}` is in {dir} (listed in /etc/ld.so.conf) but not in /etc/ld.so.cache: run `ldconfig` after installing it, or add the directory to LD_LIBRARY_PATH"
                )
            } else if lib.contains('/') {
                format!(
                    "`{lib}` does not exist in the image (a relative path is opened from the working directory {}): copy the library there or load it by an absolute path",
                    self.rt.cwd
                )
            } else {
                match package_for(&lib) {
                    Some((deb, alpine)) => format!(
                        "install the system package that provides `{lib}` in the final stage: `apt-get install {deb}` (Debian/Ubuntu) or `apk add {alpine}` (Alpine)"
                    ),
                    None => format!(
                        "install the library that provides `{lib}` in the final stage, or copy it from the build stage"
                    ),
                }
            };
            NativeProblem {
                code: Code::MissingSharedLibrary,
                module: module.to_string(),
                message: format!(
                    "{lib}: cannot open shared object file: No such file or directory"
                ),
                notes,
                hint: Some(hint),
            }
        };
        match &load.target {
            LoadTarget::Dlopen(name) => {
                let missing = self.loader.dlopen(name, &self.rt.cwd).err()?;
                Some(library(missing, name, None))
            }
            LoadTarget::DlopenFound(x) => {
                // `None` makes `CDLL(None)` the main program, which always loads.
                let FindLibrary::Found(soname) = self.find_library(x) else {
                    return None;
                };
                let missing = self.loader.dlopen(&soname, &self.rt.cwd).err()?;
                let via = format!("`find_library('{x}')` returns `{soname}` (from `ldconfig -p`)");
                Some(library(missing, &soname, Some(via)))
            }
            LoadTarget::RequireFound(_) | LoadTarget::RequireFoundVia(_) => {
                let (x, via) = match &load.target {
                    LoadTarget::RequireFoundVia(f) => (
                        finder(f)?,
                        Some(format!(
                            "`{}{}{}()` returns `ctypes.util.find_library(...)` on this platform",
                            ".".repeat(usize::try_from(f.level).unwrap_or(0)),
                            f.module
                                .as_deref()
                                .map(|m| format!("{m}."))
                                .unwrap_or_default(),
                            f.function
                        )),
                    ),
                    LoadTarget::RequireFound(x) => (x.clone(), None),
                    _ => return None,
                };
                let x = &x;
                let FindLibrary::NotFound(why) = self.find_library(x) else {
                    return None;
                };
                let mut notes = vec![format!(
                    "the module raises (line {}) when `ctypes.util.find_library('{x}')` returns None",
                    load.line
                )];
                notes.extend(via);
                notes.extend(why);
                let hint = match package_for_name(x) {
                    Some((deb, alpine)) => format!(
                        "install the system package that provides `lib{x}`: `apt-get install {deb}` (Debian/Ubuntu) or `apk add {alpine}` (Alpine); `find_library` needs it in /etc/ld.so.cache (run `ldconfig` after copying a library by hand)"
                    ),
                    None => format!(
                        "install the library `lib{x}` so that `ldconfig -p` lists it (run `ldconfig` after copying a library by hand)"
                    ),
                };
                Some(NativeProblem {
                    code: Code::MissingSharedLibrary,
                    module: module.to_string(),
                    message: format!(
                        "ctypes.util.find_library('{x}') finds no `lib{x}`, and the module raises"
                    ),
                    notes,
                    hint: Some(hint),
                })
            }
        }
    }

    /// The first `ctypes` load of `parsed` before `(line, column)` (exclusive; `None`: all)
    /// that runs at import, is not caught and fails; `next` is advanced past those looked at.
    fn first_failing_load(
        &self,
        parsed: &ParsedModule,
        module: &str,
        next: &mut usize,
        before: Option<(u32, u32)>,
        finder: &dyn Fn(&FinderRef) -> Option<String>,
    ) -> Option<NativeProblem> {
        while let Some(load) = parsed.native_loads.get(*next) {
            if before.is_some_and(|b| (load.line, load.column) >= b) {
                return None;
            }
            *next += 1;
            if self.load_runs(load)
                && let Some(p) = self.load_problem(load, module, finder)
            {
                return Some(p);
            }
        }
        None
    }

    /// The library a finder function returns `find_library` of on this platform: exactly one
    /// of its `find_library` calls sits in arms known to run, every other in an arm known dead.
    pub fn finder_library(&self, parsed: &ParsedModule, function: &str) -> Option<String> {
        let finder = parsed.finders.iter().find(|f| f.name == function)?;
        let mut live = None;
        for (conditions, name) in &finder.candidates {
            let reach: Vec<Option<bool>> =
                conditions.iter().map(|c| c.reaches(&self.target)).collect();
            if reach.iter().all(|r| *r == Some(true)) {
                if live.is_some() {
                    return None;
                }
                live = Some(name.clone());
            } else if !reach.contains(&Some(false)) {
                return None;
            }
        }
        live
    }

    /// The finder named at a load in the module `name` (a package when `is_package`).
    fn resolve_finder(
        &self,
        resolver: &Resolver<'_>,
        parsed: &ParsedModule,
        name: &str,
        is_package: bool,
        f: &FinderRef,
    ) -> Option<String> {
        if f.level == 0 && f.module.is_none() {
            return self.finder_library(parsed, &f.function);
        }
        let mut target: Vec<&str> = name.split('.').collect();
        if f.level > 0 {
            if !is_package {
                target.pop();
            }
            for _ in 1..f.level {
                target.pop()?;
            }
        } else {
            target.clear();
        }
        if let Some(m) = &f.module {
            target.extend(m.split('.'));
        }
        if target.is_empty() {
            return None;
        }
        let res = self.resolve(resolver, &target.join("."));
        let file = res.last_found()?.file()?.to_string();
        if !file.ends_with(".py") {
            return None;
        }
        let other = self.source(&file)?;
        self.finder_library(&other, &f.function)
    }

    /// Why importing an alternative of a fallback chain fails, if it does (`true`: a native
    /// failure); `None` when it imports or cannot be decided.
    fn alternative_fails(
        &self,
        resolver: &Resolver<'_>,
        site: &ImportSite,
        id: &Identity,
        chain: &[String],
        walk: &mut Walk,
    ) -> Option<(String, bool)> {
        let Some((Ok(module), imported)) = site_target(site, id) else {
            return None;
        };
        let res = self.resolve(resolver, &module);
        if let Some(failed) = &res.failure {
            return (!failed.uncertain)
                .then(|| (format!("No module named '{}'", failed.module), false));
        }
        let mut steps = vec![res];
        if let Some(n) = imported.filter(|n| n != "*")
            && let Some(last) = steps[0].last_found()
        {
            if !resolver.submodule_exists(last, &n) {
                return None;
            }
            let sub = self.resolve(resolver, &format!("{module}.{n}"));
            if let Some(failed) = &sub.failure {
                return (!failed.uncertain)
                    .then(|| (format!("No module named '{}'", failed.module), false));
            }
            steps.push(sub);
        }
        for step in &steps {
            for (n, f) in &step.found {
                if let Some(hit) = self.found_problem(resolver, n, f, chain, walk) {
                    let message = match &hit.load {
                        Some(p) => p.message.clone(),
                        None => self
                            .extension(&hit.module, &hit.file, &hit.chain)
                            .map(|p| p.message)
                            .unwrap_or_default(),
                    };
                    return Some((format!("{} ({})", message, hit.chain.join(" → ")), true));
                }
            }
        }
        None
    }

    /// Whether a load runs, uncaught, while its module is imported.
    pub fn load_runs(&self, load: &NativeLoad) -> bool {
        let c = &load.context;
        !matches!(c.scope, Scope::Function(_))
            && !load.caught()
            && !c.handler
            && !c.type_checking
            && !c
                .conditions
                .iter()
                .any(|k| k.reaches(&self.target) != Some(true))
    }

    /// The first extension that fails while `name` (one entry of a resolution) executes,
    /// walked from scratch (walks of third-party modules are memoised).
    fn entry_problem(&self, resolver: &Resolver<'_>, name: &str, found: &Found) -> Option<Hit> {
        let mut walk = Walk {
            visited: BTreeSet::new(),
            in_progress: BTreeMap::new(),
            low: usize::MAX,
            files: 0,
        };
        self.found_problem(resolver, name, found, &[], &mut walk)
    }

    /// The first extension that fails while the module `name` executes, reached after the
    /// modules of `prefix`.
    fn found_problem(
        &self,
        resolver: &Resolver<'_>,
        name: &str,
        found: &Found,
        prefix: &[String],
        walk: &mut Walk,
    ) -> Option<Hit> {
        // Built only when a hit or a walk needs it: most calls end at the memo below.
        let chain = || {
            let mut chain = prefix.to_vec();
            if chain.last().map(String::as_str) != Some(name) {
                chain.push(name.to_string());
            }
            chain
        };
        if let Some(file) = self.extension_file(found) {
            return self
                .extension_fails(name, file)
                .then(|| Hit::new(chain(), name, file));
        }
        let file = found.file()?;
        // Extensions an imported stdlib module loads in its own code (site-packages may lie
        // inside the stdlib directory).
        if !self.in_site_dir(file) && file.starts_with(&self.rt.interpreter.stdlib) {
            for (module, ext) in STDLIB_EXTENSIONS {
                if *module != name || *ext == *module {
                    continue;
                }
                let res = resolver.resolve(ext);
                if let Some(Found::Extension { file }) = res.last_found()
                    && self.extension_fails(ext, file)
                {
                    let mut chain = chain();
                    chain.push(ext.to_string());
                    return Some(Hit::new(chain, ext, file));
                }
                // Not built in and not in lib-dynload: the stdlib module's own import of it
                // raises (a distro Python that splits it into another package, a stripped
                // image). An empty file marks it.
                if res.failure.as_ref().is_some_and(|f| !f.uncertain) {
                    let mut chain = chain();
                    chain.push(ext.to_string());
                    return Some(Hit::new(chain, ext, ""));
                }
            }
            return None;
        }
        // The application's own imports are checked at their own sites; a third-party
        // module's are followed here.
        if !self.followed(file) {
            return None;
        }
        // Walks are keyed by real path; a real path resolves to itself, so a file found under
        // its own key needs no resolving (most installed modules: thousands of lookups).
        if let Ok(w) = self.walks.lock()
            && let Some(hit) = w.get(file)
        {
            return hit.clone().map(|h| h.after(prefix));
        }
        let real = self.vfs.realpath(file).unwrap_or_else(|| file.to_string());
        if real != file
            && let Ok(w) = self.walks.lock()
            && let Some(hit) = w.get(&real)
        {
            return hit.clone().map(|h| h.after(prefix));
        }
        if !walk.visited.insert(real.clone()) {
            // Already executed (or executing: a cycle) in this import.
            if let Some(&depth) = walk.in_progress.get(&real) {
                walk.low = walk.low.min(depth);
            }
            return None;
        }
        walk.files += 1;
        self.walked.fetch_add(1, Ordering::Relaxed);
        if walk.files > MAX_FILES_PER_WALK {
            walk.low = 0;
            return None;
        }
        let depth = walk.in_progress.len();
        walk.in_progress.insert(real.clone(), depth);
        let outer_low = std::mem::replace(&mut walk.low, usize::MAX);
        let chain = chain();
        let own = chain.len() - 1;
        let hit = self.walk_module(resolver, name, found, &real, chain, walk);
        walk.in_progress.remove(&real);
        // The result is the module's own (what importing it from scratch finds) unless the
        // walk skipped a module still executing above it (a cycle through an ancestor).
        if walk.low >= depth
            && let Ok(mut w) = self.walks.lock()
        {
            let relative = hit.clone().map(|mut h| {
                h.chain.drain(..own);
                h
            });
            w.insert(real, relative);
        }
        walk.low = walk.low.min(outer_low);
        hit
    }

    /// Follows the import-time code of one third-party module: the imports that run while it
    /// is imported (module level, live branch, not `TYPE_CHECKING`) and whose failure is not
    /// caught. Imports under `try/except ImportError` and fallbacks in `except` handlers are
    /// optional: an extension they load may be missing. Where the code cannot be seen (not
    /// captured, not parsed, bytecode only, a non-literal dynamic import), every extension in
    /// the package's tree counts instead.
    fn walk_module(
        &self,
        resolver: &Resolver<'_>,
        name: &str,
        found: &Found,
        file: &str,
        chain: Vec<String>,
        walk: &mut Walk,
    ) -> Option<Hit> {
        let is_package = matches!(found, Found::RegularPackage { .. });
        let package_dir = found
            .search_path()
            .and_then(|p| p.first().cloned())
            .filter(|_| is_package);
        let scan = |dir: Option<&String>| {
            let (module, ext) = self.package_extensions(dir?)?;
            let mut chain = chain.clone();
            chain.push(module.clone());
            Some(Hit::new(chain, &module, &ext))
        };
        let parsed = file
            .ends_with(".py")
            .then(|| self.source(file))
            .flatten()
            .filter(|p| p.syntax_errors.is_empty());
        let Some(parsed) = parsed else {
            return scan(package_dir.as_ref());
        };
        let id = installed_identity(name, is_package);
        let mut next_load = 0;
        let finder = |f: &FinderRef| self.resolve_finder(resolver, &parsed, name, is_package, f);
        let load_hit = |p: NativeProblem| {
            Some(Hit {
                chain: chain.clone(),
                module: name.to_string(),
                file: file.to_string(),
                load: Some(Box::new(p)),
            })
        };
        for site in &parsed.imports {
            if let Some(p) = self.first_failing_load(
                &parsed,
                name,
                &mut next_load,
                Some((site.line, site.column)),
                &finder,
            ) {
                return load_hit(p);
            }
            // A handler for `ModuleNotFoundError` alone lets an extension's load failure
            // through.
            if !closure::runs_at_import(site, &self.target)
                || site.context.catches_import_error()
                || site.context.handler
                || site.context.main_only == Some(true)
            {
                continue;
            }
            if matches!(site.kind, ImportKind::Dynamic { module: None, .. }) {
                // What it loads is not known: the package's tree counts.
                let dir = package_dir
                    .clone()
                    .or_else(|| (!is_package).then(|| parent(file).to_string()));
                if let Some(hit) = scan(dir.as_ref()) {
                    return Some(hit);
                }
                continue;
            }
            let Some((Ok(module), imported)) = site_target(site, &id) else {
                continue;
            };
            // Under a test importgate cannot decide, a module its own package imports under
            // `try/except ImportError` elsewhere: the test is the flag that import set
            // (multidict's `USE_EXTENSIONS`, wcwidth's `HAS_C_EXTENSION`).
            if !closure::unconditional(site, &self.target)
                && self.optional_in_package(resolver, &module, imported.as_deref())
            {
                continue;
            }
            let res = self.resolve(resolver, &module);
            if res.failure.is_some() {
                // Not found: another rule's finding, not a native one.
                continue;
            }
            let mut steps = vec![res];
            if let Some(n) = imported.filter(|n| n != "*")
                && let Some(last) = steps[0].last_found()
                && resolver.submodule_exists(last, &n)
            {
                let sub = self.resolve(resolver, &format!("{module}.{n}"));
                if sub.failure.is_none() {
                    steps.push(sub);
                }
            }
            for step in &steps {
                for (n, f) in &step.found {
                    if let Some(hit) = self.found_problem(resolver, n, f, &chain, walk) {
                        return Some(hit);
                    }
                }
            }
        }
        if let Some(p) = self.first_failing_load(&parsed, name, &mut next_load, None, &finder) {
            return load_hit(p);
        }
        // A fallback chain whose every alternative fails raises.
        for fb in &parsed.fallbacks {
            let c = &fb.context;
            let runs = match &c.scope {
                Scope::Module => true,
                Scope::Function(f) => parsed.called_at_import.contains(f),
                Scope::Class(_) => false,
            };
            if !runs
                || c.guarded()
                || c.handler
                || c.type_checking
                || c.conditions
                    .iter()
                    .any(|k| k.reaches(&self.target) != Some(true))
            {
                continue;
            }
            let mut reasons = Vec::new();
            let mut native = false;
            for &i in &fb.alternatives {
                let Some(site) = parsed.imports.get(i) else {
                    break;
                };
                match self.alternative_fails(resolver, site, &id, &chain, walk) {
                    Some((reason, is_native)) => {
                        native |= is_native;
                        reasons.push(format!("`{}`: {reason}", site.statement));
                    }
                    None => break,
                }
            }
            if reasons.len() != fb.alternatives.len() {
                continue;
            }
            let mut notes = vec![format!(
                "`{name}` ({file}) tries {} imports bound to `{}` and raises on line {} when none succeeds",
                fb.alternatives.len(),
                fb.var,
                fb.line
            )];
            notes.extend(reasons);
            return load_hit(NativeProblem {
                code: if native {
                    Code::MissingSharedLibrary
                } else {
                    Code::ModuleNotFound
                },
                module: name.to_string(),
                message: format!(
                    "`{name}` raises ImportError: every alternative it imports into `{}` fails",
                    fb.var
                ),
                notes,
                hint: Some(
                    "install what one of the alternatives needs (the failure of each is listed above)"
                        .into(),
                ),
            });
        }
        None
    }

    /// `resolver.resolve`, memoised: the walks import the same modules from many files.
    /// The parsed modules this holds, to be freed elsewhere.
    pub(crate) fn take_sources(&mut self) -> Memo<Option<Arc<ParsedModule>>> {
        std::mem::take(&mut self.sources)
    }

    fn resolve(&self, resolver: &Resolver<'_>, module: &str) -> Arc<Resolution> {
        self.resolutions
            .get_or_compute(module, || Arc::new(resolver.resolve(module)))
    }

    /// The file of an extension module (an extension can also be a package's `__init__`).
    fn extension_file<'f>(&self, found: &'f Found) -> Option<&'f str> {
        match found {
            Found::Extension { file } => Some(file.as_str()),
            Found::RegularPackage { init, .. }
                if self
                    .rt
                    .interpreter
                    .extension_suffixes
                    .iter()
                    .any(|s| init.ends_with(s.as_str())) =>
            {
                Some(init.as_str())
            }
            _ => None,
        }
    }

    /// A module an installed package imports whenever it is imported, but that is not in the
    /// image: the import of the package raises `ModuleNotFoundError` from inside it (a
    /// runtime stage that copied `fastapi` but not `starlette`). For imports off the startup
    /// path, whose dependencies the startup closure does not follow. Only what surely runs is
    /// followed (module level, no `if` in doubt, not guarded, not in a handler), as for the
    /// startup path's dependencies.
    pub fn missing_dependency(
        &self,
        resolver: &Resolver<'_>,
        res: &Resolution,
    ) -> Option<MissingDependency> {
        if res.failure.is_some() {
            return None;
        }
        let mut visited = BTreeSet::new();
        for (name, found) in &res.found {
            // What importing a module from scratch meets depends on that module alone: the
            // same few packages are imported from thousands of sites.
            let Some(key) = found.file() else {
                continue;
            };
            let hit = self.missing_walks.get_or_compute(key, || {
                self.missing_in(resolver, name, found, &mut visited, 0)
            });
            let Some((chain, file, line, lacking)) = hit else {
                continue;
            };
            let missing = chain.last().cloned().unwrap_or_default();
            let raised_in = chain.iter().rev().nth(1).cloned().unwrap_or_default();
            let (code, message, hint) = match &lacking {
                None => (
                    Code::ModuleNotFound,
                    format!("No module named '{missing}'"),
                    format!(
                        "install the distribution that provides `{missing}` beside `{raised_in}`, which imports it whenever it is imported (its dependencies were not all installed or copied)"
                    ),
                ),
                Some(name) => (
                    Code::NameNotInModule,
                    format!("cannot import name '{name}' from '{missing}'"),
                    format!("`{raised_in}` expects `{missing}` to define `{name}`"),
                ),
            };
            return Some(MissingDependency {
                problem: NativeProblem {
                    code,
                    module: missing.clone(),
                    message: message.clone(),
                    notes: vec![format!("raised inside {}: {message}", chain.join(" → "))],
                    hint: Some(hint),
                },
                raised_in,
                file,
                line,
            });
        }
        None
    }

    /// The walk of [`Native::missing_dependency`] from one module: the chain to the missing
    /// module, and the file and line that import it.
    fn missing_in(
        &self,
        resolver: &Resolver<'_>,
        name: &str,
        found: &Found,
        visited: &mut BTreeSet<String>,
        depth: usize,
    ) -> Option<MissingHit> {
        let file = found.file().filter(|f| f.ends_with(".py"))?;
        if !self.followed(file)
            || !self.through_stdlib
                && file.starts_with(&self.rt.interpreter.stdlib)
                && !self.in_site_dir(file)
        {
            return None;
        }
        let real = self.vfs.realpath(file).unwrap_or_else(|| file.to_string());
        if depth > 64 || !visited.insert(real.clone()) {
            return None;
        }
        let parsed = self.source(&real).filter(|p| p.syntax_errors.is_empty())?;
        let is_package = matches!(found, Found::RegularPackage { .. });
        let id = installed_identity(name, is_package);
        for site in &parsed.imports {
            if !closure::runs_at_import(site, &self.target)
                || !closure::unconditional(site, &self.target)
                || site.context.guarded()
                || site.context.handler
                || site.context.main_only == Some(true)
                || matches!(site.kind, ImportKind::Dynamic { .. })
            {
                continue;
            }
            let Some((Ok(module), imported)) = site_target(site, &id) else {
                continue;
            };
            let res = self.resolve(resolver, &module);
            if let Some(failed) = &res.failure {
                // A parent that serves submodules no file holds (`six.moves`), or a search
                // that could not look everywhere, decides nothing.
                let served = res.found.iter().any(|(_, f)| {
                    f.file().and_then(|p| self.source(p)).is_some_and(|p| {
                        p.bindings.dynamic_submodules || p.bindings.dynamic_namespace
                    })
                });
                // Both are `ModuleNotFoundError`s: nothing there, or a plain module where a
                // package is needed (`http.py` asked for `http.server`).
                if failed.uncertain || served {
                    continue;
                }
                return Some((
                    vec![name.to_string(), failed.module.clone()],
                    real,
                    site.line,
                    None,
                ));
            }
            // Through the standard library, a module the application shadows (`types.py`)
            // may lack the name the standard library asks it for.
            if self.through_stdlib
                && let Some(n) = imported.as_deref().filter(|n| *n != "*")
                && let Some(last) = res.last_found()
                && let Some(shadow) = last.file().filter(|f| !self.followed(f))
                && !resolver.submodule_exists(last, n)
                && let Some(parsed) = self.source(shadow)
            {
                let b = &parsed.bindings;
                let unknown = !parsed.syntax_errors.is_empty()
                    || b.dynamic_namespace
                    || !b.star_imports.is_empty()
                    || b.has_getattr;
                if !unknown && !b.names.contains(n) && !n.starts_with("__") {
                    return Some((
                        vec![name.to_string(), module.clone()],
                        real,
                        site.line,
                        Some(n.to_string()),
                    ));
                }
            }
            let mut steps = vec![(module.clone(), res.clone())];
            if let Some(n) = imported.filter(|n| n != "*")
                && let Some(last) = res.last_found()
                && resolver.submodule_exists(last, &n)
            {
                let sub = format!("{module}.{n}");
                let r = self.resolve(resolver, &sub);
                steps.push((sub, r));
            }
            for (_, step) in &steps {
                for (n, f) in &step.found {
                    if let Some((mut chain, at, line, lacking)) =
                        self.missing_in(resolver, n, f, visited, depth + 1)
                    {
                        if chain.first().map(String::as_str) != Some(name) {
                            chain.insert(0, name.to_string());
                        }
                        return Some((chain, at, line, lacking));
                    }
                }
            }
        }
        None
    }

    /// A parsed third-party module, shared with the startup closure's cache.
    /// Whether `module` (or its submodule `imported`) is one its parent package's own files
    /// import under a handler for every `ImportError`: a module the package expects may fail.
    fn optional_in_package(
        &self,
        resolver: &Resolver<'_>,
        module: &str,
        imported: Option<&str>,
    ) -> bool {
        let candidates = std::iter::once(module.to_string()).chain(
            imported
                .filter(|n| *n != "*")
                .map(|n| format!("{module}.{n}")),
        );
        for candidate in candidates {
            let Some((package, _)) = candidate.rsplit_once('.') else {
                continue;
            };
            let res = self.resolve(resolver, package);
            let Some(dir) = res
                .last_found()
                .filter(|f| matches!(f, Found::RegularPackage { .. }))
                .and_then(|f| f.search_path())
                .and_then(|p| p.first().cloned())
            else {
                continue;
            };
            let optional = self
                .optional
                .get_or_compute(&dir, || Arc::new(self.guarded_imports(&dir, package)));
            if optional.contains(&candidate) {
                return true;
            }
        }
        false
    }

    /// The modules the files of package directory `dir` (package `package`) import under a
    /// handler for every `ImportError`, by absolute name (with `from` imports' names as
    /// submodules too).
    fn guarded_imports(&self, dir: &str, package: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let Some(names) = self.vfs.read_dir(dir) else {
            return out;
        };
        for file_name in names.into_iter().filter(|n| n.ends_with(".py")) {
            let stem = file_name.trim_end_matches(".py");
            let is_init = stem == "__init__";
            let name = if is_init {
                package.to_string()
            } else {
                format!("{package}.{stem}")
            };
            let Some(parsed) = self.source(&format!("{dir}/{file_name}")) else {
                continue;
            };
            let id = installed_identity(&name, is_init);
            for site in &parsed.imports {
                if !site.context.catches_import_error() {
                    continue;
                }
                if let Some((Ok(m), imported)) = site_target(site, &id) {
                    if let Some(n) = imported.filter(|n| n != "*") {
                        out.insert(format!("{m}.{n}"));
                    }
                    // `from . import _ext` guards the submodule, not the package.
                    if m != package {
                        out.insert(m);
                    }
                }
            }
        }
        out
    }

    fn source(&self, file: &str) -> Option<Arc<ParsedModule>> {
        self.sources.get_or_compute(file, || {
            self.vfs.read(file).flatten().map(|bytes| {
                self.parsed_here.fetch_add(1, Ordering::Relaxed);
                let v = self.rt.interpreter.version;
                Arc::new(
                    importgate_source::parse_bytes_stored(
                        &bytes,
                        Some(file),
                        self.store.as_deref(),
                    )
                    .for_version(v.major as u32, v.minor as u32),
                )
            })
        })
    }

    /// Modules the checker has parsed already (the startup closure's), by real path.
    pub fn know_sources<'m>(
        &self,
        parsed: impl IntoIterator<Item = (&'m String, &'m Arc<ParsedModule>)>,
    ) {
        for (file, module) in parsed {
            self.sources.insert_if_absent(file, Some(module.clone()));
        }
    }

    fn in_site_dir(&self, dir: &str) -> bool {
        self.site_prefixes
            .iter()
            .any(|p| dir.starts_with(p.as_str()))
    }

    /// Fallback where a package's code cannot be seen: the first extension (by path) in its
    /// tree that cannot load, as `(module, file)`.
    fn package_extensions(&self, dir: &str) -> Option<(String, String)> {
        self.packages
            .get_or_compute(dir, || self.package_extensions_uncached(dir))
    }

    fn package_extensions_uncached(&self, dir: &str) -> Option<(String, String)> {
        let suffixes = &self.rt.interpreter.extension_suffixes;
        let base = parent(dir);
        let mut n = 0;
        for (file, _) in self.vfs.walk_files(dir) {
            // A name is a module only if what precedes the suffix has no dot (FileFinder):
            // `_speedups.cpython-310-x86_64-linux-gnu.so` is not `_speedups` for CPython 3.11.
            let name = file.rsplit('/').next().unwrap_or(&file);
            let Some(suffix) = suffixes.iter().find(|s| {
                name.strip_suffix(s.as_str())
                    .is_some_and(|stem| !stem.is_empty() && !stem.contains('.'))
            }) else {
                continue;
            };
            n += 1;
            if n > MAX_EXTENSIONS_PER_PACKAGE {
                break;
            }
            let rel = file
                .strip_prefix(&format!("{base}/"))
                .unwrap_or(&file)
                .strip_suffix(suffix.as_str())
                .unwrap_or(&file);
            let module = rel.replace('/', ".").replace(".__init__", "");
            if self.extension_fails(&module, &file) {
                return Some((module, file));
            }
        }
        None
    }

    fn extension_fails(&self, module: &str, file: &str) -> bool {
        !matches!(self.verdict(module, file), ExtVerdict::Loads)
    }

    /// Machine and shared libraries of one extension module, memoised.
    fn extension(&self, module: &str, file: &str, chain: &[String]) -> Option<NativeProblem> {
        if file.is_empty() {
            return Some(self.missing_stdlib_extension(module, chain));
        }
        match self.verdict(module, file) {
            ExtVerdict::Loads => None,
            ExtVerdict::Problem(mut p) => {
                p.module = module.to_string();
                Some(p)
            }
            ExtVerdict::Missing(missing) => {
                Some(self.missing_library(module, file, chain, &missing))
            }
        }
    }

    fn verdict(&self, module: &str, file: &str) -> ExtVerdict {
        self.verdicts
            .get_or_compute(file, || self.extension_uncached(module, file))
    }

    fn extension_uncached(&self, module: &str, file: &str) -> ExtVerdict {
        let Some(elf) = self.vfs.elf(file) else {
            return ExtVerdict::Loads;
        };
        if let Some(want) = self.machine
            && elf.machine != want
        {
            let name = file.rsplit('/').next().unwrap_or(file);
            return ExtVerdict::Problem(NativeProblem {
                code: Code::IncompatibleExtension,
                module: module.to_string(),
                message: format!(
                    "{file}: cannot open shared object file: wrong ELF machine ({} for a {} image)",
                    elf.machine_name(),
                    importgate_image::elf::machine_name(want)
                ),
                notes: vec![format!(
                    "`{name}` is an ELF object for {}, but the image runs on {}; dlopen refuses it",
                    elf.machine_name(),
                    importgate_image::elf::machine_name(want)
                )],
                hint: Some(format!(
                    "install the {} wheel of this distribution (build the image for one platform, e.g. `pip install` inside the final stage)",
                    importgate_image::elf::machine_name(want)
                )),
            });
        }
        match self.loader.check(file) {
            Ok(()) => ExtVerdict::Loads,
            Err(missing) => ExtVerdict::Missing(missing),
        }
    }

    /// A stdlib module whose extension module is in neither the interpreter nor lib-dynload.
    fn missing_stdlib_extension(&self, module: &str, chain: &[String]) -> NativeProblem {
        let importer = chain
            .iter()
            .rev()
            .nth(1)
            .cloned()
            .unwrap_or_else(|| module.to_string());
        let dynload = format!(
            "{}/lib-dynload",
            self.rt.interpreter.stdlib.trim_end_matches('/')
        );
        let hint = match STDLIB_EXTENSION_PACKAGES
            .iter()
            .find(|(e, ..)| *e == module)
        {
            Some((_, deb, alpine, rpm)) => {
                let v = self.rt.interpreter.version;
                let deb = deb.replace("libpython3-", &format!("libpython{}.{}-", v.major, v.minor));
                format!(
                    "install the package that provides `{module}`: `apt-get install {deb}` (Debian/Ubuntu), `apk add {alpine}` (Alpine), `dnf install {rpm}` (Fedora/RHEL); official `python` images have it built in"
                )
            }
            None => format!(
                "use an interpreter built with `{module}` (official `python` images have it), or install the package that provides it"
            ),
        };
        NativeProblem {
            code: Code::ModuleNotFound,
            module: module.to_string(),
            message: format!("No module named '{module}'"),
            notes: vec![
                format!("loading chain: {}", chain.join(" → ")),
                format!(
                    "`{importer}` (standard library) imports the extension module `{module}` unconditionally; it is neither built into the interpreter nor in {dynload}"
                ),
            ],
            hint: Some(hint),
        }
    }

    fn missing_library(
        &self,
        module: &str,
        file: &str,
        chain: &[String],
        missing: &MissingLibrary,
    ) -> NativeProblem {
        let lib = &missing.library;
        let mut links: Vec<String> = chain.to_vec();
        for obj in missing.chain.iter().skip(1) {
            links.push(obj.rsplit('/').next().unwrap_or(obj).to_string());
        }
        links.push(lib.clone());
        links.dedup();
        let mut notes = vec![
            format!("loading chain: {}", links.join(" → ")),
            format!("`{module}` is the extension module {file}"),
        ];
        let needer = missing.chain.last().map(String::as_str).unwrap_or(file);
        notes.push(format!(
            "{needer} needs `{lib}` (DT_NEEDED); searched {}",
            missing.searched.join(", ")
        ));
        let bundled = missing
            .searched
            .iter()
            .find(|d| d.contains(".libs"))
            .cloned();
        let hint = match (package_for(lib), bundled) {
            _ if missing.not_in_cache.is_some() => format!(
                "`{lib}` is in {} (listed in /etc/ld.so.conf) but not in /etc/ld.so.cache, and the loader reads only the cache: run `ldconfig` after installing it, or add the directory to LD_LIBRARY_PATH",
                missing.not_in_cache.as_deref().unwrap_or_default()
            ),
            (_, Some(dir)) if lib.contains('-') => format!(
                "`{lib}` is a library the wheel bundles in {dir}; it was removed from the image: reinstall the distribution and do not delete its `.libs` directory"
            ),
            (Some((deb, alpine)), _) => format!(
                "install the system package that provides `{lib}` in the final stage: `apt-get install {deb}` (Debian/Ubuntu) or `apk add {alpine}` (Alpine)"
            ),
            (None, Some(dir)) => format!(
                "`{lib}` is not in {dir} nor in the system library directories: reinstall the distribution or install the library"
            ),
            (None, None) => format!(
                "install the library that provides `{lib}` in the final stage, or copy it from the build stage"
            ),
        };
        NativeProblem {
            code: Code::MissingSharedLibrary,
            module: module.to_string(),
            message: format!("{lib}: cannot open shared object file: No such file or directory"),
            notes,
            hint: Some(hint),
        }
    }

    /// Directories listed by the finder and files loaded, against the runtime user.
    fn permissions(&self, res: &Resolution) -> Option<NativeProblem> {
        if self.user.is_root() {
            return None;
        }
        let vfs = self.vfs;
        let user = &self.user;
        for (name, found) in &res.found {
            let (listed, file) = match found {
                Found::Source { file } | Found::Bytecode { file } | Found::Extension { file } => {
                    (parent(file).to_string(), Some(file.clone()))
                }
                Found::RegularPackage { init, path } => {
                    let dir = path
                        .first()
                        .cloned()
                        .unwrap_or_else(|| parent(init).to_string());
                    if access::check_find(vfs, user, parent(&dir)).is_ok()
                        && access::check_search(vfs, user, &dir).is_err()
                    {
                        // `__init__` cannot be stat'ed: CPython takes the directory as a
                        // namespace portion; its submodules are then looked up (and refused)
                        // in the directory itself.
                        continue;
                    }
                    (parent(&dir).to_string(), Some(init.clone()))
                }
                _ => continue,
            };
            if let Err(denied) = access::check_find(vfs, user, &listed) {
                return Some(NativeProblem {
                    code: Code::ModuleNotFound,
                    module: name.clone(),
                    message: format!("No module named '{name}'"),
                    notes: vec![
                        denied.describe(user),
                        format!(
                            "CPython's finder cannot list {listed} as this user, so it sees no `{}` there",
                            name.rsplit('.').next().unwrap_or(name)
                        ),
                    ],
                    hint: Some(format!(
                        "make {} readable and searchable by the runtime user (e.g. `chmod o+rx` or `COPY --chown`)",
                        denied.path
                    )),
                });
            }
            if let Some(file) = file
                && let Err(denied) = access::check_read(vfs, user, &file)
            {
                return Some(NativeProblem {
                    code: Code::PermissionDenied,
                    module: name.clone(),
                    message: format!("[Errno 13] Permission denied: '{file}'"),
                    notes: vec![
                        denied.describe(user),
                        "the finder sees the file, but loading it raises PermissionError".into(),
                    ],
                    hint: Some(format!(
                        "make {} readable by the runtime user (e.g. `chmod a+r`, or `COPY --chown={}`)",
                        denied.path, user.spec
                    )),
                });
            }
        }
        None
    }

    /// For a module not found: is it installed in another user's site-packages (`pip install
    /// --user` as root, then `USER app`)? Returns a note and a hint.
    pub fn not_found_hint(&self, failed: &Failed) -> Option<(String, String)> {
        let top = failed.module.split('.').next()?;
        let v = self.rt.interpreter.version;
        let mut homes = vec!["/root".to_string()];
        for h in self.vfs.read_dir("/home").unwrap_or_default() {
            homes.push(format!("/home/{h}"));
        }
        for home in homes {
            let site = format!("{home}/.local/lib/python{v}/site-packages");
            if self.rt.sys_path.iter().any(|e| e.path == site) {
                continue;
            }
            let names = self.vfs.read_dir(&site).unwrap_or_default();
            let present = names.iter().any(|n| {
                *n == top
                    || n.strip_prefix(top).is_some_and(|rest| {
                        rest == ".py" || (rest.starts_with('.') && rest.ends_with(".so"))
                    })
            });
            if present {
                let user_home = self
                    .rt
                    .sys_path
                    .iter()
                    .find(|e| e.origin == Origin::UserSite)
                    .map(|e| e.path.clone())
                    .unwrap_or_else(|| "no user site".into());
                return Some((
                    format!(
                        "`{top}` is installed in {site} (a `pip install --user` for that account), which the runtime user `{}` does not search (its user site: {user_home})",
                        self.user.spec
                    ),
                    format!(
                        "install without `--user` (into the interpreter's site-packages or a venv), or run `pip install --user` as `{}`",
                        self.user.spec
                    ),
                ));
            }
        }
        None
    }
}

impl Drop for Native<'_> {
    /// The figures of docs/performance.md come from this line (`IMPORTGATE_LOG=debug`).
    fn drop(&mut self) {
        let (files, bytes, secs) = importgate_image::elf::stats::snapshot();
        tracing::debug!(
            "native: {files} ELF files summarised while loading ({:.1} MB, {secs:.3} s buffering and parsing); {} ELF objects followed for DT_NEEDED; {} extension modules judged in {:.3} s; {} third-party modules followed for their extension imports ({} parsed for that alone)",
            bytes as f64 / 1e6,
            self.elf_inspected(),
            self.verdicts.len(),
            self.spent.lock().map(|d| d.as_secs_f64()).unwrap_or(0.0),
            self.walked.load(Ordering::Relaxed),
            self.parsed_here.load(Ordering::Relaxed)
        );
    }
}

/// The machine of the interpreter binary (or its libpython), when the config has no usable
/// architecture.
fn interpreter_machine(vfs: &Vfs, rt: &Runtime) -> Option<u16> {
    let bytes = vfs.read(&rt.interpreter.real_executable)??;
    importgate_image::ElfSummary::parse(&bytes).map(|e| e.machine)
}

#[cfg(test)]
mod tests {
    use super::*;
    use importgate_image::{ElfSummary, FileData, ImageConfig, Meta, NewNode};
    use std::sync::Arc;

    fn image(machine: u16, user: &str) -> Image {
        let mut fs = Vfs::from_files(&[
            ("usr/local/bin/python3.12", "ELF"),
            ("usr/local/bin/python", "-> python3.12"),
            ("usr/local/lib/python3.12/os.py", ""),
            ("usr/local/lib/python3.12/lib-dynload/", ""),
            ("usr/local/lib/python3.12/site-packages/", ""),
            ("lib64/ld-linux-x86-64.so.2", ""),
            (
                "etc/passwd",
                "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
            ),
            ("etc/group", "root:x:0:\napp:x:1000:\n"),
            ("app/ok.py", ""),
        ]);
        let elf = ElfSummary {
            machine,
            class: 64,
            ..ElfSummary::default()
        };
        fs.insert(
            "usr/local/lib/python3.12/site-packages/fast.cpython-312-x86_64-linux-gnu.so",
            NewNode::File(FileData {
                size: 1,
                content: None,
                elf: Some(Arc::new(elf)),
            }),
            Meta::file_default(),
        )
        .unwrap();
        fs.insert(
            "app/secret.py",
            NewNode::File(FileData {
                size: 0,
                content: Some(Arc::from(&b""[..])),
                elf: None,
            }),
            Meta {
                mode: 0o600,
                ..Meta::default()
            },
        )
        .unwrap();
        Image {
            reference: "t".into(),
            id: None,
            config: ImageConfig {
                architecture: "amd64".into(),
                user: user.into(),
                working_dir: "/app".into(),
                cmd: Some(vec!["python".into(), "-m".into(), "x".into()]),
                ..ImageConfig::default()
            },
            fs,
            layers: Vec::new(),
            warnings: Vec::new(),
            pending: Default::default(),
        }
    }

    #[test]
    fn an_extension_for_another_machine_is_incompatible() {
        let img = image(183, "");
        let rt = importgate_python::model(&img.fs, &img.config).unwrap();
        let resolver = Resolver::new(&img.fs, &rt);
        let native = Native::new(&img, &rt, None);
        let p = native
            .inspect(&resolver, &resolver.resolve("fast"))
            .unwrap();
        assert_eq!(p.code, Code::IncompatibleExtension);
        assert!(p.message.contains("aarch64 for a x86_64 image"), "{p:?}");

        let img = image(62, "");
        let rt = importgate_python::model(&img.fs, &img.config).unwrap();
        let resolver = Resolver::new(&img.fs, &rt);
        let native = Native::new(&img, &rt, None);
        assert_eq!(native.inspect(&resolver, &resolver.resolve("fast")), None);
    }

    #[test]
    fn an_unreadable_module_is_a_permission_error_except_for_root() {
        for (user, expect) in [("app", Some(Code::PermissionDenied)), ("", None)] {
            let img = image(62, user);
            let rt = importgate_python::model(&img.fs, &img.config).unwrap();
            let resolver = Resolver::new(&img.fs, &rt);
            let native = Native::new(&img, &rt, None);
            let got = native.inspect(&resolver, &resolver.resolve("secret"));
            assert_eq!(got.map(|p| p.code), expect, "user {user:?}");
            assert_eq!(native.inspect(&resolver, &resolver.resolve("ok")), None);
        }
    }

    /// An image whose site-packages hold `name/_fast.so` needing a library the image lacks,
    /// under packages that import it in different ways.
    fn packages(inits: &[(&str, &str)]) -> Image {
        let mut img = image(62, "");
        let site = "usr/local/lib/python3.12/site-packages";
        for (pkg, init) in inits {
            img.fs
                .insert(
                    &format!("{site}/{pkg}/__init__.py"),
                    NewNode::File(FileData {
                        size: init.len() as u64,
                        content: Some(Arc::from(init.as_bytes())),
                        elf: None,
                    }),
                    Meta::file_default(),
                )
                .unwrap();
            img.fs
                .insert(
                    &format!("{site}/{pkg}/_fast.cpython-312-x86_64-linux-gnu.so"),
                    NewNode::File(FileData {
                        size: 1,
                        content: None,
                        elf: Some(Arc::new(ElfSummary {
                            machine: 62,
                            class: 64,
                            needed: vec!["libmissing.so.1".into()],
                            ..ElfSummary::default()
                        })),
                    }),
                    Meta::file_default(),
                )
                .unwrap();
        }
        img
    }

    #[test]
    fn only_extensions_the_package_code_imports_unguarded_count() {
        let img = packages(&[
            (
                "guarded",
                "try:\n    from ._fast import f\nexcept ImportError:\n    f = None\n",
            ),
            (
                "fallback",
                "try:\n    import json\nexcept ImportError:\n    from ._fast import f\n",
            ),
            ("unused", "X = 1\ndef g():\n    from . import _fast\n"),
            ("hard", "import os\nfrom . import sub\n"),
            ("broken", "from . import (\n"),
            (
                "dynamic",
                "import importlib\nimportlib.import_module(NAME)\n",
            ),
            // A flag the guarded import sets (multidict's `USE_EXTENSIONS`), tested later.
            (
                "flagged",
                "import os\nUSE = not os.environ.get('NO_EXT')\nif USE:\n    try:\n        from . import _fast\n    except ImportError:\n        USE = False\nif USE:\n    from ._fast import f\n",
            ),
            // Only a `ModuleNotFoundError` handler: the load failure raises through it.
            (
                "notfound",
                "try:\n    from ._fast import f\nexcept ModuleNotFoundError:\n    f = None\n",
            ),
            // The same test with no guarded import of it anywhere in the package.
            (
                "unflagged",
                "import os\nif os.environ.get('FAST'):\n    from ._fast import f\n",
            ),
        ]);
        let mut img = img;
        img.fs
            .insert(
                "usr/local/lib/python3.12/site-packages/hard/sub.py",
                NewNode::File(FileData {
                    size: 1,
                    content: Some(Arc::from(&b"from hard._fast import f\n"[..])),
                    elf: None,
                }),
                Meta::file_default(),
            )
            .unwrap();
        let rt = importgate_python::model(&img.fs, &img.config).unwrap();
        let resolver = Resolver::new(&img.fs, &rt);
        let native = Native::new(&img, &rt, None);
        for clean in ["guarded", "fallback", "unused", "flagged"] {
            assert_eq!(
                native.inspect(&resolver, &resolver.resolve(clean)),
                None,
                "{clean}"
            );
        }
        let p = native
            .inspect(&resolver, &resolver.resolve("hard"))
            .unwrap();
        assert_eq!(p.code, Code::MissingSharedLibrary);
        assert_eq!(p.module, "hard._fast");
        assert_eq!(
            p.notes[0],
            "loading chain: hard → hard.sub → hard._fast → libmissing.so.1"
        );
        // Importing the extension itself fails whatever the package's code does.
        let p = native
            .inspect(&resolver, &resolver.resolve("guarded._fast"))
            .unwrap();
        assert_eq!(p.notes[0], "loading chain: guarded._fast → libmissing.so.1");
        for raises in ["notfound", "unflagged"] {
            let p = native
                .inspect(&resolver, &resolver.resolve(raises))
                .unwrap_or_else(|| panic!("{raises}"));
            assert_eq!(p.module, format!("{raises}._fast"));
        }
        // Code that cannot be seen: the package's tree counts.
        for opaque in ["broken", "dynamic"] {
            let p = native
                .inspect(&resolver, &resolver.resolve(opaque))
                .unwrap_or_else(|| panic!("{opaque}"));
            assert_eq!(p.module, format!("{opaque}._fast"));
        }
    }

    #[test]
    fn shared_objects_are_summarised() {
        assert!(wants_elf_summary(
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30",
            1
        ));
        assert!(wants_elf_summary(
            "/s/numpy/_core/_multiarray_umath.cpython-312-x86_64-linux-gnu.so",
            1
        ));
        assert!(!wants_elf_summary("/app/main.py", 1));
        assert!(wants_contents("/etc/ld.so.cache", 4000));
        assert!(wants_contents("/etc/ld.so.conf.d/libc.conf", 40));
        assert!(wants_contents("/etc/ld-musl-x86_64.path", 40));
        assert!(!wants_contents("/etc/hosts", 40));
    }
}
