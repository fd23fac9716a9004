"""Admission of Rekor v1 proposed entries (``POST /api/v1/log/entries``).

What it is for: :func:`admit` checks a proposed entry the way real Rekor does
and returns the canonical body the log stores (Rekor's OpenAPI description, ``openapi.yaml``,
§5.2), or raises :class:`AdmissionError`, which the server answers with ``400
{"code": 400, "message": ...}``; nothing is logged then.

Supported kinds, both ``apiVersion`` ``0.0.1``:

* ``hashedrekord``: the ECDSA signature (DER, base64) must verify over the given
  SHA-256 digest (prehashed) with the key of the PEM certificate (or PEM public
  key) in ``spec.signature.publicKey.content``;
* ``dsse``: every signature of the envelope (``spec.proposedContent.envelope``,
  a JSON string) must verify, ECDSA-SHA256 over the DSSE PAE, with at least one
  of ``spec.proposedContent.verifiers``.

As in Rekor, the certificate chain is not validated.  The canonical body is the
RFC 8785 (JCS) serialization of the fields Rekor keeps, with every string
copied verbatim from the request, because verifiers rebuild it from the bundle
and compare (rekor ``pkg/types/hashedrekord/v0.0.1`` and ``pkg/types/dsse/v0.0.1``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import TYPE_CHECKING, Any, Final

import rfc8785

from attestkit.errors import AttestkitError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

__all__ = ["AdmissionError", "admit"]

_SHA256_HEX: Final = re.compile(r"[0-9a-fA-F]{64}")


class AdmissionError(AttestkitError):
    """The proposed entry is refused (HTTP 400); the message says why."""


def admit(proposed: object) -> bytes:
    """Check a proposed Rekor entry; return its RFC 8785 canonical body.

    ``proposed`` is the parsed request JSON, or its raw text (``str`` or
    ``bytes``).  Raises :class:`AdmissionError` if it is malformed, of an
    unsupported kind or version, or if a signature does not verify.
    """
    if isinstance(proposed, bytes | str):
        proposed = _parse_json(proposed, "request body")
    obj = _object(proposed, "proposed entry")
    kind = obj.get("kind")
    api_version = obj.get("apiVersion")
    if not isinstance(kind, str):
        raise AdmissionError("proposed entry: 'kind' must be a string")
    if not isinstance(api_version, str):
        raise AdmissionError("proposed entry: 'apiVersion' must be a string")
    if kind not in ("hashedrekord", "dsse"):
        raise AdmissionError(f"unsupported entry kind {kind!r} (hashedrekord and dsse only)")
    if api_version != "0.0.1":
        raise AdmissionError(f"unsupported {kind} apiVersion {api_version!r} (0.0.1 only)")
    spec = _object(obj.get("spec"), f"{kind} spec")
    canonical = _hashedrekord(spec) if kind == "hashedrekord" else _dsse(spec)
    return rfc8785.dumps(canonical)


# -- hashedrekord 0.0.1 -----------------------------------------------------------


def _hashedrekord(spec: dict[str, Any]) -> dict[str, Any]:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    signature = _object(spec.get("signature"), "spec.signature")
    sig_text = _string(signature.get("content"), "spec.signature.content")
    key_text = _string(
        _object(signature.get("publicKey"), "spec.signature.publicKey").get("content"),
        "spec.signature.publicKey.content",
    )
    digest = _object(_object(spec.get("data"), "spec.data").get("hash"), "spec.data.hash")
    algorithm = _string(digest.get("algorithm"), "spec.data.hash.algorithm")
    value = _string(digest.get("value"), "spec.data.hash.value")
    if algorithm != "sha256":
        raise AdmissionError(f"unsupported hash algorithm {algorithm!r} (sha256 only)")
    if not _SHA256_HEX.fullmatch(value):
        raise AdmissionError("spec.data.hash.value must be 64 hexadecimal digits")
    sig = _b64(sig_text, "spec.signature.content")
    key = _public_key(_b64(key_text, "spec.signature.publicKey.content"), "public key")
    try:
        key.verify(sig, bytes.fromhex(value), ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    except (InvalidSignature, ValueError):
        raise AdmissionError(
            "hashedrekord signature does not verify over the digest with the given key"
        ) from None
    return {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": algorithm, "value": value}},
            "signature": {"content": sig_text, "publicKey": {"content": key_text}},
        },
    }


# -- dsse 0.0.1 -------------------------------------------------------------------


def _dsse(spec: dict[str, Any]) -> dict[str, Any]:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    proposed = _object(spec.get("proposedContent"), "spec.proposedContent")
    envelope_text = _string(proposed.get("envelope"), "spec.proposedContent.envelope")
    verifier_texts = proposed.get("verifiers")
    if not isinstance(verifier_texts, list) or not verifier_texts:
        raise AdmissionError("spec.proposedContent.verifiers must be a non-empty array")
    verifiers = [
        (
            _string(v, "spec.proposedContent.verifiers[]"),
            _public_key(_b64(v, "spec.proposedContent.verifiers[]"), "verifier"),
        )
        for v in verifier_texts
    ]

    envelope = _object(_parse_json(envelope_text, "DSSE envelope"), "DSSE envelope")
    payload = _b64(_string(envelope.get("payload"), "envelope payload"), "envelope payload")
    payload_type = _string(envelope.get("payloadType"), "envelope payloadType")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise AdmissionError("DSSE envelope: signatures must be a non-empty array")
    pae = _pae(payload_type, payload)
    ecdsa = ec.ECDSA(hashes.SHA256())
    entries: list[dict[str, str]] = []
    for item in signatures:
        sig_text = _string(_object(item, "envelope signature").get("sig"), "envelope sig")
        sig = _b64(sig_text, "envelope sig")
        if not sig:
            raise AdmissionError("DSSE envelope: empty signature")
        for verifier_text, key in verifiers:
            try:
                key.verify(sig, pae, ecdsa)
            except (InvalidSignature, ValueError):
                continue
            entries.append({"signature": sig_text, "verifier": verifier_text})
            break
        else:
            raise AdmissionError("DSSE envelope: a signature does not verify with any verifier")
    entries.sort(key=lambda e: e["signature"])
    return {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {
                "algorithm": "sha256",
                "value": hashlib.sha256(envelope_text.encode()).hexdigest(),
            },
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": entries,
        },
    }


def _pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 PAE; lengths are byte counts, as in Rekor and the DSSE specification."""
    type_bytes = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(type_bytes), type_bytes, len(payload), payload)


# -- helpers ---------------------------------------------------------------------


def _parse_json(text: bytes | str, what: str) -> object:
    from attestkit.core.encoding import loads_json
    from attestkit.errors import InputError

    try:
        return loads_json(text, what=what)
    except InputError:
        raise AdmissionError(f"{what} is not valid JSON") from None


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AdmissionError(f"{what} must be a JSON object")
    return value


def _string(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise AdmissionError(f"{what} must be a non-empty string")
    return value


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise AdmissionError(f"{what} is not valid standard base64") from None


def _public_key(pem: bytes, what: str) -> EllipticCurvePublicKey:
    """The ECDSA key of a PEM certificate or PEM public key."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    is_cert = b"-----BEGIN CERTIFICATE-----" in pem
    if not is_cert and b"-----BEGIN PUBLIC KEY-----" not in pem:
        raise AdmissionError(f"{what} is not a PEM certificate or public key")
    key: object
    try:
        if is_cert:
            key = x509.load_pem_x509_certificate(pem).public_key()
        else:
            key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise AdmissionError(f"{what}: invalid PEM certificate or public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise AdmissionError(f"{what}: unsupported key type (ECDSA only)")
    return key
