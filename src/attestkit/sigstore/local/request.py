"""A Fulcio v2 signing request: its bearer token and proof of possession, its refusals (CAError).

Also the identity a leaf certificate carries (:class:`LeafIdentity`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from attestkit.errors import ServiceError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec


__all__ = ["CAError", "LeafIdentity"]


class CAError(ServiceError):
    """A rejected signing request: ``status`` 400 (bad request) or 401 (bad token).

    The server answers ``{"code": status, "message": message}``, like Fulcio.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message

    def as_dict(self) -> dict[str, Any]:
        """The Fulcio-style JSON error body."""
        return {"code": self.status, "message": self.message}


@dataclass(frozen=True)
class LeafIdentity:
    """What goes into a leaf: the SAN (URI, or email when ``email``) and the Fulcio
    extensions (``1.3.6.1.4.1.57264.1.N`` number -> string value, in OID order)."""

    san: str
    email: bool
    extensions: dict[int, str]


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise CAError(401, "Authorization header must be 'Bearer <OIDC token>'")
    return value.strip()


def _b64decode(value: object, what: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise CAError(400, f"{what} must be a non-empty base64 string")
    compact = "".join(value.split())
    try:
        if "-" in compact or "_" in compact:
            return base64.urlsafe_b64decode(compact + "=" * (-len(compact) % 4))
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise CAError(400, f"{what} is not valid base64") from None


def _check_key(key: object, what: str) -> ec.EllipticCurvePublicKey:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(
        key.curve, ec.SECP256R1 | ec.SECP384R1
    ):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        desc = f"ECDSA {key.curve.name}"
    elif isinstance(key, rsa.RSAPublicKey):
        desc = f"RSA-{key.key_size}"
    else:
        desc = type(key).__name__.removeprefix("_")
    raise CAError(400, f"unsupported {what} key {desc} (want ECDSA P-256 or P-384)")


def _csr_public_key(value: object) -> ec.EllipticCurvePublicKey:
    """Decode b64(PEM or DER CSR), check its self-signature, return its (EC) key."""
    from cryptography import x509

    data = _b64decode(value, "certificateSigningRequest")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            csr = x509.load_pem_x509_csr(data)
        else:
            csr = x509.load_der_x509_csr(data)
        key = csr.public_key()
    except (ValueError, TypeError) as exc:
        raise CAError(400, f"certificateSigningRequest is not a valid PKCS#10 CSR: {exc}") from None
    key = _check_key(key, "CSR")
    try:
        valid = csr.is_signature_valid
    except (ValueError, TypeError) as exc:
        raise CAError(400, f"CSR signature cannot be checked: {exc}") from None
    if not valid:
        raise CAError(400, "CSR signature does not verify (no proof of possession of the key)")
    return key


def _proof_subject(claims: Mapping[str, Any], identity: LeafIdentity) -> str:
    """What a ``proofOfPossession`` signs: the email for email issuers, else ``sub``."""
    return identity.san if identity.email else str(claims["sub"])


def _pkr_public_key(request: object, subject: str) -> ec.EllipticCurvePublicKey:
    """The ``publicKeyRequest`` form: PEM key plus a signature over the identity."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    if not isinstance(request, dict) or not isinstance(request.get("publicKey"), dict):
        raise CAError(400, "publicKeyRequest must be {publicKey: {algorithm, content}, ...}")
    content = request["publicKey"].get("content")
    if not isinstance(content, str) or not content:
        raise CAError(400, "publicKeyRequest.publicKey.content must be a PEM public key")
    try:
        key = serialization.load_pem_public_key(content.encode())
    except (ValueError, TypeError) as exc:
        raise CAError(400, f"publicKeyRequest.publicKey.content is not a PEM key: {exc}") from None
    key = _check_key(key, "public")
    proof = _b64decode(request.get("proofOfPossession"), "publicKeyRequest.proofOfPossession")
    for algorithm in (hashes.SHA256(), hashes.SHA384()):
        try:
            key.verify(proof, subject.encode(), ec.ECDSA(algorithm))
            return key
        except InvalidSignature:
            continue
    raise CAError(400, f"proofOfPossession is not a signature over {subject!r} by the key")
