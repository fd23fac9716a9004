"""Error responses whose message travels as the HTTP reason phrase, as PyPI's upload API does.

PyPI's legacy upload API (and every client written against it: twine prints
``response.reason``) passes the error message in the **reason phrase** of the
status line: ``HTTP/1.1 400 File already exists (...)``.  ASGI has no field for
a reason phrase, and uvicorn writes the standard phrase for the status code
(``http.HTTPStatus(status).phrase``, precomputed per status in both its
``httptools`` and ``h11`` protocols), so **with a stock uvicorn a custom phrase
cannot be sent**: twine then prints ``HTTPError: 400 Bad Request from <url>``
followed by ``Bad Request``, and shows the message only with ``--verbose``.

What this module does about it:

* :class:`MessageResponse` always sends the message as a ``text/plain`` body
  (``twine --verbose`` prints it; so do curl and any HTTP library).
* It also offers the phrase to the server through a private ASGI extension,
  :data:`REASON_EXTENSION`: when the server announces it in
  ``scope["extensions"]``, the ``http.response.start`` message carries
  ``"attestkit.reason"`` (Latin-1 bytes, one line).
* :class:`ReasonPhraseH11Protocol` is a uvicorn HTTP protocol (uvicorn's h11
  implementation with the slow-client guards of
  :class:`~attestkit.serving.protocol.GuardedH11Protocol`, plus ~30 lines) that
  announces the extension and writes the phrase.
  ``uvicorn.Config(app, http=ReasonPhraseH11Protocol)`` gives PyPI's exact wire
  behaviour; without it everything still works, the message is
  just in the body only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import h11
from starlette.responses import Response

from attestkit.errors import ServiceError
from attestkit.serving.protocol import GuardedH11Protocol

if TYPE_CHECKING:
    import asyncio

    from starlette.types import Message, Receive, Scope, Send
    from uvicorn.config import Config
    from uvicorn.server import ServerState

__all__ = [
    "REASON_EXTENSION",
    "REASON_KEY",
    "MessageResponse",
    "ReasonPhraseH11Protocol",
    "UploadError",
    "reason_phrase",
]

#: ASGI extension (in ``scope["extensions"]``) announcing custom reason phrases.
REASON_EXTENSION = "attestkit.reason_phrase"
#: Key of ``http.response.start`` carrying the phrase (bytes) when the extension is present.
REASON_KEY = "attestkit.reason"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def reason_phrase(message: str) -> bytes:
    """``message`` as a reason phrase: one line, ISO-8859-1 with ``?`` for the rest (as PyPI)."""
    one_line = " ".join(_CONTROL.sub(" ", message).split())
    return one_line.encode("latin-1", "replace")


class UploadError(ServiceError):
    """A deterministic refusal: an HTTP status and the message the client sees."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> MessageResponse:
        """The response that reports this error."""
        return MessageResponse(self.status, self.message, self.headers)


class MessageResponse(Response):
    """A ``text/plain`` response whose message is also the reason phrase (where supported)."""

    media_type = "text/plain"

    def __init__(
        self, status_code: int, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.message = message
        self.reason = reason_phrase(message)
        body = message + "\n" if message else ""
        super().__init__(content=body, status_code=status_code, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the response, adding the reason phrase if the server supports it."""
        extensions = scope.get("extensions") or {}
        if REASON_EXTENSION not in extensions or not self.reason:
            await super().__call__(scope, receive, send)
            return

        async def send_with_reason(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, REASON_KEY: self.reason}
            await send(message)

        await super().__call__(scope, receive, send_with_reason)


class _ReasonConnection(h11.Connection):
    """An h11 server connection that can replace the next response's reason phrase."""

    pending_reason: bytes | None = None

    def send_with_data_passthrough(self, event: h11.Event) -> list[bytes] | None:
        """Serialise ``event``, using the pending reason phrase for a response head."""
        if type(event) is h11.Response and self.pending_reason:
            event = h11.Response(
                status_code=event.status_code,
                headers=list(event.headers.raw_items()),
                reason=self.pending_reason,
                http_version=event.http_version,
            )
            self.pending_reason = None
        return super().send_with_data_passthrough(event)


class ReasonPhraseH11Protocol(GuardedH11Protocol):
    """uvicorn's guarded h11 protocol plus reason phrases (:data:`REASON_EXTENSION`).

    Use it as ``uvicorn.Config(app, http=ReasonPhraseH11Protocol)``.  It
    relies on two attributes of uvicorn's ``H11Protocol`` (``conn`` and
    ``app``, stable since uvicorn 0.12); HTTP/1.1 allows one response at a
    time per connection, so a per-connection pending phrase is unambiguous.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        conn = _ReasonConnection(
            h11.SERVER,
            config.h11_max_incomplete_event_size or 16 * 1024,
        )
        self.conn = conn
        inner = self.app

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await inner(scope, receive, send)
                return
            scope["extensions"] = {**(scope.get("extensions") or {}), REASON_EXTENSION: {}}

            async def send_with_reason(message: Message) -> None:
                if message["type"] == "http.response.start":
                    reason = message.get(REASON_KEY)
                    conn.pending_reason = reason if isinstance(reason, bytes) else None
                    message = {k: v for k, v in message.items() if k != REASON_KEY}
                await send(message)

            await inner(scope, receive, send_with_reason)

        self.app = app
