//! Reports kept between runs: an image whose contents and options are those of a run before
//! gets that run's report back without a layer being read, so a gate that runs twice on the
//! same image (a retried CI job, a release re-verified) answers at once.
//!
//! The key names the image by what [`importgate_image::identify`] can tell without loading it
//! (the engine's image id, an archive file's identity on disk, an OCI layout's index) and
//! every argument that shapes the report; the entry lives in the layer cache's directory under
//! the same salt (this binary), so another version never reads it. A registry image is always
//! read: only its manifest would tell whether it changed.

use std::sync::Arc;

use importgate_check::Report;
use importgate_image::{LayerCache, Source};
use sha2::{Digest, Sha256};

use crate::CheckArgs;

const KIND: &str = "results";

/// The key of this run's report, if the image can be named without loading it.
pub(crate) async fn key(
    args: &CheckArgs,
    name: &str,
    source: &Source,
    config: Option<&(String, String)>,
) -> Option<String> {
    let identity = importgate_image::identify(source).await?;
    let mut h = Sha256::new();
    let mut field = |label: &str, value: &str| {
        // Length-prefixed, so no two different argument lists hash alike.
        for part in [label, value] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
    };
    field("identity", &identity);
    field("name", name);
    field("platform", args.platform.as_deref().unwrap_or(""));
    field("source-mode", &format!("{:?}", args.source_mode));
    for (label, values) in [
        ("include", &args.include),
        ("exclude", &args.exclude),
        ("select", &args.select),
        ("ignore", &args.ignore),
        ("ignore-module", &args.ignore_module),
        ("severity", &args.severity),
    ] {
        field(label, &values.len().to_string());
        for v in values {
            field(label, v);
        }
    }
    if let Some((path, text)) = config {
        field("config", path);
        field("config-text", text);
    }
    Some(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The report stored under `key`, if an intact one is there.
pub(crate) fn get(cache: &Arc<LayerCache>, key: &str) -> Option<Report> {
    let body = cache.get_entry(KIND, key)?;
    match serde_json::from_slice(&body) {
        Ok(report) => {
            tracing::debug!("result cache: hit {key}");
            Some(report)
        }
        Err(error) => {
            tracing::debug!(%key, %error, "result cache: stored report unreadable");
            None
        }
    }
}

/// Stores this run's report under `key`.
pub(crate) fn put(cache: &Arc<LayerCache>, key: &str, report: &Report) {
    if let Ok(body) = serde_json::to_vec(report) {
        cache.put_entry(KIND, key, &body);
        tracing::debug!("result cache: stored {key}");
    }
}
