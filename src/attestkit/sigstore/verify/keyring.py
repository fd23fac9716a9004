"""A signature checked with a trust root's keyring (sigstore-python's ``Keyring.verify``)."""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from attestkit.errors import VerificationError
from attestkit.sigstore.trust import TrustedKey

__all__ = ["keyring_verify"]


def keyring_verify(
    keyring: Mapping[bytes, TrustedKey], key_id: bytes, signature: bytes, data: bytes
) -> None:
    """Verify with the key named by ``key_id``, or with every key if none is named so.

    ``key_id`` is an unauthenticated hint.  Only ``InvalidSignature`` moves on
    to the next candidate; any other failure rejects at once, as in sigstore.
    """
    key = keyring.get(key_id)
    # Every key when none is named so (sigstore); the one whose trusted-root logId it is
    # first (a Rekor v2 log's id is not its key's hash), which changes only the order.
    candidates = (
        [key]
        if key is not None
        else sorted(keyring.values(), key=lambda candidate: candidate.log_id != key_id)
    )
    for candidate in candidates:
        try:
            candidate.verify(signature, data)
        except InvalidSignature:
            continue
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise VerificationError("keyring: invalid signature") from None
        return
    raise VerificationError("keyring: invalid signature")
