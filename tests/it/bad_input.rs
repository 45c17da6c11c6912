//! Bad input and infrastructure failures: exit 2 with one `error: ...` line, never a panic.

use std::fs;
use std::io::Write as _;

use crate::support::*;

/// A `docker save`-shaped archive with one layer, cut off in the middle of the layer.
fn truncated_archive(path: &std::path::Path) {
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
    let bytes = outer.into_inner().expect("archive");
    let cut = bytes.len() / 2;
    fs::write(path, &bytes[..cut]).expect("write truncated archive");
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
