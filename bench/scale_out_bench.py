"""Scale-out: one and two index nodes on shared PostgreSQL and an S3-compatible bucket.

In one run, on this machine: uploads/s and Simple reads/s with one node and with two
nodes (same database, same bucket, clients split between the nodes); single-client
upload and download latency with the local file store against the bucket (each on
its own fresh PostgreSQL database); the log's appends/s through one and two
``attestkit sigstore serve`` nodes sharing a PostgreSQL log; the peak RSS of every
node.  The S3 server is moto's server mode (a Python process on loopback, so its
own per-request cost is part of every S3 figure).

    .venv/bin/python -m bench.scale_out_bench --database-url postgresql://u:p@127.0.0.1/db

The database URL names an existing database the bench's role can CREATE DATABASE
from; each node set gets a fresh database, dropped at the end.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
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
import uuid
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

AK = [sys.executable, "-m", "attestkit"]
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


@dataclass
class Node:
    url: str
    proc: subprocess.Popen[bytes]

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_moto(log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=dict(os.environ, **S3_ENV),
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            requests.get(url, timeout=1)
            return url, proc
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError("moto did not start")


def start_node(args: list[str], data_dir: Path) -> Node:
    log = data_dir.with_suffix(".log")
    proc = subprocess.Popen(
        [*AK, *args, "--port", "0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=log.open("ab"),
        env=dict(os.environ, **S3_ENV),
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().decode()
    match = re.search(r"serving (http://\S+)", first)
    if match is None:
        proc.kill()
        raise RuntimeError(f"{args[0]}: {first!r} {log.read_text()[-2000:]}")
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return Node(match.group(1), proc)


def wheel(name: str, version: str, size: int = 0) -> tuple[str, bytes]:
    dist = f"{name.replace('-', '_')}-{version}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(
            f"{dist}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        )
        zf.writestr(f"{dist}.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")
        zf.writestr(f"{dist}.dist-info/RECORD", "")
        if size:
            zf.writestr("payload.bin", os.urandom(size), compress_type=zipfile.ZIP_STORED)
    return f"{dist}-py3-none-any.whl", buffer.getvalue()


def upload(session: requests.Session, url: str, token: str, name: str, version: str,
           size: int = 0) -> float:  # fmt: skip
    filename, data = wheel(name, version, size)
    form = {
        ":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1",
        "name": name, "version": version, "filetype": "bdist_wheel", "pyversion": "py3",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
    }  # fmt: skip
    start = time.perf_counter()
    r = session.post(
        f"{url}/legacy/",
        data=form,
        files={"content": (filename, data, "application/octet-stream")},
        auth=("__token__", token),
        timeout=120,
    )
    elapsed = time.perf_counter() - start
    if r.status_code != 200:
        raise RuntimeError(f"upload {filename}: {r.status_code} {r.text}")
    return elapsed


def parallel(count: int, work: Callable[[int], Any]) -> float:
    """Run ``work(i)`` for every client i at once; seconds until all are done."""
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        list(pool.map(work, range(count)))
    return time.perf_counter() - start


class Bench:
    def __init__(self, base: Path, admin_url: str, s3_url: str) -> None:
        self.base = base
        self.admin_url = admin_url
        self.s3_url = s3_url
        self.databases: list[str] = []
        self.nodes: list[Node] = []
        self.gitlab: Node | None = None
        self.trust = base / "trust.json"

    def database(self) -> str:
        import psycopg

        name = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return f"{self.admin_url.rpartition('/')[0]}/{name}"

    def bucket(self) -> str:
        import boto3

        name = f"bench-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=self.s3_url, region_name="us-east-1").create_bucket(
            Bucket=name
        )
        return name

    def index_nodes(self, count: int, database: str, storage: list[str], label: str) -> list[Node]:
        args = ["serve", "--no-public-sigstore", "--trust-root", str(self.trust),
                "--database-url", database, *storage]  # fmt: skip
        nodes = [start_node(args, self.base / f"{label}-{i}") for i in range(count)]
        self.nodes += nodes
        return nodes

    def token(self, database: str, storage: list[str], projects: Sequence[str]) -> str:
        where = ["--data-dir", str(self.base / "admin"), "--database-url", database, *storage]

        def ak(*args: str) -> str:
            out = subprocess.run([*AK, "index", *where, *args], capture_output=True, text=True,
                                 env=dict(os.environ, **S3_ENV), check=True)  # fmt: skip
            return out.stdout.strip()

        ak("user", "add", "bench")
        for project in projects:
            ak("project", "add", project, "--owner", "bench")
        return ak("token", "add", "--user", "bench")

    def close(self) -> None:
        import psycopg

        for node in self.nodes:
            if node.proc.poll() is None:
                node.stop()
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for name in self.databases:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def throughput(bench: Bench, nodes: list[Node], token: str, label: str,
               uploads: int, clients: int, seconds: float) -> dict[str, float]:  # fmt: skip
    """Uploads/s and Simple reads/s with ``clients`` clients spread over ``nodes``."""
    per_client = uploads // clients

    def upload_client(i: int) -> None:
        session = requests.Session()
        node = nodes[i % len(nodes)]
        for n in range(per_client):
            upload(session, node.url, token, f"pkg-{i}", f"{label}.{n}")

    elapsed = parallel(clients, upload_client)
    uploads_per_s = clients * per_client / elapsed
    reads = [0] * clients
    deadline = time.perf_counter() + seconds

    def read_client(i: int) -> None:
        session = requests.Session()
        node = nodes[i % len(nodes)]
        while time.perf_counter() < deadline:
            r = session.get(f"{node.url}/simple/pkg-{i % clients}/", headers=JSON, timeout=30)
            r.raise_for_status()
            reads[i] += 1

    elapsed = parallel(clients, read_client)
    return {"uploads/s": uploads_per_s, "reads/s": sum(reads) / elapsed}


def latency(node: Node, token: str, project: str, count: int) -> dict[str, float]:
    """Single-client upload latency, then download latency of a small and a 4 MiB file."""
    session = requests.Session()
    ups = [upload(session, node.url, token, project, f"0.{n}") for n in range(count)]
    upload(session, node.url, token, project, "9.0", size=4 * 1024 * 1024)
    page = session.get(f"{node.url}/simple/{project}/", headers=JSON, timeout=30).json()
    urls = {f["filename"]: f["url"] for f in page["files"]}
    small = urls[f"{project.replace('-', '_')}-0.0-py3-none-any.whl"]
    big = urls[f"{project.replace('-', '_')}-9.0-py3-none-any.whl"]

    def timed(url: str) -> float:
        start = time.perf_counter()
        r = session.get(url, timeout=60)
        r.raise_for_status()
        return time.perf_counter() - start

    small_times = [timed(small) for _ in range(count)]
    big_times = [timed(big) for _ in range(max(10, count // 10))]
    ms = 1000.0
    return {
        "upload ms": statistics.median(ups) * ms,
        "upload p90 ms": sorted(ups)[int(len(ups) * 0.9)] * ms,
        "download ms": statistics.median(small_times) * ms,
        "4 MiB download ms": statistics.median(big_times) * ms,
    }


def log_rate(bench: Bench, count: int, appends: int, clients: int) -> tuple[float, list[float]]:
    """Appends/s through ``count`` sigstore nodes sharing one PostgreSQL log."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    keys = bench.base / f"keys-{count}"
    subprocess.run([*AK, "sigstore", "keys", "init", str(keys)], check=True, capture_output=True)
    log_db = bench.database()
    assert bench.gitlab is not None
    issuer = f"gitlab={bench.gitlab.url}"
    args = ["sigstore", "serve", "--issuer", issuer, "--keys-dir", str(keys),
            "--log-database-url", log_db]  # fmt: skip
    nodes = [start_node(args, bench.base / f"sig{count}-{i}") for i in range(count)]
    bench.nodes += nodes
    key = ec.generate_private_key(ec.SECP256R1())
    from cryptography.hazmat.primitives import serialization

    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import base64

    def body(i: int) -> dict[str, Any]:
        digest = hashlib.sha256(b"bench %d" % i).digest()
        signature = key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        return {
            "kind": "hashedrekord", "apiVersion": "0.0.1",
            "spec": {
                "signature": {"content": base64.b64encode(signature).decode(),
                              "publicKey": {"content": base64.b64encode(public).decode()}},
                "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            },
        }  # fmt: skip

    bodies = [body(i) for i in range(appends)]
    per_client = appends // clients

    def client(c: int) -> None:
        session = requests.Session()
        node = nodes[c % len(nodes)]
        for j in range(per_client):
            r = session.post(f"{node.url}/api/v1/log/entries", json=bodies[c * per_client + j],
                             timeout=60)  # fmt: skip
            if r.status_code != 201:
                raise RuntimeError(f"append: {r.status_code} {r.text}")

    elapsed = parallel(clients, client)
    rss = [n.peak_rss_mib() for n in nodes]
    return clients * per_client / elapsed, rss


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("ATTESTKIT_TEST_DATABASE_URL"))
    parser.add_argument("--uploads", type=int, default=400)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--latency-count", type=int, default=100)
    parser.add_argument("--appends", type=int, default=800)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("give --database-url postgresql://... (or $ATTESTKIT_TEST_DATABASE_URL)")
    base = Path(tempfile.mkdtemp(prefix="attestkit-scale-out-"))
    os.environ.update(S3_ENV)
    s3_url, moto = start_moto(base / "moto.log")
    bench = Bench(base, args.database_url, s3_url)
    try:
        gitlab = start_node(["sigstore", "serve", "--dev"], base / "gitlab")
        bench.nodes.append(gitlab)
        bench.gitlab = gitlab
        sig_keys = base / "trust-keys"
        subprocess.run([*AK, "sigstore", "keys", "init", str(sig_keys)], check=True)
        subprocess.run(
            [*AK, "sigstore", "trust-config", "--keys-dir", str(sig_keys), "--url",
             "http://127.0.0.1:9", "-o", str(bench.trust)],
            check=True, capture_output=True,
        )  # fmt: skip
        results: dict[str, Any] = {}
        projects = [f"pkg-{i}" for i in range(args.clients)] + ["lat-pkg"]
        for count in (1, 2):
            database = bench.database()
            storage = ["--storage", f"s3://{bench.bucket()}/files", "--s3-endpoint-url", s3_url]
            token = bench.token(database, storage, projects)
            nodes = bench.index_nodes(count, database, storage, f"s3x{count}")
            figures = throughput(bench, nodes, token, f"{count}", args.uploads, args.clients,
                                 args.seconds)  # fmt: skip
            figures["peak RSS MiB per node"] = max(n.peak_rss_mib() for n in nodes)
            results[f"{count} node(s), PostgreSQL + S3"] = figures
            for node in nodes:
                node.stop()

        def s3_storage() -> list[str]:
            return ["--storage", f"s3://{bench.bucket()}/f", "--s3-endpoint-url", s3_url]

        for label, storage_for in (("local store", list), ("S3 store", s3_storage)):
            database = bench.database()
            storage = storage_for()
            token = bench.token(database, storage, ["lat-pkg"])
            [node] = bench.index_nodes(1, database, storage, label.replace(" ", "-"))
            figures = latency(node, token, "lat-pkg", args.latency_count)
            figures["peak RSS MiB"] = node.peak_rss_mib()
            results[f"1 node, PostgreSQL, {label}"] = figures
            node.stop()
        for count in (1, 2):
            rate, rss = log_rate(bench, count, args.appends, 8)
            results[f"log on PostgreSQL, {count} sigstore node(s)"] = {
                "appends/s": rate, "peak RSS MiB per node": max(rss),
            }  # fmt: skip
        report(results, args.json)
    finally:
        bench.close()
        moto.terminate()
        shutil.rmtree(base, ignore_errors=True)
    return 0


def report(results: dict[str, dict[str, float]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(results, indent=2))
        return
    for label, figures in results.items():
        print(f"{label}:")
        for name, value in figures.items():
            print(f"  {name:24} {value:10.2f}")
    one = results["1 node(s), PostgreSQL + S3"]
    two = results["2 node(s), PostgreSQL + S3"]
    local = results["1 node, PostgreSQL, local store"]
    s3 = results["1 node, PostgreSQL, S3 store"]
    print("ratios:")
    print(f"  2 nodes / 1 node, uploads/s   {two['uploads/s'] / one['uploads/s']:.2f}x")
    print(f"  2 nodes / 1 node, reads/s     {two['reads/s'] / one['reads/s']:.2f}x")
    for name in ("upload ms", "download ms", "4 MiB download ms"):
        print(f"  S3 / local, {name:18} {s3[name] / local[name]:.2f}x")
    logs = [results[f"log on PostgreSQL, {n} sigstore node(s)"]["appends/s"] for n in (1, 2)]
    print(f"  log appends/s, 2 nodes / 1    {logs[1] / logs[0]:.2f}x")


if __name__ == "__main__":
    raise SystemExit(main())
