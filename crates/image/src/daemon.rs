//! Reading an image from a Docker Engine: `inspect` for the config, then the `export` stream
//! parsed as it arrives (bounded channel into a blocking tar reader), never spooled.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::archive::collect_export;
use crate::error::ImageError;
use crate::load::{Inspected, LoadOptions, assemble};
use crate::select::{ParsedConfig, platform_warning, select};
use crate::source::Platform;
use crate::storage::{self, SourceMode};
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
    /// The last chunks read, at least [`TAIL`] bytes of them when the stream had that many:
    /// shared with the stream's buffers, never copied until a trailer is looked for.
    tail: std::collections::VecDeque<Bytes>,
    tail_len: usize,
}

impl ChannelReader {
    fn new(rx: mpsc::Receiver<io::Result<Bytes>>) -> Self {
        ChannelReader {
            rx,
            cur: Bytes::new(),
            tail: std::collections::VecDeque::new(),
            tail_len: 0,
        }
    }

    fn remember(&mut self, data: Bytes) {
        self.tail_len += data.len();
        self.tail.push_back(data);
        while let Some(front) = self.tail.front()
            && self.tail_len - front.len() >= TAIL
        {
            self.tail_len -= front.len();
            self.tail.pop_front();
        }
    }

    /// Reads what is left of the stream (bounded) and returns the daemon's trailing error, if
    /// the stream ends with one.
    fn trailing_error(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.cur);
        self.remember(rest);
        let mut drained = 0;
        while drained < DRAIN_LIMIT {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => {
                    drained += chunk.len();
                    self.remember(chunk);
                }
                _ => break,
            }
        }
        let tail: Vec<u8> = self.tail.iter().flat_map(|b| b.iter().copied()).collect();
        find_error_detail(&tail)
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
        self.remember(chunk);
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

/// The engine address when neither `DOCKER_HOST` nor a docker context names one.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";
/// The context name that means "no context": `DOCKER_HOST`, else the default socket.
const DEFAULT_CONTEXT: &str = "default";

/// What selects the engine, read as the Docker CLI reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineEnv {
    /// `DOCKER_HOST` (empty counts as unset).
    pub docker_host: Option<String>,
    /// `DOCKER_CONTEXT` (empty counts as unset).
    pub docker_context: Option<String>,
    /// `DOCKER_CONFIG`, else `~/.docker`: holds `config.json` and the context store.
    pub config_dir: PathBuf,
}

impl EngineEnv {
    /// The process environment.
    pub fn from_process() -> EngineEnv {
        let var = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
        let config_dir = match std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => std::env::home_dir().unwrap_or_default().join(".docker"),
        };
        EngineEnv {
            docker_host: var("DOCKER_HOST"),
            docker_context: var("DOCKER_CONTEXT"),
            config_dir,
        }
    }
}

/// The engine to talk to and what chose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `unix:///…`, `tcp://…` or `http://…`.
    pub host: String,
    pub origin: EndpointOrigin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointOrigin {
    /// Nothing configured (or the context `default`): the local socket.
    Default,
    /// `DOCKER_HOST`.
    DockerHost,
    /// A docker context.
    Context {
        name: String,
        /// `DOCKER_CONTEXT`, or `currentContext in PATH`.
        selected_by: String,
        /// Its `meta.json`.
        meta: PathBuf,
    },
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.origin {
            EndpointOrigin::Default => write!(f, "{}", self.host),
            EndpointOrigin::DockerHost => write!(f, "{} (DOCKER_HOST)", self.host),
            EndpointOrigin::Context {
                name,
                selected_by,
                meta,
            } => write!(
                f,
                "{} (docker context `{name}` from {selected_by}, {})",
                self.host,
                meta.display()
            ),
        }
    }
}

/// Resolves the engine as the Docker CLI does: `DOCKER_HOST` wins; else the context
/// `DOCKER_CONTEXT` names; else the `currentContext` of `config.json`; the context `default` (or
/// none) is the local socket. A named context is read from the context store,
/// `contexts/meta/<sha256 of the name>/meta.json`, endpoint `docker`.
pub fn resolve_endpoint(env: &EngineEnv) -> Result<Endpoint, ImageError> {
    let default = || Endpoint {
        host: DEFAULT_DOCKER_HOST.to_string(),
        origin: EndpointOrigin::Default,
    };
    if let Some(host) = &env.docker_host {
        return Ok(Endpoint {
            host: host.clone(),
            origin: EndpointOrigin::DockerHost,
        });
    }
    let (name, selected_by) = match &env.docker_context {
        Some(name) => (name.clone(), "DOCKER_CONTEXT".to_string()),
        None => match current_context(&env.config_dir)? {
            Some((name, config)) => (name, format!("currentContext in {}", config.display())),
            None => return Ok(default()),
        },
    };
    if name == DEFAULT_CONTEXT {
        return Ok(default());
    }
    let host = context_host(&env.config_dir, &name, &selected_by)?;
    Ok(match host {
        Some(host) => Endpoint {
            host,
            origin: EndpointOrigin::Context {
                meta: context_meta_path(&env.config_dir, &name),
                name,
                selected_by,
            },
        },
        // An endpoint without a host: the client's default, the local socket.
        None => default(),
    })
}

/// The directory name of a context in the store: the hex SHA-256 of its name.
fn context_id(name: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn context_meta_path(config_dir: &Path, name: &str) -> PathBuf {
    config_dir
        .join("contexts/meta")
        .join(context_id(name))
        .join("meta.json")
}

/// A field of a JSON object matched as Go's `encoding/json` matches struct fields: the exact
/// name, else any case.
fn go_field<'a>(value: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    let object = value.as_object()?;
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// `currentContext` of `config.json` when set and not empty, with the file's path. A missing file
/// is an empty configuration.
fn current_context(config_dir: &Path) -> Result<Option<(String, PathBuf)>, ImageError> {
    let path = config_dir.join("config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ImageError::DockerConfig {
                path,
                problem: format!("cannot be read: {e}"),
            });
        }
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let config: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| ImageError::DockerConfig {
            path: path.clone(),
            problem: format!("is not valid JSON: {e}"),
        })?;
    if !config.is_object() {
        return Err(ImageError::DockerConfig {
            path,
            problem: "is not a JSON object".to_string(),
        });
    }
    match go_field(&config, "currentContext") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(name)) if name.is_empty() => Ok(None),
        Some(serde_json::Value::String(name)) => Ok(Some((name.clone(), path))),
        Some(_) => Err(ImageError::DockerConfig {
            path,
            problem: "has a `currentContext` that is not a string".to_string(),
        }),
    }
}

/// The docker endpoint's host of a named context (`None`: the endpoint names none), refusing
/// what this client cannot connect to.
fn context_host(
    config_dir: &Path,
    name: &str,
    selected_by: &str,
) -> Result<Option<String>, ImageError> {
    let meta = context_meta_path(config_dir, name);
    let problem = |path: &Path, problem: String| ImageError::Context {
        name: name.to_string(),
        selected_by: selected_by.to_string(),
        path: path.to_path_buf(),
        problem,
    };
    let text = match std::fs::read(&meta) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ImageError::ContextNotFound {
                name: name.to_string(),
                selected_by: selected_by.to_string(),
                meta,
            });
        }
        Err(e) => return Err(problem(&meta, format!("cannot read the metadata: {e}"))),
    };
    let value: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| problem(&meta, format!("the metadata is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(problem(
            &meta,
            "the metadata is not a JSON object".to_string(),
        ));
    }
    // Endpoint names are map keys (exact); their fields are struct fields (any case).
    let endpoint = go_field(&value, "Endpoints")
        .and_then(|e| e.as_object())
        .and_then(|e| e.get("docker"))
        .filter(|e| !e.is_null());
    let Some(endpoint) = endpoint else {
        return Err(problem(&meta, "it has no docker endpoint".to_string()));
    };
    if !endpoint.is_object() {
        return Err(problem(
            &meta,
            "its docker endpoint is not a JSON object".to_string(),
        ));
    }
    let host = match go_field(endpoint, "Host") {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(host)) => host.clone(),
        Some(_) => {
            return Err(problem(
                &meta,
                "its docker endpoint's `Host` is not a string".to_string(),
            ));
        }
    };
    let skip_tls_verify = match go_field(endpoint, "SkipTLSVerify") {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(_) => {
            return Err(problem(
                &meta,
                "its docker endpoint's `SkipTLSVerify` is not a boolean".to_string(),
            ));
        }
    };
    if host.is_empty() {
        return Ok(None);
    }
    let scheme = host.split_once("://").map_or("", |(scheme, _)| scheme);
    match scheme {
        "unix" => Ok(Some(host)),
        "tcp" | "http" | "https" => {
            // The Docker CLI speaks TLS to a non-socket host when the context has TLS material
            // for the endpoint or skips verification.
            let tls_dir = config_dir
                .join("contexts/tls")
                .join(context_id(name))
                .join("docker");
            let unsupported = |why: String| {
                problem(
                    &meta,
                    format!(
                        "{host} uses TLS ({why}), which importgate does not support; use a context \
                         with a unix:// or plain tcp:// host, or set DOCKER_HOST"
                    ),
                )
            };
            if tls_dir.is_dir() {
                Err(unsupported(format!("material in {}", tls_dir.display())))
            } else if skip_tls_verify {
                Err(unsupported("SkipTLSVerify".to_string()))
            } else if scheme == "https" {
                Err(unsupported("https://".to_string()))
            } else {
                Ok(Some(host))
            }
        }
        _ => Err(problem(
            &meta,
            format!(
                "importgate cannot connect to {host} (it supports unix:// sockets and plain \
                 tcp:// or http:// hosts); set DOCKER_HOST to such an address"
            ),
        )),
    }
}

/// The engine address as the user configured it (and what configured it), for error messages.
pub fn docker_host() -> String {
    let env = EngineEnv::from_process();
    match resolve_endpoint(&env) {
        Ok(endpoint) => endpoint.to_string(),
        Err(_) => env
            .docker_host
            .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_string()),
    }
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

/// Connects to the engine the Docker CLI would use ([`resolve_endpoint`]: `DOCKER_HOST`, the
/// docker context, else the local socket) and negotiates the API version, so every caller
/// (loading, building) reaches the same engine the same way.
pub async fn connect() -> Result<Docker, ImageError> {
    let endpoint = resolve_endpoint(&EngineEnv::from_process())?;
    let unreachable = |source| ImageError::DaemonUnreachable {
        host: endpoint.to_string(),
        source,
    };
    let docker = Docker::connect_with_host(&endpoint.host).map_err(unreachable)?;
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
    if opts.source_mode != SourceMode::Export {
        let local = endpoint_is_local();
        let planned = match (&inspect.graph_driver, &inspect.id) {
            _ if !local => Err("the engine is not reached through a local socket".to_string()),
            (Some(graph), Some(id)) => storage::plan(
                &storage::GraphDriver {
                    name: &graph.name,
                    data: &graph.data,
                },
                id,
                &inspected.config.diff_ids,
            ),
            _ => Err("the engine reports no storage driver for the image".to_string()),
        };
        match planned {
            Ok(plan) => {
                let size = inspect.size.and_then(|s| u64::try_from(s).ok());
                return load_storage(reference, plan, size, opts).await;
            }
            Err(why) if opts.source_mode == SourceMode::Auto => {
                tracing::debug!("{reference}: reading the engine's export: {why}");
            }
            Err(why) => {
                return Err(ImageError::StorageUnusable {
                    reference: reference.to_string(),
                    why,
                });
            }
        }
    }
    // Export by id: the archive then holds exactly the inspected image, even if the tag moves.
    let target = inspect.id.unwrap_or_else(|| reference.to_string());
    let docker = docker.with_timeout(std::time::Duration::from_secs(EXPORT_TIMEOUT_SECS));

    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(CHANNEL_DEPTH);
    let capture = opts.capture.clone();
    let name = format!("docker-daemon:{reference}");
    let parse_name = name.clone();
    let cache = opts.cache.clone();
    // The archive is handed over as soon as its last member is read: the engine can take a
    // tenth of a second more to close the stream (it cleans up after the save), which the
    // merge and the check need not wait for. What the stream says in the end is waited for
    // with the layers' hashes ([`Image::verify`]).
    let (archive_tx, archive_rx) = tokio::sync::oneshot::channel();
    let parser = tokio::task::spawn_blocking(move || {
        let mut reader = ChannelReader::new(rx);
        let result = collect_export(&mut reader, &parse_name, &capture, cache.as_ref());
        // A receiver gone is a load given up on: nothing is left to hand over.
        let _ = archive_tx.send(result);
        reader.trailing_error()
    });

    // The export is about the image's size (its layers uncompressed, plus a few headers).
    let step = opts.progress.step(
        format!("reading {name} from the engine"),
        crate::progress::Unit::Bytes,
        inspect.size.and_then(|s| u64::try_from(s).ok()),
    );
    let forward = tokio::spawn(async move {
        let stream = docker.export_image(&target);
        let mut stream = std::pin::pin!(stream);
        let mut stream_error = None;
        while let Some(item) = stream.next().await {
            match item {
                Ok(chunk) => {
                    step.advance(chunk.len() as u64);
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
        stream_error
    });
    // The stream's own outcome: a transport error first, then an error the engine wrote at
    // its end, as they explain a broken archive better than the archive itself.
    let outcome = {
        let (reference, name) = (reference.to_string(), name.clone());
        async move {
            let task = |source| ImageError::Task {
                archive: name.clone(),
                source,
            };
            let stream_error = forward.await.map_err(task)?;
            let trailer = parser.await.map_err(task)?;
            if let Some(e) = stream_error {
                return Err(map_request_error(&reference, e));
            }
            if let Some(message) = trailer {
                return Err(ImageError::DaemonStream { reference, message });
            }
            Ok(())
        }
    };
    let store = match archive_rx.await {
        Ok(Ok(store)) => store,
        Ok(Err(error)) => {
            outcome.await?;
            return Err(error);
        }
        Err(_) => {
            // The parser is gone without an answer: its task says why.
            outcome.await?;
            return Err(ImageError::DaemonStream {
                reference: reference.to_string(),
                message: "the export ended before the archive did".to_string(),
            });
        }
    };
    let stream_end = if opts.defer_digests {
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        tokio::spawn(async move {
            // Nobody left to tell when the image was dropped unverified.
            let _ = done_tx.send(outcome.await);
        });
        Some(done_rx)
    } else {
        outcome.await?;
        None
    };
    let mut image = select_and_assemble(
        reference,
        store,
        inspected_platform,
        Some(inspected),
        opts,
        name,
    )
    .await?;
    if let Some(done) = stream_end {
        image.pending.wait_for_stream(done);
    }
    Ok(image)
}

/// The storage is read only where the engine's own paths are this machine's paths: an engine
/// reached over TCP (or SSH) keeps its storage on another host, whatever paths it reports.
fn endpoint_is_local() -> bool {
    resolve_endpoint(&EngineEnv::from_process()).is_ok_and(|e| e.host.starts_with("unix://"))
}

/// Reads the layers from the engine's storage directories (see [`storage`]); the merge, the
/// platform warning and the config are those of the export path.
async fn load_storage(
    reference: &str,
    plan: storage::StoragePlan,
    size: Option<u64>,
    opts: &LoadOptions,
) -> Result<Image, ImageError> {
    let name = format!("docker-daemon:{reference}");
    tracing::debug!(
        "{reference}: reading {} layers from the engine's {} storage",
        plan.layers.len(),
        plan.driver
    );
    let reference = reference.to_string();
    let opts = opts.clone();
    let task_name = name.clone();
    tokio::task::spawn_blocking(move || {
        let step = opts.progress.step(
            format!("reading {name} from the engine's storage"),
            crate::progress::Unit::Bytes,
            size,
        );
        let store = storage::StorageDirs::index(
            name,
            plan,
            &*opts.capture,
            &|n| step.advance(n),
            opts.cache.as_deref(),
        );
        drop(step);
        let mut sel = store.selection();
        sel.warnings
            .extend(platform_warning(&sel.config, &opts.platform));
        // Its indexes are in the cache already, under the storage's keys.
        let opts = LoadOptions {
            cache: None,
            ..opts
        };
        assemble(reference, &store, sel, None, &opts)
    })
    .await
    .map_err(|source| ImageError::Task {
        archive: task_name,
        source,
    })?
}

async fn select_and_assemble(
    reference: &str,
    store: crate::archive::ArchiveStore,
    inspected_platform: Option<Platform>,
    inspected: Option<Inspected>,
    opts: &LoadOptions,
    name: String,
) -> Result<Image, ImageError> {
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
        let members = sel.layers.clone();
        let image = assemble(reference, &store, sel, inspected, &opts)?;
        // Every layer is filed now under the diff id the engine's config names (the engine
        // verified its bytes against it as it wrote them): the next export can pass over them.
        if let Some(cache) = &opts.cache {
            for (member, layer) in members.iter().zip(&image.layers) {
                if let Ok(member) = store.resolve(member)
                    && let Some(v1) = crate::archive::v1_layer_member(&member)
                    && layer.digest.starts_with("sha256:")
                {
                    cache.put_export_alias(v1, &layer.digest);
                }
            }
        }
        Ok(image)
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

    /// A config dir as the Docker CLI lays it out.
    struct Store(tempfile::TempDir);

    impl Store {
        fn new() -> Store {
            Store(tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")))
        }

        fn dir(&self) -> PathBuf {
            self.0.path().to_path_buf()
        }

        fn write(&self, rel: &str, text: &str) {
            let path = self.0.path().join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir: {e}"));
            }
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }

        /// `docker context create NAME --docker host=HOST` writes this.
        fn context(&self, name: &str, host: &str) {
            self.meta(
                name,
                &format!(
                    r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#
                ),
            );
        }

        fn meta(&self, name: &str, json: &str) {
            self.write(
                &format!("contexts/meta/{}/meta.json", context_id(name)),
                json,
            );
        }

        fn current(&self, name: &str) {
            self.write("config.json", &format!(r#"{{"currentContext":"{name}"}}"#));
        }

        fn env(&self, host: Option<&str>, context: Option<&str>) -> EngineEnv {
            EngineEnv {
                docker_host: host.map(str::to_string),
                docker_context: context.map(str::to_string),
                config_dir: self.dir(),
            }
        }

        fn resolve(&self, host: Option<&str>, context: Option<&str>) -> Result<Endpoint, String> {
            resolve_endpoint(&self.env(host, context)).map_err(|e| e.to_string())
        }

        fn host(&self, host: Option<&str>, context: Option<&str>) -> String {
            match self.resolve(host, context) {
                Ok(endpoint) => endpoint.host,
                Err(e) => panic!("unexpected error: {e}"),
            }
        }

        fn error(&self, host: Option<&str>, context: Option<&str>) -> String {
            match self.resolve(host, context) {
                Ok(endpoint) => panic!("expected an error, got {endpoint:?}"),
                Err(e) => e,
            }
        }
    }

    #[test]
    fn context_ids_are_the_sha256_of_the_name() {
        // As in a real store: `docker context create local` writes to this directory.
        assert_eq!(
            context_id("local"),
            "25bf8e1a2393f1108d37029b3df5593236c755742ec93465bbafa9b290bddcf6"
        );
    }

    #[test]
    fn nothing_configured_is_the_default_socket() {
        let store = Store::new();
        let endpoint = resolve_endpoint(&store.env(None, None));
        assert!(
            matches!(&endpoint, Ok(Endpoint { host, origin: EndpointOrigin::Default }) if host == DEFAULT_DOCKER_HOST),
            "{endpoint:?}"
        );
        // A config without `currentContext` is the same.
        store.write("config.json", r#"{"auths":{}}"#);
        assert_eq!(store.host(None, None), DEFAULT_DOCKER_HOST);
    }

    #[test]
    fn docker_host_wins_over_every_context() {
        let store = Store::new();
        store.context("ctx", "unix:///ctx.sock");
        store.current("ctx");
        assert_eq!(
            store.host(Some("tcp://h:2375"), Some("ctx")),
            "tcp://h:2375"
        );
        // Even a context that does not exist is not read.
        assert_eq!(
            store.host(Some("tcp://h:2375"), Some("nosuch")),
            "tcp://h:2375"
        );
        let endpoint = resolve_endpoint(&store.env(Some("tcp://h:2375"), None));
        assert!(
            matches!(&endpoint, Ok(e) if e.to_string() == "tcp://h:2375 (DOCKER_HOST)"),
            "{endpoint:?}"
        );
    }

    #[test]
    fn docker_context_wins_over_the_current_context() {
        let store = Store::new();
        store.context("env-ctx", "unix:///env.sock");
        store.context("cfg-ctx", "unix:///cfg.sock");
        store.current("cfg-ctx");
        assert_eq!(store.host(None, Some("env-ctx")), "unix:///env.sock");
        assert_eq!(store.host(None, None), "unix:///cfg.sock");
        // `default` is the local socket, whatever the config says.
        assert_eq!(store.host(None, Some("default")), DEFAULT_DOCKER_HOST);
    }

    #[test]
    fn a_context_endpoint_names_the_context_and_its_file() {
        let store = Store::new();
        store.context("colima", "unix:///home/u/.colima/default/docker.sock");
        store.current("colima");
        let endpoint = resolve_endpoint(&store.env(None, None));
        let meta = store
            .dir()
            .join("contexts/meta")
            .join(context_id("colima"))
            .join("meta.json");
        let config = store.dir().join("config.json");
        match endpoint {
            Ok(endpoint) => {
                assert_eq!(
                    endpoint.origin,
                    EndpointOrigin::Context {
                        name: "colima".to_string(),
                        selected_by: format!("currentContext in {}", config.display()),
                        meta: meta.clone(),
                    }
                );
                assert_eq!(
                    endpoint.to_string(),
                    format!(
                        "unix:///home/u/.colima/default/docker.sock (docker context `colima` from currentContext in {}, {})",
                        config.display(),
                        meta.display()
                    )
                );
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn the_current_context_default_is_the_default_socket() {
        let store = Store::new();
        store.current("default");
        assert_eq!(store.host(None, None), DEFAULT_DOCKER_HOST);
        store.write("config.json", r#"{"currentContext":""}"#);
        assert_eq!(store.host(None, None), DEFAULT_DOCKER_HOST);
    }

    #[test]
    fn an_unknown_context_is_one_line_naming_it_and_the_file() {
        let store = Store::new();
        let meta = store
            .dir()
            .join("contexts/meta")
            .join(context_id("nosuch"))
            .join("meta.json");
        assert_eq!(
            store.error(None, Some("nosuch")),
            format!(
                "docker context `nosuch` not found (DOCKER_CONTEXT, {})",
                meta.display()
            )
        );
        store.current("nosuch");
        let config = store.dir().join("config.json");
        assert_eq!(
            store.error(None, None),
            format!(
                "docker context `nosuch` not found (currentContext in {}, {})",
                config.display(),
                meta.display()
            )
        );
    }

    #[test]
    fn go_matches_field_names_in_any_case() {
        let store = Store::new();
        store.meta(
            "lower",
            r#"{"name":"lower","endpoints":{"docker":{"host":"unix:///lower.sock"}}}"#,
        );
        assert_eq!(store.host(None, Some("lower")), "unix:///lower.sock");
        store.write("config.json", r#"{"CURRENTCONTEXT":"lower"}"#);
        assert_eq!(store.host(None, None), "unix:///lower.sock");
    }

    #[test]
    fn an_endpoint_without_a_host_is_the_default_socket() {
        let store = Store::new();
        store.meta("nohost", r#"{"Name":"nohost","Endpoints":{"docker":{}}}"#);
        assert_eq!(store.host(None, Some("nohost")), DEFAULT_DOCKER_HOST);
    }

    #[test]
    fn broken_metadata_is_one_line_naming_the_context_and_the_file() {
        let store = Store::new();
        store.meta("bad", "{not json");
        let e = store.error(None, Some("bad"));
        assert!(
            e.starts_with("docker context `bad` (DOCKER_CONTEXT, ")
                && e.contains(&context_id("bad"))
                && e.contains("meta.json): the metadata is not valid JSON"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
        store.meta("k8s", r#"{"Name":"k8s","Endpoints":{"kubernetes":{}}}"#);
        let e = store.error(None, Some("k8s"));
        assert!(e.ends_with("it has no docker endpoint"), "{e}");
        store.meta(
            "num",
            r#"{"Name":"num","Endpoints":{"docker":{"Host":2375}}}"#,
        );
        let e = store.error(None, Some("num"));
        assert!(e.contains("`Host` is not a string"), "{e}");
    }

    #[test]
    fn tls_contexts_are_refused_in_one_line() {
        let store = Store::new();
        store.context("plain", "tcp://10.0.0.2:2375");
        assert_eq!(store.host(None, Some("plain")), "tcp://10.0.0.2:2375");

        store.context("tls", "tcp://10.0.0.2:2376");
        store.write(
            &format!("contexts/tls/{}/docker/ca.pem", context_id("tls")),
            "-----BEGIN CERTIFICATE-----\n",
        );
        let e = store.error(None, Some("tls"));
        assert!(
            e.starts_with("docker context `tls` (DOCKER_CONTEXT, ")
                && e.contains("tcp://10.0.0.2:2376 uses TLS (material in ")
                && e.contains("which importgate does not support"),
            "{e}"
        );

        store.meta(
            "insecure",
            r#"{"Name":"insecure","Endpoints":{"docker":{"Host":"tcp://h:2376","SkipTLSVerify":true}}}"#,
        );
        let e = store.error(None, Some("insecure"));
        assert!(e.contains("uses TLS (SkipTLSVerify)"), "{e}");

        // A socket never uses TLS, whatever the store holds.
        store.meta(
            "sock",
            r#"{"Name":"sock","Endpoints":{"docker":{"Host":"unix:///s.sock","SkipTLSVerify":true}}}"#,
        );
        store.write(
            &format!("contexts/tls/{}/docker/ca.pem", context_id("sock")),
            "x",
        );
        assert_eq!(store.host(None, Some("sock")), "unix:///s.sock");
    }

    #[test]
    fn unsupported_schemes_are_refused_in_one_line() {
        let store = Store::new();
        store.context("remote", "ssh://me@host");
        let e = store.error(None, Some("remote"));
        assert!(
            e.starts_with("docker context `remote` (DOCKER_CONTEXT, ")
                && e.contains("importgate cannot connect to ssh://me@host"),
            "{e}"
        );
    }

    #[test]
    fn a_broken_config_is_one_line_naming_the_file() {
        let store = Store::new();
        store.write("config.json", "{oops");
        let config = store.dir().join("config.json");
        let e = store.error(None, None);
        assert!(
            e.starts_with(&format!(
                "docker config `{}` is not valid JSON",
                config.display()
            )),
            "{e}"
        );
        // Not read when DOCKER_CONTEXT or DOCKER_HOST decide.
        store.context("ctx", "unix:///ctx.sock");
        assert_eq!(store.host(None, Some("ctx")), "unix:///ctx.sock");
        // An empty file is an empty configuration.
        store.write("config.json", "");
        assert_eq!(store.host(None, None), DEFAULT_DOCKER_HOST);
    }
}
