"""RFC 3161 signed timestamps: verified times from a trusted root's timestamp authorities.

A Rekor v2 entry carries no signed entry timestamp; the time a signature was made
comes from RFC 3161 timestamps over the signature bytes, each signed by a
timestamp authority (TSA) that the trusted root lists with its certificate chain
and validity period.  The checks are sigstore-python 4.5.1's
(``verify/verifier.py``, ``_verify_signed_timestamp`` and
``_verify_timestamp_authority``): at most 32 timestamps, no duplicates, each
verified with ``rfc3161-client`` (the CMS signature, the TSA certificate chained
to the TSA's root, the message imprint over the signature) against each TSA in
turn; a timestamp counts if one TSA verifies it and its ``genTime`` lies in that
TSA's validity period.  A timestamp no TSA verifies is not counted (it is not an
error by itself: the caller needs enough verified times).

Why a library: parsing CMS ``SignedData`` and ``TSTInfo`` and checking the
ESS signing-certificate attribute is what rfc3161-client (by Trail of Bits,
sigstore-python's own dependency, Rust-backed) does; it is imported only when an
attestation carries timestamps.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from attestkit.errors import VerificationError
from attestkit.sigstore.trust import TimestampAuthority, TrustRoot

__all__ = ["MAX_TIMESTAMPS", "verified_timestamp_times"]

#: sigstore's ``MAX_ALLOWED_TIMESTAMP`` (a bound against denial of service).
MAX_TIMESTAMPS: Final = 32


def verified_timestamp_times(
    trust_root: TrustRoot, timestamps: Sequence[bytes], signature: bytes
) -> list[datetime]:
    """The ``genTime`` of every timestamp over ``signature`` that a trusted TSA verifies.

    Raises :class:`VerificationError` for too many or duplicate timestamps, an
    undecodable one, or timestamps with no TSA in the trusted root to check them.
    """
    if not timestamps:
        return []
    if not trust_root.timestamp_authorities:
        raise VerificationError(
            "no Timestamp Authorities have been provided to validate this bundle but it"
            " contains a signed timestamp"
        )
    if len(timestamps) > MAX_TIMESTAMPS:
        raise VerificationError(f"too many signed timestamp: {len(timestamps)} > {MAX_TIMESTAMPS}")
    if len(set(timestamps)) != len(timestamps):
        raise VerificationError("duplicate timestamp found")
    from rfc3161_client import decode_timestamp_response

    times: list[datetime] = []
    for i, raw in enumerate(timestamps):
        try:
            response = decode_timestamp_response(raw)
        except ValueError as exc:
            raise VerificationError(f"RFC 3161 timestamp {i} cannot be decoded: {exc}") from None
        for authority in trust_root.timestamp_authorities:
            time = _verified_by(authority, response, signature)
            if time is not None:
                times.append(time)
                break
    return times


def _verified_by(
    authority: TimestampAuthority, response: object, signature: bytes
) -> datetime | None:
    """``genTime`` if ``authority`` signed ``response`` over ``signature`` within its validity."""
    from rfc3161_client import VerificationError as TimestampError
    from rfc3161_client import VerifierBuilder

    certificates = authority.certificates
    if len(certificates) < 2:  # a signing certificate and a root at least, as sigstore wants
        return None
    builder = VerifierBuilder().tsa_certificate(certificates[0])
    builder = builder.add_root_certificate(certificates[-1])
    for intermediate in certificates[1:-1]:
        builder = builder.add_intermediate_certificate(intermediate)
    try:
        builder.build().verify_message(response, signature)  # type: ignore[arg-type]
    except TimestampError:
        return None
    gen_time: datetime = response.tst_info.gen_time  # type: ignore[attr-defined]
    if gen_time.tzinfo is None:
        gen_time = gen_time.replace(tzinfo=UTC)
    if gen_time < authority.valid_from:
        return None
    if authority.valid_until is not None and gen_time >= authority.valid_until:
        return None
    return gen_time
