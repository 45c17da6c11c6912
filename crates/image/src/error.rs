//! The one error type of this crate, with enough context (source, member, digest, reference) for
//! a user to find the broken piece without a debugger.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{}` does not exist", path.display())]
    PathNotFound { path: PathBuf },
    #[error("invalid platform `{0}`: expected os/arch[/variant]")]
    InvalidPlatform(String),
    /// The docker context that `DOCKER_CONTEXT` or the config's `currentContext` names has no
    /// metadata in the context store.
    #[error("docker context `{name}` not found ({selected_by}, {})", meta.display())]
    ContextNotFound {
        name: String,
        /// `DOCKER_CONTEXT`, or `currentContext in PATH`.
        selected_by: String,
        meta: PathBuf,
    },
    /// The selected docker context exists but cannot be used (unreadable or invalid metadata,
    /// no docker endpoint, TLS, an unsupported host scheme).
    #[error("docker context `{name}` ({selected_by}, {}): {problem}", path.display())]
    Context {
        name: String,
        selected_by: String,
        path: PathBuf,
        problem: String,
    },
    /// The docker CLI's `config.json` (read for `currentContext`) is unreadable or invalid.
    #[error("docker config `{}` {problem}", path.display())]
    DockerConfig { path: PathBuf, problem: String },
    #[error("cannot reach the docker engine at {host}")]
    DaemonUnreachable {
        host: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("image `{reference}` not found in the docker engine")]
    ImageNotFound { reference: String },
    #[error("docker engine request for `{reference}` failed")]
    Daemon {
        reference: String,
        #[source]
        source: bollard::errors::Error,
    },
    /// `--source-mode storage` where the engine's storage cannot be read for this image.
    #[error("cannot read `{reference}` from the engine's storage: {why}")]
    StorageUnusable { reference: String, why: String },
    #[error("docker engine failed while exporting `{reference}`: {message}")]
    DaemonStream { reference: String, message: String },
    #[error("`{archive}` is not a tar archive (plain, gzip or zstd)")]
    NotAnArchive { archive: String },
    #[error("archive `{archive}` is truncated or corrupt")]
    CorruptArchive {
        archive: String,
        #[source]
        source: io::Error,
    },
    #[error("layer {digest} (`{member}`) in `{archive}` cannot be read")]
    Layer {
        archive: String,
        member: String,
        digest: String,
        #[source]
        source: io::Error,
    },
    #[error("`{member}` in `{archive}` is not valid JSON of the expected shape")]
    InvalidJson {
        archive: String,
        member: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("`{member}` is missing from `{archive}`")]
    MissingMember { archive: String, member: String },
    #[error("`{archive}` has neither an OCI index.json nor a docker manifest.json")]
    NoManifest { archive: String },
    #[error("`{archive}` holds several images; pick one with `:REF` (one of: {})", choices.join(", "))]
    AmbiguousImage {
        archive: String,
        choices: Vec<String>,
    },
    #[error("no image `{reference}` in `{archive}` (it has: {})", choices.join(", "))]
    ReferenceNotFound {
        archive: String,
        reference: String,
        choices: Vec<String>,
    },
    #[error("no image for platform {platform} in `{archive}` (available: {})", available.join(", "))]
    NoMatchingPlatform {
        archive: String,
        platform: String,
        available: Vec<String>,
    },
    #[error("image index nesting in `{archive}` exceeds {limit} levels at {digest}")]
    IndexTooDeep {
        archive: String,
        digest: String,
        limit: usize,
    },
    #[error("invalid blob digest `{digest}` in `{archive}`")]
    InvalidDigest { archive: String, digest: String },
    /// A stored blob (layer, config, manifest) whose content does not hash to the digest (or
    /// has not the size) its descriptor gives: tampered with, or truncated, as containerd and
    /// skopeo would refuse it.
    #[error(
        "blob `{member}` in `{archive}` does not match its descriptor: it is {actual} ({actual_size} bytes), the descriptor says {expected}{}",
        expected_size.map(|s| format!(" ({s} bytes)")).unwrap_or_default()
    )]
    BlobMismatch {
        archive: String,
        member: String,
        expected: String,
        expected_size: Option<u64>,
        actual: String,
        actual_size: u64,
    },
    #[error("layer `{member}` in `{archive}` has diff id {actual}, but the config says {expected}")]
    DiffIdMismatch {
        archive: String,
        member: String,
        expected: String,
        actual: String,
    },
    #[error("`{archive}` lists {layers} layers but its config has {diff_ids} diff ids")]
    LayerCountMismatch {
        archive: String,
        layers: usize,
        diff_ids: usize,
    },
    #[error("config of `{archive}` has rootfs type `{typ}`, expected `layers`")]
    UnsupportedRootfs { archive: String, typ: String },
    #[error("links inside `{archive}` loop or nest too deep at `{member}`")]
    LinkLoop { archive: String, member: String },
    /// Reading from an OCI Distribution registry failed (see `importgate-registry`).
    #[error(transparent)]
    Registry(#[from] importgate_registry::RegistryError),
    #[error("background task reading `{archive}` failed")]
    Task {
        archive: String,
        #[source]
        source: tokio::task::JoinError,
    },
}
