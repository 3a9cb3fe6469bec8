//! The loader as a library, for applications that embed their probes: a [`Probe`] is an
//! object checked and configured in memory (pure), [`Probe::load`] turns it into a
//! [`RunningProbe`] whose records and tables the application reads as data.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use coreship_loader::Probe;
//!
//! // Or `Probe::from_bytes(include_bytes!(concat!(env!("OUT_DIR"), "/execsnoop.bpf.o")))`.
//! let mut probe = Probe::from_path("target/coreship/execsnoop")?.load()?;
//! loop {
//!     probe.poll(Duration::from_millis(100));
//!     for record in probe.events("events")? {
//!         println!("{:?}", record.value()?.field("comm"));
//!     }
//! }
//! # }
//! ```

mod record;
mod running;

use std::path::{Path, PathBuf};

use coreship_registry::Arch;

use crate::{AttachSpec, EventOverride, LoadError, LoadOpts, ObjectBtf, ProbeSource, SetArg};

pub use record::{Plain, Record, RecordError};
pub use running::RunningProbe;

/// One histogram of a map as [`RunningProbe::hist`] reads it: its key (`None` for an
/// unkeyed histogram) and its counts by log2 slot.
pub type HistRow = (Option<crate::Value>, Vec<u64>);

/// A probe object read and checked (BPF ELF, BTF), with how to load and attach it: the
/// library's counterpart of `coreship-load run`'s options. Nothing touches the kernel
/// until [`Probe::load`].
#[derive(Debug)]
pub struct Probe {
    src: ProbeSource,
    btf: ObjectBtf,
    load: LoadOpts,
    events: Vec<EventOverride>,
}

impl Probe {
    /// A probe from object bytes, e.g. `include_bytes!(concat!(env!("OUT_DIR"),
    /// "/name.bpf.o"))`; the object is named `probe` until [`Probe::name`] says otherwise.
    pub fn from_bytes(bytes: impl AsRef<[u8]>) -> Result<Probe, LoadError> {
        let src = ProbeSource::from_bytes("probe", bytes.as_ref().to_vec(), Path::new("<memory>"));
        Probe::new(src)
    }

    /// A probe from an object file, or from this machine's object of a package directory
    /// built by `coreship build` (digest-verified).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Probe, LoadError> {
        let path = path.as_ref();
        let arch = Arch::host().ok_or_else(|| LoadError::BadObject {
            path: path.to_path_buf(),
            what: format!(
                "this machine's architecture ({}) is not one coreship builds for",
                std::env::consts::ARCH
            ),
        })?;
        Probe::new(ProbeSource::read(path, arch)?)
    }

    fn new(src: ProbeSource) -> Result<Probe, LoadError> {
        Ok(Probe {
            btf: crate::run::object_btf(&src)?,
            src,
            load: LoadOpts::default(),
            events: Vec::new(),
        })
    }

    /// Names the object for libbpf (it prefixes the names of global data maps).
    pub fn name(mut self, name: impl Into<String>) -> Probe {
        self.src.name = name.into();
        self
    }

    /// A target for one program (`--attach`), e.g. `"enter=uprobe:/bin/bash:readline".parse()?`.
    pub fn attach(mut self, spec: AttachSpec) -> Probe {
        self.load.attach.push(spec);
        self
    }

    /// A `/path:func[+off]` target for every uprobe program whose section names none
    /// (`--uprobe`; call again to trace several functions).
    pub fn uprobe(mut self, target: impl Into<String>) -> Probe {
        self.load.uprobe.push(target.into());
        self
    }

    /// Uprobes and USDT probes in this process only (`--pid`).
    pub fn pid(mut self, pid: i32) -> Probe {
        self.load.attach_opts.pid = pid;
        self
    }

    /// Sampling frequency of perf_event programs in Hz (`--freq`, default 49).
    pub fn freq(mut self, hz: u64) -> Probe {
        self.load.attach_opts.freq = hz;
        self
    }

    /// A value for one of the probe's `const volatile` settings, written before load (`--set`).
    pub fn set(mut self, setting: SetArg) -> Probe {
        self.load.set.push(setting);
        self
    }

    /// Runs the programs that load and attach even when others cannot (`--allow-partial`);
    /// the others are listed by [`RunningProbe::session`]'s `failures()`.
    pub fn allow_partial(mut self, allow: bool) -> Probe {
        self.load.allow_partial = allow;
        self
    }

    /// Relocates against this kernel BTF instead of /sys/kernel/btf/vmlinux (`--btf`).
    pub fn kernel_btf(mut self, path: impl Into<PathBuf>) -> Probe {
        self.load.btf = Some(path.into());
        self
    }

    /// Decodes an events map's records as a type named in C (`--event`), for objects
    /// written without coreship.h.
    pub fn event_type(mut self, event: EventOverride) -> Probe {
        self.events.push(event);
        self
    }

    /// The object's BTF, e.g. to look types up before loading.
    pub fn object_btf(&self) -> &ObjectBtf {
        &self.btf
    }

    /// The loading options gathered so far.
    pub fn load_opts(&self) -> &LoadOpts {
        &self.load
    }

    /// Loads and attaches the probe and opens its event buffers (privileged). Dropping the
    /// returned [`RunningProbe`] detaches everything.
    pub fn load(&self) -> Result<RunningProbe, LoadError> {
        RunningProbe::start(&self.src, &self.btf, &self.load, &self.events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_bpf_are_refused_before_loading() {
        let err = Probe::from_bytes(b"not an ELF").unwrap_err();
        assert!(matches!(err, LoadError::Elf { .. }), "{err}");
        assert!(err.to_string().contains("<memory>"), "{err}");
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let err = Probe::from_path("/nonexistent/x.bpf.o").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x.bpf.o"), "{err}");
    }
}
