//! Native extensions and the runtime user, on real images with real wheels from PyPI: an
//! extension built for another CPython, shared libraries removed from the image (numpy's
//! libstdc++, the stdlib's libsqlite3, psycopg2-binary's bundled libpq), a closed directory and
//! an unreadable module for `USER 1000`, `pip install --user` as root then `USER app`, and an
//! image where every native dependency is present. CPython in the container is the truth.
//!
//! Wheels are downloaded on the host with pip into `~/.cache/importgate-tests/wheels/` (the
//! test images have no network) and copied into the build context.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::*;

const SLIM: &str = "/usr/local/lib";
const MULTIARCH: &str = "/usr/lib/x86_64-linux-gnu";

fn cache_dir() -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    PathBuf::from(home).join(".cache/importgate-tests/wheels")
}

/// The wheel files for `reqs` (with dependencies when `deps`), downloaded once for CPython
/// `py` (`3.12`) on manylinux x86_64.
fn wheels(py: &str, reqs: &[&str], deps: bool) -> Vec<PathBuf> {
    let dir = cache_dir().join(format!("cp{}", py.replace('.', "")));
    fs::create_dir_all(&dir).unwrap();
    let have = |req: &str| {
        let stem = req
            .split(['=', '<', '>'])
            .next()
            .unwrap()
            .to_lowercase()
            .replace('-', "_");
        fs::read_dir(&dir).unwrap().flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .to_lowercase()
                .starts_with(&format!("{stem}-"))
        })
    };
    if reqs.iter().any(|r| !have(r)) {
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "pip", "download", "-q", "--only-binary=:all:"])
            .args(["--python-version", py, "--implementation", "cp"])
            .args(["--platform", "manylinux2014_x86_64"])
            .args(["--platform", "manylinux_2_17_x86_64"])
            .args(["--platform", "manylinux_2_28_x86_64"])
            .arg("-d")
            .arg(&dir)
            .args(reqs);
        if !deps {
            cmd.arg("--no-deps");
        }
        let status = cmd.status().expect("run pip download");
        assert!(status.success(), "pip download {reqs:?} failed");
    }
    let mut out: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    out.sort();
    out
}

fn wheel(all: &[PathBuf], name: &str) -> PathBuf {
    all.iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .to_lowercase()
                .starts_with(&format!("{}-", name.to_lowercase()))
        })
        .unwrap_or_else(|| panic!("no wheel for {name} in {all:?}"))
        .clone()
}

/// A build context: wheels under `wheels/`, host libraries under `libs/` (copied into the
/// multiarch directory), literal files under `rootfs/`.
struct Build {
    ctx: tempfile::TempDir,
    lines: Vec<String>,
}

impl Build {
    fn new(base: &str) -> Build {
        let ctx = tempfile::Builder::new()
            .prefix("importgate-native.")
            .tempdir()
            .unwrap();
        for d in ["wheels", "libs", "rootfs"] {
            fs::create_dir_all(ctx.path().join(d)).unwrap();
        }
        fs::write(ctx.path().join("wheels/.keep"), "").unwrap();
        fs::write(ctx.path().join("libs/.keep"), "").unwrap();
        fs::write(ctx.path().join("rootfs/.keep"), "").unwrap();
        Build {
            ctx,
            lines: vec![
                format!("FROM {base}"),
                "COPY wheels/ /wheels/".into(),
                format!("COPY libs/ {MULTIARCH}/"),
                "COPY rootfs/ /".into(),
            ],
        }
    }

    fn wheel(self, w: &Path) -> Build {
        fs::copy(
            w,
            self.ctx.path().join("wheels").join(w.file_name().unwrap()),
        )
        .unwrap();
        self
    }

    /// The host's copy of a library the base images lack (libstdc++, libgcc_s, libgomp), under
    /// its soname.
    fn host_lib(self, soname: &str) -> Build {
        let src = fs::canonicalize(Path::new(MULTIARCH).join(soname))
            .unwrap_or_else(|e| panic!("host library {soname}: {e}"));
        fs::copy(src, self.ctx.path().join("libs").join(soname)).unwrap();
        self
    }

    fn file(self, path: &str, text: &str) -> Build {
        let p = self
            .ctx
            .path()
            .join("rootfs")
            .join(path.trim_start_matches('/'));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
        self
    }

    fn line(mut self, l: &str) -> Build {
        self.lines.push(l.to_string());
        self
    }

    fn build(self, name: &str) -> Image {
        fs::write(
            self.ctx.path().join("Dockerfile"),
            self.lines.join("\n") + "\n",
        )
        .unwrap();
        build_image(&format!("importgate-test/native-{name}"), self.ctx.path())
    }
}

const PIP_INSTALL: &str = "RUN python3 -m pip install -q --no-index --no-deps --no-compile --disable-pip-version-check /wheels/*.whl";
const APP: &str = "WORKDIR /app\nCMD [\"python3\", \"main.py\"]";

fn findings(report: &Value) -> Vec<&Value> {
    report["findings"].as_array().unwrap().iter().collect()
}

fn the_finding<'a>(report: &'a Value, code: &str) -> &'a Value {
    findings(report)
        .into_iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no `{code}` finding in {report:#}"))
}

/// What CPython says of one statement run as `/app/main.py` would.
fn cpython(tag: &str, statement: &str) -> Truth {
    truth_with(tag, "python3", Some("/app"), &[Case::new(statement, None)])
        .pop()
        .unwrap()
}

#[test]
fn cp310_extension_in_a_311_image_is_not_found_with_the_abi_message() {
    if !require_docker() {
        return;
    }
    let base = ensure_base("slim", "3.11");
    let w = wheel(&wheels("3.10", &["markupsafe==2.1.5"], false), "markupsafe");
    let site = format!("{SLIM}/python3.11/site-packages");
    let img = Build::new(&base)
        .wheel(&w)
        .file(
            "/app/main.py",
            "import markupsafe\nimport markupsafe._speedups\n",
        )
        .line(&format!(
            "RUN python3 -c \"import zipfile; zipfile.ZipFile('/wheels/{}').extractall('{site}')\"",
            w.file_name().unwrap().to_string_lossy()
        ))
        .line(APP)
        .build("abi310");
    let (run, report) = check_json(&img.tag);
    assert_eq!(run.code, 1, "{report:#}");
    let f = the_finding(&report, "module-not-found");
    assert_eq!(f["module"], "markupsafe._speedups");
    let notes = f["notes"].to_string();
    assert!(
        notes.contains(
            "found `_speedups.cpython-310-x86_64-linux-gnu.so` in /usr/local/lib/python3.11/site-packages/markupsafe, built for CPython 3.10; this interpreter (3.11, x86_64, glibc) loads `.cpython-311-x86_64-linux-gnu.so`, `.abi3.so`, `.so`"
        ),
        "{notes}"
    );
    differential_with(&img.tag, "python3", Some("/app"), &report);
}

/// The host's libstdc++ and libgcc_s, which the test base images do not have, and glibc's
/// compatibility stubs (`libpthread.so.0`, `libdl.so.2`, `librt.so.1`) that manylinux2014
/// wheels still name but the bases (an `ldd` closure of the interpreter) leave out.
fn with_cxx(b: Build) -> Build {
    with_glibc_stubs(b)
        .host_lib("libstdc++.so.6")
        .host_lib("libgcc_s.so.1")
}

fn with_glibc_stubs(b: Build) -> Build {
    b.host_lib("libpthread.so.0")
        .host_lib("libdl.so.2")
        .host_lib("librt.so.1")
        .host_lib("libutil.so.1")
}

#[test]
fn numpy_without_libstdcxx_is_a_missing_shared_library() {
    if !require_docker() {
        return;
    }
    let base = ensure_base("slim", "3.12");
    let all = wheels("3.12", &["numpy"], false);
    let img = with_cxx(Build::new(&base))
        .wheel(&wheel(&all, "numpy"))
        .file("/app/main.py", "import numpy\n")
        .line(PIP_INSTALL)
        .line(&format!("RUN rm {MULTIARCH}/libstdc++.so.6"))
        .line(APP)
        .build("numpy-nolibstdcxx");
    let (run, report) = check_json(&img.tag);
    assert_eq!(run.code, 1, "{report:#}");
    let f = the_finding(&report, "missing-shared-library");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .starts_with("libstdc++.so.6: cannot open")
    );
    let notes = f["notes"].to_string();
    // The path CPython's traceback shows: numpy/__init__.py imports numpy.__config__, which
    // imports numpy._core, whose multiarray loads the extension.
    assert!(
        notes.contains(
            "loading chain: numpy → numpy.__config__ → numpy._core → numpy._core.multiarray → numpy._core._multiarray_umath → libstdc++.so.6"
        ),
        "{notes}"
    );
    assert!(f["hint"].as_str().unwrap().contains("libstdc++6"));
    let t = cpython(&img.tag, "import numpy");
    assert_eq!(t.ok, Some(false), "{}", t.describe());
    assert!(t.import_error, "{}", t.describe());
    assert!(t.describe().contains("libstdc++.so.6"), "{}", t.describe());
}

#[test]
fn sqlite3_without_libsqlite3_is_a_missing_shared_library() {
    if !require_docker() {
        return;
    }
    let base = ensure_base("slim", "3.12");
    let img = Build::new(&base)
        .file("/app/main.py", "import json\nimport sqlite3\n")
        .line("RUN rm -f /lib/x86_64-linux-gnu/libsqlite3.so.0* /usr/lib/x86_64-linux-gnu/libsqlite3.so.0*")
        .line(APP)
        .build("nosqlite");
    let (run, report) = check_json(&img.tag);
    assert_eq!(run.code, 1, "{report:#}");
    let f = the_finding(&report, "missing-shared-library");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .starts_with("libsqlite3.so.0:"),
        "{f:#}"
    );
    assert!(
        f["notes"].to_string().contains("sqlite3 → _sqlite3"),
        "{f:#}"
    );
    assert!(f["hint"].as_str().unwrap().contains("libsqlite3-0"));
    assert_eq!(findings(&report).len(), 1, "{report:#}");
    let t = cpython(&img.tag, "import sqlite3");
    assert!(
        t.import_error && t.describe().contains("libsqlite3.so.0"),
        "{}",
        t.describe()
    );
    assert!(cpython(&img.tag, "import json").ok == Some(true));
}

/// libsqlite3 moved out of the cached and default directories: found again through
/// `LD_LIBRARY_PATH` from the image Env; without it the stale `ld.so.cache` entry is skipped.
#[test]
fn ld_library_path_from_the_env_and_a_stale_ld_so_cache_entry() {
    if !require_docker() {
        return;
    }
    let base = ensure_base("slim", "3.12");
    let build = |env: &str, name: &str| {
        Build::new(&base)
            .file("/app/main.py", "import sqlite3\n")
            .line(
                "RUN mkdir -p /opt/sqlite && cp /lib/x86_64-linux-gnu/libsqlite3.so.0 /opt/sqlite/ \
                 && rm -f /lib/x86_64-linux-gnu/libsqlite3.so.0* /usr/lib/x86_64-linux-gnu/libsqlite3.so.0*",
            )
            .line(env)
            .line(APP)
            .build(name)
    };
    let with = build("ENV LD_LIBRARY_PATH=/opt/sqlite", "ldpath");
    let (run, report) = check_json(&with.tag);
    assert_eq!(run.code, 0, "{report:#}");
    assert_no_native_findings_and_app_ok(&with.tag, &report);

    let without = build("ENV UNRELATED=1", "noldpath");
    let (run, report) = check_json(&without.tag);
    assert_eq!(run.code, 1, "{report:#}");
    let f = the_finding(&report, "missing-shared-library");
    assert!(f["notes"].to_string().contains("/etc/ld.so.cache"), "{f:#}");
    let t = cpython(&without.tag, "import sqlite3");
    assert!(
        t.import_error && t.describe().contains("libsqlite3.so.0"),
        "{}",
        t.describe()
    );
}

#[test]
fn psycopg2_binary_finds_its_bundled_libs_and_misses_them_when_removed() {
    if !require_docker() {
        return;
    }
    let base = ensure_base("slim", "3.12");
    let w = wheel(
        &wheels("3.12", &["psycopg2-binary"], false),
        "psycopg2_binary",
    );
    let build = || {
        with_glibc_stubs(Build::new(&base))
            .wheel(&w)
            .file("/app/main.py", "import psycopg2\nimport psycopg2.extras\n")
            .line(PIP_INSTALL)
    };
    let good = build().line(APP).build("psycopg2");
    let (_, report) = check_json(&good.tag);
    assert_no_native_findings_and_app_ok(&good.tag, &report);

    let bad = build()
        .line(&format!(
            "RUN rm {SLIM}/python3.12/site-packages/psycopg2_binary.libs/libpq-*"
        ))
        .line(APP)
        .build("psycopg2-nolibpq");
    let (run, report) = check_json(&bad.tag);
    assert_eq!(run.code, 1, "{report:#}");
    let f = the_finding(&report, "missing-shared-library");
    assert!(
        f["message"].as_str().unwrap().starts_with("libpq-"),
        "{f:#}"
    );
    assert!(
        f["notes"]
            .to_string()
            .contains("psycopg2 → psycopg2._psycopg"),
        "{f:#}"
    );
    let t = cpython(&bad.tag, "import psycopg2");
    assert!(
        t.import_error && t.describe().contains("libpq-"),
        "{}",
        t.describe()
    );
}

#[test]
fn a_closed_directory_and_an_unreadable_module_for_user_1000() {
    if !require_docker() {
        return;
    }
    let base = ensure_base("slim", "3.12");
    let img = Build::new(&base)
        .file(
            "/app/main.py",
            "import priv.mod\nimport secret\nimport open_mod\n",
        )
        .file("/app/priv/__init__.py", "")
        .file("/app/priv/mod.py", "X = 1\n")
        .file("/app/secret.py", "X = 1\n")
        .file("/app/open_mod.py", "X = 1\n")
        .line("RUN chmod 0700 /app/priv && chmod 0600 /app/secret.py")
        .line("USER 1000")
        .line(APP)
        .build("perms");
    let (run, report) = check_json(&img.tag);
    assert_eq!(run.code, 1, "{report:#}");
    let nf = the_finding(&report, "module-not-found");
    assert_eq!(nf["module"], "priv.mod");
    assert!(
        nf["notes"]
            .to_string()
            .contains("/app/priv has mode 0700, owner 0:0"),
        "{nf:#}"
    );
    let pd = the_finding(&report, "permission-denied");
    assert_eq!(pd["module"], "secret");
    assert!(
        pd["notes"]
            .to_string()
            .contains("/app/secret.py has mode 0600"),
        "{pd:#}"
    );
    assert_eq!(findings(&report).len(), 2, "{report:#}");
    // CPython: the closed directory hides the module; the unreadable file raises
    // PermissionError (an OSError, which the generic replay does not count as an import error).
    let t = cpython(&img.tag, "import priv.mod");
    assert!(t.fails_for("priv.mod", None), "{}", t.describe());
    let t = cpython(&img.tag, "import secret");
    assert_eq!(
        t.exc_type.as_deref(),
        Some("PermissionError"),
        "{}",
        t.describe()
    );
    assert_eq!(cpython(&img.tag, "import open_mod").ok, Some(true));
}

#[test]
fn pip_install_user_as_root_then_user_app() {
    if !require_docker() {
        return;
    }
    let base = ensure_base("slim", "3.12");
    let w = wheel(
        &wheels("3.12", &["typing-extensions"], false),
        "typing_extensions",
    );
    let img = Build::new(&base)
        .wheel(&w)
        .file("/app/main.py", "import typing_extensions\n")
        .line("RUN python3 -m pip install -q --user --no-index --no-deps --disable-pip-version-check /wheels/*.whl")
        .line("USER app")
        .line(APP)
        .build("pip-user");
    let (run, report) = check_json(&img.tag);
    assert_eq!(run.code, 1, "{report:#}");
    let f = the_finding(&report, "module-not-found");
    assert!(
        f["notes"]
            .to_string()
            .contains("is installed in /root/.local/lib/python3.12/site-packages"),
        "{f:#}"
    );
    assert!(f["hint"].as_str().unwrap().contains("--user"), "{f:#}");
    differential_with(&img.tag, "python3", Some("/app"), &report);
}

#[test]
fn no_false_positive_when_every_native_dependency_is_present() {
    if !require_docker() {
        return;
    }
    let base = ensure_base("slim", "3.12");
    let all = wheels(
        "3.12",
        &[
            "numpy",
            "pandas",
            "scipy",
            "pydantic-core",
            "psycopg2-binary",
            "lxml",
        ],
        true,
    );
    let mut b = with_cxx(Build::new(&base)).host_lib("libgomp.so.1");
    for name in [
        "numpy",
        "pandas",
        "scipy",
        "pydantic_core",
        "psycopg2_binary",
        "lxml",
        "python_dateutil",
        "six",
        "typing_extensions",
        "tzdata",
    ] {
        if let Some(w) = all.iter().find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .to_lowercase()
                .starts_with(&format!("{name}-"))
        }) {
            b = b.wheel(w);
        }
    }
    let img = b
        .file(
            "/app/main.py",
            "import numpy\nimport pandas\nimport scipy\nimport scipy.linalg\nimport scipy.sparse\n\
             import pydantic_core\nimport psycopg2\nimport lxml.etree\nimport sqlite3\nimport ssl\n",
        )
        .line(PIP_INSTALL)
        .line(APP)
        .build("all-present");
    let (_, report) = check_json(&img.tag);
    assert_no_native_findings_and_app_ok(&img.tag, &report);
}

/// No native finding anywhere, and every import of the application itself is `ok` and agrees
/// with CPython. (Findings inside third-party code, which other rules may report, are not
/// this test's subject.)
fn assert_no_native_findings_and_app_ok(tag: &str, report: &Value) {
    let native: Vec<&Value> = findings(report)
        .into_iter()
        .filter(|f| {
            matches!(
                f["code"].as_str(),
                Some("missing-shared-library" | "incompatible-extension" | "permission-denied")
            ) || f["file"] == "/app/main.py"
        })
        .collect();
    assert!(native.is_empty(), "{native:#?}");
    let mut app = report.clone();
    let imports: Vec<Value> = report["imports"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["file"] == "/app/main.py")
        .cloned()
        .collect();
    assert!(imports.iter().all(|i| i["status"] == "ok"), "{imports:#?}");
    app["imports"] = Value::Array(imports);
    differential_with(tag, "python3", Some("/app"), &app);
}

/// PyYAML and MarkupSafe import their extension modules under `try/except ImportError` and
/// fall back to pure Python; their manylinux wheels' `_yaml`/`_speedups` still name
/// `libpthread.so.0`, which the base image lacks. CPython imports both packages fine, so
/// importgate reports nothing; importing the extension unguarded (`yaml.cyaml` does
/// `from yaml._yaml import …`, `from markupsafe import _speedups`) fails in both, at the
/// application's import site, with the chain CPython follows.
#[test]
fn guarded_extension_imports_are_optional_and_unguarded_ones_fail() {
    if !require_docker() {
        return;
    }
    let base = ensure_base("slim", "3.12");
    let all = wheels("3.12", &["pyyaml", "markupsafe"], false);
    for w in ["pyyaml", "markupsafe"] {
        let so = Command::new("unzip")
            .args(["-l"])
            .arg(wheel(&all, w))
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&so.stdout).contains(".cpython-312-x86_64-linux-gnu.so"),
            "{w} wheel has no extension module"
        );
    }
    let build = |main: &str, name: &str| {
        Build::new(&base)
            .wheel(&wheel(&all, "pyyaml"))
            .wheel(&wheel(&all, "markupsafe"))
            .file("/app/main.py", main)
            .line(PIP_INSTALL)
            .line(APP)
            .build(name)
    };

    // (1) Guarded: the packages import, the extension is skipped.
    let guarded = build(
        "import yaml\nimport markupsafe\nprint(yaml.__with_libyaml__, markupsafe.escape('<'))\n",
        "guarded-ext",
    );
    let (run, report) = check_json(&guarded.tag);
    assert_eq!(run.code, 0, "{report:#}");
    assert_no_native_findings_and_app_ok(&guarded.tag, &report);
    assert_eq!(report["summary"]["errors"], 0, "{report:#}");
    for s in ["import yaml", "import markupsafe"] {
        let t = cpython(&guarded.tag, s);
        assert_eq!(t.ok, Some(true), "{s}: {}", t.describe());
    }
    // …and the extension really cannot load there.
    let t = cpython(&guarded.tag, "import yaml._yaml");
    assert!(
        t.import_error && t.describe().contains("libpthread.so.0"),
        "{}",
        t.describe()
    );

    // (2) Unguarded: both fail.
    let hard = build(
        "import yaml\nimport yaml.cyaml\nfrom markupsafe import _speedups\n",
        "unguarded-ext",
    );
    let (run, report) = check_json(&hard.tag);
    assert_eq!(run.code, 1, "{report:#}");
    let app: Vec<&Value> = findings(&report)
        .into_iter()
        .filter(|f| f["file"] == "/app/main.py")
        .collect();
    // One failure, one finding: at the application's line, not again inside the dependency.
    assert_eq!(
        app.len(),
        findings(&report).len(),
        "findings outside the application: {report:#}"
    );
    let lines: Vec<(u64, &str, &str)> = app
        .iter()
        .map(|f| {
            (
                f["line"].as_u64().unwrap(),
                f["code"].as_str().unwrap(),
                f["module"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (2, "missing-shared-library", "yaml._yaml"),
            (3, "missing-shared-library", "markupsafe._speedups"),
        ],
        "{report:#}"
    );
    assert!(
        app[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("libpthread.so.0: cannot open shared object file"),
        "{:#}",
        app[0]
    );
    let notes = app[0]["notes"].to_string();
    assert!(
        notes.contains("loading chain: yaml.cyaml → yaml._yaml → libpthread.so.0"),
        "{notes}"
    );
    assert!(
        app[1]["notes"]
            .to_string()
            .contains("loading chain: markupsafe._speedups → libpthread.so.0"),
        "{:#}",
        app[1]
    );
    // Nothing else fails: line 1 (`import yaml`) is fine.
    assert!(
        report["imports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["file"] == "/app/main.py" && i["line"] == 1 && i["status"] == "ok"),
        "{report:#}"
    );
    let t = cpython(&hard.tag, "import yaml");
    assert_eq!(t.ok, Some(true), "{}", t.describe());
    for s in ["import yaml.cyaml", "from markupsafe import _speedups"] {
        let t = cpython(&hard.tag, s);
        assert!(
            t.import_error && t.describe().contains("libpthread.so.0"),
            "{s}: {}",
            t.describe()
        );
    }
}

/// pyarrow without libstdc++: every one of its extension modules fails to load, and CPython
/// fails on the first one `pyarrow/__init__.py` imports, `pyarrow.lib` (`_acero`, first by
/// name in the package's tree, is not imported by `import pyarrow`).
#[test]
fn pyarrow_fails_on_pyarrow_lib_first() {
    if !require_docker() {
        return;
    }
    let base = ensure_base("slim", "3.12");
    let all = wheels("3.12", &["pyarrow"], false);
    let img = with_glibc_stubs(Build::new(&base))
        .host_lib("libgcc_s.so.1")
        .wheel(&wheel(&all, "pyarrow"))
        .file("/app/main.py", "import os\nimport pyarrow\n")
        .line(PIP_INSTALL)
        .line(APP)
        .build("pyarrow-nolibstdcxx");
    let (run, report) = check_json(&img.tag);
    assert_eq!(run.code, 1, "{report:#}");
    let native: Vec<&Value> = findings(&report)
        .into_iter()
        .filter(|f| f["code"] == "missing-shared-library")
        .collect();
    assert!(
        native.iter().all(|f| f["module"] == "pyarrow.lib"),
        "{native:#?}"
    );
    let f = native
        .iter()
        .find(|f| f["file"] == "/app/main.py")
        .unwrap_or_else(|| panic!("no finding at the application's import: {report:#}"));
    assert_eq!(f["line"], 2, "{f:#}");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .starts_with("libstdc++.so.6: cannot open"),
        "{f:#}"
    );
    assert!(
        f["notes"]
            .to_string()
            .contains("loading chain: pyarrow → pyarrow.lib → "),
        "{f:#}"
    );
    let t = cpython(&img.tag, "import pyarrow");
    assert!(
        t.import_error && t.describe().contains("libstdc++.so.6"),
        "{}",
        t.describe()
    );
    // The loader's ImportError names the extension it failed to load (`lib`, not `_acero`).
    assert!(
        matches!(t.name.as_deref(), Some("lib" | "pyarrow.lib")),
        "{}",
        t.describe()
    );
}
