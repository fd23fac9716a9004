"""Transparency-log benchmark: durable append throughput and inclusion-proof latency.

Run: ``/tmp/venv/bin/python -m bench.log_bench [--sizes 100000,1000000]``.

* appends/s, every append durably committed (SQLite WAL, ``synchronous=FULL``):
  sequential :meth:`~TransparencyLog.append` from one thread; 8 threads calling
  ``append`` (serialized, one transaction each); 8 threads calling
  ``append_concurrent`` (group commit);
* inclusion-proof latency (median, p99 over 1000 random indices) on logs of the
  given sizes, built with ``bulk_load_for_benchmark`` and then reopened, for
  ``inclusion_proof`` alone and for a whole ``entry_response``;
* peak RSS of this process (``resource.getrusage``).

Bodies are realistic hashedrekord canonical bodies (~1.4 kB, a real P-256
certificate), each with a different digest.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from attestkit.sigstore.local.keys import KeyStore
from attestkit.sigstore.local.log import TransparencyLog

ORIGIN = "attestkit.bench"


def template_body() -> bytes:
    """One real admitted hashedrekord body, used as a template."""
    import base64
    import datetime as dt
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, utils
    from cryptography.x509.oid import NameOID

    from attestkit.sigstore.local.rekor import admit

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(minutes=10))
        .sign(key, hashes.SHA256())
    )
    digest = hashlib.sha256(b"bench").digest()
    sig = key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    return admit(
        {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "signature": {
                    "content": base64.b64encode(sig).decode(),
                    "publicKey": {
                        "content": base64.b64encode(
                            cert.public_bytes(serialization.Encoding.PEM)
                        ).decode()
                    },
                },
                "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            },
        }
    )


class Bodies:
    """Distinct bodies: the template with the digest replaced by a counter's hash."""

    def __init__(self) -> None:
        import hashlib

        self._sha256 = hashlib.sha256
        self.template = template_body()
        self._digest = self._sha256(b"bench").hexdigest().encode()
        self._count = 0
        self._lock = threading.Lock()

    def next(self) -> bytes:
        with self._lock:
            n = self._count
            self._count += 1
        digest = self._sha256(b"%d" % n).hexdigest().encode()
        return self.template.replace(self._digest, digest)

    def stream(self, n: int) -> Iterator[bytes]:
        for _ in range(n):
            yield self.next()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def appends(log: TransparencyLog, bodies: Bodies, threads: int, per_thread: int, fn: str) -> float:
    """appends/s with ``threads`` threads each calling ``log.<fn>`` ``per_thread`` times."""
    work = [[bodies.next() for _ in range(per_thread)] for _ in range(threads)]
    call: Callable[[bytes], object] = getattr(log, fn)
    start = threading.Barrier(threads + 1)

    def client(items: list[bytes]) -> None:
        start.wait()
        for body in items:
            call(body)

    pool = [threading.Thread(target=client, args=(w,)) for w in work]
    for t in pool:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    return threads * per_thread / (time.perf_counter() - t0)


def latency_ms(fn: Callable[[int], object], indices: list[int]) -> tuple[float, float]:
    """(median, p99) in ms of ``fn(index)`` over ``indices``."""
    times = []
    for index in indices:
        t0 = time.perf_counter()
        fn(index)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000", help="log sizes for proof latency")
    parser.add_argument("--appends", type=int, default=4000, help="appends per throughput run")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--dir", help="work directory (default: a temporary one, removed)")
    args = parser.parse_args()

    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="log-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str]] = []
    try:
        keys = KeyStore.open(base / "instance")
        bodies = Bodies()
        rows.append(("body size", f"{len(bodies.template)} B"))

        with TransparencyLog.open(base / "append.sqlite3", keys, ORIGIN) as log:
            appends(log, bodies, 1, 200, "append")  # warm-up
            n = args.appends
            rows.append(
                ("appends/s, sequential append", f"{appends(log, bodies, 1, n, 'append'):,.0f}")
            )
            rows.append(
                (
                    "appends/s, 8 threads, append",
                    f"{appends(log, bodies, 8, n // 8, 'append'):,.0f}",
                )
            )
            commits = 0
            real = log._append

            def counting(*a: object, **k: object) -> object:
                nonlocal commits
                commits += 1
                return real(*a, **k)  # type: ignore[arg-type]

            log._append = counting  # type: ignore[method-assign,assignment]
            rate = appends(log, bodies, 8, n // 8, "append_concurrent")
            rows.append(("appends/s, 8 threads, append_concurrent", f"{rate:,.0f}"))
            rows.append(("  entries per group commit", f"{(n // 8 * 8) / max(commits, 1):.1f}"))
        rows.append(("peak RSS after appends", f"{peak_rss_mib():.0f} MiB"))

        rng = random.Random(1)
        for size in [int(s) for s in args.sizes.split(",") if s]:
            path = base / f"log-{size}.sqlite3"
            t0 = time.perf_counter()
            with TransparencyLog.open(path, keys, ORIGIN) as log:
                log.bulk_load_for_benchmark(bodies.stream(size))
            load = time.perf_counter() - t0
            t0 = time.perf_counter()
            log = TransparencyLog.open(path, keys, ORIGIN)
            reopen = (time.perf_counter() - t0) * 1000
            try:
                indices = [rng.randrange(size) for _ in range(args.queries)]
                log.inclusion_proof(0)  # open this thread's reader connection
                med, p99 = latency_ms(log.inclusion_proof, indices)
                rmed, rp99 = latency_ms(log.entry_response, indices)
                label = f"{size:,} entries"
                rows.append((f"{label}: bulk load", f"{load:.1f} s ({size / load:,.0f}/s)"))
                rows.append((f"{label}: database size", f"{_db_size(path) / 2**20:,.0f} MiB"))
                rows.append((f"{label}: open (tail check)", f"{reopen:.1f} ms"))
                rows.append((f"{label}: inclusion_proof median / p99", f"{med:.3f} / {p99:.3f} ms"))
                rows.append(
                    (f"{label}: entry_response median / p99", f"{rmed:.3f} / {rp99:.3f} ms")
                )
            finally:
                log.close()
            rows.append((f"peak RSS after {size:,}", f"{peak_rss_mib():.0f} MiB"))
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)

    width = max(len(k) for k, _ in rows)
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 24}")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


def _db_size(path: Path) -> int:
    return sum(
        p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


if __name__ == "__main__":
    raise SystemExit(main())
