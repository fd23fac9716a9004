"""Read a JWT's header and claims safely, and verify only its RS256 signature.

Both the embedded Sigstore CA and the index's Trusted Publishing endpoint judge
claims with their own rules and messages (Fulcio's, PyPI's), so they need PyJWT
to check the signature and nothing else.  Before any key is looked up they read
the unverified header and claims: :func:`unverified_token` does that with the
shared bounded JSON reader (size, depth), because PyJWT's own decoding lets a
deeply nested payload escape as ``RecursionError``.
"""

from __future__ import annotations

from typing import Any

from attestkit.errors import InputError

__all__ = ["MAX_TOKEN", "MalformedTokenError", "signature_only_claims", "unverified_token"]

#: Longest token read (CI tokens are 1-2 KB).
MAX_TOKEN = 16 * 1024


class MalformedTokenError(InputError):
    """Not a JWT that can be read: the one-line reason."""


def unverified_token(token: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(header, claims)`` of a compact JWT, nothing verified; :class:`MalformedTokenError`."""
    import base64
    import binascii

    from attestkit.core.encoding import loads_json

    if not isinstance(token, str) or token.count(".") != 2:
        raise MalformedTokenError("not a JWT (want header.payload.signature)")
    if len(token) > MAX_TOKEN:
        raise MalformedTokenError(f"longer than {MAX_TOKEN} characters")
    parts = []
    for what, segment in zip(("header", "claims"), token.split(".")[:2], strict=True):
        try:
            raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
            value = loads_json(raw, what=f"the token {what}", max_depth=8)
        except (binascii.Error, ValueError):
            raise MalformedTokenError(f"the token {what} is not base64url") from None
        except InputError as exc:
            raise MalformedTokenError(exc.reason) from None
        if not isinstance(value, dict):
            raise MalformedTokenError(f"the token {what} is not a JSON object")
        parts.append(value)
    return parts[0], parts[1]


_SIGNATURE_ONLY = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}


def signature_only_claims(token: str, key: Any) -> dict[str, Any]:
    """The claims of ``token`` if its RS256 signature verifies with ``key``.

    Raises ``jwt.InvalidSignatureError`` for a bad signature and other
    ``jwt.PyJWTError`` subclasses for malformed tokens.
    """
    import jwt

    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        options=_SIGNATURE_ONLY,  # type: ignore[arg-type]
    )
    return claims
