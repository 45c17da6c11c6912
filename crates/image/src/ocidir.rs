//! An OCI image layout on disk. Only paths derived from validated digests (and the fixed
//! `index.json`/`oci-layout` names) are ever opened, so a hostile index cannot point outside the
//! layout; only the selected layers are opened, indexed in parallel, their stored digests taken
//! in the same pass.

use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::Capture;
use crate::cache::LayerCache;
use crate::error::ImageError;
use crate::layer::{LayerIndex, index_stored};
use crate::select::{BlobSource, MAX_SMALL};
use crate::source::read_small_file;

pub(crate) struct OciDir {
    root: PathBuf,
    name: String,
    cache: Option<Arc<LayerCache>>,
}

impl OciDir {
    pub(crate) fn open(root: &Path) -> Result<Self, ImageError> {
        if !root.exists() {
            return Err(ImageError::PathNotFound {
                path: root.to_path_buf(),
            });
        }
        let name = root.display().to_string();
        if !root.join("index.json").is_file() {
            return Err(ImageError::MissingMember {
                archive: name,
                member: "index.json".into(),
            });
        }
        Ok(OciDir {
            root: root.to_path_buf(),
            name,
            cache: None,
        })
    }

    /// Layers found in `cache` (by their blob digest) are not opened.
    pub(crate) fn with_cache(mut self, cache: Option<Arc<LayerCache>>) -> Self {
        self.cache = cache;
        self
    }

    /// Maps a layout path to a host path, accepting only the shapes a layout has.
    fn host_path(&self, path: &str) -> Option<PathBuf> {
        if matches!(path, "index.json" | "oci-layout") {
            return Some(self.root.join(path));
        }
        let mut parts = path.split('/');
        let (Some("blobs"), Some(alg), Some(hex), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let alg_ok = alg.starts_with(|c: char| c.is_ascii_alphanumeric())
            && alg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+._-".contains(c));
        let hex_ok = !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
        (alg_ok && hex_ok).then(|| self.root.join("blobs").join(alg).join(hex))
    }
}

impl BlobSource for OciDir {
    fn name(&self) -> &str {
        &self.name
    }

    fn small(&self, path: &str) -> Result<Option<Vec<u8>>, ImageError> {
        let Some(host) = self.host_path(path) else {
            return Ok(None);
        };
        if !host.is_file() {
            return Ok(None);
        }
        read_small_file(&host, MAX_SMALL).map(Some)
    }

    fn exists(&self, path: &str) -> bool {
        self.host_path(path).is_some_and(|p| p.is_file())
    }

    fn layers(
        &self,
        paths: &[String],
        capture: &Arc<Capture>,
    ) -> Vec<Result<Arc<LayerIndex>, io::Error>> {
        paths
            .par_iter()
            .map(|p| {
                let digest = p.strip_prefix("blobs/").map(|d| d.replacen('/', ":", 1));
                if let Some(index) = self.cache.as_ref().zip(digest).and_then(|(c, d)| c.get(&d)) {
                    return Ok(index);
                }
                let host = self.host_path(p).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "not a blob path")
                })?;
                let file = std::fs::File::open(host)?;
                index_stored(BufReader::with_capacity(256 << 10, file), &**capture).map(Arc::new)
            })
            .collect()
    }
}
