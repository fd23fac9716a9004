"""The verifying mirror vs devpi-server's PyPI-style mirror, same upstream, same run.

Run: ``.venv/bin/python -m bench.mirror_bench [--projects 12 --versions 5 --seconds 5]
[--upstream-delay-ms 20]`` (devpi-server comes with ``pip install -e '.[bench]'``).

With ``--upstream-delay-ms``, the upstream is reached (by both mirrors and by the
direct reads) through a loopback proxy that delays each request by that much, as
a remote index such as PyPI is; without it the upstream is on loopback, where a
direct read costs about 3 ms and any mirror's own work dominates the ratio.

Set-up (not measured): an upstream ``attestkit serve --dev`` holding PROJECTS
projects of VERSIONS small wheels each, signed on its embedded Sigstore and
uploaded with their attestations through Trusted Publishing; then

* **attestkit**: ``attestkit serve --dev --mirror UPSTREAM/simple/ --trust-root``
  the upstream's trust config (so every file's provenance is verified before it
  is listed);
* **devpi**: ``devpi-server`` with a ``type=mirror`` index whose ``mirror_url`` is
  the upstream (devpi checks nothing: it has no notion of provenance).

Measured, for each mirror:

* first-fetch latency of a project page (median over the projects, each read
  once through the mirror while nothing of it is cached), next to the latency of
  the same page read directly from upstream;
* first-fetch latency of a file (median over one file per project), next to a
  direct upstream read of the same file;
* cached Simple API reads per second of one project page (HTML, installer
  User-Agent) from 1 and 8 keep-alive clients, each response checked;
* each mirror's peak RSS (``VmHWM``) at the end.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import re
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from bench import index_bench as ib

HTML_ACCEPT = "text/html"


def start_attestkit_mirror(base: Path, upstream: str, trust: Path) -> ib.Server:
    data = base / "mirror"
    log = base / "mirror.log"
    proc = subprocess.Popen(
        [str(ib.BIN / "attestkit"), "serve", "--dev", "--port", "0", "--data-dir", str(data),
         "--host", ib.HOST, "--port", "0", "--mirror", f"{upstream}/simple/",
         "--trust-root", str(trust)],
        stdout=subprocess.PIPE, stderr=log.open("wb"),
    )  # fmt: skip
    assert proc.stdout is not None
    first = proc.stdout.readline().decode()
    match = re.match(r"attestkit: serving http://[^:]+:(\d+)", first)
    if match is None:
        proc.kill()
        raise RuntimeError(f"unexpected first line from attestkit serve: {first!r}")
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    port = int(match.group(1))
    ib._wait_ready(proc, f"http://{ib.HOST}:{port}/simple/", log)
    return ib.Server(
        name="attestkit mirror",
        proc=proc,
        port=port,
        upload_url="",
        simple_path=lambda project: f"/simple/{project}/",
        auth=None,
        workers="uvicorn, 1 process",
    )


def start_devpi_mirror(base: Path, upstream: str) -> ib.Server:
    serverdir = base / "devpi"
    log = base / "devpi.log"
    ib._run(ib.BIN / "devpi-init", "--serverdir", serverdir)
    port = ib._free_port()
    cmd = f"{ib.BIN}/devpi-server --serverdir {serverdir} --host {ib.HOST} --port {port}".split()
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://{ib.HOST}:{port}"
    ib._wait_ready(proc, f"{url}/+api", log)
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    r = requests.post(
        f"{url}/+login", json={"user": "root", "password": ""}, headers=headers, timeout=60
    )
    r.raise_for_status()
    login = r.json()["result"]["password"]
    auth = base64.b64encode(f"root:{login}".encode()).decode()
    r = requests.put(
        f"{url}/root/up",
        json={"type": "mirror", "mirror_url": f"{upstream}/simple/"},
        headers={**headers, "X-Devpi-Auth": auth},
        timeout=60,
    )
    r.raise_for_status()
    return ib.Server(
        name="devpi-server mirror",
        proc=proc,
        port=port,
        upload_url="",
        simple_path=lambda project: f"/root/up/+simple/{project}/",
        auth=None,
        workers="waitress, 50 threads",
    )


def timed_get(url: str, accept: str = HTML_ACCEPT) -> tuple[float, int, bytes]:
    """(ms, status, body) of one GET on a new connection, as an installer's first request."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or ib.HOST, parts.port, timeout=120)
    start = time.perf_counter()
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request("GET", path, headers={"Accept": accept, "User-Agent": ib.USER_AGENT})
        resp = conn.getresponse()
        body = resp.read()
        return (time.perf_counter() - start) * 1000, resp.status, body
    finally:
        conn.close()


_HREF = re.compile(rb'href="([^"#]+)[^"]*"[^>]*>\s*([^<\s]+)\s*<')


def file_urls(base: str, body: bytes) -> dict[str, str]:
    """Filename -> absolute URL from an HTML project page."""
    return {name.decode(): urljoin(base, href.decode()) for href, name in _HREF.findall(body)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=12)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--upstream-delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mirror-bench-") as tmp:
        base = Path(tmp)
        upstream = ib.start_attestkit(base)
        mirrors: list[ib.Server] = []
        try:
            wheel_sets = [
                ib.make_wheels(base / "dist", f"mirrorbench{p}", args.versions)
                for p in range(args.projects)
            ]
            ib.prepare_attestations(upstream, wheel_sets)
            session = requests.Session()
            for wheels in wheel_sets:
                for wheel in wheels:
                    ib._upload(
                        session,
                        upstream,
                        wheel,
                        ("__token__", upstream.publisher_token or ""),
                        ib.attestations_field(wheel),
                    )
            trust = base / "trust.json"
            trust.write_text(requests.get(f"{upstream.url}/trust-config.json", timeout=30).text)
            remote = upstream.url
            if args.upstream_delay_ms > 0:
                from bench._latency import start_delay_proxy

                port = start_delay_proxy((ib.HOST, upstream.port), args.upstream_delay_ms)
                remote = f"http://{ib.HOST}:{port}"
            mirrors = [
                start_attestkit_mirror(base, remote, trust),
                start_devpi_mirror(base, remote),
            ]
            names = [ws[0].name for ws in wheel_sets]
            half = len(names) // 2
            rows = []
            for i, mirror in enumerate(mirrors):
                # Each mirror gets its own cold projects (half each), alternating the
                # direct upstream reads with the mirror's so both see the same machine.
                mine = names[:half] if i == 0 else names[half:]
                page_ms, direct_page_ms, file_ms, direct_file_ms = [], [], [], []
                for name in mine:
                    direct = timed_get(f"{remote}/simple/{name}/")
                    direct_page_ms.append(direct[0])
                    ms, status, body = timed_get(f"{mirror.url}{mirror.simple_path(name)}")
                    if status != 200:
                        raise RuntimeError(f"{mirror.name}: {name}: {status} {body[:200]!r}")
                    page_ms.append(ms)
                    ours = file_urls(f"{mirror.url}{mirror.simple_path(name)}", body)
                    theirs = file_urls(f"{remote}/simple/{name}/", direct[2])
                    if set(ours) != set(theirs) or len(ours) != args.versions:
                        raise RuntimeError(f"{mirror.name}: {name} lists {sorted(ours)}")
                    filename = sorted(ours)[-1]
                    direct_file_ms.append(timed_get(theirs[filename])[0])
                    ms, status, data = timed_get(ours[filename])
                    if status != 200 or data != timed_get(theirs[filename])[2]:
                        raise RuntimeError(f"{mirror.name}: {filename}: {status}")
                    file_ms.append(ms)
                cached = names[0] if i == 0 else names[half]
                body = timed_get(f"{mirror.url}{mirror.simple_path(cached)}")[2]
                expected = set(file_urls(mirror.url, body))
                page = ib.Page(mirror.simple_path(cached), HTML_ACCEPT, body, HTML_ACCEPT)
                rates = {
                    threads: ib.read_rate(mirror, page, expected, threads, args.seconds)
                    for threads in (1, 8)
                }
                rows.append(
                    (
                        mirror.name,
                        statistics.median(page_ms),
                        statistics.median(direct_page_ms),
                        statistics.median(file_ms),
                        statistics.median(direct_file_ms),
                        rates[1],
                        rates[8],
                        mirror.rss_mib("VmHWM"),
                    )
                )
        finally:
            for mirror in mirrors:
                mirror.stop()
            upstream.stop()
    print(
        f"{args.projects} projects x {args.versions} attested wheels upstream"
        f" (+{args.upstream_delay_ms:.0f} ms per request); cached reads for"
        f" {args.seconds:.0f} s per figure"
    )
    header = (
        f"{'mirror':<22} {'page 1st ms':>11} {'direct ms':>9} {'ratio':>6} {'file 1st ms':>11}"
        f" {'direct ms':>9} {'ratio':>6} {'reads/s 1':>9} {'reads/s 8':>9} {'peak MiB':>8}"
    )
    print(header)
    for name, pg, dpg, fl, dfl, r1, r8, rss in rows:
        print(
            f"{name:<22} {pg:>11.1f} {dpg:>9.1f} {pg / dpg:>6.2f} {fl:>11.1f} {dfl:>9.1f}"
            f" {fl / dfl:>6.2f} {r1:>9.0f} {r8:>9.0f} {rss:>8.1f}"
        )
    if len(rows) == 2:
        print(
            f"cached reads vs devpi: {rows[0][5] / rows[1][5]:.1f}x (1 client),"
            f" {rows[0][6] / rows[1][6]:.1f}x (8 clients)"
        )
    print(json.dumps({"rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
