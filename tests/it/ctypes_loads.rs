//! Shared libraries loaded through `ctypes` while a module is imported, on real images: a
//! `CDLL` of a soname that is present and one that is not, a relative path opened from the
//! working directory, `cdll.LoadLibrary` of an absolute path and `cdll["…"]`,
//! `find_library` without `/sbin/ldconfig` in the image and with it (the host's static
//! `ldconfig`, run in the image to write the cache), `CDLL(find_library(...))` of nothing (the
//! main program), a load caught by `except OSError`, and a site-packages module whose
//! module-level load fails under the application's `import`. CPython importing each module in
//! the image is the truth: the module fails to import exactly when importgate reports an error
//! in it.

use std::process::Command;

use serde_json::Value;

use crate::support::*;

/// Application modules, each one load; `main.py` imports the package whose load fails.
const MODULES: &[(&str, &str)] = &[
    ("present", "import ctypes\nctypes.CDLL(\"libutil.so.1\")\n"),
    (
        "absent",
        "import ctypes\nctypes.CDLL(\"libnotthere.so.3\")\n",
    ),
    (
        "bypath",
        "import ctypes\nctypes.CDLL(\"./vendor/libutil.so.1\")\n",
    ),
    (
        "bypath_ok",
        "from ctypes import cdll\ncdll.LoadLibrary(\"/usr/lib/x86_64-linux-gnu/libutil.so.1\")\nlib = cdll[\"libutil\" + \".so.1\"]\n",
    ),
    (
        "found",
        "import ctypes.util\nname = ctypes.util.find_library(\"util\")\nif not name:\n    raise ImportError(\"libutil not found\")\nlib = ctypes.CDLL(name)\n",
    ),
    (
        "found_none",
        "import ctypes\nfrom ctypes.util import find_library\nlib = ctypes.CDLL(find_library(\"notthere\"))\n",
    ),
    (
        "guarded",
        "import ctypes\ntry:\n    ctypes.CDLL(\"libnotthere.so.3\")\nexcept OSError:\n    pass\n",
    ),
];

/// The image for `version`, with the host's static `/sbin/ldconfig` (run once to write the
/// cache) when `ldconfig`.
fn image(version: &str, ldconfig: bool) -> Option<Image> {
    let base = docker_base("slim", version)?;
    let mut b = ImageBuilder::new(&base).host_lib("libutil.so.1");
    for (name, text) in MODULES {
        b = b.file(&format!("/app/{name}.py"), text);
    }
    b = b.file("/app/main.py", "import natpkg\n").file(
        &format!("/usr/local/lib/python{version}/site-packages/natpkg/__init__.py"),
        "import ctypes\nlib = ctypes.CDLL(\"libnotthere.so.3\")\n",
    );
    // Kept alive until the build below has copied it.
    let dir = tempdir();
    if ldconfig {
        let path = dir.path().join("ldconfig");
        std::fs::copy("/sbin/ldconfig", &path).expect("host /sbin/ldconfig");
        run_ok(
            Command::new("chmod").arg("0755").arg(&path),
            "chmod ldconfig",
        );
        b = b
            .tree("sbin", dir.path(), "/sbin", &[])
            .line("RUN [\"/sbin/ldconfig\"]");
    }
    let tag = format!(
        "importgate-test/ctypes-{}{}",
        version.replace('.', ""),
        if ldconfig { "-ldconfig" } else { "" }
    );
    Some(
        b.line("WORKDIR /app\nCMD [\"python3\", \"main.py\"]")
            .build(&tag),
    )
}

/// Whether CPython fails to import `module` in the image (run from /app), with its last line.
fn fails_in_image(tag: &str, module: &str) -> (bool, String) {
    let (fails, stderr) = import_in_image(tag, module);
    (fails, stderr.lines().last().unwrap_or_default().to_string())
}

/// Whether CPython fails to import `module` in the image (run from /app), with its stderr.
fn import_in_image(tag: &str, module: &str) -> (bool, String) {
    let out = docker_run(
        tag,
        &["-w", "/app"],
        &["python3", "-c", &format!("import {module}")],
    );
    (
        !out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn error_in(report: &Value, file: &str) -> Option<Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == file && f["severity"] == "error")
        .cloned()
}

fn differential(version: &str, ldconfig: bool) {
    let Some(img) = image(version, ldconfig) else {
        return;
    };
    let tag = img.tag.clone();
    let report = check_exit(&tag, 1);
    for (name, _) in MODULES {
        let (fails, last) = fails_in_image(&tag, name);
        let finding = error_in(&report, &format!("/app/{name}.py"));
        assert_eq!(
            fails,
            finding.is_some(),
            "{version} ldconfig={ldconfig} {name}: CPython says {last:?}, importgate {finding:#?}"
        );
        if let Some(f) = finding {
            assert_eq!(f["code"], "missing-shared-library", "{f:#}");
            // A dlopen failure is reported with the loader's own words.
            if last.starts_with("OSError: ") {
                assert_eq!(last.trim_start_matches("OSError: "), f["message"], "{f:#}");
            }
        }
    }
    // The guarded load is reported as information only.
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["file"] == "/app/guarded.py" && f["severity"] == "info"),
        "{report:#}"
    );
    // The site-packages module's load fails `import natpkg` at the application's import.
    let (fails, last) = fails_in_image(&tag, "natpkg");
    assert!(fails, "{last}");
    let f = error_in(&report, "/app/main.py").expect("finding at main.py");
    assert_eq!(f["code"], "missing-shared-library");
    assert_eq!(last.trim_start_matches("OSError: "), f["message"]);
    assert!(
        f["notes"].to_string().contains("loading chain: natpkg"),
        "{f:#}"
    );
}

#[test]
fn ctypes_loads_without_ldconfig_311() {
    differential("3.11", false);
}

#[test]
fn ctypes_loads_without_ldconfig_312() {
    differential("3.12", false);
}

#[test]
fn ctypes_loads_with_ldconfig_311() {
    differential("3.11", true);
}

#[test]
fn ctypes_loads_with_ldconfig_312() {
    differential("3.12", true);
}

/// psycopg 3 without its binary extra: `psycopg.pq` tries the C, binary and ctypes
/// implementations and raises `ImportError: no pq wrapper available` when all three fail;
/// the ctypes one fails because `find_library("pq")` finds nothing (no libpq, and no
/// `/sbin/ldconfig` in the base). With `psycopg-binary` installed the second one imports.
fn psycopg(version: &str, binary: bool) {
    let Some(base) = docker_base("slim", version) else {
        return;
    };
    let all = wheels(version, &["psycopg==3.2.3", "psycopg-binary==3.2.3"], true);
    let mut b = ImageBuilder::new(&base)
        .wheel(&wheel(&all, "psycopg"))
        .wheel(&wheel(&all, "typing_extensions"));
    if binary {
        // The wheel's extension needs glibc's compatibility stubs, which the bases leave out.
        b = b
            .wheel(&wheel(&all, "psycopg_binary"))
            .host_lib("libpthread.so.0")
            .host_lib("libdl.so.2")
            .host_lib("librt.so.1");
    }
    let tag = format!(
        "importgate-test/ctypes-psycopg-{}{}",
        version.replace('.', ""),
        if binary { "-binary" } else { "" }
    );
    let img = b
        .file("/app/main.py", "import psycopg\n")
        .line("RUN python3 -m pip install -q --no-index --no-deps --no-compile --disable-pip-version-check /wheels/*.whl")
        .line("WORKDIR /app\nCMD [\"python3\", \"main.py\"]")
        .build(&tag);
    let (fails, last) = import_in_image(&img.tag, "psycopg");
    let report = check_exit(&img.tag, if fails { 1 } else { 0 });
    let finding = error_in(&report, "/app/main.py");
    assert_eq!(
        fails,
        finding.is_some(),
        "CPython: {last}; importgate: {report:#}"
    );
    if let Some(f) = finding {
        assert!(last.contains("no pq wrapper available"), "{last}");
        assert_eq!(f["code"], "missing-shared-library", "{f:#}");
        assert_eq!(f["module"], "psycopg.pq", "{f:#}");
        let notes = f["notes"].to_string();
        assert!(
            notes.contains("find_library('pq') finds no `libpq`")
                && notes.contains("No module named 'psycopg_binary'"),
            "{notes}"
        );
    }
}

#[test]
fn psycopg_without_libpq_311() {
    psycopg("3.11", false);
}

#[test]
fn psycopg_without_libpq_312() {
    psycopg("3.12", false);
}

#[test]
fn psycopg_binary_312() {
    psycopg("3.12", true);
}

#[test]
fn psycopg_binary_311() {
    psycopg("3.11", true);
}
