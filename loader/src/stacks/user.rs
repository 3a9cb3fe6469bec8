//! User-space symbolization: each process's executable mappings (`/proc/PID/maps`, kept
//! after the process exits) and the ELF symbols of each mapped file, cached per file.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use super::elf_syms::ElfSymbols;
use super::frame::Frame;
use super::procmaps::{self, FileId, Mapping};

/// Where Debian's debug packages put separate debug files.
const DEBUG_ROOT: &str = "/usr/lib/debug";

/// Per-process mappings and per-file symbols, kept for the whole run.
#[derive(Debug, Default)]
pub(crate) struct UserSymbols {
    /// The latest mappings read for each process.
    procs: HashMap<u32, Vec<Mapping>>,
    /// (pid, comm) pairs already snapshotted: a new comm for a known pid is usually an
    /// exec, which replaces the mappings.
    seen: HashSet<(u32, Vec<u8>)>,
    /// Symbols per file; `None` when the file could not be read or parsed.
    files: HashMap<FileId, Option<ElfSymbols>>,
}

impl UserSymbols {
    /// Snapshots the mappings of `pid` the first time it is seen with `comm`, so that its
    /// stacks can be symbolized after it exits.
    pub(crate) fn remember(&mut self, pid: u32, comm: &[u8]) {
        if self.seen.insert((pid, comm.to_vec())) {
            self.refresh(pid);
        }
    }

    /// Re-reads the mappings of `pid`; keeps the last snapshot when the process is gone.
    pub(crate) fn refresh(&mut self, pid: u32) {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/maps")) {
            self.procs.insert(pid, procmaps::parse(&text));
        }
    }

    /// The frame for `addr` in process `pid`. `ret` marks a return address (every frame
    /// but the innermost): it is looked up one byte back, inside the call instruction, so
    /// a call at the very end of a function is not attributed to the next one.
    pub(crate) fn frame(&mut self, pid: Option<u32>, addr: u64, ret: bool) -> Frame {
        let Some(m) = pid
            .and_then(|p| self.procs.get(&p))
            .and_then(|maps| procmaps::find(maps, addr))
            .cloned()
        else {
            return Frame::Unknown { addr };
        };
        if !m.is_file() {
            return match m.path.trim_matches(['[', ']']) {
                "" => Frame::Unknown { addr },
                special => Frame::Module {
                    module: special.to_string(),
                    offset: addr - m.start,
                },
            };
        }
        let look = if ret { addr.saturating_sub(1) } else { addr };
        let pid = pid.unwrap_or_default();
        let syms = self
            .files
            .entry(m.file)
            .or_insert_with(|| load(pid, &m))
            .as_ref();
        match syms.and_then(|s| s.lookup(m.file_offset(look))) {
            Some((name, off)) => Frame::Symbol {
                name: name.to_string(),
                offset: off + (addr - look),
            },
            None => Frame::Module {
                module: m.basename().to_string(),
                offset: m.file_offset(addr),
            },
        }
    }
}

/// Reads the symbols of the file mapped at `m` in `pid`, plus its separate debug file
/// when it is stripped and one is installed.
fn load(pid: u32, m: &Mapping) -> Option<ElfSymbols> {
    let file = open(pid, m)?;
    let cache = object::ReadCache::new(file);
    let mut syms = ElfSymbols::parse(&cache).ok()?;
    if let Some(debug) = syms.debug_file(Path::new(DEBUG_ROOT)) {
        let dbg = File::open(debug)
            .ok()
            .map(object::ReadCache::new)
            .and_then(|c| ElfSymbols::parse(&c).ok());
        if let Some(dbg) = dbg {
            syms.add_debug_symbols(&dbg);
        }
    }
    Some(syms)
}

/// Opens the file behind a mapping: through `/proc/PID/map_files` (works for deleted files
/// and other mount namespaces while the process lives), else by path in the process's
/// root, else by path here — checking it is still the same inode.
fn open(pid: u32, m: &Mapping) -> Option<File> {
    let candidates = [
        PathBuf::from(format!("/proc/{pid}/map_files/{:x}-{:x}", m.start, m.end)),
        PathBuf::from(format!("/proc/{pid}/root{}", m.path)),
        PathBuf::from(&m.path),
    ];
    candidates.iter().find_map(|p| {
        let f = File::open(p).ok()?;
        let same = std::os::unix::fs::MetadataExt::ino(&f.metadata().ok()?) == m.file.inode;
        same.then_some(f)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_binary_symbolizes_its_own_function() {
        // The unit test binary is a real PIE with a symbol table: resolve the address of a
        // function of it through this process's own maps, as the loader does for others.
        #[inline(never)]
        fn coreship_test_marker_fn() -> u64 {
            std::hint::black_box(42)
        }
        let pid = std::process::id();
        let addr = coreship_test_marker_fn as fn() -> u64 as usize as u64;
        assert_eq!(coreship_test_marker_fn(), 42);
        let mut u = UserSymbols::default();
        u.remember(pid, b"test");
        match u.frame(Some(pid), addr + 1, false) {
            Frame::Symbol { name, offset } => {
                assert!(name.contains("coreship_test_marker_fn"), "{name}");
                assert_eq!(offset, 1);
            }
            other => panic!("not resolved: {other:?}"),
        }
        // A return address just past the function's start still resolves to it.
        assert!(matches!(
            u.frame(Some(pid), addr + 1, true),
            Frame::Symbol { .. }
        ));
        assert_eq!(u.frame(None, addr, false), Frame::Unknown { addr });
        assert_eq!(
            u.frame(Some(u32::MAX), addr, false),
            Frame::Unknown { addr }
        );
    }
}
