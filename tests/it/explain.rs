//! `importgate explain`: the walk printed for the seed's namespace shadowing, a `from X import
//! name`, a venv interpreter and a zip on `PYTHONPATH`, snapshotted; exit 1 exactly when CPython
//! in the image fails the import.

use crate::support::*;

/// `importgate explain ARGS`, which must exit with `code`; its stdout.
fn explain(args: &[&str], code: i32) -> String {
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    let run = importgate(&all);
    assert_eq!(
        run.code, code,
        "explain {args:?}\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    run.stdout
}

#[test]
fn explain_seed_shadowing_and_from_name() {
    let Some(_base) = docker_base("slim", "3.12") else {
        return;
    };
    let image = build_image("importgate-test/explain-seed-app", &example("seed-app"));
    let out = explain(&[&image.tag, "core.aws_service"], 1);
    insta::assert_snapshot!("explain_seed_core_aws_service", out);
    let out = explain(&[&image.tag, "from core import aws_service"], 1);
    insta::assert_snapshot!("explain_seed_from_core_import_aws_service", out);
    // The JSON carries the same walk.
    let json: serde_json::Value = serde_json::from_str(&explain(
        &[&image.tag, "core.aws_service", "--format", "json"],
        1,
    ))
    .expect("json");
    assert_eq!(json["ok"], false);
    assert!(
        json["events"].as_array().is_some_and(|e| e
            .iter()
            .any(|e| e["event"] == "failed" && e["failed"]["shadowed"][0]["dir"] == "/app/core")),
        "{json:#}"
    );
    // Relative, from the importing file: `services` is a namespace package in /app.
    let out = explain(
        &[
            &image.tag,
            ".case_service",
            "--from",
            "/app/services/api.py",
        ],
        0,
    );
    assert!(out.starts_with("import services.case_service "), "{out}");
    let fixed = build_image(
        "importgate-test/explain-seed-app-fixed",
        &example("seed-app-fixed"),
    );
    let out = explain(&[&fixed.tag, "core.aws_service"], 0);
    assert!(
        out.contains("=> `core.aws_service` imports the module /app/core/aws_service.py"),
        "{out}"
    );
}

#[test]
fn explain_venv_and_zip_on_pythonpath() {
    let Some(base) = docker_base("slim", "3.12") else {
        return;
    };
    let image = ImageBuilder::new(&base)
        .line("RUN python -m venv --without-pip /opt/venv")
        .file(
            "/opt/venv/lib/python3.12/site-packages/vpkg/__init__.py",
            "",
        )
        .file(
            "/opt/venv/lib/python3.12/site-packages/vpkg/core.py",
            "X = 1\n",
        )
        .line(
            "RUN python -c \"import zipfile; z = zipfile.ZipFile('/opt/libs.zip', 'w'); \
             z.writestr('zpkg/__init__.py', ''); z.writestr('zpkg/util.py', 'Y = 2'); z.close()\"",
        )
        .line("ENV PYTHONPATH=/opt/libs.zip")
        .file("/app/main.py", "import vpkg.core\nimport zpkg.util\n")
        .line("WORKDIR /app")
        .line("CMD [\"/opt/venv/bin/python\", \"main.py\"]")
        .build("importgate-test/explain-venv-zip");
    let out = explain(&[&image.tag, "vpkg.core"], 0);
    insta::assert_snapshot!("explain_venv_vpkg_core", out);
    let out = explain(&[&image.tag, "zpkg.util"], 0);
    insta::assert_snapshot!("explain_zip_zpkg_util", out);
    let out = explain(&[&image.tag, "from zpkg import nothere"], 1);
    assert!(
        out.contains("=> ImportError: cannot import name 'nothere' from 'zpkg'"),
        "{out}"
    );
}
