//! The seed incident: `core/` and `services/` without `__init__.py`, and a regular package named
//! `core` in site-packages that wins over the namespace directory `/app/core`.

use std::process::Command;

use crate::support::*;

/// `examples/NAME` built as TAG on the 3.12 base; `None` when the test is skipped.
fn seed_image(tag: &str, name: &str) -> Option<Image> {
    docker_base("slim", "3.12")?;
    Some(build_image(tag, &example(name)))
}

#[test]
fn seed_broken_image_reports_core_aws_service() {
    let Some(image) = seed_image("importgate-test/seed-app", "seed-app") else {
        return;
    };
    let (run, report) = check_json(&image.tag);
    assert_eq!(
        run.code, 1,
        "broken seed app must fail the check\nstderr:\n{}",
        run.stderr
    );
    let findings = findings_for(&report, "core.aws_service");
    assert!(
        findings.iter().any(|f| {
            f["severity"] == "error"
                && matches!(
                    f["code"].as_str(),
                    Some("namespace-shadowed") | Some("module-not-found")
                )
                && f["file"] == "/app/services/case_service.py"
                && f["line"] == 1
        }),
        "no error finding for core.aws_service in /app/services/case_service.py:1:\n{report:#}"
    );
    assert_eq!(report["schema_version"], 2);
    assert_eq!(report["python"]["version"], "3.12");
    assert!(report["summary"]["errors"].as_u64().unwrap_or(0) >= 1);
    differential_with(&image.tag, "python", Some("/app"), &report);
}

#[test]
fn seed_fixed_image_passes() {
    let Some(image) = seed_image("importgate-test/seed-app-fixed", "seed-app-fixed") else {
        return;
    };
    let (run, report) = check_json(&image.tag);
    assert_eq!(
        run.code, 0,
        "fixed seed app must pass\n{report:#}\nstderr:\n{}",
        run.stderr
    );
    assert_eq!(report["summary"]["errors"], 0);
    let ok = imports_of(&report, "core.aws_service", None);
    assert!(
        ok.iter().any(|i| i["status"] == "ok"),
        "core.aws_service not checked as ok:\n{report:#}"
    );
    differential_with(&image.tag, "python", Some("/app"), &report);
}

#[test]
fn seed_human_output_names_the_module() {
    let Some(image) = seed_image("importgate-test/seed-app-human", "seed-app") else {
        return;
    };
    let run = importgate(&["check", &image.tag]);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("core.aws_service"), "human output:\n{all}");
    assert!(!all.contains("panicked"), "{all}");
    // The whole diagnostic, as users see it (no colour: stdout is not a terminal).
    insta::assert_snapshot!("seed_human_output", run.stdout);
    let run = importgate(&[
        "check",
        "--format",
        "human",
        "-v",
        "--platform",
        "linux/amd64",
        &image.tag,
    ]);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
}

/// The daemon-less path of `make demo`: mkbase.py writes an OCI archive with the app layer.
#[test]
fn seed_oci_archive_without_daemon() {
    let pyenv = Command::new("pyenv").arg("root").output();
    if !pyenv.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: no pyenv on this machine");
        return;
    }
    let dir = tempdir();
    let site = "/usr/local/lib/python3.12/site-packages";
    let mut results = Vec::new();
    for (name, expect) in [("seed-app", 1), ("seed-app-fixed", 0)] {
        let oci = dir.path().join(format!("{name}.tar"));
        let ex = example(name);
        let out = Command::new("python3")
            .arg(support_script("mkbase.py"))
            .args([
                "--layout",
                "slim",
                "--python",
                "3.12",
                "--official",
                "--oci-out",
            ])
            .arg(&oci)
            .args(["--tag", &format!("importgate-test/{name}:latest")])
            .arg("--app")
            .arg(format!(
                "{}:{site}",
                ex.join("vendor/site-packages").display()
            ))
            .arg("--app")
            .arg(format!("{}:/app", ex.join("backend").display()))
            .args(["--workdir", "/app", "--cmd", r#"["python", "main.py"]"#])
            .output()
            .expect("mkbase.py");
        assert!(
            out.status.success(),
            "mkbase.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let arg = format!("oci-archive:{}", oci.display());
        let (run, report) = check_json(&arg);
        results.push((name, expect, run.code, report));
    }
    for (name, expect, code, report) in results {
        assert_eq!(code, expect, "{name}:\n{report:#}");
    }
}
