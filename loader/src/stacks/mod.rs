//! Stack profiles: counters keyed by stack ids (coreship.h's `kstack`/`ustack` convention)
//! printed as symbolized stacks, folded stacks or a flame graph — generically, from the
//! key's BTF, with no per-probe code.
//!
//! - pure: `key` finds the members in the key's layout, `kallsyms` and `procmaps`
//!   parse `/proc` text, `elf_syms` reads an ELF file's functions and load segments,
//!   `frame` prints resolved stacks as text, JSON and folded lines;
//! - files: `user` snapshots `/proc/PID/maps` and opens mapped files, `flame` writes
//!   the SVG (feature `flamegraph`);
//! - kernel: `StackTables` reads the counter and stack trace maps.

mod elf_syms;
mod error;
mod frame;
mod kallsyms;
mod key;
mod procmaps;
mod symtab;
#[cfg(test)]
mod testelf;
mod user;

#[cfg(feature = "flamegraph")]
mod flame;
#[cfg(not(feature = "flamegraph"))]
#[path = "flame_stub.rs"]
mod flame;

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libbpf_rs::{MapCore, MapFlags, Object};

pub use error::StackError;

use frame::{Frame, Sample};
use kallsyms::KernelSymbols;
use key::StackKey;
use user::UserSymbols;

use crate::{Format, FormatCtx, OutputPlan};

/// Whether this build draws flame graphs (`--flamegraph`): the `flamegraph` feature.
pub const FLAMEGRAPH_SUPPORTED: bool = flame::SUPPORTED;

/// Printed above text stacks when the kernel hides its symbol addresses.
const HIDDEN_NOTE: &str = "(kernel frames are addresses: /proc/kallsyms shows no addresses; \
                           run as root with kernel.kptr_restrict < 2)\n";

/// How often [`StackTables::watch`] snapshots the mappings of newly seen processes.
const WATCH_EVERY: Duration = Duration::from_millis(500);

/// A counter map read as a stack profile.
struct Profile {
    counter: String,
    stacks: String,
    key: StackKey,
}

/// What symbolization keeps between renders.
#[derive(Default)]
struct State {
    kernel: Option<KernelSymbols>,
    user: UserSymbols,
    last_watch: Option<Instant>,
}

/// The stack profiles of one object and the symbols they need, for a whole run.
pub(crate) struct StackTables {
    profiles: Vec<Profile>,
    flamegraph: Option<PathBuf>,
    probe: String,
    state: RefCell<State>,
}

impl StackTables {
    /// Finds the stack-profile counters of `plan`; `flamegraph` is the SVG to write at each
    /// render (refused when this build or the probe cannot draw one), titled after `probe`.
    pub(crate) fn new(
        plan: &OutputPlan,
        flamegraph: Option<&Path>,
        probe: &str,
    ) -> Result<StackTables, StackError> {
        let mut profiles = Vec::new();
        for c in &plan.counters {
            let Some(key) = StackKey::detect(&c.map, &c.key)? else {
                continue;
            };
            let stacks = match plan.stacks.as_slice() {
                [one] => one.clone(),
                [] => return Err(StackError::NoStackMap { map: c.map.clone() }),
                several => {
                    return Err(StackError::SeveralStackMaps {
                        map: c.map.clone(),
                        maps: several.to_vec(),
                    })
                }
            };
            profiles.push(Profile {
                counter: c.map.clone(),
                stacks,
                key,
            });
        }
        if let Some(path) = flamegraph {
            if !FLAMEGRAPH_SUPPORTED {
                return Err(StackError::FlamegraphDisabled);
            }
            if profiles.is_empty() {
                return Err(StackError::NoProfile {
                    path: path.to_path_buf(),
                });
            }
        }
        Ok(StackTables {
            profiles,
            flamegraph: flamegraph.map(Path::to_path_buf),
            probe: probe.to_string(),
            state: RefCell::default(),
        })
    }

    /// Whether counter map `counter` is a stack profile (rendered by [`Self::render`]).
    pub(crate) fn covers(&self, counter: &str) -> bool {
        self.profiles.iter().any(|p| p.counter == counter)
    }

    /// Snapshots the mappings of processes newly seen in the profiles (at most every
    /// [`WATCH_EVERY`]), so that stacks of processes that exit before the next render
    /// still resolve. Called from the run loop.
    pub(crate) fn watch(&self, object: &Object) {
        let mut st = self.state.borrow_mut();
        if st.last_watch.is_some_and(|t| t.elapsed() < WATCH_EVERY) {
            return;
        }
        st.last_watch = Some(Instant::now());
        for p in &self.profiles {
            let Some(map) = object.maps().find(|m| m.name() == p.counter.as_str()) else {
                continue;
            };
            for key in map.keys() {
                let Some(ids) = p.key.read(&key) else {
                    continue;
                };
                if let (Some(pid), Some(_)) = (ids.pid, ids.ustack) {
                    st.user.remember(pid, ids.comm.unwrap_or_default());
                }
            }
        }
    }

    /// Renders stack profile `counter` from its `rows` (key bytes, summed count) into
    /// `out`, and rewrites the flame graph when one was asked for.
    pub(crate) fn render(
        &self,
        object: &Object,
        counter: &str,
        rows: Vec<(Vec<u8>, u64)>,
        format: Format,
        ctx: &FormatCtx,
        out: &mut String,
    ) -> Result<(), StackError> {
        let Some((index, p)) = self
            .profiles
            .iter()
            .enumerate()
            .find(|(_, p)| p.counter == counter)
        else {
            return Ok(());
        };
        let stack_map = object.maps().find(|m| m.name() == p.stacks.as_str());
        let mut ips_of: HashMap<u32, Vec<u64>> = HashMap::new();
        let mut ips = |id: u32| -> Vec<u64> {
            let Some(map) = &stack_map else {
                return Vec::new();
            };
            ips_of
                .entry(id)
                .or_insert_with(|| read_stack(map, id))
                .clone()
        };

        let st = &mut *self.state.borrow_mut();
        let decoded: Vec<_> = rows
            .iter()
            .filter_map(|(k, n)| Some((k, p.key.read(k)?, *n)))
            .collect();
        let pids: BTreeSet<u32> = decoded.iter().filter_map(|(_, ids, _)| ids.pid).collect();
        for pid in pids {
            st.user.refresh(pid);
        }
        if p.key.has_kstack() && decoded.iter().any(|(_, ids, _)| ids.kstack.is_some()) {
            st.kernel.get_or_insert_with(KernelSymbols::load);
        }

        let mut samples = Vec::with_capacity(decoded.len());
        for (key, ids, count) in decoded {
            let kernel = p.key.has_kstack().then(|| match (ids.kstack, &st.kernel) {
                (Some(id), Some(ksyms)) => ips(id)
                    .iter()
                    .enumerate()
                    .map(|(i, &a)| kernel_frame(ksyms, a, i > 0))
                    .collect(),
                _ => Vec::new(),
            });
            let user = p.key.has_ustack().then(|| match ids.ustack {
                Some(id) => ips(id)
                    .iter()
                    .enumerate()
                    .map(|(i, &a)| st.user.frame(ids.pid, a, i > 0))
                    .collect(),
                None => Vec::new(),
            });
            let mut key_text = String::new();
            let mut key_json = String::new();
            match format {
                Format::Json => {
                    let _ = p.key.rest.write_json(key, ctx, &mut key_json);
                }
                _ => {
                    let _ = p.key.rest.write_key(key, ctx, &mut key_text);
                }
            }
            samples.push(Sample {
                key_text,
                key_json,
                comm: ids.comm.map(|c| String::from_utf8_lossy(c).into_owned()),
                kernel,
                user,
                count,
            });
        }

        match format {
            Format::Text => {
                if st.kernel.as_ref().is_some_and(KernelSymbols::hidden) {
                    out.push_str(HIDDEN_NOTE);
                }
                frame::render_text(out, counter, &mut samples)
            }
            Format::Json => {
                frame::render_json(out, counter, &mut samples);
                out.push('\n');
            }
            Format::Folded => frame::render_folded(out, &frame::folded(&samples)),
        }
        if let (Some(path), 0) = (&self.flamegraph, index) {
            let title = format!("{} flame graph", self.probe);
            let what = format!("@{counter}");
            flame::write_svg(path, &title, &what, &frame::folded(&samples))?;
        }
        Ok(())
    }
}

/// The instruction pointers of stack `id`, innermost first (empty if it was evicted).
fn read_stack(map: &dyn MapCore, id: u32) -> Vec<u64> {
    let Ok(Some(bytes)) = map.lookup(&id.to_ne_bytes(), MapFlags::ANY) else {
        return Vec::new();
    };
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or_default()))
        .take_while(|&ip| ip != 0)
        .collect()
}

/// The frame for kernel address `addr`; `ret` marks a return address (looked up one byte
/// back, inside its call instruction).
fn kernel_frame(ksyms: &KernelSymbols, addr: u64, ret: bool) -> Frame {
    let look = if ret { addr.saturating_sub(1) } else { addr };
    match ksyms.lookup(look) {
        Some((name, off)) => Frame::Symbol {
            name: name.to_string(),
            offset: off + (addr - look),
        },
        None => Frame::Unknown { addr },
    }
}
