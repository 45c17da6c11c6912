//! The merged-tree differential: for each image, the filesystem importgate sees (paths, kinds,
//! modes, owners, link targets, sizes, and the bytes of the files it keeps) read from the
//! engine's storage, the engine's export, a `docker save` archive and an OCI archive must equal
//! `docker export` of a container made from the image: the engine's own merge is the truth.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::support::*;

/// What one path is, as `importgate tree` prints it: kind, mode, uid, gid, size, detail.
type Node = (String, String, String, String, String, String);

fn parse_tree(text: &str) -> BTreeMap<String, Node> {
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 7, "tree line `{l}`");
            (
                f[0].to_string(),
                (
                    f[1].into(),
                    f[2].into(),
                    f[3].into(),
                    f[4].into(),
                    f[5].into(),
                    f[6].into(),
                ),
            )
        })
        .collect()
}

fn tree_of(name: &str, mode: &str) -> BTreeMap<String, Node> {
    tree_with(name, &["--source-mode", mode])
}

fn tree_with(name: &str, args: &[&str]) -> BTreeMap<String, Node> {
    let mut all = vec!["tree"];
    all.extend_from_slice(args);
    all.push(name);
    let run = importgate(&all);
    let mode = args.join(" ");
    assert_eq!(
        run.code, 0,
        "importgate tree {name} ({mode}):\n{}",
        run.stderr
    );
    parse_tree(&run.stdout)
}

/// Made by the engine in every container (its "init layer") and by the kernel's mounts; not
/// part of the image.
fn engine_made(path: &str) -> bool {
    const INIT: &[&str] = &[
        "/.dockerenv",
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/etc/mtab",
        "/dev",
        "/proc",
        "/sys",
    ];
    INIT.iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

/// `docker export` of a created (never started) container, in the form of [`parse_tree`]; only
/// the files `want_bytes` names are hashed.
fn exported(image: &str, want_bytes: &BTreeMap<String, Node>) -> BTreeMap<String, Node> {
    let id = run_ok(
        docker().args(["create", image, "/nonexistent"]),
        "docker create",
    );
    let id = id.trim().to_string();
    let out = output_of(docker().args(["export", &id]), "docker export");
    let _ = docker().args(["rm", "-f", &id]).output();
    assert!(out.status.success(), "docker export failed");
    let mut archive = tar::Archive::new(&out.stdout[..]);
    let mut nodes = BTreeMap::new();
    let mut links = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = format!("/{}", raw.trim_start_matches("./").trim_end_matches('/'));
        if path == "/" {
            continue;
        }
        let h = entry.header();
        let mode = format!("{:o}", h.mode().unwrap() & 0o7777);
        let (uid, gid) = (h.uid().unwrap().to_string(), h.gid().unwrap().to_string());
        let (kind, size, detail) = match h.entry_type() {
            tar::EntryType::Directory => ("dir", 0, "-".to_string()),
            tar::EntryType::Symlink => (
                "link",
                0,
                String::from_utf8_lossy(&entry.link_name_bytes().unwrap()).into_owned(),
            ),
            tar::EntryType::Link => {
                let target = String::from_utf8_lossy(&entry.link_name_bytes().unwrap())
                    .trim_start_matches('/')
                    .to_string();
                links.push((path, format!("/{target}"), mode, uid, gid));
                continue;
            }
            t if t.is_file() => {
                let size = entry.size();
                let detail = match want_bytes.get(&path) {
                    Some(n) if n.5 != "-" && n.0 == "file" => {
                        let mut buf = Vec::new();
                        entry.read_to_end(&mut buf).unwrap();
                        hex(&Sha256::digest(&buf))
                    }
                    _ => "-".to_string(),
                };
                ("file", size, detail)
            }
            _ => ("other", 0, "-".to_string()),
        };
        nodes.insert(
            path,
            (kind.into(), mode, uid, gid, size.to_string(), detail),
        );
    }
    for (path, target, mode, uid, gid) in links {
        let t = nodes
            .get(&target)
            .cloned()
            .unwrap_or_else(|| panic!("hardlink {path} -> {target}: no target"));
        nodes.insert(path, (t.0, mode, uid, gid, t.4, t.5));
    }
    nodes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lists every difference between a reader's tree and the engine's (at most 20 lines).
fn differences(
    what: &str,
    ours: &BTreeMap<String, Node>,
    truth: &BTreeMap<String, Node>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (path, node) in truth {
        // The engine makes /etc for its files when the image has none.
        if engine_made(path) || (path == "/etc" && !ours.contains_key(path)) {
            continue;
        }
        let mut expected = node.clone();
        if ours.get(path).is_some_and(|n| n.5 == "-") {
            expected.5 = "-".into();
        }
        match ours.get(path) {
            None => out.push(format!("{what}: missing {path} {node:?}")),
            Some(n) if *n != expected => {
                out.push(format!("{what}: {path}: ours {n:?}, engine {expected:?}"));
            }
            _ => {}
        }
    }
    for path in ours.keys() {
        if !truth.contains_key(path) && !engine_made(path) {
            out.push(format!("{what}: extra {path}"));
        }
    }
    out.truncate(20);
    out
}

/// Every reader against `docker export`, for one image the engine holds.
fn assert_every_reader_agrees(tag: &str) {
    let dir = tempdir();
    let save = dir.path().join("image.docker.tar");
    let oci = dir.path().join("image.oci.tar");
    docker_save(tag, &save);
    to_oci(&save, &oci);
    let storage = tree_of(tag, "storage");
    let truth = exported(tag, &storage);
    let mut failures = differences("storage", &storage, &truth);
    assert!(
        storage.values().any(|n| n.5 != "-" && n.0 == "file"),
        "no file contents were compared"
    );
    let readers = [
        ("export", tree_of(tag, "export")),
        (
            "docker-archive",
            tree_of(&format!("docker-archive:{}", save.display()), "auto"),
        ),
        (
            "oci-archive",
            tree_of(&format!("oci-archive:{}", oci.display()), "auto"),
        ),
    ];
    // The layer cache: filled by one read, then the only source of the next.
    let cache = dir.path().join("cache");
    let cache_arg = cache.display().to_string();
    let oci_name = format!("oci-archive:{}", oci.display());
    let cold = tree_with(&oci_name, &["--cache-dir", &cache_arg]);
    let warm = tree_with(&oci_name, &["--cache-dir", &cache_arg]);
    failures.extend(differences("oci-archive, cache filled", &cold, &truth));
    failures.extend(differences("oci-archive, from the cache", &warm, &truth));
    for (what, tree) in &readers {
        failures.extend(differences(what, tree, &truth));
        assert_eq!(
            tree.len(),
            storage.len(),
            "{what} and storage differ in size"
        );
    }
    assert!(failures.is_empty(), "{tag}:\n{}", failures.join("\n"));
}

/// One layer tar, written entry by entry.
struct Layer(tar::Builder<Vec<u8>>);

impl Layer {
    fn new() -> Self {
        Layer(tar::Builder::new(Vec::new()))
    }

    fn entry(
        mut self,
        path: &str,
        ty: tar::EntryType,
        mode: u32,
        owner: u64,
        data: &[u8],
        link: Option<&str>,
    ) -> Self {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(ty);
        h.set_mode(mode);
        h.set_uid(owner);
        h.set_gid(owner);
        h.set_mtime(1_700_000_000);
        h.set_size(data.len() as u64);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        self.0.append_data(&mut h, path, data).unwrap();
        self
    }

    fn dir(self, path: &str, mode: u32) -> Self {
        self.entry(path, tar::EntryType::Directory, mode, 0, b"", None)
    }

    fn file(self, path: &str, text: &str) -> Self {
        self.entry(
            path,
            tar::EntryType::Regular,
            0o644,
            0,
            text.as_bytes(),
            None,
        )
    }

    fn build(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// A `docker save` archive of the given layers (no base), loaded into the engine as `tag`.
fn load_crafted(tag: &str, layers: Vec<Vec<u8>>, dir: &Path) -> Image {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", hex(&Sha256::digest(l))))
        .collect();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/nonexistent"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": layers.iter().map(|_| serde_json::json!({"created_by": "crafted"})).collect::<Vec<_>>(),
    })
    .to_string();
    let config_name = format!("{}.json", hex(&Sha256::digest(config.as_bytes())));
    let mut out = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        out.append_data(&mut h, name, data).unwrap();
    };
    let mut members = Vec::new();
    for (n, layer) in layers.iter().enumerate() {
        let name = format!("l{n}/layer.tar");
        add(&name, layer);
        members.push(name);
    }
    add(&config_name, config.as_bytes());
    let manifest = serde_json::json!([{
        "Config": config_name, "RepoTags": [tag], "Layers": members
    }]);
    add("manifest.json", manifest.to_string().as_bytes());
    let path = dir.join("crafted.tar");
    std::fs::write(&path, out.into_inner().unwrap()).unwrap();
    run_ok(
        docker().args(["load", "-q", "-i"]).arg(&path),
        "docker load",
    );
    tagged(tag)
}

#[test]
fn crafted_layers_merge_as_the_engine_merges_them() {
    if !require_docker() {
        return;
    }
    let dir = tempdir();
    use tar::EntryType::{Fifo, Link, Regular, Symlink};
    let l0 = Layer::new()
        .dir("app", 0o755)
        .file("app/keep.py", "keep = 1\n")
        .file("app/gone.py", "gone = 1\n")
        .dir("app/pkg", 0o750)
        .file("app/pkg/__init__.py", "")
        .file("app/pkg/old.py", "old = 1\n")
        .dir("app/tree", 0o755)
        .file("app/tree/a.py", "")
        .entry(
            "app/private.py",
            Regular,
            0o600,
            1000,
            b"secret = 1\n",
            None,
        )
        .entry("app/setuid", Regular, 0o4755, 0, b"#!/bin/sh\n", None)
        .entry("app/hard.py", Link, 0o644, 0, b"", Some("app/keep.py"))
        .entry("app/link.py", Symlink, 0o777, 0, b"", Some("keep.py"))
        .entry("app/fifo", Fifo, 0o644, 0, b"", None)
        .dir("usr", 0o755)
        .dir("usr/lib", 0o755)
        .file("usr/lib/base.py", "")
        .entry("lib", Symlink, 0o777, 0, b"", Some("usr/lib"))
        .build();
    let l1 = Layer::new()
        .entry("app/.wh.gone.py", Regular, 0o644, 0, b"", None)
        .dir("app", 0o755)
        .dir("app/pkg", 0o750)
        .entry("app/pkg/.wh..wh..opq", Regular, 0o644, 0, b"", None)
        .file("app/pkg/new.py", "new = 1\n")
        .entry("app/.wh.tree", Regular, 0o644, 0, b"", None)
        .entry("app/keep.py", Regular, 0o640, 2000, b"keep = 2\n", None)
        .build();
    let l2 = Layer::new()
        .dir("app", 0o755)
        .dir("usr", 0o755)
        .dir("usr/lib", 0o755)
        .file("usr/lib/later.py", "")
        .dir("app/tree", 0o711)
        .file("app/tree/b.py", "b = 1\n")
        .entry(
            "app/link.py",
            Symlink,
            0o777,
            0,
            b"",
            Some("/app/pkg/new.py"),
        )
        .build();
    let image = load_crafted(
        "importgate-test/tree-crafted:latest",
        vec![l0, l1, l2],
        dir.path(),
    );
    assert_every_reader_agrees(&image.tag);
}

/// Layers no builder writes, where the classic engine's unpacking departs from the image
/// spec (and from containerd, which applies layers onto the mounted parent): an entry whose
/// parent directory is not in its layer gets a new 0755 directory in that layer (shadowing a
/// lower symlink or the lower directory's mode), and on fuse-overlayfs a whiteout hides an entry
/// of the same name in its own layer. The storage reader sees what this engine unpacked; the
/// tar readers keep the spec's reading. Both are asserted, so a change on either side shows.
#[test]
fn engine_quirks_are_seen_from_its_storage_and_not_from_tars() {
    if !require_docker() {
        return;
    }
    let dir = tempdir();
    use tar::EntryType::{Regular, Symlink};
    let l0 = Layer::new()
        .dir("usr", 0o755)
        .dir("usr/lib", 0o755)
        .file("usr/lib/base.py", "")
        .entry("lib", Symlink, 0o777, 0, b"", Some("usr/lib"))
        .dir("app", 0o755)
        .dir("app/pkg", 0o750)
        .file("app/pkg/old.py", "")
        .file("app/becomes_dir", "x")
        .build();
    let l1 = Layer::new()
        .file("lib/through.py", "")
        .entry("app/pkg/.wh..wh..opq", Regular, 0o644, 0, b"", None)
        .file("app/pkg/new.py", "")
        .entry("app/.wh.becomes_dir", Regular, 0o644, 0, b"", None)
        .dir("app/becomes_dir", 0o700)
        .file("app/becomes_dir/x.py", "")
        .build();
    let image = load_crafted(
        "importgate-test/tree-quirks:latest",
        vec![l0, l1],
        dir.path(),
    );
    let storage = tree_of(&image.tag, "storage");
    let truth = exported(&image.tag, &storage);
    let driver = run_ok(
        docker().args(["info", "--format", "{{.Driver}}"]),
        "docker info",
    );
    let mut quirks = vec![
        "export: /app/pkg: ours (\"dir\", \"750\", \"0\", \"0\", \"0\", \"-\"), engine (\"dir\", \"755\", \"0\", \"0\", \"0\", \"-\")".to_string(),
        "export: /lib: ours (\"link\", \"777\", \"0\", \"0\", \"0\", \"usr/lib\"), engine (\"dir\", \"755\", \"0\", \"0\", \"0\", \"-\")".to_string(),
        "export: missing /lib/through.py (\"file\", \"644\", \"0\", \"0\", \"0\", \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\")".to_string(),
        "export: extra /usr/lib/through.py".to_string(),
    ];
    let mut storage_quirks = Vec::new();
    if driver.trim() == "fuse-overlayfs" {
        quirks.push("export: extra /app/becomes_dir".to_string());
        quirks.push("export: extra /app/becomes_dir/x.py".to_string());
        storage_quirks.push("storage: extra /app/becomes_dir".to_string());
        storage_quirks.push("storage: extra /app/becomes_dir/x.py".to_string());
    }
    let mut seen = differences("export", &tree_of(&image.tag, "export"), &truth);
    seen.sort();
    quirks.sort();
    assert_eq!(seen, quirks);
    assert_eq!(differences("storage", &storage, &truth), storage_quirks);
}

#[test]
fn built_images_merge_as_the_engine_merges_them() {
    if !require_docker() {
        return;
    }
    let base = ensure_base("debian", "3.11");
    let dir = tempdir();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM {base}\n\
             RUN mkdir -p /app/d && echo a > /app/d/a.py && echo b > /app/b.py \
                 && ln -s b.py /app/l.py && ln /app/b.py /app/h.py && chmod 700 /app/d\n\
             RUN rm /app/b.py && rm -rf /app/d && mkdir /app/d && echo c > /app/d/c.py \
                 && rm -rf /usr/lib/python3.11/json && python3 -m venv --without-pip /opt/venv\n\
             RUN mkdir -p /home/app && touch /home/app/x.py && python3 -c \"import os; os.chown('/home/app/x.py', 1000, 1000)\" && chmod 4750 /home/app/x.py\n"
        ),
    )
    .unwrap();
    let image = build_image("importgate-test/tree-built", dir.path());
    assert_every_reader_agrees(&image.tag);

    ensure_base("slim", "3.12");
    let seed = build_image(
        "importgate-test/tree-seed-app",
        &repo_root().join("examples/seed-app"),
    );
    assert_every_reader_agrees(&seed.tag);
}

#[test]
fn storage_is_not_read_through_a_remote_endpoint() {
    if !require_docker() {
        return;
    }
    let base = ensure_base("debian", "3.11");
    // The same engine behind a TCP endpoint: its paths may be another host's, so the export
    // is read (auto) or the storage refused (storage).
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = proxy.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in proxy.incoming().flatten() {
            std::thread::spawn(move || {
                let Ok(sock) = std::os::unix::net::UnixStream::connect("/var/run/docker.sock")
                else {
                    return;
                };
                let (mut a, mut b) = (conn.try_clone().unwrap(), sock.try_clone().unwrap());
                let up = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut a, &mut b);
                    let _ = b.shutdown(std::net::Shutdown::Write);
                });
                let (mut c, mut d) = (sock, conn);
                let _ = std::io::copy(&mut c, &mut d);
                let _ = d.shutdown(std::net::Shutdown::Write);
                let _ = up.join();
            });
        }
    });
    let host = format!("tcp://127.0.0.1:{port}");
    let env = [
        ("DOCKER_HOST", host.as_str()),
        ("IMPORTGATE_LOG", "importgate_image=debug"),
    ];
    let auto = importgate_env(&["tree", &base], &env);
    assert_eq!(auto.code, 0, "{}", auto.stderr);
    assert!(
        auto.stderr.contains(
            "reading the engine's export: the engine is not reached through a local socket"
        ),
        "{}",
        auto.stderr
    );
    assert_eq!(parse_tree(&auto.stdout), tree_of(&base, "storage"));
    let forced = importgate_env(&["tree", "--source-mode", "storage", &base], &env);
    assert_eq!(forced.code, 2, "{}", forced.stderr);
    assert_eq!(
        forced.stderr.trim(),
        format!(
            "error: cannot read image `{base}`: cannot read `{base}` from the engine's storage: \
             the engine is not reached through a local socket"
        )
    );
}
