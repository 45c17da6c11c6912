//! Where an image comes from, spelled as skopeo transports (`docker-daemon:`, `docker-archive:`,
//! `oci:`, `oci-archive:`, `docker://`, plus `registry:`), with detection for bare paths, and the
//! target platform.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::ImageError;
use crate::layer::{decompress, looks_like_tar, peek};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An image in the local Docker Engine, by name, id or digest.
    Daemon { reference: String },
    /// A `docker save` tarball (legacy, or the Engine ≥ 25 OCI+manifest.json form).
    DockerArchive {
        path: PathBuf,
        reference: Option<String>,
    },
    /// An OCI image layout directory.
    OciDir {
        path: PathBuf,
        reference: Option<String>,
    },
    /// An OCI image layout packed as a tar (possibly compressed as a whole).
    OciArchive {
        path: PathBuf,
        reference: Option<String>,
    },
    /// An image in an OCI Distribution registry: `HOST/REPO[:TAG|@DIGEST]`, Docker Hub short
    /// names as the docker CLI reads them. Checked for syntax only when loading.
    Registry { reference: String },
}

impl Source {
    /// How the source is named in messages.
    pub fn describe(&self) -> String {
        match self {
            Source::Daemon { reference } => reference.clone(),
            Source::Registry { reference } => format!("registry:{reference}"),
            Source::DockerArchive { path, reference }
            | Source::OciDir { path, reference }
            | Source::OciArchive { path, reference } => match reference {
                Some(r) => format!("{}:{r}", path.display()),
                None => path.display().to_string(),
            },
        }
    }
}

/// Splits `PATH[:REF]`. A path may itself contain `:`, so a split is only taken where the part
/// before the colon exists; the longest such path wins. Without any, the whole string is the path
/// (and loading reports it missing).
fn split_path_ref(s: &str) -> (PathBuf, Option<String>) {
    if Path::new(s).exists() {
        return (PathBuf::from(s), None);
    }
    split_existing(s).unwrap_or_else(|| (PathBuf::from(s), None))
}

/// The longest existing path before a `:` of `s`, and what follows it as the reference.
fn split_existing(s: &str) -> Option<(PathBuf, Option<String>)> {
    for (i, _) in s.rmatch_indices(':') {
        let (p, r) = (&s[..i], &s[i + 1..]);
        if !p.is_empty() && Path::new(p).exists() {
            let r = (!r.is_empty()).then(|| r.to_string());
            return Some((PathBuf::from(p), r));
        }
    }
    None
}

/// A bare existing path: a directory is an OCI layout, a file is sniffed.
fn detect(path: PathBuf, reference: Option<String>) -> Source {
    if path.is_dir() {
        // Only a layout is a usable directory; anything else is treated the same (and fails
        // with a clear message at load time).
        return Source::OciDir { path, reference };
    }
    match sniff_archive(&path) {
        Some(ArchiveKind::Oci) => Source::OciArchive { path, reference },
        _ => Source::DockerArchive { path, reference },
    }
}

/// Parses a source string; never fails, since anything that is not a known transport or an
/// existing path is a daemon reference.
pub fn parse_source(s: &str) -> Source {
    // `registry:` is importgate's own; `docker://` is how skopeo and podman spell it.
    if let Some(r) = s
        .strip_prefix("registry:")
        .or_else(|| s.strip_prefix("docker://"))
    {
        return Source::Registry {
            reference: r.to_string(),
        };
    }
    if let Some(r) = s.strip_prefix("docker-daemon:") {
        return Source::Daemon {
            reference: r.to_string(),
        };
    }
    if let Some(rest) = s.strip_prefix("docker-archive:") {
        let (path, reference) = split_path_ref(rest);
        return Source::DockerArchive { path, reference };
    }
    if let Some(rest) = s.strip_prefix("oci-archive:") {
        let (path, reference) = split_path_ref(rest);
        return Source::OciArchive { path, reference };
    }
    if let Some(rest) = s.strip_prefix("oci:") {
        let (path, reference) = split_path_ref(rest);
        return Source::OciDir { path, reference };
    }
    let path = Path::new(s);
    if path.is_dir() || path.is_file() {
        return detect(path.to_path_buf(), None);
    }
    // `PATH:REF` without a transport, as skopeo users write it: taken when PATH exists (the
    // longest such prefix), so `app.tar:myapp:1.2` is the archive and `myapp:1.2` stays a
    // daemon reference unless an image `myapp` is there.
    // Only an image is taken, though: a source directory `python/` beside `python:3.12` is not.
    if let Some((path, reference)) = split_existing(s)
        && (path.join("index.json").is_file() || (path.is_file() && sniff_archive(&path).is_some()))
    {
        return detect(path, reference);
    }
    // No image reference starts like a path; report a missing file rather than ask the engine.
    if s.starts_with('/') || s.starts_with("./") || s.starts_with("../") {
        return Source::DockerArchive {
            path: path.to_path_buf(),
            reference: None,
        };
    }
    Source::Daemon {
        reference: s.to_string(),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum ArchiveKind {
    Oci,
    Docker,
}

/// Walks the member names of a (possibly compressed) tar. Engine ≥ 25 writes both
/// `index.json` and `manifest.json`; the OCI index is the richer one, so it wins.
fn sniff_archive(path: &Path) -> Option<ArchiveKind> {
    let file = std::fs::File::open(path).ok()?;
    let (_, reader) = decompress(std::io::BufReader::new(file)).ok()?;
    let (head, reader) = peek(reader, 512).ok()?;
    if !looks_like_tar(&head) {
        return None;
    }
    let mut archive = tar::Archive::new(reader);
    let mut found = None;
    for entry in archive.entries().ok()? {
        let Ok(entry) = entry else { break };
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        match name.trim_start_matches("./") {
            "index.json" | "oci-layout" => return Some(ArchiveKind::Oci),
            "manifest.json" => found = Some(ArchiveKind::Docker),
            _ => {}
        }
    }
    found
}

/// The platform whose manifest is picked from a multi-platform index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Default for Platform {
    fn default() -> Self {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Users and `uname` say `x86_64`/`aarch64`; images say `amd64`/`arm64`.
fn normalize_arch(arch: &str) -> String {
    match arch {
        "x86_64" | "x86-64" => "amd64".into(),
        "aarch64" => "arm64".into(),
        "armhf" => "arm".into(),
        "i386" | "i686" => "386".into(),
        other => other.to_ascii_lowercase(),
    }
}

impl FromStr for Platform {
    type Err = ImageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || ImageError::InvalidPlatform(s.to_string());
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        match parts.as_slice() {
            [os, arch] => Ok(Platform {
                os: os.to_ascii_lowercase(),
                architecture: normalize_arch(arch),
                variant: None,
            }),
            [os, arch, variant] => Ok(Platform {
                os: os.to_ascii_lowercase(),
                architecture: normalize_arch(arch),
                variant: Some(variant.to_ascii_lowercase()),
            }),
            _ => Err(bad()),
        }
    }
}

impl Platform {
    /// Matches an image's platform fields. A requested variant must match (an absent arm64
    /// variant counts as `v8`, as containerd does); without one, any variant will do.
    pub fn matches(&self, os: Option<&str>, arch: Option<&str>, variant: Option<&str>) -> bool {
        let (Some(os), Some(arch)) = (os, arch) else {
            return false;
        };
        if !os.eq_ignore_ascii_case(&self.os) || normalize_arch(arch) != self.architecture {
            return false;
        }
        match &self.variant {
            None => true,
            Some(want) => {
                let have = variant
                    .map(str::to_ascii_lowercase)
                    .or_else(|| (self.architecture == "arm64").then(|| "v8".to_string()));
                have.as_deref() == Some(want.as_str())
            }
        }
    }
}

/// Reads a whole small file, refusing ones larger than `max`: metadata files have no business
/// being large, and their size is attacker-controlled.
pub(crate) fn read_small_file(path: &Path, max: u64) -> Result<Vec<u8>, ImageError> {
    let io = |source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut buf = Vec::new();
    file.take(max + 1).read_to_end(&mut buf).map_err(io)?;
    if buf.len() as u64 > max {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        )));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    #[test]
    fn transports_and_refs() {
        let dir = tempfile::tempdir().unwrap();
        let tar_path = dir.path().join("img.tar");
        std::fs::write(&tar_path, b"x").unwrap();
        let p = tar_path.display().to_string();
        assert_eq!(
            parse_source(&format!("docker-archive:{p}:foo:latest")),
            Source::DockerArchive {
                path: tar_path.clone(),
                reference: Some("foo:latest".into())
            }
        );
        assert_eq!(
            parse_source(&format!("oci-archive:{p}")),
            Source::OciArchive {
                path: tar_path.clone(),
                reference: None
            }
        );
        assert_eq!(
            parse_source("docker-daemon:python:3.12"),
            Source::Daemon {
                reference: "python:3.12".into()
            }
        );
        for given in [
            "registry:127.0.0.1:5000/app:1",
            "docker://127.0.0.1:5000/app:1",
        ] {
            assert_eq!(
                parse_source(given),
                Source::Registry {
                    reference: "127.0.0.1:5000/app:1".into()
                }
            );
        }
        assert!(matches!(
            parse_source("/no/such/file.tar"),
            Source::DockerArchive { .. }
        ));
        assert_eq!(
            parse_source("python:3.12-slim"),
            Source::Daemon {
                reference: "python:3.12-slim".into()
            }
        );
        // A path that really contains a colon.
        let colon = dir.path().join("a:b");
        std::fs::create_dir(&colon).unwrap();
        let c = colon.display().to_string();
        assert_eq!(
            parse_source(&format!("oci:{c}:v1")),
            Source::OciDir {
                path: colon.clone(),
                reference: Some("v1".into())
            }
        );
        assert_eq!(
            parse_source(&c),
            Source::OciDir {
                path: colon,
                reference: None
            }
        );
    }

    #[test]
    fn unprefixed_path_ref_is_taken_when_the_path_exists() {
        let dir = tempfile::tempdir().unwrap();
        let img = TestImage::standard();
        let legacy = dir.path().join("app.tar");
        std::fs::write(&legacy, pack(&img.legacy_archive(&["myapp:1.2"]), &[])).unwrap();
        let oci = dir.path().join("app.oci.tar");
        std::fs::write(&oci, pack(&img.oci_layout(&gzip, Some("1.4")), &[])).unwrap();
        let layout = dir.path().join("oci-layout");
        std::fs::create_dir(&layout).unwrap();
        std::fs::write(layout.join("index.json"), b"{}").unwrap();
        let (l, o, d) = (
            legacy.display().to_string(),
            oci.display().to_string(),
            layout.display().to_string(),
        );
        for (given, prefixed) in [
            (
                format!("{l}:myapp:1.2"),
                format!("docker-archive:{l}:myapp:1.2"),
            ),
            (format!("{o}:1.4"), format!("oci-archive:{o}:1.4")),
            (format!("{d}:1.4"), format!("oci:{d}:1.4")),
        ] {
            assert_eq!(parse_source(&given), parse_source(&prefixed), "{given}");
        }
        assert_eq!(
            parse_source(&format!("{l}:myapp:1.2")),
            Source::DockerArchive {
                path: legacy.clone(),
                reference: Some("myapp:1.2".into())
            }
        );
        // The longest existing prefix wins: a layout `x:y` beside a layout `x`.
        let x = dir.path().join("x");
        std::fs::create_dir(&x).unwrap();
        std::fs::write(x.join("index.json"), b"{}").unwrap();
        let xy = dir.path().join("x:y");
        std::fs::create_dir(&xy).unwrap();
        std::fs::write(xy.join("index.json"), b"{}").unwrap();
        assert_eq!(
            parse_source(&format!("{}:z", xy.display())),
            Source::OciDir {
                path: xy,
                reference: Some("z".into())
            }
        );
        // An existing directory or file that is no image is not taken for one.
        let plain = dir.path().join("python");
        std::fs::create_dir(&plain).unwrap();
        let notes = dir.path().join("notes");
        std::fs::write(&notes, b"text").unwrap();
        for p in [&plain, &notes] {
            let given = format!("{}:3.12", p.display());
            assert_eq!(
                parse_source(&given),
                Source::DockerArchive {
                    path: given.clone().into(),
                    reference: None
                }
            );
        }
        // No such path: a daemon reference with colons stays one.
        for r in [
            "myapp:1.2",
            "localhost:5000/app:1",
            "nosuchdir-importgate/app:1",
        ] {
            assert_eq!(
                parse_source(r),
                Source::Daemon {
                    reference: r.into()
                }
            );
        }
    }

    #[test]
    fn bare_files_are_sniffed() {
        let dir = tempfile::tempdir().unwrap();
        let img = TestImage::standard();
        let legacy = dir.path().join("legacy.tar");
        std::fs::write(&legacy, pack(&img.legacy_archive(&[]), &[])).unwrap();
        let mut both = img.legacy_archive(&[]);
        both.extend(img.oci_layout(&gzip, None));
        let oci = dir.path().join("both.tar.zst");
        std::fs::write(&oci, zstd_compress(&pack(&both, &[]))).unwrap();
        assert!(matches!(
            parse_source(&legacy.display().to_string()),
            Source::DockerArchive { .. }
        ));
        assert!(matches!(
            parse_source(&oci.display().to_string()),
            Source::OciArchive { .. }
        ));
    }

    #[test]
    fn platforms() {
        let p: Platform = "linux/aarch64/v8".parse().unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert!(p.matches(Some("linux"), Some("arm64"), None));
        assert!(!p.matches(Some("linux"), Some("amd64"), None));
        assert!(Platform::default().matches(Some("linux"), Some("amd64"), Some("v3")));
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux//x".parse::<Platform>().is_err());
    }
}
