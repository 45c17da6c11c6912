//! A minimal ELF file standing in for the interpreter binary of a modelled image: a symbol
//! table that defines `PyInit_<module>` for each builtin module and nothing else (no program
//! headers, no code). The interpreter model reads `sys.builtin_module_names` from exactly these
//! symbols of a real binary, so the synthetic image is read by the same code as a real one.

const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const STB_GLOBAL_STT_FUNC: u8 = 0x12;

fn machine(arch: &str) -> u16 {
    match arch {
        "arm64" | "aarch64" => 183,
        "386" | "i386" => 3,
        _ => 62,
    }
}

struct Section {
    name: u32,
    kind: u32,
    flags: u64,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
    align: u64,
    entsize: u64,
}

/// An ELF64 little-endian shared object for `arch` defining `PyInit_<name>` for each name.
pub fn python_binary<'a>(arch: &str, builtins: impl Iterator<Item = &'a str>) -> Vec<u8> {
    // String tables.
    let mut strtab = vec![0u8];
    let mut symtab = vec![0u8; 24]; // the null symbol
    for name in builtins {
        let off = strtab.len() as u32;
        strtab.extend_from_slice(format!("PyInit_{name}").as_bytes());
        strtab.push(0);
        let mut sym = [0u8; 24];
        sym[0..4].copy_from_slice(&off.to_le_bytes());
        sym[4] = STB_GLOBAL_STT_FUNC;
        sym[6..8].copy_from_slice(&1u16.to_le_bytes()); // .text
        sym[16..24].copy_from_slice(&1u64.to_le_bytes()); // size 1: a definition
        symtab.extend_from_slice(&sym);
    }
    let shstr_names = ["", ".text", ".symtab", ".strtab", ".shstrtab"];
    let mut shstrtab = Vec::new();
    let mut name_offs = Vec::new();
    for n in shstr_names {
        name_offs.push(shstrtab.len() as u32);
        shstrtab.extend_from_slice(n.as_bytes());
        shstrtab.push(0);
    }
    let text = [0xc3u8; 16]; // `ret`
    let mut out = vec![0u8; 64];
    let align8 = |v: &mut Vec<u8>| {
        while !v.len().is_multiple_of(8) {
            v.push(0);
        }
    };
    let text_off = out.len() as u64;
    out.extend_from_slice(&text);
    align8(&mut out);
    let symtab_off = out.len() as u64;
    out.extend_from_slice(&symtab);
    let strtab_off = out.len() as u64;
    out.extend_from_slice(&strtab);
    let shstrtab_off = out.len() as u64;
    out.extend_from_slice(&shstrtab);
    align8(&mut out);
    let sections = [
        Section {
            name: 0,
            kind: 0,
            flags: 0,
            offset: 0,
            size: 0,
            link: 0,
            info: 0,
            align: 0,
            entsize: 0,
        },
        Section {
            name: name_offs[1],
            kind: SHT_PROGBITS,
            flags: 0x6, // ALLOC | EXECINSTR
            offset: text_off,
            size: text.len() as u64,
            link: 0,
            info: 0,
            align: 16,
            entsize: 0,
        },
        Section {
            name: name_offs[2],
            kind: SHT_SYMTAB,
            flags: 0,
            offset: symtab_off,
            size: symtab.len() as u64,
            link: 3,
            info: 1, // index of the first global symbol
            align: 8,
            entsize: 24,
        },
        Section {
            name: name_offs[3],
            kind: SHT_STRTAB,
            flags: 0,
            offset: strtab_off,
            size: strtab.len() as u64,
            link: 0,
            info: 0,
            align: 1,
            entsize: 0,
        },
        Section {
            name: name_offs[4],
            kind: SHT_STRTAB,
            flags: 0,
            offset: shstrtab_off,
            size: shstrtab.len() as u64,
            link: 0,
            info: 0,
            align: 1,
            entsize: 0,
        },
    ];
    let shoff = out.len() as u64;
    for s in &sections {
        out.extend_from_slice(&s.name.to_le_bytes());
        out.extend_from_slice(&s.kind.to_le_bytes());
        out.extend_from_slice(&s.flags.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // addr
        out.extend_from_slice(&s.offset.to_le_bytes());
        out.extend_from_slice(&s.size.to_le_bytes());
        out.extend_from_slice(&s.link.to_le_bytes());
        out.extend_from_slice(&s.info.to_le_bytes());
        out.extend_from_slice(&s.align.to_le_bytes());
        out.extend_from_slice(&s.entsize.to_le_bytes());
    }
    // ELF header.
    let h = &mut out[..64];
    h[0..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // 64-bit
    h[5] = 1; // little endian
    h[6] = 1; // version
    h[16..18].copy_from_slice(&3u16.to_le_bytes()); // ET_DYN
    h[18..20].copy_from_slice(&machine(arch).to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h[40..48].copy_from_slice(&shoff.to_le_bytes());
    h[52..54].copy_from_slice(&64u16.to_le_bytes()); // ehsize
    h[54..56].copy_from_slice(&56u16.to_le_bytes()); // phentsize
    h[58..60].copy_from_slice(&64u16.to_le_bytes()); // shentsize
    h[60..62].copy_from_slice(&(sections.len() as u16).to_le_bytes());
    h[62..64].copy_from_slice(&4u16.to_le_bytes()); // shstrndx
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interpreter_model_reads_the_builtins_back() {
        let elf = python_binary("amd64", ["_abc", "posix", "_io"].into_iter());
        let names = importgate_python::interpreter::builtins_from_elf(&elf).expect("parses");
        for n in ["_abc", "posix", "_io", "sys", "builtins"] {
            assert!(names.contains(n), "{n}: {names:?}");
        }
        let summary = importgate_image::ElfSummary::parse(&elf).expect("summary");
        assert_eq!(summary.machine, 62);
        assert!(summary.init_exports.is_empty());
    }

    /// A libpython is not kept, only summarised with its `PyInit_*` exports: the builtins are
    /// read back from the summary of a shared build's library.
    #[test]
    fn builtins_come_from_a_summarised_libpython() {
        use importgate_image::{ElfSummary, FileData, Keep, Meta, NewNode, Vfs};
        use std::sync::Arc;
        let lib = python_binary("amd64", ["_abc", "posix", "_io", "_sre"].into_iter());
        let path = "/usr/local/lib/libpython3.12.so.1.0";
        assert_eq!(
            importgate_check::capture_policy().keep(path, lib.len() as u64),
            Keep::ElfExports
        );
        let summary = ElfSummary::parse_with_exports(&lib).expect("summary");
        assert_eq!(summary.init_exports, ["_abc", "_io", "_sre", "posix"]);
        let mut vfs = Vfs::from_files(&[("usr/local/bin/python3.12", "ELF")]);
        vfs.insert(
            path,
            NewNode::File(FileData {
                size: lib.len() as u64,
                content: None,
                elf: Some(Arc::new(summary)),
            }),
            Meta::default(),
        )
        .expect("insert");
        let names = importgate_python::interpreter::read_builtins(
            &vfs,
            "/usr/local/bin/python3.12",
            "/usr/local",
        )
        .expect("builtins");
        for n in ["_abc", "posix", "_io", "_sre", "sys", "marshal"] {
            assert!(names.contains(n), "{n}: {names:?}");
        }
    }
}
