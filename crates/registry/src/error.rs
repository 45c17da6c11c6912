//! The errors of a registry conversation, each worded to stand alone on one line: which
//! registry, which repository or blob, and (for refusals) which credential source was tried.
//! No variant ever carries a secret.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid image reference `{reference}`: {reason}")]
    InvalidReference { reference: String, reason: String },
    #[error("unknown registry host `{host}`: {detail}")]
    UnknownHost { host: String, detail: String },
    #[error("cannot connect to registry `{host}`: {detail}")]
    Connect { host: String, detail: String },
    /// 401/403: the registry refused what was sent.
    #[error(
        "registry `{host}` refused access to `{repository}` ({status}); credentials tried: {tried}"
    )]
    Unauthorized {
        host: String,
        repository: String,
        status: u16,
        tried: String,
    },
    #[error("{what} not found in registry `{host}` (404)")]
    NotFound { host: String, what: String },
    #[error(
        "registry `{host}` is rate limiting requests (429){}",
        retry_after.map(|s| format!("; it asks to retry after {s} s, more than the {limit} s importgate waits")).unwrap_or_default()
    )]
    RateLimited {
        host: String,
        retry_after: Option<u64>,
        limit: u64,
    },
    #[error("registry `{host}` answered {status} for {what}")]
    Status {
        host: String,
        status: u16,
        what: String,
    },
    /// What arrived is not what the digest names: tampered with, or corrupted on the way.
    #[error(
        "{what} from registry `{host}` does not match its digest: received {actual} ({size} bytes), expected {expected}"
    )]
    DigestMismatch {
        host: String,
        what: String,
        expected: String,
        actual: String,
        size: u64,
    },
    #[error(
        "registry `{host}` closed the connection in the middle of {what} after {received}{} bytes{}",
        expected.map(|e| format!(" of {e}")).unwrap_or_default(),
        detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    Interrupted {
        host: String,
        what: String,
        received: u64,
        expected: Option<u64>,
        detail: Option<String>,
    },
    #[error("{what} from registry `{host}` is larger than {limit} bytes")]
    TooLarge {
        host: String,
        what: String,
        limit: u64,
    },
    #[error("{what} from registry `{host}` is not valid: {detail}")]
    Invalid {
        host: String,
        what: String,
        detail: String,
    },
    #[error("credentials for `{key}` from {source_name}: {problem}")]
    Credentials {
        key: String,
        source_name: String,
        problem: String,
    },
    #[error("CA certificate file `{}`: {problem}", path.display())]
    CaFile { path: PathBuf, problem: String },
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
}
