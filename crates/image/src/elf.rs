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
        match FileKind::parse(data).ok()? {
            FileKind::Elf32 => summarise(&ElfFile32::<object::Endianness>::parse(data).ok()?, 32),
            FileKind::Elf64 => summarise(&ElfFile64::<object::Endianness>::parse(data).ok()?, 64),
            _ => None,
        }
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
        assert!(s.needed.iter().any(|n| n.starts_with("libc.so")), "{s:?}");
    }

    #[test]
    fn garbage_is_not_elf() {
        assert_eq!(ElfSummary::parse(b"\x7fELF\x02\x01garbage"), None);
        assert_eq!(ElfSummary::parse(b"#!/bin/sh\n"), None);
    }
}
