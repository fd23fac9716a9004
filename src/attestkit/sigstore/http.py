"""A small keep-alive HTTP client for Sigstore services: JSON POSTs, timeouts, one-line reasons."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

__all__ = ["DEFAULT_TIMEOUT", "USER_AGENT", "HttpClient", "Reply", "transport_reason"]

#: Default timeout (seconds) for every request (pypi-attestations sets none: D15 in
#: docs/defects.md).
DEFAULT_TIMEOUT = 30.0


USER_AGENT = "attestkit"


class HttpClient:
    """A thread-safe keep-alive HTTP client for the signing hot path (urllib3).

    Proxy (``HTTPS_PROXY``/``NO_PROXY``...) and CA-bundle settings
    (``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, else certifi) are read from the
    environment once, the way requests reads them.  urllib3 directly costs
    about half of requests' per-call overhead, which matters when a run logs
    hundreds of entries.
    """

    def __init__(self, urls: Sequence[str], *, timeout: float, connections: int) -> None:
        from urllib.parse import urlsplit

        import certifi
        import urllib3
        from requests.utils import get_environ_proxies

        proxy = None
        for url in urls:
            proxies = get_environ_proxies(url)
            proxy = proxy or proxies.get(urlsplit(url).scheme) or proxies.get("all")
        ca = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        options: dict[str, Any] = {
            "maxsize": max(1, connections),
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": ca or certifi.where(),
            "timeout": urllib3.Timeout(total=timeout),
            "retries": False,
            "headers": {"User-Agent": USER_AGENT},
        }
        self.pool: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        )

    def post_json(self, url: str, body: object, headers: dict[str, str] | None = None) -> Reply:
        """POST ``body`` as JSON; transport failures raise :class:`OSError`-like urllib3 errors."""
        response = self.pool.request(
            "POST",
            url,
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        return Reply(response.status, response.data)

    def post_bytes(self, url: str, body: bytes, content_type: str) -> Reply:
        """POST raw ``body`` with ``content_type`` (e.g. an RFC 3161 timestamp request)."""
        response = self.pool.request("POST", url, body=body, headers={"Content-Type": content_type})
        return Reply(response.status, response.data)


@dataclass(frozen=True)
class Reply:
    status: int
    content: bytes

    def message(self) -> str:
        """The server's error message (Sigstore JSON ``message``), or the body's start."""
        try:
            body = json.loads(self.content)
            if isinstance(body, dict) and isinstance(body.get("message"), str):
                return str(body["message"])
        except ValueError:
            pass
        return " ".join(self.content.decode("utf-8", "replace").split())[:200]


def transport_reason(exc: BaseException) -> str:
    """A short one-line reason for a requests or urllib3 transport exception."""
    import requests
    from urllib3.exceptions import NewConnectionError, ProtocolError, TimeoutError

    if isinstance(exc, NewConnectionError | ProtocolError | requests.ConnectionError) and not (
        isinstance(exc, requests.Timeout)
    ):
        return "connection refused or host unreachable"
    if isinstance(exc, TimeoutError | requests.Timeout):
        return "timed out"
    return " ".join(str(exc).split())[:200]
