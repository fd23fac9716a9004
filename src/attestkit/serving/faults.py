"""Transient faults as HTTP answers: 503 with ``Retry-After``, or 507 when storage is full.

A database that is down or overloaded, a pool that has no connection to give,
SQLite busy past its timeout, or a disk that is full are not bugs and must never
be a 500.  :func:`classify` decides, in one place for every server, which
exceptions are such faults:

* storage full (``ENOSPC``/``EDQUOT``, SQLite's "database or disk is full",
  PostgreSQL's ``DiskFull`` 53100) is **507** on a request that stores data
  (any method but GET/HEAD) and 503 otherwise;
* a database that cannot be reached or answered with a connection-class error
  (SQLAlchemy ``OperationalError``, ``InterfaceError``, pool ``TimeoutError``,
  a connection invalidated; ``sqlite3.OperationalError``) is **503**.

Anything else is left alone (a real bug still surfaces).  :func:`install` adds
the handlers to a Starlette application; the response is one line of text and
the connection stays open.  It also answers a deliberate refusal
(:class:`attestkit.errors.ServiceError`, e.g. a body over its limit) that a
route let through with that error's status, so a refusal is never a 500.
"""

from __future__ import annotations

import errno
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["RETRY_AFTER", "classify", "install"]

#: Seconds a client is asked to wait after a transient fault.
RETRY_AFTER = 5

log = logging.getLogger(__name__)

_FULL = (errno.ENOSPC, errno.EDQUOT)


def _storage_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in _FULL:
        return True
    text = str(exc).lower()
    if "database or disk is full" in text or "no space left on device" in text:
        return True
    return getattr(exc, "sqlstate", None) == "53100" or getattr(exc, "pgcode", None) == "53100"


def classify(exc: BaseException, *, stores: bool) -> tuple[int, str] | None:
    """``(status, one-line reason)`` if ``exc`` is a transient fault, else None."""
    import sqlite3

    original: BaseException = getattr(exc, "orig", None) or exc
    if _storage_full(exc) or _storage_full(original):
        if stores:
            return 507, "Insufficient storage: the server cannot store data right now"
        return 503, "Service unavailable: the server's storage is full"
    if isinstance(exc, OSError):
        return None
    if isinstance(exc, sqlite3.OperationalError):
        return 503, "Service unavailable: the database is busy"
    try:
        from sqlalchemy import exc as sa
    except ImportError:  # pragma: no cover - the server stack always has SQLAlchemy
        return None
    if isinstance(exc, sa.DBAPIError) and exc.connection_invalidated:
        return 503, "Service unavailable: the database connection was lost"
    if isinstance(exc, sa.OperationalError | sa.InterfaceError | sa.TimeoutError):
        return 503, "Service unavailable: the database cannot be reached"
    return None


def install(app: Starlette) -> None:
    """Answer transient faults raised by any route of ``app`` as :func:`classify` says."""
    import sqlite3

    from starlette.responses import PlainTextResponse

    async def handler(request: Request, exc: Exception) -> Response:
        stores = request.method not in ("GET", "HEAD")
        fault = classify(exc, stores=stores)
        if fault is None:
            raise exc
        status, reason = fault
        log.warning("%s %s: %s (%s)", request.method, request.url.path, reason, exc)
        headers = {"Retry-After": str(RETRY_AFTER)}
        return PlainTextResponse(f"{status} {reason}\n", status_code=status, headers=headers)

    async def refused(request: Request, exc: Exception) -> Response:
        # A deliberate refusal (e.g. a body over the limit) that no route answered
        # itself: its status and one line, never a 500.
        status = getattr(exc, "status", 400)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        # 503 is transient (e.g. the object store did not answer): say when to retry.
        headers = {"Retry-After": str(RETRY_AFTER)} if status == 503 else None
        return PlainTextResponse(f"{status} {reason}\n", status_code=status, headers=headers)

    from attestkit.errors import ServiceError

    app.add_exception_handler(ServiceError, refused)
    kinds: list[type[Exception]] = [OSError, sqlite3.Error]
    try:
        from sqlalchemy.exc import SQLAlchemyError

        kinds.append(SQLAlchemyError)
    except ImportError:  # pragma: no cover
        pass
    for kind in kinds:
        app.add_exception_handler(kind, handler)
