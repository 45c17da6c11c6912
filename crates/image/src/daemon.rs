//! Reading an image from a Docker Engine: `inspect` for the config, then the `export` stream
//! parsed as it arrives (bounded channel into a blocking tar reader), never spooled.

use std::io::{self, Read};

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::archive::collect;
use crate::error::ImageError;
use crate::load::{Inspected, LoadOptions, assemble};
use crate::select::{ParsedConfig, select};
use crate::source::Platform;
use crate::{Image, ImageConfig};

/// Chunks in flight between the HTTP stream and the parser; with the daemon's ~32 KiB chunks
/// this keeps about a megabyte buffered.
const CHANNEL_DEPTH: usize = 32;
/// How much of the stream's end is kept to look for the daemon's `{"errorDetail":…}` trailer.
const TAIL: usize = 64 << 10;
/// How much more is read after a failure to find that trailer.
const DRAIN_LIMIT: usize = 4 << 20;
/// The graphdriver exporter writes every layer to a temp dir before the first byte, and
/// bollard's timeout runs until the response headers arrive.
const EXPORT_TIMEOUT_SECS: u64 = 3600;

/// A blocking `Read` over the chunks of the export stream, remembering the last bytes read.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
    tail: Vec<u8>,
}

impl ChannelReader {
    fn remember(&mut self, data: &[u8]) {
        self.tail.extend_from_slice(data);
        if self.tail.len() > 2 * TAIL {
            let cut = self.tail.len() - TAIL;
            self.tail.drain(..cut);
        }
    }

    /// Reads what is left of the stream (bounded) and returns the daemon's trailing error, if
    /// the stream ends with one.
    fn trailing_error(&mut self) -> Option<String> {
        let rest = self.cur.clone();
        self.remember(&rest);
        self.cur = Bytes::new();
        let mut drained = 0;
        while drained < DRAIN_LIMIT {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => {
                    drained += chunk.len();
                    self.remember(&chunk);
                }
                _ => break,
            }
        }
        find_error_detail(&self.tail)
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.cur = chunk,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        let chunk = self.cur.split_to(n);
        buf[..n].copy_from_slice(&chunk);
        self.remember(&chunk);
        Ok(n)
    }
}

/// The daemon appends `streamformatter.FormatError(err)` to a tar it could not finish.
fn find_error_detail(tail: &[u8]) -> Option<String> {
    let needle = b"{\"errorDetail\"";
    let pos = tail.windows(needle.len()).rposition(|w| w == needle)?;
    let mut de =
        serde_json::Deserializer::from_slice(&tail[pos..]).into_iter::<serde_json::Value>();
    let value = de.next()?.ok()?;
    let message = value["errorDetail"]["message"]
        .as_str()
        .or_else(|| value["error"].as_str())
        .unwrap_or("unknown error");
    Some(message.to_string())
}

/// The engine address as the user configured it, for error messages.
pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string())
}

/// Whether a request failed because no engine answered (rather than the engine refusing it).
pub fn is_unreachable(e: &BollardError) -> bool {
    matches!(
        e,
        BollardError::SocketNotFoundError(_)
            | BollardError::HyperLegacyError { .. }
            | BollardError::IOError { .. }
            | BollardError::UnsupportedURISchemeError { .. }
            | BollardError::RequestTimeoutError
    )
}

fn map_request_error(reference: &str, e: BollardError) -> ImageError {
    match e {
        BollardError::DockerResponseServerError {
            status_code: 404, ..
        } => ImageError::ImageNotFound {
            reference: reference.to_string(),
        },
        e if is_unreachable(&e) => ImageError::DaemonUnreachable {
            host: docker_host(),
            source: e,
        },
        source => ImageError::Daemon {
            reference: reference.to_string(),
            source,
        },
    }
}

/// Connects to the engine `DOCKER_HOST` names (default: the local socket) and negotiates the
/// API version, so every caller (loading, building) reaches the same engine the same way.
pub async fn connect() -> Result<Docker, ImageError> {
    let unreachable = |source| ImageError::DaemonUnreachable {
        host: docker_host(),
        source,
    };
    let docker = Docker::connect_with_defaults().map_err(unreachable)?;
    docker.negotiate_version().await.map_err(unreachable)
}

pub(crate) async fn load_daemon(reference: &str, opts: &LoadOptions) -> Result<Image, ImageError> {
    let docker = connect().await?;
    let inspect = docker
        .inspect_image(reference)
        .await
        .map_err(|e| map_request_error(reference, e))?;
    let run = inspect.config.unwrap_or_default();
    let inspected_platform = match (&inspect.os, &inspect.architecture) {
        (Some(os), Some(arch)) if !os.is_empty() && !arch.is_empty() => Some(Platform {
            os: os.clone(),
            architecture: arch.clone(),
            variant: inspect.variant.clone(),
        }),
        _ => None,
    };
    let inspected = Inspected {
        id: inspect.id.clone(),
        config: ParsedConfig {
            config: ImageConfig {
                env: run.env.unwrap_or_default(),
                working_dir: run.working_dir.unwrap_or_default(),
                user: run.user.unwrap_or_default(),
                entrypoint: run.entrypoint,
                cmd: run.cmd,
                os: inspect.os.unwrap_or_default(),
                architecture: inspect.architecture.unwrap_or_default(),
                variant: inspect.variant,
            },
            diff_ids: inspect.root_fs.and_then(|r| r.layers).unwrap_or_default(),
            created_by: Vec::new(),
        },
    };
    // Export by id: the archive then holds exactly the inspected image, even if the tag moves.
    let target = inspect.id.unwrap_or_else(|| reference.to_string());
    let docker = docker.with_timeout(std::time::Duration::from_secs(EXPORT_TIMEOUT_SECS));
    let stream = docker.export_image(&target);

    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(CHANNEL_DEPTH);
    let capture = opts.capture.clone();
    let name = format!("docker-daemon:{reference}");
    let parse_name = name.clone();
    let parser = tokio::task::spawn_blocking(move || {
        let mut reader = ChannelReader {
            rx,
            cur: Bytes::new(),
            tail: Vec::new(),
        };
        let result = collect(&mut reader, &parse_name, &capture);
        let trailer = reader.trailing_error();
        (result, trailer)
    });

    let mut stream = std::pin::pin!(stream);
    let mut stream_error = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => {
                if tx.send(Ok(chunk)).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
                stream_error = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let (result, trailer) = parser.await.map_err(|source| ImageError::Task {
        archive: name.clone(),
        source,
    })?;
    if let Some(e) = stream_error {
        return Err(map_request_error(reference, e));
    }
    if let Some(message) = trailer {
        return Err(ImageError::DaemonStream {
            reference: reference.to_string(),
            message,
        });
    }
    let store = result?;
    let platform = opts.platform.clone();
    let opts = opts.clone();
    let reference = reference.to_string();
    tokio::task::spawn_blocking(move || {
        let sel = match select(&store, None, &platform) {
            // The engine holds the image for its own platform; say so rather than fail.
            Err(ImageError::NoMatchingPlatform { .. })
                if inspected_platform.as_ref().is_some_and(|p| *p != platform) =>
            {
                let found = inspected_platform.unwrap_or_default();
                let mut sel = select(&store, None, &found)?;
                sel.warnings.push(format!(
                    "the engine holds `{reference}` for {found}, not the requested {platform}"
                ));
                sel
            }
            other => other?,
        };
        assemble(reference, &store, sel, Some(inspected), &opts)
    })
    .await
    .map_err(|source| ImageError::Task {
        archive: name,
        source,
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_trailer_is_found() {
        let mut tail = vec![0u8; 100];
        tail.extend_from_slice(br#"{"errorDetail":{"message":"disk full"},"error":"disk full"}"#);
        assert_eq!(find_error_detail(&tail).as_deref(), Some("disk full"));
        assert_eq!(find_error_detail(b"no error here"), None);
    }
}
