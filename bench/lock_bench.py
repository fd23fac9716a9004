"""Verify a 500-file lock against a local index: attestkit vs a pypi-attestations loop, same run.

Run: ``.venv/bin/python -m bench.lock_bench [--projects 20 --versions 25]``.

Set-up (not measured): ``attestkit serve --dev`` on 127.0.0.1; PROJECTS x
VERSIONS small wheels signed on its embedded Sigstore and uploaded with their
attestations through Trusted Publishing, so the index holds real provenance;
a ``pylock.toml`` pins every file by SHA-256.

Measured, each as a fresh process (wall, CPU user+system, peak RSS):

* ``attestkit verify lock`` with an empty cache (cold), then again (warm: the
  verified provenance comes from the cache; the project pages are read again);
* the peer: what ``pypi-attestations verify pypi`` does for each file, in one
  process (so its imports are paid once, not 500 times): read the project
  page, download the file, read its provenance from the Integrity API, and
  ``Attestation.verify`` every attestation against its bundle's publisher.
  ``verify pypi`` reads only pypi.org and pypi-attestations verifies only
  against Sigstore's public instances, so the loop calls the library as the
  CLI does, with sigstore-python's ``Verifier`` pointed at the local instance's
  trusted root (built per call, as ``Verifier.production()`` is);
* the loop a user writes today, one ``verify pypi`` process per file: the same
  peer script started once per file, measured on the first ``--cli-sample``
  files (default 25) and scaled to the whole lock (per-file cost x files).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import index_bench as ib

PEER = r"""
import json, sys, hashlib, requests
from pathlib import Path
import pypi_attestations._impl as impl
from pypi_attestations import Distribution, Provenance
from sigstore.models import TrustedRoot
from sigstore.verify import Verifier

url, root_file, lock_file, work = sys.argv[1:5]

def verifier(offline=False):
    return Verifier(trusted_root=TrustedRoot.from_file(root_file))

impl.Verifier.production = staticmethod(verifier)
session = requests.Session()
failed = 0
for name, version, filename in json.loads(Path(lock_file).read_text()):
    page = session.get(f"{url}/simple/{name}/",
                       headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()
    file_url = next(f["url"] for f in page["files"] if f["filename"] == filename)
    target = Path(work) / filename
    target.write_bytes(session.get(file_url).content)
    dist = Distribution.from_file(target)
    r = session.get(f"{url}/integrity/{name}/{version}/{filename}/provenance")
    provenance = Provenance.model_validate_json(r.content)
    try:
        for bundle in provenance.attestation_bundles:
            for attestation in bundle.attestations:
                attestation.verify(bundle.publisher, dist)
    except Exception as exc:
        failed += 1
        print(filename, exc, file=sys.stderr)
sys.exit(1 if failed else 0)
"""


#: Runs a command and reports its own wall time, CPU and peak RSS (``wait4``), from a
#: small interpreter, so the peak RSS is not the benchmark's own (Linux carries it over exec).
LAUNCHER = """
import json, os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
err = proc.stderr.read().decode(errors="replace")[-2000:]
print(json.dumps([wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                  os.waitstatus_to_exitcode(status), err]))
"""


def timed(cmd: list[str]) -> tuple[float, float, float, int]:
    """Wall s, CPU s (user + system), peak RSS MiB and exit code of one run of ``cmd``.

    Worker processes are counted too: ``wait4`` reports a process and its waited-for
    children.
    """
    out = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *cmd], capture_output=True, text=True, check=True
    )
    wall, cpu, rss, code, err = json.loads(out.stdout)
    if code != 0:
        print(err, file=sys.stderr)
    return float(wall), float(cpu), float(rss), int(code)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--versions", type=int, default=25)
    parser.add_argument("--cli-sample", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lock-bench-") as tmp:
        base = Path(tmp)
        server = ib.start_attestkit(base)
        try:
            wheel_sets = [
                ib.make_wheels(base / "dist", f"lockbench{p}", args.versions)
                for p in range(args.projects)
            ]
            ib.prepare_attestations(server, wheel_sets)
            import requests

            session = requests.Session()
            for wheels in wheel_sets:
                for wheel in wheels:
                    ib._upload(
                        session,
                        server,
                        wheel,
                        ("__token__", server.publisher_token or ""),
                        ib.attestations_field(wheel),
                    )
            files = [w for ws in wheel_sets for w in ws]
            index = f"{server.url}/simple/"
            lock = ["lock-version = '1.0'", "created-by = 'lock_bench'", ""]
            for w in files:
                import hashlib

                digest = hashlib.sha256(w.data).hexdigest()
                lock += [
                    "[[packages]]",
                    f"name = '{w.name}'",
                    f"version = '{w.version}'",
                    f"index = '{index}'",
                    "[[packages.wheels]]",
                    f"name = '{w.filename}'",
                    f"url = '{index}{w.name}/{w.filename}'",
                    f"hashes = {{sha256 = '{digest}'}}",
                    "",
                ]
            (base / "pylock.toml").write_text("\n".join(lock))
            root = base / "trust.json"
            root.write_text(requests.get(f"{server.url}/trust-config.json", timeout=30).text)
            trusted_root = base / "trusted_root.json"
            trusted_root.write_text(json.dumps(json.loads(root.read_text())["trustedRoot"]))
            (base / "peer.json").write_text(
                json.dumps([[w.name, w.version, w.filename] for w in files])
            )
            (base / "peer.py").write_text(PEER)
            (base / "work").mkdir()
            ak = [
                str(ib.BIN / "attestkit"), "verify", "lock", str(base / "pylock.toml"),
                "--trust-config", str(root), "--cache-dir", str(base / "cache"),
            ]  # fmt: skip
            cold = timed(ak)
            warm = timed(ak)
            peer = timed(
                [sys.executable, str(base / "peer.py"), server.url, str(trusted_root),
                 str(base / "peer.json"), str(base / "work")]
            )  # fmt: skip
            sample = [[w.name, w.version, w.filename] for w in files[: args.cli_sample]]
            per_file = [0.0, 0.0, 0.0]
            for i, entry in enumerate(sample):
                one = base / f"one-{i}.json"
                one.write_text(json.dumps([entry]))
                wall, cpu, rss, _ = timed(
                    [sys.executable, str(base / "peer.py"), server.url, str(trusted_root),
                     str(one), str(base / "work")]
                )  # fmt: skip
                per_file = [per_file[0] + wall, per_file[1] + cpu, max(per_file[2], rss)]
            scale = len(files) / max(1, len(sample))
            cli_loop = (per_file[0] * scale, per_file[1] * scale, per_file[2], 0)
        finally:
            server.stop()
    n = len(files)
    print(
        f"{n} files ({args.projects} projects x {args.versions} versions), {os.cpu_count()} cores"
    )
    print(f"{'run':<28} {'wall s':>8} {'CPU s':>8} {'RSS MiB':>8} {'exit':>5}")
    for label, (wall, cpu, rss, code) in (
        ("attestkit verify lock, cold", cold),
        ("attestkit verify lock, warm", warm),
        ("pypi-attestations loop", peer),
        (f"process per file (x{len(files) // max(1, args.cli_sample)})", cli_loop),
    ):
        print(f"{label:<28} {wall:>8.2f} {cpu:>8.2f} {rss:>8.1f} {code:>5}")
    print(f"vs the library loop: cold {peer[0] / cold[0]:.1f}x, warm {peer[0] / warm[0]:.1f}x")
    print(
        f"vs a process per file: cold {cli_loop[0] / cold[0]:.1f}x,"
        f" warm {cli_loop[0] / warm[0]:.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
