//! Builders for in-memory layers, archives and layouts shared by the tests of every reader.

use std::collections::BTreeMap;
use std::io::Write;

use sha2::{Digest, Sha256};

pub fn capture_all(_: &str, _: u64) -> crate::Keep {
    crate::Keep::Contents
}

pub fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub fn zstd_compress(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).unwrap()
}

/// Writes raw headers so that tests can produce what `tar::Builder` refuses (`../x`).
pub struct TarBuilder {
    out: Vec<u8>,
}

impl TarBuilder {
    pub fn new() -> Self {
        TarBuilder { out: Vec::new() }
    }

    fn header(&mut self, name: &str, ty: tar::EntryType, size: u64, link: &str, mode: u32) {
        let mut h = tar::Header::new_ustar();
        let bytes = name.as_bytes();
        assert!(bytes.len() <= 100, "test names stay short");
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_entry_type(ty);
        h.set_size(size);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        if !link.is_empty() {
            let l = link.as_bytes();
            h.as_old_mut().linkname[..l.len()].copy_from_slice(l);
        }
        h.set_cksum();
        self.out.extend_from_slice(h.as_bytes());
    }

    pub fn dir(mut self, name: &str) -> Self {
        self.header(name, tar::EntryType::Directory, 0, "", 0o755);
        self
    }

    pub fn file(self, name: &str, content: &str) -> Self {
        self.file_bytes(name, content.as_bytes())
    }

    pub fn file_bytes(mut self, name: &str, content: &[u8]) -> Self {
        self.header(
            name,
            tar::EntryType::Regular,
            content.len() as u64,
            "",
            0o644,
        );
        self.out.extend_from_slice(content);
        let pad = (512 - content.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    pub fn symlink(mut self, name: &str, target: &str) -> Self {
        self.header(name, tar::EntryType::Symlink, 0, target, 0o777);
        self
    }

    pub fn hardlink(mut self, name: &str, target: &str) -> Self {
        self.header(name, tar::EntryType::Link, 0, target, 0o644);
        self
    }

    pub fn fifo(mut self, name: &str) -> Self {
        self.header(name, tar::EntryType::Fifo, 0, "", 0o644);
        self
    }

    pub fn build(mut self) -> Vec<u8> {
        self.out.extend(std::iter::repeat_n(0u8, 1024));
        self.out
    }
}

/// A generated image: layers (uncompressed tars) and config, written out in each format.
#[derive(Clone)]
pub struct TestImage {
    pub layers: Vec<Vec<u8>>,
    pub config: Vec<u8>,
}

pub fn config_json(diff_ids: &[String], arch: &str) -> Vec<u8> {
    let history: Vec<_> = diff_ids
        .iter()
        .enumerate()
        .flat_map(|(i, _)| {
            vec![
                serde_json::json!({"created_by": format!("RUN step {i}")}),
                serde_json::json!({"created_by": "ENV X=1", "empty_layer": true}),
            ]
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/bin", "PYTHONPATH=/app"],
            "WorkingDir": "/app",
            "User": "1000",
            "Entrypoint": null,
            "Cmd": ["python", "-m", "app"],
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }))
    .unwrap()
}

impl TestImage {
    pub fn new(layers: Vec<Vec<u8>>, arch: &str) -> Self {
        let diff_ids: Vec<String> = layers
            .iter()
            .map(|l| format!("sha256:{}", sha256_hex(l)))
            .collect();
        let config = config_json(&diff_ids, arch);
        TestImage { layers, config }
    }

    /// The standard image of the contract test: symlinked parents, whiteouts, an opaque
    /// directory, a hardlink to a lower layer, an escaping name.
    pub fn standard() -> Self {
        let l0 = TarBuilder::new()
            .dir("usr")
            .dir("usr/lib")
            .symlink("lib", "usr/lib")
            .file("usr/lib/os.py", "import sys")
            .file("etc/old.conf", "x")
            .dir("opt/cache")
            .file("opt/cache/a", "a")
            .file("base.txt", "base")
            .fifo("dev-fifo")
            .build();
        let l1 = TarBuilder::new()
            .file("lib/site.py", "# site")
            .file("etc/.wh.old.conf", "")
            .file("opt/cache/.wh..wh..opq", "")
            .file("opt/cache/b", "b")
            .hardlink("app/linked.txt", "base.txt")
            .file("../escape", "evil")
            .build();
        let l2 = TarBuilder::new()
            .file(".wh.base.txt", "")
            .dir("app")
            .file("app/main.py", "import os")
            .build();
        TestImage::new(vec![l0, l1, l2], "amd64")
    }

    pub fn diff_ids(&self) -> Vec<String> {
        self.layers
            .iter()
            .map(|l| format!("sha256:{}", sha256_hex(l)))
            .collect()
    }

    /// Legacy `docker save` (Engine < 25); `repeat_link` stores the last layer as a symlink
    /// to the first when both are equal.
    pub fn legacy_archive(&self, tags: &[&str]) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        let mut layer_paths = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            let mut seed = l.clone();
            seed.extend(i.to_string().bytes());
            let hex = sha256_hex(&seed);
            let path = format!("{hex}/layer.tar");
            files.insert(format!("{hex}/VERSION"), b"1.0".to_vec());
            files.insert(format!("{hex}/json"), b"{}".to_vec());
            files.insert(path.clone(), l.clone());
            layer_paths.push(path);
        }
        let cfg_hex = sha256_hex(&self.config);
        files.insert(format!("{cfg_hex}.json"), self.config.clone());
        let manifest = serde_json::json!([{
            "Config": format!("{cfg_hex}.json"),
            "RepoTags": tags,
            "Layers": layer_paths,
        }]);
        files.insert(
            "manifest.json".into(),
            serde_json::to_vec(&manifest).unwrap(),
        );
        files.insert("repositories".into(), b"{}".to_vec());
        files
    }

    /// Blobs and the manifest of an OCI layout, layers compressed by `compress`.
    pub fn oci_blobs(
        &self,
        compress: &dyn Fn(&[u8]) -> Vec<u8>,
        blobs: &mut BTreeMap<String, Vec<u8>>,
    ) -> (String, usize) {
        let mut layer_descs = Vec::new();
        for l in &self.layers {
            let blob = compress(l);
            let hex = sha256_hex(&blob);
            layer_descs.push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": format!("sha256:{hex}"),
                "size": blob.len(),
            }));
            blobs.insert(format!("blobs/sha256/{hex}"), blob);
        }
        let cfg_hex = sha256_hex(&self.config);
        blobs.insert(format!("blobs/sha256/{cfg_hex}"), self.config.clone());
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": format!("sha256:{cfg_hex}"),
                "size": self.config.len(),
            },
            "layers": layer_descs,
        }))
        .unwrap();
        let hex = sha256_hex(&manifest);
        let len = manifest.len();
        blobs.insert(format!("blobs/sha256/{hex}"), manifest);
        (format!("sha256:{hex}"), len)
    }

    pub fn oci_layout(
        &self,
        compress: &dyn Fn(&[u8]) -> Vec<u8>,
        ref_name: Option<&str>,
    ) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        let (digest, size) = self.oci_blobs(compress, &mut files);
        let mut desc = serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest,
            "size": size,
        });
        if let Some(r) = ref_name {
            desc["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": r});
        }
        files.insert(
            "index.json".into(),
            serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [desc]}))
                .unwrap(),
        );
        files.insert(
            "oci-layout".into(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        );
        files
    }
}

/// Packs named members into a tar, in the order given (sorted for a `BTreeMap`), with
/// `links` as symlinks.
pub fn pack(files: &BTreeMap<String, Vec<u8>>, links: &[(&str, &str)]) -> Vec<u8> {
    let mut b = TarBuilder::new();
    for (name, data) in files {
        b = b.file_bytes(name, data);
    }
    for (name, target) in links {
        b = b.symlink(name, target);
    }
    b.build()
}

pub fn write_dir(dir: &std::path::Path, files: &BTreeMap<String, Vec<u8>>) {
    for (name, data) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
}

/// A readable dump of a merged tree for comparisons.
pub fn dump(fs: &crate::Vfs) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![("".to_string(), crate::NodeId::ROOT)];
    while let Some((path, id)) = stack.pop() {
        for (name, child) in fs.children(id) {
            let p = format!("{path}/{name}");
            let m = fs.meta(child);
            let desc = match fs.kind(child) {
                crate::NodeKind::Dir(_) => {
                    stack.push((p.clone(), child));
                    "dir".to_string()
                }
                crate::NodeKind::File(d) => format!(
                    "file {} {:?}",
                    d.size,
                    d.content
                        .as_ref()
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                ),
                crate::NodeKind::Symlink(t) => format!("-> {t}"),
                crate::NodeKind::Other => "other".into(),
            };
            out.push(format!(
                "{p} {desc} {:o} {}:{} L{}",
                m.mode, m.uid, m.gid, m.layer
            ));
        }
    }
    out.sort();
    out
}
