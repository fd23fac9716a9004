"""Search: ``GET /search/?q=TEXT`` finds hosted projects by name and summary (page or JSON).

Words of the query must all appear (case-insensitively) in the project's name
or in its latest release's summary; names that contain the whole query come
first, then by name.  ``Accept: application/json`` (or ``?format=json``) gives
``{"query": ..., "projects": [{"name", "version", "summary", "url"}]}``.  At
most :data:`LIMIT` results; the query is at most 200 characters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from attestkit.index.db import Project, Release
from attestkit.index.read.pages import render
from attestkit.index.read.web import base_url, path_prefix, version_key

if TYPE_CHECKING:
    from starlette.requests import Request

    from attestkit.index.instance import Index

__all__ = ["LIMIT", "routes", "search"]

#: Most results returned.
LIMIT = 100


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(index: Index, query: str) -> list[dict[str, Any]]:
    """Projects matching every word of ``query``: name, latest version and summary."""
    words = [w.lower() for w in query.split()][:10]
    if not words:
        return []
    with index.session() as session:
        statement = select(Project.id, Project.name, Project.normalized_name)
        for word in words:
            pattern = _like(word)
            has_summary = (
                select(Release.id)
                .where(
                    Release.project_id == Project.id,
                    func.lower(Release.summary).like(pattern, escape="\\"),
                )
                .exists()
            )
            statement = statement.where(
                or_(func.lower(Project.name).like(pattern, escape="\\"), has_summary)
            )
        rows = session.execute(statement.limit(LIMIT * 5)).all()
        results: list[dict[str, Any]] = []
        for project_id, name, normalized in rows:
            releases = session.execute(
                select(Release.version, Release.summary).where(Release.project_id == project_id)
            ).all()
            latest = max(releases, key=lambda r: version_key(r[0]), default=None)
            results.append(
                {
                    "name": name,
                    "normalized": normalized,
                    "version": latest[0] if latest else None,
                    "summary": latest[1] if latest else None,
                }
            )
    whole = query.strip().lower()
    results.sort(key=lambda r: (whole not in r["name"].lower(), r["normalized"]))
    return results[:LIMIT]


def routes(index: Index) -> list[BaseRoute]:
    """The search page route."""

    def page(request: Request) -> Response:
        query = request.query_params.get("q", "")[:200]
        prefix = path_prefix(base_url(index, request))
        found = search(index, query)
        wants_json = request.query_params.get("format") == "json" or "application/json" in (
            request.headers.get("accept") or ""
        )
        if wants_json:
            return JSONResponse(
                {
                    "query": query,
                    "projects": [
                        {
                            "name": r["name"],
                            "version": r["version"],
                            "summary": r["summary"],
                            "url": f"{prefix}/project/{r['normalized']}/",
                        }
                        for r in found
                    ],
                }
            )
        results = [dict(r, href=f"{prefix}/project/{r['normalized']}/") for r in found]
        return render(
            "search.html", prefix=prefix, title=f"Search: {query}", query=query, results=results
        )

    return [Route("/search/", page, methods=["GET"]), Route("/search", page, methods=["GET"])]
