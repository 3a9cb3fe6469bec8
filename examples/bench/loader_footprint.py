#!/usr/bin/env python3
"""Loader footprint, measured side by side in one run (as root).

coreship-load running bpf/execsnoop against:
  - bpftool prog loadall on the same object (load only: bpftool 7.1 cannot attach or read
    ring buffers, so its figures are a floor, not a peer doing the same work), and
  - bpftrace running the equivalent one-liner on the same tracepoint.

Prints size on disk, peak RSS while streaming exec events under load, and time from process
start to attached programs, with ratios peer/coreship. Never asserts on timings.
"""
import os
import re
import shutil
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOADER = os.path.join(ROOT, "target/release/coreship-load")
STATIC = os.path.join(ROOT, "target/x86_64-unknown-linux-gnu/loader-release/coreship-load")
OBJ = os.path.join(ROOT, "target/coreship/execsnoop/x86_64/execsnoop.bpf.o")
ONELINER = 'tracepoint:sched:sched_process_exec { printf("%d %d %s\\n", pid, uid, comm); }'
RUN_S = 3.0
REPEAT = 5


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def stripped_size(path):
    tmp = f"/tmp/coreship-bench-strip-{os.getpid()}"
    shutil.copy(path, tmp)
    subprocess.run(["strip", tmp], check=False)
    size = os.path.getsize(tmp)
    os.unlink(tmp)
    return size


def shared_libs_size(path):
    """Bytes of the shared libraries a dynamic binary loads (ldd), de-duplicated."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    libs = set(re.findall(r"=> (/\S+)", out))
    return sum(os.path.getsize(os.path.realpath(l)) for l in libs)


def exec_storm(stop):
    while not stop.is_set():
        subprocess.run(["/bin/true"])


def peak_rss_and_attach(cmd, ready_pattern, stream="stderr"):
    """Runs cmd under load for RUN_S; returns (peak RSS KiB, seconds until ready_pattern)."""
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = [None]
    src = p.stderr if stream == "stderr" else p.stdout
    other = p.stdout if stream == "stderr" else p.stderr

    def watch():
        for line in src:
            if ready[0] is None and re.search(ready_pattern, line):
                ready[0] = time.monotonic() - start

    def drain():
        for _ in other:
            pass

    threads = [threading.Thread(target=watch), threading.Thread(target=drain)]
    for t in threads:
        t.start()
    stop = threading.Event()
    storm = threading.Thread(target=exec_storm, args=(stop,))
    peak = 0
    deadline = time.monotonic() + 30
    while ready[0] is None and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    storm.start()
    end = time.monotonic() + RUN_S
    while time.monotonic() < end and p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                m = re.search(r"VmHWM:\s+(\d+)", f.read())
                peak = max(peak, int(m.group(1)))
        except OSError:
            pass
        time.sleep(0.05)
    stop.set()
    storm.join()
    p.send_signal(2)
    p.wait(timeout=30)
    for t in threads:
        t.join()
    return peak, ready[0]


def bpftool_loadall():
    pin = f"/sys/fs/bpf/coreship-bench-{os.getpid()}"
    start = time.monotonic()
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "bpftool", "prog", "loadall", OBJ, pin],
                         stderr=subprocess.PIPE, text=True)
    _, err = p.communicate()
    elapsed = time.monotonic() - start
    shutil.rmtree(pin, ignore_errors=True)
    rss = int(err.strip().splitlines()[-1])
    return rss, elapsed


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    return xs[len(xs) // 2] if xs else None


def main():
    if os.geteuid() != 0:
        sys.exit("loader_footprint.py: run as root")
    if not os.path.exists(LOADER):
        sh("cargo", "build", "--release", "-p", "coreship-loader", "--bin", "coreship-load", cwd=ROOT)
    if not os.path.exists(STATIC):
        env = dict(os.environ, RUSTFLAGS="-C target-feature=+crt-static",
                   LIBBPF_SYS_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu")
        sh("cargo", "build", "--profile", "loader-release", "-p", "coreship-loader", "--bin",
           "coreship-load", "--features", "static", "--target", "x86_64-unknown-linux-gnu",
           cwd=ROOT, env=env)
    if not os.path.exists(OBJ):
        sh(os.path.join(ROOT, "target/release/coreship"), "build", "--probe", "execsnoop", cwd=ROOT)
    bpftool = shutil.which("bpftool")
    bpftrace = shutil.which("bpftrace")

    rows = []
    # Size on disk.
    size = stripped_size(LOADER)
    size_libs = size + shared_libs_size(LOADER)
    rows.append(("coreship-load stripped (dynamic glibc)", f"{size / 1048576:.2f} MiB", ""))
    if os.path.exists(STATIC):
        s = stripped_size(STATIC)
        rows.append(("coreship-load stripped (static, crt-static)", f"{s / 1048576:.2f} MiB", ""))
        size = s
        size_libs = s
    for name, path in (("bpftool", bpftool), ("bpftrace", bpftrace)):
        if path:
            total = os.path.getsize(path) + shared_libs_size(path)
            rows.append((f"{name} binary + shared libs", f"{total / 1048576:.1f} MiB",
                         f"{total / size_libs:.1f}x coreship"))

    # Peak RSS while streaming, and time to attach.
    cs = [peak_rss_and_attach([LOADER, "run", OBJ, "--format", "json"], r": attached ")
          for _ in range(REPEAT)]
    cs_rss, cs_t = median([r for r, _ in cs]), median([t for _, t in cs])
    rows.append(("coreship-load peak RSS streaming execsnoop", f"{cs_rss / 1024:.1f} MiB", ""))
    rows.append(("coreship-load start -> programs attached", f"{cs_t * 1000:.0f} ms", ""))
    if bpftool:
        bt = [bpftool_loadall() for _ in range(REPEAT)]
        rss, t = median([r for r, _ in bt]), median([t for _, t in bt])
        rows.append(("bpftool prog loadall peak RSS (load only)", f"{rss / 1024:.1f} MiB",
                     f"{rss / cs_rss:.2f}x coreship"))
        rows.append(("bpftool prog loadall wall time (load, no attach)", f"{t * 1000:.0f} ms",
                     f"{t / cs_t:.2f}x coreship"))
    if bpftrace:
        tr = [peak_rss_and_attach([bpftrace, "-e", ONELINER], r"Attaching", stream="stdout")
              for _ in range(REPEAT)]
        rss, t = median([r for r, _ in tr]), median([t for _, t in tr])
        rows.append(("bpftrace one-liner peak RSS streaming", f"{rss / 1024:.1f} MiB",
                     f"{rss / cs_rss:.1f}x coreship"))
        rows.append(("bpftrace start -> 'Attaching' printed", f"{t * 1000:.0f} ms",
                     f"{t / cs_t:.1f}x coreship"))

    w = max(len(r[0]) for r in rows)
    print(f"{'measure':<{w}}  {'value':>10}  ratio")
    for name, value, ratio in rows:
        print(f"{name:<{w}}  {value:>10}  {ratio}")
    print(f"(median of {REPEAT} runs; {RUN_S:.0f} s of /bin/true exec storm per streaming run)")


if __name__ == "__main__":
    main()
