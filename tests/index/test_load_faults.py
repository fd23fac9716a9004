"""Mixed load from 50 clients, then ``kill -9`` mid-load, then a restart (hardening).

``attestkit serve --dev`` (index and embedded Sigstore on one port) takes
uploads, Simple and Integrity reads and transparency-log appends from 50
threads.  During the load every answer is one the rules allow (never a 5xx but
503, never a dropped connection before the kill).  The server is then killed
with SIGKILL in the middle of the load and started again: every acknowledged
upload is listed with its exact bytes, every acknowledged log entry is in the
log at its index with its body, nothing unreferenced is left in the store, and
the server takes new work without any manual step.
"""

from __future__ import annotations

import collections
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from tests.fixtures.logutil import hashedrekord_request, self_signed
from tests.fixtures.served import Served
from tests.fixtures.uploads import form, make_wheel

pytestmark = pytest.mark.slow

CLIENTS = 50
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def test_mixed_load_then_kill_9_loses_nothing_acknowledged(tmp_path: Path) -> None:
    served = Served(tmp_path / "data")
    d = str(served.data_dir)
    served.ak("index", "--data-dir", d, "user", "add", "alice")
    token = served.ak("index", "--data-dir", d, "token", "add", "--user", "alice")
    dist = tmp_path / "dist"
    dist.mkdir()
    wheels = collections.deque(make_wheel(dist, "load-pkg", f"1.0.{i}") for i in range(3000))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed(key)
    acked_uploads: list[Path] = []
    acked_entries: dict[int, str] = {}
    statuses: collections.Counter[tuple[str, int]] = collections.Counter()
    lock = threading.Lock()
    killed = threading.Event()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        session = requests.Session()
        n = 0
        while not killed.is_set():
            kind = rng.choice(["upload", "simple", "integrity", "append"])
            n += 1
            try:
                if kind == "upload":
                    with lock:
                        wheel = wheels.popleft()
                    version = wheel.name.split("-")[1]
                    r = session.post(
                        f"{served.url}/legacy/",
                        data=form(wheel, name="load-pkg", version=version),
                        files={"content": (wheel.name, wheel.read_bytes(), "application/zip")},
                        auth=("__token__", token),
                        timeout=30,
                    )
                    if r.status_code == 200:
                        with lock:
                            acked_uploads.append(wheel)
                elif kind == "simple":
                    r = session.get(f"{served.url}/simple/load-pkg/", headers=JSON, timeout=30)
                elif kind == "integrity":
                    r = session.get(
                        f"{served.url}/integrity/load-pkg/1.0.0/x.whl/provenance", timeout=30
                    )
                else:
                    body = hashedrekord_request(key, cert, f"load {seed} {n}".encode())
                    r = session.post(f"{served.url}/api/v1/log/entries", json=body, timeout=30)
                    if r.status_code == 201:
                        (entry,) = r.json().values()
                        with lock:
                            acked_entries[int(entry["logIndex"])] = entry["body"]
            except requests.RequestException:
                if killed.is_set():
                    return
                status = 0
            else:
                status = r.status_code
            with lock:
                statuses[(kind, status)] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    time.sleep(6)
    with lock:
        before_kill = dict(statuses)
    served.stop(signal.SIGKILL)
    killed.set()
    for t in threads:
        t.join(timeout=60)

    allowed = {
        "upload": {200, 503},
        "simple": {200, 404, 503},  # 404 until the first upload created the project
        "integrity": {404, 503},  # no such file: a JSON 404, never a 500
        "append": {201, 503},
    }
    wrong = {k: c for k, c in before_kill.items() if k[1] not in allowed[k[0]]}
    assert wrong == {}, f"answers outside the rules under load: {wrong}"
    assert len(acked_uploads) > 10 and len(acked_entries) > 10, before_kill

    restarted = Served(tmp_path / "data")
    try:
        page: dict[str, Any] = requests.get(
            f"{restarted.url}/simple/load-pkg/", headers=JSON, timeout=30
        ).json()
        listed = {f["filename"]: f for f in page["files"]}
        for wheel in acked_uploads:
            assert wheel.name in listed, wheel.name
        for wheel in acked_uploads[:: max(1, len(acked_uploads) // 25)]:
            content = requests.get(listed[wheel.name]["url"], timeout=30).content
            assert content == wheel.read_bytes()
        for index, body in acked_entries.items():
            r = requests.get(
                f"{restarted.url}/api/v1/log/entries", params={"logIndex": str(index)}, timeout=30
            )
            assert r.status_code == 200, (index, r.text)
            (entry,) = r.json().values()
            assert entry["body"] == body
        store = restarted.data_dir / "index" / "files"
        served_paths = {f["url"].split("/files/", 1)[1] for f in page["files"]}
        left = {str(p.relative_to(store)) for p in store.rglob("*") if p.is_file()}
        assert left == served_paths | {f"{p}.metadata" for p in served_paths}
        fresh = make_wheel(tmp_path, "load-pkg", "9.9")
        r = requests.post(
            f"{restarted.url}/legacy/",
            data=form(fresh, name="load-pkg", version="9.9"),
            files={"content": (fresh.name, fresh.read_bytes(), "application/zip")},
            auth=("__token__", token),
            timeout=30,
        )
        assert r.status_code == 200, r.text
    finally:
        restarted.stop()
