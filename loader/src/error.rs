//! The loader's error type: each variant names what failed and what the user can do.

use std::path::PathBuf;

/// Why a probe could not be read, loaded, attached or streamed.
#[derive(thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The package description or object digest is wrong.
    #[error(transparent)]
    Package(#[from] coreship_registry::PackageError),
    /// The bytes are not a usable BPF object.
    #[error("{} {problem}", path.display())]
    Elf {
        /// The object.
        path: PathBuf,
        /// What is wrong and what to do.
        problem: crate::ElfError,
    },
    /// The object cannot be used on this machine.
    #[error("{}: {what}", path.display())]
    BadObject {
        /// The object.
        path: PathBuf,
        /// What is wrong and what to do.
        what: String,
    },
    /// The object's BTF could not be decoded.
    #[error("{}: bad BTF", path.display())]
    Btf {
        /// The object.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: crate::BtfError,
    },
    /// libbpf refused the object.
    #[error("{}: libbpf could not open the object: {said}", path.display())]
    Open {
        /// The object.
        path: PathBuf,
        /// What libbpf logged (last warning line) or returned.
        said: String,
    },
    /// The running kernel has no BTF, none was given, and the artifact ships none for it.
    #[error("this kernel ({running}) has no BTF (/sys/kernel/btf/vmlinux is missing) and the probe ships minimal BTF {}: pass --btf FILE with the kernel's BTF, or rebuild with `coreship build --min-btf DIR` including it", if shipped.is_empty() { "for no kernel".to_string() } else { format!("only for {shipped}") })]
    NoKernelBtf {
        /// This kernel's key, `ID/VERSION_ID/ARCH/RELEASE`.
        running: String,
        /// The kernels the artifact has minimal BTF for, comma-separated.
        shipped: String,
    },
    /// The minimal BTF could not be handed to libbpf (no memfd, and no private temporary
    /// directory could be made).
    #[error("cannot write the minimal BTF for libbpf (no memfd, nor a private directory in {dir}): set TMPDIR to a writable directory")]
    MinBtfWrite {
        /// The temp directory tried.
        dir: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The kernel's verifier rejected a program.
    #[error("program {program}: the kernel rejected it ({errno}); verifier log tail:\n{}", log_tail.join("\n"))]
    Verifier {
        /// The program.
        program: String,
        /// The errno, as text.
        errno: String,
        /// Last lines of the verifier log.
        log_tail: Vec<String>,
    },
    /// Loading failed for a reason other than a single program's verification.
    #[error("{}: loading into the kernel failed: {said}", path.display())]
    Load {
        /// The object.
        path: PathBuf,
        /// What libbpf said.
        said: String,
    },
    /// The kernel would not create one of the probe's maps.
    #[error("map {map} ({size}): the kernel could not create it ({}): {}", errno.map_or_else(|| "unknown error".into(), errno_text), map_advice(*errno))]
    MapCreate {
        /// The map.
        map: String,
        /// What it takes, e.g. `a 64 MiB ring buffer`.
        size: String,
        /// The errno.
        errno: Option<i32>,
    },
    /// One or more programs could not attach and `--allow-partial` was not given.
    #[error("{}", attach_summary(failures))]
    Attach {
        /// Each program that failed and why.
        failures: Vec<AttachFailure>,
    },
    /// The kernel pre-check found programs this kernel cannot run.
    #[error("{probe} cannot run on this kernel (--allow-partial runs the programs that can; `coreship-load check` shows every requirement):{}", failure_lines(failures))]
    Unavailable {
        /// The probe.
        probe: String,
        /// Each program (or group of alternatives) that cannot run, and what is missing.
        failures: Vec<AttachFailure>,
    },
    /// Pinning in (or unpinning from) bpffs failed.
    #[error("{}: {what}", path.display())]
    Pin {
        /// The pin or pin directory.
        path: PathBuf,
        /// What failed, with libbpf's or the OS's error.
        what: String,
    },
    /// A program's link cannot be pinned in bpffs.
    #[error("program {program} ({target}) cannot be pinned: {why}; run it without --pin")]
    Unpinnable {
        /// The program.
        program: String,
        /// Its attach kind and target.
        target: String,
        /// Why its link cannot be pinned.
        why: String,
    },
    /// Nothing ended up attached.
    #[error("no program attached: {}", failure_list(failures))]
    NothingAttached {
        /// Each program that failed and why.
        failures: Vec<AttachFailure>,
    },
    /// A command-line attach specification is malformed or names no program.
    #[error("--attach {spec}: {why}")]
    AttachSpec {
        /// The specification as given.
        spec: String,
        /// What is wrong.
        why: String,
    },
    /// An output map's declaration could not be used.
    #[error("map {map}: {why}")]
    Output {
        /// The map.
        map: String,
        /// What is wrong.
        why: String,
    },
    /// Setting up or polling an event buffer failed.
    #[error("map {map}: {what}")]
    Stream {
        /// The map.
        map: String,
        /// What failed.
        what: String,
        /// libbpf's error.
        #[source]
        source: libbpf_rs::Error,
    },
    /// A `--set NAME=VALUE` names no variable of the probe or does not fit its type.
    #[error("cannot apply --set")]
    Setting(#[from] crate::SettingError),
    /// A stack profile cannot be printed as asked (see [`crate::StackError`]).
    #[error(transparent)]
    Stacks(#[from] crate::StackError),
    /// Writing output failed (e.g. stdout closed).
    #[error("writing output failed")]
    Write(#[source] std::io::Error),
}

/// What to do when the kernel will not create a map.
fn map_advice(errno: Option<i32>) -> &'static str {
    match errno {
        Some(libc::ENOMEM) => "BPF map memory is charged to the memory cgroup coreship-load runs in: raise its limit (memory.max; memory.limit_in_bytes with cgroup v1) or free memory",
        Some(libc::EPERM) => "run as root (CAP_BPF); before Linux 5.11 map memory also counts against the locked-memory limit (ulimit -l)",
        _ => "`coreship-load check` shows what this kernel lacks",
    }
}

/// A program that could not attach, and why, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachFailure {
    /// Program name; `group BASE` for a group of alternatives (`BASE__KIND` programs).
    pub program: String,
    /// The attach kind and target, e.g. `kprobe do_nanosleep`; empty for a group.
    pub target: String,
    /// The reason.
    pub reason: String,
}

impl std::fmt::Display for AttachFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.target.is_empty() {
            return write!(f, "program {}: {}", self.program, self.reason);
        }
        write!(
            f,
            "program {} ({}): {}",
            self.program, self.target, self.reason
        )
    }
}

fn failure_list(failures: &[AttachFailure]) -> String {
    failures
        .iter()
        .map(|f| f.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// One indented line per failure.
fn failure_lines(failures: &[AttachFailure]) -> String {
    failures.iter().map(|f| format!("\n  {f}")).collect()
}

fn attach_summary(failures: &[AttachFailure]) -> String {
    let mut s = failure_list(failures);
    if failures.len() == 1 {
        s.push_str(" (use --allow-partial to run the other programs)");
    } else if !failures.is_empty() {
        s.push_str(" (use --allow-partial to run the programs that did attach)");
    }
    s
}

/// The errno inside a libbpf-rs error, if it carries one. libbpf-rs keeps the OS error's
/// kind but not always its raw code (attach errors lose it), so the kind is mapped back.
pub(crate) fn errno_of(err: &libbpf_rs::Error) -> Option<i32> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(code) = io.raw_os_error() {
                return Some(code);
            }
        }
        cur = e.source();
    }
    use libbpf_rs::ErrorKind as K;
    Some(match err.kind() {
        K::NotFound => libc::ENOENT,
        K::PermissionDenied => libc::EPERM,
        K::AlreadyExists => libc::EEXIST,
        K::WouldBlock => libc::EAGAIN,
        K::InvalidInput => libc::EINVAL,
        K::TimedOut => libc::ETIMEDOUT,
        K::Interrupted => libc::EINTR,
        K::Unsupported => libc::EOPNOTSUPP,
        K::OutOfMemory => libc::ENOMEM,
        K::TooBig => libc::E2BIG,
        _ => return None,
    })
}

/// `ENOENT (No such file or directory)`-style text for an errno.
pub(crate) fn errno_text(code: i32) -> String {
    let name = match code {
        libc::ENOENT => "ENOENT",
        libc::EPERM => "EPERM",
        libc::EACCES => "EACCES",
        libc::EINVAL => "EINVAL",
        libc::E2BIG => "E2BIG",
        libc::ENOTSUP => "EOPNOTSUPP",
        libc::ESRCH => "ESRCH",
        libc::EBUSY => "EBUSY",
        libc::ENOSPC => "ENOSPC",
        libc::ENOMEM => "ENOMEM",
        libc::EEXIST => "EEXIST",
        _ => "",
    };
    let desc = std::io::Error::from_raw_os_error(code).to_string();
    let desc = desc.split(" (os error").next().unwrap_or(&desc).to_string();
    if name.is_empty() {
        format!("errno {code}: {desc}")
    } else {
        format!("{name}: {desc}")
    }
}

coreship_registry::debug_as_display!(LoadError);
