"""The PEP 740 objects: :class:`Attestation`, :class:`AttestationBundle`, :class:`Provenance`.

Byte-compatible with PyPI and pypi-attestations: the JSON they produce parses
here, and :meth:`Attestation.model_dump_json` emits the same bytes
pypi-attestations does (compact, key order ``version``,
``verification_material``, ``envelope``).  The pydantic-style method names are
kept so code written against pypi-attestations reads the same.

Plain dataclasses with hand-written validation, not pydantic, for two measured
reasons: importing pydantic costs ~55 ms, half of the CLI's 100 ms start-up
budget, and its ``Base64Bytes`` is lax (D12 in ``docs/defects.md``) while these parsers are strict:
``version`` must be the integer 1, base64 must be standard and padded, and
every error names the JSON path.

>>> att = Attestation.from_file("tests/data/rfc8785-0.1.2-py3-none-any.whl.publish.attestation")
>>> att.statement.subjects[0].name
'rfc8785-0.1.2-py3-none-any.whl'
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, TypeVar

from attestkit.core.encoding import b64decode, b64encode, json_type, loads_json, read_bytes
from attestkit.core.log_entry import LogEntry
from attestkit.core.providers import Publisher, publisher_from_dict
from attestkit.core.statement import Statement
from attestkit.errors import InputError

_T = TypeVar("_T")

__all__ = [
    "Attestation",
    "AttestationBundle",
    "Envelope",
    "Provenance",
    "VerificationMaterial",
]


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"{what} must be an object, got {json_type(value)}")
    return value


def _version(obj: dict[str, Any], what: str, *, default: int | None = None) -> int:
    version = obj.get("version", default)
    if type(version) is not int or version != 1:
        raise InputError(f"{what}: unsupported version {version!r} (expected 1)")
    return version


def _read_document(parse: Callable[[bytes], _T], path: str | os.PathLike[str]) -> _T:
    """Read ``path`` and parse it; any :class:`InputError` is made to name the file."""
    try:
        return parse(read_bytes(path))
    except InputError as exc:
        raise exc.with_source(str(path)) from None


@dataclass(frozen=True, slots=True)
class VerificationMaterial:
    """The signing certificate (DER), the transparency-log entries and optional timestamps."""

    certificate: bytes
    transparency_entries: tuple[dict[str, Any], ...]
    #: RFC 3161 timestamp responses (proposed ``timestamps`` key; emitted only if non-empty).
    timestamps: tuple[bytes, ...] = ()

    @classmethod
    def from_dict(cls, value: object, what: str = "verification_material") -> VerificationMaterial:
        """Parse the ``verification_material`` object."""
        obj = _object(value, what)
        if "certificate" not in obj:
            raise InputError(f"{what}: missing certificate")
        cert = b64decode(obj["certificate"], what=f"{what}.certificate")
        entries = obj.get("transparency_entries")
        if not isinstance(entries, list) or not entries:
            raise InputError(f"{what}.transparency_entries must be a non-empty array")
        for i, entry in enumerate(entries):
            _object(entry, f"{what}.transparency_entries[{i}]")
        raw_ts = obj.get("timestamps")
        timestamps: tuple[bytes, ...] = ()
        if raw_ts is not None:
            if not isinstance(raw_ts, list):
                raise InputError(f"{what}.timestamps must be an array or null")
            timestamps = tuple(
                b64decode(t, what=f"{what}.timestamps[{i}]") for i, t in enumerate(raw_ts)
            )
        return cls(cert, tuple(entries), timestamps)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``timestamps`` only when present)."""
        out: dict[str, Any] = {
            "certificate": b64encode(self.certificate),
            "transparency_entries": list(self.transparency_entries),
        }
        if self.timestamps:
            out["timestamps"] = [b64encode(t) for t in self.timestamps]
        return out

    def log_entries(self) -> list[LogEntry]:
        """Parse every transparency entry strictly (raises :class:`InputError`)."""
        return [
            LogEntry.from_dict(e, what=f"transparency_entries[{i}]")
            for i, e in enumerate(self.transparency_entries)
        ]


@dataclass(frozen=True, slots=True)
class Envelope:
    """The DSSE envelope, minus its implied payload type: statement bytes and signature."""

    statement: bytes
    signature: bytes

    @classmethod
    def from_dict(cls, value: object, what: str = "envelope") -> Envelope:
        """Parse the ``envelope`` object."""
        obj = _object(value, what)
        for key in ("statement", "signature"):
            if key not in obj:
                raise InputError(f"{what}: missing {key}")
        return cls(
            b64decode(obj["statement"], what=f"{what}.statement"),
            b64decode(obj["signature"], what=f"{what}.signature"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"statement": b64encode(self.statement), "signature": b64encode(self.signature)}


@dataclass(frozen=True)
class Attestation:
    """A PEP 740 attestation object, version 1."""

    verification_material: VerificationMaterial
    envelope: Envelope
    version: Literal[1] = 1

    # -- parsing -----------------------------------------------------------
    @classmethod
    def from_dict(cls, value: object, what: str = "attestation") -> Attestation:
        """Parse a decoded JSON object; raise :class:`InputError` naming the bad field."""
        obj = _object(value, what)
        _version(obj, what)
        if "verification_material" not in obj:
            raise InputError(f"{what}: missing verification_material")
        if "envelope" not in obj:
            raise InputError(f"{what}: missing envelope")
        return cls(
            VerificationMaterial.from_dict(obj["verification_material"]),
            Envelope.from_dict(obj["envelope"]),
        )

    @classmethod
    def from_json(cls, data: str | bytes) -> Attestation:
        """Parse JSON text or bytes."""
        return cls.from_dict(loads_json(data, what="attestation"))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Attestation:
        """Read and parse an attestation file; errors name the file."""
        return _read_document(cls.from_json, path)

    # pydantic-compatible spellings (pypi-attestations / Warehouse use these).
    model_validate = from_dict
    model_validate_json = from_json

    # -- serialising -------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with pypi-attestations' key order."""
        return {
            "version": self.version,
            "verification_material": self.verification_material.to_dict(),
            "envelope": self.envelope.to_dict(),
        }

    def to_json(self) -> str:
        """Compact JSON, byte-identical to pypi-attestations' ``model_dump_json()``."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    def model_dump(self, mode: str = "json") -> dict[str, Any]:
        """pydantic-style alias of :meth:`to_dict` (only ``mode="json"`` is meaningful)."""
        return self.to_dict()

    model_dump_json = to_json

    # -- derived views (not verified: see attestkit.sigstore.verify.attestation) ----------------
    @cached_property
    def statement(self) -> Statement:
        """The parsed in-toto statement (unverified)."""
        return Statement.from_bytes(self.envelope.statement)

    @cached_property
    def certificate(self) -> Any:
        """The signing certificate as a ``cryptography`` object (unverified)."""
        from attestkit.core.certificate import load_certificate

        return load_certificate(self.verification_material.certificate)


@dataclass(frozen=True)
class AttestationBundle:
    """One publisher and the attestations it signed (a provenance entry)."""

    publisher: Publisher
    attestations: tuple[Attestation, ...]

    @classmethod
    def from_dict(cls, value: object, what: str = "attestation_bundle") -> AttestationBundle:
        """Parse one ``attestation_bundles`` element."""
        obj = _object(value, what)
        if "publisher" not in obj:
            raise InputError(f"{what}: missing publisher")
        try:
            publisher = publisher_from_dict(obj["publisher"])
        except InputError as exc:
            raise InputError(f"{what}.{exc.reason}") from None
        atts = obj.get("attestations")
        if not isinstance(atts, list):
            raise InputError(f"{what}.attestations must be an array")
        return cls(
            publisher,
            tuple(
                Attestation.from_dict(a, f"{what}.attestations[{i}]") for i, a in enumerate(atts)
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "publisher": self.publisher.to_dict(),
            "attestations": [a.to_dict() for a in self.attestations],
        }


@dataclass(frozen=True)
class Provenance:
    """The Integrity API's provenance object: bundles of attestations per publisher."""

    attestation_bundles: tuple[AttestationBundle, ...]
    version: Literal[1] = 1

    @classmethod
    def from_dict(cls, value: object) -> Provenance:
        """Parse; a missing ``version`` defaults to 1 as on PyPI."""
        obj = _object(value, "provenance")
        _version(obj, "provenance", default=1)
        bundles = obj.get("attestation_bundles")
        if not isinstance(bundles, list):
            raise InputError("provenance.attestation_bundles must be an array")
        return cls(
            tuple(
                AttestationBundle.from_dict(b, f"attestation_bundles[{i}]")
                for i, b in enumerate(bundles)
            )
        )

    @classmethod
    def from_json(cls, data: str | bytes) -> Provenance:
        """Parse JSON text or bytes."""
        return cls.from_dict(loads_json(data, what="provenance"))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Provenance:
        """Read and parse a provenance file; errors name the file."""
        return _read_document(cls.from_json, path)

    model_validate = from_dict
    model_validate_json = from_json

    def to_dict(self) -> dict[str, Any]:
        """JSON form with pypi-attestations' key order."""
        return {
            "version": self.version,
            "attestation_bundles": [b.to_dict() for b in self.attestation_bundles],
        }

    def to_json(self) -> str:
        """Compact JSON, as pypi-attestations' ``model_dump_json()``."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    def model_dump(self, mode: str = "json") -> dict[str, Any]:
        """pydantic-style alias of :meth:`to_dict`."""
        return self.to_dict()

    model_dump_json = to_json

    @property
    def attestations(self) -> list[tuple[Publisher, Attestation]]:
        """Every (publisher, attestation) pair, flattened."""
        return [(b.publisher, a) for b in self.attestation_bundles for a in b.attestations]
