"""attestkit's own Sigstore verification engine for DSSE signatures, Rekor v1 and v2.

What it is for: verifying a PEP 740 attestation's signature (a DSSE envelope
over an in-toto statement, a Fulcio certificate, a transparency log entry and
optional RFC 3161 timestamps) against a
:class:`~attestkit.sigstore.trust.TrustRoot`, entirely offline.  Log entries:
Rekor v1 ``dsse`` 0.0.1 and ``intoto`` 0.0.2, and Rekor v2 ``hashedrekord``
0.0.2 (a DSSE envelope as sigstore-python logs it there) and ``dsse`` 0.0.2, timed
by RFC 3161 timestamps.

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

0. verified times: each RFC 3161 timestamp a trusted timestamp authority signed
   over the signature (:mod:`~attestkit.sigstore.verify.timestamps`), and
   Rekor v1's ``integratedTime`` when an ``inclusionPromise`` binds it; at least
   ``time_threshold`` of them (sigstore's client spec: 1 by default);
1. the certificate chains to a Fulcio anchor at each of those times;
2. the embedded SCT verifies against a CT log key;
3. KeyUsage ``digitalSignature``, EKU ``codeSigning``, then the caller's identity check;
4. the RFC 6962 inclusion proof and the signed checkpoint;
5. the signed entry timestamp (SET);
6. every verified time lies within the certificate's validity;
7. the DSSE signature (ECDSA with SHA-256 over the PAE);
8. the log entry body matches the payload, the signature and the certificate
   (:mod:`~attestkit.sigstore.verify.dsse` for ``dsse``,
   :mod:`~attestkit.sigstore.verify.entries` for ``hashedrekord`` 0.0.2 and
   ``intoto`` 0.0.2).

Where this goes beyond sigstore-python 4.5.1 (which refuses both): an
``intoto`` entry is verified, and its integrated time, bound by a SET from a
Rekor v1 log like any v1 entry's, counts as a verified time.
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
from attestkit.sigstore.verify.entries import (
    check_dsse_v002_body,
    check_hashedrekord_v002_body,
    check_intoto_v002_body,
)
from attestkit.sigstore.verify.timestamps import verified_timestamp_times
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

#: Rekor v1 entry kinds whose ``integratedTime`` counts as a verified time (with a promise).
_TIMED_KINDS: Final = frozenset(
    {("dsse", "0.0.1"), ("hashedrekord", "0.0.1"), ("intoto", "0.0.1"), ("intoto", "0.0.2")}
)


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """The result of a successful verification."""

    #: The earliest verified signing time (a timestamp's, or Rekor v1's integrated time), UTC.
    time: datetime
    #: The signing certificate, chained to the trust root and checked by the identity check.
    certificate: x509.Certificate
    #: The verified log entry.
    entry: LogEntry


def _unsupported_entry(kind: str, version: str) -> str:
    """Why a log entry of this kind and version cannot be verified, in plain words."""
    return (
        f"Unsupported DSSE log entry type: {kind}/{version} (a DSSE envelope is logged as dsse"
        " 0.0.1 or intoto 0.0.2 by Rekor v1, or as hashedrekord or dsse 0.0.2 by Rekor v2)"
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
    time_threshold: int = 1,
) -> VerifiedSignature:
    """Verify a DSSE signature, its Fulcio certificate, its log entry and its timestamps.

    ``timestamps`` are RFC 3161 timestamp responses over ``signature``;
    ``time_threshold`` is how many verified times (timestamps, plus Rekor v1's
    integrated time with its promise) are needed.

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
    if (entry.kind, entry.kind_version) not in _BODY_CHECKS:
        raise VerificationError(_unsupported_entry(entry.kind, entry.kind_version))

    # (0) Establish times: trusted RFC 3161 timestamps, and Rekor v1's integratedTime
    #     when its inclusion promise binds it (the promise is verified in step 5).
    times = verified_timestamp_times(trust_root, timestamps, signature)
    if entry.integrated_time and entry.inclusion_promise is not None:
        if (entry.kind, entry.kind_version) not in _TIMED_KINDS:
            raise VerificationError(
                f"an integrated time with an inclusion promise is a Rekor v1 entry's, not a"
                f" {entry.kind} {entry.kind_version} entry's"
            )
        try:
            times.append(datetime.fromtimestamp(entry.integrated_time, tz=UTC))
        except (OverflowError, OSError, ValueError):
            raise VerificationError(
                f"not enough sources of verified time: integrated time {entry.integrated_time} "
                "is out of range"
            ) from None
    if len(times) < max(time_threshold, 1):
        if timestamps:
            why = f"{len(times)} of {len(timestamps)} timestamps verified by a trusted authority"
        elif entry.inclusion_promise is None:
            why = "the log entry has no inclusion promise and there is no signed timestamp"
        else:
            why = "the log entry has no integrated time"
        raise VerificationError(f"not enough sources of verified time: {why}")
    time = min(times)

    # (1) + (2) The certificate chains to the Fulcio roots at each time, and its SCT.
    for at in times:
        _verify_certificate(trust_root, cert, certificate_der, at)

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

    # (6) Every established time lies within the certificate's validity.
    for at in times:
        _check_validity(cert, at)

    # (7) The DSSE signature over the PAE.
    _verify_dsse_signature(cert, payload, payload_type, signature)

    # (8) The log entry body matches the envelope and the certificate.
    _BODY_CHECKS[(entry.kind, entry.kind_version)](
        entry.canonicalized_body, cert, payload_type, payload, signature
    )
    return VerifiedSignature(time=time, certificate=cert, entry=entry)


def _dsse_v001(
    body: bytes, cert: x509.Certificate, payload_type: str, payload: bytes, signature: bytes
) -> None:
    _check_dsse_body(body, cert, payload, signature)


#: Step (8) for each kind of entry a DSSE envelope can be logged as.
_BODY_CHECKS: Final[dict[tuple[str, str], Callable[..., None]]] = {
    ("dsse", "0.0.1"): _dsse_v001,
    ("hashedrekord", "0.0.2"): check_hashedrekord_v002_body,
    ("dsse", "0.0.2"): check_dsse_v002_body,
    ("intoto", "0.0.2"): check_intoto_v002_body,
}


# -- (1) chain ------------------------------------------------------------------


# -- (2) SCT (sigstore/_internal/sct.py) ------------------------------------------


# -- (3) certificate profile ------------------------------------------------------


# -- keyrings (sigstore/_internal/trust.py Keyring.verify) ----------------------


# -- (4) + (5) log entry (models.py TransparencyLogEntry._verify) ------------------


# -- (7) DSSE signature (sigstore/dsse) ------------------------------------------


# -- (8) body consistency (verifier.py _validate_dsse_v001_entry_body) ------------
