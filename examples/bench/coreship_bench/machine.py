"""What the figures were measured on: CPU, kernel, tool versions, and how busy the machine was."""
import os
import platform
import re
import shutil
import subprocess


def _first_line(cmd):
    if not shutil.which(cmd[0]):
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else None


def version(name):
    """A peer's version as a short string (`bpftool 7.1.0`), or None when it is missing."""
    cmds = {
        "bpftool": ["bpftool", "version"],
        "bpftrace": ["bpftrace", "--version"],
        "docker-registry": ["docker-registry", "--version"],
        "skopeo": ["skopeo", "--version"],
        "wrk": ["wrk", "--version"],
        "clang": ["clang-19", "--version"],
    }
    line = _first_line(cmds[name])
    if not line:
        return None
    m = re.search(r"v?(\d+\.\d+(\.\d+)?)", line)
    return f"{name} {m.group(1)}" if m else name


def describe():
    """Markdown lines describing the machine."""
    lscpu = _first_line(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"]) or "?"
    hyper = _first_line(["sh", "-c", "lscpu | sed -n 's/^Hypervisor vendor: *//p'"])
    cpus = os.cpu_count()
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kib = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
        mem = f"{kib / 1048576:.1f} GiB"
    except (OSError, AttributeError):
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    peers = [version(n) for n in ("bpftool", "bpftrace", "docker-registry", "skopeo", "wrk",
                                  "clang")]
    rustc = _first_line(["rustc", "--version"]) or "?"
    return [
        f"- CPU: {lscpu}, {cpus} CPUs" + (f" (VM, {hyper})" if hyper else ""),
        f"- memory: {mem}; kernel {platform.release()} ({platform.machine()})",
        f"- {rustc}; peers: " + ", ".join(p for p in peers if p),
        f"- load average when the run started: {load}",
    ]
