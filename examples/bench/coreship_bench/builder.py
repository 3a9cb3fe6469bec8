"""3. Builder: a cold `coreship build` of every probe of the workspace for x86_64 and aarch64,
with -jN against -j1 (the output directory removed before each), a no-op rebuild and a
rebuild after one source file changed.

It builds a copy of the workspace's tracked files in a temp dir, so the edit never touches
the checkout. `coreship build` runs one clang per (probe, arch) on a pool of -j threads after
one serial step (cargo metadata, headers, vmlinux.h from the kernel's BTF).
"""
import os
import shutil
import subprocess
import time

from .prepare import ROOT
from .report import Row, Section, Target, median

ARCHES = "x86_64,aarch64"
EDITED = "bpf/execsnoop.bpf.c"


def copy_workspace(dest):
    """The tracked files of the checkout (as they are on disk) under `dest`."""
    try:
        files = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], check=True,
                               capture_output=True, timeout=60).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        files = None
    if not files:
        shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns("target*", ".git"),
                        dirs_exist_ok=True)
        return
    for f in files:
        src = os.path.join(ROOT, f)
        if not f or not os.path.isfile(src):
            continue
        os.makedirs(os.path.dirname(os.path.join(dest, f)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, f))


class BuilderBench:
    def __init__(self, tools, cleanup, reps):
        self.tools = tools
        self.cleanup = cleanup
        self.reps = reps
        self.ws = cleanup.tmp("builder/ws")
        self.out = os.path.join(cleanup.tmp("builder"), "out")
        self.objects = 0

    def build(self, jobs):
        """Wall seconds of one `coreship build` of every probe for both arches."""
        cmd = [self.tools.coreship, "build", "--manifest-path",
               os.path.join(self.ws, "Cargo.toml"), "--arch", ARCHES, "--out", self.out, "-j",
               str(jobs), "--color", "never"]
        p = self.cleanup.spawn(cmd, stdout="null", stderr="watch", patterns=(r"^\s*compiled ",))
        status = p.wait(600)
        wall = time.monotonic() - p.t0
        if status != 0:
            raise RuntimeError(f"coreship build failed ({status}): {p.err.text()}")
        p.err.thread.join(timeout=5)
        self.last_compiled = p.err.counts[r"^\s*compiled "]
        return wall

    def cold(self, jobs):
        shutil.rmtree(self.out, ignore_errors=True)
        wall = self.build(jobs)
        self.objects = max(self.objects, self.last_compiled)
        return wall

    def run(self):
        jobs = self.tools.jobs
        sec = Section("3. Builder",
                      f"`coreship build --arch {ARCHES}` of every probe in a copy of the "
                      "workspace; cold = output directory removed first. Ratio > 1: the "
                      "measured build is faster than its reference.")
        copy_workspace(self.ws)
        par, seq = [], []
        for _ in range(self.reps):
            par.append(self.cold(jobs))
            seq.append(self.cold(1))
        noop = [self.build(jobs) for _ in range(max(3, self.reps * 2))]
        edited = os.path.join(self.ws, EDITED)
        one = []
        for i in range(self.reps):
            with open(edited, "a") as f:
                f.write(f"/* bench edit {i} */\n")
            one.append(self.build(jobs))
        sec.add(Row(f"cold build, {self.objects} objects, -j{jobs} vs -j1", "s", median(par),
                    "coreship build -j1", median(seq),
                    target=Target("≥ 1.8× faster than -j1", min_ratio=1.8)))
        sec.add(Row("no-op rebuild", "ms", median(noop), "cold build", median(par),
                    target=Target("≤ 100 ms", max_value=0.100)))
        sec.add(Row(f"one source changed ({EDITED}: 2 objects)", "s", median(one),
                    "cold build", median(par)))
        sec.note(f"{os.cpu_count()} CPUs; -j{jobs}; median of {self.reps} cold builds each "
                 f"and {len(noop)} no-op rebuilds")
        return sec
