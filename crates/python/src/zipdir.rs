//! The member names of a zip archive, read from its central directory: all `zipimport` needs
//! to decide what a zip on `sys.path` provides (rule C16). No decompression, no dependency:
//! it has to accept and refuse what zipimport itself does (no zip64 before 3.13, data
//! prepended to the archive), which a general-purpose zip crate does not model.

use std::collections::BTreeSet;

const EOCD_SIG: u32 = 0x0605_4b50;
const CDH_SIG: u32 = 0x0201_4b50;
/// The end-of-central-directory record is 22 bytes plus a comment of at most 64 KiB.
const EOCD_LEN: usize = 22;

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// The end-of-central-directory record, searched backwards over the longest comment a zip may
/// carry: its position, the entry count, the directory's size and its recorded offset.
fn end_of_central_directory(data: &[u8]) -> Option<(usize, usize, usize, u32)> {
    if data.len() < EOCD_LEN {
        return None;
    }
    let lowest = data.len().saturating_sub(EOCD_LEN + 0xFFFF);
    let eocd = (lowest..=data.len() - EOCD_LEN)
        .rev()
        .find(|&i| u32_at(data, i) == Some(EOCD_SIG))?;
    let count = u16_at(data, eocd + 10)? as usize;
    let size = u32_at(data, eocd + 12)? as usize;
    let offset = u32_at(data, eocd + 16)?;
    Some((eocd, count, size, offset))
}

/// The names in the central directory, or `None` when `data` is not a zip archive this reader
/// understands (zipimport itself rejects zip64 archives before 3.13; they are `None` here
/// too, which makes the caller treat the entry as unknown rather than empty).
pub fn member_names(data: &[u8]) -> Option<BTreeSet<String>> {
    let (eocd, count, size, offset) = end_of_central_directory(data)?;
    if count == 0xFFFF || offset == 0xFFFF_FFFF || size == 0xFFFF_FFFF {
        return None; // zip64
    }
    // Data prepended to the archive (a shebang, a self-extractor) shifts every offset; the
    // central directory ends right where the EOCD record starts.
    let start = eocd.checked_sub(size)?;
    let mut names = BTreeSet::new();
    let mut at = start;
    for _ in 0..count {
        if u32_at(data, at)? != CDH_SIG {
            return None;
        }
        let name_len = u16_at(data, at + 28)? as usize;
        let extra_len = u16_at(data, at + 30)? as usize;
        let comment_len = u16_at(data, at + 32)? as usize;
        let name = data.get(at + 46..at + 46 + name_len)?;
        names.insert(String::from_utf8_lossy(name).replace('\\', "/"));
        at += 46 + name_len + extra_len + comment_len;
    }
    Some(names)
}

/// The bytes of the member `wanted`, stored or deflated (the two methods zipimport reads), or
/// `None` when it is absent, compressed otherwise or damaged. Members of a module source are
/// small; larger ones than 16 MiB are not inflated.
pub fn member_data(data: &[u8], wanted: &str) -> Option<Vec<u8>> {
    let (eocd, count, size, offset) = end_of_central_directory(data)?;
    let offset = offset as usize;
    let start = eocd.checked_sub(size)?;
    // Bytes prepended to the archive, by which every recorded offset is off.
    let shift = start.checked_sub(offset)?;
    let mut at = start;
    for _ in 0..count {
        if u32_at(data, at)? != CDH_SIG {
            return None;
        }
        let method = u16_at(data, at + 10)?;
        let compressed = u32_at(data, at + 20)? as usize;
        let plain = u32_at(data, at + 24)? as usize;
        let name_len = u16_at(data, at + 28)? as usize;
        let extra_len = u16_at(data, at + 30)? as usize;
        let comment_len = u16_at(data, at + 32)? as usize;
        let local = u32_at(data, at + 42)? as usize + shift;
        let name = data.get(at + 46..at + 46 + name_len)?;
        if String::from_utf8_lossy(name).replace('\\', "/") == wanted {
            if u32_at(data, local)? != 0x0403_4b50 || plain > 16 << 20 {
                return None;
            }
            let skip = 30 + u16_at(data, local + 26)? as usize + u16_at(data, local + 28)? as usize;
            let body = data.get(local + skip..local + skip + compressed)?;
            return match method {
                0 => Some(body.to_vec()),
                8 => {
                    use std::io::Read as _;
                    let mut out = Vec::with_capacity(plain);
                    flate2::read::DeflateDecoder::new(body)
                        .take(plain as u64 + 1)
                        .read_to_end(&mut out)
                        .ok()?;
                    Some(out)
                }
                _ => None,
            };
        }
        at += 46 + name_len + extra_len + comment_len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored (uncompressed) zip of empty members, as `zipfile.writestr(name, '')` makes.
    fn zip_of(names: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for n in names {
            let off = out.len() as u32;
            out.extend(0x0403_4b50u32.to_le_bytes());
            out.extend([20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend([0u8; 12]);
            out.extend((n.len() as u16).to_le_bytes());
            out.extend(0u16.to_le_bytes());
            out.extend(n.as_bytes());
            central.extend(CDH_SIG.to_le_bytes());
            central.extend([20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            central.extend([0u8; 12]);
            central.extend((n.len() as u16).to_le_bytes());
            central.extend([0u8; 12]);
            central.extend(off.to_le_bytes());
            central.extend(n.as_bytes());
        }
        let cd_off = out.len() as u32;
        let cd_len = central.len() as u32;
        out.extend(central);
        out.extend(EOCD_SIG.to_le_bytes());
        out.extend([0u8; 4]);
        out.extend((names.len() as u16).to_le_bytes());
        out.extend((names.len() as u16).to_le_bytes());
        out.extend(cd_len.to_le_bytes());
        out.extend(cd_off.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out
    }

    #[test]
    fn reads_member_names_including_directory_entries() {
        let z = zip_of(&["m.py", "pkg/", "pkg/__init__.py"]);
        let names = member_names(&z).unwrap();
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            ["m.py", "pkg/", "pkg/__init__.py"]
        );
    }

    #[test]
    fn prepended_data_is_tolerated_and_garbage_is_not_a_zip() {
        let mut z = b"#!/usr/bin/env python3\n".to_vec();
        z.extend(zip_of(&["__main__.py"]));
        assert!(member_names(&z).unwrap().contains("__main__.py"));
        assert_eq!(member_names(b"hello, not a zip at all, really"), None);
    }

    #[test]
    fn stored_member_data_is_read_from_its_local_header() {
        let data = zip_of(&["a.py", "b/c.py"]);
        assert_eq!(member_data(&data, "b/c.py"), Some(Vec::new()));
        assert_eq!(member_data(&data, "missing.py"), None);
        let mut shifted = b"#!/usr/bin/env python3\n".to_vec();
        shifted.extend(&data);
        assert_eq!(member_data(&shifted, "a.py"), Some(Vec::new()));
    }
}
