//! Where credentials come from, in the docker CLI's order: explicit ones given on the command
//! line, then `config.json`'s `credHelpers` for the host, its `credsStore`, then its `auths`
//! entry; none means an anonymous pull. Each credential remembers its source so a refusal can
//! say what was tried, and the secret is kept in a type that never prints.

use std::collections::HashMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde::Deserialize;

use crate::error::RegistryError;

/// A password or token. `Debug` and `Display` print `***`, so a secret cannot reach a log line
/// or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where a credential was found; named in 401/403 errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// `--registry-username` / `--registry-password-stdin`.
    CommandLine,
    /// `auths` in a docker `config.json`.
    ConfigFile(PathBuf),
    /// `docker-credential-NAME get`.
    Helper(String),
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::CommandLine => {
                f.write_str("--registry-username/--registry-password-stdin")
            }
            CredentialSource::ConfigFile(p) => write!(f, "`auths` in {}", p.display()),
            CredentialSource::Helper(h) => write!(f, "credential helper docker-credential-{h}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Credential {
    pub username: String,
    pub secret: Secret,
    /// A `config.json` identity token (an OAuth2 refresh token) rather than a password.
    pub identity_token: bool,
    pub source: CredentialSource,
}

#[derive(Debug, Deserialize, Default)]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(rename = "credsStore", default)]
    creds_store: Option<String>,
    #[serde(rename = "credHelpers", default)]
    cred_helpers: HashMap<String, String>,
}

#[derive(Debug, Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(rename = "identitytoken", default)]
    identity_token: Option<String>,
}

/// The docker CLI's configuration directory: `$DOCKER_CONFIG`, else `~/.docker`.
pub fn docker_config_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker"))
}

/// `auths` keys are written by different tools as a bare host, `https://host`, `http://host`
/// or with a `/v1/` or `/v2/` path; the docker CLI matches them all.
fn host_of_key(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

fn key_matches(stored: &str, wanted: &str) -> bool {
    stored == wanted || host_of_key(stored) == host_of_key(wanted)
}

/// Finds the credential for `key` (a registry host, or Docker Hub's
/// `https://index.docker.io/v1/`) in `config_dir/config.json`.
pub(crate) fn from_docker_config(
    config_dir: &Path,
    key: &str,
) -> Result<Option<Credential>, RegistryError> {
    let path = config_dir.join("config.json");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(RegistryError::Credentials {
                key: key.to_string(),
                source_name: path.display().to_string(),
                problem: format!("cannot read it: {e}"),
            });
        }
    };
    let config: DockerConfig =
        serde_json::from_slice(&bytes).map_err(|e| RegistryError::Credentials {
            key: key.to_string(),
            source_name: path.display().to_string(),
            problem: format!("not valid JSON: {e}"),
        })?;
    let helper = config
        .cred_helpers
        .iter()
        .find(|(k, _)| key_matches(k, key))
        .map(|(_, h)| h.clone())
        .or(config.creds_store.clone())
        .filter(|h| !h.is_empty());
    if let Some(helper) = helper {
        if let Some(c) = run_helper(&helper, key)? {
            return Ok(Some(c));
        }
        tracing::debug!("docker-credential-{helper} has no credentials for {key}");
    }
    let entry = config
        .auths
        .iter()
        .find(|(k, _)| k.as_str() == key)
        .or_else(|| config.auths.iter().find(|(k, _)| key_matches(k, key)));
    let Some((_, entry)) = entry else {
        return Ok(None);
    };
    let source = CredentialSource::ConfigFile(path.clone());
    if let Some(token) = entry.identity_token.as_ref().filter(|t| !t.is_empty()) {
        return Ok(Some(Credential {
            username: entry.username.clone().unwrap_or_default(),
            secret: Secret::new(token.clone()),
            identity_token: true,
            source,
        }));
    }
    if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
        return Ok(Some(Credential {
            username: u.clone(),
            secret: Secret::new(p.clone()),
            identity_token: false,
            source,
        }));
    }
    let Some(auth) = entry.auth.as_ref().filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    let bad = |problem: &str| RegistryError::Credentials {
        key: key.to_string(),
        source_name: path.display().to_string(),
        problem: problem.to_string(),
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|_| bad("its `auth` is not base64"))?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad("its `auth` is not UTF-8"))?;
    let (u, p) = decoded
        .split_once(':')
        .ok_or_else(|| bad("its `auth` is not USER:PASSWORD"))?;
    Ok(Some(Credential {
        username: u.to_string(),
        secret: Secret::new(p.to_string()),
        identity_token: false,
        source,
    }))
}

#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Runs `docker-credential-NAME get` with the server on stdin, as the docker CLI does. "Not
/// found" answers are no credential; any other failure is an error naming the helper (its
/// stderr's first line, never its stdout, which may hold a secret).
fn run_helper(name: &str, key: &str) -> Result<Option<Credential>, RegistryError> {
    let program = format!("docker-credential-{name}");
    let fail = |problem: String| RegistryError::Credentials {
        key: key.to_string(),
        source_name: program.clone(),
        problem,
    };
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run it: {e}")))?;
    if let Some(mut stdin) = child.stdin.take()
        && let Err(e) = stdin.write_all(key.as_bytes())
    {
        // A helper that answers without reading the server name closes stdin early.
        tracing::debug!("{program}: server name not read ({e})");
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("cannot run it: {e}")))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if said.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        let line = String::from_utf8_lossy(&out.stderr)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        return Err(fail(format!("it failed ({}) {line}", out.status)));
    }
    let answer: HelperAnswer = serde_json::from_slice(&out.stdout)
        .map_err(|_| fail("its answer is not the JSON a credential helper writes".into()))?;
    if answer.secret.is_empty() {
        return Ok(None);
    }
    let identity_token = answer.username == "<token>";
    Ok(Some(Credential {
        username: answer.username,
        secret: Secret::new(answer.secret),
        identity_token,
        source: CredentialSource::Helper(name.to_string()),
    }))
}

/// A `Basic` Authorization header value.
pub(crate) fn basic_header(c: &Credential) -> String {
    let raw = format!("{}:{}", c.username, c.secret.expose());
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auths_are_found_by_host_in_any_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        std::fs::write(
            dir.path().join("config.json"),
            format!(r#"{{"auths":{{"https://reg.example.com/v2/":{{"auth":"{auth}"}}}}}}"#),
        )
        .unwrap();
        let c = from_docker_config(dir.path(), "reg.example.com")
            .unwrap()
            .unwrap();
        assert_eq!(c.username, "alice");
        assert_eq!(c.secret.expose(), "s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(matches!(c.source, CredentialSource::ConfigFile(_)));
        assert!(
            from_docker_config(dir.path(), "other.example.com")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_missing_config_is_anonymous_and_a_broken_one_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(from_docker_config(dir.path(), "h").unwrap().is_none());
        std::fs::write(dir.path().join("config.json"), "{").unwrap();
        let e = from_docker_config(dir.path(), "h").unwrap_err().to_string();
        assert!(e.contains("config.json"), "{e}");
    }
}
