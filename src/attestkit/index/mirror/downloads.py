"""Mirrored files and their core metadata: judged, fetched once, checked, then served.

A file is served only once its provenance was judged (a pending one is judged
on its first download) and it is not quarantined, and only the bytes whose
SHA-256 upstream announced first.  Bytes are fetched from upstream on first
download into the file store (``mirror/<sha256>/...``); a file whose upstream
bytes do not match is quarantined (``bytes``) and never served.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from attestkit.errors import ServiceError
from attestkit.index.db import MirrorFile, MirrorProject
from attestkit.index.mirror.judging import judge_pending
from attestkit.index.mirror.upstream import (
    MAX_DOCUMENT,
    DigestMismatch,
    UpstreamRefused,
    UpstreamUnavailable,
)
from attestkit.index.mirror.verdicts import SERVED

if TYPE_CHECKING:
    from attestkit.index.mirror.service import Mirror

__all__ = ["FileRefused", "open_file", "open_metadata"]


class FileRefused(ServiceError):  # noqa: N818
    """A mirrored file (or its metadata) is not served: ``status`` and a one-line reason."""

    def __init__(self, status: int, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.retry_after = retry_after


def _file_row(mirror: Mirror, sha256: str, filename: str) -> tuple[int, int, str, str] | None:
    with mirror.index.session() as session:
        row = session.scalar(
            select(MirrorFile).where(
                MirrorFile.sha256 == sha256.lower(), MirrorFile.filename == filename
            )
        )
        if row is None:
            return None
        project = session.get(MirrorProject, row.project_id)
        assert project is not None
        return row.id, row.project_id, project.normalized_name, row.state


def _servable(mirror: Mirror, sha256: str, filename: str) -> MirrorFile:
    """The file row if it may be served (judging it first if pending); else FileRefused."""
    found = _file_row(mirror, sha256, filename)
    if found is None:
        raise FileRefused(404, "Not Found")
    file_id, project_id, normalized, state = found
    if state == "pending":
        with mirror.lock_for(normalized):
            judge_pending(mirror, project_id, normalized, 1, only=[file_id])
    with mirror.index.session() as session:
        row = session.get(MirrorFile, file_id)
        assert row is not None
        if row.state == "pending":
            raise FileRefused(
                503,
                f"the provenance of {filename} cannot be read from upstream yet",
                mirror.config.retry_after,
            )
        if row.state not in SERVED:
            raise FileRefused(403, f"{filename} is quarantined by this mirror: {row.reason}")
        if not row.listed:
            raise FileRefused(404, f"{filename} was removed upstream")
        return row


def open_file(mirror: Mirror, sha256: str, filename: str) -> Path:
    """The stored bytes of a served file, fetched from upstream on first use."""
    row = _servable(mirror, sha256, filename)
    store = mirror.index.local_store  # the mirror's cache is this node's own
    if row.path is not None:
        stored = store.path(row.path)
        if stored.is_file():
            return stored
    relative = f"mirror/{row.sha256[0:2]}/{row.sha256[2:4]}/{row.sha256}/{row.filename}"
    target = store.path(relative)
    _fetch(mirror, row, str(row.entry["url"]), row.sha256, target)
    with mirror.index.session() as session:
        stored_row = session.get(MirrorFile, row.id)
        if stored_row is not None:
            stored_row.path = relative
    return target


def open_metadata(mirror: Mirror, sha256: str, filename: str) -> bytes:
    """The core metadata (PEP 658) of a served file, byte for byte as announced."""
    import hashlib

    row = _servable(mirror, sha256, filename)
    metadata = row.entry.get("core-metadata")
    if not isinstance(metadata, dict):
        raise FileRefused(404, "Not Found")
    digest = str(metadata["sha256"])
    relative = f"mirror/{row.sha256[0:2]}/{row.sha256[2:4]}/{row.sha256}/{row.filename}"
    target = mirror.index.local_store.path(relative + ".metadata")
    if not target.is_file():
        _fetch(mirror, row, f"{row.entry['url']}.metadata", digest, target, limit=MAX_DOCUMENT)
    data = target.read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        raise FileRefused(404, "Not Found")  # never other bytes than those announced
    return data


def _fetch(
    mirror: Mirror, row: MirrorFile, url: str, sha256: str, target: Path, limit: int | None = None
) -> None:
    try:
        mirror.upstream.fetch(url, sha256, target, limit=limit)
    except UpstreamUnavailable as exc:
        raise FileRefused(503, exc.reason, mirror.config.retry_after) from None
    except DigestMismatch as exc:
        with mirror.index.session() as session:
            bad = session.get(MirrorFile, row.id)
            if bad is not None:
                bad.state, bad.flag, bad.reason = "quarantined", "bytes", exc.reason
                project = session.get(MirrorProject, bad.project_id)
                if project is not None:
                    project.serial += 1
        raise FileRefused(403, f"{row.filename} is quarantined: {exc.reason}") from None
    except UpstreamRefused as exc:
        raise FileRefused(502, exc.reason) from None
