//! Cross-reader tests: one generated image through every file source must merge to the same
//! tree; selection among images and platforms; hostile inputs; the real engine when present.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;

use crate::load::load_file;
use crate::testutil::*;
use crate::{Image, ImageError, LoadOptions, Platform, Source, load, parse_source};

fn opts() -> LoadOptions {
    LoadOptions {
        platform: Platform::default(),
        capture: Arc::new(capture_all),
        ..LoadOptions::default()
    }
}

fn opts_for(platform: &str) -> LoadOptions {
    LoadOptions {
        platform: platform.parse().unwrap(),
        ..opts()
    }
}

fn write(dir: &Path, name: &str, data: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p.display().to_string()
}

fn check_standard(img: &Image) {
    let fs = &img.fs;
    assert!(fs.is_file("/usr/lib/site.py"));
    assert!(fs.is_file("/lib/site.py"));
    assert!(!fs.exists("/etc/old.conf"));
    assert_eq!(fs.read_dir("/opt/cache").unwrap(), vec!["b"]);
    assert_eq!(
        fs.read_to_string("/app/linked.txt").as_deref(),
        Some("base")
    );
    assert!(!fs.exists("/base.txt"));
    assert_eq!(img.config.env_var("PYTHONPATH"), Some("/app"));
    assert_eq!(img.config.working_dir(), "/app");
    assert_eq!(img.config.argv(), vec!["python", "-m", "app"]);
    assert_eq!(img.layers.len(), 3);
    assert_eq!(img.layers[1].created_by.as_deref(), Some("RUN step 1"));
    assert_eq!(img.layers[1].entries, 6);
    assert_eq!(img.layers[0].digest, TestImage::standard().diff_ids()[0]);
    assert!(
        img.warnings.iter().any(|w| w.contains("../escape")),
        "{:?}",
        img.warnings
    );
}

#[tokio::test]
async fn every_file_source_merges_the_same_tree() {
    let dir = tempfile::tempdir().unwrap();
    let img = TestImage::standard();
    let mut sources = Vec::new();

    let legacy = pack(&img.legacy_archive(&["app:1"]), &[]);
    sources.push(format!(
        "docker-archive:{}",
        write(dir.path(), "legacy.tar", &legacy)
    ));
    sources.push(write(dir.path(), "legacy.tar.gz", &gzip(&legacy)));

    // Engine ≥ 25 graphdriver form: OCI layout with uncompressed layers plus manifest.json.
    let mut both = img.oci_layout(&|l| l.to_vec(), Some("app:1"));
    let m = both.clone();
    let manifest_layers: Vec<String> = m
        .keys()
        .filter(|k| k.starts_with("blobs/") && img.layers.iter().any(|l| m[*k] == *l))
        .cloned()
        .collect();
    let ordered: Vec<String> = img
        .layers
        .iter()
        .map(|l| {
            manifest_layers
                .iter()
                .find(|k| m[*k] == *l)
                .unwrap()
                .clone()
        })
        .collect();
    let cfg_member = format!("blobs/sha256/{}", sha256_hex(&img.config));
    both.insert(
        "manifest.json".into(),
        serde_json::to_vec(&serde_json::json!([{
            "Config": cfg_member, "RepoTags": ["app:1"], "Layers": ordered,
        }]))
        .unwrap(),
    );
    sources.push(write(dir.path(), "engine25.tar", &pack(&both, &[])));

    let oci_dir = dir.path().join("layout");
    write_dir(&oci_dir, &img.oci_layout(&gzip, None));
    sources.push(format!("oci:{}", oci_dir.display()));
    sources.push(oci_dir.display().to_string());

    let zst = pack(&img.oci_layout(&zstd_compress, Some("v1")), &[]);
    let zst_path = write(dir.path(), "zst.tar", &zst);
    sources.push(format!("oci-archive:{zst_path}:v1"));
    sources.push(zst_path);

    let mut reference: Option<(String, Vec<String>)> = None;
    for s in &sources {
        let source = parse_source(s);
        let image = load(&source, &opts())
            .await
            .unwrap_or_else(|e| panic!("{s}: {e:?}"));
        check_standard(&image);
        let tree = dump(&image.fs);
        match &reference {
            None => reference = Some((s.clone(), tree)),
            Some((first, t)) => assert_eq!(&tree, t, "{s} differs from {first}"),
        }
    }
}

fn second_image() -> TestImage {
    TestImage::new(vec![TarBuilder::new().file("other", "2").build()], "amd64")
}

#[test]
fn multi_image_archives_select_by_ref() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (TestImage::standard(), second_image());
    let mut files = a.legacy_archive(&["a:1"]);
    let files_b = b.legacy_archive(&["docker.io/library/b:latest"]);
    let mut manifest: Vec<serde_json::Value> =
        serde_json::from_slice(&files["manifest.json"]).unwrap();
    let mb: Vec<serde_json::Value> = serde_json::from_slice(&files_b["manifest.json"]).unwrap();
    manifest.extend(mb);
    files.extend(files_b);
    files.insert(
        "manifest.json".into(),
        serde_json::to_vec(&manifest).unwrap(),
    );
    let path = write(dir.path(), "multi.tar", &pack(&files, &[]));

    match load_file(&parse_source(&path), &opts()) {
        Err(ImageError::AmbiguousImage { choices, .. }) => {
            assert_eq!(choices, vec!["a:1", "docker.io/library/b:latest"])
        }
        other => panic!("{other:?}"),
    }
    let got = load_file(&parse_source(&format!("docker-archive:{path}:b")), &opts()).unwrap();
    assert!(got.fs.is_file("/other"));
    let got = load_file(
        &parse_source(&format!("docker-archive:{path}:a:1")),
        &opts(),
    )
    .unwrap();
    check_standard(&got);
    assert!(matches!(
        load_file(&parse_source(&format!("docker-archive:{path}:c")), &opts()),
        Err(ImageError::ReferenceNotFound { .. })
    ));

    // The same in an OCI index, by annotation.
    let mut layout = a.oci_layout(&gzip, Some("a"));
    let (digest, size) = b.oci_blobs(&gzip, &mut layout);
    let mut index: serde_json::Value = serde_json::from_slice(&layout["index.json"]).unwrap();
    index["manifests"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": size,
            "annotations": {"io.containerd.image.name": "docker.io/library/b:latest",
                            "org.opencontainers.image.ref.name": "latest"},
        }));
    layout.insert("index.json".into(), serde_json::to_vec(&index).unwrap());
    let path = write(dir.path(), "multi-oci.tar", &pack(&layout, &[]));
    assert!(matches!(
        load_file(&parse_source(&path), &opts()),
        Err(ImageError::AmbiguousImage { .. })
    ));
    let got = load_file(&parse_source(&format!("oci-archive:{path}:b")), &opts()).unwrap();
    assert!(got.fs.is_file("/other"));
    let got = load_file(&parse_source(&format!("oci-archive:{path}:a")), &opts()).unwrap();
    check_standard(&got);
}

/// index.json → nested index holding an attestation, arm64, amd64 and an s390x manifest whose
/// blobs were never exported.
fn multi_platform_layout() -> BTreeMap<String, Vec<u8>> {
    let arm = TestImage::new(
        vec![TarBuilder::new().file("arch", "arm64").build()],
        "arm64",
    );
    let amd = TestImage::new(
        vec![TarBuilder::new().file("arch", "amd64").build()],
        "amd64",
    );
    let mut files = BTreeMap::new();
    let (arm_d, arm_s) = arm.oci_blobs(&gzip, &mut files);
    let (amd_d, amd_s) = amd.oci_blobs(&gzip, &mut files);
    let mt = "application/vnd.oci.image.manifest.v1+json";
    let nested = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": mt, "digest": format!("sha256:{}", "e".repeat(64)), "size": 1,
             "platform": {"os": "unknown", "architecture": "unknown"},
             "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
            {"mediaType": mt, "digest": format!("sha256:{}", "5".repeat(64)), "size": 1,
             "platform": {"os": "linux", "architecture": "s390x"}},
            {"mediaType": mt, "digest": arm_d, "size": arm_s,
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
             "digest": amd_d, "size": amd_s,
             "platform": {"os": "linux", "architecture": "amd64"}},
        ],
    }))
    .unwrap();
    let nested_hex = sha256_hex(&nested);
    files.insert(format!("blobs/sha256/{nested_hex}"), nested.clone());
    files.insert(
        "index.json".into(),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": format!("sha256:{nested_hex}"), "size": nested.len(),
            "annotations": {"org.opencontainers.image.ref.name": "multi"},
        }]}))
        .unwrap(),
    );
    files.insert(
        "oci-layout".into(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    );
    files
}

#[test]
fn nested_index_selects_the_platform() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("multi");
    write_dir(&layout, &multi_platform_layout());
    let src = Source::OciDir {
        path: layout,
        reference: None,
    };
    let amd = load_file(&src, &opts()).unwrap();
    assert_eq!(amd.fs.read_to_string("/arch").as_deref(), Some("amd64"));
    let arm = load_file(&src, &opts_for("linux/arm64")).unwrap();
    assert_eq!(arm.fs.read_to_string("/arch").as_deref(), Some("arm64"));
    assert_eq!(arm.config.architecture, "arm64");
    match load_file(&src, &opts_for("linux/s390x")) {
        Err(ImageError::NoMatchingPlatform { available, .. }) => {
            assert!(
                available.iter().any(|a| a.contains("linux/arm64")),
                "{available:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn self_referencing_index_hits_the_depth_limit() {
    let dir = tempfile::tempdir().unwrap();
    let hex = "a".repeat(64);
    let index = serde_json::to_vec(&serde_json::json!({"manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": format!("sha256:{hex}"), "size": 1}]}))
    .unwrap();
    let mut files = BTreeMap::new();
    files.insert(format!("blobs/sha256/{hex}"), index.clone());
    files.insert("index.json".into(), index);
    let path = write(dir.path(), "loop.tar", &pack(&files, &[]));
    // A sha256 loop cannot hash right: the digest check refuses it first.
    assert!(matches!(
        load_file(&parse_source(&format!("oci-archive:{path}")), &opts()),
        Err(ImageError::BlobMismatch { .. })
    ));
    // An algorithm that cannot be checked still meets the depth limit.
    let index = serde_json::to_vec(&serde_json::json!({"manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": format!("blake9:{hex}"), "size": 1}]}))
    .unwrap();
    let mut files = BTreeMap::new();
    files.insert(format!("blobs/blake9/{hex}"), index.clone());
    files.insert("index.json".into(), index);
    let path = write(dir.path(), "loop2.tar", &pack(&files, &[]));
    assert!(matches!(
        load_file(&parse_source(&format!("oci-archive:{path}")), &opts()),
        Err(ImageError::IndexTooDeep { .. })
    ));
}

/// The layer blob digests of a layout, in manifest order.
fn layer_members(layout: &BTreeMap<String, Vec<u8>>, img: &TestImage) -> Vec<String> {
    img.layers
        .iter()
        .map(|l| {
            let gz = gzip(l);
            format!("blobs/sha256/{}", sha256_hex(&gz))
        })
        .inspect(|m| assert!(layout.contains_key(m), "{m}"))
        .collect()
}

/// Loads a layout as a directory and as an archive; both must give the same outcome.
fn load_both(
    dir: &Path,
    name: &str,
    layout: &BTreeMap<String, Vec<u8>>,
) -> Vec<Result<Image, ImageError>> {
    let d = dir.join(name);
    write_dir(&d, layout);
    let a = write(dir, &format!("{name}.tar"), &pack(layout, &[]));
    vec![
        load_file(
            &Source::OciDir {
                path: d,
                reference: None,
            },
            &opts(),
        ),
        load_file(&parse_source(&format!("oci-archive:{a}")), &opts()),
    ]
}

#[test]
fn stored_blobs_must_match_their_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    let img = TestImage::standard();
    let layout = img.oci_layout(&gzip, None);
    for r in load_both(dir.path(), "ok", &layout) {
        check_standard(&r.unwrap());
    }
    let members = layer_members(&layout, &img);

    // The same tar compressed otherwise: the diff id still matches, the blob does not.
    let mut swapped = layout.clone();
    swapped.insert(members[1].clone(), zstd_compress(&img.layers[1]));
    for r in load_both(dir.path(), "swapped", &swapped) {
        match r {
            Err(ImageError::BlobMismatch {
                member,
                expected,
                actual,
                ..
            }) => {
                assert_eq!(member, members[1]);
                assert_eq!(expected, members[1].replace("blobs/sha256/", "sha256:"));
                assert_eq!(
                    actual,
                    format!("sha256:{}", sha256_hex(&zstd_compress(&img.layers[1])))
                );
            }
            other => panic!("{other:?}"),
        }
    }

    // Right digest, wrong size in the descriptor.
    let mut files = BTreeMap::new();
    let (mdigest, _) = img.oci_blobs(&gzip, &mut files);
    let mpath = mdigest.replace("sha256:", "blobs/sha256/");
    let mut manifest: serde_json::Value = serde_json::from_slice(&files[&mpath]).unwrap();
    manifest["layers"][0]["size"] = serde_json::json!(1);
    let mbytes = serde_json::to_vec(&manifest).unwrap();
    files.remove(&mpath);
    let new_digest = format!("sha256:{}", sha256_hex(&mbytes));
    files.insert(new_digest.replace("sha256:", "blobs/sha256/"), mbytes);
    files.insert(
        "index.json".into(),
        serde_json::to_vec(&serde_json::json!({"manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": new_digest}]}))
        .unwrap(),
    );
    for r in load_both(dir.path(), "sized", &files) {
        assert!(
            matches!(
                r,
                Err(ImageError::BlobMismatch {
                    expected_size: Some(1),
                    ..
                })
            ),
            "{r:?}"
        );
    }

    // A config and a manifest changed in place.
    let cfg = format!("blobs/sha256/{}", sha256_hex(&img.config));
    let mut cfg_tampered = layout.clone();
    cfg_tampered.get_mut(&cfg).unwrap().push(b' ');
    let index: serde_json::Value = serde_json::from_slice(&layout["index.json"]).unwrap();
    let man = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .replace("sha256:", "blobs/sha256/");
    let mut man_tampered = layout.clone();
    man_tampered.get_mut(&man).unwrap().push(b' ');
    for (name, files, member) in [("cfg", cfg_tampered, cfg), ("man", man_tampered, man)] {
        for r in load_both(dir.path(), name, &files) {
            match r {
                Err(ImageError::BlobMismatch { member: m, .. }) => assert_eq!(m, member),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    // A truncated compressed blob does not decode; that it is not the named blob is the news.
    let mut cut = layout.clone();
    let blob = cut.get_mut(&members[0]).unwrap();
    blob.truncate(blob.len() / 2);
    let half = blob.len() as u64;
    for r in load_both(dir.path(), "cut", &cut) {
        match r {
            Err(ImageError::BlobMismatch {
                member,
                actual_size,
                ..
            }) => {
                assert_eq!(member, members[0]);
                assert_eq!(actual_size, half);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn engine25_docker_manifest_blobs_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let img = TestImage::standard();
    // Uncompressed blobs named by digest, listed by manifest.json only.
    let mut files = BTreeMap::new();
    let mut layers = Vec::new();
    for l in &img.layers {
        let m = format!("blobs/sha256/{}", sha256_hex(l));
        files.insert(m.clone(), l.clone());
        layers.push(m);
    }
    let cfg = format!("blobs/sha256/{}", sha256_hex(&img.config));
    files.insert(cfg.clone(), img.config.clone());
    files.insert(
        "manifest.json".into(),
        serde_json::to_vec(&serde_json::json!([{
            "Config": cfg, "RepoTags": ["app:1"], "Layers": layers,
        }]))
        .unwrap(),
    );
    let path = write(dir.path(), "ok.tar", &pack(&files, &[]));
    check_standard(&load_file(&parse_source(&path), &opts()).unwrap());
    // The same layer gzipped under its uncompressed name: the diff id holds, the name does not.
    files.insert(layers[2].clone(), gzip(&img.layers[2]));
    let path = write(dir.path(), "bad.tar", &pack(&files, &[]));
    match load_file(&parse_source(&path), &opts()) {
        Err(ImageError::BlobMismatch { member, .. }) => assert_eq!(member, layers[2]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn only_the_chosen_image_of_a_layout_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (TestImage::standard(), second_image());
    let mut layout = a.oci_layout(&gzip, Some("a"));
    let (digest, size) = b.oci_blobs(&gzip, &mut layout);
    let mut index: serde_json::Value = serde_json::from_slice(&layout["index.json"]).unwrap();
    index["manifests"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": size,
            "annotations": {"org.opencontainers.image.ref.name": "b"},
        }));
    layout.insert("index.json".into(), serde_json::to_vec(&index).unwrap());
    // Image b's layer is a broken gzip: choosing a must neither read nor check it.
    let b_layer = layer_members(&layout, &b).remove(0);
    layout.insert(b_layer, gzip(b"not a layer at all"));
    let d = dir.path().join("layout");
    write_dir(&d, &layout);
    let a_src = Source::OciDir {
        path: d.clone(),
        reference: Some("a".into()),
    };
    check_standard(&load_file(&a_src, &opts()).unwrap());
    let b_src = Source::OciDir {
        path: d,
        reference: Some("b".into()),
    };
    assert!(matches!(
        load_file(&b_src, &opts()),
        Err(ImageError::BlobMismatch { .. })
    ));
    // In an archive the garbage member is read on speculation but never counts against a.
    let path = write(dir.path(), "two.tar", &pack(&layout, &[]));
    check_standard(&load_file(&parse_source(&format!("{path}:a")), &opts()).unwrap());
}

#[test]
fn layer_count_must_match_diff_ids() {
    let dir = tempfile::tempdir().unwrap();
    let mut img = TestImage::standard();
    img.config = config_json(&img.diff_ids()[..2], "amd64");
    let path = write(dir.path(), "bad.tar", &pack(&img.legacy_archive(&[]), &[]));
    assert!(matches!(
        load_file(&parse_source(&path), &opts()),
        Err(ImageError::LayerCountMismatch {
            layers: 3,
            diff_ids: 2,
            ..
        })
    ));
}

#[test]
fn tampered_layers_fail_the_diff_id_check() {
    let dir = tempfile::tempdir().unwrap();
    let img = TestImage::standard();
    let mut files = img.legacy_archive(&[]);
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let member = manifest[0]["Layers"][1].as_str().unwrap().to_string();
    let other = TarBuilder::new().file("lib/site.py", "# tampered").build();
    files.insert(member, other);
    let path = write(dir.path(), "tampered.tar", &pack(&files, &[]));
    assert!(matches!(
        load_file(&parse_source(&path), &opts()),
        Err(ImageError::DiffIdMismatch { .. })
    ));
}

#[test]
fn missing_and_odd_paths_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.tar");
    assert!(matches!(
        load_file(
            &Source::DockerArchive {
                path: missing,
                reference: None
            },
            &opts()
        ),
        Err(ImageError::PathNotFound { .. })
    ));
    assert!(matches!(
        load_file(
            &Source::OciDir {
                path: dir.path().to_path_buf(),
                reference: None
            },
            &opts()
        ),
        Err(ImageError::MissingMember { .. })
    ));
    let text = write(dir.path(), "text.tar", b"just text");
    assert!(matches!(
        load_file(&parse_source(&text), &opts()),
        Err(ImageError::NotAnArchive { .. })
    ));
    let empty_tar = write(dir.path(), "empty.tar", &[0u8; 1024]);
    assert!(matches!(
        load_file(&parse_source(&empty_tar), &opts()),
        Err(ImageError::NoManifest { .. })
    ));
}

#[test]
fn oci_dir_refuses_digests_that_escape() {
    let dir = tempfile::tempdir().unwrap();
    let index = serde_json::json!({"manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:../../../etc/passwd", "size": 1}]});
    let mut files = BTreeMap::new();
    files.insert(
        "index.json".to_string(),
        serde_json::to_vec(&index).unwrap(),
    );
    write_dir(dir.path(), &files);
    let src = Source::OciDir {
        path: dir.path().to_path_buf(),
        reference: None,
    };
    assert!(matches!(
        load_file(&src, &opts()),
        Err(ImageError::InvalidDigest { .. })
    ));
}

fn fuzz_inputs() -> Vec<Vec<u8>> {
    let img = TestImage::standard();
    let legacy = pack(&img.legacy_archive(&["a:1"]), &[]);
    let oci = pack(&img.oci_layout(&gzip, None), &[]);
    vec![
        legacy.clone(),
        gzip(&legacy),
        oci,
        pack(&img.oci_layout(&zstd_compress, None), &[]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn damaged_archives_never_panic(
        which in 0usize..4,
        cut in 0.0f64..1.0,
        flips in proptest::collection::vec((0.0f64..1.0, any::<u8>()), 0..6),
    ) {
        thread_local!(static INPUTS: Vec<Vec<u8>> = fuzz_inputs());
        let mut data = INPUTS.with(|i| i[which].clone());
        for (pos, byte) in flips {
            let at = ((data.len() as f64) * pos) as usize % data.len();
            data[at] ^= byte;
        }
        data.truncate(((data.len() as f64) * cut) as usize);
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "x.tar", &data);
        for source in [
            Source::DockerArchive { path: path.clone().into(), reference: None },
            Source::OciArchive { path: path.clone().into(), reference: Some("x".into()) },
        ] {
            // Either outcome is fine; a panic fails the property.
            let _ = load_file(&source, &opts());
        }
        let _ = parse_source(&path);
    }
}

/// Talks to the real engine when one answers; `IMPORTGATE_REQUIRE_DOCKER=1` turns a missing
/// engine into a failure so that CI cannot silently skip this.
#[tokio::test]
async fn daemon_export_is_streamed_and_merged() {
    use std::process::Command;
    let required = std::env::var("IMPORTGATE_REQUIRE_DOCKER").is_ok_and(|v| v == "1");
    let ok = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !required,
            "IMPORTGATE_REQUIRE_DOCKER=1 but no docker engine is reachable"
        );
        println!("skipping: no docker engine reachable");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let layer = TarBuilder::new()
        .dir("usr/lib/python3/")
        .file("usr/lib/python3/mod.py", "x = 1")
        .symlink("lib", "usr/lib")
        .build();
    let tar = write(dir.path(), "rootfs.tar", &layer);
    let tag = format!("importgate-test:{}", std::process::id());
    let out = Command::new("docker")
        .args([
            "import",
            "--change",
            "ENV PYTHONPATH=/lib/python3",
            "--change",
            "WORKDIR /app",
            &tar,
            &tag,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = load(&parse_source(&format!("docker-daemon:{tag}")), &opts()).await;
    let missing = load(
        &parse_source("docker-daemon:importgate-test:does-not-exist"),
        &opts(),
    )
    .await;
    let _ = Command::new("docker").args(["rmi", "-f", &tag]).output();
    let image = result.unwrap();
    assert_eq!(
        image.fs.read_to_string("/lib/python3/mod.py").as_deref(),
        Some("x = 1")
    );
    assert_eq!(image.config.env_var("PYTHONPATH"), Some("/lib/python3"));
    assert_eq!(image.config.working_dir(), "/app");
    assert_eq!(image.layers.len(), 1);
    assert!(image.layers[0].digest.starts_with("sha256:"));
    assert!(
        image
            .id
            .as_deref()
            .is_some_and(|i| i.starts_with("sha256:"))
    );
    assert!(
        matches!(missing, Err(ImageError::ImageNotFound { .. })),
        "{missing:?}"
    );
}

/// The cost of taking the stored digest: one 200 MiB layer, gzip and zstd, indexed from a file
/// as the OCI layout reader does, with and without the stored-blob hash. Run with
/// `cargo test -p importgate-image --release -- --ignored --nocapture stored_digest_cost`.
#[test]
#[ignore]
#[allow(clippy::print_stdout)]
fn stored_digest_cost() {
    use crate::layer::{index_blob, index_stored};
    use std::io::BufReader;
    use std::time::Instant;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // Text-like bytes (compress about 2-3x, as site-packages does).
    let mut b = TarBuilder::new();
    for i in 0..200 {
        let data: Vec<u8> = (0..1 << 20)
            .map(|_| b"abcdefghij klmnopqrstuvwxyz_().:\n="[(next() % 34) as usize])
            .collect();
        b = b.file_bytes(&format!("f/{i}.py"), &data);
    }
    let tar = b.build();
    let dir = tempfile::tempdir().unwrap();
    let none = |_: &str, _: u64| crate::Keep::Nothing;
    for (name, blob) in [("gzip-1", gzip(&tar)), ("zstd-1", zstd_compress(&tar))] {
        let path = dir.path().join(name);
        std::fs::write(&path, &blob).unwrap();
        let open = || BufReader::with_capacity(256 << 10, std::fs::File::open(&path).unwrap());
        let time = |f: &dyn Fn() -> crate::layer::LayerIndex| {
            let s = Instant::now();
            std::hint::black_box(f());
            s.elapsed().as_secs_f64()
        };
        let started = Instant::now();
        std::hint::black_box(sha256_hex(&blob));
        let hash = started.elapsed().as_secs_f64();
        // Alternated, best of five: the machine is shared.
        let (mut before, mut after) = (f64::MAX, f64::MAX);
        for _ in 0..5 {
            before = before.min(time(&|| index_blob(open(), &none).unwrap()));
            after = after.min(time(&|| index_stored(open(), &none).unwrap()));
        }
        println!(
            "{name}: {} MiB stored, {} MiB tar: sha256 alone {hash:.3}s; index_blob {:.3}s, index_stored {:.3}s (+{:.1}%)",
            blob.len() >> 20,
            tar.len() >> 20,
            before,
            after,
            (after / before - 1.0) * 100.0
        );
    }
}
