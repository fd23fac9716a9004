"""A mixed-load soak of ``attestkit serve --dev``: errors by status, latency, and RSS over time.

Run: ``.venv/bin/python -m bench.soak_bench [--seconds 300 --clients 50]``.

One server process (index and embedded Sigstore on one port).  ``--clients``
threads, each with its own keep-alive session, loop over a weighted mix:

* 10 % uploads of a new small wheel (user token) to project ``soakupload``;
* 40 % Simple API reads of project ``soakpkg``'s page (200 files, uploaded
  before the run; JSON and HTML alternately);
* 25 % Integrity API reads of an attested file (its provenance);
* 25 % transparency-log appends (a new hashedrekord entry each, as
  sigstore-python sends them).

Every response is counted by status; latencies give p50/p99 per kind.  The
server's RSS (``VmRSS``) is sampled every 5 seconds: start, peak and end are
reported, with the growth over the second half of the run (a leak keeps
growing; a cache levels off).
"""

from __future__ import annotations

import argparse
import collections
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests

from bench import index_bench as ib

KINDS = (("upload", 10), ("simple", 40), ("integrity", 25), ("append", 25))


def _rss(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()

    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.fixtures.logutil import hashedrekord_request, self_signed

    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        base = Path(tmp)
        server = ib.start_attestkit(base)
        try:
            signed = ib.make_wheels(base / "signed", "soaksigned", 1)
            ib.prepare_attestations(server, [signed])
            ib._upload(
                requests.Session(),
                server,
                signed[0],
                ("__token__", server.publisher_token or ""),
                ib.attestations_field(signed[0]),
            )
            integrity = (
                f"{server.url}/integrity/soaksigned/{signed[0].version}/"
                f"{signed[0].filename}/provenance"
            )
            session = requests.Session()
            for wheel in ib.make_wheels(base / "read", "soakpkg", 200):
                ib._upload(session, server, wheel, server.auth)
            wheels = ib.make_wheels(base / "dist", "soakupload", 20000)
            queue = collections.deque(wheels)
            key = ec.generate_private_key(ec.SECP256R1())
            cert = self_signed(key)
            statuses: collections.Counter[tuple[str, int]] = collections.Counter()
            reasons: dict[tuple[str, int], str] = {}
            latencies: dict[str, list[float]] = collections.defaultdict(list)
            lock = threading.Lock()
            stop = time.monotonic() + args.seconds
            names = [k for k, _ in KINDS]
            weights = [w for _, w in KINDS]

            def client(seed: int) -> None:
                rng = random.Random(seed)
                session = requests.Session()
                n = 0
                while time.monotonic() < stop:
                    kind = rng.choices(names, weights)[0]
                    start = time.perf_counter()
                    try:
                        if kind == "upload":
                            with lock:
                                wheel = queue.popleft()
                            r = session.post(
                                server.upload_url,
                                data=wheel.fields(),
                                files={
                                    "content": (
                                        wheel.filename,
                                        wheel.data,
                                        "application/octet-stream",
                                    )
                                },
                                allow_redirects=False,
                                auth=server.auth,
                                timeout=60,
                            )
                        elif kind == "simple":
                            accept = ib.JSON if n % 2 else ib.HTML
                            r = session.get(
                                f"{server.url}/simple/soakpkg/",
                                headers={"Accept": accept},
                                timeout=60,
                            )
                        elif kind == "integrity":
                            r = session.get(integrity, timeout=60)
                        else:
                            artifact = f"soak {seed} {n} {time.time_ns()}".encode()
                            r = session.post(
                                f"{server.url}/api/v1/log/entries",
                                json=hashedrekord_request(key, cert, artifact),
                                timeout=60,
                            )
                        status = r.status_code
                        if status >= 400 and kind != "integrity":
                            with lock:
                                reasons[(kind, status)] = r.text[:200]
                    except requests.RequestException:
                        status = 0  # connection error
                    elapsed = time.perf_counter() - start
                    with lock:
                        statuses[(kind, status)] += 1
                        latencies[kind].append(elapsed)
                    n += 1

            rss = [(0.0, _rss(server.proc.pid))]
            threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
            begin = time.monotonic()
            for t in threads:
                t.start()
            while any(t.is_alive() for t in threads):
                time.sleep(5)
                rss.append((time.monotonic() - begin, _rss(server.proc.pid)))
            for t in threads:
                t.join()
        finally:
            server.stop()

    total = sum(statuses.values())
    rate = total / args.seconds
    print(f"{args.clients} clients, {args.seconds:.0f} s, {total} requests ({rate:.0f}/s)")
    print(f"{'kind':<10} {'count':>7} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for kind in names:
        times = sorted(latencies[kind])
        if not times:
            continue
        p50 = statistics.median(times) * 1000
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))] * 1000
        by = {s: c for (k, s), c in sorted(statuses.items()) if k == kind}
        print(f"{kind:<10} {len(times):>7} {p50:>8.1f} {p99:>8.1f}  {by}")
    half = [v for t, v in rss if t >= args.seconds / 2]
    print(
        f"RSS MiB: start {rss[0][1]:.1f}, peak {max(v for _, v in rss):.1f}, end {rss[-1][1]:.1f};"
        f" second half {half[0]:.1f} -> {half[-1]:.1f}"
        if half
        else ""
    )
    bad = {k: c for k, c in statuses.items() if k[1] == 0 or k[1] >= 500}
    print(f"errors (connection or 5xx): {sum(bad.values())} {dict(bad)}")
    for (kind, status), text in sorted(reasons.items()):
        print(f"  e.g. {kind} {status}: {text!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
