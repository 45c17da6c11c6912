//! Image families beyond python:X.Y-slim and Debian's python3: bases made by
//! `tests/support/mkbase.py` from reachable sources (see docs/semantics.md, "Image families"),
//! each checked by importgate without flags and replayed import by import in the image's own
//! CPython (the differential machinery of `differential.rs`).
//!
//! - `rhel`: CPython 3.11 built from source with `--prefix=/usr --with-platlibdir=lib64`.
//! - `alpine`: CPython 3.11 built with musl-gcc in /usr/local, musl's loader, busybox, no glibc.
//! - `conda`: /opt/conda (3.12) with the env /opt/conda/envs/app (3.11) run through its
//!   bin/python.
//! - `uv`: a uv-managed 3.12 in /root/.local/share/uv/python/… and the venv /app/.venv.
//! - `distroless`: Debian's python3.11 without /bin/sh, Entrypoint `/usr/bin/python3.11`.
//! - `arm64`: Debian's python3.11 for arm64, run under qemu-user-static.
//!
//! On each: the seed (a namespace portion shadowed by a regular package in the family's own
//! site directory) broken and fixed; packages in the directories the family's `site` adds and in
//! ones it does not; `from X import name` on standard-library modules; extensions built for the
//! other libc (manylinux and musllinux wheels of MarkupSafe 2.1.5 from PyPI, unpacked on the
//! host into `~/.cache/importgate-tests/wheels/families-v1/`) or the other machine; and on
//! distroless a shell-form `CMD`/`ENTRYPOINT`, which cannot start without /bin/sh.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::differential::{Base, Must, SCRIPT_APP, Scenario, err, from_err, from_ok, ok};
use crate::support::*;

/// The wheel whose extension module is built per libc and machine.
const MARKUPSAFE: &str = "markupsafe==2.1.5";

/// The unpacked MarkupSafe wheel for CPython `py` (`3.11`) and the wheel platform `platform`
/// (`manylinux_2_17_x86_64`, `musllinux_1_1_x86_64`, `manylinux_2_17_aarch64`): downloaded
/// once with `pip download` on the host and unpacked into the cache; the directory holding
/// `markupsafe/` and its `.dist-info`.
fn markupsafe(py: &str, platform: &str) -> PathBuf {
    let root = cache_dir().join("wheels/families-v1");
    let unpacked = root.join(format!("unpacked/cp{}-{platform}", py.replace('.', "")));
    let marker = unpacked.join(".complete");
    if marker.exists() {
        return unpacked;
    }
    let _lock = lock_file("importgate-families-wheels.lock");
    if marker.exists() {
        return unpacked;
    }
    let dl = root.join(format!("cp{}-{platform}", py.replace('.', "")));
    fs::create_dir_all(&dl).unwrap();
    if wheel_files(&dl).is_empty() {
        run_ok(
            Command::new("python3")
                .args(["-m", "pip", "download", "-q", "--no-deps"])
                .args(["--only-binary=:all:", "--implementation", "cp"])
                .args(["--python-version", py, "--platform", platform])
                .arg("-d")
                .arg(&dl)
                .arg(MARKUPSAFE),
            &format!("pip download {MARKUPSAFE} ({py}, {platform})"),
        );
    }
    let wheels = wheel_files(&dl);
    assert_eq!(wheels.len(), 1, "one wheel in {}: {wheels:?}", dl.display());
    let _ = fs::remove_dir_all(&unpacked);
    fs::create_dir_all(&unpacked).unwrap();
    run_ok(
        Command::new("python3")
            .args(["-m", "zipfile", "-e"])
            .arg(&wheels[0])
            .arg(&unpacked),
        "unpack the wheel",
    );
    fs::write(&marker, "").unwrap();
    unpacked
}

/// The extension module file names of an unpacked wheel (`markupsafe/_speedups.*.so`).
fn extension_names(unpacked: &std::path::Path) -> Vec<String> {
    fs::read_dir(unpacked.join("markupsafe"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".so"))
        .collect()
}

/// The options importgate needs for the family: the platform of an arm64 image.
fn check_args(base: &Base) -> &'static [&'static str] {
    if base.layout == "arm64" {
        &["--platform", "linux/arm64"]
    } else {
        &[]
    }
}

/// How a family's application is started and where `sys.path[0]` is.
struct Launch {
    /// Dockerfile lines (WORKDIR, ENTRYPOINT/CMD) of `python main.py` from /app.
    dockerfile: String,
    /// The interpreter the probe runs: the image's command word or path.
    python: &'static str,
}

fn launch(base: &Base) -> Launch {
    match base.layout {
        "conda" => Launch {
            dockerfile: "WORKDIR /app\nCMD [\"/opt/conda/envs/app/bin/python\", \"main.py\"]"
                .into(),
            python: "/opt/conda/envs/app/bin/python",
        },
        "uv" => Launch {
            dockerfile: "WORKDIR /app\nCMD [\"/app/.venv/bin/python\", \"main.py\"]".into(),
            python: "/app/.venv/bin/python",
        },
        // The base's Entrypoint is /usr/bin/python3.11: the Cmd is the script.
        "distroless" => Launch {
            dockerfile: "WORKDIR /app\nCMD [\"main.py\"]".into(),
            python: "/usr/bin/python3.11",
        },
        _ => Launch {
            dockerfile: SCRIPT_APP.into(),
            python: "python3",
        },
    }
}

/// The seed, reduced: `/app/core` (no `__init__.py`) shadowed by the regular package `core` in
/// the family's own site directory; `fixed` adds `/app/core/__init__.py`.
fn seed(base: &Base, fixed: bool) {
    let site = base.site();
    let l = launch(base);
    let mut entries = vec![
        file(
            "/app/main.py",
            "import services.case_service\nfrom core import aws_service\nimport json\n",
        ),
        file(
            "/app/services/case_service.py",
            "from core.aws_service import AwsService\n",
        ),
        file("/app/core/aws_service.py", "class AwsService:\n    pass\n"),
        file(format!("{site}/core/__init__.py"), "VERSION = 1\n"),
        file(format!("{site}/core/helpers.py"), ""),
    ];
    let (name, exit, must) = if fixed {
        entries.push(file("/app/core/__init__.py", ""));
        (
            "family-seed-fixed",
            0,
            vec![
                ok("services.case_service"),
                ok("core.aws_service"),
                from_ok("core", "aws_service"),
                ok("json"),
            ],
        )
    } else {
        (
            "family-seed",
            1,
            vec![
                ok("services.case_service"),
                err("core.aws_service"),
                from_err("core", "aws_service"),
                ok("json"),
            ],
        )
    };
    Scenario {
        entries,
        dockerfile: l.dockerfile,
        python: l.python,
        exit,
        must,
        check_args: check_args(base),
        ..Scenario::script(name, base)
    }
    .run();
}

/// One module per directory: `(directory, module, on sys.path)`. `main.py` imports each.
fn site_dirs(base: &Base, dirs: &[(&str, &'static str, bool)]) {
    let l = launch(base);
    let mut main = String::new();
    let mut entries = Vec::new();
    let mut must = Vec::new();
    for (dir, module, found) in dirs {
        main.push_str(&format!("import {module}\n"));
        entries.push(file(format!("{dir}/{module}/__init__.py"), ""));
        must.push(if *found { ok(module) } else { err(module) });
    }
    entries.push(file("/app/main.py", main));
    let exit = if dirs.iter().all(|d| d.2) { 0 } else { 1 };
    Scenario {
        entries,
        dockerfile: l.dockerfile,
        python: l.python,
        exit,
        must,
        check_args: check_args(base),
        ..Scenario::script("family-site-dirs", base)
    }
    .run();
}

/// `from X import name` on standard-library modules of this image's interpreter; `names` are
/// the family-specific claims, on top of names every 3.8+ has and names none has.
fn stdlib_names(base: &Base, names: Vec<Must>) {
    let l = launch(base);
    let mut must = vec![
        from_ok("os", "getcwd"),
        from_err("os", "no_such_name"),
        from_ok("json", "loads"),
        from_err("json", "no_such_name"),
        from_ok("collections", "OrderedDict"),
    ];
    must.extend(names);
    let main: String = must
        .iter()
        .map(|m| match m.name {
            Some(n) => format!("from {} import {n}\n", m.module),
            None => format!("import {}\n", m.module),
        })
        .collect();
    Scenario {
        entries: vec![file("/app/main.py", main)],
        dockerfile: l.dockerfile,
        python: l.python,
        exit: 1,
        must,
        check_args: check_args(base),
        ..Scenario::script("family-stdlib-names", base)
    }
    .run();
}

/// MarkupSafe's wheel for `platform` unpacked into `dir`: `import markupsafe` works either way
/// (it falls back to pure Python when `_speedups` does not import); `import
/// markupsafe._speedups` works only when the extension is built for this image's libc and
/// machine (`loads`).
fn wheel_extension(base: &Base, label: &str, py: &str, platform: &str, dir: &str, loads: bool) {
    let l = launch(base);
    let unpacked = markupsafe(py, platform);
    eprintln!(
        "{label}: {platform} wheel, extension {:?}, in {dir}",
        extension_names(&unpacked)
    );
    Scenario {
        entries: vec![
            file(
                "/app/main.py",
                "import markupsafe\nimport markupsafe._speedups\nfrom markupsafe import escape\n",
            ),
            tree(dir, &unpacked),
        ],
        dockerfile: l.dockerfile,
        python: l.python,
        exit: if loads { 0 } else { 1 },
        must: vec![
            ok("markupsafe"),
            if loads {
                ok("markupsafe._speedups")
            } else {
                err("markupsafe._speedups")
            },
            from_ok("markupsafe", "escape"),
        ],
        check_args: check_args(base),
        ..Scenario::script(label, base)
    }
    .run();
}

// ---------------------------------------------------------------------------------------------
// rhel: --prefix=/usr --with-platlibdir=lib64

#[test]
fn rhel_seed() {
    if require_docker() {
        let base = Base::family("rhel", "3.11");
        seed(&base, false);
        seed(&base, true);
    }
}

/// purelib /usr/lib/python3.11/site-packages and platlib /usr/lib64/python3.11/site-packages
/// are both on sys.path; Debian's dist-packages and /usr/local are not.
#[test]
fn rhel_site_dirs() {
    if require_docker() {
        site_dirs(
            &Base::family("rhel", "3.11"),
            &[
                ("/usr/lib/python3.11/site-packages", "purelib_pkg", true),
                ("/usr/lib64/python3.11/site-packages", "platlib_pkg", true),
                ("/usr/lib/python3/dist-packages", "debian_pkg", false),
                (
                    "/usr/local/lib/python3.11/site-packages",
                    "local_pkg",
                    false,
                ),
                ("/usr/lib64/python3.11", "stdlib_dir_pkg", true),
            ],
        );
    }
}

#[test]
fn rhel_stdlib_names() {
    if require_docker() {
        stdlib_names(
            &Base::family("rhel", "3.11"),
            vec![
                from_err("itertools", "batched"),
                from_ok("typing", "Self"),
                from_ok("tomllib", "loads"),
                ok("zlib"),
            ],
        );
    }
}

/// A musllinux extension in the glibc image does not load; the manylinux one does. Both in
/// platlib, where pip puts a wheel with an extension.
#[test]
fn rhel_wrong_libc() {
    if require_docker() {
        let base = Base::family("rhel", "3.11");
        let platlib = "/usr/lib64/python3.11/site-packages";
        wheel_extension(
            &base,
            "family-musllinux-wheel",
            "3.11",
            "musllinux_1_1_x86_64",
            platlib,
            false,
        );
        wheel_extension(
            &base,
            "family-manylinux-wheel",
            "3.11",
            "manylinux_2_17_x86_64",
            platlib,
            true,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// alpine: a musl CPython in /usr/local, no glibc

#[test]
fn alpine_seed() {
    if require_docker() {
        let base = Base::family("alpine", "3.11");
        seed(&base, false);
        seed(&base, true);
    }
}

#[test]
fn alpine_site_dirs() {
    if require_docker() {
        site_dirs(
            &Base::family("alpine", "3.11"),
            &[
                ("/usr/local/lib/python3.11/site-packages", "local_pkg", true),
                ("/usr/lib/python3.11/site-packages", "usr_pkg", false),
                ("/usr/lib/python3/dist-packages", "debian_pkg", false),
            ],
        );
    }
}

/// The musl build has no zlib (musl-gcc does not see glibc's zlib.h): `import zlib` fails in
/// this image (checked against the build's lib-dynload by CPython itself).
#[test]
fn alpine_stdlib_names() {
    if require_docker() {
        stdlib_names(
            &Base::family("alpine", "3.11"),
            vec![
                from_err("itertools", "batched"),
                from_ok("typing", "Self"),
                err("zlib"),
            ],
        );
    }
}

/// A manylinux (glibc) extension in the musl image does not load; the musllinux one does.
#[test]
fn alpine_wrong_libc() {
    if require_docker() {
        let base = Base::family("alpine", "3.11");
        let site = base.site();
        wheel_extension(
            &base,
            "family-manylinux-wheel",
            "3.11",
            "manylinux_2_17_x86_64",
            &site,
            false,
        );
        wheel_extension(
            &base,
            "family-musllinux-wheel",
            "3.11",
            "musllinux_1_1_x86_64",
            &site,
            true,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// conda: /opt/conda (3.12) and the env /opt/conda/envs/app (3.11) run by its own bin/python

#[test]
fn conda_seed() {
    if require_docker() {
        let base = Base::family("conda", "3.12");
        seed(&base, false);
        seed(&base, true);
    }
}

/// The env's python sees the env's site-packages, not the base prefix's.
#[test]
fn conda_site_dirs() {
    if require_docker() {
        site_dirs(
            &Base::family("conda", "3.12"),
            &[
                (
                    "/opt/conda/envs/app/lib/python3.11/site-packages",
                    "env_pkg",
                    true,
                ),
                ("/opt/conda/lib/python3.12/site-packages", "base_pkg", false),
                (
                    "/opt/conda/lib/python3.11/site-packages",
                    "base311_pkg",
                    false,
                ),
            ],
        );
    }
}

/// The env's interpreter is 3.11 although `python` on PATH is the base's 3.12.
#[test]
fn conda_stdlib_names() {
    if require_docker() {
        stdlib_names(
            &Base::family("conda", "3.12"),
            vec![from_err("itertools", "batched"), from_ok("typing", "Self")],
        );
    }
}

#[test]
fn conda_wrong_libc() {
    if require_docker() {
        let base = Base::family("conda", "3.12");
        let site = base.site();
        wheel_extension(
            &base,
            "family-musllinux-wheel",
            "3.11",
            "musllinux_1_1_x86_64",
            &site,
            false,
        );
        wheel_extension(
            &base,
            "family-manylinux-wheel",
            "3.11",
            "manylinux_2_17_x86_64",
            &site,
            true,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// uv: a uv-managed interpreter and the venv /app/.venv

#[test]
fn uv_seed() {
    if require_docker() {
        let base = Base::family("uv", "3.12");
        seed(&base, false);
        seed(&base, true);
    }
}

/// The venv's site-packages, not the managed interpreter's own.
#[test]
fn uv_site_dirs() {
    if require_docker() {
        site_dirs(
            &Base::family("uv", "3.12"),
            &[
                ("/app/.venv/lib/python3.12/site-packages", "venv_pkg", true),
                (
                    "/root/.local/share/uv/python/cpython-3.12.1-linux-x86_64-gnu/lib/python3.12/site-packages",
                    "managed_pkg",
                    false,
                ),
                (
                    "/usr/local/lib/python3.12/site-packages",
                    "local_pkg",
                    false,
                ),
            ],
        );
    }
}

#[test]
fn uv_stdlib_names() {
    if require_docker() {
        stdlib_names(
            &Base::family("uv", "3.12"),
            vec![from_ok("itertools", "batched"), from_ok("typing", "Self")],
        );
    }
}

#[test]
fn uv_wrong_libc() {
    if require_docker() {
        let base = Base::family("uv", "3.12");
        let site = base.site();
        wheel_extension(
            &base,
            "family-musllinux-wheel",
            "3.12",
            "musllinux_1_1_x86_64",
            &site,
            false,
        );
        wheel_extension(
            &base,
            "family-manylinux-wheel",
            "3.12",
            "manylinux_2_17_x86_64",
            &site,
            true,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// distroless: no /bin/sh, Entrypoint /usr/bin/python3.11

#[test]
fn distroless_seed() {
    if require_docker() {
        let base = Base::family("distroless", "3.11");
        seed(&base, false);
        seed(&base, true);
    }
}

/// Debian's site: dist-packages, including /usr/local/lib/python3.11/dist-packages; never
/// site-packages.
#[test]
fn distroless_site_dirs() {
    if require_docker() {
        site_dirs(
            &Base::family("distroless", "3.11"),
            &[
                ("/usr/lib/python3/dist-packages", "debian_pkg", true),
                (
                    "/usr/local/lib/python3.11/dist-packages",
                    "local_dist_pkg",
                    true,
                ),
                (
                    "/usr/local/lib/python3.11/site-packages",
                    "local_site_pkg",
                    false,
                ),
            ],
        );
    }
}

#[test]
fn distroless_stdlib_names() {
    if require_docker() {
        stdlib_names(
            &Base::family("distroless", "3.11"),
            vec![from_err("itertools", "batched"), from_ok("typing", "Self")],
        );
    }
}

/// The image's own start, run to its end: exit code and output.
fn start(tag: &str) -> (i32, String) {
    let out = docker_run(tag, &[], &[]);
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A shell-form `CMD` or `ENTRYPOINT` on distroless: Docker wraps it in `/bin/sh -c`, which the
/// image does not have. Under the base's Entrypoint the Cmd becomes python's arguments
/// (`python3.11 /bin/sh -c "python3 main.py"`: python cannot open /bin/sh); a shell-form
/// Entrypoint is run by the runtime, which cannot find /bin/sh. The exec-form twin starts.
/// Truth: the container's own start; importgate must report an error on the image config.
#[test]
fn distroless_shell_form() {
    if !require_docker() {
        return;
    }
    let base = Base::family("distroless", "3.11");
    let app = [file(
        "/app/main.py",
        "import json\nprint(\"app started\")\n",
    )];
    let cases: [(&str, &str, bool); 3] = [
        ("exec-form", "WORKDIR /app\nCMD [\"main.py\"]", true),
        ("shell-cmd", "WORKDIR /app\nCMD python3 main.py", false),
        (
            "shell-entrypoint",
            "WORKDIR /app\nENTRYPOINT python3 main.py",
            false,
        ),
    ];
    let mut failures = Vec::new();
    for (variant, tail, starts) in cases {
        let image = build_scenario(
            &format!("importgate-test/family-distroless-{variant}:latest"),
            &base.tag,
            &app,
            tail,
        );
        let (code, log) = start(&image.tag);
        let started = code == 0 && log.contains("app started");
        assert_eq!(
            started,
            starts,
            "{variant}: the container {} (exit {code}):\n{log}",
            if started { "starts" } else { "does not start" }
        );
        eprintln!(
            "distroless {variant}: the container exits {code}: {}",
            log.lines().last().unwrap_or("").trim()
        );
        let (run, report) = check_json(&image.tag);
        let errors = error_findings(&report);
        if starts {
            if run.code != 0 || !errors.is_empty() {
                failures.push(format!(
                    "{variant}: the container starts; importgate exits {} with errors {errors:#?}",
                    run.code
                ));
            }
        } else if run.code != 1 || !errors.iter().any(|f| f["file"] == "<image-config>") {
            failures.push(format!(
                "{variant}: the container cannot start ({}); importgate exits {} (want 1) with error findings {} (want one at <image-config>)",
                log.lines().last().unwrap_or("").trim(),
                run.code,
                serde_json::to_string(&errors).unwrap_or_default()
            ));
        }
        if starts {
            differential(&image.tag, &report);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// arm64: Debian's python3.11 for arm64 (run by qemu-user-static), checked with --platform

#[test]
fn arm64_seed() {
    if require_docker() {
        let base = Base::family("arm64", "3.11");
        seed(&base, false);
        seed(&base, true);
    }
}

/// An x86_64 extension in the arm64 image does not load; the aarch64 one does.
#[test]
fn arm64_wrong_machine() {
    if require_docker() {
        let base = Base::family("arm64", "3.11");
        let site = base.site();
        wheel_extension(
            &base,
            "family-x86-64-wheel",
            "3.11",
            "manylinux_2_17_x86_64",
            &site,
            false,
        );
        wheel_extension(
            &base,
            "family-aarch64-wheel",
            "3.11",
            "manylinux_2_17_aarch64",
            &site,
            true,
        );
    }
}

#[test]
fn arm64_stdlib_names() {
    if require_docker() {
        stdlib_names(
            &Base::family("arm64", "3.11"),
            vec![from_err("itertools", "batched"), from_ok("typing", "Self")],
        );
    }
}
