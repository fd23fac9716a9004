"""The index at team scale (default 5,000 projects, 50,000 files) vs pypiserver, same run.

Run: ``.venv/bin/python -m bench.scale_bench [--projects 5000] [--versions 10]
[--database-url postgresql://...]``.

Set-up, not measured: every project gets ``--versions`` releases of one tiny
wheel each.  pypiserver gets the files in its package directory (what an
upload writes there) and runs twice: with ``--backend cached-dir`` (watchdog
keeps its listing in memory: its fast setting, from ``pypiserver[cache]``) and
with ``simple-dir`` (its default without watchdog, which lists the directory
on every request); the ratios are against the faster, cached-dir.  attestkit is
started once (``attestkit serve --dev``, so that its schema and data directory
exist), stopped, bulk-loaded straight into
its database (SQLite, and PostgreSQL with ``--database-url``) and file store,
then started again, so every cache starts cold.  devpi-server is left out at
this size: populating it takes its upload API (hours for 50k files).

Measured, for each server in turn (the others stopped, so that they do not
compete for the two cores):

* **cold page**: the first ``GET /simple/<project>/`` (HTML, pip's Accept and
  User-Agent) of ``--sample`` projects picked at random, never read before:
  median and p90 latency, ms;
* **warm page**: the same pages read again;
* **/simple/**: the first read of the project list, then the median of 10 more;
* **1st read after upload**: median latency of the first page read right after
  each of 10 uploads to existing projects (no cache can answer it: the page
  must list the new file, which is checked);
* **uploads/s**, plain, from 1 client (one project) and from 4 clients (each
  to its own project, as several CI jobs publishing at once);
* **attested uploads/s** (attestkit only): the same with PEP 740 attestations,
  signed beforehand on the embedded Sigstore and verified by the index at
  upload, with a token minted through Trusted Publishing;
* each server's peak RSS (``VmHWM``).

Every upload is durable in both: attestkit fsyncs the file and commits its row
before answering; pypiserver writes the file (it does not fsync).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.index_bench import (
    BIN,
    HOST,
    HTML,
    REF,
    REPO,
    WORKFLOW,
    Server,
    Wheel,
    _free_port,
    _run,
    _upload,
    _wait_ready,
    fetch,
    listed_files,
    make_wheels,
    upload_rate,
)

UPLOADS = 100


@dataclass
class Figures:
    """One server's results."""

    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    index_first: float = 0.0
    index_warm: float = 0.0
    fresh: float = 0.0
    up1: float = 0.0
    up4: float = 0.0
    att1: float | None = None
    att4: float | None = None
    rss: float = 0.0


def _ms(server: Server, path: str) -> tuple[float, bytes, str]:
    start = time.perf_counter()
    status, ctype, body = fetch(server, path, HTML)
    took = (time.perf_counter() - start) * 1000
    if status != 200:
        raise RuntimeError(f"{server.name}: GET {path}: {status}")
    return took, body, ctype


def _p(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- populations ----------------------------------------------------------------------------


def population(base: Path, projects: int, versions: int) -> dict[str, list[Wheel]]:
    """``projects`` projects of ``versions`` wheels each, written under ``base``."""
    out: dict[str, list[Wheel]] = {}
    for i in range(projects):
        name = f"proj{i:05d}"
        out[name] = make_wheels(base / name, name, versions)
    return out


def load_attestkit(data: Path, database_url: str | None, pop: dict[str, list[Wheel]]) -> None:
    """Write the population straight into a stopped index (rows and stored files)."""
    from sqlalchemy import insert, select, update

    from attestkit.index.db import File, IndexState, Project, Release, Role, User
    from attestkit.index.instance import Index, IndexConfig
    from attestkit.index.storage import relative_path

    index = Index.open(IndexConfig(data_dir=data / "index", database_url=database_url))
    now = dt.datetime.now(dt.UTC)
    try:
        with index.session() as session:
            alice = session.scalar(select(User.id).where(User.username == "alice"))
            names = list(pop)
            session.execute(
                insert(Project),
                [
                    {"name": n, "normalized_name": n, "serial": len(pop[n]),
                     "total_size": sum(len(w.data) for w in pop[n]), "created": now,
                     "status": "active"}
                    for n in names
                ],
            )  # fmt: skip
            ids = dict(session.execute(select(Project.normalized_name, Project.id)).all())
            session.execute(
                insert(Role),
                [{"user_id": alice, "project_id": ids[n], "role": "Owner"} for n in names],
            )
            session.execute(
                insert(Release),
                [
                    {"project_id": ids[n], "version": w.version, "canonical_version": w.version,
                     "summary": "index benchmark package", "metadata_json": {},
                     "created": now, "yanked": False}
                    for n in names for w in pop[n]
                ],
            )  # fmt: skip
            releases = {
                (p, v): r
                for r, p, v in session.execute(
                    select(Release.id, Release.project_id, Release.version)
                ).all()
            }
            rows = []
            for n in names:
                for w in pop[n]:
                    b2 = hashlib.blake2b(w.data, digest_size=32).hexdigest()
                    rel = relative_path(b2, w.filename)
                    target = index.local_store.root / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(w.data)
                    rows.append(
                        {"release_id": releases[ids[n], w.version], "filename": w.filename,
                         "packagetype": "bdist_wheel", "python_version": "py3",
                         "size": len(w.data),
                         "md5": hashlib.md5(w.data, usedforsecurity=False).hexdigest(),
                         "sha256": hashlib.sha256(w.data).hexdigest(), "blake2_256": b2,
                         "path": rel, "upload_time": now,
                         "uploaded_via_trusted_publisher": False}
                    )  # fmt: skip
            for start in range(0, len(rows), 5000):
                session.execute(insert(File), rows[start : start + 5000])
            # Bulk inserts bypass the ORM hooks that count changes: count this one.
            session.execute(update(IndexState).values(changes=IndexState.changes + 1))
    finally:
        index.close()


def start_attestkit(data: Path, database_url: str | None, label: str) -> Server:
    log = data.with_suffix(".log")
    cmd = [str(BIN / "attestkit"), "serve", "--dev", "--data-dir", str(data), "--host", HOST,
           "--port", "0"]  # fmt: skip
    if database_url:
        cmd += ["--database-url", database_url]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log.open("ab"))
    assert proc.stdout is not None
    first = proc.stdout.readline().decode()
    match = re.match(r"attestkit: serving (http://\S+)", first)
    if match is None:
        proc.kill()
        raise RuntimeError(f"attestkit serve: {first!r} {log.read_text()[-2000:]}")
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    url = match.group(1)
    _wait_ready(proc, f"{url}/healthz", log)
    return Server(
        name=label,
        proc=proc,
        port=int(url.rsplit(":", 1)[1]),
        upload_url=f"{url}/legacy/",
        simple_path=lambda project: f"/simple/{project}/",
        auth=None,
        workers="uvicorn, 1 process",
        extra={"data": data, "database_url": database_url},
    )


def start_pypiserver(base: Path, backend: str) -> Server:
    """``pypi-server run -a . -P .`` (no authentication) with ``--backend BACKEND``."""
    packages = base / "pypiserver"
    packages.mkdir(exist_ok=True)
    log = base / f"pypiserver-{backend}.log"
    port = _free_port()
    cmd = [str(BIN / "pypi-server"), "run", "-p", str(port), "-i", HOST, "-a", ".", "-P", ".",
           "--backend", backend, str(packages)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    _wait_ready(proc, f"http://{HOST}:{port}/simple/", log, timeout=600)
    return Server(
        name=f"pypiserver {backend}",
        proc=proc,
        port=port,
        upload_url=f"http://{HOST}:{port}/",
        simple_path=lambda project: f"/simple/{project}/",
        auth=None,
        workers=f"waitress, 4 threads; backend {backend}",
    )


def _admin(server: Server) -> list[str | Path]:
    cmd: list[str | Path] = [BIN / "attestkit", "index", "--data-dir", server.extra["data"]]
    if server.extra["database_url"]:
        cmd += ["--database-url", server.extra["database_url"]]
    return cmd


def sign_for(server: Server, sets: Sequence[Sequence[Wheel]]) -> None:
    """Register a publisher for each set's project, sign the wheels, mint an upload token."""
    for wheels in sets:
        project = wheels[0].name
        _run(*_admin(server), "project", "add", project, "--owner", "alice")
        _run(*_admin(server), "publisher", "add", "--project", project, "--github", REPO,
             "--workflow", WORKFLOW)  # fmt: skip
    token: list[str | Path] = [BIN / "attestkit", "sigstore", "token", "--data-dir",
                               server.extra["data"] / "sigstore"]  # fmt: skip
    claims = ["--github", REPO, "--workflow", WORKFLOW, "--ref", REF, "--lifetime", "3600"]
    signing = _run(*token, *claims).strip()
    paths = [str(w.path) for ws in sets for w in ws]
    _run(BIN / "attestkit", "sign", "--local", server.url, "--identity-token", signing,
         "--no-interactive", *paths)  # fmt: skip
    github = _run(*token, *claims, "--audience", "attestkit").strip()
    r = requests.post(f"{server.url}/_/oidc/mint-token", json={"token": github}, timeout=60)
    r.raise_for_status()
    server.publisher_token = r.json()["token"]


# -- measuring ------------------------------------------------------------------------------------


def measure(
    server: Server,
    pop: dict[str, list[Wheel]],
    sample: list[str],
    fresh: list[Wheel],
    up1: list[Wheel],
    up4: list[list[Wheel]],
) -> Figures:
    f = Figures()
    # One read of a project outside the sample: the process's own first-request costs
    # (lazy imports, template compilation) are not a page's.
    spare = next(n for n in pop if n not in sample)
    _ms(server, server.simple_path(spare))
    for name in sample:
        took, body, ctype = _ms(server, server.simple_path(name))
        if set(listed_files(body, ctype)) != {w.filename for w in pop[name]}:
            raise RuntimeError(f"{server.name}: wrong page for {name}")
        f.cold.append(took)
    for name in sample:
        f.warm.append(_ms(server, server.simple_path(name))[0])
    f.index_first = _ms(server, "/simple/")[0]
    f.index_warm = statistics.median(_ms(server, "/simple/")[0] for _ in range(10))
    session = requests.Session()
    times = []
    for wheel in fresh:
        _upload(session, server, wheel, server.auth)
        start = time.perf_counter()
        status, ctype, body = fetch(server, server.simple_path(wheel.name), HTML)
        times.append((time.perf_counter() - start) * 1000)
        if status != 200 or wheel.filename not in listed_files(body, ctype):
            raise RuntimeError(f"{server.name}: stale page after uploading {wheel.filename}")
    f.fresh = statistics.median(times)
    f.up1 = upload_rate(server, up1, 1)
    f.up4 = _concurrent(server, up4)
    return f


def _concurrent(server: Server, sets: list[list[Wheel]], *, attested: bool = False) -> float:
    """Uploads/s with one client per set (each its own project)."""
    rates: list[float] = []
    total = sum(len(s) for s in sets)
    start = time.perf_counter()
    threads = [
        threading.Thread(
            target=lambda s=s: rates.append(upload_rate(server, s, 1, attested=attested))
        )
        for s in sets
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(rates) != len(sets):
        raise RuntimeError(f"{server.name}: a concurrent upload client failed")
    return total / (time.perf_counter() - start)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=5000)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--sample", type=int, default=50, help="projects read cold")
    parser.add_argument("--database-url", help="also measure attestkit on this PostgreSQL")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    try:
        return _bench(base, args)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


def _wheels(base: Path, name: str, count: int, first: int = 0) -> list[Wheel]:
    return make_wheels(base / "dists" / name, name, count, first)


def _bench(base: Path, args: argparse.Namespace) -> int:
    started = time.perf_counter()
    pop = population(base / "pop", args.projects, args.versions)
    rng = random.Random(740)
    names = list(pop)
    sample = rng.sample(names, min(args.sample, len(names)))
    print(
        f"{args.projects} projects x {args.versions} files = {args.projects * args.versions}"
        f" files (set-up {time.perf_counter() - started:.0f} s)",
        flush=True,
    )
    results: dict[str, Figures] = {}
    backends: list[tuple[str, str | None]] = [("attestkit-sqlite", None)]
    if args.database_url:
        backends.append(("attestkit-pg", args.database_url))
    for label, url in backends:
        data = base / label
        first = start_attestkit(data, url, label)
        _run(*_admin(first), "user", "add", "alice")
        first.stop()
        load_attestkit(data, url, pop)
        server = start_attestkit(data, url, label)
        try:
            token = _run(*_admin(server), "token", "add", "--user", "alice").strip()
            server.auth = ("__token__", token)
            tag = label.split("-")[1]
            fresh = [
                _wheels(base / label, n, 1, first=args.versions)[0] for n in rng.sample(names, 10)
            ]
            up1 = _wheels(base / label, f"up1-{tag}", UPLOADS)
            up4 = [_wheels(base / label, f"up4-{tag}-{i}", UPLOADS // 2) for i in range(4)]
            f = results[label] = measure(server, pop, sample, fresh, up1, up4)
            att1 = _wheels(base / label, f"att1-{tag}", UPLOADS + 1)
            att4 = [_wheels(base / label, f"att4-{tag}-{i}", UPLOADS // 2) for i in range(4)]
            sign_for(server, [att1, *att4])
            upload_rate(server, att1[:1], 1, attested=True)  # warm-up
            f.att1 = upload_rate(server, att1[1:], 1, attested=True)
            f.att4 = _concurrent(server, att4, attested=True)
            f.rss = server.rss_mib()
        finally:
            server.stop()
        print(f"  {label} done", flush=True)
    for backend in ("cached-dir", "simple-dir"):
        peer_dir = base / f"peer-{backend}"
        packages = peer_dir / "pypiserver"
        packages.mkdir(parents=True)
        for wheels in pop.values():  # its package directory, as uploads would leave it
            for w in wheels:
                (packages / w.filename).write_bytes(w.data)
        server = start_pypiserver(peer_dir, backend)
        try:
            fresh = [_wheels(peer_dir, n, 1, first=args.versions)[0] for n in rng.sample(names, 10)]
            up1 = _wheels(peer_dir, "up1-peer", UPLOADS)
            up4 = [_wheels(peer_dir, f"up4-peer-{i}", UPLOADS // 2) for i in range(4)]
            results[server.name] = measure(server, pop, sample, fresh, up1, up4)
            results[server.name].rss = server.rss_mib()
        finally:
            server.stop()
        print(f"  {server.name} done", flush=True)
    _report(args, results)
    return 0


def _report(args: argparse.Namespace, results: dict[str, Figures]) -> None:
    files = args.projects * args.versions
    print(f"\n{args.projects} projects, {files} files; latencies in ms, median (p90)")
    head = (
        f"{'server':<17}{'cold page':>15}{'warm page':>11}{'/simple/ 1st':>13}{'cached':>8}"
        f"{'1st after up':>13}{'up/s 1':>8}{'up/s 4':>8}{'att 1':>7}{'att 4':>7}{'RSS MiB':>9}"
    )
    print(head)
    print("-" * len(head))
    for name, f in results.items():
        cold = f"{statistics.median(f.cold):.2f} ({_p(f.cold, 0.9):.2f})"
        att1 = f"{f.att1:7.1f}" if f.att1 is not None else f"{'n/a':>7}"
        att4 = f"{f.att4:7.1f}" if f.att4 is not None else f"{'n/a':>7}"
        print(
            f"{name:<17}{cold:>15}{statistics.median(f.warm):11.2f}{f.index_first:13.1f}"
            f"{f.index_warm:8.2f}{f.fresh:13.2f}{f.up1:8.1f}{f.up4:8.1f}{att1}{att4}{f.rss:9.0f}"
        )
    peer = results["pypiserver cached-dir"]
    print(
        "\nattestkit / pypiserver cached-dir, its faster backend (higher is better for attestkit):"
    )
    for name, f in results.items():
        if name.startswith("pypiserver"):
            continue
        print(
            f"  {name}: cold page {statistics.median(peer.cold) / statistics.median(f.cold):.1f}x,"
            f" 1st read after upload {peer.fresh / f.fresh:.1f}x,"
            f" /simple/ cached {peer.index_warm / f.index_warm:.1f}x,"
            f" uploads 1 client {f.up1 / peer.up1:.2f}x, 4 clients {f.up4 / peer.up4:.2f}x,"
            f" attested 1 client {(f.att1 or 0) / peer.up1:.2f}x,"
            f" 4 clients {(f.att4 or 0) / peer.up4:.2f}x"
        )


if __name__ == "__main__":
    raise SystemExit(main())
