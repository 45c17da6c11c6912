//! The JSON documents of the distribution API that matter for reading an image: OCI and Docker
//! v2 schema 2 manifests and indexes (manifest lists). Schema 1 is not accepted: registries
//! stopped serving it and it carries no config blob.

use std::collections::HashMap;

use serde::Deserialize;

/// What `/manifests/` requests accept, most specific first; a registry converts nothing for
/// these, so the digest of the answer is the digest of the stored manifest.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

pub fn is_index_type(mt: &str) -> bool {
    mt == "application/vnd.oci.image.index.v1+json"
        || mt == "application/vnd.docker.distribution.manifest.list.v2+json"
}

pub fn is_manifest_type(mt: &str) -> bool {
    mt == "application/vnd.oci.image.manifest.v1+json"
        || mt == "application/vnd.docker.distribution.manifest.v2+json"
}

#[derive(Debug, Clone, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    pub digest: String,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub annotations: Option<HashMap<String, String>>,
}

impl Descriptor {
    /// Buildx attaches provenance as `unknown/unknown` manifests; they are no image to check.
    pub fn is_attestation(&self) -> bool {
        self.annotations
            .as_ref()
            .and_then(|a| a.get("vnd.docker.reference.type"))
            .is_some_and(|t| t == "attestation-manifest")
            || self.platform.as_ref().is_some_and(|p| {
                p.os.as_deref() == Some("unknown") && p.architecture.as_deref() == Some("unknown")
            })
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Platform {
    #[serde(default)]
    pub architecture: Option<String>,
    #[serde(default)]
    pub os: Option<String>,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// `os/arch[/variant]`, `?` for a missing part.
    pub fn show(&self) -> String {
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

/// An index or a manifest; which one is decided by [`Document::is_index`].
#[derive(Debug, Clone, Deserialize)]
pub struct Document {
    #[serde(rename = "schemaVersion", default)]
    pub schema_version: Option<u32>,
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Option<Vec<Descriptor>>,
}

impl Document {
    /// The media type of the answer wins, then the document's own, then its shape.
    pub fn is_index(&self, content_type: &str) -> bool {
        let mt = self.media_type.as_deref().unwrap_or(content_type);
        is_index_type(content_type)
            || is_index_type(mt)
            || (self.manifests.is_some() && !is_manifest_type(mt))
    }
}
