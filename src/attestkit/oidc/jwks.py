"""OpenID Connect issuers and their signing keys (JWKS), shared by every verifier of OIDC tokens.

The index's Trusted Publishing endpoint and the local Sigstore CA (in private
mode) both verify tokens from issuers they do not run.  Both take an issuer's
keys the way PyPI does (warehouse ``warehouse/oidc/services.py``): fetched
through OpenID discovery (``<issuer>/.well-known/openid-configuration`` ->
``jwks_uri``) with a 5 s timeout, cached by ``kid`` with no expiry, refreshed
when a token names an unknown ``kid`` (at most once a minute after a success),
and kept when a refresh fails or yields nothing.

Which issuer URLs are acceptable is :func:`attestkit.core.issuers.check_issuer_url`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from attestkit.core.issuers import OidcIssuer
from attestkit.errors import AttestkitError

if TYPE_CHECKING:
    import jwt

__all__ = [
    "JWKS_REFRESH_INTERVAL",
    "JWKS_TIMEOUT",
    "JwksCache",
    "JwksUnavailable",
    "fetch_jwks",
    "parse_jwks",
]

log = logging.getLogger(__name__)

#: Timeout of each discovery / JWKS request (PyPI: 5 s).
JWKS_TIMEOUT = 5.0
#: After a successful JWKS refresh, no other refresh for this many seconds.
JWKS_REFRESH_INTERVAL = 60.0


class JwksUnavailable(AttestkitError):  # noqa: N818 - reads better at the raise sites
    """An issuer's signing keys could not be fetched (network, HTTP or format error)."""


# -- JWKS -----------------------------------------------------------------------


def fetch_jwks(discovery_url: str, timeout: float = JWKS_TIMEOUT) -> dict[str, Any]:
    """Fetch an issuer's JWKS: ``{discovery_url}/.well-known/openid-configuration`` -> ``jwks_uri``.

    Raises :class:`JwksUnavailable` with a one-line reason.
    """
    import requests

    config_url = discovery_url.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(config_url, timeout=timeout)
        response.raise_for_status()
        config = response.json()
        jwks_uri = config.get("jwks_uri") if isinstance(config, dict) else None
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise JwksUnavailable(f"{config_url} has no jwks_uri")
        response = requests.get(jwks_uri, timeout=timeout)
        response.raise_for_status()
        jwks = response.json()
    except requests.RequestException as exc:
        raise JwksUnavailable(f"{type(exc).__name__}: {exc}") from None
    except ValueError:
        raise JwksUnavailable(f"a response from {discovery_url} is not JSON") from None
    if not isinstance(jwks, dict):
        raise JwksUnavailable(f"the JWKS of {discovery_url} is not a JSON object")
    return jwks


def parse_jwks(jwks: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    """``kid`` -> RS256 key, skipping keys without a ``kid`` and keys that are not RSA."""
    import jwt

    keys: dict[str, jwt.PyJWK] = {}
    entries = jwks.get("keys")
    if not isinstance(entries, list):
        return keys
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig":
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK(entry, algorithm="RS256")
        except jwt.PyJWTError:
            log.warning("ignoring an unusable JWK %r", entry.get("kid"))
    return keys


class JwksCache:
    """The signing keys of one issuer, as PyPI caches them (see the module docstring).

    Keys given statically (``OidcIssuer.jwks``) are always known.  Discovered
    keys (``discovery_url``, or the issuer URL itself when neither is given)
    are cached as a ``kid`` map with no expiry; an unknown ``kid`` triggers a
    refresh, at most one per :data:`JWKS_REFRESH_INTERVAL` after a success.  A
    failed refresh, or one that yields no keys, keeps the old cache.
    Thread-safe; ``fetch`` and ``clock`` are replaceable for tests.
    """

    def __init__(
        self,
        issuer: OidcIssuer,
        *,
        fetch: Callable[[str], Mapping[str, Any]] = fetch_jwks,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self._static = parse_jwks(issuer.jwks) if issuer.jwks is not None else {}
        self.discovery_url = issuer.discovery_url or (
            None if issuer.jwks is not None else issuer.iss
        )
        self._fetch = fetch
        self._clock = clock
        self._discovered: dict[str, jwt.PyJWK] = {}
        self._last_success: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The key ``kid``, refreshing the discovered keys if allowed; None if unknown.

        Raises :class:`JwksUnavailable` when a refresh was due but failed and
        the key is still unknown.
        """
        key = self._static.get(kid) or self._discovered.get(kid)
        if key is not None or self.discovery_url is None:
            return key
        with self._lock:
            key = self._discovered.get(kid)
            if key is not None:
                return key  # another thread refreshed meanwhile
            now = self._clock()
            if self._last_success is not None and now - self._last_success < JWKS_REFRESH_INTERVAL:
                return None
            try:
                keys = parse_jwks(self._fetch(self.discovery_url))
            except JwksUnavailable as exc:
                log.warning("JWKS refresh for %s failed: %s", self.issuer.iss, exc)
                raise
            if not keys:
                log.warning("JWKS refresh for %s returned no usable keys", self.issuer.iss)
                return None
            self._discovered = keys
            self._last_success = now
            return keys.get(kid)
