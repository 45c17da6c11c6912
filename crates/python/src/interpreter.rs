//! Plain facts about one CPython build inside an image, and the code that reads them off the
//! image's files: the version from the stdlib's location, the prefix from `getpath`'s landmark,
//! extension-module suffixes from `_sysconfigdata`, and the builtin module set from the
//! `PyInit_*` symbols of the binary or its libpython.

use std::collections::BTreeSet;

use importgate_image::Vfs;
use serde::Serialize;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
pub struct PyVersion {
    pub major: u8,
    pub minor: u8,
}

impl PyVersion {
    pub const fn new(major: u8, minor: u8) -> Self {
        PyVersion { major, minor }
    }

    /// Parses `3.12` (and ignores a trailing `t`/`d` ABI flag).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim_end_matches(['t', 'd', 'm']);
        let (a, b) = s.split_once('.')?;
        Some(PyVersion {
            major: a.parse().ok()?,
            minor: b.parse().ok()?,
        })
    }
}

impl std::fmt::Display for PyVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What the resolver needs to know about the interpreter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Interpreter {
    /// The path argv[0] resolved to through PATH, before following symlinks (venv detection
    /// depends on the unresolved path).
    pub executable: String,
    /// `realpath(executable)`.
    pub real_executable: String,
    pub version: PyVersion,
    /// `sys.base_prefix`: where the stdlib lives.
    pub prefix: String,
    /// `{prefix}/lib/pythonX.Y`.
    pub stdlib: String,
    /// `{exec_prefix}/lib/pythonX.Y/lib-dynload`.
    pub lib_dynload: String,
    /// Extension suffixes in the order FileFinder tries them (`.cpython-312-x86_64-linux-gnu.so`,
    /// `.abi3.so`, `.so`).
    pub extension_suffixes: Vec<String>,
    /// `sys.builtin_module_names` of this build.
    pub builtins: BTreeSet<String>,
    /// Whether `builtins` was read from the binary (true) or assumed (false).
    pub builtins_from_binary: bool,
    /// Frozen modules (3.11+), importable with no file on disk.
    pub frozen: BTreeSet<String>,
    /// Debian's patched `site.py` (dist-packages) is in use.
    pub debian_site: bool,
    /// `sys.platlibdir`: `lib`, or `lib64` on RHEL/Fedora-style builds, where the stdlib and
    /// the platform site-packages live under `{prefix}/lib64`.
    pub platlibdir: String,
}

/// Modules every CPython 3 build compiles in, whatever its configuration; used when the binary
/// cannot be read.
const CORE_BUILTINS: &[&str] = &[
    "_abc",
    "_codecs",
    "_collections",
    "_functools",
    "_imp",
    "_io",
    "_locale",
    "_operator",
    "_signal",
    "_sre",
    "_stat",
    "_string",
    "_symtable",
    "_thread",
    "_tracemalloc",
    "_warnings",
    "_weakref",
    "atexit",
    "builtins",
    "errno",
    "faulthandler",
    "gc",
    "itertools",
    "marshal",
    "posix",
    "pwd",
    "sys",
    "time",
    "xxsubtype",
];

/// Frozen stdlib modules of 3.11+ (`_imp._frozen_module_names()` minus the test-only ones).
const FROZEN_311: &[&str] = &[
    "_collections_abc",
    "_sitebuiltins",
    "abc",
    "codecs",
    "genericpath",
    "importlib._bootstrap",
    "importlib._bootstrap_external",
    "importlib.machinery",
    "importlib.util",
    "io",
    "ntpath",
    "os",
    "os.path",
    "posixpath",
    "runpy",
    "site",
    "stat",
    "zipimport",
    "__hello__",
    "__phello__",
];

/// Python modules already in `sys.modules` when user code starts (with `site` enabled); a file
/// of the same name elsewhere on sys.path can never shadow them. The C modules imported at
/// startup are builtins of the build and come from its symbol table instead, since the set
/// changes between versions (`_abc` only exists from 3.7).
pub const STARTUP_MODULES: &[&str] = &[
    "__main__",
    "_collections_abc",
    "_frozen_importlib",
    "_frozen_importlib_external",
    "_sitebuiltins",
    "abc",
    "codecs",
    "encodings",
    "genericpath",
    "io",
    "os",
    "os.path",
    "posixpath",
    "site",
    "stat",
    "zipimport",
];

/// Names of `PyInit_*` exports in an ELF file (the python binary or libpython).
pub fn builtins_from_elf(data: &[u8]) -> Option<BTreeSet<String>> {
    let summary = importgate_image::ElfSummary::parse_with_exports(data)?;
    builtins_from_exports(&summary.init_exports)
}

/// The builtin set from the `X` of the `PyInit_X` functions a binary or libpython defines.
pub fn builtins_from_exports(exports: &[String]) -> Option<BTreeSet<String>> {
    let mut names: BTreeSet<String> = exports.iter().cloned().collect();
    if names.is_empty() {
        return None;
    }
    // Compiled into the core without an init function of their own.
    for m in ["sys", "builtins", "_warnings", "marshal", "_imp"] {
        names.insert(m.to_string());
    }
    // 3.6 exports `PyInit_imp` for `_imp`.
    names.remove("imp");
    Some(names)
}

/// Reads `EXT_SUFFIX`, `SOABI` and `MULTIARCH` out of a `_sysconfigdata_*.py` file's
/// `build_time_vars` dict literal without executing it.
pub fn sysconfig_var(source: &str, key: &str) -> Option<String> {
    let needle = format!("'{key}':");
    let start = source.find(&needle)? + needle.len();
    let rest = source[start..].trim_start();
    let quote = rest.chars().next()?;
    if quote != '\'' && quote != '"' {
        return None;
    }
    let body = &rest[1..];
    let end = body.find(quote)?;
    Some(body[..end].to_string())
}

/// The suffix list CPython's `_PyImport_DynLoadFiletab` gives for a build.
pub fn extension_suffixes(soabi: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(soabi) = soabi {
        out.push(format!(".{soabi}.so"));
    }
    out.push(".abi3.so".to_string());
    out.push(".so".to_string());
    out
}

/// The SOABI a python.org/Debian/Alpine build of `version` would have, for when the image
/// carries no `_sysconfigdata`. From 3.11 `configure` names the C library in the platform
/// triplet (`x86_64-linux-musl`); earlier musl builds said `-linux-gnu` like glibc ones.
pub fn default_soabi(version: PyVersion, arch: &str, musl: bool) -> String {
    let cpu = match arch {
        "arm64" | "aarch64" => "aarch64",
        "386" | "i386" => "i386",
        _ => "x86_64",
    };
    let libc = if musl && version >= PyVersion::new(3, 11) {
        "musl"
    } else {
        "gnu"
    };
    let triplet = format!("{cpu}-linux-{libc}");
    let m = if version < PyVersion::new(3, 8) {
        "m"
    } else {
        ""
    };
    format!("cpython-{}{}{m}-{triplet}", version.major, version.minor)
}

pub fn frozen_modules(version: PyVersion) -> BTreeSet<String> {
    if version >= PyVersion::new(3, 11) {
        FROZEN_311.iter().map(|s| s.to_string()).collect()
    } else {
        BTreeSet::new()
    }
}

pub fn core_builtins() -> BTreeSet<String> {
    CORE_BUILTINS.iter().map(|s| s.to_string()).collect()
}

/// Reads the builtin set from the binary, or from the libpython it links when the binary is a
/// thin launcher (`--enable-shared` builds).
pub fn read_builtins(vfs: &Vfs, real_executable: &str, prefix: &str) -> Option<BTreeSet<String>> {
    let mut candidates = vec![real_executable.to_string()];
    for dir in [
        format!("{prefix}/lib"),
        format!("{prefix}/lib64"),
        "/usr/lib/x86_64-linux-gnu".to_string(),
        "/usr/lib".to_string(),
        "/usr/local/lib".to_string(),
        "/usr/lib/aarch64-linux-gnu".to_string(),
    ] {
        if let Some(names) = vfs.read_dir(&dir) {
            for n in names {
                if n.starts_with("libpython3") && n.contains(".so") {
                    candidates.push(format!("{dir}/{n}"));
                }
            }
        }
    }
    let mut found: Option<BTreeSet<String>> = None;
    for path in candidates {
        // libpython is summarised with its exports, not kept; a binary is kept whole.
        let names = match vfs.read(&path) {
            Some(Some(data)) => builtins_from_elf(&data),
            _ => vfs
                .elf(&path)
                .and_then(|e| builtins_from_exports(&e.init_exports)),
        };
        if let Some(names) = names {
            // The binary of a shared build defines no PyInit_ of its own beyond the core four.
            if found.as_ref().is_none_or(|f| names.len() > f.len()) {
                found = Some(names);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysconfig_values_are_read_from_the_dict_literal() {
        let src = "build_time_vars = {'ABIFLAGS': '',\n 'EXT_SUFFIX': '.cpython-312-x86_64-linux-gnu.so',\n 'SOABI': 'cpython-312-x86_64-linux-gnu'}";
        assert_eq!(
            sysconfig_var(src, "SOABI").as_deref(),
            Some("cpython-312-x86_64-linux-gnu")
        );
        assert_eq!(sysconfig_var(src, "MISSING"), None);
    }

    #[test]
    fn versions_parse_with_abi_flags() {
        assert_eq!(PyVersion::parse("3.13t"), Some(PyVersion::new(3, 13)));
        assert_eq!(PyVersion::parse("3.7m"), Some(PyVersion::new(3, 7)));
        assert_eq!(PyVersion::parse("three"), None);
    }

    #[test]
    fn default_soabi_has_the_pre_38_m_flag() {
        assert_eq!(
            default_soabi(PyVersion::new(3, 7), "amd64", false),
            "cpython-37m-x86_64-linux-gnu"
        );
        assert_eq!(
            default_soabi(PyVersion::new(3, 12), "arm64", true),
            "cpython-312-aarch64-linux-musl"
        );
        assert_eq!(
            default_soabi(PyVersion::new(3, 10), "amd64", true),
            "cpython-310-x86_64-linux-gnu"
        );
    }
}
