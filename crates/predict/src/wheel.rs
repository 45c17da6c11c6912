//! Wheels found in the build context: their file list (the central directory) and the few
//! metadata members the prediction needs (`METADATA` for `Requires-Dist`, `RECORD`,
//! `top_level.txt`, `entry_points.txt`). A wheel installs by unpacking, so its member names are
//! exactly the files pip would put in site-packages.

use std::io::Read;

use crate::requirements::{Item, normalize, parse_spec};

const EOCD_SIG: u32 = 0x0605_4b50;
const CDH_SIG: u32 = 0x0201_4b50;
const LFH_SIG: u32 = 0x0403_4b50;
const EOCD_LEN: usize = 22;
/// Metadata members are small; a hostile archive must not make us inflate gigabytes.
const MAX_MEMBER: u64 = 16 << 20;

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

struct Member {
    name: String,
    method: u16,
    compressed: u64,
    size: u64,
    local_offset: usize,
}

fn central_directory(data: &[u8]) -> Option<Vec<Member>> {
    if data.len() < EOCD_LEN {
        return None;
    }
    let lowest = data.len().saturating_sub(EOCD_LEN + 0xFFFF);
    let eocd = (lowest..=data.len() - EOCD_LEN)
        .rev()
        .find(|&i| u32_at(data, i) == Some(EOCD_SIG))?;
    let count = u16_at(data, eocd + 10)? as usize;
    let size = u32_at(data, eocd + 12)? as usize;
    let start = eocd.checked_sub(size)?;
    let mut out = Vec::with_capacity(count);
    let mut at = start;
    for _ in 0..count {
        if u32_at(data, at)? != CDH_SIG {
            return None;
        }
        let name_len = u16_at(data, at + 28)? as usize;
        let extra_len = u16_at(data, at + 30)? as usize;
        let comment_len = u16_at(data, at + 32)? as usize;
        let name = data.get(at + 46..at + 46 + name_len)?;
        out.push(Member {
            name: String::from_utf8_lossy(name).replace('\\', "/"),
            method: u16_at(data, at + 10)?,
            compressed: u64::from(u32_at(data, at + 20)?),
            size: u64::from(u32_at(data, at + 24)?),
            local_offset: u32_at(data, at + 42)? as usize,
        });
        at += 46 + name_len + extra_len + comment_len;
    }
    Some(out)
}

fn read_member(data: &[u8], m: &Member) -> Option<Vec<u8>> {
    if m.size > MAX_MEMBER {
        return None;
    }
    let at = m.local_offset;
    if u32_at(data, at)? != LFH_SIG {
        return None;
    }
    let name_len = u16_at(data, at + 26)? as usize;
    let extra_len = u16_at(data, at + 28)? as usize;
    let begin = at + 30 + name_len + extra_len;
    let raw = data.get(begin..begin.checked_add(usize::try_from(m.compressed).ok()?)?)?;
    match m.method {
        0 => Some(raw.to_vec()),
        8 => {
            let mut out = Vec::with_capacity(m.size as usize);
            flate2::read::DeflateDecoder::new(raw)
                .take(MAX_MEMBER)
                .read_to_end(&mut out)
                .ok()?;
            Some(out)
        }
        _ => None,
    }
}

/// Every file member with its size and, where `keep` asks for more than metadata, its bytes
/// (members larger than the cap are left unread).
pub fn members_with(
    data: &[u8],
    keep: &dyn Fn(&str, u64) -> importgate_image::Keep,
) -> Vec<(String, u64, Option<Vec<u8>>)> {
    let Some(members) = central_directory(data) else {
        return Vec::new();
    };
    members
        .iter()
        .filter(|m| !m.name.ends_with('/'))
        .map(|m| {
            let bytes = match keep(&m.name, m.size) {
                importgate_image::Keep::Nothing => None,
                _ => read_member(data, m),
            };
            (m.name.clone(), m.size, bytes)
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
        let members = central_directory(data)?;
        let mut wheel = Wheel {
            name,
            version,
            ..Wheel::default()
        };
        for m in &members {
            if m.name.ends_with('/') {
                continue;
            }
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
            if wanted && let Some(bytes) = read_member(data, m) {
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
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, text) in members {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(text.as_bytes()).expect("deflate");
            let data = enc.finish().expect("deflate");
            let offset = out.len() as u32;
            out.extend_from_slice(&LFH_SIG.to_le_bytes());
            out.extend_from_slice(&[20, 0, 0, 0, 8, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&0u32.to_le_bytes()); // crc (not checked)
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&data);
            central.extend_from_slice(&CDH_SIG.to_le_bytes());
            central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 8, 0, 0, 0, 0, 0]);
            central.extend_from_slice(&0u32.to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(text.len() as u32).to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 12]);
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(&EOCD_SIG.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(members.len() as u16).to_le_bytes());
        out.extend_from_slice(&(members.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
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
