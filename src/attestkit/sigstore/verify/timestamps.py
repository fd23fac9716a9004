"""RFC 3161 signed timestamps: verified times from a trusted root's timestamp authorities.

A Rekor v2 entry carries no signed entry timestamp; the time a signature was made
comes from RFC 3161 timestamps over the signature bytes, each signed by a
timestamp authority (TSA) that the trusted root lists with its certificate chain
and validity period.  The checks are sigstore-python 4.5.1's
(``verify/verifier.py``, ``_verify_signed_timestamp`` and
``_verify_timestamp_authority``): at most 32 timestamps, no duplicates, each
verified (the CMS signature, the TSA certificate chained to the TSA's root, the
message imprint over the signature; :mod:`.rfc3161`, checked against
rfc3161-client's verdicts) against each TSA in turn; a timestamp counts if one
TSA verifies it and its ``genTime`` lies in that TSA's validity period.  A
timestamp no TSA verifies is not counted (it is not an error by itself: the caller
needs enough verified times).

The checks are rfc3161-client's (sigstore-python's own dependency), done with
``cryptography`` directly for speed (see :mod:`.rfc3161` for why).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

from attestkit.errors import VerificationError
from attestkit.sigstore.trust import TimestampAuthority, TrustRoot

if TYPE_CHECKING:
    from attestkit.sigstore.verify.rfc3161 import TimestampToken

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
    from attestkit.sigstore.verify.rfc3161 import parse_response

    times: list[datetime] = []
    for i, raw in enumerate(timestamps):
        try:
            token = parse_response(raw)
        except VerificationError as exc:
            if "GRANTED" in str(exc):
                continue  # a refusal from the authority is no time, and no error
            raise VerificationError(f"RFC 3161 timestamp {i} cannot be decoded: {exc}") from None
        for authority in trust_root.timestamp_authorities:
            time = _verified_by(authority, token, signature)
            if time is not None:
                times.append(time)
                break
    return times


def _verified_by(
    authority: TimestampAuthority, token: TimestampToken, signature: bytes
) -> datetime | None:
    """``genTime`` if ``authority`` signed ``token`` over ``signature`` within its validity."""
    from attestkit.sigstore.verify.rfc3161 import verify_token

    if len(authority.certificates) < 2:  # a signing certificate and a root, as sigstore wants
        return None
    try:
        gen_time = verify_token(token, signature, authority.certificates)
    except VerificationError:
        return None
    if gen_time < authority.valid_from:
        return None
    if authority.valid_until is not None and gen_time >= authority.valid_until:
        return None
    return gen_time
