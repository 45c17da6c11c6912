//! The HTTP side: choosing the scheme (HTTPS with the system roots and an optional extra CA;
//! plain HTTP only for loopback hosts and `--insecure-registry` ones, as dockerd allows), the
//! authentication challenge (`Basic`, or a `Bearer` token fetched from the realm with the pull
//! scope), bounded waiting on 429, and reading manifests and blobs with their digests checked.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER, WWW_AUTHENTICATE,
};
use sha2::Digest as _;
use tokio::sync::Mutex;

use crate::auth::{
    Credential, CredentialSource, Secret, basic_header, docker_config_dir, from_docker_config,
};
use crate::error::RegistryError;
use crate::manifest::MANIFEST_ACCEPT;
use crate::reference::Reference;

/// Manifests and configs are kilobytes; anything this large is not one.
const MAX_DOCUMENT: u64 = 16 << 20;
/// Requests answered 429 are retried this many times at most.
const MAX_RATE_LIMIT_RETRIES: u32 = 5;

/// How to reach registries; the defaults read credentials as the docker CLI does.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// `--registry-username` with the password read from stdin; wins over `config.json`.
    pub credential: Option<(String, Secret)>,
    /// The docker CLI's configuration directory; `None` means `$DOCKER_CONFIG` or `~/.docker`.
    pub docker_config: Option<PathBuf>,
    /// A PEM file of extra CA certificates trusted besides the system roots.
    pub ca_file: Option<PathBuf>,
    /// Hosts (`host` or `host:port`) reached without certificate checks, or over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// The longest total wait on `Retry-After` before a 429 becomes an error.
    pub max_retry_wait: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            credential: None,
            docker_config: None,
            ca_file: None,
            insecure_registries: Vec::new(),
            max_retry_wait: Duration::from_secs(60),
        }
    }
}

/// What a `Bearer` or `Basic` challenge asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Challenge {
    None,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

#[derive(Debug, Default)]
struct AuthState {
    /// `Authorization` value to send, once known.
    header: Option<String>,
}

/// A connection to one repository of one registry.
pub struct Client {
    http: reqwest::Client,
    base: String,
    host: String,
    repository: String,
    credential: Option<Credential>,
    state: Mutex<AuthState>,
    challenge: Mutex<Challenge>,
    max_retry_wait: Duration,
}

/// A manifest or index read whole, with its digest.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: String,
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The messages of an error's causes, without reqwest's URL-bearing top line when there is a
/// more precise one below it.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = c.source();
    }
    if parts.is_empty() {
        parts.push(e.to_string());
    }
    parts.join(": ")
}

enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn for_digest(digest: &str) -> Option<Hasher> {
        match digest.split_once(':')?.0 {
            "sha256" => Some(Hasher::Sha256(sha2::Sha256::new())),
            "sha512" => Some(Hasher::Sha512(sha2::Sha512::new())),
            _ => None,
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    fn finish(self) -> String {
        let (alg, bytes) = match self {
            Hasher::Sha256(h) => ("sha256", h.finalize().to_vec()),
            Hasher::Sha512(h) => ("sha512", h.finalize().to_vec()),
        };
        let mut s = String::with_capacity(alg.len() + 1 + 2 * bytes.len());
        s.push_str(alg);
        s.push(':');
        for b in bytes {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

/// Splits `Bearer realm="…",service="…",scope="repository:a:pull,push"`; values may be quoted
/// and quoted values may hold commas.
fn parse_challenge(value: &str) -> Challenge {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Challenge::Basic;
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Challenge::None;
    }
    let mut params = std::collections::HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if key.is_empty() || chars.next() != Some('=') {
            break;
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            val.push(n);
                        }
                    }
                    '"' => break,
                    c => val.push(c),
                }
            }
        } else {
            val = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect();
        }
        params.insert(key.trim().to_ascii_lowercase(), val);
    }
    match params.remove("realm") {
        Some(realm) => Challenge::Bearer {
            realm,
            service: params.remove("service"),
            scope: params.remove("scope"),
        },
        None => Challenge::None,
    }
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

impl Client {
    /// Finds the credential, picks the scheme and reads the registry's challenge from `/v2/`.
    pub async fn connect(
        reference: &Reference,
        opts: &ClientOptions,
    ) -> Result<Client, RegistryError> {
        let host = reference.api_host().to_string();
        let credential = match &opts.credential {
            Some((user, secret)) => Some(Credential {
                username: user.clone(),
                secret: secret.clone(),
                identity_token: false,
                source: CredentialSource::CommandLine,
            }),
            None => match opts.docker_config.clone().or_else(docker_config_dir) {
                Some(dir) => from_docker_config(&dir, reference.auth_key())?,
                None => None,
            },
        };
        match &credential {
            Some(c) => tracing::debug!("{host}: credentials from {}", c.source),
            None => tracing::debug!("{host}: no credentials; anonymous"),
        }
        let name = reference.hostname();
        let insecure = opts
            .insecure_registries
            .iter()
            .any(|h| h == &host || h == name || h == &reference.registry);
        let plain_allowed = insecure || is_loopback(name);
        let http = build_http(opts, insecure)?;
        let mut client = Client {
            http,
            base: format!("https://{host}"),
            host: host.clone(),
            repository: reference.repository.clone(),
            credential,
            state: Mutex::new(AuthState::default()),
            challenge: Mutex::new(Challenge::None),
            max_retry_wait: opts.max_retry_wait,
        };
        let https_err = match client.ping().await {
            Ok(()) => return Ok(client),
            Err(e) => e,
        };
        if !plain_allowed || !matches!(https_err, RegistryError::Connect { .. }) {
            return Err(https_err);
        }
        tracing::debug!("{host}: HTTPS failed ({https_err}); trying plain HTTP");
        client.base = format!("http://{host}");
        match client.ping().await {
            Ok(()) => Ok(client),
            // A TLS server answers plain HTTP with 400; the HTTPS failure is the news.
            Err(_) => Err(https_err),
        }
    }

    async fn ping(&self) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", self.base);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| self.request_error(&e))?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::UNAUTHORIZED => {
                *self.challenge.lock().await = challenge_of(resp.headers());
                Ok(())
            }
            s => Err(RegistryError::Status {
                host: self.host.clone(),
                status: s.as_u16(),
                what: "the API version check (/v2/)".into(),
            }),
        }
    }

    /// The registry host requests go to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `http` or `https`, as chosen by [`Client::connect`].
    pub fn scheme(&self) -> &str {
        self.base.split(':').next().unwrap_or("https")
    }

    fn request_error(&self, e: &reqwest::Error) -> RegistryError {
        let detail = causes(e);
        let lower = detail.to_ascii_lowercase();
        if lower.contains("dns error")
            || lower.contains("failed to lookup address")
            || lower.contains("name or service not known")
        {
            return RegistryError::UnknownHost {
                host: self.host.clone(),
                detail,
            };
        }
        RegistryError::Connect {
            host: self.host.clone(),
            detail,
        }
    }

    fn tried(&self, bearer: bool) -> String {
        match &self.credential {
            Some(c) => c.source.to_string(),
            None if bearer => "none (anonymous token)".into(),
            None => "none (anonymous)".into(),
        }
    }

    /// Fetches a bearer token for the challenge, with the credential if there is one.
    async fn token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<String, RegistryError> {
        let mut query: Vec<(&str, &str)> = vec![("scope", scope)];
        if let Some(s) = service {
            query.push(("service", s));
        }
        let req = match &self.credential {
            Some(c) if c.identity_token => {
                let mut form = query.clone();
                form.extend([
                    ("grant_type", "refresh_token"),
                    ("refresh_token", c.secret.expose()),
                    ("client_id", "importgate"),
                ]);
                self.http.post(realm).form(&form)
            }
            Some(c) => self
                .http
                .get(realm)
                .query(&query)
                .header(AUTHORIZATION, basic_header(c)),
            None => self.http.get(realm).query(&query),
        };
        let resp = req.send().await.map_err(|e| self.request_error(&e))?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(RegistryError::Unauthorized {
                host: self.host.clone(),
                repository: self.repository.clone(),
                status: status.as_u16(),
                tried: self.tried(true),
            });
        }
        if !status.is_success() {
            return Err(RegistryError::Status {
                host: self.host.clone(),
                status: status.as_u16(),
                what: "the token request".into(),
            });
        }
        let body = resp.bytes().await.map_err(|e| self.request_error(&e))?;
        let answer: TokenAnswer =
            serde_json::from_slice(&body).map_err(|e| RegistryError::Invalid {
                host: self.host.clone(),
                what: "the token answer".into(),
                detail: e.to_string(),
            })?;
        answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| RegistryError::Invalid {
                host: self.host.clone(),
                what: "the token answer".into(),
                detail: "no token in it".into(),
            })
    }

    /// Answers the current challenge: a `Basic` header from the credential or a fresh token.
    /// Returns false when there is nothing new to try.
    async fn authenticate(&self, challenge: Challenge) -> Result<bool, RegistryError> {
        let pull = format!("repository:{}:pull", self.repository);
        let header = match &challenge {
            Challenge::Basic => match &self.credential {
                Some(c) => basic_header(c),
                None => return Ok(false),
            },
            Challenge::Bearer {
                realm,
                service,
                scope,
            } => {
                let scope = scope.clone().unwrap_or(pull);
                tracing::debug!("{}: fetching a token for {scope}", self.host);
                format!(
                    "Bearer {}",
                    self.token(realm, service.as_deref(), &scope).await?
                )
            }
            Challenge::None => return Ok(false),
        };
        *self.challenge.lock().await = challenge;
        self.state.lock().await.header = Some(header);
        Ok(true)
    }

    /// One GET with authentication, 401 answered once, 429 waited on within the bound.
    async fn get(
        &self,
        url: &str,
        accept: Option<&str>,
        what: &str,
    ) -> Result<reqwest::Response, RegistryError> {
        let mut retried_auth = false;
        let mut waited = 0u64;
        let mut attempts = 0u32;
        // A challenge seen at /v2/ is answered before the first request.
        if self.state.lock().await.header.is_none() {
            let c = self.challenge.lock().await.clone();
            if c != Challenge::None {
                self.authenticate(c).await?;
            }
        }
        loop {
            let mut req = self.http.get(url);
            if let Some(a) = accept {
                req = req.header(ACCEPT, a);
            }
            if let Some(h) = &self.state.lock().await.header {
                req = req.header(AUTHORIZATION, h);
            }
            let resp = req.send().await.map_err(|e| self.request_error(&e))?;
            let status = resp.status();
            if status.is_success() {
                return Ok(resp);
            }
            match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    let challenge = challenge_of(resp.headers());
                    let bearer = matches!(challenge, Challenge::Bearer { .. })
                        || matches!(*self.challenge.lock().await, Challenge::Bearer { .. });
                    if status == StatusCode::UNAUTHORIZED
                        && !retried_auth
                        && self.authenticate(challenge).await?
                    {
                        retried_auth = true;
                        continue;
                    }
                    return Err(RegistryError::Unauthorized {
                        host: self.host.clone(),
                        repository: self.repository.clone(),
                        status: status.as_u16(),
                        tried: self.tried(bearer),
                    });
                }
                StatusCode::NOT_FOUND => {
                    return Err(RegistryError::NotFound {
                        host: self.host.clone(),
                        what: what.to_string(),
                    });
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    let limit = self.max_retry_wait.as_secs();
                    let after = resp
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .unwrap_or(1);
                    attempts += 1;
                    if attempts > MAX_RATE_LIMIT_RETRIES || waited + after > limit {
                        return Err(RegistryError::RateLimited {
                            host: self.host.clone(),
                            retry_after: (waited + after > limit).then_some(after),
                            limit,
                        });
                    }
                    tracing::info!("{}: rate limited; retrying {what} in {after} s", self.host);
                    tokio::time::sleep(Duration::from_secs(after)).await;
                    waited += after;
                }
                s => {
                    return Err(RegistryError::Status {
                        host: self.host.clone(),
                        status: s.as_u16(),
                        what: what.to_string(),
                    });
                }
            }
        }
    }

    /// Reads a manifest or index by tag or digest. By digest (or with `expected`) the bytes are
    /// checked against it; by tag, against the registry's `Docker-Content-Digest`.
    pub async fn manifest(
        &self,
        target: &str,
        expected_size: Option<u64>,
    ) -> Result<Fetched, RegistryError> {
        let url = format!("{}/v2/{}/manifests/{target}", self.base, self.repository);
        let what =
            format!("manifest `{}:{target}`", self.repository).replace(":sha256:", "@sha256:");
        let resp = self.get(&url, Some(MANIFEST_ACCEPT), &what).await?;
        let media_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
            .unwrap_or_default();
        let header_digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let expected = if target.contains(':') {
            Some(target.to_string())
        } else {
            header_digest
        };
        let algo = expected.clone().unwrap_or_else(|| "sha256:".into());
        let mut stream = BlobStream::new(resp, &self.host, what, &algo, expected_size);
        stream.expected_digest = expected;
        let bytes = stream.read_all(MAX_DOCUMENT).await?;
        Ok(Fetched {
            bytes,
            media_type,
            digest: stream.actual.unwrap_or_default(),
        })
    }

    /// Opens a blob; the stream checks the size and digest as the bytes arrive.
    pub async fn blob(&self, digest: &str, size: Option<u64>) -> Result<BlobStream, RegistryError> {
        let url = format!("{}/v2/{}/blobs/{digest}", self.base, self.repository);
        let what = format!("blob {digest}");
        if Hasher::for_digest(digest).is_none() {
            return Err(RegistryError::Invalid {
                host: self.host.clone(),
                what,
                detail: "unsupported digest algorithm".into(),
            });
        }
        let resp = self.get(&url, None, &what).await?;
        let mut s = BlobStream::new(resp, &self.host, what, digest, size);
        s.expected_digest = Some(digest.to_string());
        Ok(s)
    }

    /// A small blob (a config) read whole and verified.
    pub async fn blob_bytes(
        &self,
        digest: &str,
        size: Option<u64>,
    ) -> Result<Vec<u8>, RegistryError> {
        self.blob(digest, size).await?.read_all(MAX_DOCUMENT).await
    }
}

fn challenge_of(headers: &HeaderMap) -> Challenge {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(parse_challenge)
        .find(|c| *c != Challenge::None)
        .unwrap_or(Challenge::None)
}

fn build_http(opts: &ClientOptions, insecure: bool) -> Result<reqwest::Client, RegistryError> {
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("importgate/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .danger_accept_invalid_certs(insecure);
    if let Some(path) = &opts.ca_file {
        let ca_err = |problem: String| RegistryError::CaFile {
            path: path.clone(),
            problem,
        };
        let pem = std::fs::read(path).map_err(|e| ca_err(format!("cannot read it: {e}")))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| ca_err(format!("not PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(ca_err("no certificate in it".into()));
        }
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build().map_err(|e| RegistryError::Setup(causes(&e)))
}

/// A blob arriving: each chunk is hashed and counted on its way through; the end of the stream
/// is where a short read or a wrong digest becomes an error, before the caller sees EOF.
pub struct BlobStream {
    resp: reqwest::Response,
    host: String,
    what: String,
    hasher: Option<Hasher>,
    received: u64,
    expected_size: Option<u64>,
    expected_digest: Option<String>,
    actual: Option<String>,
}

impl BlobStream {
    fn new(
        resp: reqwest::Response,
        host: &str,
        what: String,
        digest: &str,
        size: Option<u64>,
    ) -> Self {
        BlobStream {
            resp,
            host: host.to_string(),
            what,
            hasher: Hasher::for_digest(digest),
            received: 0,
            expected_size: size,
            expected_digest: None,
            actual: None,
        }
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The next chunk; `None` once the whole blob has arrived and checked out.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, RegistryError> {
        match self.resp.chunk().await {
            Ok(Some(chunk)) => {
                self.received += chunk.len() as u64;
                if let Some(size) = self.expected_size
                    && self.received > size
                {
                    return Err(RegistryError::Invalid {
                        host: self.host.clone(),
                        what: self.what.clone(),
                        detail: format!("more than the {size} bytes its descriptor says"),
                    });
                }
                if let Some(h) = &mut self.hasher {
                    h.update(&chunk);
                }
                Ok(Some(chunk))
            }
            Ok(None) => {
                if let Some(size) = self.expected_size
                    && self.received < size
                {
                    return Err(RegistryError::Interrupted {
                        host: self.host.clone(),
                        what: self.what.clone(),
                        received: self.received,
                        expected: Some(size),
                        detail: None,
                    });
                }
                if let Some(h) = self.hasher.take() {
                    let actual = h.finish();
                    self.actual = Some(actual.clone());
                    if let Some(want) = &self.expected_digest
                        && !want.eq_ignore_ascii_case(&actual)
                    {
                        return Err(RegistryError::DigestMismatch {
                            host: self.host.clone(),
                            what: self.what.clone(),
                            expected: want.clone(),
                            actual,
                            size: self.received,
                        });
                    }
                }
                Ok(None)
            }
            Err(e) => Err(RegistryError::Interrupted {
                host: self.host.clone(),
                what: self.what.clone(),
                received: self.received,
                expected: self.expected_size,
                detail: Some(causes(&e)),
            }),
        }
    }

    async fn read_all(&mut self, limit: u64) -> Result<Vec<u8>, RegistryError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.next_chunk().await? {
            if (out.len() + chunk.len()) as u64 > limit {
                return Err(RegistryError::TooLarge {
                    host: self.host.clone(),
                    what: self.what.clone(),
                    limit,
                });
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_parsed_with_quoted_commas() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push""#
            ),
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:a/b:pull,push".into()),
            }
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Challenge::Basic
        );
        assert_eq!(parse_challenge("Negotiate"), Challenge::None);
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("localhost"));
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("127.1.2.3"));
        assert!(is_loopback("::1"));
        assert!(!is_loopback("registry.example.com"));
        assert!(!is_loopback("10.0.0.1"));
    }

    #[test]
    fn hashers_name_their_algorithm() {
        let mut h = Hasher::for_digest("sha256:x").unwrap();
        h.update(b"");
        assert_eq!(
            h.finish(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(Hasher::for_digest("md5:x").is_none());
    }
}
