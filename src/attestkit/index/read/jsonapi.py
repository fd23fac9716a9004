"""PyPI's JSON API: ``GET /pypi/{project}/json`` and ``GET /pypi/{project}/{version}/json``.

The shape is PyPI's (``warehouse/legacy/api/json.py``), which twine, pip-audit
and other tools read:

* ``info``: the release's core metadata (``name``, ``version``, ``summary``,
  ``requires_python``, ``requires_dist``, ``project_urls``, ...) and links;
* ``urls``: the release's files, each with ``filename``, ``url``,
  ``digests`` (``md5``, ``sha256``, ``blake2b_256``), ``packagetype``,
  ``python_version``, ``requires_python``, ``size``, ``upload_time``,
  ``upload_time_iso_8601``, ``yanked`` and ``yanked_reason``;
* ``releases`` (project document only): every version, oldest first, with its files;
* ``last_serial`` and ``vulnerabilities`` (always empty here).

The project document describes the latest release (non-yanked final
releases first).  A name that is not the project's display name is a 301
to it, as on PyPI, and so is a version that is not the release's own
spelling; unknown projects and versions are JSON 404s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Route

from attestkit.index.read.web import (
    CORS_HEADERS,
    FileView,
    ProjectView,
    ReleaseView,
    as_utc_naive,
    base_url,
    file_url,
    iso_z,
    json_bytes,
    load_project,
    path_prefix,
    respond,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from attestkit.index.instance import Index

__all__ = ["file_json", "project_json", "release_json", "routes"]

_HEADERS = {
    **CORS_HEADERS,
    "Cache-Control": "max-age=900, public",
    "Surrogate-Control": "max-age=86400, stale-while-revalidate=300, stale-if-error=86400",
}


def file_json(base: str, release: ReleaseView, f: FileView) -> dict[str, Any]:
    """One file as in ``urls`` and ``releases``."""
    return {
        "comment_text": "",
        "digests": {"blake2b_256": f.blake2_256, "md5": f.md5, "sha256": f.sha256},
        "downloads": -1,
        "filename": f.filename,
        "has_sig": False,
        "md5_digest": f.md5,
        "packagetype": f.packagetype,
        "python_version": f.python_version,
        "requires_python": release.file_requires_python(f),
        "size": f.size,
        "upload_time": as_utc_naive(f.upload_time).strftime("%Y-%m-%dT%H:%M:%S"),
        "upload_time_iso_8601": iso_z(f.upload_time),
        "url": file_url(base, f.path),
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason or None,
    }


def _meta(release: ReleaseView, *keys: str) -> Any:
    """The first present metadata value among ``keys`` (raw or form names)."""
    for key in keys:
        value = release.metadata.get(key)
        if value not in (None, "", [], {}):
            return value
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _project_urls(value: Any) -> dict[str, str] | None:
    """``Project-URL``: a dict (raw metadata) or ``"Label, URL"`` strings (upload form)."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()} or None
    urls: dict[str, str] = {}
    for item in _list(value) or []:
        label, _, url = item.partition(",")
        urls[label.strip()] = url.strip()
    return urls or None


def _info(base: str, project: ProjectView, release: ReleaseView) -> dict[str, Any]:
    project_url = f"{base}/project/{project.normalized_name}/"
    return {
        "author": _meta(release, "author"),
        "author_email": _meta(release, "author_email"),
        "bugtrack_url": None,
        "classifiers": _list(_meta(release, "classifiers")) or [],
        "description": _meta(release, "description") or "",
        "description_content_type": _meta(release, "description_content_type"),
        "docs_url": None,
        "download_url": _meta(release, "download_url"),
        "downloads": {"last_day": -1, "last_month": -1, "last_week": -1},
        "dynamic": _list(_meta(release, "dynamic")),
        "home_page": _meta(release, "home_page"),
        "keywords": _text(_meta(release, "keywords")),
        "license": _meta(release, "license"),
        "license_expression": _meta(release, "license_expression"),
        "license_files": _list(_meta(release, "license_files", "license_file")),
        "maintainer": _meta(release, "maintainer"),
        "maintainer_email": _meta(release, "maintainer_email"),
        "name": project.name,
        "package_url": project_url,
        "platform": _text(_meta(release, "platform", "platforms")),
        "project_url": project_url,
        "project_urls": _project_urls(_meta(release, "project_urls")),
        "provides_extra": _list(_meta(release, "provides_extra")),
        "release_url": f"{project_url}{release.version}/",
        "requires_dist": _list(_meta(release, "requires_dist")),
        "requires_python": release.requires_python or None,
        "summary": release.summary if release.summary is not None else _meta(release, "summary"),
        "version": release.version,
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason or None,
    }


def release_json(base: str, project: ProjectView, release: ReleaseView) -> dict[str, Any]:
    """``/pypi/{project}/{version}/json``: one release, without ``releases``."""
    return {
        "info": _info(base, project, release),
        "last_serial": project.serial,
        "urls": [file_json(base, release, f) for f in release.files],
        "vulnerabilities": [],
    }


def project_json(base: str, project: ProjectView, latest: ReleaseView) -> dict[str, Any]:
    """``/pypi/{project}/json``: the latest release plus every release's files."""
    doc = release_json(base, project, latest)
    doc["releases"] = {
        r.version: [file_json(base, r, f) for f in r.files] for r in project.releases
    }
    return doc


def _not_found(request: Request, message: str) -> Response:
    return respond(
        request,
        json_bytes({"message": message}),
        content_type="application/json",
        status_code=404,
        headers=_HEADERS,
    )


def routes(index: Index) -> list[BaseRoute]:
    """The JSON API routes of ``index``."""

    def project_doc(request: Request) -> Response:
        name: str = request.path_params["project"]
        project = load_project(index, name)
        if project is None:
            return _not_found(request, f"No project named {name}")
        base = base_url(index, request)
        if name != project.name:
            return RedirectResponse(
                f"{path_prefix(base)}/pypi/{project.name}/json",
                status_code=301,
                headers=dict(CORS_HEADERS),
            )
        latest = project.latest()
        if latest is None:
            return _not_found(request, f"{project.name} has no releases")
        body = json_bytes(project_json(base, project, latest))
        return respond(request, body, content_type="application/json", headers=_HEADERS)

    def release_doc(request: Request) -> Response:
        name: str = request.path_params["project"]
        version: str = request.path_params["version"]
        project = load_project(index, name)
        if project is None:
            return _not_found(request, f"No project named {name}")
        release = project.release(version)
        if release is None:
            return _not_found(request, f"No release {version} of {project.name}")
        base = base_url(index, request)
        if name != project.name or version != release.version:
            return RedirectResponse(
                f"{path_prefix(base)}/pypi/{project.name}/{release.version}/json",
                status_code=301,
                headers=dict(CORS_HEADERS),
            )
        body = json_bytes(release_json(base, project, release))
        return respond(request, body, content_type="application/json", headers=_HEADERS)

    return [
        Route("/pypi/{project}/json", project_doc, methods=["GET"]),
        Route("/pypi/{project}/{version}/json", release_doc, methods=["GET"]),
    ]
