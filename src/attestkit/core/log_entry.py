"""Rekor transparency-log entries in protobuf-JSON (``TransparencyLogEntry``).

Attestations and bundles carry the log entry as protobuf-JSON: camelCase keys,
int64 values as decimal strings, bytes as standard base64.  :class:`LogEntry`
parses that strictly (the same strictness as sigstore-python: unknown keys and
numeric int64 values are rejected; proto snake_case names are accepted) and
serialises it back as camelCase only.

>>> LogEntry.from_dict({"logIndex": "1"})  # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
attestkit.errors.InputError: transparency entry: missing logId
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from attestkit.core.encoding import b64decode, b64encode, json_type
from attestkit.errors import InputError

__all__ = ["InclusionProof", "LogEntry"]

_INT64 = re.compile(r"-?[0-9]{1,19}")

_ENTRY_KEYS = {
    "logIndex": "logIndex",
    "log_index": "logIndex",
    "logId": "logId",
    "log_id": "logId",
    "kindVersion": "kindVersion",
    "kind_version": "kindVersion",
    "integratedTime": "integratedTime",
    "integrated_time": "integratedTime",
    "inclusionPromise": "inclusionPromise",
    "inclusion_promise": "inclusionPromise",
    "inclusionProof": "inclusionProof",
    "inclusion_proof": "inclusionProof",
    "canonicalizedBody": "canonicalizedBody",
    "canonicalized_body": "canonicalizedBody",
}
_PROOF_KEYS = {
    "logIndex": "logIndex",
    "log_index": "logIndex",
    "rootHash": "rootHash",
    "root_hash": "rootHash",
    "treeSize": "treeSize",
    "tree_size": "treeSize",
    "hashes": "hashes",
    "checkpoint": "checkpoint",
}


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """An RFC 6962 inclusion proof with its signed checkpoint (a signed note)."""

    log_index: int
    root_hash: bytes
    tree_size: int
    hashes: tuple[bytes, ...]
    checkpoint: str


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One Rekor log entry as carried in a bundle or attestation."""

    log_index: int
    log_id: bytes
    kind: str
    kind_version: str
    integrated_time: int
    inclusion_promise: bytes | None
    inclusion_proof: InclusionProof | None
    canonicalized_body: bytes

    @classmethod
    def from_dict(cls, value: object, *, what: str = "transparency entry") -> LogEntry:
        """Parse a protobuf-JSON ``TransparencyLogEntry``; raise :class:`InputError`."""
        obj = _normalise(value, _ENTRY_KEYS, what)
        log_index = _int64(obj, "logIndex", what, required=True)
        log_id = _obj(obj, "logId", what, required=True)
        assert log_index is not None and log_id is not None
        key_id = b64decode(
            _only(log_id, {"keyId", "key_id"}, f"{what}.logId"), what=f"{what}.logId.keyId"
        )
        kv = _obj(obj, "kindVersion", what, required=True)
        assert kv is not None
        kv = _normalise(kv, {"kind": "kind", "version": "version"}, f"{what}.kindVersion")
        kind, version = kv.get("kind"), kv.get("version")
        if not isinstance(kind, str) or not isinstance(version, str) or not kind or not version:
            raise InputError(f"{what}.kindVersion needs string kind and version")
        integrated = _int64(obj, "integratedTime", what, required=False)
        promise_obj = _obj(obj, "inclusionPromise", what, required=False)
        promise = None
        if promise_obj is not None:
            raw = _only(
                promise_obj,
                {"signedEntryTimestamp", "signed_entry_timestamp"},
                f"{what}.inclusionPromise",
            )
            promise = b64decode(raw, what=f"{what}.inclusionPromise.signedEntryTimestamp")
        proof_obj = _obj(obj, "inclusionProof", what, required=False)
        proof = _proof(proof_obj, f"{what}.inclusionProof") if proof_obj is not None else None
        if "canonicalizedBody" not in obj:
            raise InputError(f"{what}: missing canonicalizedBody")
        body = b64decode(obj["canonicalizedBody"], what=f"{what}.canonicalizedBody")
        return cls(log_index, key_id, kind, version, integrated or 0, promise, proof, body)

    def to_dict(self) -> dict[str, Any]:
        """Serialise as protobuf-JSON with camelCase keys (the order sigstore-python emits)."""
        out: dict[str, Any] = {
            "logIndex": str(self.log_index),
            "logId": {"keyId": b64encode(self.log_id)},
            "kindVersion": {"kind": self.kind, "version": self.kind_version},
        }
        if self.integrated_time:
            out["integratedTime"] = str(self.integrated_time)
        if self.inclusion_promise is not None:
            out["inclusionPromise"] = {"signedEntryTimestamp": b64encode(self.inclusion_promise)}
        if self.inclusion_proof is not None:
            p = self.inclusion_proof
            out["inclusionProof"] = {
                "logIndex": str(p.log_index),
                "rootHash": b64encode(p.root_hash),
                "treeSize": str(p.tree_size),
                "hashes": [b64encode(h) for h in p.hashes],
                "checkpoint": {"envelope": p.checkpoint},
            }
        out["canonicalizedBody"] = b64encode(self.canonicalized_body)
        return out


def _normalise(value: object, keys: dict[str, str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"{what} must be an object, got {json_type(value)}")
    out: dict[str, Any] = {}
    for key, item in value.items():
        canonical = keys.get(key)
        if canonical is None:
            raise InputError(f"{what}: unknown field {key!r}")
        if canonical in out:
            raise InputError(f"{what}: field {canonical!r} given twice")
        out[canonical] = item
    return out


def _only(value: dict[str, Any], names: set[str], what: str) -> Any:
    if not isinstance(value, dict):
        raise InputError(f"{what} must be an object")
    unknown = set(value) - names
    if unknown:
        raise InputError(f"{what}: unknown field {sorted(unknown)[0]!r}")
    present = [value[n] for n in names if n in value]
    if len(present) != 1:
        raise InputError(f"{what}: expected exactly one of {sorted(names)[0]!r}")
    return present[0]


def _obj(obj: dict[str, Any], key: str, what: str, *, required: bool) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise InputError(f"{what}: missing {key}")
        return None
    if not isinstance(value, dict):
        raise InputError(f"{what}.{key} must be an object, got {json_type(value)}")
    return value


def _int64(obj: dict[str, Any], key: str, what: str, *, required: bool) -> int | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise InputError(f"{what}: missing {key}")
        return None
    if not isinstance(value, str) or not _INT64.fullmatch(value):
        raise InputError(f"{what}.{key} must be a decimal string, got {json_type(value)}")
    number = int(value)
    if number < 0:
        raise InputError(f"{what}.{key} must not be negative")
    return number


def _proof(value: dict[str, Any], what: str) -> InclusionProof:
    obj = _normalise(value, _PROOF_KEYS, what)
    log_index = _int64(obj, "logIndex", what, required=True)
    tree_size = _int64(obj, "treeSize", what, required=True)
    assert log_index is not None and tree_size is not None
    if "rootHash" not in obj:
        raise InputError(f"{what}: missing rootHash")
    root = b64decode(obj["rootHash"], what=f"{what}.rootHash")
    hashes_raw = obj.get("hashes", [])
    if not isinstance(hashes_raw, list):
        raise InputError(f"{what}.hashes must be an array")
    hashes = tuple(b64decode(h, what=f"{what}.hashes[{i}]") for i, h in enumerate(hashes_raw))
    cp = obj.get("checkpoint")
    if cp is None:
        raise InputError(f"{what}: missing checkpoint")
    envelope = _only(cp, {"envelope"}, f"{what}.checkpoint")
    if not isinstance(envelope, str) or not envelope:
        raise InputError(f"{what}.checkpoint.envelope must be a non-empty string")
    return InclusionProof(log_index, root, tree_size, hashes, envelope)
