"""Human web pages: projects, releases and files with their provenance.

* ``GET /``: every project;
* ``GET /project/{name}/``: the releases (newest first) and their files;
* ``GET /project/{name}/{version}/``: one release;
* ``GET /project/{name}/{version}/{filename}``: one file, its digests and,
  per attestation, the statement, the certificate's claims and the log entries;
* ``GET /help``: what upload errors mean (their messages link its sections), and
  ``GET /docs/...`` (the documentation paths PyPI's messages name) redirects there.

Project and release pages show the README (rendered safely:
:mod:`attestkit.core.readme`), the PEP 792 status, and how to install; times
are shown as ``YYYY-MM-DD HH:MM UTC``; a log entry links to where it can be looked
up (Sigstore's search for the public log, the log's own API otherwise).

Each file shows a provenance summary (publisher, repository, workflow,
commit, run link, log index) and a verdict: **verified** when the stored
provenance verifies against the publisher recorded in it, with one of the
index's ``trust_roots``; *not attested* without provenance.  Verdicts come from
:mod:`attestkit.index.provenance`.

Rendering is Jinja2 with autoescaping (``templates/``): every value from the
database or the provenance is escaped by the template engine, never by hand,
and a link is made only from a URL vetted as ``http(s)`` (:class:`Cell`, in
:mod:`attestkit.index.read.provenance_view`, which shapes the provenance shown).
Plain server-rendered HTML with a little inline CSS; no JavaScript.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import TYPE_CHECKING, Any

from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from attestkit.index.read.provenance_view import (
    Cell,
    Row,
    badge_kind,
    human_size,
    link,
    local_link,
    non_empty,
    provenance_summary,
    provenance_view,
)
from attestkit.index.read.web import (
    FileView,
    ProjectView,
    ReleaseView,
    base_url,
    file_url,
    iso_z,
    list_projects,
    load_project,
    path_prefix,
    provenance_url,
)

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup
    from starlette.requests import Request

    from attestkit.index.instance import Index

__all__ = ["Cell", "render", "routes"]

_log = logging.getLogger(__name__)


@functools.cache
def _environment() -> jinja2.Environment:
    """The template environment, built once per process (templates compile on first use)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("attestkit.index.read", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with ``context`` (autoescaped) as an HTML response."""
    html = _environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code)


# ----------------------------------------------------------------------
# Views: plain values for the templates


def _when(value: dt.datetime) -> str:
    """A stored time for people: ``2026-12-04 08:25 UTC``."""
    aware = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return aware.strftime("%Y-%m-%d %H:%M UTC")


#: ``/docs/...`` paths in upload messages -> the ``/help`` section that covers them.
_DOCS_TOPICS = {
    "storage-limits": "storage-limits",
    "trusted-publishers": "trusted-publishers",
    "archives": "archives",
    "project-management": "storage-limits",
}


def _install_lines(base: str, requirement: str) -> list[str]:
    """How to install from this index: pip, uv, and attestkit (which verifies first)."""
    simple = f"{base}/simple/"
    return [
        f"pip install --index-url {simple} {requirement}",
        f"uv pip install --index-url {simple} {requirement}",
        f"attestkit install -- --index-url {simple} {requirement}   # verified first",
    ]


def _description(release: ReleaseView | None) -> Markup | str:
    """The release's README as safe HTML (see :mod:`attestkit.core.readme`)."""
    if release is None:
        return ""
    from markupsafe import Markup

    from attestkit.core.readme import render_description

    text = release.metadata.get("description")
    ctype = release.metadata.get("description_content_type")
    html = render_description(
        text if isinstance(text, str) else None, ctype if isinstance(ctype, str) else None
    )
    return Markup(html)  # noqa: S704 - cleaned by readme_renderer's nh3 allowlist


# ----------------------------------------------------------------------
# Routes


def routes(index: Index) -> list[BaseRoute]:
    """The web page routes of ``index``."""
    checker = index.provenance.checker
    # Log id (hex) -> the log's base URL, from the trust roots, for links to entries.
    logs = {
        key_id.hex(): key.base_url
        for root in index.provenance.trust_roots
        for key_id, key in root.rekor_keyring.items()
    }

    def not_found(request: Request, what: str) -> Response:
        prefix = path_prefix(base_url(index, request))
        return render("not_found.html", 404, prefix=prefix, title="Not Found", what=what)

    def file_view(
        prefix: str, project: ProjectView, release: ReleaseView, f: FileView, base: str
    ) -> dict[str, Any]:
        verdict = checker.check(f)
        return {
            "page": f"{prefix}/project/{project.normalized_name}/{release.version}/{f.filename}",
            "filename": f.filename,
            "badge": badge_kind(verdict),
            "packagetype": f.packagetype,
            "size": human_size(f.size),
            "uploaded": _when(f.upload_time),
            "download": link(file_url(base, f.path), "download"),
            "summary": provenance_summary(verdict, logs),
        }

    def release_view(
        prefix: str, project: ProjectView, release: ReleaseView, base: str, heading: bool
    ) -> dict[str, Any]:
        href = f"{prefix}/project/{project.normalized_name}/{release.version}/"
        return {
            "href": href if heading else None,
            "version": release.version,
            "yanked": release.yanked,
            "yanked_reason": f": {release.yanked_reason}" if release.yanked_reason else "",
            "summary": release.summary,
            "requires_python": release.requires_python,
            "files": [file_view(prefix, project, release, f, base) for f in release.files],
        }

    def home(request: Request) -> Response:
        prefix = path_prefix(base_url(index, request))
        projects = [
            {"href": f"{prefix}/project/{normalized}/", "name": name}
            for name, normalized, _ in list_projects(index)
        ]
        return render("home.html", prefix=prefix, title="attestkit index", projects=projects)

    def project_page(request: Request) -> Response:
        name: str = request.path_params["name"]
        project = load_project(index, name, provenance=True)
        if project is None:
            if index.mirror is not None:
                from attestkit.index.read.mirrored import mirrored_page

                return mirrored_page(index, request, name) or not_found(
                    request, f"No project named {name}."
                )
            return not_found(request, f"No project named {name}.")
        base = base_url(index, request)
        prefix = path_prefix(base)
        canonical = f"{prefix}/project/{project.normalized_name}/"
        if name != project.normalized_name or not request.url.path.endswith("/"):
            return RedirectResponse(canonical, status_code=301)
        latest = project.latest()
        return render(
            "project.html",
            prefix=prefix,
            title=project.name,
            name=project.name,
            latest=latest.version if latest is not None else None,
            summary=latest.summary if latest is not None else None,
            simple=f"{prefix}/simple/{project.normalized_name}/",
            status=project.status,
            status_reason=project.status_reason,
            install_lines=_install_lines(base, project.name),
            description=_description(latest),
            releases=[
                release_view(prefix, project, r, base, heading=True)
                for r in reversed(project.releases)
            ],
        )

    def release_page(request: Request) -> Response:
        name: str = request.path_params["name"]
        version: str = request.path_params["version"]
        project = load_project(index, name, provenance=True)
        if project is None:
            return not_found(request, f"No project named {name}.")
        release = project.release(version)
        if release is None:
            return not_found(request, f"No release {version} of {project.name}.")
        base = base_url(index, request)
        prefix = path_prefix(base)
        if (
            name != project.normalized_name
            or version != release.version
            or not request.url.path.endswith("/")
        ):
            return RedirectResponse(
                f"{prefix}/project/{project.normalized_name}/{release.version}/", status_code=301
            )
        return render(
            "release.html",
            prefix=prefix,
            title=f"{project.name} {release.version}",
            name=project.name,
            back=f"{prefix}/project/{project.normalized_name}/",
            release=release_view(prefix, project, release, base, heading=False),
            status=project.status,
            status_reason=project.status_reason,
            install_lines=_install_lines(base, f"{project.name}=={release.version}"),
            description=_description(release),
        )

    def file_page(request: Request) -> Response:
        name: str = request.path_params["name"]
        version: str = request.path_params["version"]
        filename: str = request.path_params["filename"]
        project = load_project(index, name, provenance=True)
        if project is None:
            return not_found(request, f"No project named {name}.")
        release = project.release(version)
        if release is None:
            return not_found(request, f"No release {version} of {project.name}.")
        found = [f for f in release.files if f.filename == filename]
        if not found:
            return not_found(request, f"No file {filename} in {project.name} {release.version}.")
        f = found[0]
        base = base_url(index, request)
        prefix = path_prefix(base)
        if name != project.normalized_name or version != release.version:
            return RedirectResponse(
                f"{prefix}/project/{project.normalized_name}/{release.version}/{f.filename}",
                status_code=301,
            )
        verdict = checker.check(f)
        url = file_url(base, f.path)
        release_href = f"{prefix}/project/{project.normalized_name}/{release.version}/"
        rows: list[Row] = [
            ("project", local_link(f"{prefix}/project/{project.normalized_name}/", project.name)),
            ("version", local_link(release_href, release.version)),
            ("type", Cell(f"{f.packagetype} ({f.python_version})")),
            ("size", Cell(human_size(f.size))),
            ("uploaded", Cell(_when(f.upload_time), note=iso_z(f.upload_time))),
            ("requires-python", Cell(release.file_requires_python(f) or "")),
            ("sha256", Cell(f.sha256, mono=True)),
            ("blake2b-256", Cell(f.blake2_256, mono=True)),
            ("md5", Cell(f.md5, mono=True)),
            ("download", link(url)),
            ("core metadata", link(url + ".metadata") if f.metadata_sha256 else Cell("")),
            ("trusted publishing", Cell("yes" if f.uploaded_via_trusted_publisher else "")),
            ("publisher URL", link(f.publisher_url)),
        ]
        if f.has_provenance:
            integrity = provenance_url(base, project.normalized_name, release.version, f.filename)
            rows.append(("provenance", link(integrity)))
        return render(
            "file.html",
            prefix=prefix,
            title=f.filename,
            filename=f.filename,
            rows=non_empty(rows),
            **provenance_view(verdict, logs),
        )

    def help_page(request: Request) -> Response:
        base = base_url(index, request)
        host = base.split("://", 1)[-1]
        return render("help.html", prefix=path_prefix(base), title="Help", base=base, host=host)

    def docs(request: Request) -> Response:
        # Upload messages name PyPI-style documentation paths; each topic is on /help.
        path = str(request.path_params["path"])
        topic = next((t for k, t in _DOCS_TOPICS.items() if k in path), "")
        prefix = path_prefix(base_url(index, request))
        return RedirectResponse(f"{prefix}/help" + (f"#{topic}" if topic else ""), 302)

    def strip_slash(request: Request) -> Response:
        return RedirectResponse(request.url.path.rstrip("/"), status_code=301)

    return [
        Route("/", home, methods=["GET"]),
        Route("/help", help_page, methods=["GET"]),
        Route("/docs/{path:path}", docs, methods=["GET"]),
        Route("/project/{name}/", project_page, methods=["GET"]),
        Route("/project/{name}", project_page, methods=["GET"]),
        Route("/project/{name}/{version}/", release_page, methods=["GET"]),
        Route("/project/{name}/{version}", release_page, methods=["GET"]),
        Route("/project/{name}/{version}/{filename}", file_page, methods=["GET"]),
        Route("/project/{name}/{version}/{filename}/", strip_slash, methods=["GET"]),
    ]
