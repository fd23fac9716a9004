"""Trusted Publishing over HTTP: ``GET /_/oidc/audience`` and ``POST /_/oidc/mint-token``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from attestkit.index.trusted_publishing.exchange import (
    AUDIENCE_PATH,
    MINT_PATHS,
    TrustedPublishing,
)
from attestkit.index.trusted_publishing.results import MAX_BODY, MintResult

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

    from attestkit.index.instance import Index

__all__ = ["routes"]


def routes(index: Index) -> list[BaseRoute]:
    """The Trusted Publishing routes of ``index`` (audience and mint-token, with its alias).

    Raises :class:`ValueError` for an unsupported issuer configuration.
    """
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    service = TrustedPublishing(index)

    def answer(result: MintResult) -> Response:
        return JSONResponse(result.body, status_code=result.status, headers=result.headers)

    async def audience(request: Request) -> Response:
        return answer(service.audience())

    async def mint(request: Request) -> Response:
        from attestkit.serving.bodies import BodyTooLarge, read_body

        try:
            body = await read_body(request, MAX_BODY)
        except BodyTooLarge:
            body = b"x" * (MAX_BODY + 1)  # judged (and refused) by PyPI's rule for its size
        return answer(await run_in_threadpool(service.mint, body))

    return [
        Route(AUDIENCE_PATH, audience, methods=["GET"]),
        *(Route(path, mint, methods=["POST"]) for path in MINT_PATHS),
    ]
