"""Sealed values: small JSON objects the development issuer signs and later trusts back.

The development issuer hands out two things that it must recognise later
without keeping state (so any ``--workers`` process can check them, and a
restart does not forget them):

* **job request tokens** (GitHub's ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``): bound,
  when issued, to one identity (repository, workflow, ref, environment, commit),
  one job and an expiry, like the per-job token a real GitHub runner gets.  The
  token endpoint builds the identity from the token alone; the query may only
  choose the audience.
* **pending logins**: an interactive login request waiting for the one-time
  approval code that the server prints on its console.

A sealed value is ``base64url(JSON) "." base64url(HMAC-SHA256)``, keyed by a
key derived per purpose from the instance's secret (``KeyStore.runner_token``),
so a value sealed for one purpose never opens for another.  Written by hand
because it is twenty lines on the standard library's ``hmac``; a JWT library
would add algorithm negotiation that nothing here needs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any

from attestkit.errors import AttestkitError

__all__ = [
    "APPROVAL_ALPHABET",
    "JOB_TOKEN_PREFIX",
    "SealError",
    "approval_code",
    "new_job_id",
    "normalize_code",
    "open_sealed",
    "seal",
]

#: Prefix of a development job request token (recognisable in logs, never a real one's).
JOB_TOKEN_PREFIX = "akdevjob."  # noqa: S105 (a prefix, not a secret)
#: Approval codes use Crockford's base32 digits: no I, L, O, U to misread.
APPROVAL_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Longest sealed value accepted (a request token is a few hundred bytes).
MAX_SEALED = 4096


class SealError(AttestkitError):
    """A sealed value is malformed, forged, sealed for another purpose, or expired."""


def _key(secret: str, purpose: str) -> bytes:
    return hmac.new(secret.encode(), f"attestkit sealed v1 {purpose}".encode(), "sha256").digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(secret: str, purpose: str, value: Mapping[str, Any]) -> str:
    """Seal ``value`` (a JSON object) for ``purpose`` under ``secret``."""
    body = _b64(json.dumps(dict(value), separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(_key(secret, purpose), body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def open_sealed(secret: str, purpose: str, sealed: str, *, now: float) -> dict[str, Any]:
    """The object sealed in ``sealed`` for ``purpose``; :class:`SealError` if it is not
    authentic or its ``exp`` (Unix time, required) has passed."""
    if not isinstance(sealed, str) or len(sealed) > MAX_SEALED or sealed.count(".") != 1:
        raise SealError("malformed")
    body, _, mac = sealed.partition(".")
    try:
        given = _unb64(mac)
    except (binascii.Error, ValueError):
        raise SealError("malformed") from None
    want = hmac.new(_key(secret, purpose), body.encode("ascii", "replace"), hashlib.sha256)
    if not hmac.compare_digest(given, want.digest()):
        raise SealError("not issued by this instance")
    try:
        value = json.loads(_unb64(body))
    except (binascii.Error, ValueError):
        raise SealError("malformed") from None
    if not isinstance(value, dict):
        raise SealError("malformed")
    exp = value.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise SealError("malformed: no expiry")
    if now >= exp:
        raise SealError("expired")
    return value


def approval_code(secret: str, sealed: str) -> str:
    """The one-time code that approves the pending login ``sealed``: eight base32 digits
    (40 bits) as ``XXXX-XXXX``, derived from the sealed request so that every worker
    process computes the same code without sharing state."""
    digest = hmac.new(_key(secret, "approval code"), sealed.encode(), "sha256").digest()
    number = int.from_bytes(digest[:5], "big")
    digits = "".join(APPROVAL_ALPHABET[(number >> (5 * i)) & 31] for i in range(8))
    return f"{digits[:4]}-{digits[4:]}"


def normalize_code(text: str) -> str:
    """A typed approval code in canonical form: case, spaces, dashes and the
    Crockford look-alikes (O→0, I/L→1) forgiven."""
    cleaned = text.upper().translate(str.maketrans("OIL", "011", " -"))
    return f"{cleaned[:4]}-{cleaned[4:]}" if len(cleaned) == 8 else cleaned


def new_job_id() -> str:
    """A fresh job identifier (what one request token is bound to)."""
    return secrets.token_hex(8)
