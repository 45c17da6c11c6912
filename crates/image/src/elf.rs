//! A summary of one ELF shared object, taken while its layer streams past: the machine and class
//! (is it loadable on this platform?) and the dynamic-section strings the loader acts on
//! (`DT_NEEDED`, `DT_RPATH`, `DT_RUNPATH`, `DT_SONAME`). The bytes themselves are dropped, which
//! is what lets every `.so` of a large image be inspected without keeping it.

use object::elf;
use object::read::elf::{Dyn, ElfFile32, ElfFile64, FileHeader};
use object::{FileKind, ReadRef};

/// What the dynamic loader needs to know about one ELF file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ElfSummary {
    /// `e_machine` (62 = x86-64, 183 = AArch64, …).
    pub machine: u16,
    /// 32 or 64.
    pub class: u8,
    /// `DT_NEEDED` entries, in order.
    pub needed: Vec<String>,
    /// `DT_RPATH`, unexpanded (`$ORIGIN/../foo.libs`).
    pub rpath: Option<String>,
    /// `DT_RUNPATH`, unexpanded.
    pub runpath: Option<String>,
    pub soname: Option<String>,
    /// `PT_INTERP`: the dynamic loader the kernel maps before an executable runs. Only read
    /// when the whole file is at hand (captured programs), `None` otherwise or when static.
    pub interp: Option<String>,
    /// The `X` of every `PyInit_X` the file defines (libpython's builtin modules), read only
    /// by [`ElfSummary::parse_with_exports`]: the symbol tables are what a 30 MB libpython
    /// would otherwise be kept whole for.
    pub init_exports: Vec<String>,
}

/// Process-wide counters of the summarising work, for `IMPORTGATE_LOG=debug` and the figures in
/// docs/performance.md: how many members were summarised, their bytes, and the time spent
/// buffering and parsing them (the rest of the stream costs the same with or without it).
pub mod stats {
    use std::sync::atomic::{AtomicU64, Ordering};

    pub static FILES: AtomicU64 = AtomicU64::new(0);
    pub static BYTES: AtomicU64 = AtomicU64::new(0);
    pub static NANOS: AtomicU64 = AtomicU64::new(0);

    /// `(files, bytes, seconds)` so far.
    pub fn snapshot() -> (u64, u64, f64) {
        (
            FILES.load(Ordering::Relaxed),
            BYTES.load(Ordering::Relaxed),
            NANOS.load(Ordering::Relaxed) as f64 / 1e9,
        )
    }
}

/// The four magic bytes every ELF file starts with.
pub const ELF_MAGIC: &[u8; 4] = b"\x7fELF";

impl ElfSummary {
    /// Parses `data`; `None` when it is not an ELF file or its headers are malformed (a hostile
    /// or truncated file is simply not summarised).
    pub fn parse(data: &[u8]) -> Option<ElfSummary> {
        Self::parse_ref(data)
    }

    fn parse_ref<'data, R: ReadRef<'data>>(data: R) -> Option<ElfSummary> {
        match FileKind::parse(data).ok()? {
            FileKind::Elf32 => {
                summarise(&ElfFile32::<object::Endianness, R>::parse(data).ok()?, 32)
            }
            FileKind::Elf64 => {
                summarise(&ElfFile64::<object::Endianness, R>::parse(data).ok()?, 64)
            }
            _ => None,
        }
    }

    /// [`ElfSummary::parse`] plus the `PyInit_*` functions the file defines.
    pub fn parse_with_exports(data: &[u8]) -> Option<ElfSummary> {
        Self::with_exports_ref(data)
    }

    /// [`ElfSummary::parse_with_exports`] of a member that can be read anywhere: only the
    /// headers and the symbol tables are read (a few MB of libpython's 30).
    pub(crate) fn parse_with_exports_at(read_at: ReadAt<'_>, size: u64) -> Option<ElfSummary> {
        let cache = object::ReadCache::new(AtReader {
            read_at,
            pos: 0,
            size,
        });
        Self::with_exports_ref(&cache)
    }

    fn with_exports_ref<'data, R: ReadRef<'data>>(data: R) -> Option<ElfSummary> {
        use object::{Object, ObjectSymbol};
        let mut summary = ElfSummary::parse_ref(data)?;
        let file = object::File::parse(data).ok()?;
        let mut names: Vec<String> = file
            .dynamic_symbols()
            .chain(file.symbols())
            .filter(|s| s.is_definition())
            .filter_map(|s| Some(s.name().ok()?.strip_prefix("PyInit_")?.to_string()))
            .collect();
        names.sort();
        names.dedup();
        summary.init_exports = names;
        Some(summary)
    }

    /// A short name for the machine, as platforms and wheel tags spell it.
    pub fn machine_name(&self) -> &'static str {
        machine_name(self.machine)
    }
}

/// `e_machine` as the architecture names used by OCI platforms / wheel tags.
pub fn machine_name(machine: u16) -> &'static str {
    match elf::Machine(machine) {
        elf::EM_X86_64 => "x86_64",
        elf::EM_386 => "i386",
        elf::EM_AARCH64 => "aarch64",
        elf::EM_ARM => "arm",
        elf::EM_PPC64 => "ppc64",
        elf::EM_S390 => "s390x",
        elf::EM_RISCV => "riscv64",
        _ => "unknown",
    }
}

fn summarise<'data, Elf, R>(
    file: &object::read::elf::ElfFile<'data, Elf, R>,
    class: u8,
) -> Option<ElfSummary>
where
    Elf: FileHeader<Endian = object::Endianness>,
    R: ReadRef<'data>,
{
    let endian = file.endian();
    let header = file.elf_header();
    let mut out = ElfSummary {
        machine: header.e_machine(endian).0,
        class,
        ..ElfSummary::default()
    };
    if let Ok(segments) = header.program_headers(endian, file.data()) {
        use object::read::elf::ProgramHeader;
        out.interp = segments
            .iter()
            .find(|p| p.p_type(endian) == elf::PT_INTERP)
            .and_then(|p| p.data(endian, file.data()).ok())
            .map(|d| {
                let end = d.iter().position(|b| *b == 0).unwrap_or(d.len());
                String::from_utf8_lossy(&d[..end]).into_owned()
            })
            .filter(|s| !s.is_empty());
    }
    let sections = file.elf_section_table();
    let Ok(Some((dynamics, link))) = sections.dynamic(endian, file.data()) else {
        // No dynamic section: a static object with nothing to load.
        return Some(out);
    };
    let Ok(strings) = sections.strings(endian, file.data(), link) else {
        return Some(out);
    };
    for d in dynamics {
        let tag = d.d_tag(endian);
        if tag == elf::DT_NULL {
            break;
        }
        let text = || {
            let val: u64 = d.d_val(endian).into();
            u32::try_from(val)
                .ok()
                .and_then(|v| strings.get(v).ok())
                .map(|s| String::from_utf8_lossy(s).into_owned())
        };
        match tag {
            elf::DT_NEEDED => out.needed.extend(text()),
            elf::DT_RPATH => out.rpath = text(),
            elf::DT_RUNPATH => out.runpath = text(),
            elf::DT_SONAME => out.soname = text(),
            _ => {}
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_shared_object_is_summarised() {
        // The test binary itself links libc dynamically on every Linux host we build on.
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let Ok(data) = std::fs::read(exe) else {
            return;
        };
        let s = ElfSummary::parse(&data).unwrap();
        assert!(s.class == 64 || s.class == 32);
        assert!(
            s.interp.as_deref().is_some_and(|i| i.contains("ld-")),
            "{s:?}"
        );
        assert!(s.needed.iter().any(|n| n.starts_with("libc.so")), "{s:?}");
    }

    #[test]
    fn garbage_is_not_elf() {
        assert_eq!(ElfSummary::parse(b"\x7fELF\x02\x01garbage"), None);
        assert_eq!(ElfSummary::parse(b"#!/bin/sh\n"), None);
    }
}

/// Reads only what the summary needs from a member that streams past: the ELF and program
/// headers, the first loadable segment (where linkers put `.dynstr`) and the dynamic segment.
/// The reader is left wherever it stopped, and the tar reader skips the rest.
pub(crate) fn summarise_stream<R: std::io::Read>(
    reader: &mut R,
    size: u64,
    prefix: &mut Vec<u8>,
) -> std::io::Result<Streamed> {
    use std::io::Read;
    const HEAD: u64 = 64 << 10;
    (&mut *reader)
        .take(HEAD.min(size).saturating_sub(prefix.len() as u64))
        .read_to_end(prefix)?;
    let Some(layout) = Layout::parse(prefix) else {
        return Ok(Streamed::ReadWhole);
    };
    let Some((dyn_off, dyn_len)) = layout.dynamic else {
        return Ok(Streamed::Done(ElfSummary::parse_headers_only(prefix)));
    };
    // `.dynstr` sits near the start of the first segment: of a very large one (lld puts
    // `.rodata` there), the first 64 MiB are kept, which holds it in the files seen.
    let keep_end = layout.first_load_end.min(size).min(64 << 20);
    let dyn_end = dyn_off.saturating_add(dyn_len).min(size);
    if dyn_end <= dyn_off || dyn_len > (16 << 20) {
        return Ok(Streamed::ReadWhole);
    }
    // Keep [0, keep_end) and the dynamic segment; discard everything else up to dyn_end.
    let mut dynbuf = Vec::with_capacity(dyn_len as usize);
    let mut pos = prefix.len() as u64;
    if prefix.len() as u64 > keep_end {
        // The prefix already holds bytes past the first segment; take the dynamic part from it.
        let s = (dyn_off as usize).min(prefix.len());
        let e = (dyn_end as usize).min(prefix.len());
        dynbuf.extend_from_slice(&prefix[s..e]);
    }
    let mut scratch = vec![0u8; 64 << 10];
    while pos < dyn_end.max(keep_end) {
        let want = (dyn_end.max(keep_end) - pos).min(scratch.len() as u64) as usize;
        let n = reader.read(&mut scratch[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "shared object shorter than its header says",
            ));
        }
        let chunk = &scratch[..n];
        let (start, end) = (pos, pos + n as u64);
        if start < keep_end {
            let e = (keep_end.min(end) - start) as usize;
            prefix.extend_from_slice(&chunk[..e]);
        }
        if end > dyn_off && start < dyn_end {
            let s = dyn_off.saturating_sub(start) as usize;
            let e = (dyn_end.min(end) - start) as usize;
            dynbuf.extend_from_slice(&chunk[s..e]);
        }
        pos = end;
    }
    if dynbuf.len() as u64 != dyn_end - dyn_off {
        // Past the prefix there is no going back: what the headers promise is not there.
        return Ok(Streamed::Done(None));
    }
    let (out, entries, str_off, str_len) = match layout.read_dynamic(&dynbuf) {
        Dynamic::Done(summary) => return Ok(Streamed::Done(summary)),
        Dynamic::Strings(out, entries, str_off, str_len) => (out, entries, str_off, str_len),
    };
    let str_end = str_off.saturating_add(str_len);
    let strings: Vec<u8> = if str_end <= prefix.len() as u64 {
        prefix[str_off as usize..str_end as usize].to_vec()
    } else if str_off >= pos && str_len <= (16 << 20) {
        // patchelf (auditwheel) moves `.dynstr` to a new segment at the end of the file.
        std::io::copy(
            &mut (&mut *reader).take(str_off - pos),
            &mut std::io::sink(),
        )?;
        let mut buf = Vec::with_capacity(str_len as usize);
        (&mut *reader).take(str_len).read_to_end(&mut buf)?;
        buf
    } else {
        return Ok(Streamed::Done(None));
    };
    if strings.len() as u64 != str_len {
        return Ok(Streamed::Done(None));
    }
    Ok(Streamed::Done(with_strings(out, &entries, &strings)))
}

/// Fills `out` with the string-valued dynamic entries, looked up in `.dynstr`; `None` when one
/// points outside it.
fn with_strings(mut out: ElfSummary, entries: &[(u64, u64)], strings: &[u8]) -> Option<ElfSummary> {
    let text = |v: u64| -> Option<String> {
        let tail = strings.get(usize::try_from(v).ok()?..)?;
        let n = tail.iter().position(|b| *b == 0)?;
        Some(String::from_utf8_lossy(&tail[..n]).into_owned())
    };
    for &(tag, val) in entries {
        let s = text(val)?;
        match tag {
            1 => out.needed.push(s),
            14 => out.soname = Some(s),
            15 => out.rpath = Some(s),
            _ => out.runpath = Some(s),
        }
    }
    Some(out)
}

/// Reads at an offset of a member that can be read anywhere (a layer tar indexed in place, a
/// file of the engine's storage): what [`summarise_at`] reads through.
pub(crate) type ReadAt<'a> = &'a dyn Fn(u64, &mut [u8]) -> std::io::Result<usize>;

/// A [`ReadAt`] as a reader that seeks, for the `object` crate's read cache.
struct AtReader<'a> {
    read_at: ReadAt<'a>,
    pos: u64,
    size: u64,
}

impl std::io::Read for AtReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = usize::try_from(self.size.saturating_sub(self.pos)).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if want == 0 {
            return Ok(0);
        }
        let n = (self.read_at)(self.pos, &mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl std::io::Seek for AtReader<'_> {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let pos = match to {
            std::io::SeekFrom::Start(n) => Some(n),
            std::io::SeekFrom::End(d) => self.size.checked_add_signed(d),
            std::io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| std::io::Error::other("seek before the member's start"))?;
        Ok(self.pos)
    }
}

/// `len` bytes at `offset`, fewer only at the end of the member.
fn read_range(read_at: ReadAt<'_>, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let len = usize::try_from(len).map_err(std::io::Error::other)?;
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        let n = read_at(offset + done as u64, &mut buf[done..])?;
        if n == 0 {
            break;
        }
        done += n;
    }
    buf.truncate(done);
    Ok(buf)
}

/// [`summarise_stream`] for a member that can be read anywhere: the headers, the dynamic
/// segment and `.dynstr` are read where they lie, a few kilobytes, instead of everything up
/// to the dynamic segment, which linkers put near the end of the file.
pub(crate) fn summarise_at(read_at: ReadAt<'_>, size: u64) -> std::io::Result<Streamed> {
    const HEAD: u64 = 64 << 10;
    let head = read_range(read_at, 0, HEAD.min(size))?;
    let Some(layout) = Layout::parse(&head) else {
        return Ok(Streamed::ReadWhole);
    };
    let Some((dyn_off, dyn_len)) = layout.dynamic else {
        return Ok(Streamed::Done(ElfSummary::parse_headers_only(&head)));
    };
    let dyn_end = dyn_off.saturating_add(dyn_len).min(size);
    if dyn_end <= dyn_off || dyn_len > (16 << 20) {
        return Ok(Streamed::ReadWhole);
    }
    let dynbuf = read_range(read_at, dyn_off, dyn_len)?;
    if dynbuf.len() as u64 != dyn_len {
        return Ok(Streamed::Done(None));
    }
    let (out, entries, str_off, str_len) = match layout.read_dynamic(&dynbuf) {
        Dynamic::Done(summary) => return Ok(Streamed::Done(summary)),
        Dynamic::Strings(out, entries, str_off, str_len) => (out, entries, str_off, str_len),
    };
    if str_len > (16 << 20) || str_off.saturating_add(str_len) > size {
        return Ok(Streamed::Done(None));
    }
    let strings = read_range(read_at, str_off, str_len)?;
    if strings.len() as u64 != str_len {
        return Ok(Streamed::Done(None));
    }
    Ok(Streamed::Done(with_strings(out, &entries, &strings)))
}

/// What the dynamic segment says: a finished summary, or the summary so far with the entries
/// whose strings are still to be looked up in `.dynstr` (its file offset and length).
enum Dynamic {
    Done(Option<ElfSummary>),
    Strings(ElfSummary, Vec<(u64, u64)>, u64, u64),
}

impl Layout {
    fn read_dynamic(&self, dynbuf: &[u8]) -> Dynamic {
        let Some((entries, str_off, str_len)) = self.dynamic_entries(dynbuf) else {
            return Dynamic::Done(None);
        };
        let out = ElfSummary {
            machine: self.machine,
            class: self.class,
            ..ElfSummary::default()
        };
        if entries.is_empty() {
            return Dynamic::Done(Some(out));
        }
        Dynamic::Strings(out, entries, str_off, str_len)
    }
}

/// The outcome of [`summarise_stream`].
pub(crate) enum Streamed {
    /// The summary (`None`: malformed, or its strings lie outside the kept ranges).
    Done(Option<ElfSummary>),
    /// Nothing past the prefix in `prefix` was consumed; read the member whole instead.
    ReadWhole,
}

/// The parts of the ELF and program headers the stream reader needs.
struct Layout {
    class: u8,
    little: bool,
    machine: u16,
    /// `(file offset, file size)` of `PT_DYNAMIC`.
    dynamic: Option<(u64, u64)>,
    /// `(vaddr, offset, filesz)` of each `PT_LOAD`.
    loads: Vec<(u64, u64, u64)>,
    first_load_end: u64,
}

fn rd(data: &[u8], at: usize, len: usize, little: bool) -> Option<u64> {
    let b = data.get(at..at.checked_add(len)?)?;
    let mut v = 0u64;
    if little {
        for (i, x) in b.iter().enumerate() {
            v |= u64::from(*x) << (8 * i);
        }
    } else {
        for x in b {
            v = (v << 8) | u64::from(*x);
        }
    }
    Some(v)
}

impl Layout {
    fn parse(d: &[u8]) -> Option<Layout> {
        if d.get(..4)? != ELF_MAGIC {
            return None;
        }
        let class = match d.get(4)? {
            1 => 32,
            2 => 64,
            _ => return None,
        };
        let little = match d.get(5)? {
            1 => true,
            2 => false,
            _ => return None,
        };
        let machine = rd(d, 18, 2, little)? as u16;
        let (phoff, phentsize, phnum) = if class == 64 {
            (
                rd(d, 32, 8, little)?,
                rd(d, 54, 2, little)?,
                rd(d, 56, 2, little)?,
            )
        } else {
            (
                rd(d, 28, 4, little)?,
                rd(d, 42, 2, little)?,
                rd(d, 44, 2, little)?,
            )
        };
        let mut layout = Layout {
            class,
            little,
            machine,
            dynamic: None,
            loads: Vec::new(),
            first_load_end: 0,
        };
        for i in 0..phnum {
            let at = usize::try_from(phoff.checked_add(i.checked_mul(phentsize)?)?).ok()?;
            let (ty, off, vaddr, filesz) = if class == 64 {
                (
                    rd(d, at, 4, little)?,
                    rd(d, at + 8, 8, little)?,
                    rd(d, at + 16, 8, little)?,
                    rd(d, at + 32, 8, little)?,
                )
            } else {
                (
                    rd(d, at, 4, little)?,
                    rd(d, at + 4, 4, little)?,
                    rd(d, at + 8, 4, little)?,
                    rd(d, at + 16, 4, little)?,
                )
            };
            match ty {
                1 => layout.loads.push((vaddr, off, filesz)),
                2 => layout.dynamic = Some((off, filesz)),
                _ => {}
            }
        }
        layout.first_load_end = layout
            .loads
            .iter()
            .min_by_key(|(_, off, _)| *off)
            .map(|(_, off, sz)| off.saturating_add(*sz))
            .unwrap_or(0);
        Some(layout)
    }

    /// The string-valued entries (`DT_NEEDED`, `DT_SONAME`, `DT_RPATH`, `DT_RUNPATH`) with
    /// their string-table offsets, and the string table's file offset and size.
    #[allow(clippy::type_complexity)]
    fn dynamic_entries(&self, dynbuf: &[u8]) -> Option<(Vec<(u64, u64)>, u64, u64)> {
        let (esz, vsz) = if self.class == 64 { (16, 8) } else { (8, 4) };
        let mut strtab = None;
        let mut strsz = None;
        let mut entries = Vec::new();
        for i in 0..dynbuf.len() / esz {
            let tag = rd(dynbuf, i * esz, vsz, self.little)?;
            let val = rd(dynbuf, i * esz + vsz, vsz, self.little)?;
            match tag {
                0 => break,
                5 => strtab = Some(val),
                10 => strsz = Some(val),
                1 | 14 | 15 | 29 => entries.push((tag, val)),
                _ => {}
            }
        }
        if entries.is_empty() {
            return Some((entries, 0, 0));
        }
        let addr = strtab?;
        let (vaddr, off, _) = self
            .loads
            .iter()
            .find(|(v, _, sz)| addr >= *v && addr < v.saturating_add(*sz))?;
        Some((entries, addr - vaddr + off, strsz?))
    }
}

impl ElfSummary {
    /// Machine and class only: an ELF without a dynamic segment needs nothing.
    fn parse_headers_only(prefix: &[u8]) -> Option<ElfSummary> {
        let l = Layout::parse(prefix)?;
        Some(ElfSummary {
            machine: l.machine,
            class: l.class,
            ..ElfSummary::default()
        })
    }
}

#[cfg(test)]
mod stream_tests {
    use super::*;

    /// A [`ReadAt`] over bytes in memory, as a file's `read_at` would answer.
    fn read_slice_at(data: &[u8], offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        let rest = usize::try_from(offset)
            .ok()
            .and_then(|o| data.get(o..))
            .unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }

    /// libpython's builtin modules, read through the symbol tables only, are those of the
    /// whole-file parse (the host's libpythons: Debian's and pyenv's).
    #[test]
    fn exports_read_in_place_equal_the_whole_file_ones() {
        let mut candidates = vec![std::path::PathBuf::from(
            "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0",
        )];
        if let Ok(versions) = std::fs::read_dir("/root/.pyenv/versions") {
            for v in versions.flatten() {
                if let Ok(lib) = std::fs::read_dir(v.path().join("lib")) {
                    candidates.extend(
                        lib.flatten()
                            .map(|e| e.path())
                            .filter(|p| p.to_string_lossy().contains("libpython3")),
                    );
                }
            }
        }
        let mut checked = 0;
        for path in candidates {
            let Ok(data) = std::fs::read(&path) else {
                continue;
            };
            let Some(whole) = ElfSummary::parse_with_exports(&data) else {
                continue;
            };
            let read_at = |offset: u64, buf: &mut [u8]| read_slice_at(&data, offset, buf);
            let at = ElfSummary::parse_with_exports_at(&read_at, data.len() as u64);
            // `libpython3.so`, the stable-ABI stub, defines none.
            checked += usize::from(whole.init_exports.len() > 3);
            assert_eq!(at, Some(whole), "{}", path.display());
        }
        assert!(checked > 0 || !std::path::Path::new("/usr/lib/x86_64-linux-gnu").exists());
    }

    /// The streamed summary, and the one read where the parts lie, equal the whole-file one
    /// for the host's real shared objects.
    #[test]
    fn streaming_agrees_with_the_full_parse_on_host_libraries() {
        let mut checked = 0;
        for dir in [
            "/usr/lib/x86_64-linux-gnu",
            "/lib64",
            "/usr/lib/aarch64-linux-gnu",
        ] {
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            for e in rd.flatten().take(400) {
                let p = e.path();
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
                if !name.is_some_and(|n| n.contains(".so")) || !p.is_file() {
                    continue;
                }
                let Ok(data) = std::fs::read(&p) else {
                    continue;
                };
                let Some(full) = ElfSummary::parse(&data) else {
                    continue;
                };
                let read_at = |offset: u64, buf: &mut [u8]| read_slice_at(&data, offset, buf);
                let full_no_interp = ElfSummary {
                    interp: None,
                    ..full.clone()
                };
                match summarise_at(&read_at, data.len() as u64).unwrap() {
                    Streamed::Done(at) => {
                        assert_eq!(at.as_ref(), Some(&full_no_interp), "{}", p.display());
                        checked += 1;
                    }
                    Streamed::ReadWhole => {}
                }
                let mut prefix = Vec::new();
                let mut r = &data[..];
                if let Streamed::Done(streamed) =
                    summarise_stream(&mut r, data.len() as u64, &mut prefix).unwrap()
                {
                    // `PT_INTERP` is only read from whole files (captured programs).
                    let full = ElfSummary {
                        interp: None,
                        ..full
                    };
                    assert_eq!(streamed, Some(full), "{}", p.display());
                    checked += 1;
                }
            }
        }
        assert!(checked > 0 || !std::path::Path::new("/usr/lib/x86_64-linux-gnu").exists());
    }
}
