//! The CI recipes of `docs/ci.md`, run as far as this machine allows: the SARIF validated against
//! the official 2.1.0 JSON schema, the JUnit report read by `junitparser`, the pre-commit
//! configuration run by `pre-commit` on a sample repository, the Makefile target run by `make`,
//! and the YAML of the CI recipes parsed. The recipes are read from `docs/ci.md` itself.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

use crate::support::*;

/// Pinned tools, installed once into a cached venv (PyPI is reachable from the host).
const TOOLS: &[&str] = &[
    "jsonschema==4.26.0",
    "junitparser==5.0.3",
    "pre-commit==4.7.0",
];

/// The venv with the pinned tools; its `bin` directory.
pub(crate) fn tools() -> PathBuf {
    static READY: Mutex<bool> = Mutex::new(false);
    let mut ready = READY.lock().unwrap_or_else(|e| e.into_inner());
    let venv = cache_dir().join("ci-tools-venv");
    let bin = venv.join("bin");
    if *ready {
        return bin;
    }
    let _lock = lock_file("importgate-ci-tools.lock");
    let stamp = venv.join("importgate-tools.txt");
    let want = TOOLS.join("\n");
    if fs::read_to_string(&stamp).ok().as_deref() != Some(want.as_str()) {
        let _ = fs::remove_dir_all(&venv);
        fs::create_dir_all(cache_dir()).expect("cache dir");
        run_ok(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv",
        );
        run_ok(
            Command::new(bin.join("pip"))
                .args(["install", "-q", "--disable-pip-version-check"])
                .args(TOOLS),
            "pip install the CI tools",
        );
        fs::write(&stamp, &want).expect("stamp");
    }
    *ready = true;
    bin
}

/// The OASIS SARIF 2.1.0 schema, fetched once (digest-pinned by `ci_validate.py`).
pub(crate) fn sarif_schema() -> PathBuf {
    let path = cache_dir().join("sarif-schema-2.1.0.json");
    let _lock = lock_file("importgate-sarif-schema.lock");
    if !path.exists() {
        fs::create_dir_all(cache_dir()).expect("cache dir");
        run_ok(
            Command::new("python3")
                .arg(support_script("ci_validate.py"))
                .arg("fetch-schema")
                .arg(&path),
            "fetch the SARIF schema",
        );
    }
    path
}

pub(crate) fn validate(args: &[&str]) -> (bool, Value, String) {
    let out = output_of(
        Command::new(tools().join("python"))
            .arg(support_script("ci_validate.py"))
            .args(args),
        "ci_validate.py",
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.success(), value, stderr)
}

/// The fenced block that follows `<!-- tested: NAME -->` in docs/ci.md.
pub(crate) fn recipe(name: &str) -> String {
    let doc = fs::read_to_string(repo_root().join("docs/ci.md")).expect("docs/ci.md");
    let marker = format!("<!-- tested: {name} -->");
    let start = doc
        .find(&marker)
        .unwrap_or_else(|| panic!("docs/ci.md has no {marker}"));
    let rest = &doc[start + marker.len()..];
    let open = rest.find("```").expect("opening fence");
    let body_start = rest[open..].find('\n').expect("fence line") + open + 1;
    let close = rest[body_start..].find("\n```").expect("closing fence") + body_start;
    rest[body_start..=close].to_string()
}

/// A copy of an example as a git repository of its own (what a user's checkout looks like).
pub(crate) fn sample_repo(example: &str) -> tempfile::TempDir {
    let dir = example_copy(example);
    run_ok(
        Command::new("git")
            .args(["init", "-q", "-b", "main"])
            .current_dir(dir.path()),
        "git init",
    );
    dir
}

fn binary_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_importgate"))
        .parent()
        .expect("binary dir")
        .to_path_buf()
}

/// PATH with the binary under test first, the way a user who installed it has it.
fn path_with_binary(extra: &Path) -> String {
    let mut parts = vec![binary_dir(), extra.to_path_buf()];
    if let Some(path) = std::env::var_os("PATH") {
        parts.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(parts)
        .expect("PATH")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn sarif_from_a_context_build_is_valid_and_points_into_the_repository() {
    if !require_docker() {
        return;
    }
    ensure_base("slim", "3.12");
    let out = tempdir();
    let sarif = out.path().join("importgate.sarif");
    // At the repository's root, as in a GitHub Actions job: URIs are repository paths.
    let run = importgate_in(
        &repo_root(),
        &[
            "check",
            "--context",
            "examples/seed-app",
            "--format",
            "sarif",
            "--output",
            path_str(&sarif),
        ],
    );
    assert_eq!(
        run.code, 1,
        "seed app must fail\n{}\n{}",
        run.stdout, run.stderr
    );
    // --output keeps the human report on stdout.
    assert!(
        run.stdout.contains("core.aws_service"),
        "human report expected on stdout:\n{}",
        run.stdout
    );
    let schema = sarif_schema();
    let (valid, seen, stderr) = validate(&["sarif", path_str(&sarif), path_str(&schema)]);
    assert!(valid, "SARIF invalid against the 2.1.0 schema:\n{stderr}");
    let results = seen["results"].as_array().expect("results");
    assert!(
        results.iter().any(
            |r| r["uri"] == "examples/seed-app/backend/services/case_service.py"
                && r["uriBaseId"] == "%SRCROOT%"
                && r["line"] == 1
                && r["level"] == "error"
        ),
        "no error result at examples/seed-app/backend/services/case_service.py:1 in {seen:#}"
    );
    assert!(
        seen["rules"]
            .as_array()
            .is_some_and(|rules| rules.iter().any(|r| r == "namespace-shadowed")),
        "rule metadata missing: {seen:#}"
    );
}

#[test]
fn sarif_validator_rejects_an_invalid_document() {
    // The validation above must be able to fail: a result without its required message.
    if !require_docker() {
        return;
    }
    let dir = tempdir();
    let bad = dir.path().join("bad.sarif");
    fs::write(
        &bad,
        r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"importgate"}},"results":[{"ruleId":"x"}]}]}"#,
    )
    .expect("write");
    let schema = sarif_schema();
    let (valid, _, stderr) = validate(&["sarif", path_str(&bad), path_str(&schema)]);
    assert!(!valid, "a result without `message` must be invalid");
    assert!(stderr.contains("message"), "{stderr}");
}

#[test]
fn junit_is_read_by_junitparser() {
    if !require_docker() {
        return;
    }
    ensure_base("slim", "3.12");
    for (example, failures) in [("seed-app", true), ("seed-app-fixed", false)] {
        let out = tempdir();
        let xml = out.path().join("importgate-junit.xml");
        let context = crate::support::example(example);
        let run = importgate(&[
            "check",
            "--context",
            path_str(&context),
            "--format",
            "junit",
            "--output",
            path_str(&xml),
        ]);
        assert_eq!(run.code, i32::from(failures), "{example}\n{}", run.stderr);
        let (valid, seen, stderr) = validate(&["junit", path_str(&xml)]);
        assert!(valid, "junitparser could not read the report: {stderr}");
        assert!(seen["tests"].as_u64().unwrap_or(0) >= 3, "{seen:#}");
        let failed: Vec<&Value> = seen["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .filter(|c| c["outcome"] == "failed")
            .collect();
        if failures {
            assert!(
                failed.iter().any(|c| {
                    let text = format!("{} {}", c["classname"], c["name"]);
                    text.contains("backend/services/case_service.py")
                }),
                "no failed case for backend/services/case_service.py: {seen:#}"
            );
        } else {
            assert!(failed.is_empty(), "{seen:#}");
        }
    }
}

#[test]
fn ci_recipes_are_valid_yaml() {
    // pre-commit brings PyYAML; the recipes must at least be well-formed and run importgate.
    if !require_docker() {
        return;
    }
    let dir = tempdir();
    for name in ["github-actions", "gitlab-ci", "pre-commit-config"] {
        let text = recipe(name);
        assert!(
            text.contains("importgate check")
                || text.contains("id: importgate")
                || text.contains("uses: importgate/importgate@"),
            "{name}: {text}"
        );
        let file = dir.path().join(format!("{name}.yaml"));
        fs::write(&file, &text).expect("write yaml");
        run_ok(
            Command::new(tools().join("python"))
                .args(["-c", "import sys, yaml; yaml.safe_load(open(sys.argv[1]))"])
                .arg(&file),
            &format!("parse the {name} recipe"),
        );
    }
}

/// What the importgate repository is to pre-commit: the files `cargo install --path .` needs
/// and `.pre-commit-hooks.yaml`, from the working tree, committed in a git repository of their
/// own. Returns the repository and its commit (the `rev:`).
pub(crate) fn hook_repo() -> (tempfile::TempDir, String) {
    let dir = tempdir();
    let root = repo_root();
    for file in ["Cargo.toml", "Cargo.lock", ".pre-commit-hooks.yaml"] {
        fs::copy(root.join(file), dir.path().join(file)).expect(file);
    }
    for tree in ["src", "crates"] {
        copy_tree(&root.join(tree), &dir.path().join(tree));
    }
    let git = |args: &[&str]| {
        run_ok(
            Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
                .args(args)
                .current_dir(dir.path()),
            &format!("git {args:?}"),
        )
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "importgate"]);
    let rev = git(&["rev-parse", "HEAD"]).trim().to_string();
    (dir, rev)
}

/// A `cargo` for pre-commit's `language: rust` install that uses the registry cache this test
/// build already filled: pre-commit points `CARGO_HOME` at a fresh directory, so the shim links
/// that directory's `registry` to the real one and runs cargo offline. Everything else (the
/// clone at `rev:`, `cargo install --bins --root ENV --path .`, the hook run) is pre-commit's.
fn cargo_shim(dir: &Path) {
    let home = std::env::var_os("CARGO_HOME").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cargo"),
        PathBuf::from,
    );
    let script = format!(
        "#!/bin/sh\nset -e\nif [ -n \"$CARGO_HOME\" ] && [ ! -e \"$CARGO_HOME/registry\" ]; then\n  mkdir -p \"$CARGO_HOME\"\n  ln -s '{}' \"$CARGO_HOME/registry\"\nfi\nCARGO_NET_OFFLINE=true exec '{}' \"$@\"\n",
        home.join("registry").display(),
        env!("CARGO"),
    );
    let path = dir.join("cargo");
    fs::write(&path, script).expect("write the cargo shim");
    let mut perms = fs::metadata(&path).expect("shim").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    fs::set_permissions(&path, perms).expect("chmod the cargo shim");
}

/// The recipe's `repo:` and `rev:` pointed at a local hook repository.
fn local_precommit_config(repo: &Path, rev: &str) -> String {
    let text = recipe("pre-commit-config");
    assert!(
        text.contains("repo: https://github.com/importgate/importgate"),
        "{text}"
    );
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let indent = &line[..line.len() - trimmed.len()];
            if trimmed.starts_with("- repo:") {
                format!("{indent}- repo: {}", repo.display())
            } else if trimmed.starts_with("rev:") {
                format!("{indent}rev: {rev}")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The recipe as a user has it: the hook comes from the importgate repository, pre-commit
/// builds it with `language: rust` (no `importgate` on `PATH`), and its verdict is the
/// prediction's.
#[test]
fn precommit_hook_runs_the_prediction() {
    if !require_docker() {
        return;
    }
    ensure_base("slim", "3.12");
    let bin = tools();
    let hooks: Value = {
        let text = fs::read_to_string(repo_root().join(".pre-commit-hooks.yaml"))
            .expect(".pre-commit-hooks.yaml");
        let file = tempdir();
        let path = file.path().join("hooks.yaml");
        fs::write(&path, text).expect("write");
        let json = run_ok(
            Command::new(bin.join("python"))
                .args([
                    "-c",
                    "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
                ])
                .arg(&path),
            "read .pre-commit-hooks.yaml",
        );
        serde_json::from_str(&json).expect("hooks as JSON")
    };
    assert!(
        hooks.as_array().is_some_and(|h| h
            .iter()
            .any(|h| h["id"] == "importgate" && h["language"] == "rust")),
        "{hooks:#}"
    );
    let (hook_repo, rev) = hook_repo();
    let shim = tempdir();
    cargo_shim(shim.path());
    // One pre-commit home for both runs: the hook is built once, as on a developer's machine.
    let home = tempdir();
    for (example, passes) in [("seed-app", false), ("seed-app-fixed", true)] {
        let repo = sample_repo(example);
        fs::write(
            repo.path().join(".pre-commit-config.yaml"),
            local_precommit_config(hook_repo.path(), &rev),
        )
        .expect("write config");
        run_ok(
            Command::new("git")
                .args(["add", "-A"])
                .current_dir(repo.path()),
            "git add",
        );
        // No importgate on PATH: the hook must bring its own.
        let path =
            std::env::join_paths([shim.path().to_path_buf(), bin.clone()].into_iter().chain(
                std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
            ))
            .expect("PATH");
        let out = output_of(
            Command::new(bin.join("pre-commit"))
                .args(["run", "--all-files", "--color", "never"])
                .env("IMPORTGATE_CACHE_DIR", shared_layer_cache())
                .env("IMPORTGATE_NO_RESULT_CACHE", "1")
                .current_dir(repo.path())
                .env("PATH", path)
                .env("PRE_COMMIT_HOME", home.path())
                .env("CARGO_TARGET_DIR", crate::install::workspace_target())
                .env("NO_COLOR", "1"),
            "pre-commit run",
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.success(),
            passes,
            "{example}: pre-commit verdict\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("importgate (pre-build prediction)"),
            "{stdout}"
        );
        if !passes {
            assert!(stdout.contains("prediction"), "{stdout}");
            assert!(stdout.contains("core.aws_service"), "{stdout}");
            assert!(
                stdout.contains("backend/services/case_service.py"),
                "{stdout}"
            );
        }
    }
    // The binary that ran is the one pre-commit installed from the hook repository.
    let installed = walk_files(home.path())
        .into_iter()
        .any(|p| p.ends_with("rustenv-system/bin/importgate"));
    assert!(installed, "no importgate installed under PRE_COMMIT_HOME");
}

/// Every file below `dir`.
fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn makefile_target_builds_and_gates() {
    if !require_docker() {
        return;
    }
    ensure_base("slim", "3.12");
    for (example, passes) in [("seed-app", false), ("seed-app-fixed", true)] {
        let repo = sample_repo(example);
        fs::write(repo.path().join("Makefile"), recipe("makefile")).expect("write Makefile");
        let tag = format!("importgate-test/ci-make-{example}:latest");
        let image = tagged(&tag);
        let out = output_of(
            Command::new("make")
                .env("IMPORTGATE_CACHE_DIR", shared_layer_cache())
                .env("IMPORTGATE_NO_RESULT_CACHE", "1")
                .arg("image")
                .arg(format!("IMAGE={tag}"))
                .current_dir(repo.path())
                .env("PATH", path_with_binary(Path::new("/usr/bin")))
                .env("NO_COLOR", "1"),
            "make image",
        );
        drop(image);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.success(),
            passes,
            "{example}: make image\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if !passes {
            assert!(stdout.contains("core.aws_service"), "{stdout}");
        }
    }
}

/// A failure inside a dependency and a failure of what the container runs, built from a
/// context below the directory importgate runs in: SARIF (valid, with relatedLocations) and
/// GitHub annotations name the repository's files — the application line that raises and
/// the Dockerfile's `CMD` line — never a path inside the image.
#[test]
fn dependency_and_entry_failures_land_on_repository_files() {
    if !require_docker() {
        return;
    }
    let base = ensure_base("slim", "3.12");
    let repo = tempdir();
    let site = "/usr/local/lib/python3.12/site-packages";
    write_files(
        repo.path(),
        &[
            (
                "chain/Dockerfile",
                &format!(
                    "FROM {base}\nCOPY site/ {site}/\nWORKDIR /app\nCOPY app/ /app/\nCMD [\"python\", \"main.py\"]\n"
                ),
            ),
            ("chain/app/main.py", "import client\n"),
            ("chain/app/client.py", "import os\nimport dep\n"),
            (
                "chain/site/dep/__init__.py",
                "from dep._core import Client\n",
            ),
            ("chain/site/dep/_core.py", "import subdep\nClient = 1\n"),
            (
                "entry/Dockerfile",
                &format!(
                    "FROM {base}\nWORKDIR /app\nCOPY app/ /app/\n\nCMD [\"python\", \"-m\", \"worker\"]\n"
                ),
            ),
            ("entry/app/main.py", ""),
        ],
    );
    let schema = sarif_schema();
    let check = |ctx: &str, format: &str| {
        let run = importgate_in(
            repo.path(),
            &["check", "--context", ctx, "--format", format],
        );
        assert_eq!(run.code, 1, "{ctx}: {}\n{}", run.stdout, run.stderr);
        run.stdout
    };

    // The dependency chain: at the app's `import dep`, the frame inside `dep` related.
    let sarif_path = repo.path().join("chain.sarif");
    fs::write(&sarif_path, check("chain", "sarif")).expect("write");
    let (valid, seen, stderr) = validate(&["sarif", path_str(&sarif_path), path_str(&schema)]);
    assert!(valid, "SARIF invalid against the 2.1.0 schema:\n{stderr}");
    let results = seen["results"].as_array().expect("results");
    assert!(
        results.iter().any(|r| r["uri"] == "chain/app/client.py"
            && r["line"] == 2
            && r["uriBaseId"] == "%SRCROOT%"),
        "{seen:#}"
    );
    let doc: Value =
        serde_json::from_str(&fs::read_to_string(&sarif_path).expect("read")).expect("json");
    let related = &doc["runs"][0]["results"][0]["relatedLocations"];
    let uris: Vec<&str> = related
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l["physicalLocation"]["artifactLocation"]["uri"].as_str())
                .collect()
        })
        .unwrap_or_default();
    // `dep` was copied from the context too, so its frame is the context file.
    assert!(
        uris.contains(&"chain/site/dep/_core.py") && uris.contains(&"chain/app/main.py"),
        "relatedLocations: {related:#}"
    );
    let github = check("chain", "github");
    assert!(
        github.starts_with("::error file=chain/app/client.py,line=2,"),
        "{github}"
    );

    // What the container runs: on the Dockerfile's CMD line.
    let github = check("entry", "github");
    assert!(
        github.starts_with("::error file=entry/Dockerfile,line=5,"),
        "{github}"
    );
    let sarif_path = repo.path().join("entry.sarif");
    fs::write(&sarif_path, check("entry", "sarif")).expect("write");
    let (valid, seen, stderr) = validate(&["sarif", path_str(&sarif_path), path_str(&schema)]);
    assert!(valid, "SARIF invalid against the 2.1.0 schema:\n{stderr}");
    assert!(
        seen["results"]
            .as_array()
            .expect("results")
            .iter()
            .any(|r| r["uri"] == "entry/Dockerfile"
                && r["line"] == 5
                && r["rule"] == "module-not-found"),
        "{seen:#}"
    );
}
