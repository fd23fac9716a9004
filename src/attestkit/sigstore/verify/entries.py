"""Log entry bodies beyond ``dsse``: Rekor v2 ``hashedrekord`` 0.0.2, ``intoto`` 0.0.2.

Step (8) of the engine for the other kinds a DSSE envelope can be logged as:

* ``hashedrekord`` 0.0.2, how a Rekor v2 log records a DSSE envelope
  (rekor-tiles' ``api/proto/rekor/v2/hashedrekord.proto``; sigstore-python 4.5.1
  ``_validate_hashedrekord_v002_dsse_entry_body``): the digest is the hash of the
  envelope's PAE with the signing algorithm's hash, the signature is the
  envelope's one signature, the verifier is the signing certificate with its key
  details.  The body is compared field for field with the one these materials
  determine, after a strict parse (protobuf-JSON, camelCase, nothing unknown).
* ``dsse`` 0.0.2, Rekor v2's own DSSE kind (rekor-tiles' ``dsse.proto``): the
  payload's SHA-256 and the envelope's signatures with their verifiers, compared
  field for field in the same way.
* ``intoto`` 0.0.2, how Rekor v1 logged in-toto envelopes before ``dsse``
  (rekor ``pkg/types/intoto/v0.0.2``): the payload hash must be the payload's
  SHA-256, the envelope's type and (when kept) payload must be the envelope's,
  and its signatures must be exactly the envelope's one signature by the
  signing certificate.  Rekor stores ``sig`` and ``payload`` base64-encoded
  twice and the certificate as base64 of its PEM.  The envelope ``hash`` covers
  the envelope as submitted (not canonical JSON), so, like the ``dsse``
  envelope hash, it cannot be recomputed and is not checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from attestkit.errors import VerificationError
from attestkit.sigstore.verify.dsse import _reject_constant, pae

__all__ = ["check_dsse_v002_body", "check_hashedrekord_v002_body", "check_intoto_v002_body"]

#: The signing key's ``keyDetails`` and the hash its PAE digest uses (sigstore's registry).
_EC_DETAILS: Final = {
    "secp256r1": ("PKIX_ECDSA_P256_SHA_256", "SHA2_256", hashes.SHA256),
    "secp384r1": ("PKIX_ECDSA_P384_SHA_384", "SHA2_384", hashes.SHA384),
    "secp521r1": ("PKIX_ECDSA_P521_SHA_512", "SHA2_512", hashes.SHA512),
}

_MISMATCH: Final = "transparency log entry is inconsistent with other materials"


def _json(body: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise VerificationError(f"invalid {what} log entry: body is not valid JSON") from None
    if not isinstance(obj, dict):
        raise VerificationError(f"invalid {what} log entry: body is not a JSON object")
    return obj


def check_hashedrekord_v002_body(
    body: bytes, cert: x509.Certificate, payload_type: str, payload: bytes, signature: bytes
) -> None:
    """The ``hashedrekord`` 0.0.2 body records exactly this envelope's PAE digest,
    signature and certificate."""
    details, algorithm, hash_class = _key_details(cert, "hashedrekord")
    digest = hashes.Hash(hash_class())
    digest.update(pae(payload_type, payload))
    expected = {
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": {
            "hashedRekordV002": {
                "data": {
                    "algorithm": algorithm,
                    "digest": base64.b64encode(digest.finalize()).decode(),
                },
                "signature": _signature(signature, cert, details),
            }
        },
    }
    if _normalised(_json(body, "hashedrekord")) != expected:
        raise VerificationError(_MISMATCH)


def check_dsse_v002_body(
    body: bytes, cert: x509.Certificate, payload_type: str, payload: bytes, signature: bytes
) -> None:
    """The ``dsse`` 0.0.2 body (rekor-tiles' ``DSSELogEntryV002``) records this payload's
    SHA-256 and exactly the envelope's one signature by this certificate."""
    del payload_type  # not recorded: it is covered by the signature over the PAE
    details = _key_details(cert, "dsse")[0]
    expected = {
        "apiVersion": "0.0.2",
        "kind": "dsse",
        "spec": {
            "dsseV002": {
                "payloadHash": {
                    "algorithm": "SHA2_256",
                    "digest": base64.b64encode(hashlib.sha256(payload).digest()).decode(),
                },
                "signatures": [_signature(signature, cert, details)],
            }
        },
    }
    if _normalised(_json(body, "dsse")) != expected:
        raise VerificationError(_MISMATCH)


def _key_details(cert: x509.Certificate, kind: str) -> tuple[str, str, type[Any]]:
    """The signing key's ``keyDetails``, PAE digest algorithm and hash (EC keys only)."""
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in _EC_DETAILS:
        raise VerificationError(f"unsupported signing key for a {kind} 0.0.2 entry")
    return _EC_DETAILS[key.curve.name]


def _signature(signature: bytes, cert: x509.Certificate, details: str) -> dict[str, Any]:
    """A Rekor v2 ``Signature``: the content and its verifier (the certificate)."""
    der = cert.public_bytes(serialization.Encoding.DER)
    return {
        "content": base64.b64encode(signature).decode(),
        "verifier": {
            "keyDetails": details,
            "x509Certificate": {"rawBytes": base64.b64encode(der).decode()},
        },
    }


def _normalised(value: Any) -> Any:
    """Base64 values compared by their bytes, not their spelling (padding, line breaks)."""
    if isinstance(value, dict):
        return {
            key: _canonical_b64(item)
            if key in ("digest", "content", "rawBytes")
            else _normalised(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_normalised(item) for item in value]
    return value


def _canonical_b64(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return base64.b64encode(base64.b64decode(value, validate=True)).decode()
    except (binascii.Error, ValueError):
        return value


def check_intoto_v002_body(
    body: bytes, cert: x509.Certificate, payload_type: str, payload: bytes, signature: bytes
) -> None:
    """The ``intoto`` 0.0.2 body records this envelope's payload, type and one signature."""
    obj = _json(body, "intoto")
    if obj.get("kind") != "intoto" or obj.get("apiVersion") != "0.0.2":
        raise VerificationError(_MISMATCH)
    content = _get(_get(obj, "spec"), "content")
    payload_hash = _get(content, "payloadHash")
    if payload_hash.get("algorithm") != "sha256" or payload_hash.get("value") != (
        hashlib.sha256(payload).hexdigest()
    ):
        raise VerificationError("log entry payload hash does not match bundle")
    envelope = _get(content, "envelope")
    if envelope.get("payloadType") != payload_type:
        raise VerificationError(_MISMATCH)
    if "payload" in envelope and _twice(envelope["payload"]) != payload:
        raise VerificationError(_MISMATCH)
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or len(signatures) != 1:
        raise VerificationError("log entry signatures do not match bundle")
    [recorded] = signatures
    if not isinstance(recorded, dict):
        raise VerificationError("log entry signatures do not match bundle")
    if _twice(recorded.get("sig")) != signature or not _same_certificate(
        _once(recorded.get("publicKey")), cert
    ):
        raise VerificationError("log entry signatures do not match bundle")


def _same_certificate(pem: bytes | None, cert: x509.Certificate) -> bool:
    """Whether ``pem`` is ``cert`` (compared as DER: PEM line wrapping varies by writer)."""
    if pem is None:
        return False
    try:
        recorded = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return False
    der = serialization.Encoding.DER
    return recorded.public_bytes(der) == cert.public_bytes(der)


def _get(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise VerificationError(f"invalid intoto log entry: {key} is not an object")
    return value


def _once(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _twice(value: Any) -> bytes | None:
    inner = _once(value)
    if inner is None:
        return None
    try:
        return base64.b64decode(inner, validate=True)
    except (binascii.Error, ValueError):
        return None
