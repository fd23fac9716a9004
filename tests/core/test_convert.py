"""Tests for attestkit.core.convert: Sigstore bundle <-> PEP 740 attestation."""

from __future__ import annotations

import base64
import copy
import datetime
import json
from typing import Any

import pypi_attestations
import pytest
import sigstore.models
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attestkit.core.constants import (
    BUNDLE_V01,
    BUNDLE_V02,
    BUNDLE_V03,
    BUNDLE_V03_ALT,
    INTOTO_PAYLOAD_TYPE,
    PUBLISH_PREDICATE_V1,
    SLSA_PREDICATE_V1,
)
from attestkit.core.convert import (
    Conversion,
    attestation_from_bundle,
    bundle_from_attestation,
    bundle_to_json,
)
from attestkit.core.models import Attestation, VerificationMaterial
from attestkit.errors import AttestkitError, ConversionError, InputError
from tests.conftest import DATA

BUNDLE_FILE = DATA / "rfc8785-0.1.2-py3-none-any.whl.sigstore"
BUNDLE_BYTES = BUNDLE_FILE.read_bytes()
CONVERTED_FILE = DATA / "rfc8785-0.1.2-py3-none-any.whl.publish.attestation"
REAL_ATTESTATIONS = [
    "pypi_attestations-0.0.19.tar.gz.publish.attestation",
    "pypi_attestations-0.0.19.tar.gz.slsa.attestation",
    "gitlab_oidc_project-0.0.3.tar.gz.publish.attestation",
    "rfc8785-0.1.2-py3-none-any.whl.publish.attestation",
]
ALL_MEDIA_TYPES = [BUNDLE_V01, BUNDLE_V02, BUNDLE_V03, BUNDLE_V03_ALT]
#: A syntactically plausible RFC 3161 response (a DER SEQUENCE); its content is never checked here.
FAKE_TSA_TOKEN = bytes.fromhex("3003020100")


def real_bundle() -> dict[str, Any]:
    """A fresh, mutable copy of the real staging v0.3 DSSE bundle."""
    value: dict[str, Any] = json.loads(BUNDLE_BYTES)
    return value


def compact(text: str) -> str:
    """Re-serialise JSON compactly, keeping key order and non-ASCII characters."""
    return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)


def with_chain(
    bundle: dict[str, Any], media_type: str, extra: tuple[bytes, ...] = ()
) -> dict[str, Any]:
    """Turn a v0.3 bundle into a 0.1/0.2-style one with the leaf in x509CertificateChain."""
    out = copy.deepcopy(bundle)
    out["mediaType"] = media_type
    vm = out["verificationMaterial"]
    leaf = vm.pop("certificate")
    certs = [leaf] + [{"rawBytes": base64.b64encode(d).decode()} for d in extra]
    # Keep sigstore's field order: the certificate comes before tlogEntries.
    out["verificationMaterial"] = {"x509CertificateChain": {"certificates": certs}, **vm}
    return out


def set_payload(bundle: dict[str, Any], statement: object) -> dict[str, Any]:
    raw = statement if isinstance(statement, bytes) else json.dumps(statement).encode()
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(raw).decode()
    return bundle


def real_statement() -> dict[str, Any]:
    value: dict[str, Any] = json.loads(base64.b64decode(real_bundle()["dsseEnvelope"]["payload"]))
    return value


def rekor_v2_style(bundle: dict[str, Any], tokens: list[bytes]) -> dict[str, Any]:
    """Drop the promise and integrated time (as Rekor v2 entries have none) and add TSA tokens."""
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    del entry["inclusionPromise"]
    del entry["integratedTime"]
    entry["kindVersion"]["version"] = "0.0.2"
    bundle["verificationMaterial"]["timestampVerificationData"] = {
        "rfc3161Timestamps": [{"signedTimestamp": base64.b64encode(t).decode()} for t in tokens]
    }
    return bundle


def other_certificate() -> bytes:
    """A second real Fulcio certificate (to use as an extra chain element)."""
    att = Attestation.from_file(DATA / "gitlab_oidc_project-0.0.3.tar.gz.publish.attestation")
    return att.verification_material.certificate


def ca_certificate() -> bytes:
    """A freshly generated self-signed CA certificate (not a signing leaf)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.DER)


def refused(bundle: object, match: str, **kwargs: bool) -> ConversionError:
    with pytest.raises(ConversionError, match=match) as info:
        attestation_from_bundle(bundle, **kwargs)  # type: ignore[arg-type]
    return info.value


# -- the real bundle ------------------------------------------------------------


def test_real_bundle_reproduces_reference_attestation() -> None:
    conv = attestation_from_bundle(BUNDLE_BYTES)
    assert isinstance(conv, Conversion)
    assert conv.notes == ()
    assert conv.attestation.to_json() == compact(CONVERTED_FILE.read_text("utf-8"))


def test_real_bundle_matches_pypi_attestations_byte_for_byte() -> None:
    theirs = pypi_attestations.Attestation.from_bundle(
        sigstore.models.Bundle.from_json(BUNDLE_BYTES)
    ).model_dump_json()
    assert attestation_from_bundle(BUNDLE_BYTES).attestation.to_json() == theirs


def test_str_bytes_and_dict_inputs_agree() -> None:
    expected = attestation_from_bundle(BUNDLE_BYTES).attestation.to_json()
    assert attestation_from_bundle(BUNDLE_BYTES.decode()).attestation.to_json() == expected
    assert attestation_from_bundle(real_bundle()).attestation.to_json() == expected


def test_input_dict_is_not_mutated() -> None:
    bundle = real_bundle()
    before = copy.deepcopy(bundle)
    attestation_from_bundle(bundle)
    assert bundle == before


def test_round_trip_is_stable() -> None:
    first = attestation_from_bundle(BUNDLE_BYTES).attestation
    bundle = bundle_from_attestation(first)
    second = attestation_from_bundle(bundle_to_json(bundle)).attestation
    assert second.to_json() == first.to_json()
    assert bundle_to_json(bundle_from_attestation(second)) == bundle_to_json(bundle)
    # The regenerated bundle is the original one plus the empty timestamp list sigstore writes.
    original = real_bundle()
    original["verificationMaterial"]["timestampVerificationData"] = {"rfc3161Timestamps": []}
    assert bundle == original


@pytest.mark.parametrize("media_type", ALL_MEDIA_TYPES)
def test_every_media_type_converts(media_type: str) -> None:
    if media_type in (BUNDLE_V03, BUNDLE_V03_ALT):
        bundle = real_bundle()
        bundle["mediaType"] = media_type
    else:
        bundle = with_chain(real_bundle(), media_type)
    # The variant is one sigstore-python itself loads ...
    sigstore.models.Bundle.from_json(json.dumps(bundle))
    # ... and it converts to exactly the reference attestation.
    conv = attestation_from_bundle(bundle)
    assert conv.notes == ()
    assert conv.attestation.to_json() == compact(CONVERTED_FILE.read_text("utf-8"))


def test_proto_field_names_are_accepted_like_sigstore() -> None:
    bundle = real_bundle()
    bundle["media_type"] = bundle.pop("mediaType")
    bundle["verification_material"] = bundle.pop("verificationMaterial")
    bundle["dsse_envelope"] = bundle.pop("dsseEnvelope")
    bundle["dsse_envelope"]["payload_type"] = bundle["dsse_envelope"].pop("payloadType")
    sigstore.models.Bundle.from_json(json.dumps(bundle))
    expected = attestation_from_bundle(BUNDLE_BYTES).attestation.to_json()
    assert attestation_from_bundle(bundle).attestation.to_json() == expected


# -- attestation -> bundle ---------------------------------------------------------


@pytest.mark.parametrize("name", REAL_ATTESTATIONS)
def test_bundle_equals_pypi_attestations_to_bundle(name: str) -> None:
    text = (DATA / name).read_text("utf-8")
    ours = bundle_from_attestation(Attestation.from_json(text))
    theirs = pypi_attestations.Attestation.model_validate_json(text).to_bundle().to_json()
    assert ours == json.loads(theirs)
    assert bundle_to_json(ours) == theirs


@pytest.mark.parametrize("media_type", ALL_MEDIA_TYPES)
@pytest.mark.parametrize("name", REAL_ATTESTATIONS)
def test_bundle_loads_in_sigstore_unchanged(name: str, media_type: str) -> None:
    att = Attestation.from_file(DATA / name)
    ours = bundle_from_attestation(att, media_type=media_type)
    assert ours["mediaType"] == media_type
    loaded = sigstore.models.Bundle.from_json(bundle_to_json(ours))
    # Same key order and shape: sigstore's own serialisation is identical.
    assert loaded.to_json() == bundle_to_json(ours)
    # And converting back gives the attestation we started from (one of the files has
    # PyPI's sorted key order, so compare parsed JSON).
    assert json.loads(attestation_from_bundle(ours).attestation.to_json()) == att.to_dict()


def test_chain_media_types_carry_only_the_leaf() -> None:
    att = Attestation.from_file(CONVERTED_FILE)
    for media_type in (BUNDLE_V01, BUNDLE_V02):
        vm = bundle_from_attestation(att, media_type=media_type)["verificationMaterial"]
        assert "certificate" not in vm
        certs = vm["x509CertificateChain"]["certificates"]
        assert [base64.b64decode(c["rawBytes"]) for c in certs] == [
            att.verification_material.certificate
        ]


def test_bundle_refuses_several_transparency_entries() -> None:
    att = Attestation.from_file(CONVERTED_FILE)
    entry = att.verification_material.transparency_entries[0]
    two = Attestation(
        VerificationMaterial(att.verification_material.certificate, (entry, entry)),
        att.envelope,
    )
    with pytest.raises(ConversionError, match=r"has 2 transparency entries.*exactly one"):
        bundle_from_attestation(two)


def test_bundle_refuses_unknown_media_type() -> None:
    att = Attestation.from_file(CONVERTED_FILE)
    with pytest.raises(ConversionError, match="unsupported bundle media type"):
        bundle_from_attestation(att, media_type="application/json")


def test_bundle_refuses_bad_certificate_and_entry() -> None:
    att = Attestation.from_file(CONVERTED_FILE)
    vm = att.verification_material
    bad_cert = Attestation(VerificationMaterial(b"not DER", vm.transparency_entries), att.envelope)
    with pytest.raises(ConversionError, match=r"invalid X\.509 certificate"):
        bundle_from_attestation(bad_cert)
    bad_entry = Attestation(VerificationMaterial(vm.certificate, ({},)), att.envelope)
    with pytest.raises(ConversionError, match="inclusion proof"):
        bundle_from_attestation(bad_entry)


def test_bundle_refuses_entry_without_any_signed_time() -> None:
    att = Attestation.from_file(CONVERTED_FILE)
    entry = dict(att.verification_material.transparency_entries[0])
    del entry["inclusionPromise"]
    no_time = Attestation(
        VerificationMaterial(att.verification_material.certificate, (entry,)), att.envelope
    )
    with pytest.raises(ConversionError, match="no verifiable signing time"):
        bundle_from_attestation(no_time)
    with_ts = Attestation(
        VerificationMaterial(att.verification_material.certificate, (entry,), (FAKE_TSA_TOKEN,)),
        att.envelope,
    )
    bundle = bundle_from_attestation(with_ts)
    assert bundle["verificationMaterial"]["timestampVerificationData"] == {
        "rfc3161Timestamps": [{"signedTimestamp": base64.b64encode(FAKE_TSA_TOKEN).decode()}]
    }
    with pytest.raises(ConversionError, match=r"version 0\.1 bundle requires"):
        bundle_from_attestation(with_ts, media_type=BUNDLE_V01)


def test_bundle_to_json_is_compact() -> None:
    text = bundle_to_json(bundle_from_attestation(Attestation.from_file(CONVERTED_FILE)))
    assert "\n" not in text
    assert ": " not in text
    assert text.startswith('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",')


# -- dropped material becomes notes ------------------------------------------------


def test_extra_chain_certificates_are_reported() -> None:
    bundle = with_chain(real_bundle(), BUNDLE_V02, extra=(other_certificate(), other_certificate()))
    conv = attestation_from_bundle(bundle)
    assert len(conv.notes) == 1
    assert conv.notes[0].startswith("dropped 2 chain certificates after the leaf")
    assert conv.attestation.to_json() == compact(CONVERTED_FILE.read_text("utf-8"))


def test_single_extra_chain_certificate_is_singular() -> None:
    conv = attestation_from_bundle(with_chain(real_bundle(), BUNDLE_V01, (other_certificate(),)))
    assert conv.notes[0].startswith("dropped 1 chain certificate after the leaf")


def test_keyid_is_reported() -> None:
    bundle = real_bundle()
    bundle["dsseEnvelope"]["signatures"][0]["keyid"] = "abc"
    conv = attestation_from_bundle(bundle)
    assert conv.notes == ("dropped keyid 'abc' from the DSSE signature",)


@pytest.mark.parametrize("keyid", ["", None])
def test_empty_keyid_is_not_reported(keyid: str | None) -> None:
    bundle = real_bundle()
    bundle["dsseEnvelope"]["signatures"][0]["keyid"] = keyid
    assert attestation_from_bundle(bundle).notes == ()


def test_timestamps_next_to_a_promise_are_dropped_with_a_note() -> None:
    bundle = real_bundle()
    bundle["verificationMaterial"]["timestampVerificationData"] = {
        "rfc3161Timestamps": [{"signedTimestamp": base64.b64encode(FAKE_TSA_TOKEN).decode()}]
    }
    conv = attestation_from_bundle(bundle)
    assert len(conv.notes) == 1
    assert conv.notes[0].startswith("dropped 1 RFC 3161 timestamp ")
    assert conv.attestation.verification_material.timestamps == ()
    kept = attestation_from_bundle(bundle, keep_timestamps=True)
    assert kept.notes == ()
    assert kept.attestation.verification_material.timestamps == (FAKE_TSA_TOKEN,)


# -- refusals ------------------------------------------------------------------------


def test_refuses_unknown_media_type() -> None:
    bundle = real_bundle()
    bundle["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.4"
    err = refused(bundle, "unsupported bundle media type")
    assert "version=0.4" in str(err)


def test_refuses_message_signature_bundle() -> None:
    bundle = real_bundle()
    del bundle["dsseEnvelope"]
    bundle["messageSignature"] = {
        "messageDigest": {"algorithm": "SHA2_256", "digest": base64.b64encode(b"0" * 32).decode()},
        "signature": base64.b64encode(b"sig").decode(),
    }
    err = refused(bundle, "bundle does not contain a DSSE envelope")
    assert str(err) == (
        "bundle does not contain a DSSE envelope (it signs a plain message; "
        "re-sign with DSSE, e.g. actions/attest or attestkit sign)"
    )


@pytest.mark.parametrize("count", [0, 2])
def test_refuses_wrong_signature_count(count: int) -> None:
    bundle = real_bundle()
    sig = bundle["dsseEnvelope"]["signatures"][0]
    bundle["dsseEnvelope"]["signatures"] = [sig] * count
    err = refused(bundle, "expected exactly one signature")
    assert str(err) == f"expected exactly one signature, got {count}"


@pytest.mark.parametrize("count", [0, 2])
def test_refuses_wrong_log_entry_count(count: int) -> None:
    bundle = real_bundle()
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    bundle["verificationMaterial"]["tlogEntries"] = [entry] * count
    err = refused(bundle, "expected exactly one transparency log entry")
    assert str(err).endswith(f"got {count}")


def test_refuses_missing_inclusion_proof() -> None:
    bundle = real_bundle()
    del bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    refused(bundle, "no inclusion proof")


def test_refuses_missing_checkpoint() -> None:
    bundle = real_bundle()
    del bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]
    refused(bundle, "expected checkpoint in inclusion proof")


def test_refuses_v01_bundle_without_promise() -> None:
    bundle = rekor_v2_style(with_chain(real_bundle(), BUNDLE_V01), [FAKE_TSA_TOKEN])
    # Not even keep_timestamps helps: 0.1 bundles need the promise.
    refused(bundle, r"inclusion promise \(required for bundle version 0\.1\)", keep_timestamps=True)


def test_refuses_bundle_without_promise_or_timestamps() -> None:
    bundle = rekor_v2_style(real_bundle(), [])
    err = refused(bundle, "inclusion promise or signed timestamp")
    assert "no verifiable signing time" in str(err)
    refused(bundle, "inclusion promise or signed timestamp", keep_timestamps=True)


def test_refuses_rekor_v2_entry_with_only_timestamps() -> None:
    bundle = rekor_v2_style(real_bundle(), [FAKE_TSA_TOKEN, FAKE_TSA_TOKEN])
    err = refused(bundle, "no inclusion promise")
    message = str(err)
    assert "2 RFC 3161 timestamps" in message
    assert "PEP 740 attestations carry no RFC 3161 timestamps yet" in message
    assert "--keep-timestamps" in message


def test_rekor_v2_entry_converts_with_keep_timestamps() -> None:
    bundle = rekor_v2_style(real_bundle(), [FAKE_TSA_TOKEN])
    conv = attestation_from_bundle(bundle, keep_timestamps=True)
    assert conv.notes == ()
    vm = conv.attestation.verification_material
    assert vm.timestamps == (FAKE_TSA_TOKEN,)
    entry = vm.transparency_entries[0]
    assert "inclusionPromise" not in entry
    assert "integratedTime" not in entry
    out = json.loads(conv.attestation.to_json())
    assert out["verification_material"]["timestamps"] == [base64.b64encode(FAKE_TSA_TOKEN).decode()]
    # And back: the timestamps return to the bundle, so nothing was lost.
    assert bundle_from_attestation(conv.attestation) == bundle


def test_refuses_non_intoto_payload_type() -> None:
    bundle = real_bundle()
    bundle["dsseEnvelope"]["payloadType"] = "application/vnd.example+json"
    err = refused(bundle, "payloadType is 'application/vnd.example\\+json'")
    assert "raw" in str(err)
    conv = attestation_from_bundle(bundle, raw=True)
    assert len(conv.notes) == 1
    assert "not carried" in conv.notes[0]
    assert INTOTO_PAYLOAD_TYPE in conv.notes[0]


def test_refuses_unparsable_statement() -> None:
    bundle = set_payload(real_bundle(), b"not json")
    refused(bundle, r"DSSE payload is not an in-toto statement \(invalid statement: .*JSON")
    conv = attestation_from_bundle(bundle, raw=True)
    assert conv.attestation.envelope.statement == b"not json"
    assert conv.notes[0].startswith("raw: DSSE payload is not an in-toto statement")


def test_refuses_statement_with_wrong_type() -> None:
    statement = real_statement()
    statement["_type"] = "https://in-toto.io/Statement/v0.1"
    refused(set_payload(real_bundle(), statement), "_type must be")


def test_refuses_multiple_subjects() -> None:
    statement = real_statement()
    statement["subject"] = statement["subject"] * 2
    bundle = set_payload(real_bundle(), statement)
    # Not a failed conversion but input PyPI can never take: an input error, with what works.
    with pytest.raises(InputError, match="statement has 2 subjects") as info:
        attestation_from_bundle(bundle)
    assert not isinstance(info.value, ConversionError)
    assert "one actions/attest step per file" in str(info.value)
    assert "attestkit sign" in str(info.value) and "--raw" not in str(info.value)
    conv = attestation_from_bundle(bundle, raw=True)
    assert conv.notes == (
        "raw: statement has 2 subjects; PEP 740 requires exactly one (the distribution file)",
    )


@pytest.mark.parametrize("predicate_type", [PUBLISH_PREDICATE_V1, SLSA_PREDICATE_V1])
def test_accepts_both_pypi_predicate_types(predicate_type: str) -> None:
    statement = real_statement()
    statement["predicateType"] = predicate_type
    assert attestation_from_bundle(set_payload(real_bundle(), statement)).notes == ()


def test_refuses_other_predicate_type() -> None:
    statement = real_statement()
    statement["predicateType"] = "https://slsa.dev/provenance/v0.2"
    bundle = set_payload(real_bundle(), statement)
    err = refused(bundle, "predicateType 'https://slsa.dev/provenance/v0.2' is not one PyPI")
    assert PUBLISH_PREDICATE_V1 in str(err)
    assert SLSA_PREDICATE_V1 in str(err)
    assert attestation_from_bundle(bundle, raw=True).notes[0].startswith("raw: ")


def test_refuses_public_key_bundle() -> None:
    bundle = real_bundle()
    del bundle["verificationMaterial"]["certificate"]
    bundle["verificationMaterial"] = {"publicKey": {"hint": "k"}, **bundle["verificationMaterial"]}
    refused(bundle, "signed with a public key, not a certificate")


def test_refuses_v03_bundle_with_chain_instead_of_certificate() -> None:
    bundle = with_chain(real_bundle(), BUNDLE_V03)
    refused(bundle, "expected certificate in bundle")


def test_refuses_v02_bundle_without_chain() -> None:
    bundle = real_bundle()
    bundle["mediaType"] = BUNDLE_V02
    refused(bundle, "expected certificate chain in bundle")


def test_refuses_empty_chain() -> None:
    bundle = with_chain(real_bundle(), BUNDLE_V02)
    bundle["verificationMaterial"]["x509CertificateChain"]["certificates"] = []
    refused(bundle, "expected non-empty certificate chain")


def test_refuses_ca_in_leaf_position() -> None:
    bundle = with_chain(real_bundle(), BUNDLE_V02)
    ca = base64.b64encode(ca_certificate()).decode()
    bundle["verificationMaterial"]["x509CertificateChain"]["certificates"][0]["rawBytes"] = ca
    refused(bundle, "not a signing leaf: it is a CA certificate")


def test_refuses_unsupported_entry_version() -> None:
    bundle = real_bundle()
    bundle["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["version"] = "0.0.3"
    refused(bundle, r"entry version '0\.0\.3' is not supported")


# -- malformed input: InputError with one line --------------------------------------


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"{", "bundle is not valid JSON"),
        (b"\xff", "bundle is not UTF-8"),
        ("[]", "bundle must be an object, got an array"),
        ('{"mediaType": 3}', "bundle.mediaType must be a string"),
        ("{}", "bundle: missing mediaType"),
        ('{"mediaType": null}', "bundle: missing mediaType"),
    ],
)
def test_malformed_json(data: str | bytes, match: str) -> None:
    with pytest.raises(InputError, match=match):
        attestation_from_bundle(data)


def test_unknown_field_is_rejected_like_sigstore() -> None:
    bundle = real_bundle()
    bundle["verificationMaterial"]["extra"] = 1
    with pytest.raises(InputError, match=r"verificationMaterial: unknown field 'extra'"):
        attestation_from_bundle(bundle)


def test_field_given_twice_is_rejected() -> None:
    bundle = real_bundle()
    bundle["media_type"] = bundle["mediaType"]
    with pytest.raises(InputError, match="given twice"):
        attestation_from_bundle(bundle)


def test_invalid_certificate_is_input_error() -> None:
    bundle = real_bundle()
    bundle["verificationMaterial"]["certificate"]["rawBytes"] = base64.b64encode(b"x").decode()
    with pytest.raises(InputError, match=r"invalid X\.509"):
        attestation_from_bundle(bundle)


def test_urlsafe_base64_is_rejected() -> None:
    bundle = real_bundle()
    sig = bundle["dsseEnvelope"]["signatures"][0]["sig"]
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = sig.replace("+", "-").replace("/", "_")
    assert bundle["dsseEnvelope"]["signatures"][0]["sig"] != sig
    with pytest.raises(InputError, match=r"signatures\[0\]\.sig: not valid standard base64"):
        attestation_from_bundle(bundle)


def test_bad_timestamp_token_is_input_error() -> None:
    bundle = rekor_v2_style(real_bundle(), [b"not DER"])
    with pytest.raises(InputError, match="not a DER-encoded RFC 3161"):
        attestation_from_bundle(bundle, keep_timestamps=True)


def test_messages_are_one_line() -> None:
    bundle = rekor_v2_style(real_bundle(), [FAKE_TSA_TOKEN])
    with pytest.raises(ConversionError) as info:
        attestation_from_bundle(bundle)
    assert "\n" not in str(info.value)


# -- property tests: only AttestkitError, never anything else ------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)

JsonPath = tuple[str | int, ...]


def _paths(node: object, prefix: JsonPath = ()) -> list[JsonPath]:
    out: list[JsonPath] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((*prefix, key))
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.append((*prefix, i))
            out.extend(_paths(value, (*prefix, i)))
    return out


def _get(node: Any, path: JsonPath) -> Any:
    for step in path:
        node = node[step]
    return node


BUNDLE_PATHS = _paths(real_bundle())
STRING_PATHS = [p for p in BUNDLE_PATHS if isinstance(_get(real_bundle(), p), str)]
# Characters a corrupted base64 string might gain: other alphabets, padding, junk.
FLIP_CHARS = "A/+=-_ !\n\u00e9\x00"


def _convert_or_clean_error(bundle: object) -> None:
    try:
        conv = attestation_from_bundle(bundle, keep_timestamps=True)  # type: ignore[arg-type]
    except AttestkitError as exc:
        assert "\n" not in str(exc)
        return
    # A successful conversion is a well-formed attestation.
    assert Attestation.from_json(conv.attestation.to_json()).to_json() == conv.attestation.to_json()


@settings(max_examples=200, deadline=None, database=None)
@given(value=json_values | st.binary(max_size=64))
def test_random_input_raises_only_attestkit_errors(value: object) -> None:
    if isinstance(value, dict | bytes):
        _convert_or_clean_error(value)
    else:
        _convert_or_clean_error(json.dumps(value))


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutated_bundle_raises_only_attestkit_errors(data: st.DataObject) -> None:
    bundle = real_bundle()
    kind = data.draw(st.sampled_from(["delete", "replace", "flip"]))
    if kind == "flip":
        path = data.draw(st.sampled_from(STRING_PATHS))
        text = _get(bundle, path)
        if text:
            index = data.draw(st.integers(0, len(text) - 1))
            char = data.draw(st.sampled_from(FLIP_CHARS))
            _get(bundle, path[:-1])[path[-1]] = text[:index] + char + text[index + 1 :]
    else:
        path = data.draw(st.sampled_from(BUNDLE_PATHS))
        parent = _get(bundle, path[:-1])
        if kind == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(json_values)
    _convert_or_clean_error(bundle)
