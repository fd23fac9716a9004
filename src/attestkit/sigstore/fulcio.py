"""Fulcio: request a signing certificate for an ephemeral key, and check it before use.

``POST {ca}/api/v2/signingCert`` with the identity token as a bearer token and
a PEM CSR as proof of possession (Fulcio's v2 API, ``fulcio.proto``).  The
returned chain must certify our key, chain to the trust root and carry a valid
SCT: the checks sigstore-python's signer makes (``sigstore/sign.py``), done
with attestkit's engine.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from attestkit.core.encoding import b64encode
from attestkit.sigstore.http import HttpClient, transport_reason
from attestkit.sigstore.services import SigningError

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from attestkit.sigstore.trust import TrustRoot

__all__ = ["check_certificate", "request_certificate"]


def request_certificate(
    http: HttpClient, ca_url: str, identity_token: str
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A fresh P-256 key and the leaf certificate the CA issued for it (chain unchecked)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from urllib3.exceptions import HTTPError

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    body: dict[str, Any] = {
        "certificateSigningRequest": b64encode(csr.public_bytes(serialization.Encoding.PEM))
    }
    try:
        response = http.post_json(
            f"{ca_url}/api/v2/signingCert",
            body,
            {
                "Authorization": f"Bearer {identity_token}",
                "Accept": "application/pem-certificate-chain",
            },
        )
    except HTTPError as exc:
        raise SigningError(
            f"cannot reach the certificate authority at {ca_url}: {transport_reason(exc)}"
        ) from None
    if response.status // 100 != 2:
        raise SigningError(
            f"the certificate authority refused the request ({response.status}):"
            f" {response.message()}"
        )
    try:
        reply = json.loads(response.content)
        chain_pem = reply["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        chain = [x509.load_pem_x509_certificate(c.encode()) for c in chain_pem]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SigningError(
            "the certificate authority's response has no certificate chain"
        ) from None
    if len(chain) < 2:
        raise SigningError("the certificate authority returned no issuer certificate")
    cert = chain[0]
    if cert.public_key() != key.public_key():
        raise SigningError("the certificate authority certified a different key")
    return key, cert


def check_certificate(cert: x509.Certificate, root: TrustRoot, ca_url: str) -> None:
    """The chain and SCT checks sigstore-python's signer makes, against ``root``."""
    from attestkit.errors import VerificationError
    from attestkit.sigstore.verify.engine import verify_chain, verify_sct

    try:
        chain = verify_chain(root, cert, datetime.now(UTC))
        verify_sct(cert, chain, root.ct_keyring)
    except VerificationError as exc:
        raise SigningError(
            f"the certificate from {ca_url} does not verify against the"
            f" {root.name} trust root: {exc.reason}"
        ) from None
