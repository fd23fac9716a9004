"""attestkit's own Sigstore verification engine for DSSE signatures with a Rekor v1 entry.

What it is for: verifying a PEP 740 attestation's signature (a DSSE envelope
over an in-toto statement, a Fulcio certificate and a Rekor v1 ``dsse`` log
entry) against a :class:`~attestkit.sigstore.trust.TrustRoot`, entirely offline.

Why it is hand-written: importing sigstore-python costs ~225 ms, and the CLI
must verify an attestation in well under 200 ms in total.  This module is built
directly on ``cryptography`` (the same primitives sigstore-python uses,
including ``PolicyBuilder`` with the same extension policies) and mirrors
sigstore-python 4.5.1 ``Verifier.verify_dsse`` check for check, in the same
order, with the same parsing rules for checkpoints, SCTs and Merkle proofs
(``verify/verifier.py``, ``_internal/sct.py``, ``_internal/merkle.py``,
``_internal/rekor/checkpoint.py``, ``models.py``).  It never accepts what
sigstore-python rejects; ``tests/sigstore/verify/test_engine.py`` checks that
differentially against :mod:`attestkit.sigstore.verify.backend`.  Deliberate
differences, all in the direction of refusing more: malformed inputs that make
sigstore-python crash with an unrelated exception are refused here with a
:class:`VerificationError`, and the Rekor body is parsed more strictly than
pydantic does (no snake_case field names, no ``NaN``-style constants, no
escaped UTF-16 surrogates), see :mod:`attestkit.sigstore.verify.dsse`.

This module orchestrates the checks; each family lives in its own module:
:mod:`~attestkit.sigstore.verify.chain` (certificate chain, SCT, profile),
:mod:`~attestkit.sigstore.verify.tlog` (inclusion proof, checkpoint, SET) and
:mod:`~attestkit.sigstore.verify.dsse` (PAE, signature, log body).

Checks, in order (the step numbers are sigstore's):

0. a verified time: ``integratedTime`` backed by an ``inclusionPromise``, for
   ``dsse``/``hashedrekord`` 0.0.1 only;
1. the certificate chains to a Fulcio anchor at that time;
2. the embedded SCT verifies against a CT log key;
3. KeyUsage ``digitalSignature``, EKU ``codeSigning``, then the caller's identity check;
4. the RFC 6962 inclusion proof and the signed checkpoint;
5. the signed entry timestamp (SET);
6. the time lies within the certificate's validity;
7. the DSSE signature (ECDSA with SHA-256 over the PAE);
8. the log entry body matches the payload, the signature and the certificate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from cryptography import x509

from attestkit.core.certificate import load_certificate
from attestkit.core.log_entry import LogEntry
from attestkit.errors import InputError, VerificationError
from attestkit.sigstore.trust import TrustRoot
from attestkit.sigstore.verify.chain import (
    _check_profile,
    _check_validity,
    _verify_certificate,
    verify_chain,
    verify_sct,
)
from attestkit.sigstore.verify.dsse import (
    _check_dsse_body,
    _verify_dsse_signature,
    pae,
)
from attestkit.sigstore.verify.tlog import (
    _verify_log_entry,
    leaf_hash,
    node_hash,
    verify_checkpoint,
    verify_inclusion,
)

__all__ = [
    "VerifiedSignature",
    "leaf_hash",
    "node_hash",
    "pae",
    "verify_chain",
    "verify_checkpoint",
    "verify_dsse",
    "verify_inclusion",
    "verify_sct",
]

#: Log entry kinds whose ``integratedTime`` counts as a verified time (with a promise).
_TIMED_KINDS: Final = frozenset({"dsse", "hashedrekord"})


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """The result of a successful verification."""

    #: The verified signing time (Rekor's integrated time), UTC.
    time: datetime
    #: The signing certificate, chained to the trust root and checked by the identity check.
    certificate: x509.Certificate
    #: The verified log entry.
    entry: LogEntry


def _unsupported_entry(kind: str, version: str) -> str:
    """Why a log entry of this kind and version cannot be verified, in plain words."""
    if kind == "intoto":
        return (
            f"intoto {version} log entries are not supported: PEP 740 attestations are logged"
            " as dsse entries (Integrated time only supported for dsse/hashedrekord 0.0.1 types)"
        )
    if kind in _TIMED_KINDS and version == "0.0.2":
        return (
            f"{kind} 0.0.2 entries come from a Rekor v2 log, whose time comes from RFC 3161"
            " timestamps, which this verifier does not check yet (Integrated time only"
            " supported for dsse/hashedrekord 0.0.1 types)"
        )
    return (
        f"{kind} {version} log entries are not supported (Integrated time only supported for"
        " dsse/hashedrekord 0.0.1 types)"
    )


def verify_dsse(
    trust_root: TrustRoot,
    certificate_der: bytes,
    entry: LogEntry,
    payload: bytes,
    payload_type: str,
    signature: bytes,
    check_identity: Callable[[x509.Certificate], None],
    *,
    certificate: x509.Certificate | None = None,
    timestamps: Sequence[bytes] = (),
) -> VerifiedSignature:
    """Verify a DSSE signature, its Fulcio certificate and its Rekor v1 log entry.

    ``timestamps`` is accepted for the engines' common signature: this engine
    does not check RFC 3161 timestamps, and the attestation verifier sends
    attestations that carry them to the sigstore-python engine.

    ``certificate`` is ``certificate_der`` already parsed (a caller that parsed it
    passes it, so a certificate is parsed once per verification).

    Mirrors sigstore-python 4.5.1 ``Verifier.verify_dsse`` (see the module
    docstring for the steps).  ``check_identity`` is called with the
    certificate once it is known to chain to the trust root, to carry its SCT
    and to be a code-signing certificate; whatever it raises propagates
    unchanged.  Every other failure raises
    :class:`~attestkit.errors.VerificationError` with a one-line message.
    """
    # What sigstore's ``Verifier.__init__`` and ``Bundle._verify`` refuse up front.
    if not trust_root.fulcio_certs:
        raise VerificationError("Fulcio certificates not found in trusted root")
    if not trust_root.tlog_count:
        raise VerificationError("trusted root contains no transparency log instances")
    try:
        cert = certificate or load_certificate(certificate_der, what="signing certificate")
    except InputError as exc:
        raise VerificationError(exc.reason) from None
    if entry.kind_version not in ("0.0.1", "0.0.2"):
        raise VerificationError(
            f"Expected log entry version 0.0.1 - 0.0.2, got {entry.kind_version}"
        )
    if entry.inclusion_proof is None:
        raise VerificationError(
            "log entry has no inclusion proof (a checkpointed proof is required)"
        )
    if entry.inclusion_promise is None:
        raise VerificationError(
            "not enough sources of verified time: the log entry has no inclusion promise"
        )

    # (0) Establish the time: integratedTime, bound by the inclusion promise.
    if not entry.integrated_time:
        raise VerificationError("not enough sources of verified time")
    if not (entry.kind in _TIMED_KINDS and entry.kind_version == "0.0.1"):
        raise VerificationError(_unsupported_entry(entry.kind, entry.kind_version))
    try:
        time = datetime.fromtimestamp(entry.integrated_time, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise VerificationError(
            f"not enough sources of verified time: integrated time {entry.integrated_time} "
            "is out of range"
        ) from None

    # (1) + (2) The certificate chains to the Fulcio roots at that time, and its SCT.
    _verify_certificate(trust_root, cert, certificate_der, time)

    # (3) The Sigstore X.509 profile, then the caller's identity policy.
    _check_profile(cert)
    check_identity(cert)

    # (4) + (5) Inclusion proof, signed checkpoint and signed entry timestamp.
    if not trust_root.rekor_key_count:
        raise VerificationError("Did not find any Rekor keys in trusted root")
    try:
        _verify_log_entry(entry, trust_root.rekor_keyring)
    except VerificationError as exc:
        raise VerificationError(f"invalid log entry: {exc}") from None

    # (6) The established time lies within the certificate's validity.
    _check_validity(cert, time)

    # (7) The DSSE signature over the PAE.
    _verify_dsse_signature(cert, payload, payload_type, signature)

    # (8) The log entry body matches the envelope and the certificate.
    if entry.kind == "dsse" and entry.kind_version == "0.0.1":
        _check_dsse_body(entry.canonicalized_body, cert, payload, signature)
    else:
        # hashedrekord 0.0.2 (Rekor v2) needs a TSA time, so step 0 already refused it.
        raise VerificationError(
            f"Unsupported DSSE log entry type: {entry.kind}/{entry.kind_version}"
        )
    return VerifiedSignature(time=time, certificate=cert, entry=entry)


# -- (1) chain ------------------------------------------------------------------


# -- (2) SCT (sigstore/_internal/sct.py) ------------------------------------------


# -- (3) certificate profile ------------------------------------------------------


# -- keyrings (sigstore/_internal/trust.py Keyring.verify) ----------------------


# -- (4) + (5) log entry (models.py TransparencyLogEntry._verify) ------------------


# -- (7) DSSE signature (sigstore/dsse) ------------------------------------------


# -- (8) body consistency (verifier.py _validate_dsse_v001_entry_body) ------------
