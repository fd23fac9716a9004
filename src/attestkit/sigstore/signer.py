"""The Sigstore signer: one identity token, one key, one certificate; many DSSE statements.

The flow, per run: one ephemeral P-256 key and **one** Fulcio certificate
(its SCT and chain checked against the trust root, as sigstore-python's
signer does), then, per statement, a DSSE envelope logged concurrently with the
others: to a Rekor v1 log (``dsse`` 0.0.1, timed by its SET), or to a Rekor v2
log (``hashedrekord`` 0.0.2 over the PAE) with an RFC 3161 timestamp over the
signature from the instance's timestamp authority."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from attestkit.core.constants import INTOTO_PAYLOAD_TYPE, PUBLISH_PREDICATE_V1
from attestkit.core.distribution import Distribution
from attestkit.core.encoding import b64encode
from attestkit.core.models import Attestation, Envelope, VerificationMaterial
from attestkit.core.statement import build_statement

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
from attestkit.sigstore.http import DEFAULT_TIMEOUT, HttpClient
from attestkit.sigstore.services import SigningError, SigningServices

__all__ = ["SignedStatement", "SigningSession"]


@dataclass(frozen=True)
class SignedStatement:
    """What one file's signing produced."""

    dist: Distribution
    predicate_type: str
    attestation: Attestation


class SigningSession:
    """One identity token, one key, one certificate; signs many statements concurrently."""

    def __init__(
        self,
        services: SigningServices,
        identity_token: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        workers: int = 8,
    ) -> None:
        self.services = services
        self.identity_token = identity_token
        self.timeout = timeout
        self.workers = max(1, workers)
        self._http: HttpClient | None = None
        self._key: ec.EllipticCurvePrivateKey | None = None
        self._cert: x509.Certificate | None = None
        self._cert_der = b""
        self._verifier_pem = ""

    # -- HTTP -----------------------------------------------------------------
    def _client(self) -> HttpClient:
        if self._http is None:
            self._http = HttpClient(
                [
                    self.services.ca_url,
                    self.services.rekor_url,
                    *([self.services.tsa_url] if self.services.tsa_url else []),
                ],
                timeout=self.timeout,
                connections=self.workers,
            )
        return self._http

    # -- certificate ------------------------------------------------------------
    def certificate(self) -> x509.Certificate:
        """Request (once) and check the signing certificate."""
        if self._cert is not None:
            if datetime.now(UTC) > self._cert.not_valid_after_utc:
                raise SigningError("the signing certificate expired during the run; sign again")
            return self._cert
        from cryptography.hazmat.primitives import serialization

        from attestkit.sigstore.fulcio import check_certificate, request_certificate

        key, cert = request_certificate(self._client(), self.services.ca_url, self.identity_token)
        check_certificate(cert, self.services.trust_root, self.services.ca_url)
        self._key = key
        self._cert = cert
        self._cert_der = cert.public_bytes(serialization.Encoding.DER)
        self._verifier_pem = b64encode(cert.public_bytes(serialization.Encoding.PEM))
        return cert

    # -- signing ------------------------------------------------------------------
    def sign(
        self,
        dist: Distribution,
        predicate_type: str = PUBLISH_PREDICATE_V1,
        predicate: dict[str, Any] | None = None,
    ) -> Attestation:
        """Sign one statement about ``dist`` and log it; returns the attestation."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        from attestkit.sigstore.rekor import submit_dsse
        from attestkit.sigstore.verify.engine import pae

        self.certificate()
        assert self._key is not None
        payload = build_statement(dist.name, dist.digest, predicate_type, predicate)
        signature = self._key.sign(pae(INTOTO_PAYLOAD_TYPE, payload), ec.ECDSA(hashes.SHA256()))
        envelope = json.dumps(
            {
                "payload": b64encode(payload),
                "payloadType": INTOTO_PAYLOAD_TYPE,
                "signatures": [{"sig": b64encode(signature)}],
            },
            separators=(",", ":"),
        )
        if self.services.rekor_version == 2:
            return self._sign_v2(dist, payload, signature)
        entry = submit_dsse(
            self._client(), self.services.rekor_url, envelope, self._verifier_pem, dist.name
        )
        return Attestation(
            VerificationMaterial(self._cert_der, (entry.to_dict(),)),
            Envelope(payload, signature),
        )

    def _sign_v2(self, dist: Distribution, payload: bytes, signature: bytes) -> Attestation:
        """Log on a Rekor v2 log and take the signing time from the timestamp authority."""
        import hashlib

        from attestkit.sigstore.rekor import submit_dsse_v2
        from attestkit.sigstore.tsa import request_timestamp
        from attestkit.sigstore.verify.engine import pae

        assert self.services.tsa_url is not None  # SigningServices requires it for v2
        digest = hashlib.sha256(pae(INTOTO_PAYLOAD_TYPE, payload)).digest()
        timestamp = request_timestamp(self._client(), self.services.tsa_url, signature, dist.name)
        entry = submit_dsse_v2(
            self._client(), self.services.rekor_url, digest, signature, self._cert_der, dist.name
        )
        return Attestation(
            VerificationMaterial(self._cert_der, (entry.to_dict(),), (timestamp,)),
            Envelope(payload, signature),
        )

    def sign_many(
        self,
        items: Sequence[tuple[Distribution, str, dict[str, Any] | None]],
        *,
        on_done: Callable[[int], None] | None = None,
        check: Callable[[Distribution, Attestation], None] | None = None,
    ) -> list[Attestation]:
        """Sign ``(dist, predicate_type, predicate)`` items concurrently, results in order.

        ``check`` runs on each result in its worker, so verification overlaps
        the other files' requests.  The first failure cancels what has not
        started and is raised.
        """
        self.certificate()
        results: list[Attestation | None] = [None] * len(items)

        def one(dist: Distribution, ptype: str, predicate: dict[str, Any] | None) -> Attestation:
            attestation = self.sign(dist, ptype, predicate)
            if check is not None:
                check(dist, attestation)
            return attestation

        if len(items) <= 1 or self.workers == 1:
            for i, (dist, ptype, predicate) in enumerate(items):
                results[i] = one(dist, ptype, predicate)
                if on_done:
                    on_done(i)
        else:
            from concurrent.futures import as_completed

            pool = ThreadPoolExecutor(max_workers=min(self.workers, len(items)))
            futures = {
                pool.submit(one, dist, ptype, predicate): i
                for i, (dist, ptype, predicate) in enumerate(items)
            }
            try:
                for future in as_completed(futures):
                    i = futures[future]
                    results[i] = future.result()
                    if on_done:
                        on_done(i)
            finally:
                # Never block on a hung request when failing or interrupted.
                pool.shutdown(wait=False, cancel_futures=True)
        return [r for r in results if r is not None]

    @property
    def identity(self) -> tuple[str, str]:
        """``(SAN, issuer)`` of the signing certificate."""
        from attestkit.core.certificate import CertificateClaims

        claims = CertificateClaims.from_certificate(self.certificate())
        return (claims.identity or "", claims.claims.get("issuer_v1") or claims.issuer or "")
