#!/usr/bin/env python3
"""Writes seed inputs from real builder output into fuzz/corpus/<target>/seed-*.

    cargo run -p coreship-builder --bin coreship -- build
    cargo run -p coreship-builder --bin coreship -- export -o /tmp/layout
    fuzz/seed.py target/coreship /tmp/layout

Seeds are starting points only: run each target, then `cargo fuzz cmin TARGET` keeps what
adds coverage. The input framing of each target is described at the top of its source.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

FUZZ = os.path.dirname(os.path.abspath(__file__))
SEP = b"\0\0BLOB\0\0"  # fuzz_targets/oci.rs
AMD64 = "amd64"


def write(target, name, data):
    d = os.path.join(FUZZ, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def blob(layout, digest):
    with open(os.path.join(layout, "blobs", "sha256", digest.split(":")[1]), "rb") as f:
        return f.read()


def btf_section(obj):
    with tempfile.NamedTemporaryFile() as out:
        subprocess.run(["llvm-objcopy", "--dump-section", ".BTF=" + out.name, obj, "/dev/null"],
                       check=True)
        with open(out.name, "rb") as f:  # objcopy replaces the file
            return f.read()


def main(packages, layout):
    probes = sorted(p for p in os.listdir(packages)
                    if os.path.isfile(os.path.join(packages, p, "package.json")))
    index = json.loads(open(os.path.join(layout, "index.json"), "rb").read())
    roots = {d["annotations"]["org.opencontainers.image.ref.name"].split(":")[0]: d
             for d in index["manifests"] if "annotations" in d}
    write("oci", "layout-index", b"\0\0" + json.dumps(index).encode())
    for ref in ["localhost:5000/probes/execsnoop:0.1.0", "ghcr.io/a/b@sha256:" + "0" * 64,
                "[::1]:5000/x/y_z:v1.2-rc", "reg.example/a__b/c--d.e"]:
        write("oci", "ref-" + ref.replace("/", "_"), b"\1\0" + ref.encode())
    for p in probes:
        pkg_path = os.path.join(packages, p, "package.json")
        pkg = open(pkg_path, "rb").read()
        write("package", p, pkg)
        obj = os.path.join(packages, p, "x86_64", p + ".bpf.o")
        btf = btf_section(obj)
        record = bytes(range(256)) * 2
        write("decoder", p, b"\1\1" + struct.pack("<H", len(btf)) + btf + record)
        root = roots.get(p)
        if root is None:
            continue
        idx = blob(layout, root["digest"])
        write("oci", p + "-index", b"\0\0" + idx)
        entry = next(m for m in json.loads(idx)["manifests"]
                     if m["platform"]["architecture"] == AMD64)
        man = blob(layout, entry["digest"])
        write("oci", p + "-manifest", b"\0\1" + man)
        if os.path.getsize(obj) < 8000:
            m = json.loads(man)
            parts = [idx, man, blob(layout, m["config"]["digest"])]
            parts += [blob(layout, layer["digest"]) for layer in m["layers"]]
            write("oci", p + "-bundle", b"\2\0" + SEP.join(parts))
    # A description with minimal BTF files, which real builds only have with --min-btf.
    pkg = json.loads(open(os.path.join(packages, probes[0], "package.json"), "rb").read())
    pkg["objects"][0]["min_btf"] = [{
        "kernel": "debian/12/x86_64/6.1.0-47-cloud-amd64",
        "file": "x86_64/min-btf/debian/12/x86_64/6.1.0-47-cloud-amd64.btf",
        "sha256": "sha256:" + "ab" * 32,
    }]
    write("package", "min-btf", json.dumps(pkg, indent=2).encode())


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
