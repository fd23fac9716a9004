"""Human web pages: projects, releases and files with their provenance.

* ``GET /``: every project;
* ``GET /project/{name}/``: the releases (newest first) and their files;
* ``GET /project/{name}/{version}/``: one release;
* ``GET /project/{name}/{version}/{filename}``: one file, its digests and,
  per attestation, the statement, the certificate's claims and the log entries;
* ``GET /help``: what upload errors mean (their messages link its sections), and
  ``GET /docs/...`` (the documentation paths PyPI's messages name) redirects there.

Project and release pages show the README (rendered safely:
:mod:`attestkit.index.read.readme`), the PEP 792 status, and how to install; times
are shown as ``YYYY-MM-DD HH:MM UTC``; a log entry links to where it can be looked
up (Sigstore's search for the public log, the log's own API otherwise).

Each file shows a provenance summary (publisher, repository, workflow,
commit, run link, log index) and a verdict: **verified** when the stored
provenance verifies against the publisher recorded in it, with one of the
index's ``trust_roots``; *not attested* without provenance.  Verdicts come from
:mod:`attestkit.index.provenance`.

Rendering is Jinja2 with autoescaping (``templates/``): every value from the
database or the provenance is escaped by the template engine, never by hand,
and a link is made only from a URL this module vetted as ``http(s)``
(:class:`Cell`).  Plain server-rendered HTML with a little inline CSS; no
JavaScript.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from attestkit.core.constants import PUBLISH_PREDICATE_V1, SLSA_PREDICATE_V1
from attestkit.index.provenance import FileProvenance
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

_PREDICATES = {PUBLISH_PREDICATE_V1: "publish/v1", SLSA_PREDICATE_V1: "SLSA provenance v1"}

Row = tuple[str, "Cell"]


@dataclass(frozen=True)
class Cell:
    """One table value: text, shown as a link only when ``href`` is set (a vetted URL)."""

    text: str
    href: str | None = None
    mono: bool = False
    note: str | None = None

    def __bool__(self) -> bool:
        return bool(self.text)


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


def _link(url: Any, text: str | None = None) -> Cell:
    """A link for an http(s) URL; anything else is shown as text only."""
    if not isinstance(url, str) or not url:
        return Cell("")
    label = text if text is not None else url
    if url.startswith(("https://", "http://")):
        return Cell(label, href=url)
    return Cell(label)


def _local(href: str, text: str) -> Cell:
    """A link to one of the index's own pages."""
    return Cell(text, href=href)


def _commit(repository: Any, commit: Any) -> Cell:
    if not isinstance(commit, str) or not commit:
        return Cell("")
    if isinstance(repository, str) and repository.startswith("https://github.com/"):
        return _link(f"{repository}/commit/{commit}", commit)
    if isinstance(repository, str) and repository.startswith("https://gitlab.com/"):
        return _link(f"{repository}/-/commit/{commit}", commit)
    return Cell(commit)


def _workflow(signer: dict[str, Any]) -> Cell:
    """The build config relative to the repository (``.github/workflows/x.yml@ref``)."""
    config = signer.get("workflow")
    if not isinstance(config, str):
        return Cell("")
    repo = signer.get("repository")
    if isinstance(repo, str) and repo and config.startswith(repo + "/"):
        config = config[len(repo) :].lstrip("/")
    return Cell(config)


def _badge(verdict: FileProvenance | None) -> str:
    if verdict is None:
        return "not-attested"
    if verdict.status == "verified":
        return "simulated" if verdict.simulated else "verified"
    return "unchecked" if verdict.status == "unchecked" else "failed"


def _rows(rows: Sequence[Row]) -> list[Row]:
    return [(label, cell) for label, cell in rows if cell]


#: Where the public-good Rekor's entries are shown to people (by log index).
_PUBLIC_SEARCH = {"https://rekor.sigstore.dev": "https://search.sigstore.dev/?logIndex={index}"}


def _log_entry_url(entry: dict[str, Any], logs: Mapping[str, str]) -> str | None:
    """Where a log entry can be looked at: Sigstore's search for the public log, else the
    log's own ``/api/v1/log/entries?logIndex=`` (Rekor v1 API; a v2 log has no such lookup)."""
    base = logs.get(str(entry.get("log_id", "")))
    index = entry.get("log_index")
    if not base or not isinstance(index, int) or not entry.get("integrated_time"):
        return None
    base = base.rstrip("/")
    if base in _PUBLIC_SEARCH:
        return _PUBLIC_SEARCH[base].format(index=index)
    return f"{base}/api/v1/log/entries?logIndex={index}"


def _log_cell(entries: Sequence[dict[str, Any]], logs: Mapping[str, str]) -> Cell:
    """The log index(es) of an attestation, linked when the log is known (first one linked)."""
    text = ", ".join(str(e["log_index"]) for e in entries)
    urls = [u for u in (_log_entry_url(e, logs) for e in entries) if u]
    return _link(urls[0], text) if urls else Cell(text)


def _signer_rows(att: dict[str, Any], logs: Mapping[str, str]) -> list[Row]:
    signer = att.get("signer") or {}
    if "error" in signer:
        return [("certificate", Cell(f"unreadable: {signer['error']}"))]
    repository = signer.get("repository")
    entries = [e for e in att.get("transparency_entries", []) if "log_index" in e]
    return _rows(
        [
            ("repository", _link(repository)),
            ("workflow", _workflow(signer)),
            ("commit", _commit(repository, signer.get("commit"))),
            ("run", _link(signer.get("run"))),
            ("log index", _log_cell(entries, logs)),
        ]
    )


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
    """The release's README as safe HTML (see :mod:`attestkit.index.read.readme`)."""
    if release is None:
        return ""
    from markupsafe import Markup

    from attestkit.index.read.readme import render_description

    text = release.metadata.get("description")
    ctype = release.metadata.get("description_content_type")
    html = render_description(
        text if isinstance(text, str) else None, ctype if isinstance(ctype, str) else None
    )
    return Markup(html)  # noqa: S704 - cleaned by readme_renderer's nh3 allowlist


def _summary(verdict: FileProvenance | None, logs: Mapping[str, str]) -> list[Row]:
    """The compact provenance block of a file on the project and release pages."""
    if verdict is None:
        return []
    rows: list[Row] = []
    for bundle in verdict.bundles:
        rows.append(("publisher", Cell(bundle.publisher)))
        for att in bundle.attestations:
            ptype = (att.get("statement") or {}).get("predicate_type")
            if isinstance(ptype, str):
                rows.append(("attestation", Cell(_PREDICATES.get(ptype, ptype))))
            rows.extend(_signer_rows(att, logs))
    if verdict.status != "verified" and verdict.detail:
        rows.append(("reason", Cell(verdict.detail)))
    return _rows(rows)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} bytes"  # pragma: no cover


def _attestation(att: dict[str, Any], logs: Mapping[str, str]) -> dict[str, Any]:
    """One attestation's statement, certificate, claims and log entries, as table rows."""
    view: dict[str, Any] = {"statement_error": None, "certificate_error": None}
    statement = att.get("statement") or {}
    if "error" in statement:
        view["statement_error"] = str(statement["error"])
    else:
        ptype = str(statement.get("predicate_type"))
        digests = statement.get("digest") or {}
        view["statement"] = _rows(
            [
                ("subject", Cell(str(statement.get("subject")))),
                *((f"subject {alg}", Cell(str(v), mono=True)) for alg, v in digests.items()),
                ("predicate type", Cell(f"{ptype} ({_PREDICATES.get(ptype, 'unknown')})")),
            ]
        )
    signer = att.get("signer") or {}
    if "error" in signer:
        view["certificate_error"] = str(signer["error"])
    else:
        cert = att.get("certificate") or {}
        view["certificate"] = _rows(
            [
                ("identity", Cell(str(signer.get("identity") or ""))),
                ("issuer", Cell(str(signer.get("issuer") or ""))),
                *_signer_rows(att, logs),
                ("ref", Cell(str(signer.get("ref") or ""))),
                ("trigger", Cell(str(signer.get("trigger") or ""))),
                ("environment", Cell(str(signer.get("environment") or ""))),
                ("valid", Cell(f"{cert.get('not_before')} to {cert.get('not_after')}")),
                ("certificate issuer", Cell(str(cert.get("issuer") or ""))),
                ("serial", Cell(str(cert.get("serial") or ""), mono=True)),
                ("fingerprint", Cell(str(cert.get("sha256") or ""), mono=True)),
            ]
        )
        view["claims"] = _rows(
            [(str(k), Cell(str(v), mono=True)) for k, v in (cert.get("claims") or {}).items()]
        )
    entries: list[Row] = []
    for entry in att.get("transparency_entries", []):
        if "error" in entry:
            entries.append(("entry", Cell(f"unreadable: {entry['error']}")))
            continue
        text = (
            f"{entry['kind']}, integrated {entry['integrated_time'] or 'never'}, "
            f"inclusion promise {'yes' if entry['inclusion_promise'] else 'no'}, "
            f"inclusion proof {'yes' if entry['inclusion_proof'] else 'no'}"
        )
        url = _log_entry_url(entry, logs)
        cell = Cell(text, href=url, note=f"log id {entry['log_id']}")
        entries.append((f"log index {entry['log_index']}", cell))
    view["entries"] = _rows(entries)
    return view


def _provenance(verdict: FileProvenance | None, logs: Mapping[str, str]) -> dict[str, Any]:
    """The file page's provenance section: verdict, bundles, statements, certificates, logs."""
    view: dict[str, Any] = {
        "verdict": verdict,
        "badge_kind": _badge(verdict),
        "simulated": False,
        "signed_at": "",
        "bundles": [],
        "verdict_text": "",
    }
    if verdict is None:
        return view
    if verdict.status == "verified":
        text = "Every attestation verified against the publisher recorded in the provenance."
        if verdict.detail:
            text += f" Not verifiable: {verdict.detail}."
        view["simulated"] = verdict.simulated
        if verdict.result is not None:
            view["signed_at"] = ", ".join(
                sorted({r.time.strftime("%Y-%m-%dT%H:%M:%SZ") for _, r in verdict.result.results})
            )
    elif verdict.status == "unchecked":
        text = f"{verdict.detail}."
    else:
        text = verdict.detail
    view["verdict_text"] = text
    view["bundles"] = [
        {
            "publisher": bundle.publisher,
            "rows": _rows([(k, Cell(str(v))) for k, v in bundle.publisher_fields.items() if v]),
            "attestations": [_attestation(att, logs) for att in bundle.attestations],
        }
        for bundle in verdict.bundles
    ]
    return view


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
            "badge": _badge(verdict),
            "packagetype": f.packagetype,
            "size": _size(f.size),
            "uploaded": _when(f.upload_time),
            "download": _link(file_url(base, f.path), "download"),
            "summary": _summary(verdict, logs),
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
            ("project", _local(f"{prefix}/project/{project.normalized_name}/", project.name)),
            ("version", _local(release_href, release.version)),
            ("type", Cell(f"{f.packagetype} ({f.python_version})")),
            ("size", Cell(_size(f.size))),
            ("uploaded", Cell(_when(f.upload_time), note=iso_z(f.upload_time))),
            ("requires-python", Cell(release.file_requires_python(f) or "")),
            ("sha256", Cell(f.sha256, mono=True)),
            ("blake2b-256", Cell(f.blake2_256, mono=True)),
            ("md5", Cell(f.md5, mono=True)),
            ("download", _link(url)),
            ("core metadata", _link(url + ".metadata") if f.metadata_sha256 else Cell("")),
            ("trusted publishing", Cell("yes" if f.uploaded_via_trusted_publisher else "")),
            ("publisher URL", _link(f.publisher_url)),
        ]
        if f.has_provenance:
            integrity = provenance_url(base, project.normalized_name, release.version, f.filename)
            rows.append(("provenance", _link(integrity)))
        return render(
            "file.html",
            prefix=prefix,
            title=f.filename,
            filename=f.filename,
            rows=_rows(rows),
            **_provenance(verdict, logs),
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
