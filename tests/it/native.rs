//! Native extensions and the runtime user, on real images with real wheels from PyPI: an
//! extension built for another CPython, shared libraries removed from the image (numpy's
//! libstdc++, the stdlib's libsqlite3, psycopg2-binary's bundled libpq), a closed directory and
//! an unreadable module for `USER 1000`, `pip install --user` as root then `USER app`, and an
//! image where every native dependency is present. CPython in the container is the truth.
//!
//! Wheels are downloaded on the host with pip into `~/.cache/importgate-tests/wheels/` (the
//! test images have no network) and copied into the build context.

use std::process::Command;

use serde_json::Value;

use crate::support::*;

const SLIM: &str = "/usr/local/lib";

/// The tag of this module's image `name`.
fn native(name: &str) -> String {
    format!("importgate-test/native-{name}")
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
    cpython_statement(tag, "python3", Some("/app"), statement)
}

/// The finding's message starts with `prefix`.
fn assert_message_starts(f: &Value, prefix: &str) {
    assert!(f["message"].as_str().unwrap().starts_with(prefix), "{f:#}");
}

/// One of the finding's notes contains `needle`.
fn assert_notes_contain(f: &Value, needle: &str) {
    assert!(f["notes"].to_string().contains(needle), "{f:#}");
}

/// CPython raises an ImportError for `statement` whose description names `needle` (the
/// library that cannot be loaded); its outcome.
fn cpython_import_error(tag: &str, statement: &str, needle: &str) -> Truth {
    let t = cpython(tag, statement);
    assert!(
        t.import_error && t.describe().contains(needle),
        "{statement}: {}",
        t.describe()
    );
    t
}

#[test]
fn cp310_extension_in_a_311_image_is_not_found_with_the_abi_message() {
    let Some(base) = docker_base("slim", "3.11") else {
        return;
    };
    let w = wheel(&wheels("3.10", &["markupsafe==2.1.5"], false), "markupsafe");
    let site = format!("{SLIM}/python3.11/site-packages");
    let img = ImageBuilder::new(&base)
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
        .build(&native("abi310"));
    let report = check_exit(&img.tag, 1);
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
fn with_cxx(b: ImageBuilder) -> ImageBuilder {
    with_glibc_stubs(b)
        .host_lib("libstdc++.so.6")
        .host_lib("libgcc_s.so.1")
}

fn with_glibc_stubs(b: ImageBuilder) -> ImageBuilder {
    b.host_lib("libpthread.so.0")
        .host_lib("libdl.so.2")
        .host_lib("librt.so.1")
        .host_lib("libutil.so.1")
}

#[test]
fn numpy_without_libstdcxx_is_a_missing_shared_library() {
    let Some(base) = docker_base("slim", "3.12") else {
        return;
    };
    let all = wheels("3.12", &["numpy"], false);
    let img = with_cxx(ImageBuilder::new(&base))
        .wheel(&wheel(&all, "numpy"))
        .file("/app/main.py", "import numpy\n")
        .line(PIP_INSTALL)
        .line(&format!("RUN rm {MULTIARCH}/libstdc++.so.6"))
        .line(APP)
        .build(&native("numpy-nolibstdcxx"));
    let report = check_exit(&img.tag, 1);
    let f = the_finding(&report, "missing-shared-library");
    assert_message_starts(f, "libstdc++.so.6: cannot open");
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
    let Some(base) = docker_base("slim", "3.12") else {
        return;
    };
    let img = ImageBuilder::new(&base)
        .file("/app/main.py", "import json\nimport sqlite3\n")
        .line("RUN rm -f /lib/x86_64-linux-gnu/libsqlite3.so.0* /usr/lib/x86_64-linux-gnu/libsqlite3.so.0*")
        .line(APP)
        .build(&native("nosqlite"));
    let report = check_exit(&img.tag, 1);
    let f = the_finding(&report, "missing-shared-library");
    assert_message_starts(f, "libsqlite3.so.0:");
    assert_notes_contain(f, "sqlite3 → _sqlite3");
    assert!(f["hint"].as_str().unwrap().contains("libsqlite3-0"));
    assert_eq!(findings(&report).len(), 1, "{report:#}");
    cpython_import_error(&img.tag, "import sqlite3", "libsqlite3.so.0");
    assert!(cpython(&img.tag, "import json").ok == Some(true));
}

/// A stdlib extension module missing from lib-dynload (a distro Python that splits it into
/// another package, a stripped image): `import sqlite3` raises `No module named '_sqlite3'`
/// from the stdlib's own code, also when a dependency is the importer.
#[test]
fn stdlib_extension_missing_from_lib_dynload() {
    let Some(base) = docker_base("slim", "3.12") else {
        return;
    };
    let site = "/usr/local/lib/python3.12/site-packages";
    let img = ImageBuilder::new(&base)
        .file(
            "/app/main.py",
            "import json\nimport sqlite3\nimport store\n",
        )
        .file(&format!("{site}/store/__init__.py"), "import sqlite3\n")
        .line("RUN rm -f /usr/local/lib/python3.12/lib-dynload/_sqlite3.*.so")
        .line(APP)
        .build(&native("no-sqlite3-ext"));
    let report = check_exit(&img.tag, 1);
    let errors: Vec<&Value> = findings(&report)
        .into_iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert_eq!(errors.len(), 2, "{report:#}");
    for f in &errors {
        assert_eq!(f["code"], "module-not-found", "{f:#}");
        assert_eq!(f["module"], "_sqlite3", "{f:#}");
        assert_eq!(f["file"], "/app/main.py", "{f:#}");
        assert!(
            f["hint"].as_str().unwrap().contains("libpython3.12-stdlib"),
            "{f:#}"
        );
    }
    let lines: Vec<u64> = errors.iter().filter_map(|f| f["line"].as_u64()).collect();
    assert_eq!(lines, [2, 3], "{report:#}");
    cpython_import_error(&img.tag, "import sqlite3", "No module named '_sqlite3'");
    cpython_import_error(&img.tag, "import store", "No module named '_sqlite3'");
    assert!(cpython(&img.tag, "import json").ok == Some(true));
}

/// libsqlite3 moved out of the cached and default directories: found again through
/// `LD_LIBRARY_PATH` from the image Env; without it the stale `ld.so.cache` entry is skipped.
#[test]
fn ld_library_path_from_the_env_and_a_stale_ld_so_cache_entry() {
    let Some(base) = docker_base("slim", "3.12") else {
        return;
    };
    let build = |env: &str, name: &str| {
        ImageBuilder::new(&base)
            .file("/app/main.py", "import sqlite3\n")
            .line(
                "RUN mkdir -p /opt/sqlite && cp /lib/x86_64-linux-gnu/libsqlite3.so.0 /opt/sqlite/ \
                 && rm -f /lib/x86_64-linux-gnu/libsqlite3.so.0* /usr/lib/x86_64-linux-gnu/libsqlite3.so.0*",
            )
            .line(env)
            .line(APP)
            .build(&native(name))
    };
    let with = build("ENV LD_LIBRARY_PATH=/opt/sqlite", "ldpath");
    let report = check_exit(&with.tag, 0);
    assert_no_native_findings_and_app_ok(&with.tag, &report);

    let without = build("ENV UNRELATED=1", "noldpath");
    let report = check_exit(&without.tag, 1);
    let f = the_finding(&report, "missing-shared-library");
    assert_notes_contain(f, "/etc/ld.so.cache");
    cpython_import_error(&without.tag, "import sqlite3", "libsqlite3.so.0");
}

#[test]
fn psycopg2_binary_finds_its_bundled_libs_and_misses_them_when_removed() {
    let Some(base) = docker_base("slim", "3.12") else {
        return;
    };
    let w = wheel(
        &wheels("3.12", &["psycopg2-binary"], false),
        "psycopg2_binary",
    );
    let build = || {
        with_glibc_stubs(ImageBuilder::new(&base))
            .wheel(&w)
            .file("/app/main.py", "import psycopg2\nimport psycopg2.extras\n")
            .line(PIP_INSTALL)
    };
    let good = build().line(APP).build(&native("psycopg2"));
    let (_, report) = check_json(&good.tag);
    assert_no_native_findings_and_app_ok(&good.tag, &report);

    let bad = build()
        .line(&format!(
            "RUN rm {SLIM}/python3.12/site-packages/psycopg2_binary.libs/libpq-*"
        ))
        .line(APP)
        .build(&native("psycopg2-nolibpq"));
    let report = check_exit(&bad.tag, 1);
    let f = the_finding(&report, "missing-shared-library");
    assert_message_starts(f, "libpq-");
    assert_notes_contain(f, "psycopg2 → psycopg2._psycopg");
    cpython_import_error(&bad.tag, "import psycopg2", "libpq-");
}

#[test]
fn a_closed_directory_and_an_unreadable_module_for_user_1000() {
    let Some(base) = docker_base("slim", "3.12") else {
        return;
    };
    let img = ImageBuilder::new(&base)
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
        .build(&native("perms"));
    let report = check_exit(&img.tag, 1);
    let nf = the_finding(&report, "module-not-found");
    assert_eq!(nf["module"], "priv.mod");
    assert_notes_contain(nf, "/app/priv has mode 0700, owner 0:0");
    let pd = the_finding(&report, "permission-denied");
    assert_eq!(pd["module"], "secret");
    assert_notes_contain(pd, "/app/secret.py has mode 0600");
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
    let Some(base) = docker_base("slim", "3.12") else {
        return;
    };
    let w = wheel(
        &wheels("3.12", &["typing-extensions"], false),
        "typing_extensions",
    );
    let img = ImageBuilder::new(&base)
        .wheel(&w)
        .file("/app/main.py", "import typing_extensions\n")
        .line("RUN python3 -m pip install -q --user --no-index --no-deps --disable-pip-version-check /wheels/*.whl")
        .line("USER app")
        .line(APP)
        .build(&native("pip-user"));
    let report = check_exit(&img.tag, 1);
    let f = the_finding(&report, "module-not-found");
    assert_notes_contain(
        f,
        "is installed in /root/.local/lib/python3.12/site-packages",
    );
    assert!(f["hint"].as_str().unwrap().contains("--user"), "{f:#}");
    differential_with(&img.tag, "python3", Some("/app"), &report);
}

#[test]
fn no_false_positive_when_every_native_dependency_is_present() {
    let Some(base) = docker_base("slim", "3.12") else {
        return;
    };
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
    let mut b = with_cxx(ImageBuilder::new(&base)).host_lib("libgomp.so.1");
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
        if let Some(w) = find_wheel(&all, name) {
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
        .build(&native("all-present"));
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
    let Some(base) = docker_base("slim", "3.12") else {
        return;
    };
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
        ImageBuilder::new(&base)
            .wheel(&wheel(&all, "pyyaml"))
            .wheel(&wheel(&all, "markupsafe"))
            .file("/app/main.py", main)
            .line(PIP_INSTALL)
            .line(APP)
            .build(&native(name))
    };

    // (1) Guarded: the packages import, the extension is skipped.
    let guarded = build(
        "import yaml\nimport markupsafe\nprint(yaml.__with_libyaml__, markupsafe.escape('<'))\n",
        "guarded-ext",
    );
    let report = check_exit(&guarded.tag, 0);
    assert_no_native_findings_and_app_ok(&guarded.tag, &report);
    assert_eq!(report["summary"]["errors"], 0, "{report:#}");
    for s in ["import yaml", "import markupsafe"] {
        let t = cpython(&guarded.tag, s);
        assert_eq!(t.ok, Some(true), "{s}: {}", t.describe());
    }
    // …and the extension really cannot load there.
    cpython_import_error(&guarded.tag, "import yaml._yaml", "libpthread.so.0");

    // (2) Unguarded: both fail.
    let hard = build(
        "import yaml\nimport yaml.cyaml\nfrom markupsafe import _speedups\n",
        "unguarded-ext",
    );
    let report = check_exit(&hard.tag, 1);
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
    assert_message_starts(app[0], "libpthread.so.0: cannot open shared object file");
    let notes = app[0]["notes"].to_string();
    assert!(
        notes.contains("loading chain: yaml.cyaml → yaml._yaml → libpthread.so.0"),
        "{notes}"
    );
    assert_notes_contain(
        app[1],
        "loading chain: markupsafe._speedups → libpthread.so.0",
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
        cpython_import_error(&hard.tag, s, "libpthread.so.0");
    }
}

/// pyarrow without libstdc++: every one of its extension modules fails to load, and CPython
/// fails on the first one `pyarrow/__init__.py` imports, `pyarrow.lib` (`_acero`, first by
/// name in the package's tree, is not imported by `import pyarrow`).
#[test]
fn pyarrow_fails_on_pyarrow_lib_first() {
    let Some(base) = docker_base("slim", "3.12") else {
        return;
    };
    let all = wheels("3.12", &["pyarrow"], false);
    let img = with_glibc_stubs(ImageBuilder::new(&base))
        .host_lib("libgcc_s.so.1")
        .wheel(&wheel(&all, "pyarrow"))
        .file("/app/main.py", "import os\nimport pyarrow\n")
        .line(PIP_INSTALL)
        .line(APP)
        .build(&native("pyarrow-nolibstdcxx"));
    let report = check_exit(&img.tag, 1);
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
    assert_message_starts(f, "libstdc++.so.6: cannot open");
    assert_notes_contain(f, "loading chain: pyarrow → pyarrow.lib → ");
    let t = cpython_import_error(&img.tag, "import pyarrow", "libstdc++.so.6");
    // The loader's ImportError names the extension it failed to load (`lib`, not `_acero`).
    assert!(
        matches!(t.name.as_deref(), Some("lib" | "pyarrow.lib")),
        "{}",
        t.describe()
    );
}
