//! What only the image can reveal about an import that the finder resolves: whether CPython can
//! then load it. Extension modules must match the platform's machine and find every shared
//! library they need through the image's dynamic loader; the runtime user must be able to list
//! the directories the finder searches and read the module files. Each problem becomes a finding
//! on the import that triggers it, in the words CPython would use.

use std::collections::BTreeMap;
use std::sync::Mutex;

use importgate_image::{Image, Vfs};
use importgate_python::abi::machine_for_arch;
use importgate_python::access::{self, User};
use importgate_python::ldso::{Loader, MissingLibrary, package_for};
use importgate_python::resolve::{Failed, Found, Resolution};
use importgate_python::{Origin, Resolver, Runtime};

use crate::Code;

/// Whether the loader should summarise a member as ELF: anything named like a shared object.
/// Only the summary is kept, so the size bound is the per-member cap of the image crate.
pub fn wants_elf_summary(path: &str, _size: u64) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".so") || name.contains(".so.")
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
];

/// At most this many extension modules are checked per distribution package: scipy has a few
/// hundred, and a pathological tree must not make the check quadratic.
const MAX_EXTENSIONS_PER_PACKAGE: usize = 4096;

/// Per-check state for the native checks.
pub struct Native<'a> {
    vfs: &'a Vfs,
    rt: &'a Runtime,
    pub user: User,
    pub loader: Loader<'a>,
    machine: Option<u16>,
    /// Verdict per extension-module path.
    verdicts: Mutex<BTreeMap<String, Option<NativeProblem>>>,
    /// Verdict per package directory scanned for extension modules: an image's code imports
    /// the same few packages from thousands of sites.
    packages: Mutex<BTreeMap<String, Option<NativeProblem>>>,
    /// Time spent in [`Native::inspect`], for the performance figures.
    spent: Mutex<std::time::Duration>,
}

fn parent(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some(("", _)) => "/",
        Some((p, _)) => p,
        None => "/",
    }
}

impl<'a> Native<'a> {
    pub fn new(image: &'a Image, rt: &'a Runtime) -> Self {
        let vfs = &image.fs;
        let machine =
            machine_for_arch(&image.config.architecture).or_else(|| interpreter_machine(vfs, rt));
        Native {
            vfs,
            rt,
            user: access::runtime_user(vfs, &image.config),
            loader: Loader::new(vfs, &image.config, machine),
            machine,
            verdicts: Mutex::new(BTreeMap::new()),
            packages: Mutex::new(BTreeMap::new()),
            spent: Mutex::new(std::time::Duration::ZERO),
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
        for (name, found) in &res.found {
            let ext = match found {
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
            };
            if let Some(file) = ext
                && let Some(p) = self.extension(name, file, std::slice::from_ref(name))
            {
                return Some(p);
            }
        }
        // Extensions an imported stdlib module loads in its own code.
        for (module, ext) in STDLIB_EXTENSIONS {
            let hit = res.found.iter().any(|(n, f)| {
                n == module
                    && f.file()
                        .is_some_and(|f| f.starts_with(&self.rt.interpreter.stdlib))
            });
            if hit
                && *ext != *module
                && let Some(Found::Extension { file }) = resolver.resolve(ext).last_found()
                && let Some(p) = self.extension(ext, file, &[module.to_string(), ext.to_string()])
            {
                return Some(p);
            }
        }
        // A third-party package loads its extension modules from its own code; which ones
        // cannot be known without running it, so every one in the package's tree counts.
        if let Some((top, Found::RegularPackage { path, .. })) = res.found.first()
            && let Some(dir) = path.first()
            && self.in_site_dir(dir)
        {
            return self.package_extensions(top, dir);
        }
        None
    }

    fn in_site_dir(&self, dir: &str) -> bool {
        self.rt.sys_path.iter().any(|e| {
            !matches!(
                e.origin,
                Origin::Stdlib | Origin::StdlibZip | Origin::LibDynload
            ) && dir.starts_with(&format!("{}/", e.path.trim_end_matches('/')))
                && e.path.contains("-packages")
        })
    }

    fn package_extensions(&self, top: &str, dir: &str) -> Option<NativeProblem> {
        if let Ok(p) = self.packages.lock()
            && let Some(hit) = p.get(dir)
        {
            return hit.clone();
        }
        let verdict = self.package_extensions_uncached(top, dir);
        if let Ok(mut p) = self.packages.lock() {
            p.insert(dir.to_string(), verdict.clone());
        }
        verdict
    }

    fn package_extensions_uncached(&self, top: &str, dir: &str) -> Option<NativeProblem> {
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
            if let Some(p) = self.extension(&module, &file, &[top.to_string(), module.clone()]) {
                return Some(p);
            }
        }
        None
    }

    /// Machine and shared libraries of one extension module, memoised.
    fn extension(&self, module: &str, file: &str, chain: &[String]) -> Option<NativeProblem> {
        if let Ok(v) = self.verdicts.lock()
            && let Some(hit) = v.get(file)
        {
            return hit.clone();
        }
        let verdict = self.extension_uncached(module, file, chain);
        if let Ok(mut v) = self.verdicts.lock() {
            v.insert(file.to_string(), verdict.clone());
        }
        verdict
    }

    fn extension_uncached(
        &self,
        module: &str,
        file: &str,
        chain: &[String],
    ) -> Option<NativeProblem> {
        let elf = self.vfs.elf(file)?;
        if let Some(want) = self.machine
            && elf.machine != want
        {
            let name = file.rsplit('/').next().unwrap_or(file);
            return Some(NativeProblem {
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
            Ok(()) => None,
            Err(missing) => Some(self.missing_library(module, file, chain, &missing)),
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
            "native: {files} ELF files summarised while loading ({:.1} MB, {secs:.3} s buffering and parsing); {} ELF objects followed for DT_NEEDED; {} extension modules judged in {:.3} s",
            bytes as f64 / 1e6,
            self.elf_inspected(),
            self.verdicts.lock().map(|v| v.len()).unwrap_or(0),
            self.spent.lock().map(|d| d.as_secs_f64()).unwrap_or(0.0)
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
        }
    }

    #[test]
    fn an_extension_for_another_machine_is_incompatible() {
        let img = image(183, "");
        let rt = importgate_python::model(&img.fs, &img.config).unwrap();
        let resolver = Resolver::new(&img.fs, &rt);
        let native = Native::new(&img, &rt);
        let p = native
            .inspect(&resolver, &resolver.resolve("fast"))
            .unwrap();
        assert_eq!(p.code, Code::IncompatibleExtension);
        assert!(p.message.contains("aarch64 for a x86_64 image"), "{p:?}");

        let img = image(62, "");
        let rt = importgate_python::model(&img.fs, &img.config).unwrap();
        let resolver = Resolver::new(&img.fs, &rt);
        let native = Native::new(&img, &rt);
        assert_eq!(native.inspect(&resolver, &resolver.resolve("fast")), None);
    }

    #[test]
    fn an_unreadable_module_is_a_permission_error_except_for_root() {
        for (user, expect) in [("app", Some(Code::PermissionDenied)), ("", None)] {
            let img = image(62, user);
            let rt = importgate_python::model(&img.fs, &img.config).unwrap();
            let resolver = Resolver::new(&img.fs, &rt);
            let native = Native::new(&img, &rt);
            let got = native.inspect(&resolver, &resolver.resolve("secret"));
            assert_eq!(got.map(|p| p.code), expect, "user {user:?}");
            assert_eq!(native.inspect(&resolver, &resolver.resolve("ok")), None);
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
