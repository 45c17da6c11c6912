//! One image, every way of naming it: the daemon, a `docker save` archive, an OCI archive and an
//! OCI layout directory, with and without a transport prefix. The reports must be identical
//! apart from the `image` field.

use serde_json::Value;

use crate::support::*;

fn without_image(mut report: Value) -> Value {
    if let Some(obj) = report.as_object_mut() {
        obj.remove("image");
    }
    report
}

#[test]
fn daemon_archive_and_oci_agree() {
    if !require_docker() {
        return;
    }
    ensure_base("slim", "3.12");
    let image = build_image(
        "importgate-test/sources-seed-app",
        &repo_root().join("examples/seed-app"),
    );
    let dir = tempdir();
    let save = dir.path().join("seed-app.docker.tar");
    let oci = dir.path().join("seed-app.oci.tar");
    let oci_dir = dir.path().join("seed-app.oci");
    docker_save(&image.tag, &save);
    to_oci(&save, &oci);
    to_oci_dir(&save, &oci_dir);

    let (daemon_run, daemon) = check_json(&image.tag);
    assert_eq!(daemon_run.code, 1, "stderr:\n{}", daemon_run.stderr);
    assert_eq!(daemon["image"], image.tag.as_str());
    let expected = without_image(daemon);

    let names = [
        format!("docker-daemon:{}", image.tag),
        format!("docker-archive:{}", save.display()),
        format!("docker-archive:{}:{}", save.display(), image.tag),
        save.display().to_string(),
        format!("oci-archive:{}", oci.display()),
        oci.display().to_string(),
        format!("oci:{}", oci_dir.display()),
        oci_dir.display().to_string(),
    ];
    let mut failures = Vec::new();
    for name in &names {
        let run = importgate(&["check", "--format", "json", name]);
        let Ok(report) = serde_json::from_str::<Value>(&run.stdout) else {
            failures.push(format!(
                "{name}: exit {}, no JSON; stderr:\n{}",
                run.code, run.stderr
            ));
            continue;
        };
        if run.code != 1 {
            failures.push(format!(
                "{name}: exit {} (want 1); stderr:\n{}",
                run.code, run.stderr
            ));
        }
        if report["image"].as_str().is_none_or(str::is_empty) {
            failures.push(format!("{name}: `image` is {}", report["image"]));
        }
        let got = without_image(report);
        if got != expected {
            failures.push(format!(
                "{name}: report differs from the daemon's\n--- daemon\n{expected:#}\n--- {name}\n{got:#}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
