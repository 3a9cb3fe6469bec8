//! Daemonless runs: a probe's links and maps pinned in bpffs outlive the loader.
//!
//! Layout of a pin directory (default `/sys/fs/bpf/coreship/<name>`):
//! `links/<program>` (a perf_event program: `links/<program>-<n>`, one per CPU) and
//! `maps/<map>` (dots made underscores: bpffs refuses them). bpffs holds only BPF objects, so the [`PinRecord`] (name, digest, programs,
//! maps, since, the arguments needed to decode the output) sits beside it, under
//! [`runtime_dir`].
//!
//! A pinned link keeps its program attached with no process holding it: a kernel BPF link
//! (`bpf_link_create`: tracepoints, kprobes, uprobes and perf_event sampling through BPF perf
//! links, raw tracepoints, fentry/fexit) pins like a map. What cannot: libbpf's USDT
//! attachment (several uprobes plus entries in its spec maps, not one kernel link), and a
//! perf-event link made with the legacy ioctl (kernels before 5.15, no link fd); pinning such
//! a program is refused before anything is pinned. Once pinned, a link is "disconnected"
//! from libbpf so closing the loader does not disable its perf event.
//!
//! Re-attaching (`run --pin DIR` when DIR is pinned) loads no program: libbpf opens the
//! object with every map reusing its pin and every program switched off, so the same output
//! code reads the pinned maps. Removing the pins (`stop`) drops the last reference to each
//! link, which detaches it, and then to each program and map, which frees them.

mod record;

use std::path::{Path, PathBuf};

use libbpf_rs::MapCore;

pub use record::{map_pin, runtime_dir, utc, PinRecord, PinnedProgram};

use crate::attach::AttachKind;
use crate::{libbpf_log, LoadError, LoadOpts, ProbeSource, Session};

/// Where `--pin` without a value pins a probe: `/sys/fs/bpf/coreship/<name>`.
pub const DEFAULT_PIN_BASE: &str = "/sys/fs/bpf/coreship";

/// The default pin directory of probe `name`.
pub fn default_pin_dir(name: &str) -> PathBuf {
    Path::new(DEFAULT_PIN_BASE).join(name)
}

/// The pin name of `dir` (its last component), which `ps` shows and `stop` takes.
pub fn pin_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string())
}

const BPF_FS_MAGIC: i64 = 0xcafe4a11;

/// Whether `path` is on a bpffs mount.
fn on_bpffs(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs is plain data, written by the call; `c` is NUL-terminated.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    unsafe { libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as i64 == BPF_FS_MAGIC }
}

fn pin_err(path: &Path, what: impl Into<String>) -> LoadError {
    LoadError::Pin {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

impl Session {
    /// Pins every map and link under `dir` (which must be absent or empty, on bpffs) and
    /// disconnects the links, so they stay attached when this process exits. Refuses, before
    /// pinning anything, a program whose link cannot be pinned; on failure removes what it
    /// pinned. Returns the programs with their link pins, and the map names.
    pub fn pin(&mut self, dir: &Path) -> Result<(Vec<PinnedProgram>, Vec<String>), LoadError> {
        let sections: Vec<(String, String)> = self
            .object
            .progs()
            .map(|p| {
                (
                    p.name().to_string_lossy().into_owned(),
                    p.section().to_string_lossy().into_owned(),
                )
            })
            .collect();
        let kind_of = |name: &str| {
            let section = sections.iter().find(|(n, _)| n == name).map(|(_, s)| s);
            AttachKind::from_section(section.map_or("", String::as_str))
        };
        for (name, link) in &self.links {
            let kind = kind_of(name);
            let why = if matches!(kind, AttachKind::Usdt { .. }) {
                Some("libbpf attaches USDT probes as several uprobes plus entries in its own spec maps, not one kernel link")
            } else if link.info().is_err() {
                Some("its link is a perf event attached by ioctl, not a BPF link (this kernel lacks BPF perf links)")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(LoadError::Unpinnable {
                    program: name.clone(),
                    target: kind.describe(),
                    why: why.into(),
                });
            }
        }
        if dir.exists() && std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
            return Err(pin_err(dir, "it exists and is not empty"));
        }
        std::fs::create_dir_all(dir).map_err(|e| pin_err(dir, e.to_string()))?;
        if !on_bpffs(dir) {
            let _ = std::fs::remove_dir(dir);
            return Err(pin_err(
                dir,
                "not on a bpffs mount (mount -t bpf bpf /sys/fs/bpf)",
            ));
        }
        let result = self.pin_all(dir, &kind_of);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(dir);
        }
        let pinned = result?;
        for (_, link) in &mut self.links {
            // A pinned link must outlive this process: without this, libbpf would disable
            // its perf event when the link object is dropped.
            link.disconnect();
        }
        Ok(pinned)
    }

    fn pin_all(
        &mut self,
        dir: &Path,
        kind_of: &dyn Fn(&str) -> AttachKind,
    ) -> Result<(Vec<PinnedProgram>, Vec<String>), LoadError> {
        let mut maps = Vec::new();
        for mut map in self.object.maps_mut() {
            let name = map.name().to_string_lossy().into_owned();
            let path = dir.join(map_pin(&name));
            map.pin(&path)
                .map_err(|e| pin_err(&path, format!("{e:#}")))?;
            maps.push(name);
        }
        let mut programs: Vec<PinnedProgram> = Vec::new();
        let count = |name: &str| self.links.iter().filter(|(n, _)| n == name).count();
        let counts: Vec<usize> = self.links.iter().map(|(n, _)| count(n)).collect();
        for ((name, link), n) in self.links.iter_mut().zip(counts) {
            let entry = match programs.iter_mut().position(|p| p.name == *name) {
                Some(i) => &mut programs[i],
                None => {
                    programs.push(PinnedProgram {
                        name: name.clone(),
                        target: kind_of(name).describe(),
                        links: Vec::new(),
                    });
                    programs.last_mut().unwrap()
                }
            };
            let rel = if n > 1 {
                format!("links/{name}-{}", entry.links.len())
            } else {
                format!("links/{name}")
            };
            let path = dir.join(&rel);
            link.pin(&path)
                .map_err(|e| pin_err(&path, format!("{e:#}")))?;
            entry.links.push(rel);
        }
        Ok((programs, maps))
    }

    /// Re-attaches to the probe pinned as `record`: opens `src` (the same object) with every
    /// map reusing its pin and no program loaded. The session reads the pinned maps; dropping
    /// it leaves the pins (and so the attached programs) in place.
    pub fn reopen(
        src: &ProbeSource,
        record: &PinRecord,
        opts: &LoadOpts,
    ) -> Result<Session, LoadError> {
        // The same BTF choice as a fresh load (a kernel without BTF uses the shipped minimal one).
        let chosen = crate::kernel_btf::choose(src, opts.btf.as_deref(), opts.ignore_kernel_btf)?;
        let mut open =
            crate::session::open(&src.name, &src.bytes, &src.path, chosen.path.as_deref())?;
        for mut map in open.maps_mut() {
            let name = map.name().to_string_lossy().into_owned();
            let path = record.dir.join(map_pin(&name));
            if !path.exists() {
                return Err(pin_err(
                    &path,
                    "the pinned map is gone: `coreship-load stop` it and run it again",
                ));
            }
            map.reuse_pinned_map(&path)
                .map_err(|e| pin_err(&path, format!("cannot reuse the pinned map: {e:#}")))?;
        }
        for mut prog in open.progs_mut() {
            prog.set_autoload(false);
        }
        let (result, lines) = libbpf_log::capture(|| open.load());
        let object = result.map_err(|e| LoadError::Load {
            path: src.path.clone(),
            said: lines.last().cloned().unwrap_or_else(|| format!("{e:#}")),
        })?;
        Ok(Session {
            links: Vec::new(),
            failures: Vec::new(),
            object,
            reattached: record.programs.iter().map(|p| p.name.clone()).collect(),
            min_btf: chosen.min_btf.clone(),
        })
    }
}

/// What [`unpin`] removed.
#[derive(Debug)]
pub struct Unpinned {
    /// The pin name.
    pub name: String,
    /// The directory removed.
    pub dir: PathBuf,
    /// Whether a record was found (and removed).
    pub had_record: bool,
}

/// Removes the pins of `name_or_dir` (a pin name, or a pin directory) and its record: the
/// links detach and the programs and maps are freed once nothing else holds them.
pub fn unpin(name_or_dir: &str) -> Result<Unpinned, LoadError> {
    let as_dir = name_or_dir.contains('/');
    let name = if as_dir {
        pin_name(Path::new(name_or_dir))
    } else {
        name_or_dir.to_string()
    };
    let record = PinRecord::read(&name)?;
    let dir = match (&record, as_dir) {
        (_, true) => PathBuf::from(name_or_dir),
        (Some(r), false) => r.dir.clone(),
        (None, false) => default_pin_dir(&name),
    };
    if record.is_none() && !dir.exists() {
        return Err(pin_err(
            &dir,
            format!("nothing is pinned as `{name}` (`coreship-load ps` lists pinned probes)"),
        ));
    }
    if dir.exists() {
        // Never remove a directory that is not in bpffs, whatever a record says.
        if !on_bpffs(&dir) {
            return Err(pin_err(&dir, "not on a bpffs mount: not removing it"));
        }
        std::fs::remove_dir_all(&dir).map_err(|e| pin_err(&dir, e.to_string()))?;
        // The default base goes too once empty, so bpffs looks as before the first pin.
        if dir.parent() == Some(Path::new(DEFAULT_PIN_BASE)) {
            let _ = std::fs::remove_dir(DEFAULT_PIN_BASE);
        }
    }
    PinRecord::remove(&name)?;
    Ok(Unpinned {
        name,
        dir,
        had_record: record.is_some(),
    })
}

/// sha256 of `bytes`, hex.
pub fn object_sha256(bytes: &[u8]) -> String {
    coreship_registry::Sha256Digest::of(bytes).hex()
}
