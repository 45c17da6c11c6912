//! Image references (`HOST/REPO[:TAG][@DIGEST]`) normalised as the docker CLI does: a first
//! component without `.` or `:` that is not `localhost` is a Docker Hub path, and a one-component
//! Hub name lives under `library/`.

use std::fmt;

use crate::error::RegistryError;

/// Docker Hub as the docker CLI names it in references and in `config.json`.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's registry API.
const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The key the docker CLI stores Docker Hub credentials under.
pub(crate) const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]` as written (Docker Hub as `docker.io`).
    pub registry: String,
    /// The repository path, e.g. `library/python`.
    pub repository: String,
    pub tag: Option<String>,
    /// `alg:hex`; when given it wins over the tag, as with `docker pull`.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses a reference as `docker pull` would. Only the syntax is checked here.
    pub fn parse(s: &str) -> Result<Self, RegistryError> {
        let bad = |reason: &str| RegistryError::InvalidReference {
            reference: s.to_string(),
            reason: reason.to_string(),
        };
        if s.is_empty() {
            return Err(bad("empty"));
        }
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(d.to_string())),
            None => (s, None),
        };
        if let Some(d) = &digest {
            let Some((alg, hex)) = d.split_once(':') else {
                return Err(bad("a digest is ALGORITHM:HEX"));
            };
            let hex_len = match alg {
                "sha256" => 64,
                "sha512" => 128,
                _ => return Err(bad("only sha256 and sha512 digests are supported")),
            };
            if hex.len() != hex_len || !hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
                return Err(bad("the digest is not lowercase hex of the right length"));
            }
        }
        // A tag follows the last `:` of the last path component (a port is in the first).
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (
                &name[..last_slash + i],
                Some(name[last_slash + i + 1..].to_string()),
            ),
            None => (name, None),
        };
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !ok {
                return Err(bad("invalid tag"));
            }
        }
        let (registry, mut repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB.to_string()
        } else {
            registry
        };
        if registry == DOCKER_HUB && !repository.contains('/') {
            repository = format!("library/{repository}");
        }
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
                && c.ends_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
                && c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
        };
        if repository.is_empty() || !repository.split('/').all(component_ok) {
            return Err(bad(
                "the repository must be lowercase letters, digits and separators",
            ));
        }
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The host the API is served from.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// The key credentials are stored under in `config.json` and passed to helpers.
    pub fn auth_key(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_AUTH_KEY
        } else {
            &self.registry
        }
    }

    /// What is asked for in `/manifests/…`: the digest when given, else the tag (`latest`).
    pub fn target(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The host without its port, for the loopback and `--insecure-registry` decisions.
    pub fn hostname(&self) -> &str {
        let h = self.api_host();
        if let Some(rest) = h.strip_prefix('[') {
            return rest.split(']').next().unwrap_or(rest);
        }
        h.rsplit_once(':').map_or(h, |(name, _)| name)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(s: &str) -> (String, String, Option<String>, Option<String>) {
        let r = Reference::parse(s).unwrap();
        (r.registry, r.repository, r.tag, r.digest)
    }

    #[test]
    fn docker_hub_short_names_are_normalised_as_the_docker_cli_does() {
        assert_eq!(
            parts("python:3.12"),
            (
                "docker.io".into(),
                "library/python".into(),
                Some("3.12".into()),
                None
            )
        );
        assert_eq!(parts("team/api").1, "team/api");
        assert_eq!(parts("team/api").0, "docker.io");
        assert_eq!(parts("index.docker.io/python").1, "library/python");
        let r = Reference::parse("python").unwrap();
        assert_eq!(r.target(), "latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.auth_key(), "https://index.docker.io/v1/");
    }

    #[test]
    fn hosts_ports_tags_and_digests() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("127.0.0.1:5000/team/api:1.4@{d}")).unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "team/api");
        assert_eq!(r.tag.as_deref(), Some("1.4"));
        assert_eq!(r.target(), d);
        assert_eq!(r.hostname(), "127.0.0.1");
        assert_eq!(parts("localhost/app").0, "localhost");
        assert_eq!(
            Reference::parse("registry.example.com/a/b")
                .unwrap()
                .hostname(),
            "registry.example.com"
        );
        assert_eq!(Reference::parse("[::1]:5000/a").unwrap().hostname(), "::1");
    }

    #[test]
    fn bad_references_are_refused() {
        for s in [
            "",
            "UPPER/case",
            "a:b:c",
            "x@sha256:12",
            "x@md5:00",
            "host.io/",
        ] {
            assert!(Reference::parse(s).is_err(), "{s}");
        }
    }
}
