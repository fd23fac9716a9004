"""Downloads of mirrored files: ``GET /mirror/files/{sha256}/{filename}[.metadata]``.

A file is served only once its provenance was judged and it is not
quarantined, and only the bytes whose SHA-256 upstream first announced (the
digest is part of the URL).  Refusals are plain text with one line: 403 for a
quarantined file (and why), 404 for an unknown one, 502 when upstream answered
nonsense, 503 with ``Retry-After`` when upstream cannot be reached and the file
was never fetched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from attestkit.index.mirror.downloads import FileRefused, open_file, open_metadata

if TYPE_CHECKING:
    from starlette.requests import Request

    from attestkit.index.instance import Index

__all__ = ["routes"]

_FILE_HEADERS = {"Cache-Control": "max-age=31536000, public, immutable"}


def _refused(exc: FileRefused) -> Response:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    reason = " ".join(exc.reason.split())
    return PlainTextResponse(f"{exc.status} {reason}", status_code=exc.status, headers=headers)


def routes(index: Index) -> list[BaseRoute]:
    """The mirrored-file routes (none when the index mirrors nothing)."""
    mirror = index.mirror
    if mirror is None:
        return []

    def download(request: Request) -> Response:
        sha256: str = request.path_params["sha256"]
        filename: str = request.path_params["filename"]
        try:
            if filename.endswith(".metadata"):
                data = open_metadata(mirror, sha256, filename.removesuffix(".metadata"))
                return Response(data, media_type="application/octet-stream", headers=_FILE_HEADERS)
            path = open_file(mirror, sha256, filename)
        except FileRefused as exc:
            return _refused(exc)
        return FileResponse(path, media_type="application/octet-stream", headers=_FILE_HEADERS)

    return [Route("/mirror/files/{sha256}/{filename}", download, methods=["GET"])]
