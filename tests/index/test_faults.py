"""Faults on a bad day: a database outage and a full disk answer 503/507, never a 500.

Hardening rows 4 and 5, with real components: PostgreSQL behind a proxy the test
cuts (the database goes away mid-service, then comes back), and the index's data
directory on a small tmpfs that the test fills up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from attestkit.index.instance import Index, IndexConfig
from tests.fixtures.index_server import PG_URL, pg_admin, pg_database, start_server
from tests.fixtures.proxy import CuttableProxy
from tests.fixtures.uploads import make_wheel, post, setup_project

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


@pytest.mark.skipif(PG_URL is None, reason="needs PostgreSQL (ATTESTKIT_TEST_DATABASE_URL)")
def test_a_database_outage_is_503_and_recovers_by_itself(tmp_path: Path) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_database(name)
    parts = urlsplit(url)
    proxy = CuttableProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    via_proxy = url.replace(f":{parts.port}/", f":{proxy.port}/")
    index = Index.open(IndexConfig(data_dir=tmp_path / "index", database_url=via_proxy))
    server = start_server(index)
    try:
        token = setup_project(server)
        assert post(server, token, make_wheel(tmp_path, "demo-pkg", "1.0")).status_code == 200
        session = requests.Session()  # one keep-alive connection through the outage
        assert session.get(f"{server.url}/simple/demo-pkg/", timeout=30).status_code == 200

        proxy.cut()
        for path in ("/simple/demo-pkg/", "/integrity/demo-pkg/1.0/x.whl/provenance",
                     "/pypi/demo-pkg/json", "/project/demo-pkg/"):  # fmt: skip
            r = session.get(f"{server.url}{path}", headers=JSON, timeout=60)
            assert r.status_code == 503, (path, r.status_code, r.text)
            assert r.headers["Retry-After"] == "5"
            assert "database" in r.text and "Traceback" not in r.text
        upload = post(server, token, make_wheel(tmp_path, "demo-pkg", "1.1"), version="1.1")
        assert upload.status_code == 503, upload.text

        proxy.restore()
        page = session.get(f"{server.url}/simple/demo-pkg/", headers=JSON, timeout=60)
        assert page.status_code == 200 and len(page.json()["files"]) == 1
        again = post(server, token, make_wheel(tmp_path, "demo-pkg", "1.1"), version="1.1")
        assert again.status_code == 200, again.text
    finally:
        server.stop()
        index.close()
        proxy.close()
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs (skipped where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` until about ``leave`` bytes are free; the filler file."""
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with filler.open("wb") as out:
        out.write(b"\0" * max(0, free - leave))
    return filler


def test_a_full_disk_is_507_leaves_no_partial_files_and_recovers(
    small_disk: Path, tmp_path: Path
) -> None:
    index = Index.open(IndexConfig(data_dir=small_disk / "index"))
    server = start_server(index)
    try:
        token = setup_project(server)
        assert post(server, token, make_wheel(tmp_path, "demo-pkg", "1.0")).status_code == 200
        filler = _fill(small_disk, leave=64 * 1024)
        big = tmp_path / "demo_pkg-1.1-py3-none-any.whl"
        import zipfile

        with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("demo_pkg/__init__.py", os.urandom(512 * 1024))
            zf.writestr(
                "demo_pkg-1.1.dist-info/METADATA",
                "Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.1\n",
            )
            zf.writestr("demo_pkg-1.1.dist-info/WHEEL", "Wheel-Version: 1.0\n")
            zf.writestr("demo_pkg-1.1.dist-info/RECORD", "")
        r = post(server, token, big, version="1.1")
        assert r.status_code == 507, (r.status_code, r.text)
        assert r.headers["Retry-After"] == "5"
        leftovers = [
            p for p in (small_disk / "index").rglob("*")
            if p.is_file() and (p.name.endswith((".tmp", ".part")) or "incoming" in p.parts)
        ]  # fmt: skip
        assert leftovers == []
        # Reads go on while the disk is full.
        assert requests.get(f"{server.url}/simple/demo-pkg/", timeout=30).status_code == 200
        filler.unlink()
        assert post(server, token, big, version="1.1").status_code == 200
    finally:
        server.stop()
        index.close()


def test_the_fault_mapping_leaves_real_bugs_alone() -> None:
    from attestkit.serving.faults import classify

    assert classify(KeyError("x"), stores=True) is None
    assert classify(FileNotFoundError(2, "x"), stores=True) is None
    assert classify(OSError(28, "No space left on device"), stores=True) == (
        507,
        "Insufficient storage: the server cannot store data right now",
    )
    assert classify(OSError(28, "No space left on device"), stores=False)[0] == 503  # type: ignore[index]
    assert sys.version_info >= (3, 11)
