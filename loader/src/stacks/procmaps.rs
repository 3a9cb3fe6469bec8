//! `/proc/PID/maps`: which file backs an address of a process, at which file offset.

/// A file-backed, executable mapping of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mapping {
    /// First address.
    pub(crate) start: u64,
    /// One past the last address.
    pub(crate) end: u64,
    /// File offset mapped at `start`.
    pub(crate) offset: u64,
    /// The file's identity: device and inode (0 for anonymous or special mappings).
    pub(crate) file: FileId,
    /// Path as the process sees it; `[vdso]` and friends for special mappings. A
    /// " (deleted)" suffix is removed.
    pub(crate) path: String,
}

/// A file's identity across processes: `(device, inode)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FileId {
    pub(crate) dev: u64,
    pub(crate) inode: u64,
}

impl Mapping {
    /// The file offset `addr` (inside this mapping) maps.
    pub(crate) fn file_offset(&self, addr: u64) -> u64 {
        addr - self.start + self.offset
    }

    /// The file name without its directory (`libc.so.6`).
    pub(crate) fn basename(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// Whether a file backs it (not `[vdso]`, `[heap]`, anonymous).
    pub(crate) fn is_file(&self) -> bool {
        self.file.inode != 0 && self.path.starts_with('/')
    }
}

/// Parses maps text into its executable mappings, sorted by address. Lines look like
/// `55d0c8a00000-55d0c8a01000 r-xp 00001000 fd:01 1234    /usr/bin/true`; the path may
/// contain spaces and is absent for anonymous memory.
pub(crate) fn parse(text: &str) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = text.lines().filter_map(parse_line).collect();
    out.sort_by_key(|m| m.start);
    out
}

fn parse_line(line: &str) -> Option<Mapping> {
    let mut rest = line;
    let mut field = || {
        let t = rest.trim_start();
        let end = t.find(' ').unwrap_or(t.len());
        let (f, r) = t.split_at(end);
        rest = r;
        f
    };
    let range = field();
    let perms = field();
    let offset = field();
    let dev = field();
    let inode = field();
    if perms.as_bytes().get(2) != Some(&b'x') {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let (major, minor) = dev.split_once(':')?;
    let hex = |s: &str| u64::from_str_radix(s, 16).ok();
    let path = rest.trim();
    Some(Mapping {
        start: hex(start)?,
        end: hex(end)?,
        offset: hex(offset)?,
        file: FileId {
            dev: (hex(major)? << 32) | hex(minor)?,
            inode: inode.parse().ok()?,
        },
        path: path.strip_suffix(" (deleted)").unwrap_or(path).to_string(),
    })
}

/// The mapping containing `addr`, if any.
pub(crate) fn find(maps: &[Mapping], addr: u64) -> Option<&Mapping> {
    let i = maps.partition_point(|m| m.start <= addr);
    maps.get(i.checked_sub(1)?).filter(|m| addr < m.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
5581a0a00000-5581a0a01000 r--p 00000000 fd:01 393231                     /tmp/my demo
5581a0a01000-5581a0a02000 r-xp 00001000 fd:01 393231                     /tmp/my demo
5581a1b2c000-5581a1b4d000 rw-p 00000000 00:00 0                          [heap]
7f3c1a228000-7f3c1a3ad000 r-xp 00028000 fd:01 1835221                    /usr/lib/x86_64-linux-gnu/libc.so.6
7f3c1a500000-7f3c1a501000 r-xp 00001000 fd:01 77                         /tmp/gone (deleted)
7ffd5b5f0000-7ffd5b5f2000 r-xp 00000000 00:00 0                          [vdso]
7ffd5b600000-7ffd5b601000 r-xp 00000000 00:00 0
";

    #[test]
    fn keeps_executable_mappings_with_paths_and_offsets() {
        let maps = parse(MAPS);
        assert_eq!(maps.len(), 5, "{maps:#?}");
        let demo = find(&maps, 0x5581a0a01234).unwrap();
        assert_eq!(demo.path, "/tmp/my demo");
        assert_eq!(demo.file_offset(0x5581a0a01234), 0x1234);
        assert_eq!(
            demo.file,
            FileId {
                dev: (0xfd << 32) | 1,
                inode: 393231
            }
        );
        assert!(demo.is_file());
        let libc = find(&maps, 0x7f3c1a22a1ca).unwrap();
        assert_eq!(libc.basename(), "libc.so.6");
        assert_eq!(libc.file_offset(0x7f3c1a22a1ca), 0x2a1ca);
        assert_eq!(find(&maps, 0x7f3c1a500010).unwrap().path, "/tmp/gone");
        let vdso = find(&maps, 0x7ffd5b5f0100).unwrap();
        assert!(!vdso.is_file());
        assert_eq!(vdso.path, "[vdso]");
        assert_eq!(find(&maps, 0x7ffd5b600010).unwrap().path, "");
    }

    #[test]
    fn addresses_outside_mappings_find_nothing() {
        let maps = parse(MAPS);
        assert!(find(&maps, 0x5581a0a00010).is_none(), "not executable");
        assert!(find(&maps, 0x1000).is_none());
        assert!(find(&maps, 0x7f3c1a3ad000).is_none(), "end is exclusive");
    }
}
