"""attestkit's RFC 3161 verification against rfc3161-client's, on the same responses.

The engine verifies timestamp tokens with ``cryptography`` directly
(:mod:`attestkit.sigstore.verify.rfc3161`); rfc3161-client (what sigstore-python
uses) is the oracle.  Real responses (sigstore-conformance's, from Sigstore's
staging TSA) and the local instance's TSA, each valid, for another message, and
with one byte changed at positions across the whole response: attestkit never
accepts what rfc3161-client refuses, and accepts every valid one.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
import rfc3161_client
from cryptography import x509

from attestkit.errors import VerificationError
from attestkit.sigstore.local.keys import KeyStore
from attestkit.sigstore.local.tsa import TimestampAuthority
from attestkit.sigstore.trust import TrustRoot
from attestkit.sigstore.verify.rfc3161 import parse_response, verify_token
from tests.conftest import DATA

CONFORMANCE = DATA / "conformance"
#: A response, the message it timestamps and the authority's chain (leaf first).
Case = tuple[str, bytes, bytes, tuple[x509.Certificate, ...]]


def _ours(response: bytes, message: bytes, chain: Sequence[x509.Certificate]) -> bool:
    try:
        verify_token(parse_response(response), message, chain)
    except VerificationError:
        return False
    return True


def _theirs(response: bytes, message: bytes, chain: Sequence[x509.Certificate]) -> bool:
    try:
        parsed = rfc3161_client.decode_timestamp_response(response)
        builder = rfc3161_client.VerifierBuilder().tsa_certificate(chain[0])
        builder = builder.add_root_certificate(chain[-1])
        for intermediate in chain[1:-1]:
            builder = builder.add_intermediate_certificate(intermediate)
        return bool(builder.build().verify_message(parsed, message))
    except (ValueError, rfc3161_client.VerificationError):
        return False


def _conformance() -> list[Case]:
    cases = []
    for name in ("rekor2-dsse-happy-path", "intoto-with-custom-trust-root"):
        bundle = json.loads((CONFORMANCE / name / "bundle.sigstore.json").read_text())
        root = TrustRoot.from_file(CONFORMANCE / name / "trusted_root.json")
        [stamp] = bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
        signature = base64.b64decode(bundle["dsseEnvelope"]["signatures"][0]["sig"])
        [authority] = root.timestamp_authorities
        cases.append((name, base64.b64decode(stamp["signedTimestamp"]), signature,
                      authority.certificates))  # fmt: skip
    return cases


def _local(tmp_path: Path) -> list[Case]:
    keys = KeyStore.open(tmp_path)
    authority = TimestampAuthority(keys.v2.tsa_key, keys.v2.tsa_cert)
    out: list[Case] = []
    for embed in (True, False):
        builder = rfc3161_client.TimestampRequestBuilder().data(b"local signature")
        request = builder.cert_request(cert_request=embed).nonce(nonce=True).build()
        response = authority.respond(request.as_bytes(), dt.datetime.now(dt.UTC))
        out.append((f"local-{embed}", response, b"local signature",
                    (keys.v2.tsa_cert, keys.root_cert)))  # fmt: skip
    return out


@pytest.fixture
def responses(tmp_path: Path) -> list[Case]:
    return _conformance() + _local(tmp_path)


def test_valid_responses_verify_in_both(
    responses: list[Case],
) -> None:
    for name, response, message, chain in responses:
        assert _theirs(response, message, chain), name
        assert _ours(response, message, chain), name
        assert not _ours(response, message + b"!", chain), name
        assert not _theirs(response, message + b"!", chain), name
        token = parse_response(response)
        assert token.gen_time == rfc3161_client.decode_timestamp_response(
            response
        ).tst_info.gen_time.replace(tzinfo=dt.UTC), name


def test_another_authority_is_refused_by_both(
    responses: list[Case],
) -> None:
    [(_, a, message_a, _), (_, _, _, chain_b), *_] = responses
    assert not _ours(a, message_a, chain_b) and not _theirs(a, message_a, chain_b)


def test_no_mutation_is_accepted_by_attestkit_alone(
    responses: list[Case],
) -> None:
    checked = agreed = 0
    for name, response, message, chain in responses:
        for position in range(0, len(response), 5):
            mutated = bytearray(response)
            mutated[position] ^= 0x01
            ours, theirs = (
                _ours(bytes(mutated), message, chain),
                _theirs(bytes(mutated), message, chain),
            )
            assert not (ours and not theirs), f"{name}: byte {position}: only attestkit accepts"
            checked += 1
            agreed += ours == theirs
    assert checked > 500
    # Stricter only where the difference cannot matter (unsigned fields OpenSSL skips).
    assert agreed / checked > 0.97, (agreed, checked)
