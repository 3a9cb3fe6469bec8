"""2. Event path: records decoded and printed per second from a ring buffer under a synthetic
load, CPU per record and records lost, in text and JSON, against bpftrace printing the same
fields from the same tracepoint.

The load: examples/bench/loadgen.c calls getppid() in a tight loop for a fixed time on one
CPU; examples/bench/evflood.bpf.c (filtered to its pid) reserves one record per call in a
16 MiB ring buffer. The tracer's output goes through a pipe to `loadgen count`, which counts
the records (each carries the command name) at the cost of a read(2) per 64 KiB. Lost =
calls - records counted: ring buffers drop silently when full, so the loader's own "M lost"
(perf buffers only) cannot tell.
"""
import os
import re
import subprocess
import time

from . import machine
from .prepare import BENCH
from .report import Row, Section, Target, median

FLOOD_ONELINER = ('tracepoint:syscalls:sys_enter_getppid /pid == %d/ { printf("%%llu %%d %%d '
                  '%%d %%s\\n", nsecs, pid, tid, uid, comm); }')


class Flood:
    """One measured run: calls made, records delivered, the reader's CPU and wall time."""

    def __init__(self, calls, delivered, seconds, usage):
        self.calls = calls
        self.delivered = delivered
        self.seconds = seconds
        self.cpu_s = usage.cpu_s if usage else None

    @property
    def lost(self):
        return max(self.calls - self.delivered, 0)

    @property
    def wall_rate(self):
        return self.delivered / self.seconds

    @property
    def cpu_rate(self):
        return self.delivered / self.cpu_s if self.cpu_s else None


class EventsBench:
    def __init__(self, tools, cleanup, reps, flood_s):
        self.tools = tools
        self.cleanup = cleanup
        self.reps = reps
        self.flood_s = flood_s
        self.bpftrace = machine.version("bpftrace") or "bpftrace"

    def flood(self, make_cmd, ready_on_stderr):
        """Runs the tracer `make_cmd(pid)` against one flood; returns a Flood."""
        t, c = self.tools, self.cleanup
        r, w = os.pipe()
        try:
            counter = c.spawn([t.loadgen, "count", "loadgen"], stdin=r, stdout="watch",
                              stderr="null", patterns=(r"^ready",))
            gen = c.spawn([t.loadgen, "getppid", f"{self.flood_s:g}"], stdin=subprocess.PIPE,
                          stdout="watch", stderr="null")
            tracer = c.spawn(make_cmd(gen.pid), stdout=w, stderr="watch",
                             patterns=(r": attached ",))
        finally:
            os.close(r)
            os.close(w)
        ready = (tracer.err.wait_for(r": attached ", 30) if ready_on_stderr
                 else counter.out.wait_for(r"^ready", 30))
        if ready is None:
            tracer.stop()
            gen.stop()
            counter.stop()
            raise RuntimeError(f"{make_cmd(0)[0]} did not attach: {tracer.err.text()}")
        # bpftrace prints "Attaching" before it attaches: give both a moment.
        time.sleep(0.2)
        start = time.monotonic()
        gen.popen.stdin.write(b"go\n")
        gen.popen.stdin.close()
        gen.wait(self.flood_s + 30)
        seconds = time.monotonic() - start
        gen.out.thread.join(timeout=5)
        calls = int(gen.out.text().strip() or 0)
        # Let the reader drain what is already buffered before it is stopped.
        time.sleep(0.3)
        tracer.stop()
        counter.wait(30)
        counter.out.thread.join(timeout=5)
        m = re.search(r"^(\d+) (\d+) (\d+)$", counter.out.text(), re.M)
        delivered = int(m.group(1)) if m else 0
        return Flood(calls, delivered, seconds, tracer.usage)

    def run(self):
        t = self.tools
        sec = Section("2. Event path",
                      "Records from a ring buffer (coreship) or perf buffer (bpftrace) decoded "
                      "and printed into a counting pipe while `loadgen` calls getppid() in a "
                      "tight loop; the reader's CPU is user+sys from wait4(2). Ratio > 1: "
                      "coreship is faster / cheaper.")
        obj = t.build_file_probe(os.path.join(BENCH, "evflood.bpf.c"))
        for fmt in ("json", "text"):
            ours, peer = [], []
            for _ in range(self.reps):
                ours.append(self.flood(
                    lambda pid: [t.loader, "run", obj, "--format", fmt, "--set",
                                 f"target_tgid={pid}"], True))
                if t.bpftrace:
                    peer.append(self.flood(
                        lambda pid: [t.bpftrace] + (["-f", "json"] if fmt == "json" else [])
                        + ["-e", FLOOD_ONELINER % pid], False))
            self.rows(sec, fmt, ours, peer)
        sec.note("lost: a ring buffer drops records silently when full (16 MiB here), which "
                 "happens when the reader is off-CPU longer than the buffer lasts at the flood's "
                 "rate; bpftrace's producer is slowed by perf_event_output instead")
        sec.note(f"{self.flood_s:g} s of flood per run, median of {self.reps}; the producer "
                 "and the reader share the machine's CPUs with each other (and here with "
                 "other work), so delivered/s is bounded by how fast loadgen can call "
                 "getppid() with the probe attached: records per reader CPU-second is the "
                 "reader's own capacity on one core")
        return sec

    def rows(self, sec, fmt, ours, peer):
        name = "JSON" if fmt == "json" else "text"
        missing = None if self.tools.bpftrace else self.tools.missing("bpftrace")
        peer_name = f"{self.bpftrace}" + (" -f json" if fmt == "json" else "")

        def m(runs, attr):
            return median([getattr(r, attr) for r in runs]) if runs else None

        sec.add(Row(f"{name}: records per reader CPU-second (one core)", "ev/s",
                    m(ours, "cpu_rate"), peer_name, m(peer, "cpu_rate"), lower_is_better=False,
                    target=Target("≥ 1 M/s", min_value=1e6) if fmt == "json" else None,
                    peer_note=missing))
        ours_ns = [r.cpu_s / r.delivered for r in ours if r.delivered and r.cpu_s]
        peer_ns = [r.cpu_s / r.delivered for r in peer if r.delivered and r.cpu_s]
        sec.add(Row(f"{name}: reader CPU per record (user+sys)", "ns", median(ours_ns),
                    peer_name, median(peer_ns), peer_note=missing))
        sec.add(Row(f"{name}: records delivered per second (wall)", "ev/s",
                    m(ours, "wall_rate"), peer_name, m(peer, "wall_rate"),
                    lower_is_better=False, peer_note=missing))
        sec.add(Row(f"{name}: records lost (of calls made)", "count", m(ours, "lost"),
                    peer_name, m(peer, "lost"), peer_note=missing))
        sec.note(f"{name}: calls made per run, median: coreship {m(ours, 'calls'):,.0f}"
                 + (f", {peer_name} {m(peer, 'calls'):,.0f}" if peer else ""))
