"""The Integrity API (PEP 740): ``GET /integrity/{project}/{version}/{filename}/provenance``.

As PyPI (``warehouse/api/integrity.py``):

* the project matches by normalized name (no redirect), the version by
  ``canonicalize_version`` (exactly, if that is ambiguous), the filename exactly;
* ``Accept`` is negotiated between ``application/vnd.pypi.integrity.v1+json``
  (the default, which also wins ties) and ``application/json``, with q-values;
  nothing acceptable is ``406 {"message": "Request not acceptable"}``;
* a file without provenance is ``404 {"message": "No provenance available for {filename}"}``;
* 200 is the stored provenance object, re-serialised with ``json.dumps``'
  defaults and no trailing newline, ``Content-Type`` the negotiated type
  without a charset, with ``Vary``, ``Cache-Control``, ``Surrogate-Control``
  and CORS headers.

Better than PyPI (index notes §10 item 8): every answer under
``/integrity/`` is JSON, including unknown projects, versions and files, and
every body is ASCII-only, so no client has to guess a charset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from starlette.routing import BaseRoute, Route

from attestkit.core.constants import INTEGRITY_MEDIA_TYPE
from attestkit.index.admin import normalize
from attestkit.index.db import File, Project, Provenance, Release
from attestkit.index.read.web import CORS_HEADERS, best_offer, cache_headers, json_bytes, respond

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from attestkit.index.instance import Index

__all__ = ["MIME_APPLICATION_JSON", "MIME_PYPI_INTEGRITY_V1_JSON", "routes"]

MIME_PYPI_INTEGRITY_V1_JSON = INTEGRITY_MEDIA_TYPE
MIME_APPLICATION_JSON = "application/json"
_OFFERS = (MIME_PYPI_INTEGRITY_V1_JSON, MIME_APPLICATION_JSON)


def _message(request: Request, status: int, message: str) -> Response:
    headers = {**CORS_HEADERS, "Vary": "Accept"}
    return respond(
        request,
        json_bytes({"message": message}),
        content_type=MIME_APPLICATION_JSON,
        status_code=status,
        headers=headers,
    )


def _lookup(
    index: Index, project_name: str, version: str, filename: str
) -> tuple[str | None, dict[str, Any] | None]:
    """``(error message, provenance)``: a message when the file does not exist."""
    from packaging.utils import canonicalize_version

    with index.session() as session:
        project = session.scalar(
            select(Project).where(Project.normalized_name == normalize(project_name))
        )
        if project is None:
            if index.mirror is not None:
                # Not hosted here: a mirrored file's verified provenance
                return index.mirror.provenance(normalize(project_name), version, filename)
            return f"No project named {project_name}", None
        releases = session.scalars(
            select(Release).where(
                Release.project_id == project.id,
                Release.canonical_version == canonicalize_version(version),
            )
        ).all()
        if len(releases) != 1:
            releases = session.scalars(
                select(Release).where(Release.project_id == project.id, Release.version == version)
            ).all()
        if not releases:
            return f"No release {version} of {project.name}", None
        file = session.scalar(
            select(File).where(File.release_id == releases[0].id, File.filename == filename)
        )
        if file is None:
            return f"No file {filename} in {project.name} {releases[0].version}", None
        row = session.get(Provenance, file.id)
        return None, (dict(row.provenance) if row is not None else None)


def routes(index: Index) -> list[BaseRoute]:
    """The Integrity API route of ``index``."""

    def provenance(request: Request) -> Response:
        params = request.path_params
        filename: str = params["filename"]
        error, stored = _lookup(index, params["project"], params["version"], filename)
        if error is not None:
            return _message(request, 404, error)
        content_type = best_offer(request.headers.get("accept"), _OFFERS)
        if content_type is None:
            return _message(request, 406, "Request not acceptable")
        if stored is None:
            return _message(request, 404, f"No provenance available for {filename}")
        return respond(
            request,
            json_bytes(stored),
            content_type=content_type,
            headers={**CORS_HEADERS, **cache_headers()},
        )

    return [
        Route("/integrity/{project}/{version}/{filename}/provenance", provenance, methods=["GET"])
    ]
