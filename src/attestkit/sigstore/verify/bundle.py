"""Verifying a Sigstore bundle whose signature is a DSSE envelope (``attestkit verify bundle``).

The same checks as an attestation's signature (the engine, or sigstore-python's
with ``backend="sigstore"``) plus the in-toto rule for an artifact: one of the
statement's subjects carries the artifact's SHA-256.  This is what Sigstore
clients' ``verify-bundle`` does for DSSE bundles, and what the
sigstore-conformance suite's ``bundle-verify`` cases exercise.  A bundle that
signs a plain message (``messageSignature``) is out of scope: PEP 740
attestations are DSSE envelopes, and :class:`OutOfScopeError` says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from attestkit.errors import AttestkitError, InputError, VerificationError

if TYPE_CHECKING:
    from attestkit.core.certificate import CertificateClaims
    from attestkit.core.policy import Policy
    from attestkit.sigstore.verify.attestation import Verifier

__all__ = ["BundleVerdict", "OutOfScopeError", "verify_bundle"]


class OutOfScopeError(AttestkitError):
    """The bundle is of a kind attestkit does not verify (a plain message signature)."""


@dataclass(frozen=True)
class BundleVerdict:
    """A verified DSSE bundle: when, by whom, and which subject was the artifact."""

    time: datetime
    claims: CertificateClaims
    payload_type: str
    subject: str
    log_kind: str


def verify_bundle(
    verifier: Verifier, bundle: bytes, artifact_sha256: str, identity: Policy
) -> BundleVerdict:
    """Verify ``bundle`` for an artifact with this SHA-256, signed by ``identity``.

    Raises :class:`VerificationError` (it does not verify), :class:`InputError`
    (it is not a bundle) or :class:`OutOfScopeError` (a message signature).
    """
    from attestkit.core.certificate import load_certificate
    from attestkit.core.convert import attestation_from_bundle
    from attestkit.core.encoding import loads_json
    from attestkit.errors import ConversionError

    top = loads_json(bundle, what="bundle")
    if isinstance(top, dict) and "messageSignature" in top and "dsseEnvelope" not in top:
        raise OutOfScopeError(
            "a message-signature bundle is out of scope: attestkit verifies DSSE envelopes"
            " (in-toto statements), the form PEP 740 attestations take; verify plain"
            " signatures with sigstore-python or cosign"
        )
    try:
        conversion = attestation_from_bundle(top, keep_timestamps=True, raw=True)
    except ConversionError as exc:
        raise VerificationError(str(exc)) from None
    attestation = conversion.attestation
    material = attestation.verification_material
    envelope = top["dsseEnvelope"]
    payload_type = envelope.get("payloadType") if isinstance(envelope, dict) else None
    if not isinstance(payload_type, str):
        raise InputError("bundle.dsseEnvelope.payloadType must be a string")
    try:
        certificate = load_certificate(material.certificate)
    except InputError:
        raise VerificationError("invalid X.509 certificate") from None
    claims = verifier.claims_for(material.certificate, certificate)
    [entry] = material.log_entries()
    verified = verifier.engine()(
        verifier.trust_root,
        material.certificate,
        entry,
        attestation.envelope.statement,
        payload_type,
        attestation.envelope.signature,
        lambda _: identity.check(claims),
        certificate=certificate,
        timestamps=material.timestamps,
        time_threshold=verifier.time_threshold,
    )
    subject = _subject_for(attestation.envelope.statement, artifact_sha256.lower())
    return BundleVerdict(
        verified.time, claims, payload_type, subject, f"{entry.kind} {entry.kind_version}"
    )


def _subject_for(statement: bytes, sha256: str) -> str:
    """The name of the in-toto subject whose SHA-256 is ``sha256``."""
    try:
        parsed: Any = json.loads(statement)
    except ValueError:
        raise VerificationError("the DSSE payload is not an in-toto statement") from None
    subjects = parsed.get("subject") if isinstance(parsed, dict) else None
    if not isinstance(subjects, list):
        raise VerificationError("the in-toto statement has no subjects")
    for subject in subjects:
        digest = subject.get("digest") if isinstance(subject, dict) else None
        if isinstance(digest, dict) and str(digest.get("sha256", "")).lower() == sha256:
            return str(subject.get("name", ""))
    raise VerificationError(
        f"no subject of the in-toto statement has the artifact's SHA-256 ({sha256})"
    )
