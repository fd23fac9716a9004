"""uvicorn's HTTP/1.1 protocol with the deadlines it lacks: slow clients cannot hold a server.

uvicorn arms no timer before a request's headers are complete (its keep-alive
timer starts after a response and is cancelled by any byte), so a client that
sends a header line now and then, or a body one byte at a time, holds a
connection and a file descriptor for as long as it likes; about a thousand of
them take a server with the usual 1,024-descriptor limit offline.  This
protocol adds, per connection:

* a **header deadline**: a request's headers must be complete within
  :data:`HEADER_TIMEOUT` seconds of the connection (or of the previous
  response), else the connection is closed;
* a **minimum body rate**: while a body is being received, every
  :data:`BODY_WINDOW` seconds at least :data:`MIN_BODY_RATE` bytes per second
  must have arrived, else the connection is closed (an upload on a slow but
  honest link is far faster than this); a window in which the server itself
  paused reading (its application had not consumed the body yet) does not count;
* a **connection cap** below the process's descriptor limit (minus a reserve
  for files, the database and logs): when it is reached, the oldest connection
  still waiting for its headers is closed to make room, so a flood of idle
  connections cannot keep a real client out.

Requests already being handled are never cut by these rules.  Subclass
:class:`GuardedH11Protocol` to add behaviour (the index adds reason phrases).
"""

from __future__ import annotations

import asyncio
import resource
import time
from typing import TYPE_CHECKING, Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

if TYPE_CHECKING:
    from uvicorn.config import Config
    from uvicorn.server import ServerState

__all__ = [
    "BODY_WINDOW",
    "HEADER_TIMEOUT",
    "MIN_BODY_RATE",
    "RESERVED_FDS",
    "GuardedH11Protocol",
    "connection_cap",
]

#: Seconds a connection may take to send a request's complete headers.
HEADER_TIMEOUT = 10.0
#: Seconds between checks of a body's progress.
BODY_WINDOW = 10.0
#: Bytes per second a request body must at least arrive at.
MIN_BODY_RATE = 1024
#: Descriptors kept free for the database, the file store, logs and the listener.
RESERVED_FDS = 64


def connection_cap() -> int:
    """The most connections this process holds at once (its descriptor limit minus a reserve)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 65536
    return max(16, soft - RESERVED_FDS)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus a header deadline, a body rate and a connection cap."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_bytes = 0
        #: When this connection started waiting for a request's headers (None: not waiting).
        self.waiting_since: float | None = None

    # -- the connection cap -------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()
        if len(self.connections) > connection_cap():
            self._evict()

    def _evict(self) -> None:
        """Close the connection that has waited longest for its headers (maybe this one)."""
        waiting = [
            c
            for c in self.connections
            if isinstance(c, GuardedH11Protocol) and c.waiting_since is not None
        ]
        oldest = min(waiting, key=lambda c: c.waiting_since or 0.0, default=self)
        oldest.close_slow()

    # -- the header deadline ------------------------------------------------------------

    def _await_headers(self) -> None:
        self._cancel_header_timer()
        self.waiting_since = time.monotonic()
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT, self.close_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        self.waiting_since = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_headers()

    # -- the body rate --------------------------------------------------------------------

    def _check_body(self) -> None:
        # While uvicorn itself paused reading (the application has not consumed the body
        # yet), a slow body is the server's doing, never the client's.
        paused = self.flow is not None and self.flow.read_paused
        if not paused and self._body_bytes < MIN_BODY_RATE * BODY_WINDOW:
            self.close_slow()
            return
        self._body_bytes = 0
        self._body_timer = self.loop.call_later(BODY_WINDOW, self._check_body)

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.SEND_BODY:
            self._body_bytes += len(data)
        super().data_received(data)

    def handle_events(self) -> None:
        # uvicorn's loop turns h11 events into the request; around it, notice the moment a
        # request's headers are complete (the client leaves IDLE) and a body ends.
        before = self.conn.their_state
        super().handle_events()
        after = self.conn.their_state
        if before is h11.IDLE and after is not h11.IDLE:
            self._cancel_header_timer()  # headers complete: a request is being handled
            if after is h11.SEND_BODY:
                self._body_bytes = 0
                self._cancel_body_timer()
                self._body_timer = self.loop.call_later(BODY_WINDOW, self._check_body)
        if after is not h11.SEND_BODY:
            self._cancel_body_timer()

    # -- closing ----------------------------------------------------------------------------

    def close_slow(self) -> None:
        """Close this connection (too slow, or evicted); a request in progress is abandoned."""
        self._cancel_header_timer()
        self._cancel_body_timer()
        if not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()
        super().connection_lost(exc)
