"""The log survives restarts and ``kill -9`` of the real server process.

Over HTTP, as clients see it: every acknowledged (201) entry is present after a
restart with the same index and body, old inclusion proofs still verify against
their roots, and consistency proofs from any old size to the new size verify.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import requests

from attestkit.sigstore.local.merkle import verify_consistency
from attestkit.sigstore.verify.engine import leaf_hash, verify_inclusion
from tests.fixtures.local_sigstore import Instance, start_instance


class Client:
    """Makes valid hashedrekord entries signed by a throwaway key."""

    def __init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        self.key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        name = x509.Name([])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(1)
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(minutes=10))
            .sign(self.key, hashes.SHA256())
        )
        self.pem = base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()

    def entry(self) -> dict[str, Any]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

        digest = hashlib.sha256(os.urandom(32)).digest()
        sig = self.key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        return {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "signature": {
                    "content": base64.b64encode(sig).decode(),
                    "publicKey": {"content": self.pem},
                },
                "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            },
        }


def _post(
    url: str, body: dict[str, Any], session: requests.Session | None = None
) -> dict[str, Any]:
    r = (session or requests).post(f"{url}/api/v1/log/entries", json=body, timeout=30)
    assert r.status_code == 201, r.text
    ((uuid, entry),) = r.json().items()
    return {"uuid": uuid, **entry}


def _size(url: str) -> int:
    return int(requests.get(f"{url}/api/v1/log", timeout=30).json()["treeSize"])


def _check_entry_proof(entry: dict[str, Any]) -> None:
    proof = entry["verification"]["inclusionProof"]
    verify_inclusion(
        proof["logIndex"],
        proof["treeSize"],
        leaf_hash(base64.b64decode(entry["body"])),
        [bytes.fromhex(h) for h in proof["hashes"]],
        bytes.fromhex(proof["rootHash"]),
    )


def _consistent(url: str, old_size: int, old_root: bytes) -> None:
    new = requests.get(f"{url}/api/v1/log", timeout=30).json()
    r = requests.get(
        f"{url}/api/v1/log/proof",
        params={"firstSize": old_size, "lastSize": new["treeSize"]},
        timeout=30,
    ).json()
    proof = [bytes.fromhex(h) for h in r["hashes"]]
    assert verify_consistency(
        old_size, new["treeSize"], old_root, bytes.fromhex(new["rootHash"]), proof
    )


def test_restart_keeps_entries_and_proofs(tmp_path: Path) -> None:
    client = Client()
    first = start_instance(tmp_path / "d")
    try:
        old = [_post(first.url, client.entry()) for _ in range(13)]
        info = requests.get(f"{first.url}/api/v1/log", timeout=30).json()
        old_size, old_root = info["treeSize"], bytes.fromhex(info["rootHash"])
        old_config = first.trust_config
    finally:
        first.stop()
    second = start_instance(tmp_path / "d")
    try:
        assert second.trust_config["trustedRoot"] == {
            **old_config["trustedRoot"],
            "tlogs": [{**t, "baseUrl": second.url} for t in old_config["trustedRoot"]["tlogs"]],
            "ctlogs": [{**t, "baseUrl": second.url} for t in old_config["trustedRoot"]["ctlogs"]],
            "certificateAuthorities": [
                {**c, "uri": second.url}
                for c in old_config["trustedRoot"]["certificateAuthorities"]
            ],
        }, "same keys after restart"
        new = [_post(second.url, client.entry()) for _ in range(7)]
        assert _size(second.url) == old_size + 7
        for e in old:
            _check_entry_proof(e)  # old proofs stay valid for their old roots
            fetched = requests.get(
                f"{second.url}/api/v1/log/entries/{e['uuid']}", timeout=30
            ).json()
            (entry,) = fetched.values()
            assert entry["body"] == e["body"] and entry["logIndex"] == e["logIndex"]
            _check_entry_proof(entry)  # and re-proved against the new root
        for e in new:
            _check_entry_proof(e)
        _consistent(second.url, old_size, old_root)
        for size in range(1, old_size + 1):
            root = bytes.fromhex(old[size - 1]["verification"]["inclusionProof"]["rootHash"])
            _consistent(second.url, size, root)
    finally:
        second.stop()


def test_kill_9_during_burst_loses_no_acknowledged_entry(tmp_path: Path) -> None:
    instance = start_instance(tmp_path / "d")
    acked: list[dict[str, Any]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def worker() -> None:
        client, session = Client(), requests.Session()
        while not stop.is_set():
            try:
                entry = _post(instance.url, client.entry(), session)
            except (requests.RequestException, AssertionError):
                return
            with lock:
                acked.append(entry)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    instance.proc.send_signal(signal.SIGKILL)
    instance.proc.wait(timeout=30)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert len(acked) > 50, "the burst should have acknowledged entries before the kill"

    restarted = start_instance(tmp_path / "d")
    try:
        size = _size(restarted.url)
        assert size >= len(acked)
        for e in acked:
            fetched = requests.get(f"{restarted.url}/api/v1/log/entries/{e['uuid']}", timeout=30)
            assert fetched.status_code == 200, e["uuid"]
            (entry,) = fetched.json().values()
            assert (entry["body"], entry["logIndex"]) == (e["body"], e["logIndex"])
            _check_entry_proof(entry)
        # Every root a client saw is consistent with the tree after the crash.
        seen = {e["verification"]["inclusionProof"]["treeSize"]: e for e in acked}
        for tree_size, e in sorted(seen.items())[:: max(1, len(seen) // 25)]:
            _consistent(
                restarted.url,
                tree_size,
                bytes.fromhex(e["verification"]["inclusionProof"]["rootHash"]),
            )
        _post(restarted.url, Client().entry())  # and the log keeps growing
        assert _size(restarted.url) == size + 1
    finally:
        restarted.stop()


def test_second_server_on_same_data_dir_is_refused(instance: Instance) -> None:
    import subprocess
    import sys

    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "attestkit",
            "sigstore",
            "serve",
            "--dev",
            "--port",
            "0",
            "--data-dir",
            str(instance.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "another attestkit sigstore server is using" in r.stderr
