"""OIDC issuers as data: which issuers exist, what forge they belong to, which URLs may be one.

No network here: fetching an issuer's keys is :mod:`attestkit.oidc.jwks`.

Issuer URLs must be ``https://``; plain ``http://`` is accepted only for a
loopback host (tests, and an issuer on the same machine), because keys
fetched over a network in the clear could be replaced by anyone on the path.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["OidcIssuer", "check_issuer_url", "forge_url", "is_loopback_host", "secure_url"]


@dataclass(frozen=True)
class OidcIssuer:
    """An OIDC issuer whose tokens are accepted.

    ``iss`` is the issuer string in tokens; keys come from ``jwks`` (a JWKS
    document given in advance, for the embedded development issuer) or are
    discovered from ``discovery_url`` (``<url>/.well-known/openid-configuration``),
    by default ``iss`` itself.  ``kind`` is the provider whose claim rules
    apply (``github``, ``gitlab``, ``google``, ``activestate``, ...).
    """

    iss: str
    kind: str
    discovery_url: str | None = None
    jwks: dict[str, Any] | None = None


def secure_url(url: str) -> bool:
    """``https://``, or ``http://`` on a loopback host (where no network can see it)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname))


def is_loopback_host(host: str | None) -> bool:
    """Whether ``host`` names this machine only: ``localhost``, 127.0.0.0/8 or ``::1``."""
    if not host:
        return False
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def forge_url(kind: str, issuer: str) -> str:
    """The web URL of the forge whose CI ``issuer`` signs tokens (no trailing slash).

    GitHub.com's issuer (token.actions.githubusercontent.com) belongs to
    https://github.com; a GitHub Enterprise Server issuer
    ``https://HOST/_services/token`` to ``https://HOST``.  A GitLab issuer is the
    GitLab instance's own URL (https://gitlab.com, or a self-managed one).
    """
    from attestkit.core.constants import GITHUB_ISSUER, GITHUB_URL

    issuer = issuer.rstrip("/")
    if kind == "github":
        if issuer == GITHUB_ISSUER:
            return GITHUB_URL
        parts = urlsplit(issuer)
        return f"{parts.scheme}://{parts.netloc}"
    return issuer


def check_issuer_url(url: str) -> str:
    """``url`` without a trailing slash, if it may be an issuer; else ``ValueError`` (one line).

    An issuer is an absolute ``https://`` URL with a host and no query or
    fragment; ``http://`` only on a loopback host.
    """
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a bad port
    except ValueError:
        raise ValueError(f"issuer URL {url!r} is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"issuer URL {url!r} must be an absolute https:// URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"issuer URL {url!r} must not carry credentials, a query or a fragment")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(
            f"issuer URL {url!r} uses plain http: only https:// issuers are trusted"
            " (http:// is accepted for a loopback address only)"
        )
    return url.rstrip("/")
