"""Admission of Rekor v1 proposed entries: canonical bodies and refusals."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils

from attestkit.sigstore.local.keys import KeyStore
from attestkit.sigstore.local.log import TransparencyLog
from attestkit.sigstore.local.rekor import AdmissionError, admit
from tests.fixtures.logutil import (
    dsse_envelope,
    dsse_request,
    hashedrekord_request,
    pem_b64,
    self_signed,
    verify_response,
)


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def cert(key):
    return self_signed(key)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return KeyStore.open(tmp_path_factory.mktemp("instance"))


@pytest.fixture
def log(tmp_path: Path, keys: KeyStore):
    with TransparencyLog.open(tmp_path / "log.sqlite3", keys, "rekor.test") as opened:
        yield opened


def submit(log: TransparencyLog, proposed: object) -> dict[str, Any]:
    """What the server does for POST /api/v1/log/entries."""
    entry = log.append(admit(proposed))
    return log.entry_response(entry.index)


# -- hashedrekord ---------------------------------------------------------------------


def test_hashedrekord_canonical_body(key, cert) -> None:
    from rekor_types import Hashedrekord
    from sigstore._internal.rekor import _hashedrekord_from_parts
    from sigstore.hashes import Hashed
    from sigstore_models.common.v1 import HashAlgorithm

    request = hashedrekord_request(key, cert, b"hello")
    body = admit(request)
    spec = request["spec"]
    expected = (
        '{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256",'
        f'"value":"{hashlib.sha256(b"hello").hexdigest()}"}}}},"signature":{{"content":'
        f'"{spec["signature"]["content"]}","publicKey":{{"content":"{pem_b64(cert)}"}}}}}}}}'
    )
    assert body == expected.encode()
    # sigstore-python's verifier rebuilds the body from the bundle and compares.
    signature = base64.b64decode(spec["signature"]["content"])
    hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=hashlib.sha256(b"hello").digest())
    assert Hashedrekord.model_validate_json(body) == _hashedrekord_from_parts(
        cert, signature, hashed
    )
    # The same request as raw JSON text or bytes.
    assert admit(json.dumps(request)) == body
    assert admit(json.dumps(request).encode()) == body


def test_hashedrekord_with_a_pem_public_key(key) -> None:
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.sha256(b"x").digest()
    request = {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "signature": {
                "content": base64.b64encode(
                    key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
                ).decode(),
                "publicKey": {"content": base64.b64encode(pem).decode()},
            },
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
        },
    }
    assert json.loads(admit(request))["spec"]["signature"]["publicKey"]["content"] == (
        base64.b64encode(pem).decode()
    )


def test_admitted_entries_verify_with_sigstore(
    log: TransparencyLog, keys: KeyStore, key, cert
) -> None:
    for i in range(3):
        verify_response(submit(log, hashedrekord_request(key, cert, b"file %d" % i)), keys)
        verify_response(submit(log, dsse_request(key, cert, f"f{i}.whl")), keys)
    assert log.size() == 6


# -- dsse -----------------------------------------------------------------------------


def test_dsse_canonical_body(key, cert) -> None:
    import rekor_types

    request = dsse_request(key, cert)
    envelope_text = request["spec"]["proposedContent"]["envelope"]
    envelope = json.loads(envelope_text)
    body = admit(request)
    payload = base64.b64decode(envelope["payload"])
    expected = (
        '{"apiVersion":"0.0.1","kind":"dsse","spec":{"envelopeHash":{"algorithm":"sha256",'
        f'"value":"{hashlib.sha256(envelope_text.encode()).hexdigest()}"}},'
        f'"payloadHash":{{"algorithm":"sha256","value":"{hashlib.sha256(payload).hexdigest()}"}},'
        f'"signatures":[{{"signature":"{envelope["signatures"][0]["sig"]}",'
        f'"verifier":"{pem_b64(cert)}"}}]}}}}'
    )
    assert body == expected.encode()
    # What sigstore-python's _validate_dsse_v001_entry_body compares.
    parsed = rekor_types.Dsse.model_validate_json(body)
    assert parsed.spec.root.signatures == [
        rekor_types.dsse.Signature(
            signature=envelope["signatures"][0]["sig"], verifier=pem_b64(cert)
        )
    ]


def test_dsse_several_signatures_sorted(key, cert) -> None:
    """Each signature verified by some verifier; canonical signatures sorted by signature."""
    from sigstore.dsse import _pae

    other = ec.generate_private_key(ec.SECP256R1())
    other_cert = self_signed(other, "other")
    envelope = json.loads(dsse_envelope(key).to_json())
    pae = _pae(envelope["payloadType"], base64.b64decode(envelope["payload"]))
    second = base64.b64encode(other.sign(pae, ec.ECDSA(hashes.SHA256()))).decode()
    envelope["signatures"].append({"sig": second, "keyid": ""})
    envelope_text = json.dumps(envelope)
    content: dict[str, Any] = {
        "envelope": envelope_text,
        "verifiers": [pem_b64(other_cert), pem_b64(cert)],
    }
    request = {"apiVersion": "0.0.1", "kind": "dsse", "spec": {"proposedContent": content}}
    signatures = json.loads(admit(request))["spec"]["signatures"]
    expected: list[dict[str, str]] = sorted(
        [
            {"signature": envelope["signatures"][0]["sig"], "verifier": pem_b64(cert)},
            {"signature": second, "verifier": pem_b64(other_cert)},
        ],
        key=lambda s: s["signature"],
    )
    assert signatures == expected
    # Drop the verifier of one signature: refused.
    content["verifiers"] = [pem_b64(cert)]
    with pytest.raises(AdmissionError, match="does not verify"):
        admit(request)


# -- refusals: nothing is logged ----------------------------------------------------------


def _set(path: str, value: object) -> Callable[[dict], None]:
    def mutate(request: dict) -> None:
        *parents, last = path.split(".")
        node = request
        for p in parents:
            node = node[p]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return mutate


_DELETE = object()


def _flip_b64(value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[len(raw) // 2] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def _other_key_pem() -> str:
    return pem_b64(self_signed(ec.generate_private_key(ec.SECP256R1()), "other"))


def _rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()


HASHEDREKORD_BAD: list[tuple[str, Callable[[dict], None], str]] = [
    ("unknown kind", _set("kind", "rekord"), "unsupported entry kind"),
    ("kind not a string", _set("kind", 1), "kind"),
    ("wrong apiVersion", _set("apiVersion", "0.0.2"), "apiVersion"),
    ("missing apiVersion", _set("apiVersion", _DELETE), "apiVersion"),
    ("spec not an object", _set("spec", []), "spec"),
    ("missing signature", _set("spec.signature", _DELETE), "spec.signature"),
    ("empty signature", _set("spec.signature.content", ""), "non-empty"),
    ("signature not base64", _set("spec.signature.content", "not base64!"), "base64"),
    ("url-safe base64", _set("spec.signature.content", "MEUCIQ-_"), "base64"),
    ("key not base64", _set("spec.signature.publicKey.content", "%%%"), "base64"),
    ("key not PEM", _set("spec.signature.publicKey.content", "aGVsbG8="), "PEM"),
    (
        "garbled certificate",
        _set(
            "spec.signature.publicKey.content",
            base64.b64encode(
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
            ).decode(),
        ),
        "invalid PEM",
    ),
    ("RSA key", lambda r: _set("spec.signature.publicKey.content", _rsa_pem())(r), "ECDSA only"),
    (
        "wrong key",
        lambda r: _set("spec.signature.publicKey.content", _other_key_pem())(r),
        "does not verify",
    ),
    ("hash algorithm", _set("spec.data.hash.algorithm", "sha512"), "sha256 only"),
    ("hash not hex", _set("spec.data.hash.value", "zz" * 32), "hexadecimal"),
    ("hash too short", _set("spec.data.hash.value", "ab" * 31), "hexadecimal"),
    ("other digest", _set("spec.data.hash.value", "ab" * 32), "does not verify"),
    ("missing data", _set("spec.data", _DELETE), "spec.data"),
]


@pytest.mark.parametrize(
    ("name", "mutate", "match"), HASHEDREKORD_BAD, ids=[c[0] for c in HASHEDREKORD_BAD]
)
def test_bad_hashedrekord_refused(log: TransparencyLog, key, cert, name, mutate, match) -> None:
    request = hashedrekord_request(key, cert, b"artifact")
    mutate(request)
    with pytest.raises(AdmissionError, match=match):
        submit(log, request)
    assert log.size() == 0


def test_bad_signature_refused(log: TransparencyLog, key, cert) -> None:
    request = hashedrekord_request(key, cert, b"artifact")
    request["spec"]["signature"]["content"] = _flip_b64(request["spec"]["signature"]["content"])
    with pytest.raises(AdmissionError, match="does not verify"):
        submit(log, request)
    request = dsse_request(key, cert)
    envelope = json.loads(request["spec"]["proposedContent"]["envelope"])
    envelope["signatures"][0]["sig"] = _flip_b64(envelope["signatures"][0]["sig"])
    request["spec"]["proposedContent"]["envelope"] = json.dumps(envelope)
    with pytest.raises(AdmissionError, match="does not verify"):
        submit(log, request)
    assert log.size() == 0


def _envelope(mutate: Callable[[dict], None]) -> Callable[[dict], None]:
    def apply(request: dict) -> None:
        content = request["spec"]["proposedContent"]
        envelope = json.loads(content["envelope"])
        mutate(envelope)
        content["envelope"] = json.dumps(envelope)

    return apply


DSSE_BAD: list[tuple[str, Callable[[dict], None], str]] = [
    ("wrong apiVersion", _set("apiVersion", "0.0.2"), "apiVersion"),
    ("no proposedContent", _set("spec.proposedContent", _DELETE), "proposedContent"),
    ("envelope not a string", _set("spec.proposedContent.envelope", {}), "envelope"),
    ("envelope not JSON", _set("spec.proposedContent.envelope", "{not json"), "not valid JSON"),
    ("envelope a list", _set("spec.proposedContent.envelope", "[]"), "JSON object"),
    ("no verifiers", _set("spec.proposedContent.verifiers", []), "verifiers"),
    ("verifier not base64", _set("spec.proposedContent.verifiers", ["@@"]), "base64"),
    ("verifier not a string", _set("spec.proposedContent.verifiers", [1]), "non-empty string"),
    (
        "wrong verifier",
        lambda r: _set("spec.proposedContent.verifiers", [_other_key_pem()])(r),
        "does not verify",
    ),
    ("payload not base64", _envelope(lambda e: e.update(payload="***")), "payload"),
    (
        "other payload",
        _envelope(lambda e: e.update(payload=base64.b64encode(b"{}").decode())),
        "does not verify",
    ),
    (
        "other payloadType",
        _envelope(lambda e: e.update(payloadType="text/plain")),
        "does not verify",
    ),
    ("no signatures", _envelope(lambda e: e.update(signatures=[])), "signatures"),
    ("sig not base64", _envelope(lambda e: e["signatures"][0].update(sig="!!")), "base64"),
    ("signature not an object", _envelope(lambda e: e.update(signatures=["x"])), "JSON object"),
    (
        "one good, one bad signature",
        _envelope(lambda e: e["signatures"].append({"sig": base64.b64encode(b"0" * 70).decode()})),
        "does not verify",
    ),
]


@pytest.mark.parametrize(("name", "mutate", "match"), DSSE_BAD, ids=[c[0] for c in DSSE_BAD])
def test_bad_dsse_refused(log: TransparencyLog, key, cert, name, mutate, match) -> None:
    request = dsse_request(key, cert)
    assert admit(copy.deepcopy(request))  # the unmodified request is fine
    mutate(request)
    with pytest.raises(AdmissionError, match=match):
        submit(log, request)
    assert log.size() == 0


@pytest.mark.parametrize(
    "raw",
    [b"{", b"", b"\xff\xfe", b"[]", b"null", b'"text"', b'{"kind": NaN}', "{'kind': 1}"],
)
def test_malformed_request_refused(log: TransparencyLog, raw: bytes | str) -> None:
    with pytest.raises(AdmissionError):
        submit(log, raw)
    assert log.size() == 0


def test_admission_error_is_an_attestkit_error() -> None:
    from attestkit.errors import AttestkitError

    with pytest.raises(AttestkitError, match="must be a JSON object"):
        admit(42)
