//! The whole standard library, imported by name, on every base image: `/app/main.py` holds one
//! `import X` per line (CMD `python main.py`; `python3 main.py` on Debian, which has no
//! `python`) for a fixed union of top-level stdlib module names of CPython 3.6–3.13 (plus a few
//! submodules), and every verdict importgate gives is replayed in the image's own
//! CPython. Modules missing on a version (removed in 3.12/3.13, added in 3.9+, Windows- or
//! macOS-only, or stripped from the slim layout like `tkinter` and `idlelib`) must be errors,
//! the rest `ok`, exactly as CPython decides.
//!
//! Disagreements that are known importgate bugs are listed per base image in
//! [`KNOWN_DISAGREEMENTS`]; the test fails when a new one appears *or* a listed one disappears,
//! so fixing a bug means deleting its line here.

use crate::support::*;

/// Top-level stdlib module names, the union over CPython 3.6–3.13: `sys.stdlib_module_names`
/// of 3.10.13, 3.11.7, 3.12.1 and 3.13.0, plus the modules of 3.6.15–3.9.18 gone by 3.10
/// (`pkgutil.iter_modules` of the stdlib and `lib-dynload`, and `sys.builtin_module_names`),
/// without test-only modules (`test`, `_test*`, `xx*`, `_ctypes_test`, `_sysconfigdata_*`) and
/// without `antigravity`, `this`, `__hello__` and `__phello__` (they open a browser or print).
/// Generated once on the host; kept literal so the test does not depend on the host.
const STDLIB: &[&str] = &[
    "__future__",
    "_abc",
    "_aix_support",
    "_android_support",
    "_ast",
    "_asyncio",
    "_bisect",
    "_blake2",
    "_bootlocale",
    "_bootsubprocess",
    "_bz2",
    "_codecs",
    "_codecs_cn",
    "_codecs_hk",
    "_codecs_iso2022",
    "_codecs_jp",
    "_codecs_kr",
    "_codecs_tw",
    "_collections",
    "_collections_abc",
    "_colorize",
    "_compat_pickle",
    "_compression",
    "_contextvars",
    "_crypt",
    "_csv",
    "_ctypes",
    "_curses",
    "_curses_panel",
    "_datetime",
    "_dbm",
    "_decimal",
    "_dummy_thread",
    "_elementtree",
    "_frozen_importlib",
    "_frozen_importlib_external",
    "_functools",
    "_gdbm",
    "_hashlib",
    "_heapq",
    "_imp",
    "_interpchannels",
    "_interpqueues",
    "_interpreters",
    "_io",
    "_ios_support",
    "_json",
    "_locale",
    "_lsprof",
    "_lzma",
    "_markupbase",
    "_md5",
    "_msi",
    "_multibytecodec",
    "_multiprocessing",
    "_opcode",
    "_opcode_metadata",
    "_operator",
    "_osx_support",
    "_overlapped",
    "_peg_parser",
    "_pickle",
    "_posixshmem",
    "_posixsubprocess",
    "_py_abc",
    "_pydatetime",
    "_pydecimal",
    "_pyio",
    "_pylong",
    "_pyrepl",
    "_queue",
    "_random",
    "_scproxy",
    "_sha1",
    "_sha2",
    "_sha256",
    "_sha3",
    "_sha512",
    "_signal",
    "_sitebuiltins",
    "_socket",
    "_sqlite3",
    "_sre",
    "_ssl",
    "_stat",
    "_statistics",
    "_string",
    "_strptime",
    "_struct",
    "_suggestions",
    "_symtable",
    "_sysconfig",
    "_thread",
    "_threading_local",
    "_tkinter",
    "_tokenize",
    "_tracemalloc",
    "_typing",
    "_uuid",
    "_warnings",
    "_weakref",
    "_weakrefset",
    "_winapi",
    "_wmi",
    "_xxsubinterpreters",
    "_zoneinfo",
    "abc",
    "aifc",
    "argparse",
    "array",
    "ast",
    "asynchat",
    "asyncio",
    "asyncore",
    "atexit",
    "audioop",
    "base64",
    "bdb",
    "binascii",
    "binhex",
    "bisect",
    "builtins",
    "bz2",
    "cProfile",
    "calendar",
    "cgi",
    "cgitb",
    "chunk",
    "cmath",
    "cmd",
    "code",
    "codecs",
    "codeop",
    "collections",
    "colorsys",
    "compileall",
    "concurrent",
    "configparser",
    "contextlib",
    "contextvars",
    "copy",
    "copyreg",
    "crypt",
    "csv",
    "ctypes",
    "curses",
    "dataclasses",
    "datetime",
    "dbm",
    "decimal",
    "difflib",
    "dis",
    "distutils",
    "doctest",
    "dummy_threading",
    "email",
    "encodings",
    "ensurepip",
    "enum",
    "errno",
    "faulthandler",
    "fcntl",
    "filecmp",
    "fileinput",
    "fnmatch",
    "formatter",
    "fractions",
    "ftplib",
    "functools",
    "gc",
    "genericpath",
    "getopt",
    "getpass",
    "gettext",
    "glob",
    "graphlib",
    "grp",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "http",
    "idlelib",
    "imaplib",
    "imghdr",
    "imp",
    "importlib",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "keyword",
    "lib2to3",
    "linecache",
    "locale",
    "logging",
    "lzma",
    "macpath",
    "macurl2path",
    "mailbox",
    "mailcap",
    "marshal",
    "math",
    "mimetypes",
    "mmap",
    "modulefinder",
    "msilib",
    "msvcrt",
    "multiprocessing",
    "netrc",
    "nis",
    "nntplib",
    "nt",
    "ntpath",
    "nturl2path",
    "numbers",
    "opcode",
    "operator",
    "optparse",
    "os",
    "ossaudiodev",
    "parser",
    "pathlib",
    "pdb",
    "pickle",
    "pickletools",
    "pipes",
    "pkgutil",
    "platform",
    "plistlib",
    "poplib",
    "posix",
    "posixpath",
    "pprint",
    "profile",
    "pstats",
    "pty",
    "pwd",
    "py_compile",
    "pyclbr",
    "pydoc",
    "pydoc_data",
    "pyexpat",
    "queue",
    "quopri",
    "random",
    "re",
    "readline",
    "reprlib",
    "resource",
    "rlcompleter",
    "runpy",
    "sched",
    "secrets",
    "select",
    "selectors",
    "shelve",
    "shlex",
    "shutil",
    "signal",
    "site",
    "smtpd",
    "smtplib",
    "sndhdr",
    "socket",
    "socketserver",
    "spwd",
    "sqlite3",
    "sre_compile",
    "sre_constants",
    "sre_parse",
    "ssl",
    "stat",
    "statistics",
    "string",
    "stringprep",
    "struct",
    "subprocess",
    "sunau",
    "symbol",
    "symtable",
    "sys",
    "sysconfig",
    "syslog",
    "tabnanny",
    "tarfile",
    "telnetlib",
    "tempfile",
    "termios",
    "textwrap",
    "threading",
    "time",
    "timeit",
    "tkinter",
    "token",
    "tokenize",
    "tomllib",
    "trace",
    "traceback",
    "tracemalloc",
    "tty",
    "turtle",
    "turtledemo",
    "types",
    "typing",
    "unicodedata",
    "unittest",
    "urllib",
    "uu",
    "uuid",
    "venv",
    "warnings",
    "wave",
    "weakref",
    "webbrowser",
    "winreg",
    "winsound",
    "wsgiref",
    "xdrlib",
    "xml",
    "xmlrpc",
    "zipapp",
    "zipfile",
    "zipimport",
    "zlib",
    "zoneinfo",
];

/// Submodules imported with `import a.b`, after the top-level names.
const SUBMODULES: &[&str] = &[
    "os.path",
    "encodings.idna",
    "importlib.util",
    "xml.etree.ElementTree",
    "json.decoder",
    "email.mime.text",
    "concurrent.futures",
    "asyncio.subprocess",
    "collections.abc",
    "distutils.core",
];

/// Known disagreements between importgate and CPython, per base image label (`py3.X` or
/// `debian3.11`): the module of the `import X` statement they disagree on. Each entry is an
/// importgate bug found by this test; see the comment on each.
const KNOWN_DISAGREEMENTS: &[(&str, &[&str])] = &[];

fn main_py() -> String {
    STDLIB
        .iter()
        .chain(SUBMODULES)
        .map(|m| format!("import {m}\n"))
        .collect()
}

/// The module of a disagreement line (`` ...: `import X` (package ...``).
fn disagreement_module(line: &str) -> Option<&str> {
    let start = line.find("`import ")? + "`import ".len();
    let rest = &line[start..];
    Some(&rest[..rest.find('`')?])
}

fn stdlib(layout: &str, version: &str) {
    let base = ensure_base(layout, version);
    // Debian's `python3` package installs no `python` command.
    let (label, python) = match layout {
        "slim" => (format!("py{version}"), "python"),
        _ => (format!("debian{version}"), "python3"),
    };
    let tag = format!("importgate-test/stdlib-{label}");
    let image = build_scenario(
        &tag,
        &base,
        &[file("/app/main.py", main_py())],
        &format!("WORKDIR /app\nCMD [\"{python}\", \"main.py\"]"),
    );
    let (run, report) = check_json(&image.tag);
    let mut failures = Vec::new();
    if run.code != 0 && run.code != 1 {
        failures.push(format!("exit code {} (want 0 or 1)", run.code));
    }
    // Every statement must be decided (`ok` or `error`), or the differential skips it.
    for m in STDLIB.iter().chain(SUBMODULES) {
        let found = imports_of(&report, m, None);
        if !found
            .iter()
            .any(|i| i["file"] == "/app/main.py" && (i["status"] == "ok" || i["status"] == "error"))
        {
            failures.push(format!(
                "  `import {m}` not decided in /app/main.py (entries: {})",
                serde_json::to_string(&found).unwrap_or_default()
            ));
        }
    }
    let known: &[&str] = KNOWN_DISAGREEMENTS
        .iter()
        .find(|(l, _)| *l == label)
        .map(|(_, k)| *k)
        .unwrap_or(&[]);
    let found = disagreements(&image.tag, python, Some("/app"), &report);
    for line in &found {
        let module = disagreement_module(line).unwrap_or("");
        if !known.contains(&module) {
            let notes = findings_for(&report, module)
                .iter()
                .map(|f| {
                    format!(
                        "{} {}: {} {}",
                        f["severity"], f["code"], f["message"], f["notes"]
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            failures.push(format!(
                "  [{label}] new disagreement:{line}\n      importgate: {notes}"
            ));
        }
    }
    for module in known {
        if !found
            .iter()
            .any(|line| disagreement_module(line) == Some(module))
        {
            failures.push(format!(
                "  [{label}] known disagreement on `import {module}` is gone: remove it from \
                 KNOWN_DISAGREEMENTS"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "stdlib imports on {label} ({tag}):\n{}\n\nstderr:\n{}",
        failures.join("\n"),
        run.stderr
    );
}

#[test]
fn stdlib_py36() {
    if require_docker() {
        stdlib("slim", "3.6");
    }
}

#[test]
fn stdlib_py37() {
    if require_docker() {
        stdlib("slim", "3.7");
    }
}

#[test]
fn stdlib_py38() {
    if require_docker() {
        stdlib("slim", "3.8");
    }
}

#[test]
fn stdlib_py39() {
    if require_docker() {
        stdlib("slim", "3.9");
    }
}

#[test]
fn stdlib_py310() {
    if require_docker() {
        stdlib("slim", "3.10");
    }
}

#[test]
fn stdlib_py311() {
    if require_docker() {
        stdlib("slim", "3.11");
    }
}

#[test]
fn stdlib_py312() {
    if require_docker() {
        stdlib("slim", "3.12");
    }
}

#[test]
fn stdlib_py313() {
    if require_docker() {
        stdlib("slim", "3.13");
    }
}

#[test]
fn stdlib_debian() {
    if require_docker() {
        stdlib("debian", "3.11");
    }
}

/// The table of names bound by builtin and stdlib extension modules is what
/// `tests/support/stdlib_names.py` reads from the real interpreters (CPython 3.8–3.13 under
/// pyenv); skipped, saying so, on a machine without them.
#[test]
fn stdlib_names_table_matches_the_interpreters() {
    let out = std::process::Command::new("python3")
        .arg(support_script("stdlib_names.py"))
        .arg("--check")
        .arg(repo_root().join("crates/check/data/stdlib-names.txt"))
        .output()
        .unwrap();
    if out.status.code() == Some(2) {
        eprintln!(
            "SKIPPED: stdlib_names_table_matches_the_interpreters: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return;
    }
    assert!(
        out.status.success(),
        "crates/check/data/stdlib-names.txt differs from the interpreters (regenerate with `python3 tests/support/stdlib_names.py --write crates/check/data/stdlib-names.txt`):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
