"""Trusted Publishing answers: results, errors with PyPI's codes, and the request body."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from attestkit.core.encoding import loads_json
from attestkit.errors import InputError, ServiceError

if TYPE_CHECKING:
    pass

__all__ = ["MAX_BODY", "RETRY_AFTER", "MintError", "MintResult"]

#: Seconds a client should wait after a 503 (issuer keys unavailable).
RETRY_AFTER = 30


#: Largest accepted mint request body (real OIDC tokens are a few KiB).
MAX_BODY = 64 * 1024


_FAILED = "Token request failed"


_INVALID_TOKEN = "malformed or invalid token"  # noqa: S105 - an error message


class MintError(ServiceError):
    """A failed token exchange: one ``{"code", "description"}`` error of the 422 answer."""

    def __init__(self, code: str, description: str, *, status: int = 422) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status

    def result(self) -> MintResult:
        """The HTTP answer for this error."""
        headers = {"Retry-After": str(RETRY_AFTER)} if self.status == 503 else {}
        body = {
            "message": _FAILED,
            "errors": [{"code": self.code, "description": self.description}],
        }
        return MintResult(self.status, body, headers)


def _invalid_token(reason: str) -> MintError:
    return MintError("invalid-token", f"{_INVALID_TOKEN} ({reason})")


def _invalid_publisher(reason: str) -> MintError:
    return MintError("invalid-publisher", f"valid token, but no corresponding publisher ({reason})")


@dataclass(frozen=True)
class MintResult:
    """An HTTP answer of the Trusted Publishing endpoints (framework-free)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _parse_body(body: bytes) -> str:
    """The ``token`` of a ``{"token": "<JWT>"}`` body (row 1; the token is never echoed)."""
    shape = 'expected a JSON object {"token": "<OIDC token>"}'
    if len(body) > MAX_BODY:
        raise MintError("invalid-payload", f"request body exceeds {MAX_BODY} bytes; {shape}")
    try:
        payload = loads_json(body, what="request body")
    except InputError:
        raise MintError("invalid-payload", f"request body is not valid JSON; {shape}") from None
    if not isinstance(payload, dict):
        raise MintError(
            "invalid-payload", f"request body is a JSON {type(payload).__name__}; {shape}"
        )
    if "token" not in payload:
        raise MintError("invalid-payload", f"field 'token' is missing; {shape}")
    token = payload["token"]
    if not isinstance(token, str):
        kind = "null" if token is None else type(token).__name__
        raise MintError("invalid-payload", f"field 'token' must be a string, not {kind}")
    return token
