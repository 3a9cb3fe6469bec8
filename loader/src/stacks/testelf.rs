//! Minimal ELF64 little-endian shared objects for unit tests: two PT_LOAD segments, a
//! symbol table (`.symtab` or `.dynsym`) and an optional GNU build id.

/// `(name, address, size, is_function)`; address 0 means undefined.
pub(crate) type TestSym<'a> = (&'a str, u64, u64, bool);

/// Text segment: file offset 0x1000 loaded at 0x401000, 0x1000 bytes.
pub(crate) const TEXT_OFF: u64 = 0x1000;
pub(crate) const TEXT_VADDR: u64 = 0x401000;
/// Data segment: file offset 0x2000 loaded at 0x603000, 0x100 bytes.
pub(crate) const DATA_OFF: u64 = 0x2000;
pub(crate) const DATA_VADDR: u64 = 0x603000;

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(bytes);
}

fn align(out: &mut Vec<u8>, to: usize) {
    out.resize(out.len().next_multiple_of(to), 0);
}

struct Shdr {
    name: u32,
    kind: u32,
    flags: u64,
    addr: u64,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
    align: u64,
    entsize: u64,
}

/// Builds the object. `dynamic` puts the symbols in `.dynsym`/`.dynstr` (a stripped
/// library) instead of `.symtab`/`.strtab`.
pub(crate) fn build(syms: &[TestSym<'_>], dynamic: bool, build_id: Option<&[u8]>) -> Vec<u8> {
    let mut f = vec![0u8; 64 + 2 * 56];
    f.resize(TEXT_OFF as usize, 0);
    f.resize((DATA_OFF + 0x100) as usize, 0x90);

    let mut strtab = vec![0u8];
    let mut symtab = vec![0u8; 24];
    for &(name, addr, size, func) in syms {
        let name_off = strtab.len() as u32;
        put(&mut strtab, name.as_bytes());
        strtab.push(0);
        let (kind, shndx) = match (func, addr) {
            (_, 0) => (2u8, 0u16),
            (true, _) => (2, 1),
            (false, _) => (1, 2),
        };
        put(&mut symtab, &name_off.to_le_bytes());
        symtab.push((1 << 4) | kind); // STB_GLOBAL
        symtab.push(0);
        put(&mut symtab, &shndx.to_le_bytes());
        put(&mut symtab, &addr.to_le_bytes());
        put(&mut symtab, &size.to_le_bytes());
    }
    align(&mut f, 8);
    let symtab_off = f.len() as u64;
    put(&mut f, &symtab);
    let strtab_off = f.len() as u64;
    put(&mut f, &strtab);
    align(&mut f, 4);
    let note_off = f.len() as u64;
    if let Some(id) = build_id {
        put(&mut f, &4u32.to_le_bytes());
        put(&mut f, &(id.len() as u32).to_le_bytes());
        put(&mut f, &3u32.to_le_bytes()); // NT_GNU_BUILD_ID
        put(&mut f, b"GNU\0");
        put(&mut f, id);
        align(&mut f, 4);
    }
    let note_size = f.len() as u64 - note_off;
    let names: &[&str] = match dynamic {
        true => &[
            "",
            ".text",
            ".data",
            ".dynsym",
            ".dynstr",
            ".note.gnu.build-id",
            ".shstrtab",
        ],
        false => &[
            "",
            ".text",
            ".data",
            ".symtab",
            ".strtab",
            ".note.gnu.build-id",
            ".shstrtab",
        ],
    };
    let shstr_off = f.len() as u64;
    let mut name_at = Vec::new();
    for n in names {
        name_at.push((f.len() as u64 - shstr_off) as u32);
        put(&mut f, n.as_bytes());
        f.push(0);
    }
    let shstr_size = f.len() as u64 - shstr_off;
    align(&mut f, 8);
    let shoff = f.len() as u64;
    let shdrs = [
        Shdr {
            name: 0,
            kind: 0,
            flags: 0,
            addr: 0,
            offset: 0,
            size: 0,
            link: 0,
            info: 0,
            align: 0,
            entsize: 0,
        },
        Shdr {
            name: name_at[1],
            kind: 1,
            flags: 6,
            addr: TEXT_VADDR,
            offset: TEXT_OFF,
            size: 0x1000,
            link: 0,
            info: 0,
            align: 16,
            entsize: 0,
        },
        Shdr {
            name: name_at[2],
            kind: 1,
            flags: 3,
            addr: DATA_VADDR,
            offset: DATA_OFF,
            size: 0x100,
            link: 0,
            info: 0,
            align: 8,
            entsize: 0,
        },
        Shdr {
            name: name_at[3],
            kind: if dynamic { 11 } else { 2 },
            flags: if dynamic { 2 } else { 0 },
            addr: 0,
            offset: symtab_off,
            size: symtab.len() as u64,
            link: 4,
            info: 1,
            align: 8,
            entsize: 24,
        },
        Shdr {
            name: name_at[4],
            kind: 3,
            flags: 0,
            addr: 0,
            offset: strtab_off,
            size: strtab.len() as u64,
            link: 0,
            info: 0,
            align: 1,
            entsize: 0,
        },
        Shdr {
            name: name_at[5],
            kind: 7,
            flags: 2,
            addr: 0,
            offset: note_off,
            size: note_size,
            link: 0,
            info: 0,
            align: 4,
            entsize: 0,
        },
        Shdr {
            name: name_at[6],
            kind: 3,
            flags: 0,
            addr: 0,
            offset: shstr_off,
            size: shstr_size,
            link: 0,
            info: 0,
            align: 1,
            entsize: 0,
        },
    ];
    for s in &shdrs {
        put(&mut f, &s.name.to_le_bytes());
        put(&mut f, &s.kind.to_le_bytes());
        put(&mut f, &s.flags.to_le_bytes());
        put(&mut f, &s.addr.to_le_bytes());
        put(&mut f, &s.offset.to_le_bytes());
        put(&mut f, &s.size.to_le_bytes());
        put(&mut f, &s.link.to_le_bytes());
        put(&mut f, &s.info.to_le_bytes());
        put(&mut f, &s.align.to_le_bytes());
        put(&mut f, &s.entsize.to_le_bytes());
    }

    // ELF header.
    let mut h = Vec::with_capacity(64);
    put(&mut h, b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    put(&mut h, &3u16.to_le_bytes()); // ET_DYN
    put(&mut h, &62u16.to_le_bytes()); // EM_X86_64
    put(&mut h, &1u32.to_le_bytes());
    put(&mut h, &TEXT_VADDR.to_le_bytes()); // entry
    put(&mut h, &64u64.to_le_bytes()); // phoff
    put(&mut h, &shoff.to_le_bytes());
    put(&mut h, &0u32.to_le_bytes());
    for v in [64u16, 56, 2, 64, shdrs.len() as u16, 6] {
        put(&mut h, &v.to_le_bytes());
    }
    // Program headers: PT_LOAD r-x for .text, PT_LOAD rw- for .data.
    for (off, vaddr, size, flags) in [
        (TEXT_OFF, TEXT_VADDR, 0x1000u64, 5u32),
        (DATA_OFF, DATA_VADDR, 0x100, 6),
    ] {
        put(&mut h, &1u32.to_le_bytes());
        put(&mut h, &flags.to_le_bytes());
        for v in [off, vaddr, vaddr, size, size, 0x1000] {
            put(&mut h, &v.to_le_bytes());
        }
    }
    f[..h.len()].copy_from_slice(&h);
    f
}
