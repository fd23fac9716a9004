"""Admission of Rekor v2 entries (``POST /api/v2/log/entries``) and their responses.

A Rekor v2 log (rekor-tiles' ``api/proto/rekor/v2``) takes a
``CreateEntryRequest`` with a ``hashedRekordRequestV002`` (a digest, a signature
over it and the verifier: an X.509 certificate with its key details) or a
``dsseRequestV002`` (a DSSE envelope and its verifiers).  Every signature must
verify (ECDSA over the prehashed digest, or over the envelope's PAE), and the log
stores the canonical ``Entry`` (``kind`` hashedrekord or dsse, ``apiVersion``
0.0.2), RFC 8785 JSON here.  As in Rekor, the certificate chain is not validated.  The answer is the
integrated ``TransparencyLogEntry`` (protobuf-JSON): no integrated time and no
signed entry timestamp (a v2 entry's time comes from RFC 3161 timestamps), an
inclusion proof with its signed checkpoint.

DSSE envelopes go to a Rekor v2 log as this same kind, with the digest of the
envelope's PAE (sigstore-python 4.5.1's ``RekorV2Client._build_dsse_request``).
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any, Final

import rfc8785

from attestkit.sigstore.local.rekor import AdmissionError

if TYPE_CHECKING:
    from attestkit.sigstore.local.log import LogEntry, TransparencyLog

__all__ = ["admit_v2", "entry_response_v2"]

#: Key details this log accepts, with the digest algorithm and size they imply.
_DETAILS: Final = {"PKIX_ECDSA_P256_SHA_256": ("SHA2_256", 32)}


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise AdmissionError(f"{what} must be a non-empty base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise AdmissionError(f"{what} is not valid base64") from None


def _object(value: object, what: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AdmissionError(f"{what} must be an object")
    unknown = set(value) - keys
    if unknown:
        raise AdmissionError(f"{what}: unknown field {sorted(unknown)[0]!r}")
    return value


def admit_v2(request: object) -> bytes:
    """Check a ``CreateEntryRequest``; return the canonical ``Entry`` body it logs."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    top = _object(request, "request", {"hashedRekordRequestV002", "dsseRequestV002"})
    if len(top) != 1:
        raise AdmissionError("request: give one of hashedRekordRequestV002 or dsseRequestV002")
    if "dsseRequestV002" in top:
        return _admit_dsse(top["dsseRequestV002"])
    spec = _object(top["hashedRekordRequestV002"], "hashedRekordRequestV002",
                   {"digest", "signature"})  # fmt: skip
    digest = _b64(spec.get("digest"), "digest")
    signature = _object(spec.get("signature"), "signature", {"content", "verifier"})
    content = _b64(signature.get("content"), "signature.content")
    key, der, details = _certificate_key(signature.get("verifier"), "signature.verifier")
    algorithm, size = _DETAILS[details]
    if len(digest) != size:
        raise AdmissionError(f"digest must be {size} bytes for {details}")
    try:
        key.verify(content, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    except InvalidSignature:
        raise AdmissionError("the signature does not verify over the digest") from None
    entry: dict[str, Any] = {
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": {
            "hashedRekordV002": {
                "data": {"algorithm": algorithm, "digest": base64.b64encode(digest).decode()},
                "signature": _signature(content, der, details),
            }
        },
    }
    return bytes(rfc8785.dumps(entry))


def _signature(content: bytes, der: bytes, details: str) -> dict[str, Any]:
    """A ``Signature`` of an entry: its bytes and the verifier (certificate, key details)."""
    return {
        "content": base64.b64encode(content).decode(),
        "verifier": {
            "keyDetails": details,
            "x509Certificate": {"rawBytes": base64.b64encode(der).decode()},
        },
    }


def _certificate_key(verifier: object, what: str) -> tuple[Any, bytes, str]:
    """The verifier's EC P-256 key, certificate DER and key details."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    checked = _object(verifier, what, {"x509Certificate", "keyDetails", "publicKey"})
    details = checked.get("keyDetails")
    if details not in _DETAILS:
        raise AdmissionError(f"{what}.keyDetails {details!r} is not supported")
    raw = _object(checked.get("x509Certificate"), f"{what}.x509Certificate", {"rawBytes"})
    der = _b64(raw.get("rawBytes"), f"{what}.x509Certificate.rawBytes")
    try:
        key = x509.load_der_x509_certificate(der).public_key()
    except ValueError as exc:
        raise AdmissionError(f"the verifier is not an X.509 certificate: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise AdmissionError(f"the certificate's key does not match {details}")
    return key, der, str(details)


def _admit_dsse(request: object) -> bytes:
    """A ``DSSERequestV002``: every envelope signature must verify with one of the verifiers."""
    import hashlib

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from attestkit.sigstore.verify.dsse import pae

    spec = _object(request, "dsseRequestV002", {"envelope", "verifiers"})
    envelope = _object(spec.get("envelope"), "envelope", {"payload", "payloadType", "signatures"})
    payload = _b64(envelope.get("payload"), "envelope.payload")
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str) or not payload_type:
        raise AdmissionError("envelope.payloadType must be a non-empty string")
    verifiers = spec.get("verifiers")
    if not isinstance(verifiers, list) or not verifiers:
        raise AdmissionError("verifiers must be a non-empty array")
    keys = [_certificate_key(v, f"verifiers[{i}]") for i, v in enumerate(verifiers)]
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise AdmissionError("envelope.signatures must be a non-empty array")
    message = pae(payload_type, payload)
    recorded = []
    for i, entry in enumerate(signatures):
        sig = _b64(_object(entry, f"envelope.signatures[{i}]", {"sig", "keyid"}).get("sig"),
                   f"envelope.signatures[{i}].sig")  # fmt: skip
        for key, der, details in keys:
            try:
                key.verify(sig, message, ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                continue
            recorded.append(_signature(sig, der, details))
            break
        else:
            raise AdmissionError(f"envelope.signatures[{i}] does not verify with any verifier")
    entry_body: dict[str, Any] = {
        "apiVersion": "0.0.2",
        "kind": "dsse",
        "spec": {
            "dsseV002": {
                "payloadHash": {
                    "algorithm": "SHA2_256",
                    "digest": base64.b64encode(hashlib.sha256(payload).digest()).decode(),
                },
                "signatures": recorded,
            }
        },
    }
    return bytes(rfc8785.dumps(entry_body))


def entry_response_v2(log: TransparencyLog, entry: LogEntry) -> dict[str, Any]:
    """The ``TransparencyLogEntry`` for an entry of the v2 log, proved at the current size."""
    size = log.size()
    hashes, root = log.inclusion_proof(entry.index, size)
    return {
        "logIndex": str(entry.index),
        "logId": {"keyId": base64.b64encode(log.log_id).decode()},
        "kindVersion": {"kind": _kind(entry.body), "version": "0.0.2"},
        "inclusionProof": {
            "logIndex": str(entry.index),
            "rootHash": base64.b64encode(root).decode(),
            "treeSize": str(size),
            "hashes": [base64.b64encode(h).decode() for h in hashes],
            "checkpoint": {"envelope": log.checkpoint(size)},
        },
        "canonicalizedBody": base64.b64encode(entry.body).decode(),
    }


def _kind(body: bytes) -> str:
    import json

    kind = json.loads(body).get("kind")
    return str(kind) if kind in ("hashedrekord", "dsse") else "hashedrekord"
