"""The local Sigstore instance over HTTP: durable appends/s and certificate issuance/s.

Run: ``.venv/bin/python -m bench.sigstore_bench [--seconds 5]``.  Starts a real
``attestkit sigstore serve`` process on 127.0.0.1 and measures, from client
threads in this process:

* Rekor appends/s (``POST /api/v1/log/entries``, valid hashedrekord entries,
  each acknowledged only once durable): 1 sequential client and 8 concurrent;
* Fulcio certificate issuance/s (``POST /api/v2/signingCert`` with a fresh CSR
  and token): 1 client and 8 concurrent; plus in-process issuance (no HTTP);
* the server's peak RSS (``VmHWM``).

Proof latency at 100k/1M entries is measured at the storage layer by
``bench.log_bench``.
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests

from tests.fixtures.local_sigstore import start_instance
from tests.sigstore.local.test_durability import Client


def _rate(work: Callable[[requests.Session], None], threads: int, seconds: float) -> float:
    done = [0] * threads
    stop = time.monotonic() + seconds

    def loop(i: int) -> None:
        session = requests.Session()
        while time.monotonic() < stop:
            work(session)
            done[i] += 1

    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    start = time.monotonic()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(done) / (time.monotonic() - start)


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _csr() -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inst = start_instance(Path(tmp) / "instance")
        try:
            url = inst.url
            client = Client()
            # Unique entries made up front, so the client's signing does not compete
            # with the server for the two cores while measuring.
            pool = [client.entry() for _ in range(int(args.seconds * 4000))]
            counter = iter(range(10**9))

            def append(session: requests.Session) -> None:
                i = next(counter)
                body = pool[i] if i < len(pool) else client.entry()
                r = session.post(f"{url}/api/v1/log/entries", json=body, timeout=30)
                if r.status_code != 201:
                    raise RuntimeError(r.text)

            token = inst.token(
                "--github",
                "octo/repo",
                "--workflow",
                "release.yml",
                "--ref",
                "refs/tags/v1",
                "--lifetime",
                "3600",
            )
            csrs = [_csr() for _ in range(64)]

            def issue(session: requests.Session) -> None:
                r = session.post(
                    f"{url}/api/v2/signingCert",
                    json={"certificateSigningRequest": csrs[next(counter) % len(csrs)]},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                )
                r.raise_for_status()

            results = {
                "appends/s, 1 client": _rate(append, 1, args.seconds),
                "appends/s, 8 clients": _rate(append, 8, args.seconds),
                "certs/s, 1 client": _rate(issue, 1, args.seconds),
                "certs/s, 8 clients": _rate(issue, 8, args.seconds),
            }
            rss = _peak_rss_mib(inst.proc.pid)
        finally:
            inst.stop()
        from attestkit.sigstore.local.ca import CertificateAuthority
        from attestkit.sigstore.local.keys import KeyStore
        from attestkit.sigstore.local.oidc import Issuer, github_claims

        keys = KeyStore.open(Path(tmp) / "instance")
        issuer = Issuer(keys, "http://local")
        ca = CertificateAuthority(keys, issuer.trusted_issuers())
        jwt = issuer.mint(github_claims("octo/repo", "release.yml", "refs/tags/v1"), lifetime=3600)
        n, start = 0, time.monotonic()
        while time.monotonic() - start < args.seconds:
            ca.signing_cert({"certificateSigningRequest": csrs[n % len(csrs)]}, f"Bearer {jwt}")
            n += 1
        results["certs/s, in-process (no HTTP)"] = n / (time.monotonic() - start)
    print(f"local Sigstore over HTTP, {args.seconds:.0f} s per figure, {os.cpu_count()} cores")
    for name, value in results.items():
        print(f"  {name:<32} {value:>8.0f}")
    print(f"  {'server peak RSS (MiB)':<32} {rss:>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
