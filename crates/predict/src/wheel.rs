//! Wheels found in the build context: their file list (the central directory) and the few
//! metadata members the prediction needs (`METADATA` for `Requires-Dist`, `RECORD`,
//! `top_level.txt`, `entry_points.txt`). A wheel installs by unpacking, so its member names are
//! exactly the files pip would put in site-packages.

use std::io::{Cursor, Read};

use zip::ZipArchive;

use crate::requirements::{Item, normalize, parse_spec};

/// Metadata members are small; a hostile archive must not make us inflate gigabytes.
const MAX_MEMBER: u64 = 16 << 20;

type Zip<'a> = ZipArchive<Cursor<&'a [u8]>>;

/// One file member of the central directory (directories are left out).
struct Member {
    index: usize,
    /// With `/` separators.
    name: String,
    /// Uncompressed.
    size: u64,
}

/// The archive and its file members, or `None` when `data` is not a zip archive.
fn open(data: &[u8]) -> Option<(Zip<'_>, Vec<Member>)> {
    let zip = ZipArchive::new(Cursor::new(data)).ok()?;
    let members = (0..zip.len())
        .filter_map(|index| {
            let entry = zip.by_index_data(index).ok()?;
            let name = entry.name().ok()?.replace('\\', "/");
            let size = entry.size();
            (!name.ends_with('/')).then_some(Member { index, name, size })
        })
        .collect();
    Some((zip, members))
}

/// A member's bytes; `None` when it is over the cap, compressed other than stored or deflated,
/// or corrupt.
fn read_member(zip: &mut Zip<'_>, m: &Member) -> Option<Vec<u8>> {
    if m.size > MAX_MEMBER {
        return None;
    }
    // The claimed size only bounds the first allocation: a tiny member may claim the cap, and
    // `members_with` keeps every member's bytes alive at once.
    let mut out = Vec::with_capacity(usize::try_from(m.size.min(64 << 10)).ok()?);
    zip.by_index(m.index)
        .ok()?
        .take(MAX_MEMBER)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// Every file member with its size and, where `keep` asks for more than metadata, its bytes
/// (members larger than the cap are left unread).
pub fn members_with(
    data: &[u8],
    keep: &dyn Fn(&str, u64) -> importgate_image::Keep,
) -> Vec<(String, u64, Option<Vec<u8>>)> {
    let Some((mut zip, members)) = open(data) else {
        return Vec::new();
    };
    members
        .into_iter()
        .map(|m| {
            let bytes = match keep(&m.name, m.size) {
                importgate_image::Keep::Nothing => None,
                _ => read_member(&mut zip, &m),
            };
            (m.name, m.size, bytes)
        })
        .collect()
}

/// What the prediction knows of one wheel.
#[derive(Debug, Clone, Default)]
pub struct Wheel {
    /// The distribution name from the file name (`PyYAML` in `PyYAML-6.0.2-cp312-...whl`).
    pub name: String,
    pub version: String,
    /// Member names: the files of the installed distribution, relative to site-packages.
    pub files: Vec<String>,
    /// `Requires-Dist` lines of METADATA, unparsed.
    pub requires: Vec<String>,
    /// `(name, text)` of the metadata members read (RECORD, METADATA, top_level.txt,
    /// entry_points.txt, `.pth` files).
    pub texts: Vec<(String, String)>,
}

/// `name-version(-build)?-py-abi-platform.whl` -> (name, version).
pub fn wheel_file_name(file: &str) -> Option<(String, String)> {
    let stem = file.rsplit('/').next()?.strip_suffix(".whl")?;
    let mut parts = stem.split('-');
    let name = parts.next()?.to_string();
    let version = parts.next()?.to_string();
    (!name.is_empty() && parts.count() >= 3).then_some((name, version))
}

impl Wheel {
    /// Reads a wheel; `None` when it is not a zip this reader understands.
    pub fn read(file_name: &str, data: &[u8]) -> Option<Wheel> {
        let (name, version) = wheel_file_name(file_name)?;
        let (mut zip, members) = open(data)?;
        let mut wheel = Wheel {
            name,
            version,
            ..Wheel::default()
        };
        for m in &members {
            wheel.files.push(m.name.clone());
            let base = m.name.rsplit('/').next().unwrap_or(&m.name);
            let in_info = m
                .name
                .split('/')
                .next()
                .is_some_and(|d| d.ends_with(".dist-info"))
                && m.name.matches('/').count() == 1;
            let wanted = (in_info
                && matches!(
                    base,
                    "METADATA" | "RECORD" | "top_level.txt" | "entry_points.txt"
                ))
                || (!m.name.contains('/') && base.ends_with(".pth"));
            if wanted && let Some(bytes) = read_member(&mut zip, m) {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                if base == "METADATA" {
                    wheel.requires = text
                        .lines()
                        .take_while(|l| !l.is_empty())
                        .filter_map(|l| l.strip_prefix("Requires-Dist:"))
                        .map(|l| l.trim().to_string())
                        .collect();
                }
                wheel.texts.push((m.name.clone(), text));
            }
        }
        Some(wheel)
    }

    /// The dependencies pip would install with it, for the extras asked for. Markers other
    /// than `extra` are evaluated only for the platform (never Windows/macOS) and the Python
    /// version; anything else counts as true.
    pub fn dependencies(&self, extras: &[String], minor: Option<u8>) -> Vec<Item> {
        let mut out = Vec::new();
        for line in &self.requires {
            let (spec, marker) = match line.split_once(';') {
                Some((s, m)) => (s, Some(m.trim())),
                None => (line.as_str(), None),
            };
            if let Some(marker) = marker
                && !marker_holds(marker, extras, minor)
            {
                continue;
            }
            out.push(parse_spec(spec, false));
        }
        out
    }

    /// The metadata member text, by base name.
    pub fn text(&self, base: &str) -> Option<&str> {
        self.texts
            .iter()
            .find(|(n, _)| n.rsplit('/').next() == Some(base))
            .map(|(_, t)| t.as_str())
    }
}

/// A small evaluation of PEP 508 markers: `and`/`or` of comparisons on `extra`,
/// `python_version`, `sys_platform`, `platform_system`, `os_name`, `implementation_name`.
/// Unknown comparisons count as true.
fn marker_holds(marker: &str, extras: &[String], minor: Option<u8>) -> bool {
    marker
        .split(" or ")
        .any(|conj| conj.split(" and ").all(|c| clause(c, extras, minor)))
}

fn clause(c: &str, extras: &[String], minor: Option<u8>) -> bool {
    let c = c
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    let ops = ["==", "!=", ">=", "<=", "<", ">"];
    let Some((op, at)) = ops
        .iter()
        .filter_map(|op| c.find(op).map(|at| (*op, at)))
        .min_by_key(|(op, at)| (*at, std::cmp::Reverse(op.len())))
    else {
        return true;
    };
    let var = c[..at].trim();
    let val = c[at + op.len()..]
        .trim()
        .trim_matches(|ch| ch == '"' || ch == '\'');
    match var {
        "extra" => {
            let hit = extras.iter().any(|e| normalize(e) == normalize(val));
            if op == "==" { hit } else { !hit }
        }
        "sys_platform" | "platform_system" | "os_name" | "implementation_name" => {
            let actual = match var {
                "sys_platform" => "linux",
                "platform_system" => "Linux",
                "os_name" => "posix",
                _ => "cpython",
            };
            match op {
                "==" => val == actual,
                "!=" => val != actual,
                _ => true,
            }
        }
        "python_version" | "python_full_version" => {
            let Some(minor) = minor else {
                return true;
            };
            let want: Vec<u32> = val.split('.').filter_map(|p| p.parse().ok()).collect();
            let have = [3u32, u32::from(minor)];
            let want = [
                want.first().copied().unwrap_or(0),
                want.get(1).copied().unwrap_or(0),
            ];
            match op {
                "==" => have == want,
                "!=" => have != want,
                ">=" => have >= want,
                "<=" => have <= want,
                "<" => have < want,
                ">" => have > want,
                _ => true,
            }
        }
        _ => true,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A zip with deflated members, as a wheel is.
    pub(crate) fn zip_of(members: &[(&str, &str)]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, text) in members {
            zip.start_file(*name, options).expect("zip member");
            zip.write_all(text.as_bytes()).expect("deflate");
        }
        zip.finish().expect("zip").into_inner()
    }

    #[test]
    fn a_wheel_gives_its_files_and_dependencies() {
        let data = zip_of(&[
            ("yaml/__init__.py", "from .error import *\n"),
            ("yaml/error.py", ""),
            (
                "PyYAML-6.0.2.dist-info/METADATA",
                "Metadata-Version: 2.1\nName: PyYAML\nRequires-Dist: six\nRequires-Dist: pytest ; extra == \"test\"\nRequires-Dist: pywin32 ; sys_platform == \"win32\"\nRequires-Dist: tomli ; python_version < \"3.11\"\n\nRequires-Dist: not-a-header\n",
            ),
            ("PyYAML-6.0.2.dist-info/top_level.txt", "_yaml\nyaml\n"),
        ]);
        let w = Wheel::read(
            "wheels/PyYAML-6.0.2-cp312-cp312-manylinux_2_17_x86_64.whl",
            &data,
        )
        .expect("reads");
        assert_eq!(w.name, "PyYAML");
        assert_eq!(w.version, "6.0.2");
        assert_eq!(w.files.len(), 4);
        assert_eq!(w.text("top_level.txt"), Some("_yaml\nyaml\n"));
        let deps = |extras: &[String], minor| -> Vec<String> {
            w.dependencies(extras, minor)
                .into_iter()
                .filter_map(|i| match i {
                    Item::Req(r) => Some(r.name),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(deps(&[], Some(12)), ["six"]);
        assert_eq!(deps(&["test".into()], Some(10)), ["six", "pytest", "tomli"]);
    }

    #[test]
    fn wheel_file_names_split_into_name_and_version() {
        assert_eq!(
            wheel_file_name("flask-3.1.0-py3-none-any.whl"),
            Some(("flask".into(), "3.1.0".into()))
        );
        assert_eq!(wheel_file_name("x.tar.gz"), None);
        assert_eq!(wheel_file_name("bad-1.whl"), None);
    }
}
