//! [`SymbolTable`]: function start addresses sorted for binary search, names in one arena.
//! Shared by the kernel (kallsyms) and user (ELF) symbolizers.

/// One symbol: where it starts, how long it is (0: unknown), where its name is.
#[derive(Debug, Clone, Copy)]
struct Entry {
    addr: u64,
    size: u64,
    name_at: u32,
    name_len: u32,
}

/// Symbols sorted by address. Build with [`SymbolTable::push`], then
/// [`SymbolTable::finish`] before looking anything up.
#[derive(Debug, Default)]
pub(crate) struct SymbolTable {
    entries: Vec<Entry>,
    names: String,
}

impl SymbolTable {
    /// Adds a symbol of `size` bytes (0 when unknown) starting at `addr`.
    pub(crate) fn push(&mut self, addr: u64, size: u64, name: &str) {
        let (Ok(name_at), Ok(name_len)) =
            (u32::try_from(self.names.len()), u32::try_from(name.len()))
        else {
            return; // more than 4 GiB of names: not a real symbol table
        };
        self.names.push_str(name);
        self.entries.push(Entry {
            addr,
            size,
            name_at,
            name_len,
        });
    }

    /// Sorts by address and keeps one symbol per address: the first pushed among those
    /// with a size (aliases such as `__libc_malloc`/`malloc` resolve to the first seen).
    pub(crate) fn finish(&mut self) {
        // Stable sort: equal keys keep push order.
        self.entries.sort_by_key(|e| (e.addr, e.size == 0));
        self.entries.dedup_by_key(|e| e.addr);
        self.entries.shrink_to_fit();
        self.names.shrink_to_fit();
    }

    /// Merges `other`'s symbols (e.g. from a separate debug file) into this table.
    pub(crate) fn extend(&mut self, other: &SymbolTable) {
        for e in &other.entries {
            self.push(e.addr, e.size, other.name(e));
        }
        self.finish();
    }

    /// Number of symbols.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn name(&self, e: &Entry) -> &str {
        let at = e.name_at as usize;
        &self.names[at..at + e.name_len as usize]
    }

    /// The symbol containing `addr` and the offset into it: the last symbol starting at or
    /// before `addr`, unless it has a size and `addr` lies past its end.
    pub(crate) fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        let i = self.entries.partition_point(|e| e.addr <= addr);
        let e = self.entries.get(i.checked_sub(1)?)?;
        let off = addr - e.addr;
        if e.size != 0 && off >= e.size {
            return None;
        }
        Some((self.name(e), off))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(syms: &[(u64, u64, &str)]) -> SymbolTable {
        let mut t = SymbolTable::default();
        for &(a, s, n) in syms {
            t.push(a, s, n);
        }
        t.finish();
        t
    }

    #[test]
    fn finds_the_containing_symbol_and_offset() {
        let t = table(&[(0x2000, 0x10, "b"), (0x1000, 0x100, "a"), (0x3000, 0, "c")]);
        assert_eq!(t.lookup(0x1000), Some(("a", 0)));
        assert_eq!(t.lookup(0x10ff), Some(("a", 0xff)));
        assert_eq!(t.lookup(0x1100), None, "past a's end");
        assert_eq!(t.lookup(0x2004), Some(("b", 4)));
        assert_eq!(t.lookup(0x9999), Some(("c", 0x6999)), "c has no size");
        assert_eq!(t.lookup(0xfff), None, "before every symbol");
    }

    #[test]
    fn aliases_keep_the_first_sized_symbol() {
        let t = table(&[(0x10, 0, "nosize"), (0x10, 8, "first"), (0x10, 8, "alias")]);
        assert_eq!(t.len(), 1);
        assert_eq!(t.lookup(0x12), Some(("first", 2)));
    }

    #[test]
    fn extend_merges_and_resorts() {
        let mut t = table(&[(0x100, 0x10, "dyn")]);
        t.extend(&table(&[(0x200, 0x10, "local"), (0x100, 0x10, "dup")]));
        assert_eq!(t.lookup(0x205), Some(("local", 5)));
        assert_eq!(t.lookup(0x105), Some(("dyn", 5)));
        assert_eq!(t.len(), 2);
    }
}
