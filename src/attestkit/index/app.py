"""The index as one ASGI application: every HTTP surface's routes on one Starlette app.

Each surface module exposes ``routes(index) -> list[Route]``; this module only
assembles them (and, with ``attestkit serve``, mounts the embedded Sigstore).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from attestkit.index.instance import Index

__all__ = ["create_app", "index_routes"]


def index_routes(index: Index) -> list[BaseRoute]:
    """All of the index's routes, in matching order."""
    from attestkit.index import manage
    from attestkit.index.mirror import routes as mirror
    from attestkit.index.read import integrity, jsonapi, pages, search, simple
    from attestkit.index.trusted_publishing import routes as oidc
    from attestkit.index.upload import handler as upload

    routes: list[BaseRoute] = []
    for module in (upload, oidc, manage, simple, mirror, integrity, jsonapi, search, pages):
        routes.extend(module.routes(index))
    return routes


def create_app(index: Index, extra_routes: list[BaseRoute] | None = None) -> Starlette:
    """The index application (plus ``extra_routes``, e.g. the local Sigstore's)."""
    from starlette.middleware import Middleware

    from attestkit.serving.faults import install
    from attestkit.serving.headers import SecurityHeadersMiddleware

    middleware = [Middleware(SecurityHeadersMiddleware)]
    if index.config.private:
        from attestkit.index.private import PrivateReadsMiddleware

        middleware.append(Middleware(PrivateReadsMiddleware, index=index))
    app = Starlette(routes=[*index_routes(index), *(extra_routes or [])], middleware=middleware)
    app.state.index = index
    install(app)  # database outages and full disks: 503/507, never a 500
    return app
