"""An RFC 3161 timestamp authority's client: a signing time for a Rekor v2 entry.

``POST`` a DER ``TimeStampReq`` (SHA-256 of the signature, a nonce, the TSA's
certificate requested) as ``application/timestamp-query`` and read the DER
``TimeStampResp`` (RFC 3161 §3.4), as sigstore-python's
``TimestampAuthorityClient`` does.  The response is checked to be granted and to
answer this request (its nonce and imprint); its signature is verified with the
rest of the attestation before anything is written.
"""

from __future__ import annotations

import hashlib

from attestkit.sigstore.http import HttpClient, transport_reason
from attestkit.sigstore.services import SigningError

__all__ = ["request_timestamp"]


def request_timestamp(http: HttpClient, tsa_url: str, signature: bytes, name: str) -> bytes:
    """The DER timestamp response for ``signature`` from the TSA at ``tsa_url``."""
    from rfc3161_client import HashAlgorithm, TimestampRequestBuilder, decode_timestamp_response
    from urllib3.exceptions import HTTPError

    request = (
        TimestampRequestBuilder()
        .hash_algorithm(HashAlgorithm.SHA256)
        .data(signature)
        .nonce(nonce=True)
        .build()
    )
    try:
        reply = http.post_bytes(tsa_url, request.as_bytes(), "application/timestamp-query")
    except HTTPError as exc:
        raise SigningError(
            f"cannot reach the timestamp authority at {tsa_url}: {transport_reason(exc)}"
        ) from None
    if reply.status != 200:
        raise SigningError(
            f"the timestamp authority refused the request for {name}"
            f" ({reply.status}): {reply.message()}"
        )
    try:
        response = decode_timestamp_response(reply.content)
    except ValueError as exc:
        raise SigningError(f"the timestamp authority's response is malformed ({exc})") from None
    info = response.tst_info
    if info.nonce != request.nonce or bytes(info.message_imprint.message) != (
        hashlib.sha256(signature).digest()
    ):
        raise SigningError("the timestamp authority answered another request")
    return reply.content
