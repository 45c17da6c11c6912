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
        format!("{}:{}", save.display(), image.tag),
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

/// Without a transport, `PATH:REF` names the image at PATH (when PATH exists) exactly as the
/// prefixed form does; no engine needed.
#[test]
fn unprefixed_path_ref_matches_the_prefixed_form() {
    use crate::bad_input::{app_image, app_oci_layout, pack_members, tar_of, write_layout};
    let dir = tempdir();
    // A docker-save archive holding two images, so that the reference matters.
    let (layer, config) = app_image();
    let other_layer = tar_of(&[("other/x.py", b"import sys\nimport yaml\n")]);
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": "app.json", "RepoTags": ["myapp:1.2"], "Layers": ["l1/layer.tar"]},
        {"Config": "other.json", "RepoTags": ["other:1"],
         "Layers": ["l1/layer.tar", "l2/layer.tar"]},
    ]))
    .unwrap();
    // The other image: the app's layer plus one more, and another command.
    let mut other_config: Value = serde_json::from_slice(&config).unwrap();
    other_config["rootfs"]["diff_ids"]
        .as_array_mut()
        .unwrap()
        .push(crate::bad_input::sha256(&other_layer).into());
    other_config["config"]["Cmd"] = serde_json::json!(["python3", "/other/x.py"]);
    let other_config = serde_json::to_vec(&other_config).unwrap();
    let save = dir.path().join("app.tar");
    std::fs::write(
        &save,
        tar_of(&[
            ("l1/layer.tar", &layer[..]),
            ("l2/layer.tar", &other_layer[..]),
            ("app.json", &config[..]),
            ("other.json", &other_config[..]),
            ("manifest.json", &manifest[..]),
        ]),
    )
    .unwrap();
    let members = app_oci_layout("1.4", None);
    let oci = dir.path().join("app.oci.tar");
    std::fs::write(&oci, pack_members(&members)).unwrap();
    let layout = dir.path().join("oci-layout");
    write_layout(&layout, &members);

    let (s, o, l) = (
        save.display().to_string(),
        oci.display().to_string(),
        layout.display().to_string(),
    );
    for (prefixed, bare) in [
        (
            format!("docker-archive:{s}:myapp:1.2"),
            format!("{s}:myapp:1.2"),
        ),
        (
            format!("docker-archive:{s}:other:1"),
            format!("{s}:other:1"),
        ),
        (format!("oci-archive:{o}:1.4"), format!("{o}:1.4")),
        (format!("oci:{l}:1.4"), format!("{l}:1.4")),
    ] {
        let want = importgate(&["check", "--format", "json", &prefixed]);
        let got = importgate(&["check", "--format", "json", &bare]);
        let want_json: Value = serde_json::from_str(&want.stdout)
            .unwrap_or_else(|_| panic!("{prefixed}: no JSON\n{}", want.stderr));
        let got_json: Value = serde_json::from_str(&got.stdout)
            .unwrap_or_else(|_| panic!("{bare}: no JSON\n{}", got.stderr));
        assert_eq!(got.code, want.code, "{bare}: {}", got.stderr);
        assert_eq!(
            without_image(got_json),
            without_image(want_json),
            "{bare} differs from {prefixed}"
        );
    }
    // The two images of the archive really are told apart.
    let a = importgate(&["check", "--format", "json", &format!("{s}:myapp:1.2")]);
    let b = importgate(&["check", "--format", "json", &format!("{s}:other:1")]);
    assert_ne!(a.stdout, b.stdout);
    // No such path: still a daemon reference, which fails as one (never as a missing file).
    let run = importgate_env(
        &["check", "importgate-test/no-such-path:1.0"],
        &[("DOCKER_HOST", "unix:///nonexistent.sock")],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("docker engine"),
        "want a daemon error\n{}",
        run.stderr
    );
}
