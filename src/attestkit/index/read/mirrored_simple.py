"""Simple API pages of mirrored projects (PEP 691 JSON and HTML), built from the mirror's rows.

Upstream's ``hashes``, ``requires-python``, ``size``, ``upload-time``,
``yanked``, core metadata and project status are kept as they are; file and
provenance URLs point at this index; quarantined files are left out.  A page
that could not be revalidated is served with ``X-Attestkit-Stale`` (and
``Warning: 110``); one that was never fetched is a 503 with ``Retry-After``, an
upstream that answered nonsense a 502.

A mirrored page's state, once read from the database, is trusted by the process
for :data:`MIRROR_RECHECK` seconds (never longer than the mirror's TTL: with a
TTL of 0 every read goes to the database), so that cached mirrored pages are
answered on the event loop without a database round trip; an operator's
release, or a project created here under a mirrored name by another process,
shows within that second.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.responses import PlainTextResponse, RedirectResponse, Response

from attestkit.index.read.simple import (
    API_VERSION,
    MIME_PYPI_SIMPLE_V1_JSON,
    PageCache,
    _body,
    _detail_html,
    _headers,
    _not_found,
    _Page,
    select_content_type,
)
from attestkit.index.read.web import (
    CORS_HEADERS,
    base_url,
    etag_for,
    path_prefix,
    provenance_url,
    respond,
)

if TYPE_CHECKING:
    from starlette.requests import Request

    from attestkit.index.instance import Index
    from attestkit.index.mirror import Mirror, MirrorState
    from attestkit.index.mirror.service import MirroredProject

__all__ = ["MIRROR_RECHECK", "MirroredPages", "mirror_detail_json"]

#: Seconds a mirrored page's state read from the database is trusted without reading it again.
MIRROR_RECHECK = 1.0


def mirror_detail_json(base: str, project: MirroredProject) -> dict[str, Any]:
    """The PEP 691 page of a mirrored project: upstream's data, this index's URLs, served files."""
    files = []
    for f in project.files:
        if not f.shown:
            continue
        entry = f.entry
        item: dict[str, Any] = {
            "filename": f.filename,
            "url": f"{base}/mirror/files/{f.sha256}/{quote(f.filename)}",
            "hashes": dict(entry["hashes"]),
            "requires-python": entry.get("requires-python"),
        }
        for key in ("size", "upload-time"):
            if entry.get(key) is not None:
                item[key] = entry[key]
        metadata = entry.get("core-metadata") or False
        item["yanked"] = entry.get("yanked", False)
        item["data-dist-info-metadata"] = metadata
        item["core-metadata"] = metadata
        item["provenance"] = (
            provenance_url(base, project.name, f.version, f.filename)
            if f.advertises_provenance and f.version
            else None
        )
        files.append(item)
    versions = project.page.get("versions")
    if not isinstance(versions, list):
        versions = list(dict.fromkeys(f.version for f in project.files if f.version))
    return {
        "meta": {"api-version": API_VERSION, "_last-serial": project.serial},
        "name": project.name,
        "project-status": project.page.get("project-status") or {"status": "active"},
        "versions": versions,
        "files": files,
    }


class MirroredPages:
    """The rendered pages of mirrored projects, and when each name's state was last read."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.pages = PageCache()
        #: Mirrored (not hosted) names: when their state was last read, and that state.
        self.checked: dict[str, tuple[float, MirrorState]] = {}

    def recent(self, request: Request) -> Response | None:
        """The cached page if its state was read within :data:`MIRROR_RECHECK` (no I/O)."""
        mirror = self.index.mirror
        name: str = request.path_params["name"]
        seen = self.checked.get(name)
        if mirror is None or seen is None or not request.scope["path"].endswith("/"):
            return None
        if time.monotonic() - seen[0] >= min(MIRROR_RECHECK, mirror.config.ttl):
            return None
        state = seen[1]
        content_type = select_content_type(request.headers.get("accept"))
        fmt = "json" if content_type == MIME_PYPI_SIMPLE_V1_JSON else "html"
        page = self.pages.get((name, fmt, base_url(self.index, request)), state.key)
        if page is None or state.stale is not None:
            return None
        return respond(
            request,
            page.body,
            content_type=content_type,
            headers=_headers(page.serial),
            etag=page.etag,
        )

    def detail(self, request: Request, mirror: Mirror, name: str, normalized: str) -> Response:
        """The page of ``normalized`` (not hosted here), revalidated against upstream if due."""
        from attestkit.index.mirror import MirrorUnavailable

        try:
            state = mirror.state(normalized)
        except MirrorUnavailable as exc:
            return PlainTextResponse(
                f"{exc.status} {exc.reason}",
                status_code=exc.status,
                headers={"Retry-After": str(exc.retry_after)} if exc.status == 503 else None,
            )
        if state is None:
            self.checked.pop(normalized, None)
            return _not_found()
        self.checked[normalized] = (time.monotonic(), state)
        base = base_url(self.index, request)
        if name != normalized or not request.scope["path"].endswith("/"):
            return RedirectResponse(
                f"{path_prefix(base)}/simple/{normalized}/",
                status_code=301,
                headers=dict(CORS_HEADERS),
            )
        content_type = select_content_type(request.headers.get("accept"))
        key = (normalized, "json" if content_type == MIME_PYPI_SIMPLE_V1_JSON else "html", base)
        page = self.pages.get(key, state.key)
        if page is None:
            project = mirror.view(normalized)
            if project is None:
                return _not_found()
            doc = mirror_detail_json(base, project)
            body = _body(content_type, doc, _detail_html(doc))
            page = _Page(state.key, project.serial, body, etag_for(body))
            if project.serial == state.serial:
                self.pages.put(key, page)
        headers = _headers(page.serial)
        if state.stale is not None:
            why = "".join(c for c in state.stale if " " <= c <= "~")[:300]
            headers["X-Attestkit-Stale"] = f"upstream unavailable: {why}"
            headers["Warning"] = '110 attestkit "Response is Stale"'
        return respond(
            request, page.body, content_type=content_type, headers=headers, etag=page.etag
        )
