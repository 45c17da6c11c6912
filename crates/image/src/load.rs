//! The public entry: dispatching a [`Source`] to its reader and turning the selected image into
//! an [`Image`] (config, layer list, merged tree).

use std::fs::File;
use std::io::BufReader;
use std::sync::Arc;

use crate::archive::collect_seekable;
use crate::error::ImageError;
use crate::layer::UndecodableBlob;
use crate::merge::apply_layer;
use crate::ocidir::OciDir;
use crate::progress::{Counting, ProgressSink, Unit};
use crate::select::{BlobSource, ParsedConfig, check_blob, parse_config, select};
use crate::source::{Platform, Source};
use crate::{Capture, Image, LayerInfo, Pulled, RegistryOptions, Vfs};

/// How to load: which platform to pick from multi-platform images and which file contents to
/// keep in memory.
#[derive(Clone)]
pub struct LoadOptions {
    pub platform: Platform,
    pub capture: Arc<Capture>,
    /// Told the bytes read and the layers merged; silent by default.
    pub progress: ProgressSink,
    /// For images held by the engine: its storage, its export, or whichever works.
    pub source_mode: crate::SourceMode,
    /// Layer indexes kept between runs ([`crate::cache`]); `None` reads every layer.
    pub cache: Option<Arc<crate::LayerCache>>,
    /// Hand the image over before the diff ids of layers read in place are hashed, so that the
    /// check runs while they are; the caller must then call [`Image::verify`] before trusting
    /// anything it found.
    pub defer_digests: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            platform: Platform::default(),
            capture: Arc::new(|_: &str, _: u64| crate::Keep::Nothing),
            progress: ProgressSink::default(),
            source_mode: crate::SourceMode::default(),
            cache: None,
            defer_digests: false,
        }
    }
}

impl std::fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadOptions")
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}

/// An image and, when it came from a registry, what exactly was read.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub image: Image,
    pub pulled: Option<Pulled>,
}

/// [`load`] with registry options (credentials, CA, insecure hosts) and the registry's answer
/// (manifest digest, platform), which a release pipeline pins.
pub async fn load_from(
    source: &Source,
    opts: &LoadOptions,
    registry: &RegistryOptions,
) -> Result<Loaded, ImageError> {
    if let Source::Registry { reference } = source {
        let (image, pulled) = crate::registry::load_registry(reference, opts, registry).await?;
        return Ok(Loaded {
            image,
            pulled: Some(pulled),
        });
    }
    Ok(Loaded {
        image: load(source, opts).await?,
        pulled: None,
    })
}

/// Loads an image from any source. File sources are read on a blocking thread; the daemon and
/// registries are streamed without touching the disk (registries with the docker CLI's
/// credentials; [`load_from`] takes explicit ones).
pub async fn load(source: &Source, opts: &LoadOptions) -> Result<Image, ImageError> {
    match source {
        Source::Daemon { reference } => crate::daemon::load_daemon(reference, opts).await,
        Source::Registry { reference } => {
            crate::registry::load_registry(reference, opts, &RegistryOptions::default())
                .await
                .map(|(image, _)| image)
        }
        other => {
            let source = other.clone();
            let opts = opts.clone();
            let name = source.describe();
            tokio::task::spawn_blocking(move || load_file(&source, &opts))
                .await
                .map_err(|source| ImageError::Task {
                    archive: name,
                    source,
                })?
        }
    }
}

/// What names an image's contents without reading its layers, for results kept between runs:
/// the engine's image id (the digest of its config, which names every layer), an archive file
/// by where it is on disk and when it was last written (path, device, inode, size, mtime), an
/// OCI layout by its `index.json` (the rest is content-addressed). `None` where only loading
/// can tell: a registry, a path that cannot be read, an engine that does not answer.
pub async fn identify(source: &Source) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    match source {
        Source::Daemon { reference } => {
            let docker = crate::daemon::connect().await.ok()?;
            let inspect = docker.inspect_image(reference).await.ok()?;
            inspect.id.map(|id| format!("daemon\0{id}"))
        }
        Source::DockerArchive { path, reference } | Source::OciArchive { path, reference } => {
            let canon = std::fs::canonicalize(path).ok()?;
            let m = std::fs::metadata(&canon).ok()?;
            m.is_file().then(|| {
                format!(
                    "file\0{}\0{}\0{}\0{}\0{}.{}\0{}",
                    canon.display(),
                    m.dev(),
                    m.ino(),
                    m.len(),
                    m.mtime(),
                    m.mtime_nsec(),
                    reference.as_deref().unwrap_or("")
                )
            })
        }
        Source::OciDir { path, reference } => {
            let canon = std::fs::canonicalize(path).ok()?;
            let index = std::fs::read(canon.join("index.json")).ok()?;
            Some(format!(
                "oci-dir\0{}\0{}\0{}",
                canon.display(),
                sha256_hex(&index),
                reference.as_deref().unwrap_or("")
            ))
        }
        Source::Registry { .. } => None,
    }
}

/// Synchronous loading of the file-based sources.
pub(crate) fn load_file(source: &Source, opts: &LoadOptions) -> Result<Image, ImageError> {
    match source {
        Source::Daemon { reference } | Source::Registry { reference } => {
            Err(ImageError::ImageNotFound {
                reference: reference.clone(),
            })
        }
        Source::OciDir { path, reference } => {
            let dir = OciDir::open(path)?.with_cache(opts.cache.clone());
            let sel = select(&dir, reference.as_deref(), &opts.platform)?;
            assemble(source.describe(), &dir, sel, None, opts)
        }
        Source::DockerArchive { path, reference } | Source::OciArchive { path, reference } => {
            if !path.exists() {
                return Err(ImageError::PathNotFound { path: path.clone() });
            }
            let file = File::open(path).map_err(|e| ImageError::Io {
                path: path.clone(),
                source: e,
            })?;
            let size = file.metadata().ok().map(|m| m.len());
            // Layers stored uncompressed are read in place through a second handle.
            let in_place = file.try_clone().map_err(|e| ImageError::Io {
                path: path.clone(),
                source: e,
            })?;
            let step =
                opts.progress
                    .step(format!("reading {}", source.describe()), Unit::Bytes, size);
            let counted = Counting {
                inner: file,
                step: &step,
            };
            // The outer tar is read header by header, each layer seeked over (its bytes are
            // read in place): a seek drops the buffer, so a large one is refilled in vain per
            // member.
            let mut store = collect_seekable(
                BufReader::with_capacity(OUTER_BUFFER, counted),
                &in_place,
                &source.describe(),
                &opts.capture,
                opts.cache.as_ref(),
            )?;
            drop(step);
            let sel = select(&store, reference.as_deref(), &opts.platform)?;
            // Layers of the other images were indexed on speculation (see `archive`); free them
            // before the merge.
            store.retain_layers(&sel.layers);
            assemble(source.describe(), &store, sel, None, opts)
        }
    }
}

/// What the daemon knows better than the archive: the id and the config it inspected.
pub(crate) struct Inspected {
    pub id: Option<String>,
    pub config: ParsedConfig,
}

pub(crate) fn assemble(
    reference: String,
    src: &dyn BlobSource,
    sel: crate::select::Selection,
    inspected: Option<Inspected>,
    opts: &LoadOptions,
) -> Result<Image, ImageError> {
    let archive = src.name().to_string();
    let mut parsed = parse_config(&archive, &sel.config_member, &sel.config)?;
    let id = match inspected {
        Some(i) => {
            // History lives only in the archive's config; the rest comes from the engine.
            let created_by = std::mem::take(&mut parsed.created_by);
            parsed = i.config;
            if parsed.created_by.is_empty() {
                parsed.created_by = created_by;
            }
            i.id
        }
        None => Some(format!("sha256:{}", sha256_hex(&sel.config))),
    };
    if parsed.diff_ids.len() != sel.layers.len() {
        return Err(ImageError::LayerCountMismatch {
            archive,
            layers: sel.layers.len(),
            diff_ids: parsed.diff_ids.len(),
        });
    }
    let step = opts.progress.step(
        format!("merging the layers of {reference}"),
        Unit::Layers,
        Some(sel.layers.len() as u64),
    );
    let indexes = src.layers(&sel.layers, &opts.capture);
    let mut pending = Vec::new();
    let mut fs = Vfs::new();
    let mut warnings = sel.warnings;
    let mut layers = Vec::with_capacity(indexes.len());
    for (n, result) in indexes.into_iter().enumerate() {
        let digest = parsed.diff_ids[n].clone();
        let want = sel.layer_blobs.get(n).and_then(Option::as_ref);
        let index = match result {
            Ok(index) => index,
            Err(source) => {
                // Undecodable, and not the blob the manifest names: the mismatch is the news.
                if let Some(want) = want
                    && want.digest.starts_with("sha256:")
                    && let Some(stored) = source
                        .get_ref()
                        .and_then(|e| e.downcast_ref::<UndecodableBlob>())
                {
                    check_blob(&archive, &sel.layers[n], want, &stored.digest, stored.len)?;
                }
                return Err(ImageError::Layer {
                    archive,
                    member: sel.layers[n].clone(),
                    digest,
                    source,
                });
            }
        };
        // The stored blob first: a layer that is not what its manifest names is refused before
        // anything is made of its contents. Streams are hashed as sha256 only.
        if let Some(want) = want
            && let Some((actual, size)) = &index.blob
        {
            if want.digest.starts_with("sha256:") {
                check_blob(&archive, &sel.layers[n], want, actual, *size)?;
            } else {
                tracing::debug!("{archive}: cannot verify `{}`; not sha256", want.digest);
            }
        }
        if index.diff_id.is_none()
            && let Some(hash) = src.pending_hash(&sel.layers[n])
        {
            let deferred = Deferred {
                archive: archive.clone(),
                member: sel.layers[n].clone(),
                expected: digest.clone(),
                hash,
            };
            if opts.defer_digests {
                pending.push(deferred);
            } else {
                deferred.verify()?;
            }
        }
        if let Some(actual) = &index.diff_id
            && digest.starts_with("sha256:")
            && *actual != digest
        {
            return Err(ImageError::DiffIdMismatch {
                archive,
                member: sel.layers[n].clone(),
                expected: digest,
                actual: actual.clone(),
            });
        }
        // Verified (blob digest and diff id, or the engine's word for it): worth keeping for
        // the next run.
        if let Some(cache) = &opts.cache {
            match src.attested_len(&sel.layers[n]) {
                Some(len) if index.diff_id.is_none() && digest.starts_with("sha256:") => {
                    cache.put_attested(&index, &digest, len)
                }
                _ => cache.put(&index),
            }
        }
        apply_layer(&mut fs, &index, n as u32, &mut warnings);
        step.advance(1);
        layers.push(LayerInfo {
            digest,
            created_by: parsed.created_by.get(n).cloned().flatten(),
            entries: index.members,
        });
    }
    tracing::debug!(
        "{reference}: {} layers merged into {} nodes, {} warnings",
        layers.len(),
        fs.node_count(),
        warnings.len()
    );
    Ok(Image {
        reference,
        id,
        config: parsed.config,
        fs,
        layers,
        warnings,
        pending: PendingDigests::new(pending),
    })
}

/// A layer's diff id being hashed on a worker (a layer indexed in place,
/// [`crate::layer::index_tar_in_place`]); every reader of the same member waits for the same
/// result.
/// The read size of an archive file's own tar: its headers and small metadata members.
const OUTER_BUFFER: usize = 64 << 10;

#[derive(Debug)]
pub(crate) struct PendingHash {
    rx: std::sync::Mutex<Option<std::sync::mpsc::Receiver<std::io::Result<String>>>>,
    done: std::sync::OnceLock<Result<String, String>>,
}

impl PendingHash {
    pub(crate) fn new(rx: std::sync::mpsc::Receiver<std::io::Result<String>>) -> Self {
        PendingHash {
            rx: std::sync::Mutex::new(Some(rx)),
            done: std::sync::OnceLock::new(),
        }
    }

    /// The hash, received once: `OnceLock` runs one initialiser and makes every other caller
    /// wait for its result.
    pub(crate) fn wait(&self) -> Result<String, String> {
        self.done
            .get_or_init(|| {
                let rx = self.rx.lock().ok().and_then(|mut rx| rx.take());
                match rx.map(|rx| rx.recv()) {
                    Some(Ok(hashed)) => hashed.map_err(|e| e.to_string()),
                    _ => Err("the layer's hash was lost".to_string()),
                }
            })
            .clone()
    }
}

/// One layer whose diff id is checked later.
#[derive(Debug)]
struct Deferred {
    archive: String,
    member: String,
    expected: String,
    hash: Arc<PendingHash>,
}

impl Deferred {
    fn verify(&self) -> Result<(), ImageError> {
        let actual = self.hash.wait().map_err(|e| ImageError::Layer {
            archive: self.archive.clone(),
            member: self.member.clone(),
            digest: self.expected.clone(),
            source: std::io::Error::other(e),
        })?;
        if self.expected.starts_with("sha256:") && actual != self.expected {
            return Err(ImageError::DiffIdMismatch {
                archive: self.archive.clone(),
                member: self.member.clone(),
                expected: self.expected.clone(),
                actual,
            });
        }
        Ok(())
    }
}

/// What an image was handed over without ([`LoadOptions::defer_digests`]): diff ids still
/// being hashed, and the end of the engine's export stream.
#[derive(Debug, Clone, Default)]
pub struct PendingDigests {
    digests: Arc<Vec<Deferred>>,
    /// The stream's outcome, taken by the first [`PendingDigests::verify`].
    stream: Option<Arc<std::sync::Mutex<Option<StreamEnd>>>>,
}

type StreamEnd = std::sync::mpsc::Receiver<Result<(), ImageError>>;

impl PendingDigests {
    fn new(digests: Vec<Deferred>) -> Self {
        PendingDigests {
            digests: Arc::new(digests),
            stream: None,
        }
    }

    /// Also waits for `end`, the outcome of the stream the image was read from.
    pub(crate) fn wait_for_stream(&mut self, end: StreamEnd) {
        self.stream = Some(Arc::new(std::sync::Mutex::new(Some(end))));
    }

    /// The stream's error first (it explains a bad layer better than the layer's hash does),
    /// then each diff id.
    pub(crate) fn verify(&self) -> Result<(), ImageError> {
        let end = self
            .stream
            .as_ref()
            .and_then(|s| s.lock().ok().and_then(|mut s| s.take()));
        if let Some(end) = end {
            // A sender gone without a word is a runtime shut down: nothing was said.
            end.recv().unwrap_or(Ok(()))?;
        }
        self.digests.iter().try_for_each(Deferred::verify)
    }
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
