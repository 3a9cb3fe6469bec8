//! coreship's loader: open a CO-RE BPF object, let libbpf relocate it against the running
//! kernel's BTF, attach every program by its section, and print what its maps carry, decoded
//! generically from the object's own BTF — no per-probe user-space code.
//!
//! The phases, each in its own module:
//! 1. **source**: read an object file or a package directory (digest-verified) into a
//!    [`ProbeSource`]; or **fetch** one from an artifact ([`ProbeRef`]: an OCI image layout
//!    directory or tar, or a registry reference through the local cache), checking every digest
//!    and, with trusted keys, its minisign signature before anything is loaded ([`fetch`]).
//! 2. **elf / btf** (pure): check the ELF is BPF, parse its BTF into an [`ObjectBtf`], find the
//!    output declarations `coreship.h` left there, and compile each record type into a
//!    [`Layout`] that decodes bytes without further BTF lookups.
//! 3. **check** (privileged, leaves nothing behind): whether this kernel has each program's
//!    type, helpers, attach target and CO-RE relocations ([`check`], [`CheckReport`]);
//!    `run` refuses up front, naming what is missing, when a required program fails it.
//! 4. **session** (privileged): libbpf opens the object, `--set` values ([`SetArg`]) are
//!    written into its `const volatile` globals, and libbpf CO-RE-relocates and loads it; every
//!    program attaches by its section kind (one module per kind under `attach`). A
//!    [`Session`] owns the links: dropping it detaches everything.
//!    Alternatives of one probe point (`BASE__fentry`, `BASE__kprobe`, …) are chosen here by
//!    what the kernel accepts. **pin**: a session's links and maps pinned in bpffs outlive
//!    the process (`run --pin`, `ps`, `stop`); [`Session::reopen`] reads them again.
//! 5. **run**: stream ring/perf buffer records through a [`Printer`] and print histograms
//!    and counters at each interval and at exit; counters keyed by stack ids are symbolized
//!    on this machine (**stacks**: kallsyms, the ELF symbols of mapped files) and printed as
//!    stacks, folded stacks or a flame graph.
//!
//! Applications that embed their probes use the same phases through [`Probe`] (from bytes
//! or a path, configured like `coreship-load run`) and [`RunningProbe`] (records queued by
//! `poll` and taken per map as [`Record`]s, read as [`Value`]s, bytes or a [`Plain`] Rust
//! struct; histograms and counters read as data). Both paths share the event buffers
//! (**stream**) and the map readers (**tables**).
#![deny(missing_docs)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod attach;
mod btf;
mod check;
mod devices;
mod elf;
mod error;
mod fetch;
mod kernel_btf;
pub mod libbpf_log;
mod output;
mod pin;
mod plan;
mod printer;
mod private_dir;
mod probe;
mod run;
mod session;
mod settings;
mod source;
mod stacks;
mod stream;
mod summary;
mod tables;

pub use attach::{AttachOpts, AttachSpec};
pub use btf::{
    BtfError, Column, DecodeError, Endian, HistKey, Layout, Marker, ObjectBtf, Setting,
    SettingError, SettingValue, Value, HIST_SLOTS, MARKER_SECTION, SETTING_SECTIONS,
};
pub use check::{
    check, render_json as check_json, render_text as check_text, CheckReport, HelperCheck,
    ProgramCheck, Status,
};
pub use devices::block_device_names;
pub use elf::{BpfElf, ElfError};
pub use error::{AttachFailure, LoadError};
pub use fetch::{
    fetch, is_layout_path, is_reference_form, FetchError, FetchOpts, Fetched, LayoutRef, ProbeRef,
};
pub use output::{
    counters_json, hist_json, kernel_dev, kernel_dev_split, log2_slot_bounds, parse_uevent,
    render_counters, render_log2_hist, DeviceNames, FormatCtx,
};
pub use pin::{
    default_pin_dir, object_sha256, pin_name, runtime_dir, unpin, utc, PinRecord, PinnedProgram,
    Unpinned, DEFAULT_PIN_BASE,
};
pub use plan::{CounterPlan, EventOverride, EventsPlan, HistPlan, OutputPlan};
pub use printer::{Format, Printer};
pub use probe::{HistRow, Plain, Probe, Record, RecordError, RunningProbe};
pub use run::{monotonic_ns, run, stream, RunOpts, RunReport};
pub use session::{LoadOpts, Session, OPTIONAL_SUFFIX};
pub use settings::{object_settings, SetArg, SettingInfo};
pub use source::{object_name, ProbeSource};
pub use stacks::{StackError, FLAMEGRAPH_SUPPORTED};
pub use summary::{map_type_name, prog_type_name, ObjectSummary};
