//! Names bound by builtin and stdlib extension modules per CPython minor version
//! (`data/stdlib-names.txt`, generated from real interpreters by
//! `tests/support/stdlib_names.py`): what `from itertools import batched` or
//! `from posix import *` needs when the module has no Python source to read, and what
//! `from re import NOFLAG` needs where the source binds names dynamically.

use std::collections::HashMap;
use std::sync::OnceLock;

static DATA: &str = include_str!("../data/stdlib-names.txt");

/// Modules whose names depend on how the interpreter was configured (the C library, kernel
/// headers, linked libraries). Their constants (`SO_REUSEPORT`, `O_TMPFILE`, `OP_NO_TLSv1_3`)
/// follow the headers a build saw, so an upper-case name the table lacks may exist in another
/// build and is not judged; functions and classes are configure-detected but present in every
/// Linux build of a version that has them, so a lower-case name the table lacks is missing.
const BUILD_DEPENDENT: &[&str] = &[
    "posix",
    "_socket",
    "socket",
    "ssl",
    "select",
    "signal",
    "_signal",
    "resource",
    "termios",
    "fcntl",
    "mmap",
    "time",
    "errno",
    "_ssl",
    "_hashlib",
    "_curses",
    "_curses_panel",
    "readline",
    "_sqlite3",
    "_locale",
    "_tkinter",
    "_dbm",
    "_gdbm",
    "_uuid",
    "_ctypes",
    "sys",
    "_posixsubprocess",
    "_multiprocessing",
    "_posixshmem",
    "pyexpat",
    "zlib",
    "_lzma",
    "_bz2",
    "syslog",
    "grp",
    "pwd",
    "spwd",
    "nis",
];

/// A set of minor versions as a bit mask (bit `m` for 3.m).
type Minors = u64;

struct Table {
    modules: HashMap<&'static str, (Minors, HashMap<&'static str, Minors>)>,
    /// The minors the table was generated for.
    covered: Minors,
}

fn parse_minors(s: &str) -> Minors {
    let mut mask = 0;
    for part in s.split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(lo), Ok(hi)) = (lo.parse::<u32>(), hi.parse::<u32>()) {
            for m in lo..=hi.min(63) {
                mask |= 1 << m;
            }
        }
    }
    mask
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut modules: HashMap<&str, (Minors, HashMap<&str, Minors>)> = HashMap::new();
        let mut covered = 0;
        let mut current: Option<&str> = None;
        for line in DATA.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let indented = line.starts_with(' ');
            let Some((name, minors)) = line.trim().split_once(' ') else {
                continue;
            };
            let mask = parse_minors(minors);
            if indented {
                if let Some(m) = current
                    && let Some(entry) = modules.get_mut(m)
                {
                    entry.1.insert(name, mask);
                }
            } else {
                covered |= mask;
                modules.insert(name, (mask, HashMap::new()));
                current = Some(name);
            }
        }
        Table { modules, covered }
    })
}

/// Whether the builtin or stdlib extension `module` of CPython 3.`minor` binds `name`: `None`
/// when the table cannot tell (another version, a module it does not list, a build-dependent
/// name).
pub(crate) fn binds(module: &str, name: &str, minor: u8) -> Option<bool> {
    let t = table();
    let bit = 1u64.checked_shl(u32::from(minor))?;
    if t.covered & bit == 0 {
        return None;
    }
    let (present, names) = t.modules.get(module)?;
    if present & bit == 0 {
        return None;
    }
    match names.get(name) {
        Some(mask) if mask & bit != 0 => Some(true),
        // Known in other versions only (removed, or added later), or never.
        Some(_) | None if BUILD_DEPENDENT.contains(&module) && is_constant(name) => None,
        Some(_) | None => Some(false),
    }
}

/// `SO_REUSEPORT`, `O_TMPFILE`: no lower-case letter.
fn is_constant(name: &str) -> bool {
    !name.chars().any(|c| c.is_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_by_version() {
        assert_eq!(binds("itertools", "batched", 11), Some(false));
        assert_eq!(binds("itertools", "batched", 12), Some(true));
        assert_eq!(binds("itertools", "izip", 12), Some(false));
        assert_eq!(binds("math", "cbrt", 10), Some(false));
        assert_eq!(binds("math", "cbrt", 11), Some(true));
        // Outside the generated versions, or a module it does not list: unknown.
        assert_eq!(binds("itertools", "batched", 14), None);
        assert_eq!(binds("no_such_module", "x", 12), None);
        // A build-dependent module: its constants follow the build's headers.
        assert_eq!(binds("posix", "O_NO_SUCH_FLAG", 12), None);
        assert_eq!(binds("posix", "no_such_function", 12), Some(false));
        assert_eq!(binds("posix", "pidfd_open", 8), Some(false));
        assert_eq!(binds("posix", "getpid", 12), Some(true));
    }
}
