"""Shared HTTP helpers of the index's read side (Simple, Integrity, JSON API, pages).

* :func:`acceptable_offers` negotiates ``Accept`` with q-values the way
  WebOb's ``acceptable_offers`` does for PyPI: the most specific matching
  media range decides an offer's quality, ``q=0`` refuses it, and ties keep
  the server's order of offers.
* :func:`respond` finishes a response: fixed headers, an ETag over the body
  and ``304 Not Modified`` for a matching ``If-None-Match``.
* :func:`load_project` reads a project, its releases and files in one
  transaction into immutable views, so rendering (and provenance
  verification) never holds a database connection.

>>> acceptable_offers("text/*;q=0.5, application/json", ["text/html", "application/json"])
[('application/json', 1.0), ('text/html', 0.5)]
>>> acceptable_offers(None, ["a/b", "c/d"])
[('a/b', 1.0), ('c/d', 1.0)]
>>> iso_z(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
'2024-01-02T03:04:05Z'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from packaging.version import InvalidVersion, Version
from sqlalchemy import select
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from attestkit.index.admin import normalize
from attestkit.index.db import File, Project, Provenance, Release
from attestkit.index.storage import Download

if TYPE_CHECKING:
    from starlette.requests import Request

    from attestkit.index.instance import Index

__all__ = [
    "CORS_HEADERS",
    "FILE_HEADERS",
    "FileView",
    "ProjectView",
    "ReleaseView",
    "acceptable_offers",
    "as_utc_naive",
    "base_url",
    "best_offer",
    "cache_headers",
    "etag_for",
    "file_url",
    "global_serial",
    "iso_z",
    "json_bytes",
    "list_projects",
    "load_project",
    "path_prefix",
    "provenance_url",
    "respond",
    "send_stored",
    "version_key",
]

#: CORS headers of every public read API (PyPI's ``_CORS_HEADERS``).
CORS_HEADERS: Mapping[str, str] = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET",
    "Access-Control-Allow-Headers": (
        "Content-Type, If-Match, If-Modified-Since, If-None-Match, If-Unmodified-Since"
    ),
    "Access-Control-Max-Age": "86400",
    "Access-Control-Expose-Headers": "X-PyPI-Last-Serial",
}


def cache_headers(max_age: int = 600) -> dict[str, str]:
    """``Vary``, ``Cache-Control`` and ``Surrogate-Control`` as PyPI sends them."""
    return {
        "Vary": "Accept",
        "Cache-Control": f"max-age={max_age}, public",
        "Surrogate-Control": "max-age=86400, stale-while-revalidate=300, stale-if-error=86400",
    }


# ----------------------------------------------------------------------
# Content negotiation


@dataclass(frozen=True, slots=True)
class _Range:
    type: str
    subtype: str
    params: tuple[tuple[str, str], ...]
    q: float


def _parse_accept(header: str) -> list[_Range] | None:
    """Media ranges of an ``Accept`` header; None if it is malformed (treated as absent)."""
    ranges: list[_Range] = []
    for part in header.split(","):
        part = part.strip()
        if not part:
            continue
        media, *raw_params = (p.strip() for p in part.split(";"))
        kind, slash, sub = media.partition("/")
        kind, sub = kind.strip().lower(), sub.strip().lower()
        if not slash or not kind or not sub or (kind == "*" and sub != "*"):
            return None
        q = 1.0
        params: list[tuple[str, str]] = []
        for param in raw_params:
            if not param:
                continue
            key, eq, value = param.partition("=")
            key, value = key.strip().lower(), value.strip().strip('"')
            if not eq:
                return None
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    return None
                if not 0.0 <= q <= 1.0:
                    return None
                break  # parameters after q are accept-extensions
            params.append((key, value))
        ranges.append(_Range(kind, sub, tuple(params), q))
    return ranges


def acceptable_offers(header: str | None, offers: Sequence[str]) -> list[tuple[str, float]]:
    """``(offer, quality)`` for every offer the ``Accept`` header allows, best first.

    No header (or a blank or malformed one) accepts every offer at 1.0.  Each
    offer is judged by its most specific matching range (``type/sub`` with
    parameters, then ``type/sub``, then ``type/*``, then ``*/*``); ``q=0``
    excludes it.  The sort is stable, so equal qualities keep ``offers`` order.
    """
    ranges = _parse_accept(header) if header and header.strip() else None
    if ranges is None:
        return [(offer, 1.0) for offer in offers]
    result: list[tuple[str, float]] = []
    for offer in offers:
        kind, _, sub = offer.lower().partition("/")
        best: tuple[int, float] | None = None
        for r in ranges:
            if r.type == "*":
                specificity = 0
            elif r.type != kind:
                continue
            elif r.subtype == "*":
                specificity = 1
            elif r.subtype != sub:
                continue
            else:
                # A range with parameters only matches an offer with the same ones
                # (our offers have none).
                if r.params:
                    continue
                specificity = 2
            if best is None or specificity > best[0]:
                best = (specificity, r.q)
        if best is not None and best[1] > 0:
            result.append((offer, best[1]))
    result.sort(key=lambda item: -item[1])
    return result


def best_offer(header: str | None, offers: Sequence[str]) -> str | None:
    """The preferred acceptable offer, or None if the header refuses them all."""
    found = acceptable_offers(header, offers)
    return found[0][0] if found else None


# ----------------------------------------------------------------------
# URLs, versions, times


def base_url(index: Index, request: Request) -> str:
    """Absolute base URL without a trailing slash: ``IndexConfig.base_url`` or the request's."""
    configured = index.config.base_url
    return (configured or str(request.base_url)).rstrip("/")


def path_prefix(base: str) -> str:
    """The path part of a base URL (``""`` at the root), for host-relative links."""
    return urlsplit(base).path.rstrip("/")


def file_url(base: str, path: str) -> str:
    """Absolute URL of a stored file (``File.path``)."""
    return f"{base}/files/{quote(path, safe='/')}"


def provenance_url(base: str, normalized_name: str, version: str, filename: str) -> str:
    """Absolute Integrity API URL of a file's provenance."""
    parts = (quote(p, safe="") for p in (normalized_name, version, filename))
    return f"{base}/integrity/{'/'.join(parts)}/provenance"


def version_key(version: str) -> tuple[int, Version | str]:
    """Sort key ordering versions by PEP 440 (unparseable ones first, by text)."""
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def as_utc_naive(value: dt.datetime) -> dt.datetime:
    """A stored time as naive UTC (SQLite returns naive values, which are UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def iso_z(value: dt.datetime) -> str:
    """PyPI's upload time: ``isoformat() + "Z"`` of naive UTC (no fraction when µs = 0)."""
    return as_utc_naive(value).isoformat() + "Z"


# ----------------------------------------------------------------------
# Responses


def json_bytes(obj: object, *, newline: bool = False) -> bytes:
    """ASCII-only JSON (``json.dumps`` defaults), optionally ending with a newline."""
    text = json.dumps(obj, ensure_ascii=True)
    return (text + "\n" if newline else text).encode("ascii")


def etag_for(body: bytes) -> str:
    """The (strong, quoted) ``ETag`` :func:`respond` gives ``body``."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [c.strip().removeprefix("W/") for c in if_none_match.split(",")]
    return "*" in candidates or etag in candidates


def respond(
    request: Request,
    body: bytes,
    *,
    content_type: str,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    etag: bool | str = True,
) -> Response:
    """A response with exactly ``content_type`` (no charset added) and ``headers``.

    Successful responses carry an ``ETag`` over the body (``etag=False``: none; a
    string: that tag, :func:`etag_for` of the body computed earlier); a request
    whose ``If-None-Match`` matches it gets ``304 Not Modified`` with the same headers.
    """
    all_headers = dict(headers or {})
    all_headers["Content-Type"] = content_type
    if etag and status_code == 200:
        tag = etag if isinstance(etag, str) else etag_for(body)
        all_headers["ETag"] = tag
        if _etag_matches(request.headers.get("if-none-match"), tag):
            del all_headers["Content-Type"]
            return Response(status_code=304, headers=all_headers)
    return Response(body, status_code=status_code, headers=all_headers)


# ----------------------------------------------------------------------
# Reading projects


@dataclass(frozen=True, slots=True)
class FileView:
    """A distribution file as the read APIs show it."""

    id: int
    filename: str
    packagetype: str
    python_version: str
    size: int
    md5: str
    sha256: str
    blake2_256: str
    path: str
    metadata_sha256: str | None
    requires_python: str | None
    upload_time: dt.datetime
    uploaded_via_trusted_publisher: bool
    publisher_url: str | None
    has_provenance: bool
    #: The stored provenance object, when loaded (``load_project(..., provenance=True)``).
    provenance: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ReleaseView:
    """A release and its files (sorted by filename)."""

    version: str
    canonical_version: str
    requires_python: str | None
    summary: str | None
    yanked: bool
    yanked_reason: str | None
    metadata: dict[str, Any]
    created: dt.datetime
    files: tuple[FileView, ...]

    @property
    def yanked_value(self) -> str | bool:
        """PEP 592 ``yanked``: the reason when there is one, else the flag."""
        return self.yanked_reason if self.yanked and self.yanked_reason else self.yanked

    @property
    def is_prerelease(self) -> bool:
        """Whether the version is a PEP 440 pre- or development release."""
        key = version_key(self.version)[1]
        return isinstance(key, Version) and key.is_prerelease

    def file_requires_python(self, file: FileView) -> str | None:
        """A file's ``Requires-Python``: its own, else the release's, else None."""
        return file.requires_python or self.requires_python or None


@dataclass(frozen=True, slots=True)
class ProjectView:
    """A project with its releases sorted by version (oldest first)."""

    id: int
    name: str
    normalized_name: str
    serial: int
    releases: tuple[ReleaseView, ...]
    #: PEP 792 status marker and its optional reason.
    status: str = "active"
    status_reason: str | None = None

    def status_json(self) -> dict[str, str]:
        """The Simple API's ``project-status`` object (PEP 792)."""
        status = {"status": self.status}
        if self.status_reason:
            status["reason"] = self.status_reason
        return status

    def files(self) -> list[tuple[ReleaseView, FileView]]:
        """Every file with its release, sorted by (version, filename) as PyPI does."""
        return [(r, f) for r in self.releases for f in r.files]

    def release(self, version: str) -> ReleaseView | None:
        """The release matching ``version`` by canonical form, else exactly."""
        from packaging.utils import canonicalize_version

        canonical = canonicalize_version(version)
        matches = [r for r in self.releases if r.canonical_version == canonical]
        if len(matches) == 1:
            return matches[0]
        exact = [r for r in self.releases if r.version == version]
        return exact[0] if exact else None

    def latest(self) -> ReleaseView | None:
        """The newest release with files, preferring non-yanked final releases."""
        candidates = [r for r in self.releases if r.files] or list(self.releases)
        if not candidates:
            return None
        return max(
            enumerate(candidates),
            key=lambda item: (not item[1].yanked, not item[1].is_prerelease, item[0]),
        )[1]


def _file_view(row: File, has_provenance: bool, provenance: dict[str, Any] | None) -> FileView:
    return FileView(
        id=row.id,
        filename=row.filename,
        packagetype=row.packagetype,
        python_version=row.python_version,
        size=row.size,
        md5=row.md5,
        sha256=row.sha256,
        blake2_256=row.blake2_256,
        path=row.path,
        metadata_sha256=row.metadata_sha256,
        requires_python=row.requires_python,
        upload_time=row.upload_time,
        uploaded_via_trusted_publisher=bool(row.uploaded_via_trusted_publisher),
        publisher_url=row.publisher_url,
        has_provenance=has_provenance,
        provenance=provenance,
    )


def load_project(index: Index, name: str, *, provenance: bool = False) -> ProjectView | None:
    """The project whose normalized name matches ``name`` (None if there is none).

    With ``provenance=True`` the stored provenance objects are loaded too
    (pages); otherwise only whether each file has one (Simple API).
    """
    with index.session() as session:
        project = session.scalar(select(Project).where(Project.normalized_name == normalize(name)))
        if project is None:
            return None
        # One query for the releases, their files and whether each has provenance
        # (or the provenance itself): a cold page costs two round trips, not four.
        stored_column = Provenance.provenance if provenance else Provenance.file_id
        rows = session.execute(
            select(Release, File, stored_column)
            .outerjoin(File, File.release_id == Release.id)
            .outerjoin(Provenance, Provenance.file_id == File.id)
            .where(Release.project_id == project.id)
        ).all()
        releases: dict[int, Release] = {}
        by_release: dict[int, list[FileView]] = {}
        for release_row, row, stored in rows:
            releases.setdefault(release_row.id, release_row)
            if row is None:
                continue
            by_release.setdefault(row.release_id, []).append(
                _file_view(
                    row, stored is not None, stored if provenance and stored is not None else None
                )
            )
        views = [
            ReleaseView(
                version=r.version,
                canonical_version=r.canonical_version,
                requires_python=r.requires_python,
                summary=r.summary,
                yanked=bool(r.yanked),
                yanked_reason=r.yanked_reason,
                metadata=dict(r.metadata_json or {}),
                created=r.created,
                files=tuple(sorted(by_release.get(r.id, []), key=lambda f: f.filename)),
            )
            for r in releases.values()
        ]
        views.sort(key=lambda r: version_key(r.version))
        return ProjectView(
            id=project.id,
            name=project.name,
            normalized_name=project.normalized_name,
            serial=int(project.serial or 0),
            releases=tuple(views),
            status=project.status or "active",
            status_reason=project.status_reason,
        )


def list_projects(index: Index) -> list[tuple[str, str, int]]:
    """``(name, normalized name, serial)`` of every project, sorted by normalized name."""
    with index.session() as session:
        rows = session.execute(
            select(Project.name, Project.normalized_name, Project.serial).order_by(
                Project.normalized_name
            )
        ).all()
    return [(name, normalized, int(serial or 0)) for name, normalized, serial in rows]


def global_serial(projects: Iterable[tuple[str, str, int]]) -> int:
    """The index's last serial: the largest project serial (0 for an empty index)."""
    return max((serial for _, _, serial in projects), default=0)


#: Stored files never change under their URL.
FILE_HEADERS = {"Cache-Control": "max-age=31536000, public, immutable"}


def send_stored(found: Download) -> Response:
    """A stored file as a response: sendfile, a stream from the object store, or a redirect."""
    if found.redirect is not None:
        return RedirectResponse(
            found.redirect, status_code=302, headers={"Cache-Control": "no-store"}
        )
    if found.path is not None:
        return FileResponse(found.path, media_type="application/octet-stream", headers=FILE_HEADERS)
    assert found.chunks is not None
    headers = dict(FILE_HEADERS)
    if found.size is not None:
        headers["Content-Length"] = str(found.size)
    return StreamingResponse(found.chunks, media_type="application/octet-stream", headers=headers)
