//! The image's dynamic loader, statically: where `dlopen` of an extension module would find each
//! `DT_NEEDED` library, transitively, following glibc's `ld.so` (RPATH, `LD_LIBRARY_PATH`,
//! RUNPATH, `/etc/ld.so.cache`, the trusted directories) or musl's (`LD_LIBRARY_PATH`,
//! RPATH/RUNPATH, `/etc/ld-musl-ARCH.path` or its defaults). A library that cannot be found is
//! what turns `import numpy` into `ImportError: libstdc++.so.6: cannot open shared object file`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use importgate_image::{ElfSummary, ImageConfig, Vfs};

/// glibc's trusted directories: upstream's 64-bit ones and Debian's multiarch ones, which are
/// compiled into Debian's `ld.so` before `/lib` and `/usr/lib`.
fn glibc_default_dirs(arch: &str) -> Vec<String> {
    let mut dirs = Vec::new();
    if !arch.is_empty() {
        dirs.push(format!("/lib/{arch}-linux-gnu"));
        dirs.push(format!("/usr/lib/{arch}-linux-gnu"));
    }
    dirs.extend(["/lib64", "/usr/lib64", "/lib", "/usr/lib"].map(String::from));
    dirs
}

/// musl's search path when `/etc/ld-musl-ARCH.path` does not exist (`ldso/dynlink.c`).
const MUSL_DEFAULT: &str = "/lib:/usr/local/lib:/usr/lib";

/// A `DT_NEEDED` library no directory provides, and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingLibrary {
    /// The soname as written in `DT_NEEDED`.
    pub library: String,
    /// Paths of the objects from the extension module down to the one that needs `library`.
    pub chain: Vec<String>,
    /// Directories searched for it, in order.
    pub searched: Vec<String>,
    /// A directory of `/etc/ld.so.conf` that holds the library although `ld.so.cache` does not
    /// list it: `ld.so` reads only the cache at run time, so `ldconfig` was not run.
    pub not_in_cache: Option<String>,
}

/// Which loader the image's interpreter runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Glibc,
    Musl,
}

/// The loader model of one image.
pub struct Loader<'a> {
    vfs: &'a Vfs,
    pub flavor: Flavor,
    /// `e_machine` objects must have (libraries of another machine are skipped, as `ld.so`
    /// does); `None` when unknown.
    pub machine: Option<u16>,
    ld_library_path: Vec<String>,
    /// soname → paths, from `/etc/ld.so.cache` (glibc).
    cache: BTreeMap<String, Vec<String>>,
    /// The cache's sonames of this machine in file order, as `ldconfig -p` lists them.
    cache_order: Vec<String>,
    /// `/etc/ld.so.conf` directories. `ld.so` never reads them (only `ldconfig` does, to write
    /// the cache); they serve to explain a library that is present but was never cached.
    conf_dirs: Vec<String>,
    default_dirs: Vec<String>,
    /// Results per (object, needed) are pure functions of the image, so they are kept.
    memo: crate::memo::Memo<Result<(), MissingLibrary>>,
    /// How many ELF objects were looked at, for the performance figures.
    pub inspected: Mutex<BTreeSet<String>>,
}

/// `$ORIGIN` (and `${ORIGIN}`) in an RPATH/RUNPATH entry is the directory of the object that
/// carries it; `$LIB` and `$PLATFORM` are expanded as glibc does on the common platforms.
pub fn expand_origin(entry: &str, object: &str, lib: &str) -> String {
    let origin = object.rsplit_once('/').map(|(d, _)| d).unwrap_or("/");
    let origin = if origin.is_empty() { "/" } else { origin };
    entry
        .replace("${ORIGIN}", origin)
        .replace("$ORIGIN", origin)
        .replace("${LIB}", lib)
        .replace("$LIB", lib)
}

/// Lexically normalises `a/b/../c` (the loader opens the joined path; `..` after a symlinked
/// directory is resolved by the kernel, which the VFS lookup does too, so this is only for
/// display).
fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// `a/./b/../c` → `a/c`, for a path `dlopen` opens relative to the working directory.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Errors in `/etc/ld.so.cache`: a truncated or foreign file is ignored as `ld.so` does.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CacheError {
    #[error("not an ld.so.cache (bad magic)")]
    BadMagic,
    #[error("ld.so.cache truncated at byte {0}")]
    Truncated(usize),
}

const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
/// `FLAG_ELF_LIBC6` plus the per-architecture bits of `sysdeps/generic/ldconfig.h`.
const FLAG_TYPE_MASK: i32 = 0x00ff;
const FLAG_ARCH_MASK: i32 = 0xff00;

fn u32_at(data: &[u8], at: usize) -> Result<u32, CacheError> {
    data.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or(CacheError::Truncated(at))
}

fn cstr_at(data: &[u8], at: usize) -> Result<String, CacheError> {
    let tail = data.get(at..).ok_or(CacheError::Truncated(at))?;
    let end = tail
        .iter()
        .position(|b| *b == 0)
        .ok_or(CacheError::Truncated(at))?;
    Ok(String::from_utf8_lossy(&tail[..end]).into_owned())
}

/// The arch bits ldconfig writes for libraries of `machine` (0 for 32-bit x86 and unknown).
fn cache_arch_flag(machine: Option<u16>) -> Option<i32> {
    match machine? {
        62 => Some(0x0300),  // FLAG_X8664_LIB64
        183 => Some(0x0a00), // FLAG_AARCH64_LIB64
        21 => Some(0x0500),  // FLAG_POWERPC_LIB64
        22 => Some(0x0400),  // FLAG_S390_LIB64
        243 => Some(0x1000), // FLAG_RISCV_FLOAT_ABI_DOUBLE | FLAG_RISCV64 varies; accepted below
        3 => Some(0),
        _ => None,
    }
}

/// Parses `/etc/ld.so.cache` (the `glibc-ld.so.cache1.1` format, standalone or after the old
/// `ld.so-1.7.0` table) into `(flags, soname, path)` entries in file order.
pub fn parse_ld_so_cache(data: &[u8]) -> Result<Vec<(i32, String, String)>, CacheError> {
    let mut base = 0usize;
    if data.starts_with(OLD_MAGIC) {
        // Old header: magic (11 bytes, padded to 12), nlibs, then 12-byte entries.
        let nlibs = u32_at(data, 12)? as usize;
        let after = 16usize
            .checked_add(nlibs.checked_mul(12).ok_or(CacheError::Truncated(16))?)
            .ok_or(CacheError::Truncated(16))?;
        // The new table follows, aligned to its header's alignment (8 on 64-bit builds).
        base = after.div_ceil(8) * 8;
        if !data.get(base..).is_some_and(|d| d.starts_with(NEW_MAGIC)) {
            base = after.div_ceil(4) * 4;
        }
    }
    let new = data.get(base..).ok_or(CacheError::Truncated(base))?;
    if !new.starts_with(NEW_MAGIC) {
        return Err(CacheError::BadMagic);
    }
    // struct cache_file_new: magic[17] version[3] nlibs len_strings flags[4] extension_offset
    // unused[3] = 48 bytes; entries are struct file_entry_new (24 bytes).
    let nlibs = u32_at(new, 20)? as usize;
    let mut out = Vec::with_capacity(nlibs.min(1 << 16));
    for i in 0..nlibs {
        let at = 48 + i * 24;
        let flags = u32_at(new, at)? as i32;
        let key = u32_at(new, at + 4)? as usize;
        let value = u32_at(new, at + 8)? as usize;
        // String offsets are relative to the start of the new-format header.
        out.push((flags, cstr_at(new, key)?, cstr_at(new, value)?));
    }
    Ok(out)
}

/// The directories of `/etc/ld.so.conf`, following `include` globs of the simple `dir/*.conf`
/// form that every distribution uses.
fn ld_so_conf(vfs: &Vfs, path: &str, depth: u8, out: &mut Vec<String>) {
    if depth > 4 {
        return;
    }
    let Some(text) = vfs.read_to_string(path) else {
        return;
    };
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(pattern) = line.strip_prefix("include") {
            let pattern = pattern.trim();
            let pattern = if pattern.starts_with('/') {
                pattern.to_string()
            } else {
                join(
                    path.rsplit_once('/').map(|(d, _)| d).unwrap_or("/"),
                    pattern,
                )
            };
            let (dir, glob) = pattern.rsplit_once('/').unwrap_or(("/", &pattern));
            let (prefix, suffix) = glob.split_once('*').unwrap_or((glob, ""));
            for name in vfs.read_dir(dir).unwrap_or_default() {
                if name.starts_with(prefix) && name.ends_with(suffix) {
                    ld_so_conf(vfs, &join(dir, name), depth + 1, out);
                }
            }
        } else if line.starts_with('/') {
            out.extend(
                line.split([':', ' ', '\t', ','])
                    .filter(|d| !d.is_empty())
                    .map(String::from),
            );
        }
    }
}

/// The multiarch triplet prefix of a machine (`x86_64`, `aarch64`).
fn arch_dir(machine: Option<u16>) -> &'static str {
    match machine {
        Some(62) => "x86_64",
        Some(183) => "aarch64",
        Some(3) => "i386",
        Some(21) => "powerpc64le",
        Some(22) => "s390x",
        Some(243) => "riscv64",
        _ => "",
    }
}

/// `:`-separated (and for `LD_LIBRARY_PATH` also `;`) lists; empty entries mean the current
/// directory to glibc, which we cannot know for `dlopen` and skip.
fn split_path(list: &str) -> Vec<String> {
    list.split([':', ';'])
        .filter(|d| !d.is_empty())
        .map(String::from)
        .collect()
}

impl<'a> Loader<'a> {
    /// Builds the loader model: musl when the image has `/lib/ld-musl-*.so.1`, glibc otherwise.
    pub fn new(vfs: &'a Vfs, config: &ImageConfig, machine: Option<u16>) -> Self {
        let musl_ld = vfs
            .read_dir("/lib")
            .unwrap_or_default()
            .into_iter()
            .find(|n| n.starts_with("ld-musl-") && n.ends_with(".so.1"))
            .map(String::from);
        let glibc_ld = [
            "/lib64",
            "/lib",
            &format!("/lib/{}-linux-gnu", arch_dir(machine)),
        ]
        .iter()
        .any(|d| {
            vfs.read_dir(d)
                .unwrap_or_default()
                .iter()
                .any(|n| n.starts_with("ld-linux"))
        });
        let flavor = if musl_ld.is_some() && !glibc_ld {
            Flavor::Musl
        } else {
            Flavor::Glibc
        };
        let ld_library_path = config
            .env_var("LD_LIBRARY_PATH")
            .map(split_path)
            .unwrap_or_default();
        let mut cache = BTreeMap::new();
        let mut cache_order = Vec::new();
        let mut conf_dirs = Vec::new();
        let default_dirs = match flavor {
            Flavor::Glibc => {
                let want = cache_arch_flag(machine);
                if let Some(Some(bytes)) = vfs.read("/etc/ld.so.cache")
                    && let Ok(entries) = parse_ld_so_cache(&bytes)
                {
                    for (flags, soname, path) in entries {
                        // FLAG_ELF_LIBC6 only, and the right architecture when known.
                        if flags & FLAG_TYPE_MASK != 3 {
                            continue;
                        }
                        if let Some(want) = want
                            && machine != Some(243)
                            && flags & FLAG_ARCH_MASK != want
                        {
                            continue;
                        }
                        cache_order.push(soname.clone());
                        cache.entry(soname).or_insert_with(Vec::new).push(path);
                    }
                }
                ld_so_conf(vfs, "/etc/ld.so.conf", 0, &mut conf_dirs);
                glibc_default_dirs(arch_dir(machine))
            }
            Flavor::Musl => {
                let name = musl_ld.unwrap_or_default();
                let arch = name
                    .strip_prefix("ld-musl-")
                    .and_then(|n| n.strip_suffix(".so.1"))
                    .unwrap_or("");
                match vfs.read_to_string(&format!("/etc/ld-musl-{arch}.path")) {
                    Some(text) => text
                        .split(['\n', ':'])
                        .map(str::trim)
                        .filter(|d| !d.is_empty())
                        .map(String::from)
                        .collect(),
                    None => split_path(MUSL_DEFAULT),
                }
            }
        };
        Loader {
            vfs,
            flavor,
            machine,
            ld_library_path,
            cache,
            cache_order,
            conf_dirs,
            default_dirs,
            memo: crate::memo::Memo::default(),
            inspected: Mutex::new(BTreeSet::new()),
        }
    }

    /// Whether the object at `path` is one the loader would accept (right machine and class).
    /// A directory of `ld.so.conf` that holds `name` although glibc's cache, which `ldconfig`
    /// was not run to refresh, does not list it.
    fn not_in_cache(&self, name: &str) -> Option<String> {
        if self.flavor != Flavor::Glibc {
            return None;
        }
        self.conf_dirs
            .iter()
            .find(|d| self.acceptable(&join(d, name)))
            .cloned()
    }

    fn acceptable(&self, path: &str) -> bool {
        if !self.vfs.is_file(path) {
            return false;
        }
        match (self.vfs.elf(path), self.machine) {
            (Some(elf), Some(m)) => elf.machine == m,
            _ => true,
        }
    }

    /// Names the loader itself satisfies without a file: the C library and the loader under
    /// musl, the loader under glibc (it is already mapped).
    fn builtin(&self, name: &str) -> bool {
        match self.flavor {
            Flavor::Musl => {
                name.starts_with("libc.musl-")
                    || name.starts_with("ld-musl-")
                    || matches!(
                        name,
                        "libc.so" | "libdl.so" | "libm.so" | "libpthread.so" | "librt.so"
                    )
            }
            Flavor::Glibc => name.starts_with("ld-linux") || name == "ld64.so.2",
        }
    }

    /// The search order for `name` needed by `object` (with the RPATHs of the objects that
    /// loaded it, for glibc's inherited RPATH), as directories.
    fn search_dirs(&self, object: &str, elf: &ElfSummary, inherited: &[String]) -> Vec<String> {
        let lib = if elf.class == 32 { "lib" } else { "lib64" };
        let expand = |list: &str| -> Vec<String> {
            split_path(list)
                .iter()
                .map(|e| expand_origin(e, object, lib))
                .collect()
        };
        let mut dirs = Vec::new();
        match self.flavor {
            Flavor::Glibc => {
                if elf.runpath.is_none() {
                    dirs.extend(elf.rpath.as_deref().map(expand).unwrap_or_default());
                    dirs.extend(inherited.iter().cloned());
                }
                dirs.extend(self.ld_library_path.iter().cloned());
                dirs.extend(elf.runpath.as_deref().map(expand).unwrap_or_default());
                // The cache is consulted here; `resolve` handles it.
                dirs.push("\0cache".into());
                dirs.extend(self.default_dirs.iter().cloned());
            }
            Flavor::Musl => {
                dirs.extend(self.ld_library_path.iter().cloned());
                dirs.extend(elf.rpath.as_deref().map(expand).unwrap_or_default());
                dirs.extend(elf.runpath.as_deref().map(expand).unwrap_or_default());
                dirs.extend(self.default_dirs.iter().cloned());
            }
        }
        dirs
    }

    /// Where `name` would be loaded from, or the directories searched in vain.
    fn resolve(
        &self,
        name: &str,
        object: &str,
        elf: &ElfSummary,
        inherited: &[String],
    ) -> Result<String, Vec<String>> {
        if name.contains('/') {
            let path = expand_origin(name, object, "lib64");
            return if self.acceptable(&path) {
                Ok(path)
            } else {
                Err(vec![path])
            };
        }
        let mut searched = Vec::new();
        for dir in self.search_dirs(object, elf, inherited) {
            if dir == "\0cache" {
                for path in self.cache.get(name).into_iter().flatten() {
                    if self.acceptable(path) {
                        return Ok(path.clone());
                    }
                }
                searched.push("/etc/ld.so.cache".to_string());
                continue;
            }
            let path = join(&dir, name);
            if self.acceptable(&path) {
                return Ok(path);
            }
            searched.push(dir);
        }
        searched.dedup();
        Err(searched)
    }

    /// The sonames `/etc/ld.so.cache` lists for this machine, in the order `ldconfig -p`
    /// prints them.
    pub fn cached_sonames(&self) -> &[String] {
        &self.cache_order
    }

    /// `dlopen(name)` from `ctypes`: a name with a `/` is opened as a path (relative to `cwd`,
    /// the process's working directory); any other name goes through `LD_LIBRARY_PATH`, the
    /// cache and the default directories (the caller, `_ctypes`, carries no RPATH). Then every
    /// library the object needs must load too. Returns the path loaded.
    pub fn dlopen(&self, name: &str, cwd: &str) -> Result<String, MissingLibrary> {
        let not_found = |searched: Vec<String>| MissingLibrary {
            library: name.to_string(),
            chain: Vec::new(),
            searched,
            not_in_cache: None,
        };
        let path = if name.contains('/') {
            let path = if name.starts_with('/') {
                name.to_string()
            } else {
                normalize(&join(cwd, name))
            };
            if !self.acceptable(&path) {
                return Err(not_found(vec![path]));
            }
            path
        } else {
            if self.builtin(name) {
                return Ok(name.to_string());
            }
            let mut searched = Vec::new();
            let mut hit = None;
            let mut dirs: Vec<String> = self.ld_library_path.clone();
            if self.flavor == Flavor::Glibc {
                dirs.push("\0cache".into());
            }
            dirs.extend(self.default_dirs.iter().cloned());
            for dir in dirs {
                if dir == "\0cache" {
                    if let Some(p) = self
                        .cache
                        .get(name)
                        .into_iter()
                        .flatten()
                        .find(|p| self.acceptable(p))
                    {
                        hit = Some(p.clone());
                        break;
                    }
                    searched.push("/etc/ld.so.cache".to_string());
                    continue;
                }
                let p = join(&dir, name);
                if self.acceptable(&p) {
                    hit = Some(p);
                    break;
                }
                searched.push(dir);
            }
            searched.dedup();
            match hit {
                Some(p) => p,
                None => {
                    let mut missing = not_found(searched);
                    missing.not_in_cache = self.not_in_cache(name);
                    return Err(missing);
                }
            }
        };
        let real = self.vfs.realpath(&path).unwrap_or_else(|| path.clone());
        self.check(&real)?;
        Ok(path)
    }

    /// Checks that every library `object` (an extension module) needs can be found,
    /// transitively; the first missing one in `ld.so`'s order (breadth first, as
    /// `_dl_map_object_deps` maps them) is returned with its chain.
    pub fn check(&self, object: &str) -> Result<(), MissingLibrary> {
        self.memo.get_or_compute(object, || self.walk(object))
    }

    fn walk(&self, object: &str) -> Result<(), MissingLibrary> {
        // (object path, chain from the extension to it, RPATHs inherited from its loaders)
        let mut queue: std::collections::VecDeque<(String, Vec<String>, Vec<String>)> =
            std::collections::VecDeque::new();
        queue.push_back((object.to_string(), vec![object.to_string()], Vec::new()));
        let mut loaded: BTreeSet<String> = BTreeSet::new();
        let mut mapped: BTreeSet<String> = BTreeSet::new();
        mapped.insert(object.to_string());
        while let Some((obj, chain, inherited)) = queue.pop_front() {
            let Some(elf) = self.vfs.elf(&obj) else {
                continue;
            };
            if let Ok(mut seen) = self.inspected.lock() {
                seen.insert(obj.clone());
            }
            let elf: Arc<ElfSummary> = elf;
            if let Some(soname) = &elf.soname {
                loaded.insert(soname.clone());
            }
            // An object's own RPATH is inherited by what it loads (glibc, without RUNPATH).
            let mut inherit = inherited.clone();
            if elf.runpath.is_none()
                && let Some(rpath) = &elf.rpath
            {
                let lib = if elf.class == 32 { "lib" } else { "lib64" };
                inherit.extend(
                    split_path(rpath)
                        .iter()
                        .map(|e| expand_origin(e, &obj, lib)),
                );
            }
            for name in &elf.needed {
                if self.builtin(name) || loaded.contains(name) {
                    continue;
                }
                match self.resolve(name, &obj, &elf, &inherited) {
                    Ok(path) => {
                        loaded.insert(name.clone());
                        let real = self.vfs.realpath(&path).unwrap_or(path);
                        if mapped.insert(real.clone()) && chain.len() < 32 {
                            let mut next = chain.clone();
                            next.push(real.clone());
                            queue.push_back((real, next, inherit.clone()));
                        }
                    }
                    Err(searched) => {
                        let not_in_cache = self.not_in_cache(name);
                        return Err(MissingLibrary {
                            library: name.clone(),
                            chain,
                            searched,
                            not_in_cache,
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// Debian and Alpine packages that ship common sonames, for the hint.
pub fn package_for(soname: &str) -> Option<(&'static str, &'static str)> {
    TABLE
        .iter()
        .find(|(s, _, _)| *s == soname)
        .map(|(_, d, a)| (*d, *a))
}

/// `(soname, Debian/Ubuntu package, Alpine package)`.
const TABLE: &[(&str, &str, &str)] = &[
    ("libstdc++.so.6", "libstdc++6", "libstdc++"),
    // glibc's own libraries: on Alpine only the gcompat shim provides these names.
    ("libc.so.6", "libc6", "gcompat"),
    ("libm.so.6", "libc6", "gcompat"),
    ("libdl.so.2", "libc6", "gcompat"),
    ("libpthread.so.0", "libc6", "gcompat"),
    ("librt.so.1", "libc6", "gcompat"),
    ("libgcc_s.so.1", "libgcc-s1", "libgcc"),
    ("libgomp.so.1", "libgomp1", "libgomp"),
    ("libgfortran.so.5", "libgfortran5", "libgfortran"),
    ("libquadmath.so.0", "libquadmath0", "libquadmath"),
    ("libpq.so.5", "libpq5", "libpq"),
    ("libsqlite3.so.0", "libsqlite3-0", "sqlite-libs"),
    ("libGL.so.1", "libgl1", "mesa-gl"),
    ("libglib-2.0.so.0", "libglib2.0-0", "glib"),
    ("libgthread-2.0.so.0", "libglib2.0-0", "glib"),
    ("libgobject-2.0.so.0", "libglib2.0-0", "glib"),
    ("libxml2.so.2", "libxml2", "libxml2"),
    ("libxslt.so.1", "libxslt1.1", "libxslt"),
    ("libffi.so.8", "libffi8", "libffi"),
    ("libffi.so.7", "libffi7", "libffi"),
    ("libssl.so.3", "libssl3", "libssl3"),
    ("libcrypto.so.3", "libssl3", "libcrypto3"),
    ("libz.so.1", "zlib1g", "zlib"),
    ("libbz2.so.1.0", "libbz2-1.0", "libbz2"),
    ("liblzma.so.5", "liblzma5", "xz-libs"),
    ("libexpat.so.1", "libexpat1", "libexpat"),
    ("libmpdec.so.3", "libmpdec3", "mpdecimal"),
    ("libreadline.so.8", "libreadline8", "readline"),
    ("libncursesw.so.6", "libncursesw6", "ncurses-libs"),
    ("libuuid.so.1", "libuuid1", "libuuid"),
    ("libgdbm.so.6", "libgdbm6", "gdbm"),
    ("libjpeg.so.62", "libjpeg62-turbo", "libjpeg-turbo"),
    ("libpng16.so.16", "libpng16-16", "libpng"),
    ("libmariadb.so.3", "libmariadb3", "mariadb-connector-c"),
];

/// [`package_for`] of the first known soname of the library `find_library(name)` looks for
/// (`pq` → `libpq.so.5`).
pub fn package_for_name(name: &str) -> Option<(&'static str, &'static str)> {
    let prefix = format!("lib{name}.so");
    TABLE
        .iter()
        .find(|(s, _, _)| {
            s.strip_prefix(&prefix)
                .is_some_and(|r| r.is_empty() || r.starts_with('.'))
        })
        .map(|(_, d, a)| (*d, *a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use importgate_image::{FileData, Meta, NewNode};

    /// A cache in the standalone new format with the given `(flags, key, value)` entries.
    fn cache_bytes(entries: &[(i32, &str, &str)]) -> Vec<u8> {
        let header = 48;
        let table = entries.len() * 24;
        let mut strings = Vec::new();
        let mut offs = Vec::new();
        for (_, k, v) in entries {
            let ko = header + table + strings.len();
            strings.extend_from_slice(k.as_bytes());
            strings.push(0);
            let vo = header + table + strings.len();
            strings.extend_from_slice(v.as_bytes());
            strings.push(0);
            offs.push((ko as u32, vo as u32));
        }
        let mut out = Vec::new();
        out.extend_from_slice(NEW_MAGIC);
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        out.extend_from_slice(&[2, 0, 0, 0]);
        out.extend_from_slice(&[0; 16]);
        for ((flags, _, _), (k, v)) in entries.iter().zip(offs) {
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&v.to_le_bytes());
            out.extend_from_slice(&[0; 12]);
        }
        out.extend(strings);
        out
    }

    #[test]
    fn parses_the_new_cache_format_and_rejects_garbage() {
        let bytes = cache_bytes(&[
            (
                0x0303,
                "libstdc++.so.6",
                "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
            ),
            (0x0a03, "libz.so.1", "/usr/lib/aarch64-linux-gnu/libz.so.1"),
        ]);
        let e = parse_ld_so_cache(&bytes).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].1, "libstdc++.so.6");
        assert_eq!(e[1].2, "/usr/lib/aarch64-linux-gnu/libz.so.1");
        assert_eq!(parse_ld_so_cache(b"nope"), Err(CacheError::BadMagic));
        assert!(parse_ld_so_cache(&bytes[..60]).is_err());
    }

    #[test]
    fn parses_the_hosts_real_cache_when_there_is_one() {
        let Ok(bytes) = std::fs::read("/etc/ld.so.cache") else {
            return;
        };
        let e = parse_ld_so_cache(&bytes).unwrap();
        assert!(e.iter().any(|(_, k, _)| k.starts_with("libc.so")), "{e:?}");
    }

    #[test]
    fn origin_is_the_objects_directory() {
        let o = "/site/psycopg2/_psycopg.cpython-312-x86_64-linux-gnu.so";
        assert_eq!(
            expand_origin("$ORIGIN/../psycopg2_binary.libs", o, "lib64"),
            "/site/psycopg2/../psycopg2_binary.libs"
        );
        assert_eq!(expand_origin("${ORIGIN}", o, "lib64"), "/site/psycopg2");
        assert_eq!(expand_origin("/opt/$LIB", o, "lib64"), "/opt/lib64");
        assert_eq!(expand_origin("$ORIGIN", "/x.so", "lib"), "/");
    }

    fn elf_file(vfs: &mut Vfs, path: &str, needed: &[&str], runpath: Option<&str>) {
        let elf = ElfSummary {
            machine: 62,
            class: 64,
            needed: needed.iter().map(|s| s.to_string()).collect(),
            runpath: runpath.map(String::from),
            ..ElfSummary::default()
        };
        vfs.insert(
            path,
            NewNode::File(FileData {
                size: 1,
                content: None,
                elf: Some(Arc::new(elf)),
            }),
            Meta::file_default(),
        )
        .unwrap();
    }

    #[test]
    fn runpath_origin_cache_and_default_dirs() {
        let mut vfs = Vfs::from_files(&[("lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "")]);
        let ext = "/site/psycopg2/_psycopg.so";
        elf_file(
            &mut vfs,
            ext,
            &["libpq-abc.so.5", "libc.so.6"],
            Some("$ORIGIN/../psycopg2_binary.libs"),
        );
        elf_file(
            &mut vfs,
            "/site/psycopg2_binary.libs/libpq-abc.so.5",
            &["libssl-1.so.3"],
            Some("$ORIGIN"),
        );
        elf_file(
            &mut vfs,
            "/site/psycopg2_binary.libs/libssl-1.so.3",
            &["libc.so.6"],
            Some("$ORIGIN"),
        );
        elf_file(
            &mut vfs,
            "/lib/x86_64-linux-gnu/libc.so.6",
            &["ld-linux-x86-64.so.2"],
            None,
        );
        let cfg = ImageConfig::default();
        let loader = Loader::new(&vfs, &cfg, Some(62));
        assert_eq!(loader.flavor, Flavor::Glibc);
        assert_eq!(loader.check(ext), Ok(()));

        vfs.remove("site/psycopg2_binary.libs/libssl-1.so.3")
            .unwrap();
        let loader = Loader::new(&vfs, &cfg, Some(62));
        let missing = loader.check(ext).unwrap_err();
        assert_eq!(missing.library, "libssl-1.so.3");
        assert_eq!(
            missing.chain,
            [ext, "/site/psycopg2_binary.libs/libpq-abc.so.5"]
        );
        assert!(
            missing
                .searched
                .contains(&"/site/psycopg2_binary.libs".to_string())
        );
    }

    #[test]
    fn the_cache_is_used_and_stale_entries_are_skipped() {
        let mut vfs = Vfs::from_files(&[("lib64/ld-linux-x86-64.so.2", "")]);
        let bytes = cache_bytes(&[(0x0303, "libfoo.so.1", "/opt/foo/libfoo.so.1")]);
        vfs.insert(
            "etc/ld.so.cache",
            NewNode::File(FileData {
                size: bytes.len() as u64,
                content: Some(bytes.into()),
                elf: None,
            }),
            Meta::file_default(),
        )
        .unwrap();
        elf_file(&mut vfs, "/m/ext.so", &["libfoo.so.1"], None);
        let cfg = ImageConfig::default();
        assert!(
            Loader::new(&vfs, &cfg, Some(62))
                .check("/m/ext.so")
                .is_err()
        );
        elf_file(&mut vfs, "/opt/foo/libfoo.so.1", &[], None);
        assert_eq!(Loader::new(&vfs, &cfg, Some(62)).check("/m/ext.so"), Ok(()));
    }

    #[test]
    fn ld_so_conf_dirs_are_not_searched_but_explain_a_missing_ldconfig() {
        let mut vfs = Vfs::from_files(&[
            ("lib64/ld-linux-x86-64.so.2", ""),
            ("etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n"),
            ("etc/ld.so.conf.d/opt.conf", "# vendor\n/opt/vendor/lib\n"),
        ]);
        elf_file(&mut vfs, "/m/ext.so", &["libv.so.1"], None);
        elf_file(&mut vfs, "/opt/vendor/lib/libv.so.1", &[], None);
        let cfg = ImageConfig::default();
        let missing = Loader::new(&vfs, &cfg, Some(62))
            .check("/m/ext.so")
            .unwrap_err();
        assert_eq!(missing.not_in_cache.as_deref(), Some("/opt/vendor/lib"));
    }

    #[test]
    fn a_library_of_another_machine_is_skipped() {
        let mut vfs = Vfs::from_files(&[("lib64/ld-linux-x86-64.so.2", "")]);
        elf_file(&mut vfs, "/m/ext.so", &["libbar.so"], None);
        elf_file(&mut vfs, "/usr/lib/libbar.so", &[], None);
        let cfg = ImageConfig::default();
        assert_eq!(Loader::new(&vfs, &cfg, Some(62)).check("/m/ext.so"), Ok(()));
        assert!(
            Loader::new(&vfs, &cfg, Some(183))
                .check("/m/ext.so")
                .is_err()
        );
    }

    #[test]
    fn musl_uses_its_path_file_and_ld_library_path() {
        let mut vfs = Vfs::from_files(&[
            ("lib/ld-musl-x86_64.so.1", ""),
            ("etc/ld-musl-x86_64.path", "/opt/a\n/opt/b"),
        ]);
        elf_file(
            &mut vfs,
            "/m/ext.so",
            &["libc.musl-x86_64.so.1", "libq.so"],
            None,
        );
        elf_file(&mut vfs, "/usr/lib/libq.so", &[], None);
        let cfg = ImageConfig::default();
        let l = Loader::new(&vfs, &cfg, Some(62));
        assert_eq!(l.flavor, Flavor::Musl);
        // /usr/lib is not searched when the path file exists.
        assert!(l.check("/m/ext.so").is_err());
        let cfg = ImageConfig {
            env: vec!["LD_LIBRARY_PATH=/usr/lib".into()],
            ..ImageConfig::default()
        };
        assert_eq!(Loader::new(&vfs, &cfg, Some(62)).check("/m/ext.so"), Ok(()));
    }
}
