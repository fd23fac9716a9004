"""in-toto Statement v1 as used by PEP 740: parse the exact DSSE payload bytes.

The statement inside an attestation is never re-serialised: :class:`Statement`
keeps the original bytes and exposes the parsed fields.  Parsing follows the
in-toto spec and PEP 740 (extra digest algorithms such as ``blake2b`` are
allowed, unlike sigstore-python's parser, defect D13 in ``docs/defects.md``); the PEP 740 checks
themselves (one subject, sha256 present) live in :mod:`attestkit.sigstore.verify.attestation`.

>>> s = Statement.from_bytes(b'{"_type":"https://in-toto.io/Statement/v1",'
...     b'"subject":[{"name":"a-1.0.tar.gz","digest":{"sha256":"00"}}],'
...     b'"predicateType":"https://slsa.dev/provenance/v1"}')
>>> s.subjects[0].name, s.predicate
('a-1.0.tar.gz', None)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from attestkit.core.constants import INTOTO_STATEMENT_V1
from attestkit.core.encoding import json_type, loads_json
from attestkit.errors import InputError

__all__ = ["Statement", "Subject", "build_statement"]


@dataclass(frozen=True, slots=True)
class Subject:
    """One in-toto ResourceDescriptor: a name and a DigestSet (algorithm -> hex)."""

    name: str
    digest: dict[str, str]


@dataclass(frozen=True, slots=True)
class Statement:
    """A parsed in-toto Statement v1, with the exact bytes it was parsed from."""

    raw: bytes
    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: dict[str, Any] | None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Statement:
        """Parse statement bytes; raise :class:`InputError` ('invalid statement: ...')."""
        try:
            obj = loads_json(raw, what="statement")
        except InputError as exc:
            raise InputError(f"invalid statement: {exc.reason}") from None
        if not isinstance(obj, dict):
            raise InputError(f"invalid statement: expected a JSON object, got {json_type(obj)}")
        if obj.get("_type") != INTOTO_STATEMENT_V1:
            raise InputError(
                f"invalid statement: _type must be {INTOTO_STATEMENT_V1!r},"
                f" got {obj.get('_type')!r}"
            )
        subjects_raw = obj.get("subject")
        if not isinstance(subjects_raw, list) or not subjects_raw:
            raise InputError("invalid statement: subject must be a non-empty array")
        subjects = tuple(_subject(i, s) for i, s in enumerate(subjects_raw))
        ptype = obj.get("predicateType")
        if not isinstance(ptype, str) or not ptype:
            raise InputError("invalid statement: predicateType must be a non-empty string")
        predicate = obj.get("predicate")
        if predicate is not None and not isinstance(predicate, dict):
            raise InputError(
                "invalid statement: predicate must be an object or null,"
                f" got {json_type(predicate)}"
            )
        extra = {k: v for k, v in obj.items() if k not in _KNOWN}
        return cls(raw, subjects, ptype, predicate, extra)


_KNOWN = frozenset({"_type", "subject", "predicateType", "predicate"})


def _subject(index: int, value: object) -> Subject:
    where = f"invalid statement: subject[{index}]"
    if not isinstance(value, dict):
        raise InputError(f"{where} must be an object")
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise InputError("invalid subject: missing name")
    digest = value.get("digest")
    if not isinstance(digest, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in digest.items()
    ):
        raise InputError(f"{where}.digest must map algorithm names to hex strings")
    return Subject(name, dict(digest))


def build_statement(
    name: str, sha256: str, predicate_type: str, predicate: dict[str, Any] | None
) -> bytes:
    """Serialise a one-subject statement exactly as sigstore-python does (compact, fixed order)."""
    obj = {
        "_type": INTOTO_STATEMENT_V1,
        "subject": [{"name": name, "digest": {"sha256": sha256.lower()}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")
