//! Reading an image straight from an OCI Distribution registry (`registry:HOST/REPO[:TAG|@DIGEST]`
//! or `docker://…`): the manifest (picked by platform from an index), the config, and the layers
//! fetched concurrently, each streamed through a bounded channel into the same blocking layer
//! indexer the archives use. Nothing is written to disk; every blob is checked against its
//! digest as it arrives (by `importgate-registry`) and again, as stored and as a diff id, by the
//! shared [`assemble`] step. The bytes fetched are reported as one progress step.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use importgate_registry::{Client, ClientOptions, Descriptor, Document, Reference, RegistryError};
use tokio::sync::mpsc;

use crate::error::ImageError;
use crate::layer::{LayerIndex, index_stored};
use crate::load::{LoadOptions, assemble};
use crate::progress::{StepGuard, Unit};
use crate::select::{BlobRef, BlobSource, Selection, blob_path};
use crate::{Capture, Image};

/// Layers downloaded at once: enough to fill a link and the decompressors of a small runner,
/// few enough not to trip registries' per-client limits.
const CONCURRENT_LAYERS: usize = 4;
/// Chunks in flight per layer between the HTTP body and its indexer (a few MiB at most).
const CHANNEL_DEPTH: usize = 32;

/// What was checked, as a pipeline pins it: the manifest digest and the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// `HOST/REPO`, Docker Hub names normalised (`docker.io/library/python`).
    pub repository: String,
    /// The tag asked for, if any.
    pub tag: Option<String>,
    /// Digest of the image manifest whose layers were read.
    pub manifest_digest: String,
    /// Digest of the index it was picked from, when the reference named an index.
    pub index_digest: Option<String>,
    /// `os/arch[/variant]` of the image read (from its config).
    pub platform: String,
    /// `http` or `https`.
    pub scheme: String,
}

impl Pulled {
    /// `HOST/REPO@DIGEST`: the reference that names exactly what was checked.
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.repository, self.manifest_digest)
    }
}

/// The layer indexes, fetched before the merge; `assemble` reads them as it reads an archive's.
struct Prefetched {
    name: String,
    layers: HashMap<String, Result<Arc<LayerIndex>, Arc<io::Error>>>,
}

impl BlobSource for Prefetched {
    fn name(&self) -> &str {
        &self.name
    }

    fn small(&self, _path: &str) -> Result<Option<Vec<u8>>, ImageError> {
        Ok(None)
    }

    fn exists(&self, path: &str) -> bool {
        self.layers.contains_key(path)
    }

    fn layers(
        &self,
        paths: &[String],
        _capture: &Arc<Capture>,
    ) -> Vec<Result<Arc<LayerIndex>, io::Error>> {
        paths
            .iter()
            .map(|p| match self.layers.get(p) {
                Some(Ok(index)) => Ok(index.clone()),
                Some(Err(e)) => Err(crate::layer::copy_error(e)),
                None => Err(io::Error::new(io::ErrorKind::NotFound, "layer not fetched")),
            })
            .collect()
    }
}

/// A blocking `Read` over the chunks a download task sends.
struct ChunkReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.cur = chunk,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur.split_to(n));
        Ok(n)
    }
}

fn invalid(client: &Client, what: &str, detail: String) -> ImageError {
    ImageError::Registry(RegistryError::Invalid {
        host: client.host().to_string(),
        what: what.to_string(),
        detail,
    })
}

fn parse_doc(client: &Client, what: &str, bytes: &[u8]) -> Result<Document, ImageError> {
    serde_json::from_slice(bytes).map_err(|e| invalid(client, what, e.to_string()))
}

/// Downloads one layer into the indexer. A failed download (connection lost, wrong digest) is
/// the error; a failed index is left to `assemble`, which tells a tampered blob from a broken
/// one.
async fn fetch_layer(
    client: Arc<Client>,
    d: Descriptor,
    capture: Arc<Capture>,
    step: &StepGuard,
) -> Result<Result<Arc<LayerIndex>, Arc<io::Error>>, ImageError> {
    let mut blob = client.blob(&d.digest, d.size).await?;
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(CHANNEL_DEPTH);
    let indexer = tokio::task::spawn_blocking(move || {
        index_stored(
            ChunkReader {
                rx,
                cur: Bytes::new(),
            },
            &*capture,
        )
    });
    let mut failed = None;
    loop {
        match blob.next_chunk().await {
            Ok(Some(chunk)) => {
                step.advance(chunk.len() as u64);
                if tx.send(Ok(chunk)).await.is_err() {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
                failed = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let result = indexer.await.map_err(|source| ImageError::Task {
        archive: d.digest.clone(),
        source,
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    tracing::debug!("{}: {} bytes indexed", d.digest, blob.received());
    Ok(result.map(Arc::new).map_err(Arc::new))
}

/// Loads `reference` from its registry.
pub(crate) async fn load_registry(
    given: &str,
    opts: &LoadOptions,
    client_opts: &ClientOptions,
) -> Result<(Image, Pulled), ImageError> {
    let reference = Reference::parse(given)?;
    let client = Arc::new(Client::connect(&reference, client_opts).await?);
    let name = reference.to_string();
    let top = client.manifest(reference.target(), None).await?;
    let doc = parse_doc(&client, "the manifest", &top.bytes)?;
    let mut warnings = Vec::new();
    let (manifest, index_digest) = if doc.is_index(&top.media_type) {
        let list = doc.manifests.unwrap_or_default();
        let mut available = Vec::new();
        let mut chosen = None;
        for d in list.iter().filter(|d| !d.is_attestation()) {
            let p = d.platform.clone().unwrap_or_default();
            if opts.platform.matches(
                p.os.as_deref(),
                p.architecture.as_deref(),
                p.variant.as_deref(),
            ) {
                chosen = Some(d);
                break;
            }
            available.push(p.show());
        }
        let Some(d) = chosen else {
            return Err(ImageError::NoMatchingPlatform {
                archive: name,
                platform: opts.platform.to_string(),
                available,
            });
        };
        tracing::debug!("{name}: {} picked for {}", d.digest, opts.platform);
        let m = client.manifest(&d.digest, d.size).await?;
        (m, Some(top.digest.clone()))
    } else {
        (top, None)
    };
    let doc = parse_doc(&client, "the image manifest", &manifest.bytes)?;
    if doc.is_index(&manifest.media_type) {
        return Err(invalid(
            &client,
            "the image manifest",
            "an index nested in an index is not supported".into(),
        ));
    }
    let Some(config_desc) = doc.config else {
        return Err(invalid(
            &client,
            "the image manifest",
            format!(
                "no config (schema {} manifests are not supported)",
                doc.schema_version.unwrap_or(0)
            ),
        ));
    };
    let config = client
        .blob_bytes(&config_desc.digest, config_desc.size)
        .await?;
    #[derive(serde::Deserialize, Default)]
    struct ConfigPlatform {
        #[serde(default)]
        os: Option<String>,
        #[serde(default)]
        architecture: Option<String>,
        #[serde(default)]
        variant: Option<String>,
    }
    let cp: ConfigPlatform = serde_json::from_slice(&config).unwrap_or_default();
    let platform = importgate_registry::Platform {
        os: cp.os.clone(),
        architecture: cp.architecture.clone(),
        variant: cp.variant.clone(),
    }
    .show();
    if !opts.platform.matches(
        cp.os.as_deref(),
        cp.architecture.as_deref(),
        cp.variant.as_deref(),
    ) {
        warnings.push(format!(
            "image platform {platform} differs from the requested {}; using it anyway",
            opts.platform
        ));
    }
    let descs = doc.layers.unwrap_or_default();
    let layers = descs
        .iter()
        .map(|l| blob_path(&name, &l.digest))
        .collect::<Result<Vec<_>, _>>()?;
    // The blobs as stored (compressed): what crosses the network, and what the manifest sizes.
    let total = descs.iter().map(|d| d.size).sum::<Option<u64>>();
    let step = opts.progress.step(
        format!(
            "fetching {} layer{} of registry:{name}",
            descs.len(),
            if descs.len() == 1 { "" } else { "s" }
        ),
        Unit::Bytes,
        total,
    );
    let indexes: Vec<_> = futures_util::stream::iter(descs.iter().cloned().map(|d| {
        // A layer an earlier run fetched and verified is not fetched again.
        let cached = opts.cache.as_ref().and_then(|c| c.get(&d.digest));
        if cached.is_some() {
            step.advance(d.size.unwrap_or(0));
        }
        let fetch = fetch_layer(client.clone(), d, opts.capture.clone(), &step);
        async move {
            match cached {
                Some(index) => Ok(Ok(index)),
                None => fetch.await,
            }
        }
    }))
    .buffered(CONCURRENT_LAYERS)
    .try_collect()
    .await?;
    drop(step);
    let store = Prefetched {
        name: name.clone(),
        layers: layers.iter().cloned().zip(indexes).collect(),
    };
    let sel = Selection {
        config_member: blob_path(&name, &config_desc.digest)?,
        config,
        layer_blobs: descs
            .iter()
            .map(|l| {
                Some(BlobRef {
                    digest: l.digest.clone(),
                    size: l.size,
                })
            })
            .collect(),
        layers,
        warnings,
    };
    let pulled = Pulled {
        repository: format!("{}/{}", reference.registry, reference.repository),
        tag: reference.tag.clone(),
        manifest_digest: manifest.digest,
        index_digest,
        platform,
        scheme: client.scheme().to_string(),
    };
    let opts = opts.clone();
    let given = given.to_string();
    let image = tokio::task::spawn_blocking(move || assemble(given, &store, sel, None, &opts))
        .await
        .map_err(|source| ImageError::Task {
            archive: name,
            source,
        })??;
    Ok((image, pulled))
}
