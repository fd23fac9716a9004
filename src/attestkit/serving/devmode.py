"""Development mode: the fence around simulated identities.

attestkit's embedded Sigstore can stand in for GitHub Actions, GitLab CI,
Google and the other CI issuers: its own key signs tokens that carry their real
issuer strings, so the whole publishing chain runs offline.  Such identities are
*simulated*: whoever runs the instance can mint any of them.  They may never be
mistaken for real CI, so development mode is fenced:

* it is explicit (``attestkit serve --dev``, ``attestkit sigstore serve --dev``)
  and serves on loopback addresses only (:func:`require_loopback`);
* every HTML page carries a visible banner (:class:`DevBannerMiddleware`);
* its CA certificates name :data:`~attestkit.core.constants.DEV_CA_ORGANIZATION`, so
  ``verify``, ``inspect`` and provenance pages say when a certificate chains to
  a development instance;
* its data directory records the mode (:func:`claim_data_dir`), and a data
  directory is never started in the other mode, so nothing simulated can be
  carried into production.

Production mode (the default) trusts only the real issuers, the issuers an
operator configures, public Sigstore and the trust roots an operator
configures; see ``docs/security.md``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any, Literal

from attestkit.core.issuers import is_loopback_host
from attestkit.errors import InputError

__all__ = [
    "BANNER",
    "DEVELOPMENT",
    "MODE_FILE",
    "PRODUCTION",
    "DevBannerMiddleware",
    "Mode",
    "claim_data_dir",
    "recorded_mode",
    "require_loopback",
]

Mode = Literal["development", "production"]
DEVELOPMENT: Mode = "development"
PRODUCTION: Mode = "production"

#: The file in a data directory that records its mode.
MODE_FILE = "attestkit-mode.json"
#: Entries of a data directory that say nothing about its contents.
_NOT_STATE = frozenset({MODE_FILE, "lock", "server.json"})

#: The banner text every HTML page of a development instance shows.
BANNER = (
    "Development instance: identities are simulated. Nothing signed or published here"
    " proves where a package came from."
)
_BANNER_HTML = (
    '<div role="alert" id="attestkit-dev-banner" style="background:#b00020;color:#fff;'
    "font:600 15px/1.4 system-ui,sans-serif;padding:10px 16px;text-align:center;"
    'position:sticky;top:0;z-index:1000">' + BANNER + "</div>"
).encode()


def require_loopback(host: str) -> None:
    """Refuse (``InputError``) to serve a development instance on a non-loopback address."""
    if not is_loopback_host(host):
        raise InputError(
            f"--dev serves simulated identities and listens on loopback addresses only"
            f" (127.0.0.1, ::1, localhost), not {host!r}; run without --dev for production"
        )


def recorded_mode(data_dir: str | os.PathLike[str]) -> Mode | None:
    """The mode recorded in ``data_dir``, ``development`` for state made before modes
    were recorded (every instance then simulated identities), None for a new directory."""
    base = Path(data_dir)
    marker = base / MODE_FILE
    try:
        mode = json.loads(marker.read_text()).get("mode")
    except FileNotFoundError:
        mode = None
    except (OSError, ValueError, AttributeError) as exc:
        raise InputError(f"cannot read the mode of {base}: {exc}", source=str(marker)) from None
    if mode is not None:
        if mode not in (DEVELOPMENT, PRODUCTION):
            raise InputError(f"unknown mode {mode!r}", source=str(marker))
        return mode  # type: ignore[no-any-return]
    try:
        existing = [p.name for p in base.iterdir() if p.name not in _NOT_STATE]
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise InputError(f"{base} is not a directory") from None
    return DEVELOPMENT if existing else None


def claim_data_dir(data_dir: str | os.PathLike[str], mode: Mode) -> None:
    """Record ``mode`` in ``data_dir`` (created if needed), or refuse a mismatch.

    A development data directory holds keys that mint simulated identities and
    uploads that carry them; starting it in production, or the reverse, is
    refused with an ``InputError`` that says so.
    """
    from attestkit.core.encoding import atomic_write

    base = Path(data_dir)
    found = recorded_mode(base)
    if found is not None and found != mode:
        if found == DEVELOPMENT:
            reason = (
                f"{base} belongs to a development instance (simulated identities);"
                " refusing to serve it in production mode. Use a new --data-dir for"
                " production, or add --dev"
            )
        else:
            reason = (
                f"{base} belongs to a production instance; refusing to serve it in"
                " development mode, which would mix simulated identities into it."
                " Use another --data-dir for --dev"
            )
        raise InputError(reason)
    if not (base / MODE_FILE).exists():
        base.mkdir(parents=True, exist_ok=True)
        atomic_write(base / MODE_FILE, json.dumps({"mode": mode}).encode() + b"\n")


_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]
_App = Callable[[_Scope, _Receive, _Send], Awaitable[None]]


class DevBannerMiddleware:
    """ASGI middleware: put the development banner at the top of every HTML response.

    Written as plain ASGI (no framework) so that it wraps any application the
    servers assemble.  HTML pages here are small and complete, so the body is
    collected, the banner inserted after ``<body>`` and ``Content-Length``
    recomputed; other responses pass through untouched.
    """

    def __init__(self, app: _App) -> None:
        self.app = app

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: _Message | None = None
        chunks: list[bytes] = []
        head = scope.get("method") == "HEAD"

        async def wrapped(message: _Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                html = any(
                    k.lower() == b"content-type" and v.lower().startswith(b"text/html")
                    for k, v in headers
                )
                if not html:
                    await send(message)
                    return
                if head:  # no body to change: announce the length a GET would have
                    await send({**message, "headers": _grown(headers, len(_BANNER_HTML) + 1)})
                    return
                start = message
                return
            if message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = _insert_banner(b"".join(chunks))
                headers = [
                    (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
                ]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, wrapped)


def _grown(headers: list[tuple[bytes, bytes]], extra: int) -> list[tuple[bytes, bytes]]:
    out = []
    for k, v in headers:
        if k.lower() == b"content-length" and v.isdigit():
            v = str(int(v) + extra).encode()
        out.append((k, v))
    return out


def _insert_banner(body: bytes) -> bytes:
    lower = body.lower()
    at = lower.find(b"<body")
    if at >= 0:
        end = lower.find(b">", at)
        if end >= 0:
            return body[: end + 1] + b"\n" + _BANNER_HTML + body[end + 1 :]
    return _BANNER_HTML + b"\n" + body
