//! What an extension module's file name says about the interpreter it was built for
//! (`.cpython-310-x86_64-linux-gnu.so`: CPython 3.10, x86-64, glibc), so that a file this
//! interpreter will not load can be explained in terms of what differs.

use crate::Interpreter;

/// The platform tag of an extension suffix, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbiTag {
    /// `CPython`, `PyPy`, or `stable ABI` for `.abi3.so`.
    pub implementation: String,
    /// `3.10`; for PyPy the Python version it implements.
    pub version: Option<String>,
    /// ABI flags after the version (`d` debug, `t` free-threaded, `m` pymalloc before 3.8).
    pub flags: String,
    /// `x86_64`, `aarch64`, …
    pub arch: Option<String>,
    /// `glibc` or `musl`.
    pub libc: Option<String>,
}

/// Parses the tag of `file` (a path or a name). `None` for a bare `.so` or an unknown form.
pub fn parse_tag(file: &str) -> Option<AbiTag> {
    let name = file.rsplit('/').next().unwrap_or(file);
    let stem = name.strip_suffix(".so")?;
    let (_, tag) = stem.rsplit_once('.')?;
    if tag == "abi3" {
        return Some(AbiTag {
            implementation: "the stable ABI".into(),
            version: None,
            flags: String::new(),
            arch: None,
            libc: None,
        });
    }
    let mut parts = tag.split('-');
    let first = parts.next()?;
    let (implementation, digits_flags) = if first == "cpython" {
        ("CPython", parts.next()?)
    } else if let Some(rest) = first.strip_prefix("cpython") {
        ("CPython", rest)
    } else if let Some(rest) = first.strip_prefix("pypy") {
        ("PyPy", rest)
    } else {
        return None;
    };
    let digits: String = digits_flags
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let flags = digits_flags[digits.len()..].to_string();
    let version = (digits.len() >= 2).then(|| format!("{}.{}", &digits[..1], &digits[1..]));
    let rest: Vec<&str> = parts.collect();
    // PyPy carries its own version next: `pypy39-pp73-x86_64-linux-gnu`.
    let rest = match rest.first() {
        Some(p) if p.starts_with("pp") => &rest[1..],
        _ => &rest[..],
    };
    let arch = rest.first().map(|a| a.to_string());
    let libc = rest.last().and_then(|l| match *l {
        "gnu" | "gnueabihf" | "gnueabi" => Some("glibc".to_string()),
        "musl" | "musleabihf" => Some("musl".to_string()),
        _ => None,
    });
    Some(AbiTag {
        implementation: implementation.into(),
        version,
        flags,
        arch,
        libc,
    })
}

/// The interpreter's own tag, from its first (most specific) extension suffix.
pub fn interpreter_tag(interp: &Interpreter) -> Option<AbiTag> {
    interp
        .extension_suffixes
        .iter()
        .find(|s| s.contains("cpython") || s.contains("pypy"))
        .and_then(|s| parse_tag(&format!("x{s}")))
}

/// `3.11, x86_64, glibc`.
pub fn describe_interpreter(interp: &Interpreter) -> String {
    let mut parts = vec![interp.version.to_string()];
    if let Some(tag) = interpreter_tag(interp) {
        parts.extend(tag.arch);
        parts.extend(tag.libc);
    }
    parts.join(", ")
}

/// "found `foo.cpython-310-x86_64-linux-gnu.so`, built for CPython 3.10; this interpreter (3.11,
/// x86_64, glibc) loads `.cpython-311-x86_64-linux-gnu.so`, `.abi3.so`, `.so`".
pub fn foreign_extension_note(file: &str, interp: &Interpreter) -> String {
    let name = file.rsplit('/').next().unwrap_or(file);
    let loads = interp
        .extension_suffixes
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let built = match parse_tag(name) {
        Some(tag) => {
            let ours = interpreter_tag(interp);
            let mut s = format!("built for {}", tag.implementation);
            if let Some(v) = &tag.version {
                s.push_str(&format!(" {v}{}", tag.flags));
            }
            let differs = |a: &Option<String>, b: Option<&Option<String>>| {
                a.is_some() && b.is_some_and(|b| b != a)
            };
            if let Some(arch) = &tag.arch
                && (differs(&tag.arch, ours.as_ref().map(|t| &t.arch)) || ours.is_none())
            {
                s.push_str(&format!(" on {arch}"));
            }
            if let Some(libc) = &tag.libc
                && differs(&tag.libc, ours.as_ref().map(|t| &t.libc))
            {
                s.push_str(&format!(" with {libc}"));
            }
            if !tag.flags.is_empty() && tag.flags.contains('d') {
                s.push_str(" (debug build)");
            } else if tag.flags.contains('t') {
                s.push_str(" (free-threaded build)");
            }
            s
        }
        None => "with a suffix this interpreter does not know".to_string(),
    };
    format!(
        "found `{name}` in {}, {built}; this interpreter ({}) loads {loads}",
        file.rsplit_once('/').map(|(d, _)| d).unwrap_or("."),
        describe_interpreter(interp)
    )
}

/// The ELF machine an OCI architecture runs (`amd64` → x86-64); `None` for unknown ones.
pub fn machine_for_arch(arch: &str) -> Option<u16> {
    Some(match arch {
        "amd64" | "x86_64" => 62,
        "arm64" | "aarch64" => 183,
        "386" | "i386" => 3,
        "arm" => 40,
        "ppc64le" | "ppc64" => 21,
        "s390x" => 22,
        "riscv64" => 243,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PyVersion;
    use std::collections::BTreeSet;

    fn interp(suffix: &str, v: PyVersion) -> Interpreter {
        Interpreter {
            executable: "/usr/local/bin/python3".into(),
            real_executable: "/usr/local/bin/python3".into(),
            version: v,
            prefix: "/usr/local".into(),
            stdlib: String::new(),
            lib_dynload: String::new(),
            extension_suffixes: vec![suffix.into(), ".abi3.so".into(), ".so".into()],
            builtins: BTreeSet::new(),
            builtins_from_binary: false,
            frozen: BTreeSet::new(),
            debian_site: false,
            platlibdir: "lib".into(),
        }
    }

    #[test]
    fn the_message_names_what_differs() {
        let i = interp(".cpython-311-x86_64-linux-gnu.so", PyVersion::new(3, 11));
        assert_eq!(
            foreign_extension_note("/app/foo.cpython-310-x86_64-linux-gnu.so", &i),
            "found `foo.cpython-310-x86_64-linux-gnu.so` in /app, built for CPython 3.10; this interpreter (3.11, x86_64, glibc) loads `.cpython-311-x86_64-linux-gnu.so`, `.abi3.so`, `.so`"
        );
        assert!(
            foreign_extension_note("/a/foo.cpython-311-aarch64-linux-gnu.so", &i)
                .contains("built for CPython 3.11 on aarch64;")
        );
        assert!(
            foreign_extension_note("/a/foo.cpython-311-x86_64-linux-musl.so", &i)
                .contains("built for CPython 3.11 with musl;")
        );
        assert!(
            foreign_extension_note("/a/foo.cpython-313t-x86_64-linux-gnu.so", &i)
                .contains("CPython 3.13t (free-threaded build)")
        );
        assert!(
            foreign_extension_note("/a/foo.pypy39-pp73-x86_64-linux-gnu.so", &i)
                .contains("built for PyPy 3.9;")
        );
    }

    #[test]
    fn machines_of_platforms() {
        assert_eq!(machine_for_arch("amd64"), Some(62));
        assert_eq!(machine_for_arch("arm64"), Some(183));
        assert_eq!(machine_for_arch("mips"), None);
    }
}
