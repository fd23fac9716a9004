"""Security headers on every response, and the hosts a server answers for.

:class:`SecurityHeadersMiddleware` (pure ASGI, around the whole application)
adds what PyPI and its edge send, unless a route set them itself:

* ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` and
  ``Referrer-Policy: origin-when-cross-origin`` on every response;
* on HTML, a ``Content-Security-Policy`` that allows no script, no frame and no
  third-party anything (``style-src 'unsafe-inline'`` for the pages' own inline
  stylesheet); on the Simple API's HTML, PyPI's ``sandbox allow-top-navigation;
  default-src 'none'``.

:func:`allowed_hosts` decides which ``Host`` headers a server answers: absolute
URLs in the Simple API are built from the request unless ``--base-url`` is set,
so a server reachable from a network must know its names (``--allowed-host``);
on loopback the loopback names are the default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

__all__ = ["LOOPBACK_HOSTS", "SecurityHeadersMiddleware", "allowed_hosts"]

#: Host names a loopback server answers for when none are configured.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")

_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"origin-when-cross-origin"),
)
_PAGE_CSP = (
    b"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:;"
    b" form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_SIMPLE_CSP = b"sandbox allow-top-navigation; default-src 'none'"

_Scope = dict[str, Any]


class SecurityHeadersMiddleware:
    """Add the headers above to every HTTP response of ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: _Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        simple = str(scope.get("path", "")).startswith("/simple")

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = [(k, v) for k, v in _COMMON if k not in present]
                html = any(
                    k.lower() == b"content-type" and v.lower().startswith(b"text/html")
                    for k, v in headers
                )
                if html and b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", _SIMPLE_CSP if simple else _PAGE_CSP))
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, with_headers)


def allowed_hosts(
    listen_host: str, configured: Sequence[str], base_url: str | None
) -> list[str] | None:
    """The ``Host`` names to answer, or None when the server must refuse to start.

    The configured names, plus ``base_url``'s host; on a loopback address with
    neither, the loopback names.  A server listening on a network address with
    neither has no safe default: None.
    """
    from attestkit.core.issuers import is_loopback_host

    hosts = list(configured)
    if base_url:
        name = urlsplit(base_url).hostname
        if name:
            hosts.append(name)
    if is_loopback_host(listen_host.strip("[]")):
        hosts.extend(LOOPBACK_HOSTS)
    return list(dict.fromkeys(hosts)) or None
