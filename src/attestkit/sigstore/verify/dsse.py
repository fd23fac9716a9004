"""DSSE checks of the engine: PAE, the envelope signature, and the log body's consistency.

Steps (7)-(8) of sigstore-python 4.5.1 (``sigstore/dsse``, ``verifier.py``
``_validate_dsse_v001_entry_body``); the body is parsed as strictly as Go's JSON."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from attestkit.errors import VerificationError
from attestkit.sigstore.verify.tlog import (
    _SEMVER,
)

__all__ = ["pae"]

#: A JSON ``\\uD800``-``\\uDFFF`` escape (surrogates; see :func:`_dsse_body`).
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding, byte for byte as sigstore-python builds it.

    Note: like sigstore-python, the type's length is its length in characters.
    """
    return f"DSSEv1 {len(payload_type)} {payload_type} ".encode() + b" ".join(
        [str(len(payload)).encode(), payload]
    )


def _verify_dsse_signature(
    cert: x509.Certificate, payload: bytes, payload_type: str, signature: bytes
) -> None:
    if not signature:
        raise VerificationError("DSSE: envelope signature must be non-empty")
    try:
        key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        raise VerificationError("DSSE: unsupported signing key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise VerificationError("DSSE: signing key is not an ECDSA key")
    try:
        message = pae(payload_type, payload)
    except UnicodeEncodeError:
        raise VerificationError("DSSE: payload type is not encodable as UTF-8") from None
    try:
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise VerificationError("DSSE: invalid signature") from None


def _check_dsse_body(body: bytes, cert: x509.Certificate, payload: bytes, signature: bytes) -> None:
    spec = _dsse_body(body)
    payload_hash = spec.get("payloadHash")
    if payload_hash is None:
        raise VerificationError("invalid DSSE log entry: no payloadHash")
    # The algorithm was validated as "sha256" by _dsse_body.
    if hashlib.sha256(payload).hexdigest() != payload_hash["value"]:
        raise VerificationError("log entry payload hash does not match bundle")
    expected = [
        {
            "signature": base64.b64encode(signature).decode(),
            "verifier": base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode(),
        }
    ]
    actual = spec.get("signatures")
    if (
        actual is None
        or [{"signature": s["signature"], "verifier": s["verifier"]} for s in actual] != expected
    ):
        raise VerificationError("log entry signatures do not match bundle")


def _dsse_body(body: bytes) -> dict[str, Any]:
    """Parse a dsse 0.0.1 body as ``rekor_types.Dsse`` would, or stricter; return its spec.

    rekor_types (pydantic) validates ``kind`` (default "dsse"), ``apiVersion``
    (semver, default "0.0.1") and ``spec`` as one of two schemas: with a valid
    ``proposedContent``, or with ``signatures``, ``envelopeHash`` and
    ``payloadHash``; extra fields are ignored.  Stricter here: snake_case
    spellings, JSON constants such as ``NaN`` and escaped surrogates are
    refused rather than second-guessing how pydantic would resolve them.
    """

    def bad(reason: str) -> VerificationError:
        return VerificationError(f"invalid DSSE log entry: {reason}")

    if _SURROGATE_ESCAPE.search(body):
        raise bad("escaped UTF-16 surrogate in the body")
    try:
        obj = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise bad("body is not valid JSON") from None
    if not isinstance(obj, dict):
        raise bad("body is not a JSON object")
    if "api_version" in obj:
        raise bad("ambiguous field 'api_version'")
    if obj.get("kind", "dsse") != "dsse":
        raise bad(f"kind is {obj.get('kind')!r}, not 'dsse'")
    api_version = obj.get("apiVersion", "0.0.1")
    if not isinstance(api_version, str) or not _SEMVER.match(api_version):
        raise bad("apiVersion is not a version string")
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise bad("spec is not an object")
    for snake in ("proposed_content", "envelope_hash", "payload_hash"):
        if snake in spec:
            raise bad(f"ambiguous field {snake!r}")

    proposed = spec.get("proposedContent")
    if proposed is not None:
        if not isinstance(proposed, dict) or not isinstance(proposed.get("envelope"), str):
            raise bad("proposedContent.envelope must be a string")
        verifiers = proposed.get("verifiers")
        if (
            not isinstance(verifiers, list)
            or not verifiers
            or not all(isinstance(v, str) for v in verifiers)
        ):
            raise bad("proposedContent.verifiers must be a non-empty array of strings")
    signatures = spec.get("signatures")
    if signatures is not None:
        if not isinstance(signatures, list) or not signatures:
            raise bad("signatures must be a non-empty array")
        for sig in signatures:
            if not (
                isinstance(sig, dict)
                and isinstance(sig.get("signature"), str)
                and isinstance(sig.get("verifier"), str)
            ):
                raise bad("each signature needs string signature and verifier")
    for key in ("envelopeHash", "payloadHash"):
        value = spec.get(key)
        if value is not None and not (
            isinstance(value, dict)
            and value.get("algorithm") == "sha256"
            and isinstance(value.get("value"), str)
        ):
            raise bad(f"{key} must be a sha256 hash with a string value")
    complete = signatures is not None and all(
        spec.get(k) is not None for k in ("envelopeHash", "payloadHash")
    )
    if proposed is None and not complete:
        raise bad("spec matches neither DSSE v0.0.1 schema")
    return spec


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")
