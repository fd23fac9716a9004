"""Strict schema helpers for Sigstore JSON documents, as sigstore-models validates them.

Fields may be camelCase or snake_case, unknown fields are refused, and
timestamps are RFC 3339 (pydantic's rules, which sigstore-python uses)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from attestkit.core.encoding import json_type
from attestkit.errors import InputError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    PublicKey = RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey

__all__ = ["parse_timestamp"]


def _snake(name: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), name)


def _fields(
    value: object,
    what: str,
    allowed: set[str],
    *,
    required: frozenset[str] | set[str] = frozenset(),
) -> dict[str, Any]:
    """Normalise snake_case names to camelCase, reject unknown or repeated fields."""
    if not isinstance(value, dict):
        raise InputError(f"{what} must be an object, got {json_type(value)}")
    names = {name: name for name in allowed} | {_snake(name): name for name in allowed}
    out: dict[str, Any] = {}
    for key, item in value.items():
        canonical = names.get(key)
        if canonical is None:
            raise InputError(f"{what}: unknown field {key!r}")
        if canonical in out:
            raise InputError(f"{what}: field {canonical!r} given twice")
        out[canonical] = item
    for key in sorted(required):
        if out.get(key) is None:
            raise InputError(f"{what}: missing {key}")
    return out


def _list(obj: dict[str, Any], key: str, what: str) -> list[Any]:
    value = obj.get(key)
    if not isinstance(value, list):
        raise InputError(f"{what}.{key} must be an array, got {json_type(value)}")
    return value


def _string(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{what} must be a string, got {json_type(value)}")
    return value


def _time_range(value: object, what: str) -> tuple[datetime, datetime | None]:
    obj = _fields(value, what, {"start", "end"}, required={"start"})
    start = parse_timestamp(obj["start"], f"{what}.start")
    end = parse_timestamp(obj["end"], f"{what}.end") if obj.get("end") is not None else None
    return start, end


def parse_timestamp(value: object, what: str) -> datetime:
    text = _string(value, what)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{what}: not an RFC 3339 timestamp: {text!r}") from None
    if parsed.tzinfo is None:
        raise InputError(f"{what}: timestamp {text!r} has no time zone")
    return parsed
