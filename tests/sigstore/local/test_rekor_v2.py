"""Rekor v2 end to end, offline: the local instance's v2 log and timestamp authority.

``attestkit serve --dev --rekor-v2`` runs the embedded Sigstore with a Rekor v2
log and an RFC 3161 TSA, and its signing config sends signers there.  The same
``attestkit sign`` then makes a v2 attestation (``hashedrekord`` 0.0.2 over the
PAE, timed by a timestamp), which attestkit and sigstore-python both verify, and
which the index (told to accept Rekor v2 attestations) takes and serves.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import requests
import rfc3161_client
from cryptography.hazmat.primitives import serialization

from attestkit.sigstore.local.keys import KeyStore
from attestkit.sigstore.local.rekor import AdmissionError
from attestkit.sigstore.local.rekor_v2 import admit_v2
from attestkit.sigstore.local.tsa import TimestampAuthority, TimestampRefused
from tests.fixtures.served import Served
from tests.fixtures.uploads import make_wheel, twine

GH = ["--github", "octo/demo", "--workflow", "release.yml", "--ref", "refs/tags/v1.0"]
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def _mint(served: Served) -> str:
    token = served.ak("sigstore", "token", "--data-dir", str(served.data_dir / "sigstore"),
                      *GH, "--audience", "attestkit")  # fmt: skip
    r = requests.post(f"{served.url}/_/oidc/mint-token", json={"token": token}, timeout=30)
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def test_sign_verify_upload_and_serve_a_rekor_v2_attestation(tmp_path: Path) -> None:
    served = Served(tmp_path / "data", "--rekor-v2")
    try:
        served.pending_github_publisher()
        config = requests.get(f"{served.url}/trust-config.json", timeout=30).json()
        assert [s["majorApiVersion"] for s in config["signingConfig"]["rekorTlogUrls"]] == [2]
        assert config["signingConfig"]["tsaUrls"] and config["trustedRoot"]["timestampAuthorities"]
        trust = tmp_path / "trust.json"
        trust.write_text(json.dumps(config))
        dist = tmp_path / "dist"
        dist.mkdir()
        wheel = make_wheel(dist, "demo-pkg", "1.0")
        token = served.ak("sigstore", "token", "--data-dir", str(served.data_dir / "sigstore"), *GH)
        served.ak("sign", "--local", served.url, "--identity-token", token, str(wheel))
        [attestation] = dist.glob("*.attestation")
        material = json.loads(attestation.read_text())["verification_material"]
        [entry] = material["transparency_entries"]
        assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
        assert "inclusionPromise" not in entry and "integratedTime" not in entry
        [timestamp] = material["timestamps"]
        assert rfc3161_client.decode_timestamp_response(base64.b64decode(timestamp))
        # attestkit's engine and sigstore-python's verifier both accept it.
        for backend in ("attestkit", "sigstore"):
            out = served.ak(
                "verify", "attestation", "--trust-config", str(trust), "--backend", backend,
                "--repository", "https://github.com/octo/demo", "--workflow", "release.yml",
                str(wheel),
            )  # fmt: skip
            assert out.startswith("OK "), out
        # The index (dev mode with --rekor-v2 accepts them) takes it and serves it.
        upload = twine(served.url, _mint(served), "--attestations", *map(str, dist.iterdir()))
        assert upload.returncode == 0, upload.stdout + upload.stderr
        page = requests.get(f"{served.url}/simple/demo-pkg/", headers=JSON, timeout=30).json()
        [file] = page["files"]
        provenance = requests.get(file["provenance"], timeout=30).json()
        [bundle] = provenance["attestation_bundles"]
        [served_attestation] = bundle["attestations"]
        assert served_attestation["verification_material"]["timestamps"] == [timestamp]
        (dist / f"{wheel.name}.provenance").write_text(json.dumps(provenance))
        out = served.ak("verify", "provenance", "--trust-config", str(trust),
                        "--repository", "https://github.com/octo/demo", str(wheel))  # fmt: skip
        assert out.startswith("OK "), out
    finally:
        served.stop()


def test_the_default_instance_stays_on_rekor_v1(tmp_path: Path) -> None:
    served = Served(tmp_path / "data")
    try:
        config = requests.get(f"{served.url}/trust-config.json", timeout=30).json()
        assert [s["majorApiVersion"] for s in config["signingConfig"]["rekorTlogUrls"]] == [1]
        assert config["signingConfig"]["tsaUrls"] == []
        r = requests.post(f"{served.url}/api/v2/log/entries", json={}, timeout=30)
        assert r.status_code == 404 and "--rekor-v2" in r.json()["message"]
    finally:
        served.stop()


@pytest.fixture
def tsa(tmp_path: Path) -> tuple[TimestampAuthority, KeyStore]:
    keys = KeyStore.open(tmp_path)
    return TimestampAuthority(keys.v2.tsa_key, keys.v2.tsa_cert), keys


def test_timestamps_verify_with_rfc3161_client(tsa: tuple[TimestampAuthority, KeyStore]) -> None:
    authority, keys = tsa
    request = (
        rfc3161_client.TimestampRequestBuilder()
        .hash_algorithm(rfc3161_client.HashAlgorithm.SHA256)
        .data(b"a signature")
        .nonce(nonce=True)
        .build()
    )
    when = dt.datetime.now(dt.UTC).replace(microsecond=0)  # within the new keys' validity
    response = rfc3161_client.decode_timestamp_response(authority.respond(request.as_bytes(), when))
    assert response.tst_info.gen_time.replace(tzinfo=dt.UTC) == when
    assert response.tst_info.nonce == request.nonce
    verifier = (
        rfc3161_client.VerifierBuilder()
        .tsa_certificate(keys.v2.tsa_cert)
        .add_root_certificate(keys.root_cert)
        .build()
    )
    assert verifier.verify_message(response, b"a signature")
    with pytest.raises(rfc3161_client.VerificationError, match="Mismatch"):
        verifier.verify_message(response, b"another signature")
    # The certificate a TSA needs: a critical EKU with timeStamping alone.
    from cryptography import x509

    eku = keys.v2.tsa_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and [o.dotted_string for o in eku.value] == ["1.3.6.1.5.5.7.3.8"]


@pytest.mark.parametrize(
    ("request_bytes", "message"),
    [(b"not DER", "malformed timestamp request"), (b"\x30\x00", "malformed timestamp request")],
)
def test_bad_timestamp_requests_are_refused(
    tsa: tuple[TimestampAuthority, KeyStore], request_bytes: bytes, message: str
) -> None:
    with pytest.raises(TimestampRefused, match=message):
        tsa[0].respond(request_bytes)


def test_rekor_v2_admission_checks_the_signature(tmp_path: Path) -> None:
    import hashlib

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    from tests.fixtures.logutil import self_signed

    key = ec.generate_private_key(ec.SECP256R1())
    der = self_signed(key).public_bytes(serialization.Encoding.DER)
    digest = hashlib.sha256(b"PAE bytes").digest()
    signature = key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))

    def request(**changes: object) -> dict[str, object]:
        verifier = {"x509Certificate": {"rawBytes": base64.b64encode(der).decode()},
                    "keyDetails": changes.get("details", "PKIX_ECDSA_P256_SHA_256")}  # fmt: skip
        sig = changes.get("signature", signature)
        assert isinstance(sig, bytes)
        return {"hashedRekordRequestV002": {
            "digest": base64.b64encode(digest).decode(),
            "signature": {"content": base64.b64encode(sig).decode(), "verifier": verifier},
        }}  # fmt: skip

    body = json.loads(admit_v2(request()))
    assert (body["kind"], body["apiVersion"]) == ("hashedrekord", "0.0.2")
    assert body["spec"]["hashedRekordV002"]["data"]["algorithm"] == "SHA2_256"
    with pytest.raises(AdmissionError, match="does not verify"):
        admit_v2(request(signature=signature[:-1] + bytes([signature[-1] ^ 1])))
    with pytest.raises(AdmissionError, match="not supported"):
        admit_v2(request(details="PKIX_ED25519"))
    with pytest.raises(AdmissionError, match="envelope must be an object"):
        admit_v2({"dsseRequestV002": {}})
    with pytest.raises(AdmissionError, match="give one of"):
        admit_v2({})
    with pytest.raises(AdmissionError, match="unknown field"):
        admit_v2({"other": 1})


def test_signing_config_selection() -> None:
    from attestkit.errors import InputError
    from attestkit.sigstore.services import SigningServices

    staging = SigningServices.staging()
    # v1 when offered (PyPI accepts only Rekor v1 attestations), v2 on request.
    assert (staging.rekor_url, staging.rekor_version, staging.tsa_url) == (
        "https://rekor.sigstage.dev",
        1,
        None,
    )
    v2 = staging.with_rekor_version(2)
    assert v2.rekor_url == "https://log2025-alpha3.rekor.sigstage.dev"  # the valid one
    assert v2.tsa_url == "https://timestamp.sigstage.dev/api/v1/timestamp"
    with pytest.raises(InputError, match="no valid Rekor v2 log"):
        SigningServices.production().with_rekor_version(2)
    config = dict(staging.signing_config, tsaUrls=[])
    with pytest.raises(InputError, match="no valid timestamp authority"):
        SigningServices._from_signing_config("x", config, staging.trust_root, 2)


def test_a_dsse_v002_entry_verifies(tmp_path: Path) -> None:
    """Rekor v2's own DSSE kind: logged by the local v2 log, verified by the engine."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from attestkit.core.constants import INTOTO_PAYLOAD_TYPE
    from attestkit.core.log_entry import LogEntry
    from attestkit.errors import VerificationError
    from attestkit.sigstore.http import HttpClient
    from attestkit.sigstore.services import SigningServices
    from attestkit.sigstore.signer import SigningSession
    from attestkit.sigstore.tsa import request_timestamp
    from attestkit.sigstore.verify.engine import pae, verify_dsse

    served = Served(tmp_path / "data", "--rekor-v2")
    try:
        services = SigningServices.from_local(served.url)
        assert services.rekor_version == 2 and services.tsa_url
        token = served.ak("sigstore", "token", "--data-dir", str(served.data_dir / "sigstore"), *GH)
        session = SigningSession(services, token)
        cert = session.certificate()
        key = session._key
        assert key is not None
        der = cert.public_bytes(serialization.Encoding.DER)
        payload = json.dumps({"_type": "https://in-toto.io/Statement/v1", "subject": []}).encode()
        signature = key.sign(pae(INTOTO_PAYLOAD_TYPE, payload), ec.ECDSA(hashes.SHA256()))
        request: dict[str, Any] = {"dsseRequestV002": {
            "envelope": {"payload": base64.b64encode(payload).decode(),
                         "payloadType": INTOTO_PAYLOAD_TYPE,
                         "signatures": [{"sig": base64.b64encode(signature).decode()}]},
            "verifiers": [{"x509Certificate": {"rawBytes": base64.b64encode(der).decode()},
                           "keyDetails": "PKIX_ECDSA_P256_SHA_256"}],
        }}  # fmt: skip
        r = requests.post(f"{served.url}/api/v2/log/entries", json=request, timeout=30)
        assert r.status_code == 201, r.text
        entry = LogEntry.from_dict(r.json())
        assert (entry.kind, entry.kind_version) == ("dsse", "0.0.2")
        http = HttpClient([services.tsa_url], timeout=30, connections=1)
        stamp = request_timestamp(http, services.tsa_url, signature, "test")
        root = services.trust_root
        verified = verify_dsse(root, der, entry, payload, INTOTO_PAYLOAD_TYPE, signature,
                               lambda c: None, timestamps=[stamp])  # fmt: skip
        assert verified.entry is entry
        other = payload.replace(b"[]", b"[{}]")
        with pytest.raises(VerificationError, match="DSSE: invalid signature"):
            verify_dsse(root, der, entry, other, INTOTO_PAYLOAD_TYPE, signature,
                        lambda c: None, timestamps=[stamp])  # fmt: skip
    finally:
        served.stop()
