//! Opening, loading and attaching one probe object: the privileged half of the loader.
//!
//! A [`Session`] owns the loaded object and every link; dropping it detaches all programs
//! and frees the maps, so nothing is left in the kernel, tracefs or bpffs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use libbpf_rs::{Link, MapType, Object, ObjectBuilder, OpenObject};

use crate::attach::alternatives::{Alternatives, Fallback};
use crate::attach::{
    attach_program, trampoline, try_attach, AttachKind, AttachOpts, AttachSpec, Refusal,
};
use crate::error::{errno_of, errno_text};
use crate::{libbpf_log, AttachFailure, LoadError, ProbeSource};

/// How to load and attach a probe.
#[derive(Debug, Clone, Default)]
pub struct LoadOpts {
    /// Kernel BTF to relocate against instead of /sys/kernel/btf/vmlinux.
    pub btf: Option<PathBuf>,
    /// Targets given at attach time for named programs (a program may be given several).
    pub attach: Vec<AttachSpec>,
    /// `/path:func` targets for every uprobe/uretprobe program whose section names none.
    pub uprobe: Vec<String>,
    /// Per-program attach settings.
    pub attach_opts: AttachOpts,
    /// Run the programs that load and attach even if others do not.
    pub allow_partial: bool,
    /// `--set NAME=VALUE`: values for the probe's `const volatile` globals, written before load.
    pub set: Vec<crate::SetArg>,
    /// Behave as on a kernel without `/sys/kernel/btf/vmlinux` (use the artifact's minimal BTF).
    pub ignore_kernel_btf: bool,
}

/// A loaded object with its attached programs.
pub struct Session {
    // Field order matters: links drop (detach) before the object is closed.
    pub(crate) links: Vec<(String, Link)>,
    pub(crate) failures: Vec<AttachFailure>,
    pub(crate) object: Object,
    /// Programs attached through pins this session re-attached to (it holds no links).
    pub(crate) reattached: Vec<String>,
    /// The kernel whose shipped minimal BTF was used, if one was.
    pub(crate) min_btf: Option<String>,
}

impl Session {
    /// Opens `src`, lets libbpf relocate it (CO-RE) against the kernel's BTF, loads it and
    /// attaches every program.
    pub fn start(src: &ProbeSource, opts: &LoadOpts) -> Result<Session, LoadError> {
        // The minimal BTF file (if one is used) lives until the loads below are done.
        let chosen = crate::kernel_btf::choose(src, opts.btf.as_deref(), opts.ignore_kernel_btf)?;
        let with_btf;
        let opts = if chosen.path.as_deref() != opts.btf.as_deref() {
            with_btf = LoadOpts {
                btf: chosen.path.clone(),
                ..opts.clone()
            };
            &with_btf
        } else {
            opts
        };
        // The first load uses this open object; only retries open the bytes again.
        let mut opened = Some(open(&src.name, &src.bytes, &src.path, opts.btf.as_deref())?);
        let program_names: BTreeSet<String> = opened
            .iter()
            .flat_map(|o| o.progs())
            .map(|p| p.name().to_string_lossy().into_owned())
            .collect();
        for spec in &opts.attach {
            if !program_names.contains(&spec.program) {
                return Err(LoadError::AttachSpec {
                    spec: format!("{}=…", spec.program),
                    why: format!(
                        "no program named `{}` (programs: {})",
                        spec.program,
                        program_names.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                });
            }
        }

        // Alternatives of one probe point (`BASE__KIND`, see `attach::alternatives`) are loaded
        // one at a time, best first. An alternative that fails to attach needs the object
        // loaded again with the group's next one, so loading and attaching repeat until every
        // group has settled (at most once per alternative).
        let mut alternatives = Alternatives::new(program_names.iter().map(String::as_str));

        // The kernel pre-check (`check`), on the object the first load then uses: programs
        // whose type, helpers or attach target this kernel lacks are refused here, together,
        // before anything is loaded; alternatives that fail it are skipped, and optional
        // programs (or any, with `allow_partial`) are switched off and reported.
        let report = crate::check::check_open(src, opts, opened.as_mut().expect("opened"))?;
        let blocking = report.blocking();
        if !blocking.is_empty() && !opts.allow_partial {
            return Err(LoadError::Unavailable {
                probe: src.name.clone(),
                failures: blocking,
            });
        }
        report.fail_alternatives(&mut alternatives);
        let prefailed: Vec<AttachFailure> = report
            .failing()
            .into_iter()
            .filter(|f| alternatives.wanted(&f.program).is_none())
            .collect();

        let (object, links, mut failures) = loop {
            let (object, mut failures) =
                load(src, opts, &mut alternatives, &mut opened, prefailed.clone())?;
            let (links, fell_back) = attach_all(&object, opts, &mut alternatives, &mut failures);
            if !fell_back {
                break (object, links, failures);
            }
            // Links detach before their object closes.
            drop(links);
        };
        failures.extend(alternatives.unavailable());
        if links.is_empty() {
            return Err(LoadError::NothingAttached { failures });
        }
        let required: Vec<AttachFailure> = failures
            .iter()
            .filter(|f| !is_optional(&f.program))
            .cloned()
            .collect();
        if !required.is_empty() && !opts.allow_partial {
            return Err(LoadError::Attach { failures: required });
        }
        Ok(Session {
            min_btf: chosen.min_btf.clone(),
            links,
            failures,
            object,
            reattached: Vec::new(),
        })
    }

    /// The loaded object (maps are read through it).
    pub fn object(&self) -> &Object {
        &self.object
    }

    /// Names of attached programs (a perf_event program appears once per CPU).
    pub fn attached(&self) -> Vec<&str> {
        if self.links.is_empty() {
            return self.reattached.iter().map(String::as_str).collect();
        }
        let mut names: Vec<&str> = self.links.iter().map(|(n, _)| n.as_str()).collect();
        names.dedup();
        names
    }

    /// The kernel (`ID/VERSION_ID/ARCH/RELEASE`) whose shipped minimal BTF was used, when the
    /// kernel had no BTF of its own.
    pub fn min_btf(&self) -> Option<&str> {
        self.min_btf.as_deref()
    }

    /// Programs that did not load or attach: `__optional` ones, and any with `allow_partial`.
    pub fn failures(&self) -> &[AttachFailure] {
        &self.failures
    }
}

/// Suffix of programs the running kernel may lack (a tracepoint or function only newer
/// kernels have): when one cannot load or attach it is reported and skipped, and the rest
/// runs without `--allow-partial`.
pub const OPTIONAL_SUFFIX: &str = "__optional";

/// Whether program `name` is marked optional.
fn is_optional(name: &str) -> bool {
    name.ends_with(OPTIONAL_SUFFIX)
}

/// Opens `bytes` with libbpf (no kernel access); `path` only names it in errors.
pub(crate) fn open(
    name: &str,
    bytes: &[u8],
    path: &Path,
    btf: Option<&Path>,
) -> Result<OpenObject, LoadError> {
    crate::BpfElf::parse(bytes).map_err(|problem| LoadError::Elf {
        path: path.to_path_buf(),
        problem,
    })?;
    let mut builder = ObjectBuilder::default();
    let open_err = |said: String| LoadError::Open {
        path: path.to_path_buf(),
        said,
    };
    builder.name(name).map_err(|e| open_err(e.to_string()))?;
    if let Some(btf) = btf {
        if !btf.exists() {
            return Err(LoadError::Read {
                path: btf.to_path_buf(),
                source: std::io::Error::from_raw_os_error(libc::ENOENT),
            });
        }
        builder
            .btf_custom_path(btf)
            .map_err(|e| open_err(e.to_string()))?;
    }
    let (result, log) = libbpf_log::capture(|| builder.open_memory(bytes));
    result.map_err(|e| open_err(last_line(&log).unwrap_or_else(|| format!("{e:#}"))))
}

/// Attaches every loaded program. An alternative of a group that fails moves its group on
/// instead of becoming a failure; returns the links and whether a group now wants an
/// alternative that is not loaded (the object must then be loaded again).
fn attach_all(
    object: &Object,
    opts: &LoadOpts,
    alternatives: &mut Alternatives,
    failures: &mut Vec<AttachFailure>,
) -> (Vec<(String, Link)>, bool) {
    let mut links = Vec::new();
    let mut fell_back = false;
    for prog in object.progs_mut() {
        if !prog.autoload() {
            continue;
        }
        let name = prog.name().to_string_lossy().into_owned();
        let mut specs: Vec<AttachSpec> = opts
            .attach
            .iter()
            .filter(|s| s.program == name)
            .cloned()
            .collect();
        let kind = AttachKind::from_section(&prog.section().to_string_lossy());
        if specs.is_empty() && matches!(kind, AttachKind::Uprobe { target: None, .. }) {
            specs = opts
                .uprobe
                .iter()
                .map(|t| AttachSpec {
                    program: name.clone(),
                    kind: None,
                    target: t.clone(),
                })
                .collect();
        }
        let specs: Vec<Option<&AttachSpec>> = if specs.is_empty() {
            vec![None]
        } else {
            specs.iter().map(Some).collect()
        };
        let grouped = alternatives.wanted(&name).is_some();
        for spec in specs {
            if grouped {
                match try_attach(&prog, spec, &opts.attach_opts) {
                    Ok(ls) => links.extend(ls.into_iter().map(|l| (name.clone(), l))),
                    Err(f) => {
                        fell_back |= matches!(
                            alternatives.fail(&name, f.refusal.cause),
                            Some(Fallback::Next(_))
                        );
                    }
                }
                continue;
            }
            match attach_program(&prog, spec, &opts.attach_opts) {
                Ok(ls) => links.extend(ls.into_iter().map(|l| (name.clone(), l))),
                Err(f) => failures.push(f),
            }
        }
    }
    (links, fell_back)
}

/// Loads the object with the current alternative of each group (a group whose alternative
/// the kernel refuses moves on to its next one and the load is retried); with
/// `allow_partial`, other programs the kernel refuses are switched off and the load retried,
/// each refusal becoming an [`AttachFailure`]. The first attempt uses `opened` when given
/// (prepared by the pre-check, settings written); `disabled` starts with the programs the
/// pre-check switched off.
fn load(
    src: &ProbeSource,
    opts: &LoadOpts,
    alternatives: &mut Alternatives,
    opened: &mut Option<OpenObject>,
    mut disabled: Vec<AttachFailure>,
) -> Result<(Object, Vec<AttachFailure>), LoadError> {
    loop {
        let mut open = match opened.take() {
            // Its read-only data is frozen in the kernel by now: settings went in before.
            Some(o) => o,
            None => {
                let mut o = open(&src.name, &src.bytes, &src.path, opts.btf.as_deref())?;
                crate::settings::apply(&mut o, &src.path, &opts.set)?;
                o
            }
        };
        for mut prog in open.progs_mut() {
            let name = prog.name().to_string_lossy();
            let wanted = alternatives
                .wanted(&name)
                .unwrap_or_else(|| !disabled.iter().any(|f| f.program == name));
            if !wanted {
                prog.set_autoload(false);
            }
        }
        let sections: Vec<(String, String)> = open
            .progs()
            .map(|p| {
                (
                    p.name().to_string_lossy().into_owned(),
                    p.section().to_string_lossy().into_owned(),
                )
            })
            .collect();
        let maps = map_sizes(&open);
        let (result, lines) = libbpf_log::capture(|| open.load());
        let err = match result {
            Ok(object) => return Ok((object, disabled)),
            Err(e) => e,
        };
        let Some(program) = libbpf_log::failed_program(&lines) else {
            return Err(load_failed(&src.path, &lines, &maps, || format!("{err:#}")));
        };
        let kind = sections
            .iter()
            .find(|(n, _)| *n == program)
            .map(|(_, s)| AttachKind::from_section(s))
            .unwrap_or(AttachKind::Other {
                section: String::new(),
            });
        let LoadRefusal {
            refusal,
            trampoline_refused,
            errno,
            log_tail,
        } = load_refusal(&err, &lines, &program, &kind);
        // A group moves on to its next alternative whatever the failure; it is reported
        // (by `Alternatives::unavailable`) only when none is left.
        if alternatives.fail(&program, refusal.cause.clone()).is_some() {
            continue;
        }
        if disabled.iter().any(|f| f.program == program) {
            return Err(LoadError::Load {
                path: src.path.clone(),
                said: last_line(&lines).unwrap_or_else(|| format!("{err:#}")),
            });
        }
        // A kernel that refuses a whole program kind is not the probe's fault: keep going so
        // every unavailable program is reported together (Session::start decides, from
        // `allow_partial`, whether the rest may run). A verifier rejection stops here.
        if !opts.allow_partial && !trampoline_refused && !is_optional(&program) {
            return Err(LoadError::Verifier {
                program,
                errno,
                log_tail,
            });
        }
        disabled.push(AttachFailure {
            program,
            target: kind.describe(),
            reason: refusal.full(),
        });
    }
}

/// The last line libbpf logged, which usually names the failure.
fn last_line(lines: &[String]) -> Option<String> {
    lines.last().map(|l| l.trim().to_string())
}

/// What each map of `open` takes, by name, for an error about creating it.
pub(crate) fn map_sizes(open: &OpenObject) -> Vec<(String, String)> {
    open.maps()
        .map(|m| {
            let size = match m.map_type() {
                MapType::RingBuf | MapType::UserRingBuf => {
                    format!("a {} ring buffer", human_bytes(m.max_entries().into()))
                }
                _ => format!("{} entries of {} bytes", m.max_entries(), m.value_size()),
            };
            (m.name().to_string_lossy().into_owned(), size)
        })
        .collect()
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// The error for a load libbpf failed with no program to blame: a map the kernel would not
/// create (named, with what to do), else libbpf's last line.
pub(crate) fn load_failed(
    path: &Path,
    lines: &[String],
    maps: &[(String, String)],
    fallback: impl FnOnce() -> String,
) -> LoadError {
    if let Some((map, errno)) = libbpf_log::failed_map(lines) {
        let size = maps
            .iter()
            .find(|(name, _)| *name == map)
            .map_or_else(|| "size unknown".to_string(), |(_, s)| s.clone());
        return LoadError::MapCreate { map, size, errno };
    }
    LoadError::Load {
        path: path.to_path_buf(),
        said: last_line(lines).unwrap_or_else(fallback),
    }
}

/// Why the kernel refused to load `program` (of `kind`), from libbpf's error and log.
pub(crate) struct LoadRefusal {
    /// The cause, with advice.
    pub refusal: Refusal,
    /// A trampoline program (fentry/fexit/tp_btf) refused without a verifier log: the
    /// kernel refuses the whole kind, not this program.
    pub trampoline_refused: bool,
    /// The errno, as text.
    pub errno: String,
    /// The last lines of the verifier log.
    pub log_tail: Vec<String>,
}

pub(crate) fn load_refusal(
    err: &libbpf_rs::Error,
    lines: &[String],
    program: &str,
    kind: &AttachKind,
) -> LoadRefusal {
    let errno = errno_of(err)
        .or_else(|| libbpf_log::failed_errno(lines))
        .map(|c| c.abs());
    let log_tail = libbpf_log::verifier_tail(lines, program, 20);
    let trampoline_refused = matches!(
        kind,
        AttachKind::Trampoline { .. } | AttachKind::RawTracepoint { btf: true, .. }
    ) && log_tail.is_empty();
    let refusal = if trampoline_refused {
        trampoline::refusal(errno)
    } else {
        // The verifier's complaint, not the statistics it prints after it.
        let last = log_tail
            .iter()
            .rev()
            .find(|l| !l.starts_with("processed ") && !l.starts_with("verification time"))
            .cloned()
            .unwrap_or_default();
        Refusal::from(format!(
            "the verifier rejected it ({}): {last}",
            errno.map_or_else(|| "unknown error".into(), errno_text)
        ))
    };
    LoadRefusal {
        refusal,
        trampoline_refused,
        errno: errno.map_or_else(|| "unknown error".into(), errno_text),
        log_tail,
    }
}
