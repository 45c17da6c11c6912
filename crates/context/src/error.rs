//! The one error type of this crate.

use std::path::PathBuf;

/// What can go wrong reading a context or evaluating a Dockerfile; every message is one line
/// and names the file, or the Dockerfile line, it is about.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// A file or directory of the context could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The Dockerfile does not exist.
    #[error("cannot locate Dockerfile: {}", path.display())]
    NoDockerfile { path: PathBuf },
    /// The context root is not a directory.
    #[error("{}: the build context is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    /// A `.dockerignore` line is not a valid pattern.
    #[error("{}:{line}: invalid pattern `{pattern}`: {reason}", path.display())]
    BadPattern {
        path: PathBuf,
        line: usize,
        pattern: String,
        reason: String,
    },
    /// The Dockerfile does not parse, or an instruction cannot be evaluated.
    #[error("Dockerfile:{line}: {message}")]
    Dockerfile { line: usize, message: String },
    /// `--target` names no stage.
    #[error("target stage `{0}` could not be found")]
    UnknownTarget(String),
    /// Writing the context tar failed.
    #[error("writing the context tar: {0}")]
    Tar(#[source] std::io::Error),
}
