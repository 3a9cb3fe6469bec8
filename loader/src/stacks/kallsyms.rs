//! Kernel symbols from `/proc/kallsyms`: parsed once, text symbols only, sorted.

use super::symtab::SymbolTable;

/// Where the kernel lists its symbols.
const KALLSYMS: &str = "/proc/kallsyms";

/// The kernel's text symbols. Empty, with [`KernelSymbols::hidden`] set, when
/// `kernel.kptr_restrict` (or missing privileges) makes every address read as zero.
#[derive(Debug, Default)]
pub(crate) struct KernelSymbols {
    table: SymbolTable,
    hidden: bool,
}

impl KernelSymbols {
    /// Reads `/proc/kallsyms`; an unreadable file gives an empty table (frames print as
    /// `[unknown]`, as they do when addresses are hidden).
    pub(crate) fn load() -> KernelSymbols {
        match std::fs::read_to_string(KALLSYMS) {
            Ok(text) => KernelSymbols::parse(&text),
            Err(_) => KernelSymbols {
                hidden: true,
                ..KernelSymbols::default()
            },
        }
    }

    /// Parses kallsyms text: `ffffffff81000000 T _stext`, optionally followed by a tab and
    /// `[module]`. Keeps text symbols (`t`, `T`, `w`, `W`); lines that do not parse are
    /// skipped.
    pub(crate) fn parse(text: &str) -> KernelSymbols {
        let mut table = SymbolTable::default();
        let mut lines = 0usize;
        for line in text.lines() {
            let mut f = line.split_ascii_whitespace();
            let (Some(addr), Some(kind), Some(name)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            lines += 1;
            if !matches!(kind, "t" | "T" | "w" | "W") {
                continue;
            }
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                continue;
            };
            if addr != 0 {
                table.push(addr, 0, name);
            }
        }
        table.finish();
        KernelSymbols {
            hidden: lines > 0 && table.len() == 0,
            table,
        }
    }

    /// Whether the kernel hid its addresses (every one read as zero).
    pub(crate) fn hidden(&self) -> bool {
        self.hidden
    }

    /// The function containing `addr` and the offset into it.
    pub(crate) fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        self.table.lookup(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
ffffffff81000000 T _stext
ffffffff81001000 t do_one_initcall
ffffffff81002000 D some_data
ffffffff81003000 T do_syscall_64
ffffffff81003800 W weak_fn
ffffffffc0201000 t ext4_writepages\t[ext4]
garbage
";

    #[test]
    fn text_symbols_resolve_with_offsets() {
        let k = KernelSymbols::parse(TEXT);
        assert!(!k.hidden());
        assert_eq!(k.lookup(0xffffffff81003072), Some(("do_syscall_64", 0x72)));
        assert_eq!(
            k.lookup(0xffffffff81002010),
            Some(("do_one_initcall", 0x1010))
        );
        assert_eq!(k.lookup(0xffffffff81003801), Some(("weak_fn", 1)));
        assert_eq!(k.lookup(0xffffffffc0201005), Some(("ext4_writepages", 5)));
        assert_eq!(k.lookup(0x1000), None);
    }

    #[test]
    fn restricted_kallsyms_is_hidden() {
        let k =
            KernelSymbols::parse("0000000000000000 T _stext\n0000000000000000 t do_syscall_64\n");
        assert!(k.hidden());
        assert_eq!(k.lookup(0xffffffff81000000), None);
    }
}
