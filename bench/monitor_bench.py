"""``attestkit monitor`` throughput over a 100,000-entry local log, and Rekor v2 vs v1 verify.

Monitor: a development instance's Rekor v1 log is filled with N ``hashedrekord``
entries (every 1,000th signed by the watched identity's certificate), served as
tiles by ``attestkit sigstore serve``, and read by ``attestkit monitor`` (a
separate process: wall time and peak RSS from ``os.wait4``).  The same scan
in-process without HTTP (bodies from the database, the compact range, the
certificate matching) gives the monitor's own cost per entry, and the hashing
alone (one SHA-256 per leaf and per node) its floor.

Verify: ``verify_dsse`` on the sigstore-conformance Rekor v2 DSSE bundle
(hashedrekord 0.0.2 + an RFC 3161 timestamp) against a Rekor v1 DSSE bundle
(dsse 0.0.1 + SET), each repeated, in one process.

    .venv/bin/python -m bench.monitor_bench [--entries 100000]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = ROOT / "tests" / "data" / "conformance"


def _body(pem_b64: str, n: int) -> bytes:
    digest = hashlib.sha256(b"%d" % n).hexdigest()
    return json.dumps(
        {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest}},
            "signature": {"content": base64.b64encode(b"sig %d" % n).decode(),
                          "publicKey": {"content": pem_b64}}}},
        sort_keys=True, separators=(",", ":"),
    ).encode()  # fmt: skip


def _start(data: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "attestkit", "sigstore", "serve", "--dev", "--port", "0",
         "--data-dir", str(data), "--login-auto-approve"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    url = proc.stdout.readline().split("serving ", 1)[1].split(" ", 1)[0]
    return proc, url


def _watched_cert(data: Path, url: str) -> tuple[str, str]:
    """Sign once through the instance; the watched and an unwatched certificate (base64 PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from attestkit.core.models import Attestation

    work = data.parent / "dist"
    work.mkdir(exist_ok=True)
    pems = []
    for repo in ("octo/demo", "octo/other"):
        import zipfile

        name = repo.split("/")[1]
        wheel = work / f"{name}-1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(f"{name}-1.0.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\n")
        token = subprocess.run(
            [sys.executable, "-m", "attestkit", "sigstore", "token", "--data-dir", str(data),
             "--github", repo, "--workflow", "release.yml", "--ref", "refs/tags/v1"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        subprocess.run(
            [sys.executable, "-m", "attestkit", "sign", "--local", url, "--identity-token",
             token, str(wheel)], capture_output=True, check=True,
        )  # fmt: skip
        [path] = work.glob(f"{wheel.name}.*.attestation")
        der = Attestation.from_file(path).verification_material.certificate
        pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
        pems.append(base64.b64encode(pem).decode())
    return pems[0], pems[1]


def monitor_figures(entries: int) -> dict[str, float]:
    from attestkit.client.monitor import CompactRange, WatchedIdentity
    from attestkit.client.monitor.run import Monitor
    from attestkit.core.providers import GitHubIdentity
    from attestkit.sigstore.local.keys import KeyStore
    from attestkit.sigstore.local.log import TransparencyLog

    base = Path(tempfile.mkdtemp(prefix="attestkit-monitor-bench-"))
    data = base / "sigstore"
    try:
        proc, url = _start(data)
        watched, unwatched = _watched_cert(data, url)
        proc.terminate()
        proc.wait()
        keys = KeyStore.open(data)
        with TransparencyLog.open(data / "log.sqlite3", keys, "attestkit.local") as log:
            log.bulk_load_for_benchmark(
                _body(watched if i % 1000 == 0 else unwatched, i) for i in range(entries)
            )
            size = log.size()
            bodies = log.bodies(0, size)
        proc, url = _start(data)
        trust = base / "trust.json"
        import requests

        trust.write_text(requests.get(f"{url}/trust-config.json", timeout=30).text)
        args = [sys.executable, "-m", "attestkit", "monitor", "--state", str(base / "s.json"),
                "--log", f"{url}/api/v1/tiles", "--trust-config", str(trust),
                "--repository", "https://github.com/octo/demo", "--project", "demo-pkg",
                "--index", f"{url}/simple/"]  # fmt: skip
        launcher = (
            "import json, sys; from bench._proc import run_once; "
            "print(json.dumps(run_once(sys.argv[1:])))"
        )
        out = subprocess.run([sys.executable, "-c", launcher, *args], capture_output=True,
                             text=True, cwd=ROOT, check=True)  # fmt: skip
        wall_ms, rss_mib, code = json.loads(out.stdout)
        proc.terminate()
        proc.wait()
        assert code == 0, f"monitor exited {code}"
        # In-process: the monitor's work without HTTP, and hashing alone.
        identity = WatchedIdentity(
            GitHubIdentity("octo/demo", None, None, None), b"https://github.com/octo/demo/"
        )
        monitor = Monitor([], [identity], base / "unused.json")
        from attestkit.client.monitor.run import MonitorState
        from attestkit.client.monitor.tree import leaf_hash

        state = MonitorState()
        start = time.perf_counter()
        work = CompactRange()
        for index, body in enumerate(bodies):
            work.append(leaf_hash(body))
            monitor._match("log", index, body, state)
        scan = time.perf_counter() - start
        start = time.perf_counter()
        work = CompactRange()
        for body in bodies:
            work.append(leaf_hash(body))
        hashing = time.perf_counter() - start
        return {
            "entries": size,
            "monitor process entries/s (HTTP tiles)": size / (wall_ms / 1000),
            "monitor process peak RSS MiB": rss_mib,
            "in-process scan entries/s": size / scan,
            "hashing alone entries/s": size / hashing,
            "matches": len(state.pending),
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)


def verify_figures(repeat: int) -> dict[str, float]:
    from attestkit.core.log_entry import LogEntry
    from attestkit.sigstore.trust import TrustRoot
    from attestkit.sigstore.verify.engine import verify_dsse

    def load(case: str, root: TrustRoot) -> tuple[object, ...]:
        bundle = json.loads((CONFORMANCE / case / "bundle.sigstore.json").read_text())
        material = bundle["verificationMaterial"]
        cert = (
            material.get("certificate", {}).get("rawBytes")
            or material["x509CertificateChain"]["certificates"][0]["rawBytes"]
        )
        envelope = bundle["dsseEnvelope"]
        stamps = material.get("timestampVerificationData", {}).get("rfc3161Timestamps", [])
        return (
            root, base64.b64decode(cert), LogEntry.from_dict(material["tlogEntries"][0]),
            base64.b64decode(envelope["payload"]), envelope["payloadType"],
            base64.b64decode(envelope["signatures"][0]["sig"]),
            [base64.b64decode(t["signedTimestamp"]) for t in stamps],
        )  # fmt: skip

    cases = {
        "Rekor v1 (dsse 0.0.1, SET)": load("happy-path-intoto-in-dsse-v3", TrustRoot.production()),
        "Rekor v2 (hashedrekord 0.0.2, RFC 3161)": load(
            "rekor2-dsse-happy-path",
            TrustRoot.from_file(CONFORMANCE / "rekor2-dsse-happy-path" / "trusted_root.json"),
        ),
    }
    from attestkit.sigstore.verify.backend import verify_dsse_with_sigstore

    out = {}
    for label, parts in cases.items():
        root, cert, entry, payload, ptype, sig, stamps = parts
        args = (root, cert, entry, payload, ptype, sig, lambda c: None)
        engines: list[tuple[Any, str]] = [
            (verify_dsse, ""),
            (verify_dsse_with_sigstore, ", sigstore-python"),
        ]
        for engine, name in engines:
            engine(*args, timestamps=stamps)
            start = time.perf_counter()
            for _ in range(repeat if not name else max(10, repeat // 10)):
                engine(*args, timestamps=stamps)
            runs = repeat if not name else max(10, repeat // 10)
            out[f"{label}{name} ms"] = (time.perf_counter() - start) / runs * 1000
    return out


def local_verify_figures(repeat: int) -> dict[str, float]:
    """v1 and v2 attestations from one local instance (P-256 CA, logs and TSA): the formats'
    own costs, without the public TSA's P-384 key."""
    import zipfile

    import requests

    from attestkit.core.constants import INTOTO_PAYLOAD_TYPE
    from attestkit.core.distribution import Distribution
    from attestkit.sigstore.services import SigningServices
    from attestkit.sigstore.signer import SigningSession
    from attestkit.sigstore.trust import TrustRoot
    from attestkit.sigstore.verify.engine import verify_dsse

    base = Path(tempfile.mkdtemp(prefix="attestkit-v2-bench-"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "attestkit", "sigstore", "serve", "--dev", "--rekor-v2",
         "--port", "0", "--data-dir", str(base / "sig"), "--login-auto-approve"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split("serving ", 1)[1].split(" ", 1)[0]
        config = requests.get(f"{url}/trust-config.json", timeout=30).text
        root = TrustRoot.from_json(config, source="local")
        v2 = SigningServices.from_trust_config(config, source="local")
        v1 = SigningServices(v2.name, v2.ca_url, v2.rekor_url, v2.oidc_url, root)
        token = subprocess.run(
            [sys.executable, "-m", "attestkit", "sigstore", "token", "--data-dir",
             str(base / "sig"), "--github", "octo/demo", "--workflow", "release.yml",
             "--ref", "refs/tags/v1"], capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        out = {}
        for label, services in (("local Rekor v1", v1), ("local Rekor v2 + TSA", v2)):
            wheel = base / "demo_pkg-1.0-py3-none-any.whl"
            with zipfile.ZipFile(wheel, "w") as zf:
                zf.writestr("demo_pkg-1.0.dist-info/METADATA", "Name: demo-pkg\n")
            dist = Distribution.from_file(wheel)
            attestation = SigningSession(services, token).sign(dist)
            vm = attestation.verification_material
            [entry] = vm.log_entries()
            envelope = attestation.envelope
            args = (root, vm.certificate, entry, envelope.statement, INTOTO_PAYLOAD_TYPE,
                    envelope.signature, lambda c: None)  # fmt: skip
            verify_dsse(*args, timestamps=vm.timestamps)
            start = time.perf_counter()
            for _ in range(repeat):
                verify_dsse(*args, timestamps=vm.timestamps)
            out[f"{label} ms"] = (time.perf_counter() - start) / repeat * 1000
        return out
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    figures = {
        **monitor_figures(args.entries),
        **verify_figures(args.repeat),
        **local_verify_figures(args.repeat),
    }
    for name, value in figures.items():
        print(f"{name:45} {value:12.2f}")
    v1 = figures["Rekor v1 (dsse 0.0.1, SET) ms"]
    v2 = figures["Rekor v2 (hashedrekord 0.0.2, RFC 3161) ms"]
    print(f"{'verify v2 / v1 time (conformance)':45} {v2 / v1:12.2f}x")
    local = figures["local Rekor v2 + TSA ms"] / figures["local Rekor v1 ms"]
    print(f"{'verify v2 / v1 time (same local instance)':45} {local:12.2f}x")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("SIGSTORE_OIDC_DISABLE_AMBIENT_PROVIDERS", "1")
    raise SystemExit(main())
