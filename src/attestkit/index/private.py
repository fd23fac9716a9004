"""A private index: every read needs an API token (``attestkit serve --private``).

With ``IndexConfig.private``, the read surfaces (the Simple API and its files,
the Integrity and JSON APIs, the web pages, mirrored files) answer ``401`` with
``WWW-Authenticate: Basic realm="attestkit"`` unless the request presents a
valid, unexpired API token of a user: HTTP Basic with the username
``__token__`` (what pip and uv send from a URL's userinfo, ``.netrc`` or a
keyring) or an ``Authorization: token|bearer`` header.  Uploads keep their
own authentication, and Trusted Publishing and the embedded Sigstore's
endpoints stay open (they authenticate by OIDC).

A token that verified is remembered for :data:`REMEMBER` seconds (by the
SHA-256 of the header), so that reads cost no database query each; a revoked
token stops working within that time.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from attestkit.index.instance import Index

__all__ = ["OPEN_PREFIXES", "REMEMBER", "PrivateReadsMiddleware"]

#: Paths that keep their own authentication (or none) on a private index.
OPEN_PREFIXES = (
    "/legacy",
    "/_/oidc/",
    "/api/",
    "/oauth2/",
    "/oidc/",
    "/.well-known/",
    "/trust-config.json",
    "/healthz",
)
#: Seconds a verified token is trusted without another database lookup.
REMEMBER = 10.0

_UNAUTHORIZED = b"401 Unauthorized: this index is private; give an API token (__token__)\n"


class PrivateReadsMiddleware:
    """ASGI middleware: 401 for reads without a valid user API token."""

    def __init__(self, app: Any, index: Index) -> None:
        self.app = app
        self.index = index
        self._known: dict[bytes, float] = {}
        self._lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        authorization = next(
            (v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"authorization"),
            None,
        )
        if authorization and await self._allowed(authorization):
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"text/plain"),
                    (b"content-length", str(len(_UNAUTHORIZED)).encode()),
                    (b"www-authenticate", b'Basic realm="attestkit"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _UNAUTHORIZED})

    async def _allowed(self, authorization: str) -> bool:
        from starlette.concurrency import run_in_threadpool

        key = hashlib.sha256(authorization.encode("utf-8", "replace")).digest()
        now = time.monotonic()
        with self._lock:
            seen = self._known.get(key)
            if seen is not None and now - seen < REMEMBER:
                return True
        ok = await run_in_threadpool(self._check, authorization)
        if ok:
            with self._lock:
                if len(self._known) > 10_000:
                    self._known.clear()
                self._known[key] = now
        return ok

    def _check(self, authorization: str) -> bool:
        """Whether ``authorization`` carries a valid, unexpired token of a user."""
        from attestkit.index.db import utcnow
        from attestkit.index.reasons import UploadError
        from attestkit.index.upload.auth import as_utc, authenticate

        with self.index.session() as session:
            try:
                identity = authenticate(session, authorization, "")
            except UploadError:
                return False
            expires = identity.token.expires
            if expires is not None and as_utc(expires) <= utcnow():
                return False
            return identity.user is not None
