"""Verify only a JWT's RS256 signature, leaving every claim check to the caller.

Both the embedded Sigstore CA and the index's Trusted Publishing endpoint judge
claims with their own rules and messages (Fulcio's, PyPI's), so they need PyJWT
to check the signature and nothing else.
"""

from __future__ import annotations

from typing import Any

__all__ = ["signature_only_claims"]

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
