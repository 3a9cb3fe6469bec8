"""Builds what the bench runs, in release mode, and finds the peers.

Everything is built once per bench run (cargo and build-static.sh reuse their output, so a
second run only checks freshness): the release binaries, the static musl loaders (default
features and --no-default-features), the C load generator and the probes.
"""
import os
import platform
import shutil
import sys

from .report import peer_missing

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BENCH = os.path.join(ROOT, "examples", "bench")


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def run(cmd, cleanup, *, env=None, cwd=ROOT, timeout=1800, capture=False):
    """Runs a build step to completion, killed with the bench. Its output goes to our stderr,
    or with `capture` is kept (stdout returned, stderr shown only on failure)."""
    p = cleanup.spawn(cmd, env=env, cwd=cwd, stdout="watch" if capture else sys.stderr,
                      stderr="watch" if capture else "inherit")
    status = p.wait(timeout)
    if capture:
        for w in (p.out, p.err):
            w.thread.join(timeout=5)
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({status})"
                           + (f":\n{p.err.text()}" if capture else ""))
    return p.out.text() if capture else None


class Tools:
    """Paths of the binaries under test and of the peers (None when missing)."""

    def __init__(self, cleanup, jobs):
        self.cleanup = cleanup
        self.jobs = jobs
        self.target_dir = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
        rel = os.path.join(self.target_dir, "release")
        self.coreship = os.path.join(rel, "coreship")
        self.loader_dynamic = os.path.join(rel, "coreship-load")
        self.registry = os.path.join(rel, "coreship-registry")
        self.loader = None  # static musl, default features: what the loader figures use
        self.loader_nodefault = None
        self.loadgen = None
        self.bpftool = shutil.which("bpftool")
        self.bpftrace = shutil.which("bpftrace")
        self.docker_registry = shutil.which("docker-registry")
        self.skopeo = shutil.which("skopeo")
        self.wrk = shutil.which("wrk")

    def missing(self, name):
        """"peer missing" (or an error under CORESHIP_REQUIRE_PEERS=1) for a peer tool."""
        return peer_missing(name, "see examples/setup-host.sh --tests")

    def build_release(self):
        log("cargo build --release (coreship, coreship-load, coreship-registry)")
        run(["cargo", "build", "--release", "--locked", "-j", str(self.jobs), "--bins",
             "-p", "coreship-builder", "-p", "coreship-loader", "-p", "coreship-registry"],
            self.cleanup)

    def build_static(self):
        """Both static musl loaders (each configuration at a path of its own)."""
        env = dict(os.environ, CARGO_TARGET_DIR=self.target_dir,
                   CORESHIP_BUILD_JOBS=str(self.jobs))
        for flags, attr in (([], "loader"), (["--no-default-features"], "loader_nodefault")):
            log(f"loader/build-static.sh {' '.join(flags)}".rstrip())
            text = run([os.path.join(ROOT, "loader", "build-static.sh")] + flags, self.cleanup,
                       env=env, capture=True)
            setattr(self, attr, text.strip().splitlines()[-1])

    def build_loadgen(self):
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            raise RuntimeError("no C compiler (cc) for examples/bench/loadgen.c")
        self.loadgen = os.path.join(self.cleanup.tmp("bin"), "loadgen")
        run([cc, "-O2", "-Wall", "-o", self.loadgen, os.path.join(BENCH, "loadgen.c")],
            self.cleanup)

    def build_probe(self, name, arches="x86_64"):
        """`coreship build --probe NAME` into a temp output dir; returns the package dir."""
        out = self.cleanup.tmp("probes")
        run([self.coreship, "build", "--manifest-path", os.path.join(ROOT, "Cargo.toml"),
             "--probe", name, "--arch", arches, "--out", out, "--color", "never"],
            self.cleanup, capture=True)
        return os.path.join(out, name)

    def build_file_probe(self, source):
        """`coreship build FILE.bpf.c` (a probe outside the manifest) for this machine."""
        out = self.cleanup.tmp("probes")
        arch = platform.machine()
        run([self.coreship, "build", source, "--arch", arch, "--out", out, "--color", "never"],
            self.cleanup, capture=True)
        name = os.path.basename(source).split(".")[0]
        return os.path.join(out, name, arch, f"{name}.bpf.o")

    def build_all(self):
        """Every probe of the workspace for x86_64 and aarch64, once per bench run; returns
        the output dir (package dirs by probe name)."""
        out = os.path.join(self.cleanup.root, "all-probes")
        if not os.path.isdir(out):
            run([self.coreship, "build", "--manifest-path", os.path.join(ROOT, "Cargo.toml"),
                 "--arch", "x86_64,aarch64", "--out", out, "--color", "never"], self.cleanup,
                capture=True)
        return out
