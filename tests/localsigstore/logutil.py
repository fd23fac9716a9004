"""Helpers for the transparency-log tests: test certificates, client requests, verifiers."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import NameOID

from attestkit.errors import VerificationError
from attestkit.localsigstore.keys import KeyStore
from attestkit.localsigstore.merkle import leaf_hash
from attestkit.sigstore_verify import verify_checkpoint, verify_inclusion
from attestkit.trust import TrustedKey


def self_signed(key: ec.EllipticCurvePrivateKey, name: str = "test") -> x509.Certificate:
    """A self-signed certificate for ``key`` (Rekor does not check chains)."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )


def pem_b64(cert: x509.Certificate) -> str:
    """Base64 of the PEM text, as clients send certificates to Rekor."""
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


def hashedrekord_request(
    key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, artifact: bytes
) -> dict[str, Any]:
    """The request sigstore-python's RekorClient builds for a hashedrekord."""
    from sigstore._internal.rekor.client import RekorClient
    from sigstore.hashes import Hashed
    from sigstore_models.common.v1 import HashAlgorithm

    digest = hashlib.sha256(artifact).digest()
    signature = key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=digest)
    # The method does not use ``self``.
    build: Any = RekorClient._build_hashed_rekord_request
    request: dict[str, Any] = build(None, hashed, signature, cert)
    return request


def dsse_envelope(key: ec.EllipticCurvePrivateKey, subject: str = "a.whl") -> Any:
    """A sigstore-python DSSE envelope over a small in-toto statement."""
    from sigstore import dsse

    statement = (
        dsse.StatementBuilder()
        .subjects([dsse.Subject.model_validate({"name": subject, "digest": {"sha256": "ab" * 32}})])
        .predicate_type("https://example.com/predicate/v1")
        .predicate({"x": 1})
        .build()
    )
    return dsse._sign(key, statement)


def dsse_request(
    key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, subject: str = "a.whl"
) -> dict[str, Any]:
    """The request sigstore-python's RekorClient builds for a DSSE envelope."""
    from sigstore._internal.rekor.client import RekorClient

    build: Any = RekorClient._build_dsse_request  # does not use ``self``
    request: dict[str, Any] = build(None, dsse_envelope(key, subject), cert)
    return request


def rekor_trusted_key(keys: KeyStore) -> dict[bytes, TrustedKey]:
    """attestkit's keyring holding the instance's Rekor key."""
    key = TrustedKey(
        keys.rekor_log_id, keys.rekor_key.public_key(), "PKIX_ECDSA_P256_SHA_256", hashes.SHA256()
    )
    return {keys.rekor_log_id: key}


def sigstore_keyring(keys: KeyStore) -> Any:
    """sigstore-python's Rekor keyring holding the instance's Rekor key."""
    from sigstore._internal.trust import Keyring
    from sigstore_models.common import v1 as common_v1

    der = keys.rekor_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Keyring(
        [
            common_v1.PublicKey(
                raw_bytes=base64.b64encode(der),  # ProtoBytes: base64 in, raw bytes kept
                key_details=common_v1.PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
            )
        ]
    )


def verify_response(response: dict[str, Any], keys: KeyStore, *, sigstore: bool = True) -> None:
    """Verify a Rekor v1 entry response with attestkit's verifier and with sigstore-python.

    Checks the inclusion proof, the signed checkpoint and the SET.
    """
    import rfc8785
    from sigstore.models import TransparencyLogEntry

    ((uuid, entry),) = response.items()
    body = base64.b64decode(entry["body"])
    proof = entry["verification"]["inclusionProof"]
    assert uuid == f"{keys.tree_id:016x}{leaf_hash(body).hex()}"
    assert entry["logID"] == keys.rekor_log_id.hex()
    assert proof["logIndex"] == entry["logIndex"]

    # attestkit's own verifier
    keyring = rekor_trusted_key(keys)
    root = bytes.fromhex(proof["rootHash"])
    verify_inclusion(
        proof["logIndex"],
        proof["treeSize"],
        leaf_hash(body),
        [bytes.fromhex(h) for h in proof["hashes"]],
        root,
    )
    verify_checkpoint(proof["checkpoint"], keys.rekor_log_id, root, keyring)
    payload = rfc8785.dumps(
        {
            "body": entry["body"],
            "integratedTime": entry["integratedTime"],
            "logID": entry["logID"],
            "logIndex": entry["logIndex"],
        }
    )
    try:
        keyring[keys.rekor_log_id].verify(
            base64.b64decode(entry["verification"]["signedEntryTimestamp"]), payload
        )
    except InvalidSignature:
        raise VerificationError("SET: invalid signature") from None

    if sigstore:  # sigstore-python's own code: Merkle inclusion, checkpoint, SET
        tle = TransparencyLogEntry._from_v1_response(response)
        tle._verify(sigstore_keyring(keys))
