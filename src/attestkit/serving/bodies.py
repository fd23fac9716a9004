"""Reading request bodies with a size limit: the one place the servers read a whole body.

Starlette's ``request.body()`` keeps whatever a client sends in memory; a 20 MB
body to an endpoint that expects a kilobyte is refused here instead, from its
``Content-Length`` when it announces one, else while it streams, before the
excess is ever held.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attestkit.errors import ServiceError

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["BodyTooLarge", "read_body"]


class BodyTooLarge(ServiceError):  # noqa: N818 - the HTTP layer answers 413
    """The request body is over the endpoint's limit."""

    status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body is larger than {limit} bytes")
        self.limit = limit


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body of ``request`` if it is at most ``limit`` bytes; :class:`BodyTooLarge`."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(limit)
    return bytes(body)
