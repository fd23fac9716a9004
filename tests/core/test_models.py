"""The PEP 740 model: byte-compatible with pypi-attestations, strict on bad input."""

from __future__ import annotations

import base64
import copy
import json

import pytest
from pypi_attestations import Attestation as PAAttestation
from pypi_attestations import Provenance as PAProvenance

from attestkit import (
    ActiveStatePublisher,
    Attestation,
    GitHubPublisher,
    Provenance,
    UnsupportedPublisher,
)
from attestkit.errors import InputError
from tests.conftest import DATA, GITLAB_SDIST, SDIST, STAGING_WHEEL

ATTESTATIONS = [
    f"{SDIST}.publish.attestation",
    f"{SDIST}.slsa.attestation",
    f"{GITLAB_SDIST}.publish.attestation",
    f"{STAGING_WHEEL}.publish.attestation",
]


def _load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


@pytest.mark.parametrize("name", ATTESTATIONS)
def test_attestation_json_equals_pypi_attestations(name: str) -> None:
    raw = (DATA / name).read_text()
    ours = Attestation.from_json(raw).to_json()
    theirs = PAAttestation.model_validate_json(raw).model_dump_json()
    assert ours == theirs
    # ...and pypi-attestations reads ours back to the same object.
    assert PAAttestation.model_validate_json(ours) == PAAttestation.model_validate_json(raw)
    assert Attestation.from_json(ours) == Attestation.from_json(raw)


def test_provenance_json_equals_pypi_attestations() -> None:
    raw = (DATA / f"{SDIST}.provenance").read_text()
    prov = Provenance.from_json(raw)
    assert prov.to_json() == PAProvenance.model_validate_json(raw).model_dump_json()
    publisher, att = prov.attestations[0]
    assert isinstance(publisher, GitHubPublisher)
    assert publisher.repository == "trailofbits/pypi-attestations"
    assert publisher.workflow == "release.yml"
    assert att.statement.subjects[0].name == SDIST


def test_pydantic_style_aliases() -> None:
    raw = (DATA / ATTESTATIONS[0]).read_text()
    att = Attestation.model_validate_json(raw)
    assert att.model_dump(mode="json") == json.loads(att.model_dump_json())
    assert Attestation.model_validate(json.loads(raw)) == att


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda a: a.__setitem__("version", 2), "unsupported version 2"),
        (lambda a: a.__setitem__("version", "1"), "unsupported version '1'"),
        (lambda a: a.__setitem__("version", True), "unsupported version True"),
        (lambda a: a.__setitem__("version", 1.0), "unsupported version 1.0"),
        (lambda a: a.pop("envelope"), "missing envelope"),
        (lambda a: a.pop("verification_material"), "missing verification_material"),
        (
            lambda a: a["verification_material"].__setitem__("transparency_entries", []),
            "transparency_entries must be a non-empty array",
        ),
        (
            lambda a: a["envelope"].__setitem__(
                "signature", a["envelope"]["signature"].replace("+", "-")
            ),
            "envelope.signature: not valid standard base64",
        ),
        (
            lambda a: a["envelope"].__setitem__("statement", a["envelope"]["statement"] + "\n"),
            "envelope.statement: not valid standard base64",
        ),
        (
            lambda a: a["verification_material"].__setitem__("certificate", 5),
            "certificate: expected a base64 string, got a number",
        ),
    ],
)
def test_attestation_rejects_bad_fields(mutate, reason: str) -> None:
    obj = _load(ATTESTATIONS[0])
    mutate(obj)
    with pytest.raises(
        InputError, match=reason.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")
    ):
        Attestation.from_dict(obj)


def test_base64_is_strict_where_pydantic_is_lax() -> None:
    obj = _load(ATTESTATIONS[0])
    sig = base64.b64decode(obj["envelope"]["signature"])
    obj["envelope"]["signature"] = base64.urlsafe_b64encode(sig).decode()
    if "-" in obj["envelope"]["signature"] or "_" in obj["envelope"]["signature"]:
        with pytest.raises(InputError):
            Attestation.from_dict(obj)


def test_from_file_errors_name_the_file(tmp_path) -> None:
    bad = tmp_path / "x.publish.attestation"
    bad.write_text("{not json")
    with pytest.raises(InputError) as info:
        Attestation.from_file(bad)
    assert str(info.value).startswith(f"{bad}: ")
    assert "not valid JSON" in str(info.value)
    with pytest.raises(InputError, match="no such file"):
        Attestation.from_file(tmp_path / "missing")


def test_timestamps_round_trip_only_when_present() -> None:
    obj = _load(ATTESTATIONS[0])
    obj["verification_material"]["timestamps"] = [base64.b64encode(b"tsr").decode()]
    att = Attestation.from_dict(obj)
    assert att.verification_material.timestamps == (b"tsr",)
    assert att.to_dict()["verification_material"]["timestamps"] == ["dHNy"]
    obj["verification_material"]["timestamps"] = None
    assert "timestamps" not in Attestation.from_dict(obj).to_dict()["verification_material"]


def test_unknown_publisher_kind_is_kept_not_fatal() -> None:
    prov = _load(f"{SDIST}.provenance")
    extra = copy.deepcopy(prov["attestation_bundles"][0])
    extra["publisher"] = {"kind": "Bitbucket", "workspace": "w", "repositoryUuid": "{u}"}
    prov["attestation_bundles"].append(extra)
    parsed = Provenance.from_dict(prov)
    unknown = parsed.attestation_bundles[1].publisher
    assert isinstance(unknown, UnsupportedPublisher)
    assert not unknown.supported
    assert parsed.to_dict()["attestation_bundles"][1]["publisher"] == extra["publisher"]


def test_publisher_claims_and_extra_keys_preserved() -> None:
    prov = _load(f"{SDIST}.provenance")
    prov["attestation_bundles"][0]["publisher"]["claims"] = {"sha": "abc"}
    prov["attestation_bundles"][0]["publisher"]["future_key"] = [1]
    out = Provenance.from_dict(prov).to_dict()["attestation_bundles"][0]["publisher"]
    assert out["claims"] == {"sha": "abc"}
    assert out["future_key"] == [1]


def test_activestate_publisher_parses_but_cannot_verify() -> None:
    from attestkit.errors import VerificationError

    pub = ActiveStatePublisher.from_dict(
        {"kind": "ActiveState", "organization": "o", "project": "p", "actor_id": "a"}
    )
    assert pub.to_dict()["kind"] == "ActiveState"
    with pytest.raises(VerificationError, match="not currently supported with ActiveState"):
        pub.policy()


def test_provenance_version_defaults_to_one_and_rejects_others() -> None:
    assert Provenance.from_dict({"attestation_bundles": []}).version == 1
    with pytest.raises(InputError, match="unsupported version 2"):
        Provenance.from_dict({"version": 2, "attestation_bundles": []})


def test_public_api_exports_resolve() -> None:
    import attestkit

    for name in attestkit.__all__:
        assert getattr(attestkit, name) is not None
    assert set(attestkit.__all__) == {"__version__", *attestkit._EXPORTS}
