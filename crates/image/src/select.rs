//! Picking one image out of an archive or layout: OCI `index.json` walking (nested indexes,
//! platforms, references, attestations) or the docker `manifest.json`, and reading the config
//! that comes with it.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::sync::Arc;

use serde::Deserialize;

use crate::error::ImageError;
use crate::layer::LayerIndex;
use crate::source::Platform;
use crate::vfs::clean_member_name;
use crate::{Capture, ImageConfig};

/// Nested indexes seen in practice go two deep (index.json → multi-platform index); anything
/// much deeper is a loop or an attack.
pub(crate) const MAX_INDEX_DEPTH: usize = 8;
/// Manifests, indexes and configs are kilobytes; this leaves room for huge histories.
pub(crate) const MAX_SMALL: u64 = 16 << 20;

/// Read access to the members of an archive or the files of a layout, by their path inside it.
pub(crate) trait BlobSource: Sync {
    fn name(&self) -> &str;
    /// A metadata member (`index.json`, a manifest, a config); `None` when absent.
    fn small(&self, path: &str) -> Result<Option<Vec<u8>>, ImageError>;
    fn exists(&self, path: &str) -> bool;
    /// The indexes of the given layer members, in order.
    fn layers(
        &self,
        paths: &[String],
        capture: &Arc<Capture>,
    ) -> Vec<Result<Arc<LayerIndex>, io::Error>>;
    /// The diff id of a layer indexed before it was hashed, still being computed.
    fn pending_hash(&self, _path: &str) -> Option<Arc<crate::load::PendingHash>> {
        None
    }
    /// The length of a layer tar whose diff id its source vouches for (the engine's own
    /// export), left unhashed; `None` for every layer importgate has to verify itself.
    fn attested_len(&self, _path: &str) -> Option<u64> {
        None
    }
}

#[derive(Debug, Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    digest: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    platform: Option<DescPlatform>,
    #[serde(default)]
    annotations: Option<HashMap<String, String>>,
}

impl Descriptor {
    fn blob_ref(&self) -> BlobRef {
        BlobRef {
            digest: self.digest.clone(),
            size: self.size,
        }
    }
}

#[derive(Debug, Deserialize)]
struct DescPlatform {
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    variant: Option<String>,
}

impl DescPlatform {
    fn show(&self) -> String {
        let mut s = format!(
            "{}/{}",
            self.os.as_deref().unwrap_or("?"),
            self.architecture.as_deref().unwrap_or("?")
        );
        if let Some(v) = &self.variant {
            s.push('/');
            s.push_str(v);
        }
        s
    }
}

/// An index or a manifest: the two are told apart by media type, or by which fields exist.
#[derive(Debug, Deserialize)]
struct Document {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
}

#[derive(Debug, Deserialize)]
struct DockerManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Option<Vec<String>>,
}

const ANN_REF_NAME: &str = "org.opencontainers.image.ref.name";
const ANN_CONTAINERD_NAME: &str = "io.containerd.image.name";

fn is_index_type(mt: &str) -> bool {
    mt == "application/vnd.oci.image.index.v1+json"
        || mt == "application/vnd.docker.distribution.manifest.list.v2+json"
}

fn is_manifest_type(mt: &str) -> bool {
    mt == "application/vnd.oci.image.manifest.v1+json"
        || mt == "application/vnd.docker.distribution.manifest.v2+json"
}

/// What a descriptor says a stored blob is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlobRef {
    pub digest: String,
    pub size: Option<u64>,
}

/// The image picked: its config bytes and its layer members, oldest first.
#[derive(Debug)]
pub(crate) struct Selection {
    pub config: Vec<u8>,
    pub config_member: String,
    pub layers: Vec<String>,
    /// Per layer, the digest (and size) the stored blob must have, when the format names one:
    /// OCI descriptors, and the content-addressed `blobs/ALG/HEX` members of `manifest.json`.
    pub layer_blobs: Vec<Option<BlobRef>>,
    pub warnings: Vec<String>,
}

/// The digest a `blobs/ALG/HEX` member is named by.
fn digest_of_member(member: &str) -> Option<String> {
    let mut parts = member.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("blobs"), Some(alg), Some(hex), None) if !alg.is_empty() && !hex.is_empty() => {
            Some(format!("{alg}:{hex}"))
        }
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(2 * bytes.len());
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Checks a metadata blob read whole against its descriptor. Digests of an algorithm other
/// than sha256/sha512 cannot be checked and are let through (as before).
pub(crate) fn verify_small(
    archive: &str,
    member: &str,
    bytes: &[u8],
    want: &BlobRef,
) -> Result<(), ImageError> {
    use sha2::Digest as _;
    let actual = match want.digest.split_once(':') {
        Some(("sha256", _)) => format!("sha256:{}", hex(&sha2::Sha256::digest(bytes))),
        Some(("sha512", _)) => format!("sha512:{}", hex(&sha2::Sha512::digest(bytes))),
        _ => {
            tracing::debug!(
                "{archive}: cannot verify `{}`; unknown algorithm",
                want.digest
            );
            return Ok(());
        }
    };
    check_blob(archive, member, want, &actual, bytes.len() as u64)
}

/// Compares a stored blob's digest and length with what its descriptor says.
pub(crate) fn check_blob(
    archive: &str,
    member: &str,
    want: &BlobRef,
    actual: &str,
    actual_size: u64,
) -> Result<(), ImageError> {
    if actual.eq_ignore_ascii_case(&want.digest) && want.size.is_none_or(|s| s == actual_size) {
        return Ok(());
    }
    Err(ImageError::BlobMismatch {
        archive: archive.to_string(),
        member: member.to_string(),
        expected: want.digest.clone(),
        expected_size: want.size,
        actual: actual.to_string(),
        actual_size,
    })
}

fn parse_json<'a, T: Deserialize<'a>>(
    src: &dyn BlobSource,
    member: &str,
    bytes: &'a [u8],
) -> Result<T, ImageError> {
    serde_json::from_slice(bytes).map_err(|source| ImageError::InvalidJson {
        archive: src.name().to_string(),
        member: member.to_string(),
        source,
    })
}

/// Turns a digest into its layout path, refusing anything that could name another file.
pub(crate) fn blob_path(archive: &str, digest: &str) -> Result<String, ImageError> {
    let bad = || ImageError::InvalidDigest {
        archive: archive.to_string(),
        digest: digest.to_string(),
    };
    let (alg, hex) = digest.split_once(':').ok_or_else(bad)?;
    let alg_ok = alg.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && alg
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c));
    let hex_ok = !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    if !alg_ok || !hex_ok {
        return Err(bad());
    }
    Ok(format!("blobs/{alg}/{hex}"))
}

/// `foo`, `foo:latest`, `library/foo:latest` and `docker.io/library/foo:latest` are one image.
pub(crate) fn normalize_ref(r: &str) -> String {
    let mut s = r;
    for prefix in ["docker.io/", "index.docker.io/", "registry-1.docker.io/"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
        }
    }
    if let Some(rest) = s.strip_prefix("library/") {
        s = rest;
    }
    let last = s.rsplit('/').next().unwrap_or(s);
    if s.contains('@') || last.contains(':') {
        s.to_string()
    } else {
        format!("{s}:latest")
    }
}

fn annotation<'a>(d: &'a Descriptor, key: &str) -> Option<&'a str> {
    d.annotations.as_ref()?.get(key).map(String::as_str)
}

fn descriptor_name(d: &Descriptor) -> Option<&str> {
    annotation(d, ANN_CONTAINERD_NAME).or_else(|| annotation(d, ANN_REF_NAME))
}

fn ref_matches(d: &Descriptor, r: &str) -> bool {
    annotation(d, ANN_REF_NAME) == Some(r)
        || annotation(d, ANN_CONTAINERD_NAME)
            .is_some_and(|n| n == r || normalize_ref(n) == normalize_ref(r))
}

fn is_attestation(d: &Descriptor) -> bool {
    annotation(d, "vnd.docker.reference.type") == Some("attestation-manifest")
        || d.platform.as_ref().is_some_and(|p| {
            p.os.as_deref() == Some("unknown") && p.architecture.as_deref() == Some("unknown")
        })
}

/// Picks the image: the OCI index when there is one (Engine ≥ 25 writes both and the index is
/// the one that knows platforms), else the docker manifest.
pub(crate) fn select(
    src: &dyn BlobSource,
    reference: Option<&str>,
    platform: &Platform,
) -> Result<Selection, ImageError> {
    let docker = src.small("manifest.json")?;
    if let Some(index) = src.small("index.json")? {
        match select_oci(src, &index, reference, platform) {
            Err(ImageError::ReferenceNotFound { .. }) if docker.is_some() => {}
            other => return other,
        }
    }
    match docker {
        Some(bytes) => select_docker(src, &bytes, reference, platform),
        None => Err(ImageError::NoManifest {
            archive: src.name().to_string(),
        }),
    }
}

fn select_oci(
    src: &dyn BlobSource,
    bytes: &[u8],
    reference: Option<&str>,
    platform: &Platform,
) -> Result<Selection, ImageError> {
    let index: Document = parse_json(src, "index.json", bytes)?;
    let tops = index.manifests.unwrap_or_default();
    let names = || -> Vec<String> {
        let set: BTreeSet<String> = tops
            .iter()
            .filter(|d| !is_attestation(d))
            .map(|d| descriptor_name(d).unwrap_or(&d.digest).to_string())
            .collect();
        set.into_iter().collect()
    };
    let candidates: Vec<&Descriptor> = match reference {
        Some(r) => {
            let matched: Vec<&Descriptor> = tops.iter().filter(|d| ref_matches(d, r)).collect();
            if matched.is_empty() {
                return Err(ImageError::ReferenceNotFound {
                    archive: src.name().to_string(),
                    reference: r.to_string(),
                    choices: names(),
                });
            }
            matched
        }
        None => {
            // Several tags of one image are one image; several named images are a question.
            let named: BTreeSet<&str> = tops
                .iter()
                .filter(|d| !is_attestation(d) && descriptor_name(d).is_some())
                .map(|d| d.digest.as_str())
                .collect();
            if named.len() > 1 {
                return Err(ImageError::AmbiguousImage {
                    archive: src.name().to_string(),
                    choices: names(),
                });
            }
            tops.iter().collect()
        }
    };
    let mut walk = Walk {
        src,
        platform,
        available: Vec::new(),
        fallback: None,
    };
    if let Some(sel) = walk.walk(&candidates, 0)? {
        return Ok(sel);
    }
    if let Some((mut sel, found)) = walk.fallback {
        sel.warnings.push(format!(
            "image platform {found} differs from the requested {platform}; using it anyway"
        ));
        return Ok(sel);
    }
    Err(ImageError::NoMatchingPlatform {
        archive: src.name().to_string(),
        platform: platform.to_string(),
        available: walk.available,
    })
}

struct Walk<'a> {
    src: &'a dyn BlobSource,
    platform: &'a Platform,
    available: Vec<String>,
    /// A manifest with no platform in its descriptor whose config names another platform: used
    /// only if nothing matches, since a single-image layout is what the user meant.
    fallback: Option<(Selection, String)>,
}

#[derive(Debug, Deserialize, Default)]
struct ConfigPlatform {
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    variant: Option<String>,
}

impl Walk<'_> {
    fn walk(
        &mut self,
        list: &[&Descriptor],
        depth: usize,
    ) -> Result<Option<Selection>, ImageError> {
        let archive = self.src.name().to_string();
        for d in list {
            if is_attestation(d) {
                continue;
            }
            if let Some(p) = &d.platform
                && !self.platform.matches(
                    p.os.as_deref(),
                    p.architecture.as_deref(),
                    p.variant.as_deref(),
                )
            {
                self.available.push(p.show());
                continue;
            }
            let path = blob_path(&archive, &d.digest)?;
            let Some(bytes) = self.src.small(&path)? else {
                tracing::debug!("{archive}: manifest {} not present; skipped", d.digest);
                continue;
            };
            verify_small(&archive, &path, &bytes, &d.blob_ref())?;
            let doc: Document = parse_json(self.src, &path, &bytes)?;
            let mt = d
                .media_type
                .as_deref()
                .or(doc.media_type.as_deref())
                .unwrap_or("");
            if is_index_type(mt) || (doc.manifests.is_some() && !is_manifest_type(mt)) {
                if depth + 1 >= MAX_INDEX_DEPTH {
                    return Err(ImageError::IndexTooDeep {
                        archive,
                        digest: d.digest.clone(),
                        limit: MAX_INDEX_DEPTH,
                    });
                }
                let children = doc.manifests.unwrap_or_default();
                let refs: Vec<&Descriptor> = children.iter().collect();
                if let Some(sel) = self.walk(&refs, depth + 1)? {
                    return Ok(Some(sel));
                }
                continue;
            }
            let Some(config) = doc.config else {
                tracing::debug!("{archive}: {} has media type `{mt}`; ignored", d.digest);
                continue;
            };
            let config_member = blob_path(&archive, &config.digest)?;
            let Some(config_bytes) = self.src.small(&config_member)? else {
                tracing::debug!("{archive}: config {} not present; skipped", config.digest);
                continue;
            };
            verify_small(&archive, &config_member, &config_bytes, &config.blob_ref())?;
            let descs = doc.layers.unwrap_or_default();
            let layers = descs
                .iter()
                .map(|l| blob_path(&archive, &l.digest))
                .collect::<Result<Vec<_>, _>>()?;
            let layer_blobs = descs.iter().map(|l| Some(l.blob_ref())).collect();
            if let Some(missing) = layers.iter().find(|l| !self.src.exists(l)) {
                tracing::debug!(
                    "{archive}: layer {missing} of {} not present; skipped",
                    d.digest
                );
                self.available
                    .push(format!("{} (layers missing)", d.digest));
                continue;
            }
            let sel = Selection {
                config: config_bytes,
                config_member,
                layers,
                layer_blobs,
                warnings: Vec::new(),
            };
            if d.platform.is_none() {
                let cp: ConfigPlatform = serde_json::from_slice(&sel.config).unwrap_or_default();
                if !self.platform.matches(
                    cp.os.as_deref(),
                    cp.architecture.as_deref(),
                    cp.variant.as_deref(),
                ) {
                    let shown = DescPlatform {
                        os: cp.os,
                        architecture: cp.architecture,
                        variant: cp.variant,
                    }
                    .show();
                    self.available.push(shown.clone());
                    if self.fallback.is_none() {
                        self.fallback = Some((sel, shown));
                    }
                    continue;
                }
            }
            return Ok(Some(sel));
        }
        Ok(None)
    }
}

fn select_docker(
    src: &dyn BlobSource,
    bytes: &[u8],
    reference: Option<&str>,
    platform: &Platform,
) -> Result<Selection, ImageError> {
    let archive = src.name().to_string();
    let entries: Vec<DockerManifestEntry> = parse_json(src, "manifest.json", bytes)?;
    let label = |e: &DockerManifestEntry| -> Vec<String> {
        match &e.repo_tags {
            Some(tags) if !tags.is_empty() => tags.clone(),
            _ => vec![e.config.clone()],
        }
    };
    let choices = || -> Vec<String> { entries.iter().flat_map(label).collect() };
    let candidates: Vec<&DockerManifestEntry> = match reference {
        Some(r) => {
            let want = normalize_ref(r);
            let matched: Vec<_> = entries
                .iter()
                .filter(|e| {
                    e.repo_tags
                        .iter()
                        .flatten()
                        .any(|t| t == r || normalize_ref(t) == want)
                        || e.config
                            .trim_end_matches(".json")
                            .ends_with(r.trim_start_matches("sha256:"))
                })
                .collect();
            if matched.is_empty() {
                return Err(ImageError::ReferenceNotFound {
                    archive,
                    reference: r.to_string(),
                    choices: choices(),
                });
            }
            matched
        }
        None => entries.iter().collect(),
    };
    let Some(first) = candidates.first() else {
        return Err(ImageError::NoManifest { archive });
    };
    if candidates.iter().any(|e| e.config != first.config) {
        return Err(ImageError::AmbiguousImage {
            archive,
            choices: choices(),
        });
    }
    let missing = |member: &str| ImageError::MissingMember {
        archive: archive.clone(),
        member: member.to_string(),
    };
    let config_member = clean_member_name(&first.config).map_err(|_| missing(&first.config))?;
    let config = src
        .small(&config_member)?
        .ok_or_else(|| missing(&first.config))?;
    // Engine ≥ 25 names config and layers by digest (`blobs/sha256/HEX`); legacy names are not
    // digests of what they hold.
    if let Some(digest) = digest_of_member(&config_member) {
        let want = BlobRef { digest, size: None };
        verify_small(&archive, &config_member, &config, &want)?;
    }
    let layers = first
        .layers
        .iter()
        .flatten()
        .map(|l| clean_member_name(l).map_err(|_| missing(l)))
        .collect::<Result<Vec<_>, _>>()?;
    let layer_blobs = layers
        .iter()
        .map(|l| digest_of_member(l).map(|digest| BlobRef { digest, size: None }))
        .collect();
    let warnings = platform_warning(&config, platform).into_iter().collect();
    Ok(Selection {
        config,
        config_member,
        layers,
        layer_blobs,
        warnings,
    })
}

/// A config for another platform than the one asked for is used anyway (an archive or the
/// engine holds one image), with this warning.
pub(crate) fn platform_warning(config: &[u8], platform: &Platform) -> Option<String> {
    let cp: ConfigPlatform = serde_json::from_slice(config).unwrap_or_default();
    (!platform.matches(
        cp.os.as_deref(),
        cp.architecture.as_deref(),
        cp.variant.as_deref(),
    ))
    .then(|| {
        format!(
            "image platform {} differs from the requested {platform}; using it anyway",
            DescPlatform {
                os: cp.os,
                architecture: cp.architecture,
                variant: cp.variant
            }
            .show()
        )
    })
}

#[derive(Debug, Deserialize, Default)]
struct RawConfig {
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    config: Option<RawRunConfig>,
    #[serde(default)]
    rootfs: Option<RawRootfs>,
    #[serde(default)]
    history: Option<Vec<RawHistory>>,
}

#[derive(Debug, Deserialize, Default)]
struct RawRunConfig {
    #[serde(rename = "Env", default)]
    env: Option<Vec<String>>,
    #[serde(rename = "WorkingDir", default)]
    working_dir: Option<String>,
    #[serde(rename = "User", default)]
    user: Option<String>,
    #[serde(rename = "Entrypoint", default)]
    entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default)]
    cmd: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Default)]
struct RawRootfs {
    #[serde(rename = "type", default)]
    typ: Option<String>,
    #[serde(default)]
    diff_ids: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Default)]
struct RawHistory {
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default)]
    empty_layer: Option<bool>,
}

/// What the loader needs from an image config.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParsedConfig {
    pub config: ImageConfig,
    pub diff_ids: Vec<String>,
    /// One per non-empty history entry, i.e. per layer when the builder kept them in step.
    pub created_by: Vec<Option<String>>,
}

pub(crate) fn parse_config(
    archive: &str,
    member: &str,
    bytes: &[u8],
) -> Result<ParsedConfig, ImageError> {
    let raw: RawConfig =
        serde_json::from_slice(bytes).map_err(|source| ImageError::InvalidJson {
            archive: archive.to_string(),
            member: member.to_string(),
            source,
        })?;
    let rootfs = raw.rootfs.unwrap_or_default();
    if let Some(typ) = rootfs.typ
        && typ != "layers"
    {
        return Err(ImageError::UnsupportedRootfs {
            archive: archive.to_string(),
            typ,
        });
    }
    let run = raw.config.unwrap_or_default();
    let created_by = raw
        .history
        .unwrap_or_default()
        .into_iter()
        .filter(|h| h.empty_layer != Some(true))
        .map(|h| h.created_by)
        .collect();
    Ok(ParsedConfig {
        config: ImageConfig {
            env: run.env.unwrap_or_default(),
            working_dir: run.working_dir.unwrap_or_default(),
            user: run.user.unwrap_or_default(),
            entrypoint: run.entrypoint,
            cmd: run.cmd,
            os: raw.os.unwrap_or_default(),
            architecture: raw.architecture.unwrap_or_default(),
            variant: raw.variant,
        },
        diff_ids: rootfs.diff_ids.unwrap_or_default(),
        created_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_normalize() {
        assert_eq!(normalize_ref("foo"), "foo:latest");
        assert_eq!(normalize_ref("docker.io/library/foo:1"), "foo:1");
        assert_eq!(
            normalize_ref("localhost:5000/foo"),
            "localhost:5000/foo:latest"
        );
        assert_eq!(normalize_ref("foo@sha256:ab"), "foo@sha256:ab");
    }

    #[test]
    fn digests_cannot_name_other_files() {
        assert_eq!(
            blob_path("a", "sha256:abc01").unwrap(),
            "blobs/sha256/abc01"
        );
        for bad in [
            "sha256:../x",
            "../:ab",
            "sha256:",
            "nocolon",
            "sha256:ab/cd",
            ":ab",
        ] {
            assert!(blob_path("a", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_nulls_are_absent_and_history_maps_to_layers() {
        let cfg = br#"{"os":"linux","architecture":"amd64","config":{"Env":null,"Cmd":null},
            "rootfs":{"type":"layers","diff_ids":["sha256:a","sha256:b"]},
            "history":[{"created_by":"ADD x"},{"created_by":"ENV a","empty_layer":true},{"created_by":"RUN y"}]}"#;
        let p = parse_config("t", "c", cfg).unwrap();
        assert!(p.config.env.is_empty());
        assert_eq!(
            p.created_by,
            vec![Some("ADD x".into()), Some("RUN y".into())]
        );
        let bad = br#"{"rootfs":{"type":"other"}}"#;
        assert!(matches!(
            parse_config("t", "c", bad),
            Err(ImageError::UnsupportedRootfs { .. })
        ));
    }
}
