//! `importgate check --context DIR`: the image is built through the engine's `POST /build`,
//! checked, and every finding is reported at the user's file in the context, with notes for
//! modules the context has but the image lacks.

use serde_json::Value;

use crate::support::*;

fn finding<'a>(report: &'a Value, module: &str) -> &'a Value {
    findings_for(report, module)
        .into_iter()
        .find(|f| f["severity"] == "error")
        .unwrap_or_else(|| panic!("no error finding for {module}:\n{report:#}"))
}

#[test]
fn seed_context_reports_the_users_file_and_the_init_to_create() {
    if !require_docker() {
        return;
    }
    ensure_base("slim", "3.12");
    let _image = tagged("importgate-test/build-seed:latest");
    // Run at the repository's root, as CI does: paths are the repository's.
    let root = repo_root();
    let check = [
        "check",
        "--context",
        "examples/seed-app",
        "--tag",
        "importgate-test/build-seed:latest",
    ];
    let run = importgate_in(&root, &[&check[..], &["--format", "json"]].concat());
    assert_eq!(
        run.code, 1,
        "broken seed app must fail\nstderr:\n{}",
        run.stderr
    );
    let report = run.json();
    let f = finding(&report, "core.aws_service");
    assert_eq!(f["code"], "namespace-shadowed", "{f:#}");
    assert_eq!(f["file"], "/app/services/case_service.py");
    assert_eq!(
        f["context"],
        serde_json::json!({
            "path": "backend/services/case_service.py",
            "copy_line": 5,
            "fix_path": "backend/core/__init__.py"
        }),
        "{f:#}"
    );
    assert_eq!(f["fix_path"], "/app/core/__init__.py");
    let hint = f["hint"].as_str().unwrap_or("");
    assert!(
        hint.starts_with("create examples/seed-app/backend/core/__init__.py "),
        "hint names the image path, not the context file: {hint}"
    );
    assert_eq!(report["mode"]["kind"], "built");
    assert_eq!(report["mode"]["context"], "examples/seed-app");
    assert_eq!(
        report["mode"]["tags"],
        serde_json::json!(["importgate-test/build-seed:latest"])
    );
    assert!(
        report["mode"]["image_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("sha256:")),
        "{:#}",
        report["mode"]
    );
    // Not a terminal: one plain line per step, then the image.
    assert!(
        run.stderr.contains("#step 4/5 COPY backend/ /app/\n"),
        "stderr:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("#built sha256:"),
        "stderr:\n{}",
        run.stderr
    );

    // The same, as people read it.
    let run = importgate_in(&root, &check);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    assert!(
        run.stdout
            .contains("--> examples/seed-app/backend/services/case_service.py:1:1"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("help: create examples/seed-app/backend/core/__init__.py"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("note: in the image at /app/services/case_service.py (COPY on line 5"),
        "{}",
        run.stdout
    );
    let stdout = run.stdout;
    insta::with_settings!({filters => vec![(r"as [0-9a-f]{12}", "as [ID]")]}, {
        insta::assert_snapshot!("build_seed_human_output", stdout);
    });
}

#[test]
fn seed_fixed_context_passes_and_keeps_the_untagged_image() {
    if !require_docker() {
        return;
    }
    ensure_base("slim", "3.12");
    let run = importgate(&[
        "check",
        "--context",
        path_str(&example("seed-app-fixed")),
        "--format",
        "json",
    ]);
    let report = run.json();
    let id = report["mode"]["image_id"]
        .as_str()
        .unwrap_or("")
        .to_string();
    // Untagged, as `docker build` leaves it: still in the engine, removed here.
    let _image = tagged(&id);
    assert_eq!(
        run.code, 0,
        "fixed seed app must pass\n{report:#}\nstderr:\n{}",
        run.stderr
    );
    assert!(id.starts_with("sha256:"), "{report:#}");
    assert!(
        std::process::Command::new("docker")
            .args(["image", "inspect", &id])
            .output()
            .is_ok_and(|o| o.status.success()),
        "the built image {id} should be kept"
    );
    assert!(run.stderr.contains("(untagged)"), "{}", run.stderr);
}

#[test]
fn failing_build_exits_2_naming_the_step_after_the_log() {
    if !require_docker() {
        return;
    }
    let base = ensure_base("slim", "3.12");
    let dir = context_dir(&[(
        "Dockerfile",
        &format!(
            "FROM {base}\nRUN echo about to fail\nRUN echo last words && false\nCMD [\"python\"]\n"
        ),
    )]);
    let run = importgate(&["check", "--context", path_str(dir.path())]);
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(
        errors,
        [
            "error: build failed at step 3/4 (RUN echo last words && false): The command '/bin/sh -c echo last words && false' returned a non-zero code: 1"
        ],
        "stderr:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.trim_end().ends_with(errors[0]),
        "the error line comes last:\n{}",
        run.stderr
    );
    // The log: what the failing step printed.
    assert!(run.stderr.contains("\nlast words\n"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn missing_base_image_is_named() {
    if !require_docker() {
        return;
    }
    let dir = context_dir(&[(
        "Dockerfile",
        "FROM importgate-test/no-such-base:0\nCMD [\"python\"]\n",
    )]);
    let run = importgate(&["check", "--context", path_str(dir.path())]);
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    let last = run.stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with(
            "error: build failed at step 1/2 (FROM importgate-test/no-such-base:0): base image `importgate-test/no-such-base:0` is not available: "
        ),
        "stderr:\n{}",
        run.stderr
    );
}

#[test]
fn missing_context_directory_is_bad_input() {
    let dir = tempdir();
    let missing = dir.path().join("no-such-context");
    let run = importgate(&["check", "--context", path_str(&missing)]);
    assert_bad_input(&run, "missing context directory");
    assert!(run.stderr.contains("no-such-context"), "{}", run.stderr);
}

#[test]
fn image_and_context_are_exclusive() {
    let run = importgate(&["check", "some:image", "--context", "."]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = importgate(&["check"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = importgate(&["check", "some:image", "--target", "x"]);
    assert_eq!(run.code, 2, "--target needs --context: {}", run.stderr);
}

#[test]
fn unreachable_daemon_is_one_line() {
    let run = importgate_env(
        &["check", "--context", path_str(&example("seed-app"))],
        &[("DOCKER_HOST", "unix:///nonexistent")],
    );
    assert_bad_input(&run, "DOCKER_HOST=unix:///nonexistent");
    assert!(
        run.stderr.contains("unix:///nonexistent"),
        "the line names the engine address: {}",
        run.stderr
    );
}

/// A module the context has but the image lacks says why: `.dockerignore` dropped it (which
/// pattern, which line), or no COPY brings it in.
#[test]
fn modules_absent_from_the_image_say_why() {
    if !require_docker() {
        return;
    }
    let base = ensure_base("slim", "3.12");
    let dir = context_dir(&[
        (
            "Dockerfile",
            &format!(
                "FROM {base}\nWORKDIR /app\nCOPY app/core/ core/\nCOPY app/main.py .\nCMD [\"python\", \"main.py\"]\n"
            ),
        ),
        (
            ".dockerignore",
            "# secrets stay out\n**/*.pyc\napp/core/aws_*\n",
        ),
        (
            "app/main.py",
            "import core.aws_service\nimport helpers\nimport core.config\n",
        ),
        ("app/core/__init__.py", ""),
        ("app/core/config.py", "X = 1\n"),
        ("app/core/aws_service.py", "def upload(): ...\n"),
        ("app/helpers.py", "def help(): ...\n"),
    ]);
    let _image = tagged("importgate-test/build-absent:latest");
    // `--context .` in the context itself: paths are relative to it.
    let run = importgate_in(
        dir.path(),
        &[
            "check",
            "--context",
            ".",
            "--tag",
            "importgate-test/build-absent:latest",
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    let report = run.json();

    let excluded = finding(&report, "core.aws_service");
    assert_eq!(excluded["context"]["path"], "app/main.py", "{excluded:#}");
    assert_eq!(excluded["context"]["copy_line"], 4, "{excluded:#}");
    let notes: Vec<&str> = excluded["notes"]
        .as_array()
        .map(|n| n.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        notes.iter().any(|n| n.contains("app/core/aws_service.py")
            && n.contains(".dockerignore line 3 (`app/core/aws_*`)")),
        "no .dockerignore note: {notes:#?}"
    );

    let uncopied = finding(&report, "helpers");
    let notes: Vec<&str> = uncopied["notes"]
        .as_array()
        .map(|n| n.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        notes.contains(
            &"present in the context at app/helpers.py but no COPY brings it into the image"
        ),
        "no uncopied note: {notes:#?}"
    );
    assert!(
        !notes.iter().any(|n| n.contains(".dockerignore")),
        "helpers.py is not ignored: {notes:#?}"
    );
    assert_eq!(
        uncopied["hint"],
        "COPY app/helpers.py to /app/helpers.py (the first directory on sys.path)"
    );
    assert!(
        excluded["hint"]
            .as_str()
            .is_some_and(|h| h.contains("`!app/core/aws_service.py`")),
        "{excluded:#}"
    );
    // core.config is copied: no finding.
    assert!(
        findings_for(&report, "core.config").is_empty(),
        "{report:#}"
    );
}
