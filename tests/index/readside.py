"""Helpers for the read-side tests (Simple, Integrity, JSON API, pages).

* :func:`add_file` stores a real distribution (digests, file store, PEP 658
  METADATA for wheels, optional provenance) directly through the ORM;
* :func:`seed` stores the two real test distributions: the rfc8785 wheel and
  the pypi-attestations sdist with its real (production Sigstore) provenance;
* :func:`serve` runs an app made of the read-side routes with uvicorn on a
  loopback port and records every request path, so tests can check what real
  clients fetched.  (``app.py`` also needs upload/oidc; these tests do not.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
import tarfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_version
from sqlalchemy import select

from attestkit.index.admin import create_project, find_project
from attestkit.index.core import Index
from attestkit.index.db import File, Project, Provenance, Release
from attestkit.index.storage import FileStore

DATA = Path(__file__).parent.parent / "data"
WHEEL = DATA / "rfc8785-0.1.2-py3-none-any.whl"
SDIST = DATA / "pypi_attestations-0.0.19.tar.gz"
SDIST_PROVENANCE = DATA / "pypi_attestations-0.0.19.tar.gz.provenance"
UPLOAD_TIME = dt.datetime(2024, 12, 4, 23, 14, 5, tzinfo=dt.UTC)


def digests(data: bytes) -> dict[str, str]:
    """md5, sha256 and blake2b-256 hex digests."""
    return {
        "md5": hashlib.md5(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
        "blake2_256": hashlib.blake2b(data, digest_size=32).hexdigest(),
    }


def wheel_metadata(path: Path) -> bytes:
    """The wheel's ``*.dist-info/METADATA`` bytes."""
    with zipfile.ZipFile(path) as zf:
        (name,) = [
            n for n in zf.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1
        ]
        return zf.read(name)


def sdist_metadata(path: Path) -> bytes:
    """The sdist's top-level ``PKG-INFO`` bytes."""
    with tarfile.open(path) as tf:
        member = next(
            m for m in tf.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")
        )
        handle = tf.extractfile(member)
        assert handle is not None
        return handle.read()


def add_file(
    index: Index,
    project_name: str,
    path: Path,
    *,
    provenance: dict[str, Any] | None = None,
    upload_time: dt.datetime = UPLOAD_TIME,
    yanked_reason: str | None = None,
    yanked: bool = False,
    requires_python: str | None = None,
    serial: int | None = None,
) -> dict[str, Any]:
    """Store ``path`` as a file of ``project_name`` (created if needed); returns its facts."""
    data = path.read_bytes()
    d = digests(data)
    filename = path.name
    is_wheel = filename.endswith(".whl")
    metadata = wheel_metadata(path) if is_wheel else sdist_metadata(path)
    headers = BytesParser().parsebytes(metadata, headersonly=True)
    version = str(headers["Version"])
    rel_path = FileStore.relative_path(d["blake2_256"], filename)
    index.store.put(rel_path, data=data)
    metadata_sha256 = None
    if is_wheel:
        index.store.put(rel_path + ".metadata", data=metadata)
        metadata_sha256 = hashlib.sha256(metadata).hexdigest()
    rp = requires_python if requires_python is not None else headers.get("Requires-Python")
    with index.session() as session:
        project = find_project(session, project_name) or create_project(session, project_name)
        release = session.scalar(
            select(Release).where(
                Release.project_id == project.id,
                Release.canonical_version == canonicalize_version(version),
            )
        )
        if release is None:
            release = Release(
                project_id=project.id,
                version=version,
                canonical_version=canonicalize_version(version),
                requires_python=rp,
                summary=str(headers["Summary"]),
                metadata_json={
                    "name": str(headers["Name"]),
                    "version": version,
                    "summary": str(headers["Summary"]),
                    "author_email": headers.get("Author-email"),
                    "classifiers": headers.get_all("Classifier") or [],
                    "requires_dist": headers.get_all("Requires-Dist") or [],
                },
                yanked=yanked or yanked_reason is not None,
                yanked_reason=yanked_reason,
            )
            session.add(release)
            session.flush()
        row = File(
            release_id=release.id,
            filename=filename,
            packagetype="bdist_wheel" if is_wheel else "sdist",
            python_version="py3" if is_wheel else "source",
            size=len(data),
            md5=d["md5"],
            sha256=d["sha256"],
            blake2_256=d["blake2_256"],
            path=rel_path,
            metadata_sha256=metadata_sha256,
            requires_python=rp,
            upload_time=upload_time,
            uploaded_via_trusted_publisher=provenance is not None,
            publisher_url=None,
        )
        session.add(row)
        session.flush()
        if provenance is not None:
            session.add(
                Provenance(file_id=row.id, provenance=provenance, uploaded_json=json.dumps([]))
            )
        project.serial = serial if serial is not None else project.serial + 1
        project.total_size += len(data)
    return {
        "filename": filename,
        "path": rel_path,
        "version": version,
        "size": len(data),
        "data": data,
        "metadata": metadata if is_wheel else None,
        "metadata_sha256": metadata_sha256,
        "requires_python": rp,
        **d,
    }


def seed(index: Index) -> dict[str, dict[str, Any]]:
    """The rfc8785 wheel (serial 3) and the pypi-attestations sdist with provenance (serial 7)."""
    provenance = json.loads(SDIST_PROVENANCE.read_text())
    wheel = add_file(index, "rfc8785", WHEEL, serial=3)
    sdist = add_file(index, "pypi-attestations", SDIST, provenance=provenance, serial=7)
    return {"wheel": wheel, "sdist": sdist, "provenance": provenance}


def make_wheel(
    directory: Path,
    name: str,
    version: str,
    *,
    requires_python: str | None = None,
    summary: str = "A test package",
) -> Path:
    """A minimal valid wheel ``{name}-{version}-py3-none-any.whl`` in ``directory``."""
    dist = f"{name.replace('-', '_')}-{version}"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {summary}\n"
    if requires_python:
        metadata += f"Requires-Python: {requires_python}\n"
    wheel = (
        "Wheel-Version: 1.0\nGenerator: attestkit-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    path = directory / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{dist}.dist-info/METADATA", metadata)
        zf.writestr(f"{dist}.dist-info/WHEEL", wheel)
        zf.writestr(f"{dist}.dist-info/RECORD", "")
    return path


def set_serial(index: Index, name: str, serial: int) -> None:
    """Set a project's serial."""
    with index.session() as session:
        project = session.scalar(select(Project).where(Project.normalized_name == name))
        assert project is not None
        project.serial = serial


# ----------------------------------------------------------------------
# Serving


def read_app(index: Index) -> Any:
    """A Starlette app with only the read-side routes."""
    from starlette.applications import Starlette

    from attestkit.index import integrity, jsonapi, pages, simple

    routes = [
        *simple.routes(index),
        *integrity.routes(index),
        *jsonapi.routes(index),
        *pages.routes(index),
    ]
    return Starlette(routes=routes)


@dataclass
class Served:
    """A running read-side server and the paths it was asked for."""

    url: str
    index: Index
    requests: list[tuple[str, str]] = field(default_factory=list)
    _server: Any = None
    _thread: threading.Thread | None = None

    def paths(self) -> list[str]:
        return [path for _, path in self.requests]

    def stop(self) -> None:
        self._server.should_exit = True
        assert self._thread is not None
        self._thread.join(timeout=30)


def serve(index: Index) -> Served:
    """Serve the read-side app of ``index`` with uvicorn in a thread (as conftest.start_server)."""
    import uvicorn

    app = read_app(index)
    served = Served(url="", index=index)

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            served.requests.append((scope["method"], scope["path"]))
        await app(scope, receive, send)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(recording, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("read-side server did not start")
        time.sleep(0.02)
    served.url = f"http://127.0.0.1:{port}"
    served._server = server
    served._thread = thread
    return served
