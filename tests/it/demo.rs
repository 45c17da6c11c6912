//! `make demo` as a user runs it, with this build's binary (`BIN=`): the examples start
//! `FROM python:3.12-slim`, which the demo takes from the engine, pulls (from `PULL_FROM`, here a
//! loopback registry), or builds as a stand-in, saying which on one line; then the broken seed
//! app exits 1 at `backend/services/case_service.py` and its fixed twin exits 0.
//!
//! Other tests build on `python:3.12-slim` at the same time, so it is never removed: an engine
//! without it is shown to `make` by a `docker` wrapper first on `PATH` that answers
//! `docker image inspect python:3.12-slim` with "no such image" and passes everything else to
//! the real CLI (the pull really fails here, the stand-in is really built and retagged).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::registry::{Registry, tools};
use crate::support::*;

/// A directory holding the `docker` wrapper that hides `python:3.12-slim` from `image inspect`.
fn engine_without_the_image() -> tempfile::TempDir {
    let real = output_of(
        Command::new("sh").args(["-c", "command -v docker"]),
        "command -v docker",
    );
    let real = String::from_utf8_lossy(&real.stdout).trim().to_string();
    assert!(!real.is_empty(), "no docker CLI");
    let dir = tempdir();
    let wrapper = dir.path().join("docker");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ \"$1 $2 $3\" = \"image inspect {OFFICIAL_SLIM}\" ]; then\n  echo \"Error: No such image: {OFFICIAL_SLIM}\" >&2\n  exit 1\nfi\nexec '{real}' \"$@\"\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// `make demo BIN=<this build> VARS…` with `path_first` before `PATH`; (stdout, stderr, status).
fn make_demo(path_first: Option<&Path>, vars: &[String]) -> (String, String, i32) {
    let mut cmd = Command::new("make");
    cmd.arg("-C")
        .arg(repo_root())
        .arg("--no-print-directory")
        .arg("demo")
        .arg(format!("BIN={}", env!("CARGO_BIN_EXE_importgate")))
        .args(vars)
        .env("NO_COLOR", "1");
    if let Some(dir) = path_first {
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{path}", dir.display()));
    }
    let out = output_of(&mut cmd, "make demo");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// The verdicts of the two checks in the demo's output.
fn assert_verdicts(stdout: &str, stderr: &str) {
    let (broken, fixed) = stdout
        .split_once("== importgate check --context examples/seed-app-fixed")
        .unwrap_or_else(|| panic!("no fixed-twin check:\n{stdout}\nstderr:\n{stderr}"));
    assert!(
        broken.contains("--> examples/seed-app/backend/services/case_service.py:1:1")
            && broken.contains("No module named 'core.aws_service'")
            && broken.trim_end().ends_with("exit code: 1"),
        "broken seed app:\n{broken}\nstderr:\n{stderr}"
    );
    assert!(
        fixed.contains("all 3 imports in 6 files resolve")
            && fixed.trim_end().ends_with("exit code: 0"),
        "fixed twin:\n{fixed}\nstderr:\n{stderr}"
    );
}

/// The lines that say where `python:3.12-slim` came from.
fn base_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| l.starts_with(&format!("== {OFFICIAL_SLIM} ")))
        .collect()
}

#[test]
fn make_demo_builds_a_stand_in_when_the_image_is_absent_and_uses_it_after() {
    if !require_docker() {
        return;
    }
    let _demo = lock_file("importgate-demo.lock");
    // Built under the base lock, like every other base.
    let _base = lock_file("importgate-mkbase.lock");
    let wrapper = engine_without_the_image();
    let (stdout, stderr, code) = make_demo(Some(wrapper.path()), &["PULL_TIMEOUT=20".into()]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let lines = base_lines(&stdout);
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(
        lines[0].starts_with(&format!(
            "== {OFFICIAL_SLIM} is not in the engine and `docker pull {OFFICIAL_SLIM}` failed ("
        )) && lines[0].ends_with(
            "): using a stand-in built from this machine's CPython 3.12 with the official image's layout"
        ),
        "{}",
        lines[0]
    );
    assert_verdicts(&stdout, &stderr);
    drop(_base);

    // The stand-in has the official image's environment and command.
    let inspect = output_of(
        docker().args([
            "image",
            "inspect",
            "--format",
            "{{json .Config.Env}} {{json .Config.Cmd}}",
            OFFICIAL_SLIM,
        ]),
        "docker image inspect",
    );
    let config = String::from_utf8_lossy(&inspect.stdout);
    for want in [
        "\"PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"",
        "\"LANG=C.UTF-8\"",
        "\"GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305\"",
        "\"PYTHON_VERSION=3.12.",
        "[\"python3\"]",
    ] {
        assert!(config.contains(want), "{want} not in {config}");
    }

    // With the image in the engine: it is used as it is.
    let (stdout, stderr, code) = make_demo(None, &[]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(
        base_lines(&stdout),
        [format!("== {OFFICIAL_SLIM} from the engine")],
        "{stdout}"
    );
    assert_verdicts(&stdout, &stderr);
}

#[test]
fn make_demo_pulls_from_the_registry_it_is_told_to() {
    if !tools() {
        return;
    }
    let _demo = lock_file("importgate-demo.lock");
    ensure_official_slim();
    let reg = Registry::start(false);
    reg.push(
        &format!("docker-daemon:{OFFICIAL_SLIM}"),
        OFFICIAL_SLIM,
        &[],
    );
    let mirror = reg.host();
    let pulled = format!("{mirror}/{OFFICIAL_SLIM}");
    let _pulled = tagged(&pulled);
    let wrapper = engine_without_the_image();
    let (stdout, stderr, code) = make_demo(
        Some(wrapper.path()),
        &[format!("PULL_FROM={mirror}"), "PULL_TIMEOUT=60".into()],
    );
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(
        base_lines(&stdout),
        [format!("== {OFFICIAL_SLIM} pulled from {pulled}")],
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert_verdicts(&stdout, &stderr);

    // A mirror that does not answer: why, on the one line, and the stand-in.
    drop(reg);
    let (stdout, stderr, code) = make_demo(
        Some(wrapper.path()),
        &[format!("PULL_FROM={mirror}"), "PULL_TIMEOUT=20".into()],
    );
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let lines = base_lines(&stdout);
    assert!(
        lines.len() == 1
            && lines[0].contains(&format!("`docker pull {pulled}` failed ("))
            && lines[0].contains("connection refused")
            && lines[0].contains("using a stand-in"),
        "{stdout}"
    );
    assert_verdicts(&stdout, &stderr);
}
