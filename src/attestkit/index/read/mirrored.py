"""The web page of a mirrored project: where it comes from, its publishers, what is held back.

``GET /project/{name}/`` for a project the index mirrors rather than hosts:
the upstream and when it was last read (and a banner while upstream is
unavailable), the files quarantined and why, the publisher history (first
seen, accepted or not), and each release with PyPI's provenance states
(``no-provenance``, ``full-provenance``, ``partial-provenance``,
``lost-provenance``, ``changed-provenance``) and each file's verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import RedirectResponse, Response

from attestkit.index.admin import normalize
from attestkit.index.read.pages import render
from attestkit.index.read.web import base_url, iso_z, path_prefix

if TYPE_CHECKING:
    from starlette.requests import Request

    from attestkit.index.instance import Index
    from attestkit.index.mirror.service import MirroredFile, MirroredProject

__all__ = ["mirror_context", "mirrored_page"]


def mirror_context(view: MirroredProject, stale: str | None) -> dict[str, Any]:
    """What ``mirror_project.html`` shows: releases with their states, files, publishers."""
    from attestkit.core.install_policy import describe_identity
    from attestkit.index.mirror.quarantine import release_states

    by_version: dict[str, list[MirroredFile]] = {}
    for f in view.files:
        if f.listed:
            by_version.setdefault(f.version or "?", []).append(f)

    def badge(f: MirroredFile) -> str:
        if f.state in ("quarantined", "rejected"):
            return "failed"
        if f.state == "pending":
            return "unchecked" if f.advertises_provenance else "not-attested"
        return "verified" if f.publishers else "not-attested"

    def detail(f: MirroredFile) -> str:
        if f.state in ("quarantined", "rejected"):
            return f.reason or ""
        return " and ".join(describe_identity(p) for p in f.publishers)

    releases = [
        {
            "version": version,
            "states": release_states(files),
            "files": [
                {
                    "filename": f.filename,
                    "badge": badge(f),
                    "state": f.state,
                    "detail": detail(f),
                    "yanked": bool(f.entry.get("yanked")),
                }
                for f in files
            ],
        }
        for version, files in reversed(list(by_version.items()))
    ]
    return {
        "name": view.name,
        "upstream": view.upstream,
        "fetched": iso_z(view.fetched),
        "stale": stale,
        "quarantined": [
            {"filename": f.filename, "reason": f.reason}
            for f in view.files
            if f.listed and f.state == "quarantined"
        ],
        "publishers": [
            {
                "identity": describe_identity(p),
                "first_version": version,
                "first_seen": iso_z(seen),
                "accepted": accepted,
                "note": note,
            }
            for p, version, seen, accepted, note in view.publishers
        ],
        "releases": releases,
    }


def mirrored_page(index: Index, request: Request, name: str) -> Response | None:
    """The page of the mirrored project ``name``, or None if the mirror has no such project."""
    from attestkit.index.mirror import MirrorUnavailable

    mirror = index.mirror
    assert mirror is not None
    normalized = normalize(name)
    stale: str | None = None
    try:
        state = mirror.state(normalized)
    except MirrorUnavailable as exc:
        state, stale = None, exc.reason
    else:
        stale = state.stale if state is not None else None
    view = mirror.view(normalized) if state is not None or stale else None
    if view is None:
        return None
    prefix = path_prefix(base_url(index, request))
    if name != normalized or not request.url.path.endswith("/"):
        return RedirectResponse(f"{prefix}/project/{normalized}/", status_code=301)
    return render(
        "mirror_project.html",
        prefix=prefix,
        title=f"{normalized} (mirrored)",
        **mirror_context(view, stale),
        simple=f"{prefix}/simple/{normalized}/",
    )
