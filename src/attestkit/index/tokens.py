"""API tokens: ``pypi-`` + an opaque secret; only its SHA-256 is stored.

The ``pypi-`` prefix is kept because clients rely on it (gh-action-pypi-publish
warns ``POTENTIALLY INVALID TOKEN`` otherwise).  What PyPI encodes as macaroon
caveats (project scope, publisher, expiry) lives in the token's database row,
so tokens are short and revocable.

>>> token, token_id, digest = new_token()
>>> parse_token(token)[0] == token_id
True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

__all__ = ["TOKEN_PREFIX", "matches", "new_token", "parse_token"]

TOKEN_PREFIX = "pypi-"  # noqa: S105 - a public prefix, not a secret
_MAGIC = b"ak1"


def new_token() -> tuple[str, str, bytes]:
    """Return ``(token, token id, sha256 of the secret)`` for a fresh token."""
    token_id = secrets.token_bytes(16)
    secret = secrets.token_bytes(32)
    raw = _MAGIC + token_id + secret
    token = TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return token, token_id.hex(), hashlib.sha256(secret).digest()


def parse_token(token: str) -> tuple[str, bytes] | None:
    """``(token id, sha256 of secret)`` of a well-formed token, else None."""
    token = token.strip()
    if not token.startswith(TOKEN_PREFIX):
        return None
    body = token[len(TOKEN_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != len(_MAGIC) + 48 or not raw.startswith(_MAGIC):
        return None
    return raw[3:19].hex(), hashlib.sha256(raw[19:]).digest()


def matches(stored_sha256: bytes, presented_sha256: bytes) -> bool:
    """Constant-time comparison of secret digests."""
    return hmac.compare_digest(stored_sha256, presented_sha256)
