"""The CA's check of an OIDC token: RS256 signature, issuer, audience and times.

:func:`verify_token` raises :class:`~attestkit.sigstore.local.oidc.TokenError`
with a one-line reason.  ``exp`` gets no leeway (as in Fulcio); ``nbf`` and
``iat`` get :data:`DEFAULT_LEEWAY`, as go-oidc allows for ``nbf``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from attestkit.errors import ServiceError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from attestkit.oidc.jwks import JwksCache

    #: The keys of one trusted issuer: static public keys, or discovered ones.
    KeySource = Sequence[rsa.RSAPublicKey] | JwksCache

__all__ = ["DEFAULT_AUDIENCE", "DEFAULT_LEEWAY", "TokenError", "verify_token"]

#: The audience Fulcio (and so the local CA) requires.
DEFAULT_AUDIENCE = "sigstore"


class TokenError(ServiceError):
    """A token was rejected or could not be minted; ``str()`` is a one-line reason.

    ``status`` is the HTTP status the server should answer with: 401 for
    credentials (bad token, bad runner token), 400 for a bad request.
    """

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


#: Default clock-skew allowance (seconds) for ``nbf`` and ``iat``, as go-oidc allows
#: for ``nbf``.  ``exp`` gets none, as in Fulcio.
DEFAULT_LEEWAY = 60


def verify_token(
    token: str,
    trusted: Mapping[str, KeySource],
    *,
    audience: str = DEFAULT_AUDIENCE,
    leeway: float = DEFAULT_LEEWAY,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify an RS256 token against the keys ``trusted`` for its issuer; return its claims.

    ``trusted`` maps each accepted issuer to its keys: a list of public keys
    (this instance's own issuer) or a :class:`~attestkit.oidc.jwks.JwksCache` (an
    issuer run elsewhere, keys by discovery; status 503 when they cannot be
    fetched).

    Checks, in order: shape, a trusted ``iss``, the signature, the required
    claims (``iss sub aud exp iat``), expiry (no leeway, like Fulcio), ``nbf``
    and ``iat`` (``leeway`` seconds of clock skew) and that ``aud`` is or
    contains ``audience``.  Raises :class:`TokenError` (status 401) with a
    one-line reason.
    """
    import jwt

    from attestkit.oidc.jwt import MalformedTokenError, signature_only_claims, unverified_token

    try:
        header, unverified = unverified_token(token)
    except MalformedTokenError as exc:
        raise TokenError(f"malformed token: {exc}") from None
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise TokenError("malformed token: missing 'iss' claim")
    source = trusted.get(issuer)
    if not source:
        raise TokenError(f"unknown issuer {issuer!r}")
    alg = header.get("alg")
    if alg != "RS256":
        raise TokenError(f"token algorithm {alg!r} is not RS256")
    keys = _keys_for(source, issuer, header.get("kid"))
    claims: dict[str, Any] | None = None
    for key in keys:
        try:
            claims = signature_only_claims(token, key)
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as exc:
            raise TokenError(f"malformed token: {exc}") from None
    if claims is None:
        raise TokenError("token signature does not verify")
    for name in ("iss", "sub", "aud", "exp", "iat"):
        if name not in claims:
            raise TokenError(f"malformed token: missing {name!r} claim")
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise TokenError("malformed token: 'sub' is not a non-empty string")
    current = time.time() if now is None else now
    exp = _numeric(claims, "exp")
    if current >= exp:
        raise TokenError(f"token expired ({int(current - exp)} s ago)")
    if "nbf" in claims and _numeric(claims, "nbf") > current + leeway:
        raise TokenError("token is not valid yet (nbf is in the future)")
    if _numeric(claims, "iat") > current + leeway:
        raise TokenError("token is not valid yet (iat is in the future)")
    aud = claims["aud"]
    if isinstance(aud, str):
        if aud != audience:
            raise TokenError(f"token audience {aud!r} is not {audience!r}")
    elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        if audience not in aud:
            raise TokenError(f"token audiences {aud!r} do not include {audience!r}")
    else:
        raise TokenError("malformed token: 'aud' is not a string or a list of strings")
    return claims


def _keys_for(source: KeySource, issuer: str, kid: object) -> Sequence[Any]:
    """The keys that may have signed a token naming ``kid``: all static keys, or the
    discovered key with that ``kid`` (an issuer the instance does not run)."""
    from attestkit.oidc.jwks import JwksCache, JwksUnavailable

    if not isinstance(source, JwksCache):
        return source
    if not isinstance(kid, str) or not kid:
        raise TokenError(f"the token header has no key ID ('kid') for issuer {issuer!r}")
    try:
        jwk = source.key(kid)
    except JwksUnavailable as exc:
        raise TokenError(
            f"the signing keys of issuer {issuer!r} could not be fetched ({exc}); try again later",
            status=503,
        ) from None
    if jwk is None:
        raise TokenError(f"unknown signing key {kid!r} for issuer {issuer!r}")
    return [jwk.key]


def _numeric(claims: Mapping[str, Any], name: str) -> float:
    from attestkit.core.encoding import plausible_time

    value = plausible_time(claims[name])
    if value is None:
        raise TokenError(f"malformed token: {name!r} is not a Unix time")
    return value
