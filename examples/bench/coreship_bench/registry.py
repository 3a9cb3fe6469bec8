"""4. Registry: coreship-registry against Debian's docker-registry (CNCF distribution) on the
same machine in the same run — manifest GET (wrk) and HEAD (loadgen head: wrk 4.1 cannot do
HEAD), blob GET for a 640 KB and a large blob, pushes of every probe, and the bytes a pull of
an already cached artifact moves.

Both servers listen on 127.0.0.1 with storage in a temp dir; docker-registry runs with the
config registry/tests/common/mod.rs uses (no auth, access log off), coreship-registry with a
push token (pulls are anonymous on both).
"""
import hashlib
import http.client
import os
import re
import socket
import subprocess
import time

from . import machine
from .prepare import ROOT
from .proxy import CountingProxy
from .report import Row, Section, Target, median

TOKEN = "bench-push-token"
ACCEPT = ("Accept: application/vnd.oci.image.index.v1+json, "
          "application/vnd.oci.image.manifest.v1+json")
SMALL_BLOB = 640 * 1024
LARGE_BLOB = 64 * 1024 * 1024
CONNS = 16
REPO = "bench/execsnoop"
TAG = "0.1.0"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, limit=20.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Server:
    """A registry on 127.0.0.1:port, stopped with the bench."""

    def __init__(self, name, proc, port, token=None):
        self.name = name
        self.proc = proc
        self.port = port
        self.token = token
        if not wait_port(port):
            proc.stop()
            raise RuntimeError(f"{name} did not listen on 127.0.0.1:{port}: {proc.err.text()}")

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        self.proc.stop(grace=5)

    def upload(self, repo, data):
        """A monolithic blob upload (POST, then PUT with the digest); returns the digest."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        auth = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("POST", f"/v2/{repo}/blobs/uploads/", headers=dict(auth,
                     **{"Content-Length": "0"}))
        r = conn.getresponse()
        r.read()
        if r.status != 202:
            raise RuntimeError(f"{self.name}: upload start: HTTP {r.status}")
        loc = r.getheader("Location")
        if loc.startswith("http"):
            loc = "/" + loc.split("/", 3)[3]
        sep = "&" if "?" in loc else "?"
        conn.request("PUT", f"{loc}{sep}digest={digest}", body=data, headers=dict(
            auth, **{"Content-Type": "application/octet-stream"}))
        r = conn.getresponse()
        r.read()
        conn.close()
        if r.status != 201:
            raise RuntimeError(f"{self.name}: upload {digest}: HTTP {r.status}")
        return digest


def parse_rate(text, label):
    m = re.search(label + r":\s+([\d.]+)\s*([KMG]?B)?", text)
    if not m:
        return None
    scale = {"B": 1e-6, "KB": 1024 / 1e6, "MB": 1048576 / 1e6, "GB": 1073741824 / 1e6}
    return float(m.group(1)) * (scale[m.group(2)] if m.group(2) else 1)


class RegistryBench:
    def __init__(self, tools, cleanup, reps, load_s):
        self.tools = tools
        self.cleanup = cleanup
        self.reps = reps
        self.load_s = load_s
        self.tmp = cleanup.tmp("registry")
        self.docker = machine.version("docker-registry") or "docker-registry"
        self.skopeo = machine.version("skopeo") or "skopeo"
        self.errors = []

    # -- servers -----------------------------------------------------------------------------

    def start_ours(self, name):
        root = os.path.join(self.tmp, name)
        os.makedirs(root, exist_ok=True)
        tokens = os.path.join(self.tmp, "tokens")
        with open(tokens, "w") as f:
            f.write(TOKEN + "\n")
        port = free_port()
        p = self.cleanup.spawn([self.tools.registry, "serve", "--root", root, "--listen",
                                f"127.0.0.1:{port}", "--push-token-file", tokens],
                               stdout="null", stderr="watch")
        return Server("coreship-registry", p, port, TOKEN)

    def start_docker(self, name):
        if not self.tools.docker_registry:
            return None
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        port = free_port()
        config = os.path.join(d, "config.yml")
        with open(config, "w") as f:
            f.write("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                    f"storage:\n  filesystem:\n    rootdirectory: {d}/data\n  delete:\n"
                    f"    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n")
        p = self.cleanup.spawn([self.tools.docker_registry, "serve", config], stdout="null",
                               stderr="watch")
        return Server("docker-registry", p, port)

    # -- content -----------------------------------------------------------------------------

    def push_env(self, server):
        env = dict(os.environ)
        env.pop("CORESHIP_REGISTRY_TOKEN", None)
        if server.token:
            env["CORESHIP_REGISTRY_TOKEN"] = server.token
        return env

    def push_one(self, server, pkg, ref):
        subprocess.run([self.tools.coreship, "push", "--compat", pkg, ref, "--color", "never"],
                       check=True, capture_output=True, env=self.push_env(server), timeout=120)

    # -- throughput --------------------------------------------------------------------------

    def wrk(self, server, path, header=None):
        """(requests/s, MB/s) of wrk -c16 against GET path."""
        # 16 transfers of a large blob share the machine: allow them more than wrk's 2 s.
        cmd = [self.tools.wrk, "-t2", f"-c{CONNS}", f"-d{self.load_s:g}s", "--timeout", "20s"]
        if header:
            cmd += ["-H", header]
        cmd.append(f"http://{server.host}{path}")
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=self.load_s + 60)
        if "Non-2xx" in out.stdout or "Socket errors" in out.stdout or out.returncode != 0:
            self.errors.append(f"wrk {server.name} {path}: "
                               + " ".join(l.strip() for l in out.stdout.splitlines()
                                          if "Non-2xx" in l or "Socket errors" in l))
        return parse_rate(out.stdout, "Requests/sec"), parse_rate(out.stdout, "Transfer/sec")

    def head(self, server, path):
        out = subprocess.run([self.tools.loadgen, "head", str(server.port), path, str(CONNS),
                              f"{self.load_s:g}", ACCEPT], capture_output=True, text=True,
                             timeout=self.load_s + 60)
        done, bad, errors = (int(x) for x in out.stdout.split())
        if bad or errors:
            self.errors.append(f"HEAD {server.name} {path}: {bad} non-2xx, {errors} errors")
        return done / self.load_s

    def throughput(self, sec, ours, docker, pkg):
        ref = lambda s: f"{s.host}/{REPO}:{TAG}"  # noqa: E731
        small = os.urandom(SMALL_BLOB)
        large = os.urandom(LARGE_BLOB)
        servers = [s for s in (ours, docker) if s]
        blobs = {}
        for s in servers:
            self.push_one(s, pkg, ref(s))
            blobs[s.name] = (s.upload(REPO, small), s.upload(REPO, large))
        manifest = f"/v2/{REPO}/manifests/{TAG}"
        got = {s.name: {} for s in servers}
        for _ in range(self.reps):
            for s in servers:
                g = got[s.name]
                small_d, large_d = blobs[s.name]
                g.setdefault("get", []).append(self.wrk(s, manifest, ACCEPT))
                g.setdefault("head", []).append(self.head(s, manifest))
                g.setdefault("small", []).append(self.wrk(s, f"/v2/{REPO}/blobs/{small_d}"))
                g.setdefault("large", []).append(self.wrk(s, f"/v2/{REPO}/blobs/{large_d}"))
        ours_g = got[ours.name]
        peer_g = got[docker.name] if docker else {}
        missing = None if docker else self.tools.missing("docker-registry")

        def m(g, key, i=None):
            if key not in g:
                return None
            return median([v[i] if i is not None else v for v in g[key]])

        def row(measure, unit, key, i=None, target=None):
            sec.add(Row(measure, unit, m(ours_g, key, i), self.docker, m(peer_g, key, i),
                        lower_is_better=False, target=target, peer_note=missing))

        row("manifest GET by tag (wrk)", "req/s", "get", 0,
            Target("≥ 3× docker-registry", min_ratio=3))
        row("manifest HEAD by tag (loadgen head)", "req/s", "head")
        row(f"blob GET, {SMALL_BLOB // 1024} KiB (wrk)", "req/s", "small", 0)
        row(f"blob GET, {SMALL_BLOB // 1024} KiB (wrk)", "MB/s", "small", 1,
            Target("≥ 1.0× docker-registry", min_ratio=1.0))
        row(f"blob GET, {LARGE_BLOB // 1048576} MiB (wrk)", "MB/s", "large", 1)

    # -- pushes ------------------------------------------------------------------------------

    def timed(self, fn):
        start = time.monotonic()
        fn()
        return time.monotonic() - start

    def pushes(self, sec, pkgs_out, names):
        """Every probe pushed into a fresh registry of each kind, by `coreship push --all`,
        by one `coreship push` per probe, and by one `skopeo copy` per probe from the same
        bytes (a layout from `coreship export --compat`)."""
        t = self.tools
        manifest = os.path.join(ROOT, "Cargo.toml")
        layout = os.path.join(self.tmp, "layout")
        subprocess.run([t.coreship, "export", "--compat", "--manifest-path", manifest, "--out",
                        pkgs_out, "-o", layout, "--color", "never"], check=True,
                       capture_output=True, timeout=300)
        kinds = [("ours", self.start_ours), ("docker", self.start_docker)]
        result = {}
        for kind, start in kinds:
            for client in ("all", "each", "skopeo"):
                if client == "skopeo" and not t.skopeo:
                    continue
                s = start(f"push-{kind}-{client}")
                if s is None:
                    continue
                env = self.push_env(s)
                if client == "all":
                    cmd = [t.coreship, "push", "--compat", "--all", f"{s.host}/bench",
                           "--manifest-path", manifest, "--out", pkgs_out, "--color", "never"]
                    run = lambda: subprocess.run(cmd, check=True, capture_output=True,  # noqa
                                                 env=env, timeout=600)
                elif client == "each":
                    def run():
                        for n in names:
                            self.push_one(s, os.path.join(pkgs_out, n), f"{s.host}/bench/{n}")
                else:
                    creds = ["--dest-creds", f"coreship:{s.token}"] if s.token else []

                    def run():
                        for n in names:
                            subprocess.run(
                                [t.skopeo, "copy", "--all", "--dest-tls-verify=false"] + creds
                                + [f"oci:{layout}:{n}:{self.versions[n]}",
                                   f"docker://{s.host}/bench/{n}:{self.versions[n]}"],
                                check=True, capture_output=True, timeout=120)
                result[(kind, client)] = self.timed(run)
                s.stop()
        n = len(names)
        dmiss = None if t.docker_registry else t.missing("docker-registry")
        smiss = None if t.skopeo else t.missing("skopeo")
        sec.add(Row(f"push {n} artifacts → coreship-registry, `push --all`", "s",
                    result.get(("ours", "all")), f"{self.skopeo} copy ×{n}",
                    result.get(("ours", "skopeo")), peer_note=smiss))
        sec.add(Row(f"push {n} artifacts → coreship-registry, `push` ×{n}", "s",
                    result.get(("ours", "each")), f"{self.skopeo} copy ×{n}",
                    result.get(("ours", "skopeo")), peer_note=smiss))
        sec.add(Row(f"push {n} artifacts → docker-registry, `push` ×{n}", "s",
                    result.get(("docker", "each")), f"{self.skopeo} copy ×{n}",
                    result.get(("docker", "skopeo")), peer_note=smiss or dmiss))
        sec.add(Row(f"push {n} artifacts → coreship-registry, `push --all`", "s",
                    result.get(("ours", "all")), f"→ {self.docker}, `push --all`",
                    result.get(("docker", "all")), peer_note=dmiss))

    # -- pull of a cached artifact -----------------------------------------------------------

    def pulls(self, sec, ours, pkg):
        t = self.tools
        proxy = CountingProxy(ours.port)
        self.cleanup.closers.append(proxy.close)
        ref = f"127.0.0.1:{proxy.port}/{REPO}:{TAG}"
        env = dict(os.environ, CORESHIP_CACHE_DIR=os.path.join(self.tmp, "pull-cache"))
        traffic = {}
        for i in (1, 2):
            proxy.reset()
            subprocess.run([t.loader, "pull", ref], check=True, capture_output=True, env=env,
                           timeout=120)
            traffic[("ours", i)] = proxy.reset()
        if t.skopeo:
            dest = f"oci:{os.path.join(self.tmp, 'skopeo-pull')}:execsnoop"
            for i in (1, 2):
                proxy.reset()
                subprocess.run([t.skopeo, "copy", "--all", "--src-tls-verify=false",
                                f"docker://{ref}", dest], check=True, capture_output=True,
                               timeout=120)
                traffic[("skopeo", i)] = proxy.reset()
        proxy.close()
        smiss = None if t.skopeo else t.missing("skopeo")

        def total(key):
            v = traffic.get(key)
            return None if v is None else v[0] + v[1]

        def reqs(key):
            v = traffic.get(key)
            return None if v is None else v[2]

        peer = f"{self.skopeo} copy to an OCI layout"
        sec.add(Row("`coreship-load pull`, first: bytes both ways", "B", total(("ours", 1)),
                    peer, total(("skopeo", 1)), peer_note=smiss))
        sec.add(Row("`coreship-load pull`, cached: bytes both ways", "B", total(("ours", 2)),
                    peer, total(("skopeo", 2)), peer_note=smiss))
        sec.add(Row("`coreship-load pull`, cached: HTTP requests", "count", reqs(("ours", 2)),
                    peer, reqs(("skopeo", 2)), peer_note=smiss))
        sec.note("pull traffic counted by a TCP proxy in front of coreship-registry (skopeo "
                 "first tries HTTPS on the plain-HTTP port: its failed handshake is counted); "
                 "a cached pull of this unsigned artifact asks for the manifest and for its "
                 "referrers (signatures are looked up again while none is cached)")

    def run(self):
        t = self.tools
        sec = Section("4. Registry",
                      "coreship-registry against docker-registry on this machine, same run, "
                      "both on 127.0.0.1 with storage in /tmp; wrk -t2 -c16. Ratio > 1: "
                      "coreship is faster / moves fewer bytes.")
        if not t.wrk:
            raise RuntimeError("wrk is missing (apt-get install wrk)")
        pkgs_out = t.build_all()
        names = sorted(d for d in os.listdir(pkgs_out)
                       if os.path.isfile(os.path.join(pkgs_out, d, "package.json")))
        self.versions = {n: self.version_of(os.path.join(pkgs_out, n)) for n in names}
        pkg = os.path.join(pkgs_out, "execsnoop")
        ours = self.start_ours("serve")
        docker = self.start_docker("serve-docker")
        self.throughput(sec, ours, docker, pkg)
        self.pulls(sec, ours, pkg)
        ours.stop()
        if docker:
            docker.stop()
        self.pushes(sec, pkgs_out, names)
        sec.note(f"{self.load_s:g} s per load run, median of {self.reps}; blobs of random "
                 "bytes uploaded to both; manifest = the execsnoop index pushed by `coreship "
                 "push --compat`")
        sec.note("pushes: each client into its own fresh registry; the same bytes (`--compat` "
                 "form, which skopeo copies with its digests); skopeo starts once per artifact, "
                 "as it is used, so the one-process-per-artifact coreship row is the fair one")
        for e in self.errors:
            sec.note(f"ERROR during load: {e}")
        return sec

    @staticmethod
    def version_of(pkg_dir):
        import json
        with open(os.path.join(pkg_dir, "package.json")) as f:
            return json.load(f).get("version", "0.0.0")
