"""The index vs pypiserver and devpi-server, same machine and run: uploads/s, Simple API reads/s.

Run: ``/tmp/venv/bin/python -m bench.index_bench [--seconds 5] [--files 200]``.

Starts three real servers on free 127.0.0.1 ports, each in its own temporary
directory, each with its default worker settings:

* ``attestkit serve`` (uvicorn, one process, one event loop; the embedded
  Sigstore on the same port);
* ``pypi-server run -a . -P .`` (unauthenticated uploads; bottle picks waitress,
  4 threads by default; its default backend re-lists the package directory on
  every request);
* ``devpi-server`` (waitress, 50 threads) after ``devpi-init``; a user and an
  index ``bench/dev`` without bases (no PyPI mirror behind it) are made through
  its REST API, and uploads authenticate with the user's login token (what
  devpi-client sends; the password itself would cost an argon2 hash per upload).

It writes ``--files`` tiny valid wheels ``benchpkg-1.0.N-py3-none-any.whl``
(METADATA, WHEEL and a RECORD with real hashes) and uploads the same bytes to
each server through its twine-compatible upload API (multipart POST with
twine's fields, ``requests``), measuring:

* uploads/s, 1 client (sequential) while populating project ``benchpkg``;
* Simple API reads of that project page, from 1 and 8 client threads for
  ``--seconds`` each: HTML (``Accept: text/html``) and JSON (``Accept:
  application/vnd.pypi.simple.v1+json``; a server that answers it with HTML
  shows "n/a").  Clients are ``http.client`` keep-alive connections with a pip
  ``User-Agent`` (devpi renders its lean installer page for it), the same for
  every server; every response must be a 200 whose body is the first one,
  which was checked to list exactly the uploaded files (any other body is
  checked again);
* the latency of the first HTML read of that page right after an upload to the
  project (median of 10 uploads; a page cache cannot help here, every page is
  new and is checked to list the new file), after the throughput figures;
* uploads/s from 4 concurrent clients (project ``benchpkg-c4``, after the reads
  so that the read figures see one project of ``--files`` files everywhere);
* attestkit only: uploads/s *with attestations verified at upload*.  The files
  of projects ``benchsigned`` (1 client) and ``benchsigned-c4`` (4 clients) are
  signed on the embedded Sigstore (``attestkit sign --local``, GitHub Actions
  identity octo/bench release.yml), a GitHub publisher is registered for both,
  an upload token is minted through Trusted Publishing
  (``POST /_/oidc/mint-token``) and each file is uploaded with its
  ``attestations`` form field, as ``twine upload --attestations`` does;
* each server's peak RSS (``VmHWM`` from ``/proc/<pid>/status``) at the end.

The benchmark client runs on the same cores as the servers, so on a small
machine the figures include the competition for them; it is the same client
for all three.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import io
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
HTML = "text/html"
JSON = "application/vnd.pypi.simple.v1+json"
#: pip's User-Agent starts like this (devpi serves its lean installer page to it).
USER_AGENT = "pip/24.3.1 (attestkit index_bench)"
REPO, WORKFLOW, REF = "octo/bench", "release.yml", "refs/tags/v1"
READ_THREADS = (1, 8)
UPLOAD_CLIENTS = 4
#: Uploads to the read project, each followed by one timed read of its page.
FRESH_READS = 10


# -- distributions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wheel:
    """A wheel's bytes and the form fields twine sends with it."""

    path: Path
    name: str
    version: str
    data: bytes

    @property
    def filename(self) -> str:
        return self.path.name

    def fields(self) -> dict[str, str]:
        return {
            ":action": "file_upload",
            "protocol_version": "1",
            "metadata_version": "2.1",
            "name": self.name,
            "version": self.version,
            "summary": "index benchmark package",
            "filetype": "bdist_wheel",
            "pyversion": "py3",
            "md5_digest": hashlib.md5(self.data, usedforsecurity=False).hexdigest(),
            "sha256_digest": hashlib.sha256(self.data).hexdigest(),
            "blake2_256_digest": hashlib.blake2b(self.data, digest_size=32).hexdigest(),
        }


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest},{len(data)}"


def make_wheels(directory: Path, name: str, count: int, first: int = 0) -> list[Wheel]:
    """``count`` small valid wheels ``{name}-1.0.N-py3-none-any.whl``, N from ``first``."""
    directory.mkdir(parents=True, exist_ok=True)
    dist_name = name.replace("-", "_")
    wheels = []
    for n in range(first, first + count):
        version = f"1.0.{n}"
        dist = f"{dist_name}-{version}"
        members = {
            f"{dist_name}/__init__.py": f'__version__ = "{version}"\n'.encode(),
            f"{dist}.dist-info/METADATA": (
                f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                "Summary: index benchmark package\n"
            ).encode(),
            f"{dist}.dist-info/WHEEL": (
                b"Wheel-Version: 1.0\nGenerator: index_bench\nRoot-Is-Purelib: true\n"
                b"Tag: py3-none-any\n"
            ),
        }
        record = "".join(f"{path},{_record_hash(data)}\n" for path, data in members.items())
        members[f"{dist}.dist-info/RECORD"] = (record + f"{dist}.dist-info/RECORD,,\n").encode()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for member, data in members.items():
                info = zipfile.ZipInfo(member, date_time=(2024, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)
        path = directory / f"{dist}-py3-none-any.whl"
        path.write_bytes(buffer.getvalue())
        wheels.append(Wheel(path, name, version, buffer.getvalue()))
    return wheels


# -- servers -------------------------------------------------------------------------------------


@dataclass
class Server:
    """A server process under test and how to talk to it."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    upload_url: str
    simple_path: Callable[[str], str]
    auth: tuple[str, str] | None
    workers: str
    #: Bearer of an upload token minted through Trusted Publishing (attestkit only).
    publisher_token: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def rss_mib(self, key: str = "VmHWM") -> float:
        """``VmHWM`` (peak RSS) or ``VmRSS`` (current) from ``/proc/<pid>/status``."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{log.read_text()[-2000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=5).status_code < 500:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start:\n{log.read_text()[-2000:]}")


def _run(*cmd: str | Path) -> str:
    out = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{out.stdout}{out.stderr}")
    return out.stdout


def start_attestkit(base: Path) -> Server:
    data = base / "attestkit"
    log = base / "attestkit.log"
    proc = subprocess.Popen(
        [
            str(BIN / "attestkit"),
            "serve",
            "--dev",
            "--data-dir",
            str(data),
            "--host",
            HOST,
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=log.open("wb"),
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().decode()
    match = re.match(r"attestkit: serving (http://\S+)", first)
    if match is None:
        proc.kill()
        raise RuntimeError(f"unexpected first line from attestkit serve: {first!r}")
    url = match.group(1)
    # Drain the rest of stdout so the server can never block on a full pipe.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    _wait_ready(proc, f"{url}/simple/", log)
    admin: list[str | Path] = [BIN / "attestkit", "index", "--data-dir", data]
    _run(*admin, "user", "add", "alice")
    token = _run(*admin, "token", "add", "--user", "alice").strip()
    return Server(
        name="attestkit",
        proc=proc,
        port=int(url.rsplit(":", 1)[1]),
        upload_url=f"{url}/legacy/",
        simple_path=lambda project: f"/simple/{project}/",
        auth=("__token__", token),
        workers="uvicorn, 1 process (event loop + threadpool)",
        extra={"data": data},
    )


def start_pypiserver(base: Path) -> Server:
    packages = base / "pypiserver"
    packages.mkdir()
    log = base / "pypiserver.log"
    port = _free_port()
    # -a . -P .: no authentication, uploads included (pypi-server run --help).
    cmd = f"{BIN}/pypi-server run -p {port} -i {HOST} -a . -P . {packages}".split()
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    _wait_ready(proc, f"http://{HOST}:{port}/simple/", log)
    return Server(
        name="pypiserver",
        proc=proc,
        port=port,
        upload_url=f"http://{HOST}:{port}/",
        simple_path=lambda project: f"/simple/{project}/",
        auth=None,
        workers="bottle 'auto' = waitress, 4 threads; backend 'auto' = simple-dir",
    )


def start_devpi(base: Path) -> Server:
    serverdir = base / "devpi"
    log = base / "devpi.log"
    _run(BIN / "devpi-init", "--serverdir", serverdir)
    port = _free_port()
    cmd = f"{BIN}/devpi-server --serverdir {serverdir} --host {HOST} --port {port}".split()
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://{HOST}:{port}"
    _wait_ready(proc, f"{url}/+api", log)
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    r = requests.put(f"{url}/bench", json={"password": "bench-pw"}, headers=headers, timeout=60)
    r.raise_for_status()
    r = requests.post(
        f"{url}/+login", json={"user": "bench", "password": "bench-pw"}, headers=headers, timeout=60
    )
    r.raise_for_status()
    login = r.json()["result"]["password"]
    auth_header = base64.b64encode(f"bench:{login}".encode()).decode()
    r = requests.put(
        f"{url}/bench/dev",
        json={"bases": []},
        headers={**headers, "X-Devpi-Auth": auth_header},
        timeout=60,
    )
    r.raise_for_status()
    return Server(
        name="devpi-server",
        proc=proc,
        port=port,
        upload_url=f"{url}/bench/dev/",
        simple_path=lambda project: f"/bench/dev/+simple/{project}/",
        auth=("bench", login),
        workers="waitress, 50 threads",
    )


# -- attestations (attestkit) ----------------------------------------------------------------------


def prepare_attestations(server: Server, wheel_sets: Sequence[Sequence[Wheel]]) -> float:
    """Sign every wheel on the embedded Sigstore, register the publisher, mint an upload token.

    Returns the signing wall time (s).
    """
    data: Path = server.extra["data"]
    admin: list[str | Path] = [BIN / "attestkit", "index", "--data-dir", data]
    for wheels in wheel_sets:
        project = wheels[0].name
        _run(*admin, "project", "add", project, "--owner", "alice")
        _run(
            *admin, "publisher", "add", "--project", project, "--github", REPO,
            "--workflow", WORKFLOW,
        )  # fmt: skip
    sigstore_dir = data / "sigstore"
    identity: list[str | Path] = [
        BIN / "attestkit",
        "sigstore",
        "token",
        "--data-dir",
        sigstore_dir,
    ]
    claims = ["--github", REPO, "--workflow", WORKFLOW, "--ref", REF, "--lifetime", "3600"]
    signing_token = _run(*identity, *claims).strip()
    paths = [str(w.path) for ws in wheel_sets for w in ws]
    start = time.perf_counter()
    _run(
        BIN / "attestkit", "sign", "--local", server.url, "--identity-token", signing_token,
        "--no-interactive", *paths,
    )  # fmt: skip
    signing = time.perf_counter() - start
    github = _run(*identity, *claims, "--audience", "attestkit").strip()
    r = requests.post(f"{server.url}/_/oidc/mint-token", json={"token": github}, timeout=60)
    if r.status_code != 200:
        raise RuntimeError(f"mint-token: {r.status_code} {r.text}")
    server.publisher_token = r.json()["token"]
    return signing


def attestations_field(wheel: Wheel) -> str:
    attestation = json.loads(Path(f"{wheel.path}.publish.attestation").read_text())
    return json.dumps([attestation])


# -- uploads -------------------------------------------------------------------------------------


def _upload(
    session: requests.Session,
    server: Server,
    wheel: Wheel,
    auth: tuple[str, str] | None,
    attestations: str | None = None,
) -> None:
    fields = wheel.fields()
    if attestations is not None:
        fields["attestations"] = attestations
    r = session.post(
        server.upload_url,
        data=fields,
        files={"content": (wheel.filename, wheel.data, "application/octet-stream")},
        auth=auth,
        timeout=120,
        allow_redirects=False,
    )
    if r.status_code != 200:
        raise RuntimeError(
            f"{server.name}: upload of {wheel.filename}: {r.status_code} {r.reason} {r.text[:500]}"
        )


def upload_rate(
    server: Server,
    wheels: Sequence[Wheel],
    clients: int,
    *,
    attested: bool = False,
) -> float:
    """Upload ``wheels`` from ``clients`` threads (keep-alive sessions); uploads per second."""
    fields: list[str | None] = [None] * len(wheels)
    auth = server.auth
    if attested:
        assert server.publisher_token is not None
        auth = ("__token__", server.publisher_token)
        fields = [attestations_field(w) for w in wheels]  # read before the clock starts
    local = threading.local()

    def one(i: int) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        _upload(session, server, wheels[i], auth, fields[i])

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(len(wheels))))
    return len(wheels) / (time.perf_counter() - start)


# -- Simple API reads ----------------------------------------------------------------------------

_ANCHOR_TEXT = re.compile(rb"<a\s[^>]*>([^<]*)</a>")


def listed_files(body: bytes, content_type: str) -> list[str]:
    """The file names a project page lists (JSON ``files``, or HTML anchor texts)."""
    if content_type.split(";")[0].strip() == JSON:
        return [f["filename"] for f in json.loads(body)["files"]]
    return [m.decode().strip() for m in _ANCHOR_TEXT.findall(body)]


def fetch(server: Server, path: str, accept: str) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection(HOST, server.port, timeout=60)
    try:
        conn.request("GET", path, headers={"Accept": accept, "User-Agent": USER_AGENT})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type") or "", resp.read()
    finally:
        conn.close()


@dataclass
class Page:
    """A verified project page: the request and the body every response must equal."""

    path: str
    accept: str
    body: bytes
    content_type: str


def verified_page(server: Server, project: str, accept: str, expected: set[str]) -> Page | None:
    """The project page in ``accept``'s format, checked; None if the server cannot serve it."""
    path = server.simple_path(project)
    status, content_type, body = fetch(server, path, accept)
    if status != 200:
        raise RuntimeError(f"{server.name}: GET {path} ({accept}): {status} {body[:300]!r}")
    if accept == JSON and not content_type.startswith(JSON):
        return None  # answers JSON requests with HTML: n/a
    files = listed_files(body, content_type)
    if len(files) != len(expected) or set(files) != expected:
        raise RuntimeError(
            f"{server.name}: {path} ({accept}) lists {len(files)} files, expected {len(expected)}"
        )
    return Page(path, accept, body, content_type)


def fresh_read_ms(server: Server, project: str, wheels: Sequence[Wheel], known: set[str]) -> float:
    """Median latency (ms) of the first HTML page read right after each upload of ``wheels``."""
    session = requests.Session()
    listed = set(known)
    times = []
    for wheel in wheels:
        _upload(session, server, wheel, server.auth)
        listed.add(wheel.filename)
        start = time.perf_counter()
        status, content_type, body = fetch(server, server.simple_path(project), HTML)
        times.append((time.perf_counter() - start) * 1000)
        files = listed_files(body, content_type)
        if status != 200 or set(files) != listed or len(files) != len(listed):
            raise RuntimeError(f"{server.name}: stale or bad page after uploading {wheel.filename}")
    return statistics.median(times)


def read_rate(
    server: Server, page: Page, expected: set[str], threads: int, seconds: float
) -> float:
    """Requests per second for ``page`` from ``threads`` keep-alive clients."""
    done = [0] * threads
    failures: list[str] = []
    ready = threading.Barrier(threads + 1)
    deadline = [0.0]
    headers = {"Accept": page.accept, "User-Agent": USER_AGENT}

    def loop(i: int) -> None:
        conn = http.client.HTTPConnection(HOST, server.port, timeout=60)
        ready.wait()
        n = 0
        try:
            while time.monotonic() < deadline[0]:
                try:
                    conn.request("GET", page.path, headers=headers)
                    resp = conn.getresponse()
                    body = resp.read()
                except (http.client.HTTPException, OSError):
                    conn.close()  # the server closed a keep-alive connection: reconnect
                    conn = http.client.HTTPConnection(HOST, server.port, timeout=60)
                    continue
                if resp.status != 200:
                    raise RuntimeError(f"status {resp.status}")
                if body != page.body:
                    files = listed_files(body, resp.getheader("Content-Type") or "")
                    if set(files) != expected or len(files) != len(expected):
                        raise RuntimeError(f"{len(files)} files listed")
                n += 1
        except Exception as exc:
            failures.append(f"{server.name} {page.path} {page.accept}: {exc}")
        finally:
            conn.close()
            done[i] = n

    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    deadline[0] = time.monotonic() + seconds
    start = time.monotonic()
    ready.wait()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - start
    if failures:
        raise RuntimeError("; ".join(failures))
    return sum(done) / elapsed


# -- the run -------------------------------------------------------------------------------------


@dataclass
class Result:
    uploads: float = float("nan")
    uploads_c4: float = float("nan")
    attested: float | None = None
    attested_c4: float | None = None
    reads: dict[tuple[str, int], float | None] = field(default_factory=dict)
    fresh_ms: float = float("nan")
    rss: float = float("nan")
    rss_now: float = float("nan")


@contextlib.contextmanager
def servers(base: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    try:
        for start in (start_attestkit, start_pypiserver, start_devpi):
            started.append(start(base))
        yield started
    finally:
        for server in started:
            server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per read figure")
    parser.add_argument("--files", type=int, default=200, help="files of the project read")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)

    base = Path(tempfile.mkdtemp(prefix="index-bench-"))
    try:
        return _bench(base, args)
    finally:
        if args.keep:
            print(f"(kept {base})")
        else:
            shutil.rmtree(base, ignore_errors=True)


def _bench(base: Path, args: argparse.Namespace) -> int:
    n = args.files
    wheels = make_wheels(base / "dists" / "plain", "benchpkg", n)
    wheels_c4 = make_wheels(base / "dists" / "plain-c4", "benchpkg-c4", n)
    extra = make_wheels(base / "dists" / "extra", "benchpkg", FRESH_READS, first=n)
    warm = make_wheels(base / "dists" / "warm", "benchwarm", 1)
    # One more signed file than measured: the first warms the verification path up.
    signed = make_wheels(base / "dists" / "signed", "benchsigned", n + 1)
    signed_c4 = make_wheels(base / "dists" / "signed-c4", "benchsigned-c4", n)
    expected = {w.filename for w in wheels}
    results: dict[str, Result] = {}
    notes: list[str] = []
    with servers(base) as running:
        attestkit = running[0]
        start = time.perf_counter()
        signing = prepare_attestations(attestkit, [signed, signed_c4])
        notes.append(
            f"attestkit: signed {len(signed) + len(signed_c4)} wheels on the embedded Sigstore"
            f" in {signing:.1f} s"
            f" (not part of any figure); setup {time.perf_counter() - start:.1f} s"
        )
        for server in running:
            upload_rate(server, warm, 1)  # the first upload pays for lazy imports and caches
            result = results[server.name] = Result()
            result.uploads = upload_rate(server, wheels, 1)
        for server in running:
            result = results[server.name]
            for accept in (HTML, JSON):
                page = verified_page(server, "benchpkg", accept, expected)
                for threads in READ_THREADS:
                    if page is None:
                        result.reads[accept, threads] = None
                        continue
                    read_rate(server, page, expected, threads, min(1.0, args.seconds))  # warm-up
                    result.reads[accept, threads] = read_rate(
                        server, page, expected, threads, args.seconds
                    )
        for server in running:
            results[server.name].fresh_ms = fresh_read_ms(server, "benchpkg", extra, expected)
        for server in running:
            results[server.name].uploads_c4 = upload_rate(server, wheels_c4, UPLOAD_CLIENTS)
        attested = results[attestkit.name]
        upload_rate(attestkit, signed[:1], 1, attested=True)  # warm-up
        attested.attested = upload_rate(attestkit, signed[1:], 1, attested=True)
        attested.attested_c4 = upload_rate(attestkit, signed_c4, UPLOAD_CLIENTS, attested=True)
        # The attested project's page (each file with a provenance URL) is there too.
        signed_page = verified_page(attestkit, "benchsigned", JSON, {w.filename for w in signed})
        assert signed_page is not None and b'"provenance": "http' in signed_page.body
        for server in running:
            results[server.name].rss = server.rss_mib("VmHWM")
            results[server.name].rss_now = server.rss_mib("VmRSS")
            notes.append(f"{server.name}: {server.workers}")

    _report(args, results, notes)
    return 0


#: (header, width, value of a result) of each table column.
_COLUMNS: tuple[tuple[str, int, Callable[[Result], float | None]], ...] = (
    ("up/s 1", 7, lambda r: r.uploads),
    ("up/s 4", 7, lambda r: r.uploads_c4),
    ("att 1", 6, lambda r: r.attested),
    ("att 4", 6, lambda r: r.attested_c4),
    ("HTML 1", 7, lambda r: r.reads[HTML, 1]),
    ("HTML 8", 7, lambda r: r.reads[HTML, 8]),
    ("JSON 1", 7, lambda r: r.reads[JSON, 1]),
    ("JSON 8", 7, lambda r: r.reads[JSON, 8]),
    ("1st ms", 7, lambda r: r.fresh_ms),
    ("peak MiB", 8, lambda r: r.rss),
    ("now MiB", 7, lambda r: r.rss_now),
)


def _cell(value: float | None, width: int) -> str:
    if value is None:
        return "n/a".rjust(width)
    return f"{value:{width}.0f}" if value >= 100 else f"{value:{width}.1f}"


def _report(args: argparse.Namespace, results: dict[str, Result], notes: list[str]) -> None:
    print(
        f"index servers on 127.0.0.1, one project of {args.files} wheels,"
        f" {args.seconds:g} s per read figure, {os.cpu_count()} cores shared with the clients"
    )
    head = f"{'server':<13}" + "".join(f" {h:>{w}}" for h, w, _ in _COLUMNS)
    print(head)
    print("-" * len(head))
    for name, r in results.items():
        print(f"{name:<13}" + "".join(f" {_cell(get(r), w)}" for _, w, get in _COLUMNS))
    print(
        "up/s 1, up/s 4: uploads/s from 1 and 4 clients.  att 1, att 4: the same with"
        " attestations\nverified at upload (attestkit only).  HTML/JSON 1 and 8: Simple API"
        " project page requests/s\nfrom 1 and 8 clients (n/a: JSON requests answered in"
        " HTML).  1st ms: median latency of the first\nHTML read after each of"
        f" {FRESH_READS} uploads to the project.  peak/now MiB: the server's RSS at the end"
        " (VmHWM, VmRSS)."
    )
    ours = results["attestkit"]
    peers = [r for name, r in results.items() if name != "attestkit"]
    print("\nattestkit / faster of the two peers, Simple API reads (goal >= 2.0):")
    for accept, label in ((HTML, "HTML"), (JSON, "JSON")):
        for threads in READ_THREADS:
            mine = ours.reads[accept, threads]
            theirs = [v for p in peers if (v := p.reads[accept, threads]) is not None]
            if mine is None or not theirs:
                print(f"  {label}, {threads} client(s): n/a")
                continue
            best = max(theirs)
            print(f"  {label}, {threads} client(s): {mine / best:5.2f}x ({mine:.0f} vs {best:.0f})")
    print()
    for note in notes:
        print(f"  {note}")


if __name__ == "__main__":
    raise SystemExit(main())
