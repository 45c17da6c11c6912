//! Which engine `importgate` talks to: the one the Docker CLI would use. `DOCKER_HOST` wins;
//! else the docker context `DOCKER_CONTEXT` names; else the `currentContext` of
//! `$DOCKER_CONFIG/config.json`. The contexts here are written by the docker CLI itself into a
//! temporary `DOCKER_CONFIG`, so the metadata is the real thing.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::*;

/// `importgate ARGS` with this `DOCKER_CONFIG` and without the `DOCKER_HOST`/`DOCKER_CONTEXT`
/// of the test process (CI may set them), plus `env`.
fn importgate_in(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_importgate"))
        .args(args)
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env("DOCKER_CONFIG", config)
        .env("IMPORTGATE_CACHE_DIR", shared_layer_cache())
        .env("IMPORTGATE_NO_RESULT_CACHE", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run importgate");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The docker CLI working on the context store in `config`.
fn docker_in(config: &Path, args: &[&str]) -> String {
    run_ok(
        docker()
            .args(args)
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env("DOCKER_CONFIG", config),
        &format!("docker {}", args.join(" ")),
    )
}

/// The address of the engine the tests use (the docker CLI's own resolution, which honours a
/// `DOCKER_HOST` of CI), for a context that points at it.
fn engine_host() -> String {
    let out = output_of(
        docker().args([
            "context",
            "inspect",
            "--format",
            "{{.Endpoints.docker.Host}}",
        ]),
        "docker context inspect",
    );
    let host = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && !host.is_empty() {
        host
    } else {
        "unix:///var/run/docker.sock".to_string()
    }
}

/// A small image that passes the check.
fn passing_image(tag: &str) -> Image {
    ensure_base("slim", "3.12");
    build_image(tag, &example("seed-app-fixed"))
}

fn assert_passes(run: &Run, what: &str) {
    assert_eq!(
        run.code, 0,
        "{what}: want exit 0\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert_eq!(run.json()["summary"]["errors"], 0, "{what}");
}

#[test]
fn docker_context_selects_the_engine() {
    if !require_docker() {
        return;
    }
    let image = passing_image("importgate-test/engine-context:latest");
    let config = tempdir();
    let cfg = config.path();
    let host = engine_host();
    docker_in(
        cfg,
        &[
            "context",
            "create",
            "importgate-it",
            "--docker",
            &format!("host={host}"),
        ],
    );
    docker_in(
        cfg,
        &[
            "context",
            "create",
            "importgate-it-broken",
            "--docker",
            "host=unix:///nonexistent.sock",
        ],
    );
    assert!(
        cfg.join("contexts/meta").is_dir(),
        "the docker CLI wrote no context store in {}",
        cfg.display()
    );
    let check = ["check", "--format", "json", image.tag.as_str()];

    let run = importgate_in(cfg, &check, &[("DOCKER_CONTEXT", "importgate-it")]);
    assert_passes(&run, "DOCKER_CONTEXT=importgate-it");

    // The context is what decides: the broken one fails, in one line naming it.
    let run = importgate_in(cfg, &check, &[("DOCKER_CONTEXT", "importgate-it-broken")]);
    assert_bad_input(&run, "DOCKER_CONTEXT=importgate-it-broken");
    assert!(
        run.stderr
            .contains("docker context `importgate-it-broken` from DOCKER_CONTEXT")
            && run.stderr.contains("unix:///nonexistent.sock"),
        "the line names the context and its host: {}",
        run.stderr
    );

    // DOCKER_HOST wins over DOCKER_CONTEXT, as for the docker CLI.
    let run = importgate_in(
        cfg,
        &check,
        &[
            ("DOCKER_HOST", host.as_str()),
            ("DOCKER_CONTEXT", "importgate-it-broken"),
        ],
    );
    assert_passes(&run, "DOCKER_HOST over a broken DOCKER_CONTEXT");

    // `docker context use` (the config's currentContext).
    docker_in(cfg, &["context", "use", "importgate-it"]);
    let run = importgate_in(cfg, &check, &[]);
    assert_passes(&run, "docker context use importgate-it");
    // DOCKER_CONTEXT wins over currentContext.
    let run = importgate_in(cfg, &check, &[("DOCKER_CONTEXT", "importgate-it-broken")]);
    assert_bad_input(&run, "DOCKER_CONTEXT over currentContext");

    docker_in(cfg, &["context", "use", "importgate-it-broken"]);
    let run = importgate_in(cfg, &check, &[]);
    assert_bad_input(&run, "docker context use importgate-it-broken");
    assert!(
        run.stderr
            .contains("docker context `importgate-it-broken` from currentContext in")
            && run.stderr.contains("config.json"),
        "the line names the context and the config file: {}",
        run.stderr
    );

    // A build goes to the same engine, and fails the same way.
    let run = importgate_in(
        cfg,
        &["check", "--context", path_str(&example("seed-app-fixed"))],
        &[],
    );
    assert_bad_input(&run, "--context with a broken current context");
    assert!(
        run.stderr.contains("importgate-it-broken"),
        "{}",
        run.stderr
    );
}

#[test]
fn unknown_docker_context_is_one_line() {
    // Resolved before any engine is asked: no engine needed.
    let config = tempdir();
    let run = importgate_in(
        config.path(),
        &["check", "importgate-test/python:3.12-slim"],
        &[("DOCKER_CONTEXT", "importgate-it-nosuch")],
    );
    assert_bad_input(&run, "DOCKER_CONTEXT=importgate-it-nosuch");
    assert!(
        run.stderr
            .contains("docker context `importgate-it-nosuch` not found (DOCKER_CONTEXT, ")
            && run.stderr.contains("contexts/meta/")
            && run.stderr.contains("meta.json)"),
        "the line names the context and the file: {}",
        run.stderr
    );
    // The same through `--context DIR`.
    let run = importgate_in(
        config.path(),
        &["check", "--context", path_str(&example("seed-app"))],
        &[("DOCKER_CONTEXT", "importgate-it-nosuch")],
    );
    assert_bad_input(&run, "--context with DOCKER_CONTEXT=importgate-it-nosuch");
}

#[test]
fn tls_docker_context_is_one_line() {
    if !require_docker() {
        return;
    }
    let config = tempdir();
    let cfg = config.path();
    docker_in(
        cfg,
        &[
            "context",
            "create",
            "importgate-it-tls",
            "--docker",
            "host=tcp://127.0.0.1:2376,skip-tls-verify=true",
        ],
    );
    let run = importgate_in(
        cfg,
        &["check", "importgate-test/python:3.12-slim"],
        &[("DOCKER_CONTEXT", "importgate-it-tls")],
    );
    assert_bad_input(&run, "a TLS context");
    assert!(
        run.stderr.contains("docker context `importgate-it-tls`")
            && run.stderr.contains("does not support"),
        "{}",
        run.stderr
    );
}

/// `--platform` given with `--context` is sent to the engine's build; the engine here is amd64,
/// so the build and the check go through as without it.
#[test]
fn explicit_platform_is_sent_with_the_build() {
    if !require_docker() {
        return;
    }
    ensure_base("slim", "3.12");
    let _image = tagged("importgate-test/engine-platform:latest");
    let ctx = example("seed-app");
    let run = importgate(&[
        "check",
        "--context",
        path_str(&ctx),
        "--platform",
        "linux/amd64",
        "--tag",
        "importgate-test/engine-platform:latest",
        "--format",
        "json",
    ]);
    assert_eq!(
        run.code, 1,
        "the broken seed app builds and fails the check\nstderr:\n{}",
        run.stderr
    );
    let report = run.json();
    assert_eq!(report["mode"]["kind"], "built", "{report:#}");
    assert!(
        findings_for(&report, "core.aws_service")
            .iter()
            .any(|f| f["severity"] == "error"),
        "{report:#}"
    );
    let arch = run_ok(
        docker().args([
            "image",
            "inspect",
            "--format",
            "{{.Os}}/{{.Architecture}}",
            "importgate-test/engine-platform:latest",
        ]),
        "docker image inspect",
    );
    assert_eq!(arch.trim(), "linux/amd64");

    // A platform that is not os/arch is refused before any build.
    let run = importgate(&["check", "--context", path_str(&ctx), "--platform", "amd64"]);
    assert_bad_input(&run, "--platform amd64");
}
