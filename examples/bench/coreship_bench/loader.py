"""1. Loader footprint: size on disk, peak RSS while streaming execsnoop under an exec storm,
and time from process start to attached programs and to the first event, with a cached
artifact, next to bpftool and bpftrace on the same object and tracepoint."""
import os
import platform
import re
import shutil
import subprocess
import time

from . import machine
from .report import Row, Section, Target, median

# The same work as bpf/execsnoop.bpf.c: pid, parent, uid, command and file of every exec.
EXEC_ONELINER = ('tracepoint:sched:sched_process_exec { printf("%llu %d %d %d %s %s\\n", nsecs, '
                 'pid, curtask->real_parent->tgid, uid, comm, str(args->filename)); }')
ATTACHED = r": attached "
# Execs per second of the storm while start-up is timed: one every 1 ms bounds how late the
# first event can be after attaching (a free-running storm reaches ~1,000/s on a 2-core VM).
TIMING_STORM_RATE = 1000


def stripped_size(path, tmp):
    copy = os.path.join(tmp, "stripped")
    shutil.copy(path, copy)
    subprocess.run(["strip", copy], check=False, capture_output=True)
    size = os.path.getsize(copy)
    os.unlink(copy)
    return size


def with_shared_libs(path):
    """Bytes of a binary plus the shared libraries it loads (ldd), each counted once."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    libs = set(re.findall(r"=> (/\S+)", out))
    libs |= set(re.findall(r"^\s*(/\S+ld-linux\S*)", out, re.M))
    return os.path.getsize(path) + sum(os.path.getsize(os.path.realpath(lib)) for lib in libs)


def events_line(proc):
    m = re.search(r"(\d+) events, (\d+) lost", proc.err.text() if proc.err else "")
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


class LoaderBench:
    def __init__(self, tools, cleanup, reps, stream_s):
        self.tools = tools
        self.cleanup = cleanup
        self.reps = reps
        self.stream_s = stream_s
        self.tmp = cleanup.tmp("loader")
        self.bpftool = machine.version("bpftool") or "bpftool"
        self.bpftrace = machine.version("bpftrace") or "bpftrace"

    def run(self):
        t = self.tools
        sec = Section("1. Loader footprint",
                      "coreship-load is the static musl build (`loader/build-static.sh`), as "
                      "shipped; peers run the same object (bpftool) or the equivalent one-liner "
                      "(bpftrace). Ratio > 1: coreship is smaller / faster.")
        arch = platform.machine()
        pkg = t.build_probe("execsnoop", arches=arch)
        obj = os.path.join(pkg, arch, "execsnoop.bpf.o")
        self.sizes(sec)
        self.rss(sec, obj)
        self.startup(sec, pkg, obj)
        return sec

    # -- size on disk ------------------------------------------------------------------------

    def sizes(self, sec):
        t = self.tools
        ours = stripped_size(t.loader, self.tmp)
        nodef = stripped_size(t.loader_nodefault, self.tmp)
        peers = []
        for name, path in ((self.bpftool, t.bpftool), (self.bpftrace, t.bpftrace)):
            peers.append((name, with_shared_libs(path) if path else None, path))
        for name, size, path in peers:
            sec.add(Row("on disk: static loader, default features", "MiB", ours,
                        f"{name} + shared libs", size,
                        peer_note=None if path else self.tools.missing(name)))
        name, size, path = peers[0]
        sec.add(Row("on disk: static loader, --no-default-features", "MiB", nodef,
                    f"{name} + shared libs", size,
                    peer_note=None if path else self.tools.missing(name)))
        dyn = with_shared_libs(t.loader_dynamic)
        sec.note("static loaders stripped, from `loader/build-static.sh [--no-default-features]`"
                 f"; the glibc release build with its shared libraries: {dyn / 1048576:.2f} MiB")

    # -- peak RSS while streaming --------------------------------------------------------------

    def storm(self, seconds, rate=0):
        cmd = [self.tools.loadgen, "exec", f"{seconds:.3f}"] + ([str(rate)] if rate else [])
        return self.cleanup.spawn(cmd, stdout="watch", stderr="null")

    def stream_rss(self, cmd, ready, ready_on_stdout):
        """Peak RSS (KiB) of `cmd` streaming exec events for stream_s under a storm; with the
        storm's exec rate."""
        p = self.cleanup.spawn(cmd, stdout="watch", stderr="watch", patterns=(ready,))
        watch = p.out if ready_on_stdout else p.err
        if watch.wait_for(ready, 30) is None:
            p.stop()
            raise RuntimeError(f"{cmd[0]} did not attach: {p.err.text()}")
        storm = self.storm(self.stream_s)
        storm.wait(self.stream_s + 30)
        storm.out.thread.join(timeout=5)
        execs = int(storm.out.text().strip() or 0)
        peak = p.vmhwm_kib()
        p.stop()
        return peak, execs / self.stream_s

    def loadall(self, obj, i):
        """bpftool prog loadall: peak RSS (KiB) and wall time (s); its pins removed."""
        pin = self.cleanup.pin_dir(f"loadall{i}")
        p = self.cleanup.spawn([self.tools.bpftool, "prog", "loadall", obj, pin],
                               stdout="null", stderr="watch")
        status = p.wait(60)
        wall = time.monotonic() - p.t0
        shutil.rmtree(pin, ignore_errors=True)
        if status != 0:
            raise RuntimeError(f"bpftool prog loadall failed: {p.err.text()}")
        return p.usage.maxrss_kib, wall

    def rss(self, sec, obj):
        t = self.tools
        ours, rates, tool, trace = [], [], [], []
        for i in range(self.reps):
            peak, rate = self.stream_rss([t.loader, "run", obj, "--format", "json"], ATTACHED,
                                         False)
            ours.append(peak)
            rates.append(rate)
            if t.bpftool:
                tool.append(self.loadall(obj, i))
            if t.bpftrace:
                peak, rate = self.stream_rss([t.bpftrace, "-e", EXEC_ONELINER], r"^Attaching",
                                             True)
                trace.append(peak)
                rates.append(rate)
        ours = median(ours)
        self.loadall_wall = median([w for _, w in tool]) if tool else None
        sec.add(Row("peak RSS streaming execsnoop (JSON)", "KiB-as-MiB", ours,
                    f"{self.bpftool} prog loadall (load only)", median([r for r, _ in tool]),
                    target=Target("≤ 1.1× bpftool", min_ratio=1 / 1.1),
                    peer_note=None if t.bpftool else t.missing("bpftool")))
        sec.add(Row("peak RSS streaming execsnoop (JSON)", "KiB-as-MiB",
                    ours, f"{self.bpftrace} one-liner streaming", median(trace),
                    target=Target("≥ 6× below bpftrace", min_ratio=6),
                    peer_note=None if t.bpftrace else t.missing("bpftrace")))
        sec.note(f"exec storm: {median(rates):,.0f} execs/s (examples/bench/loadgen.c), "
                 f"{self.stream_s:g} s per run; median of {self.reps}")
        sec.note("bpftool 7.1 can neither attach nor read a ring buffer (`map event_pipe` reads "
                 "perf event arrays only): its figures are for loading the same object, a floor")

    # -- start-up with a cached artifact ------------------------------------------------------

    def cache_artifact(self, pkg):
        """Exports the package, imports it into a fresh cache; returns (env, name)."""
        t = self.tools
        tar = os.path.join(self.tmp, "execsnoop.tar")
        subprocess.run([t.coreship, "export", pkg, "--prefix", "bench.local/coreship", "-o", tar,
                        "--color", "never"], check=True, capture_output=True, timeout=120)
        env = dict(os.environ, CORESHIP_CACHE_DIR=os.path.join(self.tmp, "cache"))
        subprocess.run([t.loader, "import", tar], check=True, capture_output=True, env=env,
                       timeout=120)
        ls = subprocess.run([t.loader, "cache", "ls"], check=True, capture_output=True,
                            text=True, env=env, timeout=60).stdout
        return env, ls.split()[0]

    def first_event(self, cmd, env, ready, ready_on_stdout):
        """(start → attached, start → first event) in seconds."""
        p = self.cleanup.spawn(cmd, env=env, stdout="watch", stderr="watch", patterns=(ready,))
        watch = p.out if ready_on_stdout else p.err
        attached = watch.wait_for(ready, 30)
        first = (p.out.wait_after(ready, 10) if ready_on_stdout
                 else p.out.wait_first_line(10))
        p.stop()
        return attached, first

    def startup(self, sec, pkg, obj):
        t = self.tools
        env, name = self.cache_artifact(pkg)
        budget = self.reps * 8 + 30
        storm = self.storm(budget, TIMING_STORM_RATE)
        ours, trace = [], []
        for _ in range(self.reps):
            ours.append(self.first_event([t.loader, "run", name, "--offline", "--format", "json"],
                                         env, ATTACHED, False))
            if t.bpftrace:
                trace.append(self.first_event([t.bpftrace, "-e", EXEC_ONELINER], None,
                                              r"^Attaching", True))
        storm.stop()
        missing = None if t.bpftrace else t.missing("bpftrace")
        sec.add(Row("start → programs attached (cached artifact)", "ms",
                    median([a for a, _ in ours]), f"{self.bpftrace} (\"Attaching\" printed)",
                    median([a for a, _ in trace]), peer_note=missing))
        sec.add(Row("start → programs attached (cached artifact)", "ms",
                    median([a for a, _ in ours]), f"{self.bpftool} prog loadall (exit)",
                    self.loadall_wall,
                    peer_note=None if t.bpftool else t.missing("bpftool")))
        sec.add(Row("start → first event delivered (cached artifact)", "ms",
                    median([f for _, f in ours]), self.bpftrace, median([f for _, f in trace]),
                    target=Target("≤ 30 ms", max_value=0.030), peer_note=missing))
        sec.note(f"start-up: `coreship-load run {name} --offline` after `coreship-load import`, "
                 f"under a storm of one exec per {1000 / TIMING_STORM_RATE:g} ms; wall time "
                 f"from spawn to the line read through a pipe; median of {self.reps}")
