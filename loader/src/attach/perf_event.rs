//! perf_event programs: CPU sampling on every online CPU at a fixed frequency.

use libbpf_rs::{Link, ProgramMut};

/// Opens a software cpu-clock sampling event at `freq` Hz on each online CPU and attaches
/// `prog` to each; libbpf's link owns (and closes) each perf event fd.
pub fn attach(prog: &ProgramMut<'_>, freq: u64) -> Result<Vec<Link>, String> {
    let cpus = online_cpus().map_err(|e| format!("cannot read the online CPU list: {e}"))?;
    let mut links = Vec::with_capacity(cpus.len());
    for cpu in cpus {
        let fd = open_cpu_clock(cpu, freq)?;
        match prog.attach_perf_event(fd) {
            Ok(link) => links.push(link),
            Err(e) => {
                // SAFETY: `fd` is a perf event fd we opened and nothing else owns it yet.
                unsafe { libc::close(fd) };
                return Err(super::errno_reason(crate::error::errno_of(&e)));
            }
        }
    }
    Ok(links)
}

fn open_cpu_clock(cpu: u32, freq: u64) -> Result<i32, String> {
    // SAFETY: perf_event_attr is plain data; all-zero is its documented default.
    let mut attr: libbpf_sys::perf_event_attr = unsafe { std::mem::zeroed() };
    attr.type_ = libbpf_sys::PERF_TYPE_SOFTWARE;
    attr.size = std::mem::size_of::<libbpf_sys::perf_event_attr>() as u32;
    attr.config = libbpf_sys::PERF_COUNT_SW_CPU_CLOCK as u64;
    attr.__bindgen_anon_1.sample_freq = freq;
    attr.set_freq(1);
    // SAFETY: `attr` is a valid, fully initialized perf_event_attr that outlives the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &attr as *const libbpf_sys::perf_event_attr,
            -1i32,
            cpu as i32,
            -1i32,
            libbpf_sys::PERF_FLAG_FD_CLOEXEC as libc::c_ulong,
        )
    };
    if fd < 0 {
        let errno = std::io::Error::last_os_error().raw_os_error();
        return Err(match errno {
            Some(libc::EACCES) | Some(libc::EPERM) => format!(
                "perf_event_open on CPU {cpu} refused: need CAP_PERFMON (or lower kernel.perf_event_paranoid)"
            ),
            Some(libc::ENOENT) | Some(libc::ENODEV) => {
                "this kernel has no software perf events (CONFIG_PERF_EVENTS off)".into()
            }
            other => format!("perf_event_open on CPU {cpu}: {}", super::errno_reason(other)),
        });
    }
    Ok(fd as i32)
}

/// CPUs listed in /sys/devices/system/cpu/online ("0-3,5").
fn online_cpus() -> std::io::Result<Vec<u32>> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online")?;
    Ok(parse_cpu_list(text.trim()))
}

fn parse_cpu_list(list: &str) -> Vec<u32> {
    let mut cpus = Vec::new();
    for part in list.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    cpus.extend(a..=b);
                }
            }
            None => cpus.extend(part.parse::<u32>().ok()),
        }
    }
    cpus
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse() {
        assert_eq!(parse_cpu_list("0-3,5"), vec![0, 1, 2, 3, 5]);
        assert_eq!(parse_cpu_list("0"), vec![0]);
        assert!(parse_cpu_list("").is_empty());
    }
}
