//! Function symbols of one ELF file (executable or shared library), looked up by the file
//! offset an address maps to: `/proc/PID/maps` gives the offset, the program headers turn
//! it into the virtual address symbols use (the same for PIE and non-PIE files).

use std::path::{Path, PathBuf};

use object::{Object, ObjectSegment, ObjectSymbol, ReadRef, SymbolKind};

use super::symtab::SymbolTable;

/// A loadable segment: `size` bytes of the file from `offset` are loaded at `vaddr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    offset: u64,
    size: u64,
    vaddr: u64,
}

/// The functions of one ELF file and how its file offsets map to virtual addresses.
#[derive(Debug, Default)]
pub(crate) struct ElfSymbols {
    table: SymbolTable,
    segments: Vec<Segment>,
    build_id: Option<Vec<u8>>,
    has_symtab: bool,
}

impl ElfSymbols {
    /// Reads the function symbols of `.symtab` and `.dynsym` and the `PT_LOAD` segments.
    /// `data` can be bytes or an [`object::ReadCache`] over a file (which reads only the
    /// headers and symbol tables).
    pub(crate) fn parse<'d, R: ReadRef<'d>>(data: R) -> Result<ElfSymbols, object::Error> {
        let file = object::File::parse(data)?;
        let mut table = SymbolTable::default();
        let mut has_symtab = false;
        for sym in file.symbols() {
            has_symtab = true;
            add(&mut table, &sym);
        }
        for sym in file.dynamic_symbols() {
            add(&mut table, &sym);
        }
        table.finish();
        let segments = file
            .segments()
            .map(|s| {
                let (offset, size) = s.file_range();
                Segment {
                    offset,
                    size,
                    vaddr: s.address(),
                }
            })
            .collect();
        Ok(ElfSymbols {
            table,
            segments,
            build_id: file.build_id().ok().flatten().map(<[u8]>::to_vec),
            has_symtab,
        })
    }

    /// The function at file offset `offset` and the offset into it.
    pub(crate) fn lookup(&self, offset: u64) -> Option<(&str, u64)> {
        self.table.lookup(self.vaddr(offset)?)
    }

    /// The virtual address file offset `offset` is loaded at.
    fn vaddr(&self, offset: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|s| offset >= s.offset && offset - s.offset < s.size)
            .map(|s| s.vaddr + (offset - s.offset))
    }

    /// Where a separate debug file with the full symbol table would be, when this file has
    /// no `.symtab` but a build id: `ROOT/.build-id/ab/cdef….debug` (Debian's `-dbg` and
    /// `-dbgsym` packages, ROOT usually `/usr/lib/debug`).
    pub(crate) fn debug_file(&self, root: &Path) -> Option<PathBuf> {
        if self.has_symtab {
            return None;
        }
        let id = self.build_id.as_deref().filter(|id| id.len() >= 2)?;
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        Some(
            root.join(".build-id")
                .join(hex(&id[..1]))
                .join(format!("{}.debug", hex(&id[1..]))),
        )
    }

    /// Adds the symbols of this file's separate debug file.
    pub(crate) fn add_debug_symbols(&mut self, debug: &ElfSymbols) {
        self.table.extend(&debug.table);
        self.has_symtab |= debug.has_symtab;
    }
}

/// Adds `sym` when it is a defined function with a size. Size-0 symbols (`_init`, crt
/// helpers) are left out: they would claim every address up to the next symbol, such as
/// the PLT stubs that follow `_init`.
fn add<'d>(table: &mut SymbolTable, sym: &impl ObjectSymbol<'d>) {
    let function = sym.kind() == SymbolKind::Text && sym.is_definition();
    if !function || sym.address() == 0 || sym.size() == 0 {
        return;
    }
    if let Ok(name) = sym.name() {
        if !name.is_empty() {
            table.push(sym.address(), sym.size(), name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testelf::{build, DATA_OFF, TEXT_OFF, TEXT_VADDR};
    use super::*;

    const SYMS: &[(&str, u64, u64, bool)] = &[
        ("coreship_hot_spin", TEXT_VADDR + 0x100, 0x40, true),
        ("main", TEXT_VADDR + 0x140, 0x30, true),
        ("_init", TEXT_VADDR + 0x200, 0, true),
        ("some_object", 0x603000, 8, false),
        ("imported", 0, 0, true),
    ];

    #[test]
    fn file_offsets_resolve_through_the_load_segments() {
        let elf = ElfSymbols::parse(&build(SYMS, false, None)[..]).unwrap();
        assert_eq!(
            elf.lookup(TEXT_OFF + 0x114),
            Some(("coreship_hot_spin", 0x14))
        );
        assert_eq!(elf.lookup(TEXT_OFF + 0x140), Some(("main", 0)));
        assert_eq!(elf.lookup(TEXT_OFF + 0x170), None, "past main's end");
        assert_eq!(elf.lookup(DATA_OFF), None, "objects are not functions");
        assert_eq!(
            elf.lookup(TEXT_OFF + 0x210),
            None,
            "size-0 symbols claim nothing"
        );
        assert_eq!(elf.lookup(0x10), None, "not in a load segment");
        assert_eq!(
            elf.debug_file(Path::new("/usr/lib/debug")),
            None,
            "has .symtab"
        );
    }

    #[test]
    fn stripped_libraries_resolve_through_dynsym_and_name_their_debug_file() {
        let id = [0xab, 0xcd, 0xef, 0x01];
        let mut elf = ElfSymbols::parse(&build(&SYMS[..1], true, Some(&id))[..]).unwrap();
        assert_eq!(elf.lookup(TEXT_OFF + 0x101), Some(("coreship_hot_spin", 1)));
        assert_eq!(elf.lookup(TEXT_OFF + 0x141), None);
        assert_eq!(
            elf.debug_file(Path::new("/usr/lib/debug")),
            Some(PathBuf::from("/usr/lib/debug/.build-id/ab/cdef01.debug"))
        );
        let debug = ElfSymbols::parse(&build(SYMS, false, None)[..]).unwrap();
        elf.add_debug_symbols(&debug);
        assert_eq!(elf.lookup(TEXT_OFF + 0x141), Some(("main", 1)));
        assert_eq!(elf.debug_file(Path::new("/usr/lib/debug")), None);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(ElfSymbols::parse(&b"not an elf file"[..]).is_err());
    }
}
