"""Human web pages: projects, releases and files with their provenance.

* ``GET /``: every project;
* ``GET /project/{name}/``: the releases (newest first) and their files;
* ``GET /project/{name}/{version}/``: one release;
* ``GET /project/{name}/{version}/{filename}``: one file, its digests and,
  per attestation, the statement, the certificate's claims and the log entries.

Each file shows a provenance summary (publisher, repository, workflow,
commit, run link, log index) and a verdict: **verified** when the stored
provenance verifies against the publisher recorded in it, with one of the
index's ``trust_roots``; *not attested* without provenance.  The page never
trusts the provenance for anything else: links are only made from ``http(s)``
URLs and every value is HTML-escaped.  Verdicts come from
:mod:`attestkit.index.provenance`.

Plain server-rendered HTML with a little inline CSS; no JavaScript.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from attestkit.core.constants import PUBLISH_PREDICATE_V1, SLSA_PREDICATE_V1
from attestkit.index.provenance import FileProvenance, ProvenanceChecker
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
    from starlette.requests import Request

    from attestkit.index.instance import Index

__all__ = ["routes"]

_log = logging.getLogger(__name__)

_PREDICATES = {PUBLISH_PREDICATE_V1: "publish/v1", SLSA_PREDICATE_V1: "SLSA provenance v1"}

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d1d1f;
background:#fafafa;line-height:1.45}
header{background:#173a5e;color:#fff;padding:.7rem 1.5rem}
header a{color:#fff;text-decoration:none;font-weight:600}
main{max-width:70rem;margin:0 auto;padding:1rem 1.5rem 3rem}
a{color:#0b5cad}
h1{font-size:1.6rem;margin:.6rem 0}
h2{font-size:1.25rem;margin:1.6rem 0 .5rem;border-bottom:1px solid #ddd}
h3{font-size:1.05rem;margin:1rem 0 .3rem}
table{border-collapse:collapse;margin:.4rem 0 1rem;width:100%}
th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid #e5e5e5}
td,dd{overflow-wrap:anywhere}
th{font-weight:600;white-space:nowrap;width:12rem}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.88em;
word-break:break-all}
.file{background:#fff;border:1px solid #e0e0e0;border-radius:6px;padding:.6rem .9rem;
margin:.6rem 0}
.file .name{font-weight:600}
.badge{display:inline-block;border-radius:4px;padding:0 .45rem;font-size:.85em;
font-weight:600;margin-left:.4rem}
.verified{background:#dcf5e3;color:#11602c}
.simulated{background:#fde7c8;color:#7a3e00}
.failed{background:#fde2e1;color:#9c1c13}
.unchecked{background:#fff3cd;color:#7a5a00}
.not-attested{background:#eee;color:#555}
.yanked{background:#fde2e1;color:#9c1c13}
dl.prov{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .8rem;margin:.4rem 0 0}
dl.prov dt{font-weight:600;color:#555}
dl.prov dd{margin:0}
.muted{color:#666}
"""

# ----------------------------------------------------------------------
# Rendering helpers


def _link(url: Any, text: str | None = None) -> str:
    """An anchor for an http(s) URL; anything else is shown as escaped text only."""
    if not isinstance(url, str) or not url:
        return ""
    label = escape(text if text is not None else url)
    if url.startswith(("https://", "http://")):
        return f'<a href="{escape(url)}">{label}</a>'
    return label


def _commit_link(repository: Any, commit: Any) -> str:
    if not isinstance(commit, str) or not commit:
        return ""
    if isinstance(repository, str) and repository.startswith("https://github.com/"):
        return _link(f"{repository}/commit/{commit}", commit)
    if isinstance(repository, str) and repository.startswith("https://gitlab.com/"):
        return _link(f"{repository}/-/commit/{commit}", commit)
    return escape(commit)


def _workflow(signer: dict[str, Any]) -> str:
    """The build config relative to the repository (``.github/workflows/x.yml@ref``)."""
    config = signer.get("workflow")
    if not isinstance(config, str):
        return ""
    repo = signer.get("repository")
    if isinstance(repo, str) and repo and config.startswith(repo + "/"):
        config = config[len(repo) :].lstrip("/")
    return escape(config)


def _badge(verdict: FileProvenance | None) -> str:
    if verdict is None:
        return '<span class="badge not-attested">not attested</span>'
    if verdict.status == "verified" and verdict.simulated:
        return _SIMULATED_BADGE
    if verdict.status == "verified":
        return '<span class="badge verified" title="provenance verified">&#10003; verified</span>'
    if verdict.status == "unchecked":
        return '<span class="badge unchecked">attested, not checked</span>'
    return '<span class="badge failed">&#10007; verification failed</span>'


_SIMULATED_BADGE = (
    '<span class="badge simulated" title="signed through an attestkit development instance:'
    ' the identity is simulated">&#10003; verified &middot; simulated identity'
    " (development instance)</span>"
)


def _signer_rows(att: dict[str, Any]) -> list[tuple[str, str]]:
    signer = att.get("signer") or {}
    if "error" in signer:
        return [("certificate", escape(f"unreadable: {signer['error']}"))]
    repository = signer.get("repository")
    rows = [
        ("repository", _link(repository)),
        ("workflow", _workflow(signer)),
        ("commit", _commit_link(repository, signer.get("commit"))),
        ("run", _link(signer.get("run"))),
    ]
    entries = [e for e in att.get("transparency_entries", []) if "log_index" in e]
    rows.append(("log index", ", ".join(escape(str(e["log_index"])) for e in entries)))
    return [(label, value) for label, value in rows if value]


def _provenance_summary(verdict: FileProvenance | None) -> str:
    """The compact provenance block of a file on the project and release pages."""
    if verdict is None:
        return ""
    rows: list[tuple[str, str]] = []
    for bundle in verdict.bundles:
        rows.append(("publisher", escape(bundle.publisher)))
        for att in bundle.attestations:
            statement = att.get("statement") or {}
            ptype = statement.get("predicate_type")
            if isinstance(ptype, str):
                rows.append(("attestation", escape(_PREDICATES.get(ptype, ptype))))
            rows.extend(_signer_rows(att))
    if verdict.status != "verified" and verdict.detail:
        rows.append(("reason", escape(verdict.detail)))
    items = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
    return f'<dl class="prov">{items}</dl>' if items else ""


def _table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows if v != "")
    return f"<table>{body}</table>"


def _size(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} bytes"  # pragma: no cover


def _page(prefix: str, title: str, body: str, status_code: int = 200) -> HTMLResponse:
    html = (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<header><a href="{escape(prefix)}/">attestkit index</a></header>\n'
        f"<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
    return HTMLResponse(html, status_code=status_code)


# ----------------------------------------------------------------------
# Routes


def routes(index: Index) -> list[BaseRoute]:
    """The web page routes of ``index``."""
    checker = ProvenanceChecker(index.config.trust_roots)

    def not_found(request: Request, what: str) -> Response:
        prefix = path_prefix(base_url(index, request))
        body = f"<h1>Not Found</h1><p>{escape(what)}</p>"
        return _page(prefix, "Not Found", body, status_code=404)

    def file_block(
        prefix: str, project: ProjectView, release: ReleaseView, f: FileView, base: str
    ) -> str:
        verdict = checker.check(f)
        page = f"{prefix}/project/{project.normalized_name}/{release.version}/{f.filename}"
        return (
            '<div class="file">'
            f'<a class="name" href="{escape(page)}">{escape(f.filename)}</a>'
            f"{_badge(verdict)}"
            f'<div class="muted">{escape(f.packagetype)} &middot; {_size(f.size)} &middot; '
            f"uploaded {escape(iso_z(f.upload_time))} &middot; "
            f"{_link(file_url(base, f.path), 'download')}</div>"
            f"{_provenance_summary(verdict)}"
            "</div>"
        )

    def release_section(
        prefix: str, project: ProjectView, release: ReleaseView, base: str, heading: bool
    ) -> str:
        parts: list[str] = []
        if heading:
            href = f"{prefix}/project/{project.normalized_name}/{release.version}/"
            parts.append(f'<h2><a href="{escape(href)}">{escape(release.version)}</a>')
        else:
            parts.append(f"<h2>Files of {escape(release.version)}")
        if release.yanked:
            reason = f": {release.yanked_reason}" if release.yanked_reason else ""
            parts.append(f'<span class="badge yanked">yanked{escape(reason)}</span>')
        parts.append("</h2>")
        if release.summary:
            parts.append(f"<p>{escape(release.summary)}</p>")
        if release.requires_python:
            parts.append(f'<p class="muted">Requires-Python {escape(release.requires_python)}</p>')
        if not release.files:
            parts.append('<p class="muted">No files.</p>')
        parts.extend(file_block(prefix, project, release, f, base) for f in release.files)
        return "".join(parts)

    def home(request: Request) -> Response:
        prefix = path_prefix(base_url(index, request))
        projects = list_projects(index)
        items = "".join(
            f'<li><a href="{escape(f"{prefix}/project/{normalized}/")}">{escape(name)}</a></li>'
            for name, normalized, _ in projects
        )
        body = (
            "<h1>Projects</h1>"
            + (f"<ul>{items}</ul>" if items else '<p class="muted">No projects yet.</p>')
            + f'<p class="muted">Installers: <code>{escape(prefix)}/simple/</code></p>'
        )
        return _page(prefix, "attestkit index", body)

    def project_page(request: Request) -> Response:
        name: str = request.path_params["name"]
        project = load_project(index, name, provenance=True)
        if project is None:
            return not_found(request, f"No project named {name}.")
        base = base_url(index, request)
        prefix = path_prefix(base)
        canonical = f"{prefix}/project/{project.normalized_name}/"
        if name != project.normalized_name or not request.url.path.endswith("/"):
            return RedirectResponse(canonical, status_code=301)
        latest = project.latest()
        intro = f"<h1>{escape(project.name)}"
        if latest is not None:
            intro += f' <span class="muted">{escape(latest.version)}</span>'
        intro += "</h1>"
        if latest is not None and latest.summary:
            intro += f"<p>{escape(latest.summary)}</p>"
        simple = f"{prefix}/simple/{project.normalized_name}/"
        intro += f'<p class="muted">Simple API: <a href="{escape(simple)}">{escape(simple)}</a></p>'
        sections = [
            release_section(prefix, project, r, base, heading=True)
            for r in reversed(project.releases)
        ]
        body = intro + ("".join(sections) or '<p class="muted">No releases.</p>')
        return _page(prefix, project.name, body)

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
        back = f"{prefix}/project/{project.normalized_name}/"
        body = (
            f'<h1><a href="{escape(back)}">{escape(project.name)}</a> '
            f"{escape(release.version)}</h1>"
            + release_section(prefix, project, release, base, heading=False)
        )
        return _page(prefix, f"{project.name} {release.version}", body)

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
        rows = [
            ("project", _link_local(f"{prefix}/project/{project.normalized_name}/", project.name)),
            ("version", _link_local(release_href, release.version)),
            ("type", escape(f"{f.packagetype} ({f.python_version})")),
            ("size", escape(_size(f.size))),
            ("uploaded", escape(iso_z(f.upload_time))),
            ("requires-python", escape(release.file_requires_python(f) or "")),
            ("sha256", f'<span class="mono">{escape(f.sha256)}</span>'),
            ("blake2b-256", f'<span class="mono">{escape(f.blake2_256)}</span>'),
            ("md5", f'<span class="mono">{escape(f.md5)}</span>'),
            ("download", _link(url)),
            ("core metadata", _link(url + ".metadata") if f.metadata_sha256 else ""),
            (
                "trusted publishing",
                "yes" if f.uploaded_via_trusted_publisher else "",
            ),
            ("publisher URL", _link(f.publisher_url)),
        ]
        if f.has_provenance:
            rows.append(
                (
                    "provenance",
                    _link(
                        provenance_url(base, project.normalized_name, release.version, f.filename)
                    ),
                )
            )
        body = [
            f"<h1>{escape(f.filename)}{_badge(verdict)}</h1>",
            _table(rows),
            "<h2>Provenance</h2>",
        ]
        body.append(_provenance_details(verdict))
        return _page(prefix, f.filename, "".join(body))

    def strip_slash(request: Request) -> Response:
        return RedirectResponse(request.url.path.rstrip("/"), status_code=301)

    return [
        Route("/", home, methods=["GET"]),
        Route("/project/{name}/", project_page, methods=["GET"]),
        Route("/project/{name}", project_page, methods=["GET"]),
        Route("/project/{name}/{version}/", release_page, methods=["GET"]),
        Route("/project/{name}/{version}", release_page, methods=["GET"]),
        Route("/project/{name}/{version}/{filename}", file_page, methods=["GET"]),
        Route("/project/{name}/{version}/{filename}/", strip_slash, methods=["GET"]),
    ]


def _link_local(href: str, text: str) -> str:
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def _provenance_details(verdict: FileProvenance | None) -> str:
    """The file page's provenance section: verdict, bundles, statements, certificates, logs."""
    if verdict is None:
        return "<p>This file was uploaded without attestations: it is not attested.</p>"
    parts: list[str] = []
    if verdict.status == "verified":
        text = "Every attestation verified against the publisher recorded in the provenance."
        if verdict.detail:
            text += f" Not verifiable: {verdict.detail}."
        parts.append(f"<p>{_badge(verdict)} {escape(text)}</p>")
        if verdict.simulated:
            parts.append(
                "<p><strong>The signing certificate chains to an attestkit development"
                " instance: its identity is simulated, not proven by a real CI provider."
                "</strong></p>"
            )
        if verdict.result is not None:
            times = ", ".join(
                sorted({r.time.strftime("%Y-%m-%dT%H:%M:%SZ") for _, r in verdict.result.results})
            )
            parts.append(f'<p class="muted">Signed at {escape(times)} (log integrated time).</p>')
    elif verdict.status == "unchecked":
        parts.append(f"<p>{_badge(verdict)} {escape(verdict.detail)}.</p>")
    else:
        parts.append(f"<p>{_badge(verdict)} {escape(verdict.detail)}</p>")
    for i, bundle in enumerate(verdict.bundles):
        parts.append(f"<h3>Bundle {i + 1}: {escape(bundle.publisher)}</h3>")
        parts.append(_table([(k, escape(str(v))) for k, v in bundle.publisher_fields.items() if v]))
        for j, att in enumerate(bundle.attestations):
            parts.append(_attestation_details(j, att))
    return "".join(parts)


def _attestation_details(number: int, att: dict[str, Any]) -> str:
    parts = [f"<h3>Attestation {number + 1}</h3>"]
    statement = att.get("statement") or {}
    if "error" in statement:
        parts.append(f"<p>Statement unreadable: {escape(str(statement['error']))}</p>")
    else:
        ptype = str(statement.get("predicate_type"))
        digests = statement.get("digest") or {}
        parts.append(
            _table(
                [
                    ("subject", escape(str(statement.get("subject")))),
                    *(
                        (f"subject {alg}", f'<span class="mono">{escape(str(v))}</span>')
                        for alg, v in digests.items()
                    ),
                    ("predicate type", escape(f"{ptype} ({_PREDICATES.get(ptype, 'unknown')})")),
                ]
            )
        )
    signer = att.get("signer") or {}
    if "error" in signer:
        parts.append(f"<p>Certificate unreadable: {escape(str(signer['error']))}</p>")
    else:
        cert = att.get("certificate") or {}
        rows = [
            ("identity", escape(str(signer.get("identity") or ""))),
            ("issuer", escape(str(signer.get("issuer") or ""))),
            *_signer_rows(att),
            ("ref", escape(str(signer.get("ref") or ""))),
            ("trigger", escape(str(signer.get("trigger") or ""))),
            ("environment", escape(str(signer.get("environment") or ""))),
            ("valid", escape(f"{cert.get('not_before')} to {cert.get('not_after')}")),
            ("certificate issuer", escape(str(cert.get("issuer") or ""))),
            ("serial", f'<span class="mono">{escape(str(cert.get("serial") or ""))}</span>'),
            ("fingerprint", f'<span class="mono">{escape(str(cert.get("sha256") or ""))}</span>'),
        ]
        parts.append("<h3>Signing certificate</h3>" + _table(rows))
        claims = cert.get("claims") or {}
        if claims:
            parts.append(
                "<h3>Certificate claims</h3>"
                + _table(
                    [
                        (str(k), f'<span class="mono">{escape(str(v))}</span>')
                        for k, v in claims.items()
                    ]
                )
            )
    entries = []
    for entry in att.get("transparency_entries", []):
        if "error" in entry:
            entries.append(("entry", escape(f"unreadable: {entry['error']}")))
            continue
        entries.append(
            (
                f"log index {entry['log_index']}",
                escape(
                    f"{entry['kind']}, integrated {entry['integrated_time'] or 'never'}, "
                    f"inclusion promise {'yes' if entry['inclusion_promise'] else 'no'}, "
                    f"inclusion proof {'yes' if entry['inclusion_proof'] else 'no'}"
                )
                + f'<br><span class="mono muted">log id {escape(entry["log_id"])}</span>',
            )
        )
    if entries:
        parts.append("<h3>Transparency log</h3>" + _table(entries))
    return "".join(parts)
