//! Bad input and infrastructure failures: exit 2 with one `error: ...` line, never a panic.

use std::fs;
use std::io::Write as _;

use crate::support::*;

/// A `docker save`-shaped archive with one layer, cut off in the middle of the layer.
fn truncated_archive(path: &std::path::Path) {
    let bytes = legacy_archive();
    let cut = bytes.len() / 2;
    fs::write(path, &bytes[..cut]).expect("write truncated archive");
}

/// A `docker save`-shaped archive with one layer whose config names a diff id the layer does not
/// have.
fn legacy_archive() -> Vec<u8> {
    let mut layer = tar::Builder::new(Vec::new());
    let body = vec![b'#'; 256 * 1024];
    let mut header = tar::Header::new_gnu();
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    layer
        .append_data(&mut header, "app/main.py", body.as_slice())
        .expect("layer entry");
    let layer = layer.into_inner().expect("layer tar");
    let manifest =
        br#"[{"Config":"cfg.json","RepoTags":["broken:latest"],"Layers":["l1/layer.tar"]}]"#;
    let config = br#"{"architecture":"amd64","os":"linux","config":{"Cmd":["python3"]},"rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#;
    let mut outer = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("manifest.json", &manifest[..]),
        ("cfg.json", &config[..]),
        ("l1/layer.tar", layer.as_slice()),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        outer.append_data(&mut h, name, data).expect("entry");
    }
    outer.into_inner().expect("archive")
}

/// The layers of an archive file are hashed while the check runs: a layer that is not the one
/// its config names is still the one error, and nothing the check found is printed.
#[test]
fn layer_with_another_diff_id() {
    let dir = tempdir();
    let path = dir.path().join("other-layer.tar");
    fs::write(&path, legacy_archive()).expect("write archive");
    let arg = format!("docker-archive:{}", path.display());
    let run = importgate(&["check", "--format", "json", &arg]);
    assert_bad_input(&run, "docker-archive: another diff id");
    assert!(run.stderr.contains("has diff id sha256:"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn truncated_docker_archive() {
    let dir = tempdir();
    let path = dir.path().join("truncated.tar");
    truncated_archive(&path);
    let arg = format!("docker-archive:{}", path.display());
    assert_bad_input(&importgate(&["check", &arg]), "docker-archive: truncated");
    let arg = path.display().to_string();
    assert_bad_input(
        &importgate(&["check", &arg]),
        "truncated archive (auto-detected)",
    );
}

#[test]
fn truncated_gzip_oci_archive() {
    let dir = tempdir();
    let path = dir.path().join("truncated.oci.tar.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&[b'x'; 64 * 1024]).expect("gzip");
    let bytes = gz.finish().expect("gzip");
    fs::write(&path, &bytes[..bytes.len() / 2]).expect("write");
    let arg = format!("oci-archive:{}", path.display());
    assert_bad_input(&importgate(&["check", &arg]), "oci-archive: truncated gzip");
}

#[test]
fn text_file_is_not_an_image() {
    let dir = tempdir();
    let path = dir.path().join("notes.txt");
    fs::write(&path, "this is not an image\n").expect("write");
    let arg = path.display().to_string();
    assert_bad_input(&importgate(&["check", &arg]), "text file");
    for prefix in ["docker-archive:", "oci-archive:", "oci:"] {
        let arg = format!("{prefix}{}", path.display());
        assert_bad_input(&importgate(&["check", &arg]), &arg);
    }
}

#[test]
fn missing_archive_path() {
    assert_bad_input(
        &importgate(&["check", "docker-archive:/nonexistent/importgate/image.tar"]),
        "missing archive",
    );
    assert_bad_input(
        &importgate(&["check", "oci:/nonexistent/importgate/layout"]),
        "missing OCI layout",
    );
}

#[test]
fn image_not_in_daemon() {
    if !require_docker() {
        return;
    }
    assert_bad_input(
        &importgate(&["check", "importgate-test/no-such-image:never"]),
        "image missing from the daemon",
    );
}

/// The engine answers, then cannot produce the export: a file of the image's top layer is gone
/// from its storage. The export fails (`docker save` says so too); importgate says it in one
/// line whether or not it had started merging, and never reports on the half it read.
#[test]
fn engine_cannot_export_the_image() {
    if !require_docker() {
        return;
    }
    let base = ensure_base("slim", "3.12");
    let image = build_scenario(
        "importgate-test/export-broken:1",
        &base,
        &[file("/app/app.py", "import json\n")],
        "CMD [\"python\", \"/app/app.py\"]",
    );
    let upper = run_ok(
        docker().args([
            "image",
            "inspect",
            "-f",
            "{{.GraphDriver.Data.UpperDir}}",
            &image.tag,
        ]),
        "inspect",
    );
    let upper = std::path::PathBuf::from(upper.trim());
    let (app, moved) = (upper.join("app"), upper.join("app.moved-by-test"));
    if !app.is_dir() {
        eprintln!("SKIP: the engine's storage driver keeps no upper directory here");
        return;
    }
    fs::rename(&app, &moved).expect("move the layer's directory away");
    /// Puts the directory back even when an assertion fails, so that the image can be removed.
    struct Restore(std::path::PathBuf, std::path::PathBuf);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = fs::rename(&self.1, &self.0);
        }
    }
    let _restore = Restore(app, moved);
    let saved = docker()
        .args(["save", &image.tag])
        .output()
        .expect("docker save");
    assert!(!saved.status.success(), "docker save should fail here");
    assert_bad_input(
        &importgate(&["check", "--source-mode", "export", &image.tag]),
        "export the engine cannot produce",
    );
}

#[test]
fn unreachable_daemon() {
    let run = importgate_env(
        &["check", "importgate-test/python:3.12-slim"],
        &[("DOCKER_HOST", "unix:///nonexistent.sock")],
    );
    assert_bad_input(&run, "DOCKER_HOST=unix:///nonexistent.sock");
}

#[test]
fn no_image_argument() {
    // A usage error: clap's message may span lines, but it is still exit 2, `error:` first and
    // no panic.
    let run = importgate(&["check"]);
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    assert!(
        run.stderr.trim_start().starts_with("error:"),
        "stderr:\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "stderr:\n{}", run.stderr);
}

#[test]
fn unknown_format_and_platform() {
    let run = importgate(&["check", "--format", "xml", "some/image"]);
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "stderr:\n{}", run.stderr);
    let dir = tempdir();
    let path = dir.path().join("notes.txt");
    fs::write(&path, "not an image\n").expect("write");
    let arg = path.display().to_string();
    let run = importgate(&["check", "--platform", "not-a-platform", &arg]);
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "stderr:\n{}", run.stderr);
}

/// `sha256:HEX` of `data`, by `sha256sum` (the test crate has no hash of its own).
pub(crate) fn sha256(data: &[u8]) -> String {
    use std::process::{Command, Stdio};
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(data)
        .expect("sha256sum stdin");
    let out = child.wait_with_output().expect("sha256sum");
    let text = String::from_utf8_lossy(&out.stdout);
    format!("sha256:{}", text.split_whitespace().next().expect("digest"))
}

/// A plain tar of `(name, contents)` members, in order.
pub(crate) fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *data).expect("tar entry");
    }
    b.into_inner().expect("tar")
}

pub(crate) fn gzip_level(data: &[u8], level: u32) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip")
}

/// A one-layer Python app image: the layer tar and its config.
pub(crate) fn app_image() -> (Vec<u8>, Vec<u8>) {
    let layer = tar_of(&[
        ("usr/bin/python3", b"\x7fELF not really"),
        ("usr/lib/python3.12/os.py", b""),
        ("usr/lib/python3.12/json/__init__.py", b""),
        ("app/main.py", b"import os\nimport json\nimport requests\n"),
    ]);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["python3", "/app/main.py"], "WorkingDir": "/app"},
        "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]},
    });
    (layer, serde_json::to_vec(&config).expect("config"))
}

/// The members of an OCI layout of `app_image`, its layer gzipped; the stored layer member is
/// replaced by `stored` when given (same path, so only its digest tells).
pub(crate) fn app_oci_layout(ref_name: &str, stored: Option<Vec<u8>>) -> Vec<(String, Vec<u8>)> {
    let (layer, config) = app_image();
    let blob = gzip_level(&layer, 6);
    let path = |d: &str| d.replace("sha256:", "blobs/sha256/");
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256(&blob), "size": blob.len()}],
    }))
    .expect("manifest");
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": sha256(&manifest), "size": manifest.len(),
                       "annotations": {"org.opencontainers.image.ref.name": ref_name}}],
    }))
    .expect("index");
    vec![
        (path(&sha256(&blob)), stored.unwrap_or(blob)),
        (path(&sha256(&config)), config),
        (path(&sha256(&manifest)), manifest),
        ("index.json".into(), index),
        (
            "oci-layout".into(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
    ]
}

pub(crate) fn write_layout(dir: &std::path::Path, members: &[(String, Vec<u8>)]) {
    for (name, data) in members {
        let p = dir.join(name);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, data).expect("write member");
    }
}

pub(crate) fn pack_members(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let refs: Vec<(&str, &[u8])> = members
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    tar_of(&refs)
}

#[test]
fn tampered_oci_layer_blob() {
    let dir = tempdir();
    let (layer, _) = app_image();
    // The same tar, stored uncompressed-in-gzip: its diff id is right, its blob digest is not.
    let swapped = gzip_level(&layer, 0);
    let members = app_oci_layout("1.0", Some(swapped.clone()));
    let expected = sha256(&gzip_level(&layer, 6));
    let actual = sha256(&swapped);
    assert_ne!(expected, actual);
    let layout = dir.path().join("layout");
    write_layout(&layout, &members);
    let archive = dir.path().join("tampered.oci.tar");
    fs::write(&archive, pack_members(&members)).expect("write");
    for arg in [
        format!("oci:{}", layout.display()),
        format!("oci-archive:{}", archive.display()),
        archive.display().to_string(),
    ] {
        let run = importgate(&["check", &arg]);
        assert_bad_input(&run, &format!("tampered layer blob ({arg})"));
        for needle in [
            expected.as_str(),
            actual.as_str(),
            "does not match its descriptor",
        ] {
            assert!(
                run.stderr.contains(needle),
                "{arg}: {needle}\n{}",
                run.stderr
            );
        }
        assert!(
            run.stderr
                .contains(&expected.replace("sha256:", "blobs/sha256/")),
            "{arg}: blob not named\n{}",
            run.stderr
        );
    }
}

#[test]
fn truncated_oci_layer_blob() {
    let dir = tempdir();
    let (layer, _) = app_image();
    let mut cut = gzip_level(&layer, 6);
    cut.truncate(cut.len() / 2);
    let layout = dir.path().join("layout");
    write_layout(&layout, &app_oci_layout("1.0", Some(cut)));
    let arg = format!("oci:{}", layout.display());
    let run = importgate(&["check", &arg]);
    assert_bad_input(&run, "truncated layer blob");
    assert!(
        run.stderr.contains("does not match its descriptor"),
        "{}",
        run.stderr
    );
}
