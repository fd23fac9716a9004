"""The Simple repository API (PEP 503/691/700/714/740/792) and file downloads.

``GET /simple/`` and ``GET /simple/{name}/`` answer in HTML or JSON by
``Accept`` (PyPI's three offers, ``text/html`` by default and on ties, never
406), at API version 1.4:

* JSON: ``meta`` (``api-version``, ``_last-serial``), ``name``,
  ``project-status``, ``versions`` and ``files`` (sorted by version, then
  filename) with ``url``, ``hashes``, ``requires-python``, ``size``,
  ``upload-time``, ``yanked``, ``core-metadata`` (and PyPI's legacy
  ``data-dist-info-metadata``) and the Integrity API ``provenance`` URL;
* HTML: the same per file as ``data-*`` attributes, ``<!--SERIAL n-->`` last.

A non-normalized name or a missing trailing slash is a 301 to the canonical
URL; an unknown project is ``404 Not Found`` in ``text/plain``.

Rendered project pages are cached per index (:class:`PageCache`, least recently
used evicted beyond a byte budget), keyed by normalized name, format (HTML or
JSON) and base URL.  A cached page is valid only for the project *state* it was
rendered at: the project row's ``(id, serial, created)``, read from the database
by every request (one indexed single-row query), so another process's upload
(``attestkit index``, other workers, a shared PostgreSQL) is seen at once and no
stale page is ever served.  This relies on the rule :class:`~attestkit.index.db.Project`
states: every change the Simple API shows (an upload, a yank) bumps the serial
in the same transaction.

``GET /files/{path}`` streams a stored distribution (only paths that belong
to a file row) and ``GET /files/{path}.metadata`` its PEP 658 core metadata,
byte for byte what ``core-metadata`` advertises.

With a mirror (:mod:`attestkit.index.mirror`), a project the index does not host
is served from its upstream: the same page format, the upstream's hashes,
``requires-python``, ``size``, ``upload-time``, ``yanked``, core metadata and
project status kept as they are, file and provenance URLs pointing at this
index, and quarantined files left out.  A hosted project never falls through to
upstream.  A page that could not be revalidated is served with
``X-Attestkit-Stale`` (and ``Warning: 110``); one that was never fetched is a 503
with ``Retry-After`` (:mod:`attestkit.index.read.mirrored_simple`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from attestkit.index.admin import normalize
from attestkit.index.db import File, IndexState, Project, Release
from attestkit.index.read.web import (
    CORS_HEADERS,
    FILE_HEADERS,
    FileView,
    ProjectView,
    ReleaseView,
    base_url,
    best_offer,
    cache_headers,
    etag_for,
    file_url,
    global_serial,
    iso_z,
    json_bytes,
    list_projects,
    load_project,
    path_prefix,
    provenance_url,
    respond,
    send_stored,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from starlette.requests import Request

    from attestkit.index.instance import Index

__all__ = [
    "API_VERSION",
    "MIME_PYPI_SIMPLE_V1_HTML",
    "MIME_PYPI_SIMPLE_V1_JSON",
    "MIME_TEXT_HTML",
    "PageCache",
    "detail_json",
    "index_json",
    "routes",
    "select_content_type",
]

API_VERSION = "1.4"
MIME_TEXT_HTML = "text/html"
MIME_PYPI_SIMPLE_V1_HTML = "application/vnd.pypi.simple.v1+html"
MIME_PYPI_SIMPLE_V1_JSON = "application/vnd.pypi.simple.v1+json"
#: PyPI's order of offers: on equal quality the first wins.
_OFFERS = (MIME_TEXT_HTML, MIME_PYPI_SIMPLE_V1_HTML, MIME_PYPI_SIMPLE_V1_JSON)
#: Bytes of rendered project pages an index keeps (a page above a quarter is not kept).
PAGE_CACHE_BYTES = 32 * 1024 * 1024


@lru_cache(maxsize=256)
def select_content_type(accept: str | None) -> str:
    """The Simple API's response type for an ``Accept`` header (``text/html`` by default)."""
    return best_offer(accept, _OFFERS) or MIME_TEXT_HTML


#: What a cached page is valid for: the project row's ``(id, serial, created)``.
_State = tuple[int, int, Any]
#: ``(normalized name, "html" or "json", base URL)``.
_Key = tuple[str, str, str]
_PROJECT_STATE = select(Project.id, Project.serial, Project.created).where(
    Project.normalized_name == bindparam("name")
)
#: Read before the list, so a list cached under it is never older than it says.
_INDEX_CHANGES = select(IndexState.changes).where(IndexState.id == 1)


@dataclass(frozen=True, slots=True)
class _Page:
    """A rendered project page and the project state it shows."""

    state: _State
    serial: int
    body: bytes
    etag: str


class PageCache:
    """Rendered project pages, each valid while its project's state is unchanged (thread-safe).

    :meth:`get` returns a page only for exactly the state it was rendered at; older
    entries are replaced by :meth:`put`, and the least recently used ones go once the
    bodies exceed ``max_bytes``.
    """

    def __init__(self, max_bytes: int = PAGE_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[_Key, _Page] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._rendering: dict[_Key, threading.Lock] = {}

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, key: _Key, state: _State) -> _Page | None:
        """The page cached under ``key`` if it was rendered at ``state``."""
        with self._lock:
            page = self._pages.get(key)
            if page is None or page.state != state:
                return None
            self._pages.move_to_end(key)
            return page

    def put(self, key: _Key, page: _Page) -> None:
        """Keep ``page`` under ``key`` (replacing what was there)."""
        size = len(page.body)
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            if size > self.max_bytes // 4:
                return
            self._pages[key] = page
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._pages.popitem(last=False)
                self._bytes -= len(evicted.body)

    def rendering(self, key: _Key) -> threading.Lock:
        """The lock held while ``key`` is rendered (one render at a time per page)."""
        with self._lock:
            lock = self._rendering.get(key)
            if lock is None:
                if len(self._rendering) > 4096:  # forget idle locks; a held one is re-made
                    self._rendering = {k: v for k, v in self._rendering.items() if v.locked()}
                lock = self._rendering[key] = threading.Lock()
            return lock

    def clear(self) -> None:
        """Forget every page."""
        with self._lock:
            self._pages.clear()
            self._bytes = 0


def _project_state(index: Index, normalized: str) -> _State | None:
    """The project's ``(id, serial, created)``, or None if there is no such project."""
    with index.engine.connect() as conn:
        row = conn.execute(_PROJECT_STATE, {"name": normalized}).first()
    return None if row is None else (int(row[0]), int(row[1] or 0), row[2])


def index_json(projects: list[tuple[str, str, int]], serial: int) -> dict[str, Any]:
    """The PEP 691 project list."""
    return {
        "meta": {"api-version": API_VERSION, "_last-serial": serial},
        "projects": [{"name": name, "_last-serial": s} for name, _, s in projects],
    }


def _file_json(
    base: str, project: ProjectView, release: ReleaseView, f: FileView
) -> dict[str, Any]:
    metadata: dict[str, str] | bool = {"sha256": f.metadata_sha256} if f.metadata_sha256 else False
    return {
        "filename": f.filename,
        "url": file_url(base, f.path),
        "hashes": {"sha256": f.sha256},
        "requires-python": release.file_requires_python(f),
        "size": f.size,
        "upload-time": iso_z(f.upload_time),
        "yanked": release.yanked_value,
        "data-dist-info-metadata": metadata,
        "core-metadata": metadata,
        "provenance": (
            provenance_url(base, project.normalized_name, release.version, f.filename)
            if f.has_provenance
            else None
        ),
    }


def detail_json(base: str, project: ProjectView) -> dict[str, Any]:
    """The PEP 691 project page (with PEP 700, 714, 740 and 792 keys)."""
    return {
        "meta": {"api-version": API_VERSION, "_last-serial": project.serial},
        "name": project.normalized_name,
        "project-status": project.status_json(),
        "versions": [r.version for r in project.releases],
        # PEP 792: a quarantined project offers no files to install.
        "files": (
            []
            if project.status == "quarantined"
            else [_file_json(base, project, r, f) for r, f in project.files()]
        ),
    }


def _index_html(prefix: str, projects: list[tuple[str, str, int]]) -> str:
    links = "".join(
        f'    <a href="{escape(f"{prefix}/simple/{normalized}/")}">{escape(name)}</a>\n'
        for name, normalized, _ in projects
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        "  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        "    <title>Simple index</title>\n"
        "  </head>\n"
        "  <body>\n"
        f"{links}"
        "  </body>\n"
        "</html>\n"
    )


def _anchor(file: dict[str, Any]) -> str:
    attrs = [f'href="{escape(file["url"] + "#sha256=" + file["hashes"]["sha256"])}"']
    if file["requires-python"]:
        attrs.append(f'data-requires-python="{escape(file["requires-python"])}"')
    yanked = file["yanked"]
    if yanked:
        attrs.append(f'data-yanked="{escape(yanked) if isinstance(yanked, str) else ""}"')
    if file["core-metadata"]:
        digest = escape(file["core-metadata"]["sha256"])
        attrs.append(f'data-dist-info-metadata="sha256={digest}"')
        attrs.append(f'data-core-metadata="sha256={digest}"')
    if file["provenance"]:
        attrs.append(f'data-provenance="{escape(file["provenance"])}"')
    return f"    <a {' '.join(attrs)}>{escape(file['filename'])}</a><br />\n"


def _detail_html(doc: dict[str, Any]) -> str:
    name = escape(doc["name"])
    status = doc["project-status"]
    reason = (
        f'    <meta name="pypi:project-status-reason" content="{escape(status["reason"])}">\n'
        if status.get("reason")
        else ""
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        "  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        f'    <meta name="pypi:project-status" content="{escape(status["status"])}">\n'
        f"{reason}"
        f"    <title>Links for {name}</title>\n"
        "  </head>\n"
        "  <body>\n"
        f"    <h1>Links for {name}</h1>\n"
        f"{''.join(_anchor(f) for f in doc['files'])}"
        "  </body>\n"
        "</html>\n"
        f"<!--SERIAL {doc['meta']['_last-serial']}-->\n"
    )


def _not_found() -> Response:
    return PlainTextResponse("404 Not Found", status_code=404)


def _headers(serial: int) -> dict[str, str]:
    return {**CORS_HEADERS, **cache_headers(), "X-PyPI-Last-Serial": str(serial)}


def _body(content_type: str, doc: dict[str, Any], html: str) -> bytes:
    if content_type == MIME_PYPI_SIMPLE_V1_JSON:
        return json_bytes(doc, newline=True)
    # Pure ASCII (other characters as references), so no charset is ever guessed.
    return html.encode("ascii", "xmlcharrefreplace")


@dataclass(frozen=True)
class _Listing:
    """The project list's bodies, rendered at ``changes``."""

    changes: int
    serial: int
    json: bytes
    html: bytes


class ProjectList:
    """``/simple/``'s bodies, rendered once per change of the index (thread-safe).

    Valid while :class:`~attestkit.index.db.IndexState`'s ``changes`` is what it
    was when they were rendered: one read of one row per request, on every node
    and worker (the row lives in the database they share).
    """

    def __init__(self, index: Index) -> None:
        self.index = index
        self._cached: dict[str, _Listing] = {}
        self._lock = threading.Lock()

    def get(self, prefix: str) -> _Listing:
        """The bodies for pages under ``prefix``, current as of this call."""
        with self.index.engine.connect() as conn:
            found = conn.execute(_INDEX_CHANGES).scalar()
        # Without the counter row (never on a migrated database) nothing is cached.
        changes = int(found) if found is not None else -1
        with self._lock:
            cached = self._cached.get(prefix)
            if cached is not None and cached.changes == changes and changes >= 0:
                return cached
            projects = list_projects(self.index)
            serial = global_serial(projects)
            listing = _Listing(
                changes=changes,
                serial=serial,
                json=_body(MIME_PYPI_SIMPLE_V1_JSON, index_json(projects, serial), ""),
                html=_body("text/html", {}, _index_html(prefix, projects)),
            )
            if len(self._cached) >= 8:  # a handful of prefixes (base URLs) at most
                self._cached.clear()
            self._cached[prefix] = listing
            return listing


def routes(index: Index, cache: PageCache | None = None) -> list[BaseRoute]:
    """The Simple API and file download routes of ``index`` (project pages cached in ``cache``)."""
    pages = cache if cache is not None else PageCache()

    project_list = ProjectList(index)

    def simple_index(request: Request) -> Response:
        prefix = path_prefix(base_url(index, request))
        listing = project_list.get(prefix)
        content_type = select_content_type(request.headers.get("accept"))
        body = listing.json if content_type == MIME_PYPI_SIMPLE_V1_JSON else listing.html
        return respond(request, body, content_type=content_type, headers=_headers(listing.serial))

    def simple_index_redirect(request: Request) -> Response:
        prefix = path_prefix(base_url(index, request))
        return RedirectResponse(f"{prefix}/simple/", status_code=301, headers=dict(CORS_HEADERS))

    from attestkit.index.read.mirrored_simple import MirroredPages  # it builds on this module

    mirrored = MirroredPages(index)

    async def simple_detail(request: Request) -> Response:
        """A cached mirrored page checked within the last second, else :func:`detail`."""
        recent = mirrored.recent(request)
        if recent is not None:
            return recent
        return await run_in_threadpool(detail, request)

    def detail(request: Request) -> Response:
        name: str = request.path_params["name"]
        normalized = normalize(name)
        state = _project_state(index, normalized)
        if state is None:
            if index.mirror is not None:
                return mirrored.detail(request, index.mirror, name, normalized)
            return _not_found()
        base = base_url(index, request)
        if name != normalized or not request.scope["path"].endswith("/"):
            return RedirectResponse(
                f"{path_prefix(base)}/simple/{normalized}/",
                status_code=301,
                headers=dict(CORS_HEADERS),
            )
        content_type = select_content_type(request.headers.get("accept"))
        key = (normalized, "json" if content_type == MIME_PYPI_SIMPLE_V1_JSON else "html", base)
        page = pages.get(key, state)
        if page is None:
            # One render per page and state: concurrent readers of a page that just changed
            # wait for the first one's render instead of each rendering it again.
            with pages.rendering(key):
                page = pages.get(key, state)
                if page is None:
                    project = load_project(index, normalized)
                    if project is None:  # removed since the state was read
                        return _not_found()
                    doc = detail_json(base, project)
                    body = _body(content_type, doc, _detail_html(doc))
                    page = _Page(state, project.serial, body, etag_for(body))
                    # Kept only if rendered at the state read above; a newer one is served once.
                    if (project.id, project.serial) == state[:2]:
                        pages.put(key, page)
        return respond(
            request,
            page.body,
            content_type=content_type,
            headers=_headers(page.serial),
            etag=page.etag,
        )

    def download(request: Request) -> Response:
        path: str = request.path_params["path"]
        with index.session() as session:
            row = _file_by_path(session, path)
            metadata_for = None
            if row is None and path.endswith(".metadata"):
                metadata_for = _file_by_path(session, path.removesuffix(".metadata"))
            stored = row.path if row is not None else None
            metadata_path = metadata_for.path if metadata_for is not None else None
            metadata_sha256 = metadata_for.metadata_sha256 if metadata_for is not None else None
        if stored is not None:
            found = index.store.download(stored)
            if found is None:
                return _not_found()
            return send_stored(found)
        if metadata_path is not None and metadata_sha256:
            data = index.store.read_bytes(metadata_path + ".metadata")
            if data is None:
                return _not_found()
            if hashlib.sha256(data).hexdigest() != metadata_sha256.lower():
                # Never serve bytes other than those whose hash is advertised.
                return _not_found()
            return Response(data, media_type="application/octet-stream", headers=FILE_HEADERS)
        return _not_found()

    return [
        Route("/simple/", simple_index, methods=["GET"]),
        Route("/simple", simple_index_redirect, methods=["GET"]),
        Route("/simple/{name}/", simple_detail, methods=["GET"]),
        Route("/simple/{name}", simple_detail, methods=["GET"]),
        Route("/simple/{rest:path}", lambda request: _not_found(), methods=["GET"]),
        Route("/files/{path:path}", download, methods=["GET"]),
    ]


def _file_by_path(session: Session, path: str) -> File | None:
    """The file row stored at ``path`` (looked up by its unique filename)."""
    filename = path.rpartition("/")[2]
    if not filename:
        return None
    row = session.scalar(
        select(File)
        .join(Release, Release.id == File.release_id)
        .join(Project, Project.id == Release.project_id)
        .where(File.filename == filename, Project.status != "quarantined")
    )
    return row if row is not None and row.path == path else None
