//! The pre-build mode (`check --context DIR --no-build`) against the build mode on the same
//! context (`check --context DIR`, the engine builds it): the predicted verdicts (code, module,
//! file in the image and in the context, line, severity of every finding) equal the built ones, on the seed apps, on a Flask service whose
//! dependencies are installed by `pip install -r requirements.txt` (complete, and with one
//! dependency left undeclared), and on an app predicted from the bundled model of
//! `python:3.12-slim-bookworm` (a tag no test puts in the engine) and built on the local
//! `importgate-test/python:3.12-slim`. The examples start `FROM python:3.12-slim`, which
//! `ensure_base` provides (pulled, or a stand-in), so their prediction reads it from the engine.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::*;

type Verdict = (String, String, String, String, u64, String);

/// Every finding as (code, module, file in the image, file in the context, line, severity).
fn verdicts(report: &Value) -> BTreeSet<Verdict> {
    report["findings"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .map(|f| {
                    (
                        f["code"].as_str().unwrap_or_default().to_string(),
                        f["module"].as_str().unwrap_or_default().to_string(),
                        f["file"].as_str().unwrap_or_default().to_string(),
                        f["context"]["path"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        f["line"].as_u64().unwrap_or_default(),
                        f["severity"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Wheels for CPython 3.12 on x86_64 glibc downloaded from PyPI on the host (cached).
fn pypi_wheels(name: &str, reqs: &[&str]) -> PathBuf {
    let cache = cache_dir().join(name);
    if !cache.join(".complete").exists() {
        let python = std::env::var("PYTHON312")
            .unwrap_or_else(|_| "/root/.pyenv/versions/3.12.1/bin/python".to_string());
        run_ok(
            Command::new(python)
                .args([
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--only-binary=:all:",
                    "--python-version",
                    "3.12",
                    "--implementation",
                    "cp",
                    "--platform",
                    "manylinux2014_x86_64",
                    "-d",
                ])
                .arg(&cache)
                .args(reqs),
            &format!("pip download {reqs:?}"),
        );
        fs::write(cache.join(".complete"), "").unwrap();
    }
    cache
}

/// `check --context DIR --no-build --format json`.
fn predicted(dir: &Path) -> (Run, Value) {
    let run = importgate(&[
        "check",
        "--context",
        path_str(dir),
        "--no-build",
        "--format",
        "json",
    ]);
    let json = run.json();
    assert_eq!(
        json["mode"]["kind"], "prediction",
        "{json:#}\nstderr:\n{}",
        run.stderr
    );
    (run, json)
}

/// The same context in build mode: `check --context DIR --tag TAG`, the engine builds it.
fn built(tag: &str, dir: &Path) -> (Image, Run, Value) {
    let run = importgate(&[
        "check",
        "--context",
        path_str(dir),
        "--tag",
        tag,
        "--format",
        "json",
    ]);
    let image = tagged(tag);
    let json = run.json();
    assert_eq!(
        json["mode"]["kind"], "built",
        "{json:#}\nstderr:\n{}",
        run.stderr
    );
    (image, run, json)
}

/// Prediction and build agree on every verdict and on the exit code; the human form of the
/// prediction says it is one.
fn assert_agree(tag: &str, dir: &Path) -> BTreeSet<Verdict> {
    let (prun, prediction) = predicted(dir);
    let (_image, brun, build) = built(tag, dir);
    let (p, b) = (verdicts(&prediction), verdicts(&build));
    assert_eq!(
        p,
        b,
        "prediction and build disagree on {}\nprediction:\n{prediction:#}\nbuild:\n{build:#}",
        dir.display()
    );
    assert_eq!(prun.code, brun.code, "exit codes; stderr:\n{}", prun.stderr);
    assert_eq!(
        prediction["python"]["sys_path"], build["python"]["sys_path"],
        "sys.path"
    );
    assert_eq!(prediction["entrypoint"], build["entrypoint"]);
    let human = importgate(&["check", "--context", path_str(dir), "--no-build"]);
    assert_eq!(human.code, prun.code, "stderr:\n{}", human.stderr);
    assert!(
        human.stdout.contains("prediction"),
        "human output does not say prediction:\n{}",
        human.stdout
    );
    p
}

#[test]
fn prediction_agrees_with_the_build_on_the_seed_apps() {
    if !require_docker() {
        return;
    }
    ensure_base("slim", "3.12");
    for (name, code) in [("seed-app", 1), ("seed-app-fixed", 0)] {
        let ctx = example_copy(name);
        let found = assert_agree(&format!("importgate-test/predict-{name}"), ctx.path());
        assert_eq!(found.is_empty(), code == 0, "{name}: {found:?}");
        if code == 1 {
            assert!(
                found.iter().any(|v| v.1 == "core.aws_service"
                    && v.2 == "/app/services/case_service.py"
                    && v.3 == "backend/services/case_service.py"
                    && v.5 == "error"),
                "{found:?}"
            );
        }
    }
}

/// A temp copy of examples/flask-app with its wheels (from PyPI, cached) and the host's
/// libpthread: the minimal test base lacks it and the wheels' extension modules link it
/// (python:3.12-slim has it), so the image gets it as the build would need.
fn flask_context() -> tempfile::TempDir {
    let wheels = pypi_wheels(
        "flask-app-wheels-v1",
        &[
            "-r",
            path_str(&example("flask-app").join("requirements.txt")),
        ],
    );
    let ctx = example_copy("flask-app");
    copy_tree(&wheels, &ctx.path().join("wheels"));
    let _ = fs::remove_file(ctx.path().join("wheels/.complete"));
    fs::create_dir_all(ctx.path().join("libs")).unwrap();
    fs::copy(
        "/lib/x86_64-linux-gnu/libpthread.so.0",
        ctx.path().join("libs/libpthread.so.0"),
    )
    .unwrap();
    let dockerfile = ctx.path().join("Dockerfile");
    let text = fs::read_to_string(&dockerfile).unwrap();
    let (from, rest) = text.split_once('\n').unwrap();
    fs::write(
        &dockerfile,
        format!("{from}\nCOPY libs/ /lib/x86_64-linux-gnu/\n{rest}"),
    )
    .unwrap();

    ctx
}

#[test]
fn prediction_reads_requirements_like_pip_installs_them() {
    if !require_docker() {
        return;
    }
    ensure_base("slim", "3.12");
    let ctx = flask_context();

    // Every dependency declared: both pass (werkzeug comes with Flask in both).
    let found = assert_agree("importgate-test/predict-flask", ctx.path());
    assert!(found.is_empty(), "{found:?}");

    // PyYAML left out of requirements.txt: both report `import yaml` in settings.py.
    let reqs = ctx.path().join("requirements.txt");
    let text = fs::read_to_string(&reqs).unwrap();
    fs::write(
        &reqs,
        text.lines()
            .filter(|l| !l.starts_with("PyYAML"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    let found = assert_agree("importgate-test/predict-flask-undeclared", ctx.path());
    assert!(
        found.iter().any(|v| v.0 == "module-not-found"
            && v.1 == "yaml"
            && v.2 == "/srv/app/settings.py"
            && v.3 == "app/settings.py"
            && v.4 == 3
            && v.5 == "error"),
        "{found:?}"
    );
}

/// The stdlib of the model: present modules pass, modules removed in 3.12 (`imp`,
/// `distutils`) fail, in the prediction (no engine needed) and in the build alike.
#[test]
fn prediction_from_the_bundled_model_matches_a_build_on_the_local_base() {
    // A tag the engine never has (`python:3.12-slim` may be there, pulled or a stand-in):
    // the prediction must come from the bundled model.
    let dockerfile = "FROM python:3.12-slim-bookworm\nWORKDIR /app\nCOPY app/ .\nENV PYTHONDONTWRITEBYTECODE=1\nCMD [\"python\", \"main.py\"]\n";
    let ctx = context_dir(&[
        (
            "app/main.py",
            "import asyncio\nimport json\nimport sqlite3\nimport tomllib\nimport zoneinfo\nfrom collections import OrderedDict\nfrom xml.etree import ElementTree\n\nimport lib.helpers\nimport imp\n\n\ndef later():\n    import distutils.core\n",
        ),
        ("app/lib/helpers.py", "import os.path\n"),
        (".dockerignore", "**/*.pyc\n"),
        ("Dockerfile", dockerfile),
    ]);
    let root = ctx.path();

    let (run, prediction) = predicted(root);
    assert_eq!(
        prediction["mode"]["base"], "bundled model of python:3.12-slim-bookworm",
        "{prediction:#}"
    );
    assert_eq!(prediction["python"]["version"], "3.12");
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    let p = verdicts(&prediction);
    let modules: BTreeSet<&str> = p.iter().map(|v| v.1.as_str()).collect();
    assert_eq!(
        modules,
        BTreeSet::from(["distutils", "imp"]),
        "{prediction:#}"
    );

    if !require_docker() {
        return;
    }
    let base = ensure_base("slim", "3.12");
    fs::write(
        root.join("Dockerfile"),
        dockerfile.replace("python:3.12-slim-bookworm", &base),
    )
    .unwrap();
    let (_image, brun, build) = built("importgate-test/predict-model", root);
    assert_eq!(p, verdicts(&build), "build:\n{build:#}");
    assert_eq!(run.code, brun.code);
}

#[test]
fn an_unknown_base_is_bad_input() {
    let ctx = context_dir(&[(
        "Dockerfile",
        "FROM registry.invalid/team/runtime:7\nCOPY . /app\n",
    )]);
    let run = importgate(&["check", "--context", path_str(ctx.path()), "--no-build"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("registry.invalid/team/runtime:7")
            && run
                .stderr
                .contains("neither in the local engine nor modelled"),
        "{}",
        run.stderr
    );
}

/// A venv made and filled in a builder stage, copied into the final stage and put first on
/// PATH: the prediction's sys.path and verdicts are the build's.
#[test]
fn prediction_follows_a_venv_from_a_builder_stage() {
    if !require_docker() {
        return;
    }
    let base = ensure_base("slim", "3.12");
    let ctx = flask_context();
    fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM {base} AS builder\nCOPY wheels/ /wheels/\nCOPY requirements.txt /tmp/\nRUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels -r /tmp/requirements.txt\n\nFROM {base}\nCOPY libs/ /lib/x86_64-linux-gnu/\nCOPY --from=builder /opt/venv /opt/venv\nENV PATH=/opt/venv/bin:$PATH\nWORKDIR /srv\nCOPY app/ ./app/\nCMD [\"python\", \"-m\", \"app\"]\n"
        ),
    )
    .unwrap();
    let found = assert_agree("importgate-test/predict-flask-venv", ctx.path());
    assert!(found.is_empty(), "{found:?}");
    let (_, prediction) = predicted(ctx.path());
    assert!(
        prediction["python"]["sys_path"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["path"] == "/opt/venv/lib/python3.12/site-packages"),
        "{prediction:#}"
    );
}
