"""Transparency log checks of the engine: inclusion proofs, checkpoints (signed notes), SETs.

RFC 6962 tree hashing and steps (4)-(6) of sigstore-python 4.5.1 (``models.py``
``TransparencyLogEntry._verify``, ``_internal/merkle.py``, ``_internal/rekor/checkpoint.py``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Final

import rfc8785

from attestkit.core.log_entry import LogEntry
from attestkit.errors import VerificationError
from attestkit.sigstore.trust import TrustedKey
from attestkit.sigstore.verify.keyring import keyring_verify

__all__ = ["leaf_hash", "node_hash", "verify_checkpoint", "verify_inclusion"]

#: Signed-note signature lines, as sigstore parses them.
_NOTE_SIGNATURE: Final = re.compile("\u2014 (\\S+) (\\S+)\n")


#: ``apiVersion`` pattern of rekor_types' proposed entries (semver).
_SEMVER: Final = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


def _verify_log_entry(entry: LogEntry, keyring: Mapping[bytes, TrustedKey]) -> None:
    proof = entry.inclusion_proof
    if proof is None:  # checked by the caller; kept for direct use
        raise VerificationError("entry must contain inclusion proof, with checkpoint")
    verify_inclusion(
        proof.log_index,
        proof.tree_size,
        leaf_hash(entry.canonicalized_body),
        proof.hashes,
        proof.root_hash,
    )
    verify_checkpoint(proof.checkpoint, entry.log_id, proof.root_hash, keyring)
    if entry.inclusion_promise is not None and entry.integrated_time:
        _verify_set(entry, entry.inclusion_promise, keyring)


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Verify an RFC 6962 inclusion proof of ``leaf`` (a leaf hash) at ``index`` of ``size``.

    The algorithm and length check of sigstore's ``merkle.py`` (after
    Trillian), plus sigstore-models' ``logIndex < treeSize`` rule.  Raises
    :class:`~attestkit.errors.VerificationError`.
    """
    if index < 0 or size <= index:
        raise VerificationError(f"logIndex {index} must be less than treeSize {size}")
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    if len(proof) != inner + border:
        raise VerificationError(
            f"inclusion proof has wrong size: expected {inner + border}, got {len(proof)}"
        )
    seed = leaf
    for i, h in enumerate(proof[:inner]):
        seed = node_hash(seed, h) if (index >> i) & 1 == 0 else node_hash(h, seed)
    for h in proof[inner:]:
        seed = node_hash(h, seed)
    if seed != root:
        raise VerificationError(
            f"inclusion proof contains invalid root hash: expected {root.hex()}, "
            f"calculated {seed.hex()}"
        )


def verify_checkpoint(
    text: str, log_id: bytes, root_hash: bytes, keyring: Mapping[bytes, TrustedKey]
) -> None:
    """Verify a Rekor checkpoint (a signed note) and that it commits to ``root_hash``.

    Parsing follows sigstore's ``checkpoint.py`` exactly: one blank line, the
    signature lines ``— name base64``, a header of at least origin, size and
    root hash; the signature used is the first whose 4-byte hint equals
    ``log_id[:4]``.  Origin and size are not compared (sigstore does not).
    """
    # SignedNote.from_text
    separator = "\n\n"
    if text.count(separator) != 1:
        raise VerificationError(
            "note must contain one blank line, delineating the text from the signature block"
        )
    split = text.index(separator)
    header = text[: split + 1]
    data = text[split + len(separator) :]
    if not data:
        raise VerificationError("malformed Note: must contain at least one signature")
    if data[-1] != "\n":
        raise VerificationError("malformed Note: data section must end with newline")
    signatures: list[tuple[bytes, bytes]] = []
    for _name, sig_text in _NOTE_SIGNATURE.findall(data):
        try:
            raw = base64.b64decode(sig_text)
        except (binascii.Error, ValueError):
            raise VerificationError("malformed Note: signature is not base64") from None
        if len(raw) < 5:
            raise VerificationError("malformed Note: signature contains too few bytes")
        signatures.append((raw[:4], raw[4:]))

    # LogCheckpoint.from_text
    lines = header.strip().split("\n")
    if len(lines) < 3:
        raise VerificationError("malformed LogCheckpoint: too few items in header")
    if not lines[0]:
        raise VerificationError("malformed LogCheckpoint: empty origin")
    try:
        int(lines[1])
    except ValueError:
        raise VerificationError("malformed LogCheckpoint: invalid log size") from None
    try:
        checkpoint_hash = base64.b64decode(lines[2])
    except (binascii.Error, ValueError):
        raise VerificationError("malformed LogCheckpoint: invalid root hash") from None

    # SignedNote.verify
    try:
        note = header.encode()
    except UnicodeEncodeError:
        raise VerificationError("malformed Note: text is not encodable as UTF-8") from None
    for hint, signature in signatures:
        if hint == log_id[:4]:
            try:
                keyring_verify(keyring, log_id, signature, note)
            except VerificationError as exc:
                raise VerificationError(f"checkpoint: invalid signature: {exc}") from None
            break
    else:
        raise VerificationError(f"checkpoint: Signature not found for log ID {log_id.hex()}")

    if checkpoint_hash != root_hash:
        raise VerificationError(
            "Inclusion proof contains invalid root hash signature: "
            f"expected {checkpoint_hash.hex()} got {root_hash.hex()}"
        )


def _verify_set(entry: LogEntry, promise: bytes, keyring: Mapping[bytes, TrustedKey]) -> None:
    payload: dict[str, str | int] = {
        "body": base64.b64encode(entry.canonicalized_body).decode(),
        "integratedTime": entry.integrated_time,
        "logID": entry.log_id.hex(),
        "logIndex": entry.log_index,
    }
    try:
        canonical = rfc8785.dumps(payload)
    except rfc8785.CanonicalizationError as exc:
        raise VerificationError(f"SET: invalid inclusion promise: {exc}") from None
    try:
        keyring_verify(keyring, entry.log_id, promise, canonical)
    except VerificationError as exc:
        raise VerificationError(f"SET: invalid inclusion promise: {exc}") from None
