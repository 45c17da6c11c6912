//! Reading container images: where they come from (a Docker Engine, a `docker save` archive, an
//! OCI layout as a directory or a tar, an OCI Distribution registry), their config, and their layers merged into an in-memory
//! [`Vfs`]. Nothing in this crate knows about Python; callers say which file contents to keep
//! through a [`Capture`] predicate.

mod archive;
pub mod cache;
pub mod config;
mod daemon;
pub mod elf;
pub mod error;
mod layer;
mod load;
mod merge;
mod ocidir;
pub mod progress;
mod registry;
mod select;
pub mod source;
mod storage;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;
pub mod vfs;

pub use cache::LayerCache;
pub use config::ImageConfig;
pub use daemon::{
    DEFAULT_DOCKER_HOST, Endpoint, EndpointOrigin, EngineEnv, connect as connect_daemon,
    docker_host, is_unreachable, resolve_endpoint,
};
pub use elf::ElfSummary;
pub use error::ImageError;
pub use importgate_registry::{ClientOptions as RegistryOptions, RegistryError, Secret};
pub use load::{LoadOptions, Loaded, identify, load, load_from};
pub use progress::{Progress, ProgressSink, Step, Unit};
pub use registry::Pulled;
pub use source::{Platform, Source, parse_source};
pub use storage::SourceMode;
pub use vfs::{FileData, FileType, Meta, NewNode, NodeId, NodeKind, Stat, Vfs, VfsError};

/// A loaded image: its config and its merged filesystem.
#[derive(Debug, Clone)]
pub struct Image {
    /// The reference or path the user gave, as they gave it.
    pub reference: String,
    /// The image id (`sha256:` of the config), when known.
    pub id: Option<String>,
    pub config: ImageConfig,
    pub fs: Vfs,
    /// One entry per layer, oldest first.
    pub layers: Vec<LayerInfo>,
    /// Problems met while merging that did not stop it (an escaping member name, a hardlink to
    /// a missing target), for the report.
    pub warnings: Vec<String>,
    /// Diff ids still being hashed when the image was handed over ([`LoadOptions`]'s
    /// `defer_digests`): [`Image::verify`] waits for them and compares.
    pub pending: load::PendingDigests,
}

impl Image {
    /// Waits for the diff ids still being hashed and compares each with the config's: an image
    /// checked while its layers were hashed is reported only once this says they are its own.
    pub fn verify(&self) -> Result<(), ImageError> {
        self.pending.verify()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// `sha256:` of the uncompressed layer tar when known, else of the stored blob.
    pub digest: String,
    /// The Dockerfile step that made it, from the config history, when known.
    pub created_by: Option<String>,
    pub entries: u64,
}

/// Decides, from a member's path (absolute, inside the image) and size alone, what of its
/// contents is kept in memory. Everything else is indexed by metadata only. Any
/// `Fn(&str, u64) -> Keep` is one.
pub trait CapturePolicy: Send + Sync {
    fn keep(&self, path: &str, size: u64) -> Keep;

    /// Hears of every file kept whole as its layer is read, before the image is merged: work
    /// on the contents can start while later layers still stream (a later layer may replace
    /// or delete the file, so whatever is made of it must be checked against the merged tree's
    /// contents before use).
    fn kept(&self, _path: &str, _contents: &std::sync::Arc<[u8]>) {}
}

impl<F: Fn(&str, u64) -> Keep + Send + Sync> CapturePolicy for F {
    fn keep(&self, path: &str, size: u64) -> Keep {
        self(path, size)
    }
}

/// What the loaders hold a capture policy as.
pub type Capture = dyn CapturePolicy;

/// What the loader keeps of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Metadata only.
    Nothing,
    /// The whole contents (up to the per-member cap).
    Contents,
    /// If the file is ELF, an [`ElfSummary`] parsed while the member streams past; the bytes
    /// are dropped at once, so every shared object of a large image can be inspected cheaply.
    ElfSummary,
    /// The whole member is read for its [`ElfSummary`] with the `PyInit_*` functions it
    /// defines ([`ElfSummary::parse_with_exports`]), then dropped (libpython).
    ElfExports,
}

impl From<bool> for Keep {
    fn from(keep: bool) -> Self {
        if keep { Keep::Contents } else { Keep::Nothing }
    }
}
