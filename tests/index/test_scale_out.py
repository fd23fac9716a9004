"""Scale-out: two index nodes and two private-Sigstore nodes on one PostgreSQL and one bucket.

Real processes on 127.0.0.1: a development instance standing in for a
self-managed GitLab; two ``attestkit sigstore serve`` nodes sharing a key set
(``sigstore keys init``) and one transparency log in PostgreSQL, behind a
round-robin balancer whose URL is the instance's public URL; two production
``attestkit serve`` nodes, each with its own data directory, sharing one
PostgreSQL database and one S3 bucket (moto's server), also behind a balancer.
Nothing here runs in one process with another: state is shared only through
PostgreSQL and the bucket.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from attestkit.sigstore.local.keys import KeyStore
from attestkit.sigstore.local.merkle import verify_consistency
from tests.fixtures.balancer import Balancer
from tests.fixtures.index_server import PG_URL, pg_admin, pg_database
from tests.fixtures.local_sigstore import Instance, start_instance
from tests.fixtures.logutil import hashedrekord_request, self_signed, verify_response
from tests.fixtures.processes import ServerProcess, ak, start_server
from tests.fixtures.readside import make_wheel
from tests.fixtures.s3_server import S3Server
from tests.fixtures.uploads import post_upload

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(PG_URL is None, reason="needs ATTESTKIT_TEST_DATABASE_URL (CI sets it)"),
]

PROJECT = "corp-app"
REPO = "corp/app"
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


class Cluster:
    def __init__(self, root: Path, s3: S3Server) -> None:
        self.root = root
        self.s3 = s3
        self.databases: list[str] = []
        self.processes: list[ServerProcess] = []
        self.bucket = s3.bucket()
        self.index_db = self._database("idx")
        self.log_db = self._database("log")
        self.gitlab: Instance = start_instance(root / "gitlab")
        self.keys_dir = root / "keys"
        r = ak("sigstore", "keys", "init", str(self.keys_dir), "--ca-name", "Corp Sigstore")
        assert r.returncode == 0, r.stderr
        self.keys = KeyStore.load(self.keys_dir)
        self.sig_lb = Balancer()
        sig = [
            "sigstore", "serve", "--issuer", f"gitlab={self.gitlab.url}",
            "--keys-dir", str(self.keys_dir), "--log-database-url", self.log_db,
            "--url", self.sig_lb.url,
        ]  # fmt: skip
        self.sig_a, self.sig_b = self._start_pair(sig, "sig")
        self.sig_lb.targets = [_address(self.sig_a), _address(self.sig_b)]
        self.trust = root / "trust.json"
        config = requests.get(f"{self.sig_lb.url}/trust-config.json", timeout=30).json()
        self.trust.write_text(json.dumps(config))
        self.index_args = [
            "serve", "--trust-root", str(self.trust), "--no-public-sigstore",
            *self.shared_index_args(),
        ]  # fmt: skip
        self.idx_a, self.idx_b = self._start_pair(self.index_args, "idx")
        self.idx_lb = Balancer()
        self.idx_lb.targets = [_address(self.idx_a), _address(self.idx_b)]
        self.admin("user", "add", "alice")
        self.admin(
            "publisher", "add", "--pending", PROJECT, "--owner", "alice", "--gitlab", REPO,
            "--workflow", ".gitlab-ci.yml", "--issuer", self.gitlab.url,
        )  # fmt: skip

    def shared_index_args(self) -> list[str]:
        return [
            "--database-url", self.index_db,
            "--storage", f"s3://{self.bucket}/files", "--s3-endpoint-url", self.s3.url,
        ]  # fmt: skip

    def _database(self, kind: str) -> str:
        name = f"so_{kind}_{uuid.uuid4().hex[:10]}"
        self.databases.append(name)
        return pg_database(name)

    def _start_pair(self, command: list[str], kind: str) -> tuple[ServerProcess, ServerProcess]:
        # Both at once: schema creation on first start must be safe with two nodes.
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            a, b = pool.map(
                lambda name: start_server(command, self.root / name), [f"{kind}-a", f"{kind}-b"]
            )
        self.processes += [a, b]
        return a, b

    def admin(self, *args: str) -> str:
        r = ak("index", "--data-dir", str(self.root / "admin"), *self.shared_index_args(), *args)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def job_token(self, audience: str) -> str:
        return self.gitlab.token(
            "--gitlab", REPO, "--self-managed", "--ref", "main", "--audience", audience
        )

    def close(self) -> None:
        for process in self.processes:
            process.stop(signal.SIGKILL)
        self.gitlab.stop()
        self.sig_lb.close()
        for name in self.databases:
            pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _address(server: ServerProcess) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path_factory.mktemp("scale-out"), s3_server)
    try:
        yield cluster
    finally:
        cluster.close()


def _sign(cluster: Cluster, wheel: Path, sigstore_url: str) -> None:
    r = ak(
        "sign", "--local", sigstore_url, "--identity-token", cluster.job_token("sigstore"),
        "--no-interactive", str(wheel),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr


def _upload_token(index_url: str, cluster: Cluster) -> str:
    r = requests.post(
        index_url + "/_/oidc/mint-token",
        json={"token": cluster.job_token("attestkit")},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def test_a_release_through_node_a_is_served_and_verified_through_node_b(
    cluster: Cluster, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path, PROJECT, "1.0")
    _sign(cluster, wheel, cluster.sig_lb.url)  # its requests reach both Sigstore nodes
    token = _upload_token(cluster.idx_a.url, cluster)
    r = ak(
        "upload", "--attestations", "--repository-url", cluster.idx_a.url + "/legacy/",
        "-p", token, str(wheel),
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    _check_served(cluster, cluster.idx_b.url, wheel, tmp_path / "check")
    # Nothing in either node's data directory: the files are in the bucket.
    for node in (cluster.idx_a, cluster.idx_b):
        assert not [p for p in (node.data_dir / "index" / "files").rglob("*") if p.is_file()]
    assert any(key.endswith(wheel.name) for key in cluster.s3.keys(cluster.bucket))


def _check_served(cluster: Cluster, index_url: str, wheel: Path, work: Path) -> None:
    """``index_url`` lists ``wheel``, serves its bytes and provenance, and the provenance verifies."""
    page = requests.get(f"{index_url}/simple/{PROJECT}/", headers=JSON, timeout=30).json()
    [entry] = [f for f in page["files"] if f["filename"] == wheel.name]
    assert entry["provenance"] and entry["url"].startswith(index_url)
    got = requests.get(entry["url"], timeout=30)
    assert got.status_code == 200 and got.content == wheel.read_bytes()
    provenance = requests.get(entry["provenance"], timeout=30).json()
    local = work / wheel.name
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_bytes(got.content)
    (work / f"{wheel.name}.provenance").write_text(json.dumps(provenance))
    v = ak(
        "verify", "provenance", "--trust-config", str(cluster.trust),
        "--repository", f"{cluster.gitlab.url}/{REPO}", "--issuer", cluster.gitlab.url,
        str(local),
    )  # fmt: skip
    assert v.returncode == 0, v.stdout + v.stderr


def _append(url: str, body: dict[str, Any]) -> dict[str, Any]:
    r = requests.post(f"{url}/api/v1/log/entries", json=body, timeout=60)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def _head(url: str) -> tuple[int, bytes]:
    info = requests.get(f"{url}/api/v1/log", timeout=30).json()
    return int(info["treeSize"]), bytes.fromhex(info["rootHash"])


def _consistent(url: str, old: tuple[int, bytes], new: tuple[int, bytes]) -> bool:
    if old[0] == 0:
        return True
    r = requests.get(
        f"{url}/api/v1/log/proof", params={"firstSize": old[0], "lastSize": new[0]}, timeout=30
    )
    assert r.status_code == 200, r.text
    proof = [bytes.fromhex(h) for h in r.json()["hashes"]]
    return verify_consistency(old[0], new[0], old[1], new[1], proof)


def test_log_appends_through_both_nodes_form_one_tree(cluster: Cluster) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed(key)
    nodes = [cluster.sig_a.url, cluster.sig_b.url]
    heads: list[tuple[int, bytes]] = [_head(nodes[0])]
    stop = threading.Event()

    def watch() -> None:  # checkpoints seen while both nodes append
        while not stop.is_set():
            heads.append(_head(nodes[len(heads) % 2]))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    requests_ = [hashedrekord_request(key, cert, b"both nodes %d" % i) for i in range(80)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda i: _append(nodes[i % 2], requests_[i]), range(80)))
    stop.set()
    watcher.join()
    indexes = [next(iter(r.values()))["logIndex"] for r in responses]
    assert len(set(indexes)) == 80  # no two entries share an index
    final_a, final_b = _head(nodes[0]), _head(nodes[1])
    assert final_a == final_b
    assert sorted(indexes) == list(range(final_a[0] - 80, final_a[0]))
    for response in responses:  # inclusion proof, signed checkpoint and SET, by either node
        verify_response(response, cluster.keys, sigstore=False)
    # Every checkpoint either node showed is consistent with the final tree.
    assert len(heads) > 2
    for head in heads:
        assert head[0] <= final_a[0]
        assert _consistent(nodes[head[0] % 2], head, final_a)
    # And each entry is the same wherever it is read.
    for index in indexes[:10]:
        a = requests.get(f"{nodes[0]}/api/v1/log/entries", params={"logIndex": index}, timeout=30)
        b = requests.get(f"{nodes[1]}/api/v1/log/entries", params={"logIndex": index}, timeout=30)
        [(uuid_a, entry_a)] = a.json().items()
        [(uuid_b, entry_b)] = b.json().items()
        assert (uuid_a, entry_a["body"]) == (uuid_b, entry_b["body"])


def test_kill_9_of_node_a_under_load_loses_nothing_acknowledged(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.admin("project", "add", "load-pkg", "--owner", "alice")
    token = cluster.admin("token", "add", "--user", "alice")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed(key)
    before = _head(cluster.sig_b.url)
    uploaded: list[tuple[str, str]] = []  # (filename, sha256) acknowledged with 200
    logged: list[tuple[int, str]] = []  # (logIndex, uuid) acknowledged with 201
    counter = iter(range(10_000))
    failures: list[str] = []
    lock = threading.Lock()
    dead = threading.Event()

    def upload_loop() -> None:
        while not dead.is_set():
            with lock:
                n = next(counter)
            wheel = make_wheel(tmp_path, "load-pkg", f"1.{n}")
            try:
                r = post_upload(cluster.idx_a.url, token, wheel, name="load-pkg", version=f"1.{n}")
            except requests.ConnectionError:
                return
            if r.status_code != 200:
                failures.append(f"upload {r.status_code}: {r.text}")
            if r.status_code == 200:
                with lock:
                    uploaded.append((wheel.name, hashlib.sha256(wheel.read_bytes()).hexdigest()))

    def log_loop() -> None:
        while not dead.is_set():
            with lock:
                n = next(counter)
            body = hashedrekord_request(key, cert, b"kill %d" % n)
            try:
                r = requests.post(f"{cluster.sig_a.url}/api/v1/log/entries", json=body, timeout=30)
            except requests.ConnectionError:
                return
            if r.status_code != 201:
                failures.append(f"log {r.status_code}: {r.text}")
            if r.status_code == 201:
                [(entry_uuid, entry)] = r.json().items()
                with lock:
                    logged.append((entry["logIndex"], entry_uuid))

    threads = [threading.Thread(target=upload_loop) for _ in range(4)]
    threads += [threading.Thread(target=log_loop) for _ in range(3)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while (len(uploaded) < 10 or len(logged) < 20) and time.monotonic() < deadline:
        time.sleep(0.05)
    cluster.idx_a.stop(signal.SIGKILL)  # mid-request: uploads and appends in flight
    cluster.sig_a.stop(signal.SIGKILL)
    dead.set()
    for thread in threads:
        thread.join(timeout=60)
    assert len(uploaded) >= 10 and len(logged) >= 20, failures[:3]
    # Node B has every acknowledged upload, with its bytes.
    page = requests.get(f"{cluster.idx_b.url}/simple/load-pkg/", headers=JSON, timeout=30).json()
    listed = {f["filename"]: f for f in page["files"]}
    for filename, sha256 in uploaded:
        assert filename in listed, filename
        assert listed[filename]["hashes"]["sha256"] == sha256
        got = requests.get(listed[filename]["url"], timeout=30)
        assert hashlib.sha256(got.content).hexdigest() == sha256
    # ... and every acknowledged log entry, in a tree consistent with the one before.
    after = _head(cluster.sig_b.url)
    assert _consistent(cluster.sig_b.url, before, after)
    for index, entry_uuid in logged:
        r = requests.get(
            f"{cluster.sig_b.url}/api/v1/log/entries", params={"logIndex": index}, timeout=30
        )
        assert list(r.json()) == [entry_uuid]
    # The balancers skip the dead nodes: B keeps accepting uploads and entries.
    wheel = make_wheel(tmp_path, "load-pkg", "9.0")
    assert (
        post_upload(cluster.idx_lb.url, token, wheel, name="load-pkg", version="9.0").status_code
        == 200
    )
    _append(cluster.sig_lb.url, hashedrekord_request(key, cert, b"after the kill"))
    # A node restarts on its data directory after kill -9 and serves the same index.
    cluster.idx_a = start_server(cluster.index_args, cluster.idx_a.data_dir)
    cluster.processes.append(cluster.idx_a)
    again = requests.get(f"{cluster.idx_a.url}/simple/load-pkg/", headers=JSON, timeout=30)
    assert {f["filename"] for f in again.json()["files"]} == {*listed, wheel.name}


def test_migrate_moves_a_single_node_index_to_postgresql_and_a_bucket(
    cluster: Cluster, tmp_path: Path
) -> None:
    single = start_server(
        ["serve", "--trust-root", str(cluster.trust), "--no-public-sigstore"],
        cluster.root / "single",
    )
    cluster.processes.append(single)
    d = str(single.data_dir)
    assert ak("index", "--data-dir", d, "user", "add", "alice").returncode == 0
    r = ak(
        "index", "--data-dir", d, "publisher", "add", "--pending", PROJECT, "--owner", "alice",
        "--gitlab", REPO, "--workflow", ".gitlab-ci.yml", "--issuer", cluster.gitlab.url,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    wheel = make_wheel(tmp_path, PROJECT, "2.0")
    _sign(cluster, wheel, cluster.sig_lb.url)
    token = _upload_token(single.url, cluster)
    r = ak(
        "upload", "--attestations", "--repository-url", single.url + "/legacy/",
        "-p", token, str(wheel),
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    single.stop()
    database = cluster._database("moved")
    bucket = cluster.s3.bucket()
    target = [
        "--to-database-url", database,
        "--to-storage", f"s3://{bucket}/files", "--to-s3-endpoint-url", cluster.s3.url,
    ]  # fmt: skip
    moved = ak("index", "--data-dir", d, "migrate", *target)
    assert moved.returncode == 0, moved.stderr
    assert "1 files" in moved.stdout and "1 projects" in moved.stdout
    assert sorted(k.rsplit("/", 1)[1] for k in cluster.s3.keys(bucket)) == [
        wheel.name,
        f"{wheel.name}.metadata",
    ]
    node = start_server(
        [
            "serve", "--trust-root", str(cluster.trust), "--no-public-sigstore",
            "--database-url", database,
            "--storage", f"s3://{bucket}/files", "--s3-endpoint-url", cluster.s3.url,
        ],
        cluster.root / "moved-node",
    )  # fmt: skip
    cluster.processes.append(node)
    _check_served(cluster, node.url, wheel, tmp_path / "check")
    # The moved index takes new uploads (its id sequences continue after the moved rows).
    newer = make_wheel(tmp_path, PROJECT, "2.1")
    _sign(cluster, newer, cluster.sig_lb.url)
    r = ak(
        "upload", "--attestations", "--repository-url", node.url + "/legacy/",
        "-p", _upload_token(node.url, cluster), str(newer),
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    # A second move into the same database is refused, and changes nothing.
    again = ak("index", "--data-dir", d, "migrate", *target)
    assert again.returncode == 2 and "not empty" in again.stderr
    assert again.stderr.count("\n") == 1
