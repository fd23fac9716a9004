"""Verify a DSSE signature with sigstore-python itself (optional backend and test oracle).

:func:`verify_dsse_with_sigstore` has the same signature and result as
:func:`attestkit.sigstore.verify.engine.verify_dsse`, but hands the work to
sigstore-python 4.5.1's ``Verifier.verify_dsse`` on a v0.3 bundle assembled
from the parts.  It exists for two reasons:

* users who prefer the reference implementation can select it, and
* the test suite runs both engines on the same (mutated) inputs and requires
  them to agree, which is how the hand-written engine is kept faithful.

sigstore-python is imported inside the function because importing it costs
~225 ms; that cost is the reason :mod:`attestkit.sigstore.verify.engine` exists.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from attestkit.core.encoding import b64encode
from attestkit.core.log_entry import LogEntry
from attestkit.errors import VerificationError
from attestkit.sigstore.trust import TrustRoot
from attestkit.sigstore.verify.engine import VerifiedSignature

if TYPE_CHECKING:
    from cryptography import x509

__all__ = ["verify_dsse_with_sigstore"]

_BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"


class _IdentityError(Exception):
    """Carries the identity check's own exception through sigstore unchanged."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _PolicyAdapter:
    """A sigstore ``VerificationPolicy`` that calls attestkit's identity check."""

    def __init__(self, check_identity: Callable[[x509.Certificate], None]) -> None:
        self._check = check_identity

    def verify(self, cert: x509.Certificate) -> None:
        try:
            self._check(cert)
        except Exception as exc:
            raise _IdentityError(exc) from exc


@lru_cache(maxsize=8)
def _verifier(trusted_root_json: str) -> Any:
    from attestkit.errors import require_sigstore

    require_sigstore("--backend sigstore")
    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier
    from sigstore_models.trustroot.v1 import TrustedRoot as TrustedRootModel

    # sigstore.models.TrustedRoot has no from_json; wrap the validated model as from_file does.
    root = TrustedRoot(TrustedRootModel.from_json(trusted_root_json))
    return Verifier(trusted_root=root)


def _bundle_json(
    certificate_der: bytes,
    entry: LogEntry,
    payload: bytes,
    payload_type: str,
    signature: bytes,
    timestamps: Sequence[bytes] = (),
) -> str:
    signed = [{"signedTimestamp": b64encode(t)} for t in timestamps]
    return json.dumps(
        {
            "mediaType": _BUNDLE_V03,
            "verificationMaterial": {
                "certificate": {"rawBytes": b64encode(certificate_der)},
                "tlogEntries": [entry.to_dict()],
                # The attestation's RFC 3161 timestamps reach sigstore-python, which
                # verifies them against the trusted root's timestamp authorities.
                "timestampVerificationData": {"rfc3161Timestamps": signed},
            },
            "dsseEnvelope": {
                "payload": b64encode(payload),
                "payloadType": payload_type,
                "signatures": [{"sig": b64encode(signature)}],
            },
        }
    )


def verify_dsse_with_sigstore(
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
    """Verify like :func:`attestkit.sigstore.verify.engine.verify_dsse`, using sigstore-python.

    sigstore-python's time threshold is fixed at 1 (``VERIFIED_TIME_THRESHOLD``);
    another ``time_threshold`` is refused rather than silently ignored.

    ``timestamps`` (RFC 3161 responses, DER) go into the bundle; without an
    integrated time (a Rekor v2 entry) the result's time is the earliest
    timestamp's ``genTime``, which sigstore-python has verified.

    Whatever ``check_identity`` raises propagates unchanged; every other
    failure, of any exception type, becomes a one-line
    :class:`~attestkit.errors.VerificationError`.  ``certificate`` is accepted for
    the engines' common signature; sigstore-python parses the DER itself.
    """
    del certificate
    from attestkit.errors import require_sigstore

    if time_threshold != 1:
        raise VerificationError(
            "sigstore-python's verifier needs exactly one verified time; --time-threshold"
            " works with attestkit's engine"
        )

    require_sigstore("--backend sigstore")
    try:
        from sigstore.errors import VerificationError as SigstoreVerificationError
        from sigstore.models import Bundle

        verifier = _verifier(trust_root.trusted_root_json)
        bundle = Bundle.from_json(
            _bundle_json(certificate_der, entry, payload, payload_type, signature, timestamps)
        )
        verifier.verify_dsse(bundle, _PolicyAdapter(check_identity))
    except _IdentityError as exc:
        raise exc.error from None
    except Exception as exc:  # the oracle must never crash a caller: map everything
        if isinstance(exc, SigstoreVerificationError) and str(exc):
            raise VerificationError(str(exc)) from None
        raise VerificationError(f"sigstore: {type(exc).__name__}: {exc}") from None

    # sigstore verified the integrated time and every timestamp it was given.
    return VerifiedSignature(
        time=_signed_time(entry, timestamps),
        certificate=bundle.signing_certificate,
        entry=entry,
    )


def _signed_time(entry: LogEntry, timestamps: Sequence[bytes]) -> datetime:
    """The entry's integrated time, else the earliest RFC 3161 ``genTime``."""
    if entry.integrated_time:
        return datetime.fromtimestamp(entry.integrated_time, tz=UTC)
    from rfc3161_client import decode_timestamp_response  # sigstore-python's dependency

    times = [decode_timestamp_response(t).tst_info.gen_time for t in timestamps]
    if not times:
        raise VerificationError("not enough sources of verified time")
    earliest = min(times)
    return earliest if earliest.tzinfo else earliest.replace(tzinfo=UTC)
