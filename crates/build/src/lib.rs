//! Building an image from a build context through the Docker Engine (`POST /build`, the classic
//! builder the Docker CLI uses with `DOCKER_BUILDKIT=0`), and putting the checker's findings
//! back into the user's files afterwards.
//!
//! - [`build`] sends the context tar made by `importgate_context::BuildContext::write_tar` and
//!   turns the engine's JSON message stream into typed [`BuildEvent`]s (a step starts, a line of
//!   output, the image id) and, when the build stops, a [`BuildError`] that names the failing
//!   step and carries the collected log.
//! - [`relocate`] maps every finding's image path to its context path with
//!   `importgate_context::PathMap` and explains modules that exist in the context but not in the
//!   image (dropped by `.dockerignore`, or copied by no `COPY`).

mod events;
mod relocate;

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::query_parameters::{BuildImageOptionsBuilder, TagImageOptions};
use bytes::Bytes;
use futures_util::StreamExt;

pub use events::{BuildEvent, StepHeader};
pub use relocate::relocate;

use events::LineSplitter;

/// A build can run `pip install` for minutes; bollard's default (two minutes until the response
/// headers, then per read) would cut it off.
const BUILD_TIMEOUT_SECS: u64 = 3600;

/// Writes the context tar into the request body. It runs on a blocking thread while the engine
/// reads, so a large context streams through a few chunks of memory instead of being held whole
/// (the Docker CLI streams it the same way).
pub type ContextWriter = Box<dyn FnOnce(&mut dyn Write) -> io::Result<()> + Send>;

/// What to build.
pub struct BuildRequest {
    /// Writes the context as a tar, exactly as the Docker CLI would send it.
    pub context: ContextWriter,
    /// The Dockerfile's name inside the tar.
    pub dockerfile: String,
    /// `--target`: the stage to stop at.
    pub target: Option<String>,
    /// `--build-arg K=V`, in the order given (a later value for the same key wins).
    pub build_args: Vec<(String, String)>,
    /// Names to give the image; empty leaves it untagged (as `docker build` without `-t`).
    pub tags: Vec<String>,
    /// `--platform os/arch[/variant]` to build for; `None` sends none, so the engine builds for
    /// its own platform (as `docker build` without `--platform`).
    pub platform: Option<String>,
}

/// A finished build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// `sha256:…` of the image config.
    pub image_id: String,
    /// The tags applied.
    pub tags: Vec<String>,
    /// Every line the engine printed, in order.
    pub log: Vec<String>,
}

/// Why a build did not produce an image. Each message is one line; the log of a failed build
/// is carried separately so the caller decides whether and where to print it.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(
        "cannot reach the docker engine at {host} (start it, or pick another with DOCKER_HOST, DOCKER_CONTEXT or `docker context use`)"
    )]
    DaemonUnreachable {
        host: String,
        #[source]
        source: BollardError,
    },
    #[error(transparent)]
    Connect(importgate_image::ImageError),
    #[error("build failed at step {}/{} ({}): {message}", step.number, step.total, step.instruction)]
    StepFailed {
        step: StepHeader,
        message: String,
        log: Vec<String>,
    },
    #[error("build failed at step {}/{} ({}): base image `{image}` is not available: {message}", step.number, step.total, step.instruction)]
    BaseImageMissing {
        step: StepHeader,
        image: String,
        message: String,
        log: Vec<String>,
    },
    /// The engine refused the build before any step ran (an unknown instruction, a Dockerfile
    /// missing from the context, an unknown `--target`).
    #[error("the docker engine refused the build: {message}")]
    Refused { message: String, log: Vec<String> },
    /// The context could not be read while it was being sent.
    #[error("cannot send the build context")]
    Context(#[source] io::Error),
    #[error("the build finished but the engine reported no image id")]
    NoImageId { log: Vec<String> },
    #[error("cannot tag the built image {image_id} as `{tag}`")]
    Tag {
        image_id: String,
        tag: String,
        #[source]
        source: BollardError,
    },
}

impl BuildError {
    /// The engine's output up to the failure, for the user to read what the step printed.
    pub fn log(&self) -> &[String] {
        match self {
            BuildError::StepFailed { log, .. }
            | BuildError::BaseImageMissing { log, .. }
            | BuildError::Refused { log, .. }
            | BuildError::NoImageId { log } => log,
            _ => &[],
        }
    }
}

/// Connects to the engine the image loader uses (`DOCKER_HOST`, else the docker context, else
/// the local socket).
pub async fn connect() -> Result<Docker, BuildError> {
    importgate_image::connect_daemon()
        .await
        .map_err(|e| match e {
            importgate_image::ImageError::DaemonUnreachable { host, source } => {
                BuildError::DaemonUnreachable { host, source }
            }
            other => BuildError::Connect(other),
        })
}

/// Builds the image, calling `on_event` for every step, output line and the image id as they
/// arrive, and tags it with every tag of the request.
pub async fn build(
    docker: &Docker,
    request: BuildRequest,
    on_event: &mut dyn FnMut(&BuildEvent),
) -> Result<Built, BuildError> {
    let docker = docker
        .clone()
        .with_timeout(Duration::from_secs(BUILD_TIMEOUT_SECS));
    let args: HashMap<String, String> = request.build_args.iter().cloned().collect();
    let mut options = BuildImageOptionsBuilder::default()
        .dockerfile(&request.dockerfile)
        .rm(true)
        // No stopped containers left behind by a failing RUN.
        .forcerm(true)
        .buildargs(&args);
    if let Some(target) = &request.target {
        options = options.target(target);
    }
    if let Some(platform) = &request.platform {
        options = options.platform(platform);
    }
    if let Some(tag) = request.tags.first() {
        options = options.t(tag);
    }
    let (chunks, writer) = context_body(request.context);
    let body = bollard::body_try_stream(chunks);
    let mut stream = Box::pin(docker.build_image(options.build(), None, Some(body)));

    let mut state = State::default();
    let mut lines = LineSplitter::default();
    let mut failure = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(text) = &info.stream {
                    for line in lines.push(text) {
                        state.line(line, on_event);
                    }
                }
                if let Some(status) = &info.status {
                    let line = match &info.id {
                        Some(id) if !id.is_empty() => format!("{id}: {status}"),
                        _ => status.clone(),
                    };
                    state.log.push(line.clone());
                    on_event(&BuildEvent::Output(line));
                }
                if let Some(id) = info.aux.and_then(|a| a.id) {
                    on_event(&BuildEvent::ImageId(id.clone()));
                    state.image_id = Some(id);
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    // Dropping the request ends the body, so a writer still blocked on it returns.
    drop(stream);
    if let Some(line) = lines.finish() {
        state.line(line, on_event);
    }
    // A context that could not be read explains a failure better than the broken request it
    // caused; the engine hanging up early is not a read error.
    match writer.await {
        Ok(Err(read)) if read.kind() != io::ErrorKind::BrokenPipe => {
            return Err(BuildError::Context(read));
        }
        Ok(_) => {}
        Err(join) => return Err(BuildError::Context(io::Error::other(join.to_string()))),
    }
    if let Some(e) = failure {
        return Err(state.failure(e));
    }
    let Some(image_id) = state.image_id.or(state.short_id) else {
        return Err(BuildError::NoImageId { log: state.log });
    };
    for tag in request.tags.iter().skip(1) {
        let (repo, tag_part) = split_tag(tag);
        let options = TagImageOptions {
            repo: Some(repo.to_string()),
            tag: tag_part.map(str::to_string),
        };
        docker
            .tag_image(&image_id, Some(options))
            .await
            .map_err(|source| BuildError::Tag {
                image_id: image_id.clone(),
                tag: tag.clone(),
                source,
            })?;
    }
    Ok(Built {
        image_id,
        tags: request.tags,
        log: state.log,
    })
}

/// Chunks handed from the tar writer to the HTTP body; a few in flight bound the memory used.
const CHUNK: usize = 256 << 10;
const CHUNKS_IN_FLIGHT: usize = 4;

/// The chunks of the request body, fed by `write` on a blocking thread, and that thread's
/// outcome.
fn context_body(
    write: ContextWriter,
) -> (
    impl futures_util::Stream<Item = io::Result<Bytes>> + Send + 'static,
    tokio::task::JoinHandle<io::Result<()>>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(CHUNKS_IN_FLIGHT);
    let writer = tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let result = write(&mut out).and_then(|()| out.flush());
        if let Err(e) = &result {
            // Ends the body with an error so the engine does not build a truncated context.
            let _ = tx.blocking_send(Err(io::Error::new(e.kind(), e.to_string())));
        }
        result
    });
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    (chunks, writer)
}

struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the engine stopped reading"))
    }
}

/// `registry:5000/app:1.2` → (`registry:5000/app`, `1.2`); the tag is after the last `:` that
/// follows the last `/`.
fn split_tag(reference: &str) -> (&str, Option<&str>) {
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[slash..].rfind(':') {
        Some(i) => (&reference[..slash + i], Some(&reference[slash + i + 1..])),
        None => (reference, None),
    }
}

/// What the stream has said so far.
#[derive(Default)]
struct State {
    log: Vec<String>,
    step: Option<StepHeader>,
    image_id: Option<String>,
    /// From `Successfully built abc123`, for an engine that sends no `aux` message.
    short_id: Option<String>,
}

impl State {
    fn line(&mut self, line: String, on_event: &mut dyn FnMut(&BuildEvent)) {
        if let Some(step) = StepHeader::parse(&line) {
            self.step = Some(step.clone());
            self.log.push(line);
            on_event(&BuildEvent::Step(step));
            return;
        }
        if let Some(id) = line.strip_prefix("Successfully built ") {
            self.short_id = Some(id.trim().to_string());
        }
        self.log.push(line.clone());
        on_event(&BuildEvent::Output(line));
    }

    fn failure(self, e: BollardError) -> BuildError {
        if importgate_image::is_unreachable(&e) {
            return BuildError::DaemonUnreachable {
                host: importgate_image::docker_host(),
                source: e,
            };
        }
        let message = match e {
            BollardError::DockerStreamError { error } => error,
            BollardError::DockerResponseServerError { message, .. } => message,
            other => other.to_string(),
        };
        let message = message.trim().replace('\n', " ");
        match self.step {
            Some(step) => match from_image(&step.instruction) {
                Some(image) => BuildError::BaseImageMissing {
                    image: image.to_string(),
                    step,
                    message,
                    log: self.log,
                },
                None => BuildError::StepFailed {
                    step,
                    message,
                    log: self.log,
                },
            },
            None => BuildError::Refused {
                message,
                log: self.log,
            },
        }
    }
}

/// The image a `FROM` step names (after its `--platform` flag), or `None` for another
/// instruction: a failing `FROM` means the engine could neither find nor pull the base.
fn from_image(instruction: &str) -> Option<&str> {
    let mut words = instruction.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("FROM") {
        return None;
    }
    words.find(|w| !w.starts_with("--"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_after_the_last_slash() {
        assert_eq!(split_tag("app:1.2"), ("app", Some("1.2")));
        assert_eq!(split_tag("app"), ("app", None));
        assert_eq!(
            split_tag("registry:5000/team/app:v1"),
            ("registry:5000/team/app", Some("v1"))
        );
        assert_eq!(split_tag("registry:5000/app"), ("registry:5000/app", None));
    }

    #[test]
    fn from_names_the_base_image() {
        assert_eq!(from_image("FROM python:3.12 AS base"), Some("python:3.12"));
        assert_eq!(
            from_image("FROM --platform=linux/amd64 python:3.12"),
            Some("python:3.12")
        );
        assert_eq!(from_image("RUN false"), None);
    }

    fn failing(step: Option<&str>, e: BollardError) -> BuildError {
        let mut state = State::default();
        if let Some(line) = step {
            state.line(line.to_string(), &mut |_| {});
        }
        state.failure(e)
    }

    #[test]
    fn a_failing_run_names_its_step() {
        let e = failing(
            Some("Step 4/6 : RUN false"),
            BollardError::DockerStreamError {
                error: "The command '/bin/sh -c false' returned a non-zero code: 1".into(),
            },
        );
        assert_eq!(
            e.to_string(),
            "build failed at step 4/6 (RUN false): The command '/bin/sh -c false' returned a non-zero code: 1"
        );
        assert_eq!(e.log(), ["Step 4/6 : RUN false"]);
    }

    #[test]
    fn a_failing_from_is_a_missing_base_image() {
        let e = failing(
            Some("Step 1/3 : FROM nosuch/base:1"),
            BollardError::DockerStreamError {
                error: "pull access denied for nosuch/base".into(),
            },
        );
        assert!(
            matches!(&e, BuildError::BaseImageMissing { image, .. } if image == "nosuch/base:1"),
            "{e:?}"
        );
    }

    #[test]
    fn a_refusal_before_any_step_is_not_a_step_failure() {
        let e = failing(
            None,
            BollardError::DockerResponseServerError {
                status_code: 400,
                message: "dockerfile parse error line 2: unknown instruction: FOO\n".into(),
            },
        );
        assert_eq!(
            e.to_string(),
            "the docker engine refused the build: dockerfile parse error line 2: unknown instruction: FOO"
        );
    }
}
