"""Verifying the real PyPI attestations through the API, on both engines.

Every case runs with attestkit's engine and with sigstore-python's (the
``sigstore`` backend), so the two must agree on what is accepted.
"""

from __future__ import annotations

import base64
import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from attestkit import (
    Attestation,
    Distribution,
    GitHubIdentity,
    GitHubPublisher,
    GitLabIdentity,
    GitLabPublisher,
    GoogleIdentity,
    Identity,
    Provenance,
    TrustRoot,
    Verifier,
)
from attestkit.errors import VerificationError
from tests.conftest import (
    DATA,
    GITHUB_REPO,
    GITLAB_REPO,
    GITLAB_SDIST,
    SDIST,
    STAGING_EMAIL,
    STAGING_ISSUER,
    STAGING_WHEEL,
)

BACKENDS = ["attestkit", "sigstore"]
PUBLISH = "https://docs.pypi.org/attestations/publish/v1"
SLSA = "https://slsa.dev/provenance/v1"


@pytest.fixture(params=BACKENDS)
def prod(request: pytest.FixtureRequest) -> Verifier:
    return Verifier(TrustRoot.production(), backend=request.param)


@pytest.fixture(params=BACKENDS)
def staging(request: pytest.FixtureRequest) -> Verifier:
    return Verifier(TrustRoot.staging(), backend=request.param)


def att(name: str) -> Attestation:
    return Attestation.from_file(DATA / name)


def dist(name: str) -> Distribution:
    return Distribution.from_file(DATA / name)


# -- the right publisher verifies --------------------------------------------------


@pytest.mark.parametrize(("suffix", "ptype"), [("publish", PUBLISH), ("slsa", SLSA)])
def test_github_attestations_verify(prod: Verifier, suffix: str, ptype: str) -> None:
    result = prod.verify(
        att(f"{SDIST}.{suffix}.attestation"),
        GitHubIdentity(GITHUB_REPO, "release.yml"),
        dist(SDIST),
    )
    assert result.predicate_type == ptype
    assert result.subject_name == SDIST
    assert result.claims.claims["source_repository_ref"] == "refs/tags/v0.0.19"
    assert result.time.year == 2024
    assert result.warnings == ()


def test_github_publisher_object_and_pins(prod: Verifier) -> None:
    a, d = att(f"{SDIST}.publish.attestation"), dist(SDIST)
    prod.verify(a, GitHubPublisher(repository=GITHUB_REPO, workflow="release.yml"), d)
    prod.verify(a, GitHubIdentity(GITHUB_REPO), d)  # any workflow of the repository
    prod.verify(a, GitHubIdentity(GITHUB_REPO, "release.yml", ref="refs/tags/v0.0.19"), d)


def test_gitlab_attestation_verifies(prod: Verifier) -> None:
    result = prod.verify(
        att(f"{GITLAB_SDIST}.publish.attestation"),
        GitLabPublisher(repository=GITLAB_REPO, workflow_filepath=".gitlab-ci.yml"),
        dist(GITLAB_SDIST),
    )
    assert result.claims.summary().startswith(f"GitLab {GITLAB_REPO} workflow .gitlab-ci.yml")


def test_staging_email_attestation_verifies(staging: Verifier) -> None:
    result = staging.verify(
        att(f"{STAGING_WHEEL}.publish.attestation"),
        Identity(STAGING_EMAIL, STAGING_ISSUER),
        dist(STAGING_WHEEL),
    )
    assert result.claims.identity == STAGING_EMAIL


def test_verify_all_both_predicates(prod: Verifier) -> None:
    results = prod.verify_all(
        [att(f"{SDIST}.publish.attestation"), att(f"{SDIST}.slsa.attestation")],
        GitHubIdentity(GITHUB_REPO, "release.yml"),
        dist(SDIST),
    )
    assert {r.predicate_type for r in results} == {PUBLISH, SLSA}


# -- the wrong publisher fails, each with its own reason ----------------------------


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        (
            GitHubIdentity("trailofbits/other", "release.yml"),
            "Source Repository URI does not match (got 'https://github.com/trailofbits/pypi-attestations',"
            " expected 'https://github.com/trailofbits/other')",
        ),
        (
            GitHubIdentity("TrailOfBits/pypi-attestations", "release.yml"),
            "Source Repository URI does not match",
        ),
        (
            GitHubIdentity(GITHUB_REPO, "publish.yml"),
            "Build Config URI (https://github.com/trailofbits/pypi-attestations/.github/workflows/"
            "release.yml@refs/tags/v0.0.19) does not match expected Trusted Publisher"
            " (publish.yml @ trailofbits/pypi-attestations)",
        ),
        (
            GitLabIdentity(GITHUB_REPO, "release.yml"),
            "OIDCIssuerV2 does not match (got 'https://token.actions.githubusercontent.com',"
            " expected 'https://gitlab.com')",
        ),
        (GoogleIdentity("x@example.iam.gserviceaccount.com"), "OIDCIssuer does not match"),
        (
            GitHubIdentity(GITHUB_REPO, "release.yml", ref="refs/tags/v9"),
            "Source Repository Ref does not match (got 'refs/tags/v0.0.19', expected 'refs/tags/v9')",
        ),
        (
            GitHubIdentity(GITHUB_REPO, "release.yml", environment="pypi", strict_environment=True),
            "does not record a deployment environment",
        ),
    ],
)
def test_wrong_publisher_fails(prod: Verifier, policy, reason: str) -> None:
    with pytest.raises(VerificationError) as info:
        prod.verify(att(f"{SDIST}.publish.attestation"), policy, dist(SDIST))
    assert reason in info.value.reason
    assert "Extension(" not in info.value.reason
    assert "\n" not in str(info.value)


def test_wrong_gitlab_workflow_and_issuer(prod: Verifier) -> None:
    a, d = att(f"{GITLAB_SDIST}.publish.attestation"), dist(GITLAB_SDIST)
    with pytest.raises(VerificationError, match="does not match expected Trusted Publisher"):
        prod.verify(a, GitLabIdentity(GITLAB_REPO, "other.yml"), d)
    with pytest.raises(VerificationError, match="OIDCIssuerV2 does not match"):
        prod.verify(a, GitHubIdentity(GITLAB_REPO, ".gitlab-ci.yml"), d)


def test_wrong_email_issuer(staging: Verifier) -> None:
    a, d = att(f"{STAGING_WHEEL}.publish.attestation"), dist(STAGING_WHEEL)
    with pytest.raises(VerificationError, match="OIDCIssuer does not match"):
        staging.verify(a, Identity(STAGING_EMAIL, "https://accounts.google.com"), d)
    with pytest.raises(VerificationError, match="SANs do not match"):
        staging.verify(a, Identity("someone@example.com", STAGING_ISSUER), d)


def test_wrong_trust_root_fails(staging: Verifier) -> None:
    # attestkit's engine says which root would work; sigstore-python's is passed through.
    expected = "does not chain to a Fulcio root of staging.*production|certificate chain"
    with pytest.raises(VerificationError, match=expected):
        staging.verify(
            att(f"{SDIST}.publish.attestation"),
            GitHubIdentity(GITHUB_REPO, "release.yml"),
            dist(SDIST),
        )


# -- tampering ----------------------------------------------------------------


def _github(prod: Verifier, a: Attestation, d: Distribution):
    return prod.verify(a, GitHubIdentity(GITHUB_REPO, "release.yml"), d)


def test_changed_dist_byte(prod: Verifier, tmp_path: Path) -> None:
    data = bytearray((DATA / SDIST).read_bytes())
    data[100] ^= 1
    (tmp_path / SDIST).write_bytes(bytes(data))
    with pytest.raises(VerificationError, match="^subject does not match distribution digest$"):
        _github(prod, att(f"{SDIST}.publish.attestation"), Distribution.from_file(tmp_path / SDIST))


@pytest.mark.parametrize(
    "renamed", ["pypi_attestations-0.0.20.tar.gz", "other_project-0.0.19.tar.gz"]
)
def test_renamed_dist(prod: Verifier, tmp_path: Path, renamed: str) -> None:
    shutil.copy(DATA / SDIST, tmp_path / renamed)
    with pytest.raises(
        VerificationError, match=f"subject does not match distribution name: {SDIST} != {renamed}"
    ):
        _github(
            prod, att(f"{SDIST}.publish.attestation"), Distribution.from_file(tmp_path / renamed)
        )


def test_equivalent_name_passes_with_warning_unless_strict(tmp_path: Path) -> None:
    shutil.copy(DATA / SDIST, tmp_path / "pypi_attestations-0.0.19.zip")
    d = Distribution.from_file(tmp_path / "pypi_attestations-0.0.19.zip")
    result = _github(Verifier.production(), att(f"{SDIST}.publish.attestation"), d)
    assert "differs from the file name" in result.warnings[0]
    with pytest.raises(VerificationError, match="strict-names"):
        _github(Verifier.production(strict_names=True), att(f"{SDIST}.publish.attestation"), d)


def test_swapped_attestation_from_another_file(prod: Verifier) -> None:
    with pytest.raises(VerificationError, match="subject does not match distribution name"):
        prod.verify(
            att(f"{GITLAB_SDIST}.publish.attestation"),
            GitLabIdentity(GITLAB_REPO, ".gitlab-ci.yml"),
            dist(SDIST),
        )


def _mutated(name: str, mutate) -> Attestation:
    obj = json.loads((DATA / name).read_text())
    mutate(obj)
    return Attestation.from_dict(obj)


def _flip_b64(value: str, index: int) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_flipped_signature_byte(prod: Verifier) -> None:
    a = _mutated(
        f"{SDIST}.publish.attestation",
        lambda o: o["envelope"].__setitem__("signature", _flip_b64(o["envelope"]["signature"], 20)),
    )
    with pytest.raises(VerificationError, match="^DSSE: invalid signature"):
        _github(prod, a, dist(SDIST))


def test_altered_certificate(prod: Verifier) -> None:
    a = _mutated(
        f"{SDIST}.publish.attestation",
        lambda o: o["verification_material"].__setitem__(
            "certificate", _flip_b64(o["verification_material"]["certificate"], 400)
        ),
    )
    with pytest.raises(VerificationError) as info:
        _github(prod, a, dist(SDIST))
    assert "certificate" in info.value.reason


def test_changed_statement(prod: Verifier) -> None:
    def mutate(o: dict) -> None:
        statement = json.loads(base64.b64decode(o["envelope"]["statement"]))
        statement["predicate"] = {}
        o["envelope"]["statement"] = base64.b64encode(json.dumps(statement).encode()).decode()

    a = _mutated(f"{SDIST}.publish.attestation", mutate)
    with pytest.raises(VerificationError, match="statement was changed after signing"):
        _github(prod, a, dist(SDIST))


def test_changed_integrated_time(prod: Verifier) -> None:
    def mutate(o: dict) -> None:
        entry = o["verification_material"]["transparency_entries"][0]
        entry["integratedTime"] = str(int(entry["integratedTime"]) + 3600)

    with pytest.raises(VerificationError):
        _github(prod, _mutated(f"{SDIST}.publish.attestation", mutate), dist(SDIST))


def test_every_transparency_entry_is_checked(prod: Verifier) -> None:
    """A bogus second entry is not silently ignored (pypi-attestations uses only [0])."""

    def mutate(o: dict) -> None:
        entries = o["verification_material"]["transparency_entries"]
        bad = copy.deepcopy(entries[0])
        bad["inclusionPromise"]["signedEntryTimestamp"] = _flip_b64(
            bad["inclusionPromise"]["signedEntryTimestamp"], 10
        )
        entries.append(bad)

    with pytest.raises(VerificationError, match="log entry"):
        _github(prod, _mutated(f"{SDIST}.publish.attestation", mutate), dist(SDIST))


def test_duplicate_predicate_type_refused(prod: Verifier) -> None:
    a = att(f"{SDIST}.publish.attestation")
    with pytest.raises(VerificationError, match="same predicate type"):
        prod.verify_all([a, a], GitHubIdentity(GITHUB_REPO, "release.yml"), dist(SDIST))


# -- provenance -----------------------------------------------------------------


def test_provenance_verifies_with_pin(prod: Verifier) -> None:
    prov = Provenance.from_file(DATA / f"{SDIST}.provenance")
    result = prod.verify_provenance(prov, dist(SDIST), GitHubIdentity(GITHUB_REPO))
    assert [r.predicate_type for _, r in result.results] == [PUBLISH]
    with pytest.raises(VerificationError, match="Source Repository URI does not match"):
        prod.verify_provenance(prov, dist(SDIST), GitHubIdentity("someone/else"))


def test_provenance_with_nothing_to_verify_fails() -> None:
    v = Verifier.production()
    with pytest.raises(VerificationError, match="nothing verified"):
        v.verify_provenance(Provenance.from_dict({"attestation_bundles": []}), dist(SDIST))
    obj = json.loads((DATA / f"{SDIST}.provenance").read_text())
    obj["attestation_bundles"][0]["attestations"] = []
    with pytest.raises(VerificationError, match="has no attestations"):
        v.verify_provenance(Provenance.from_dict(obj), dist(SDIST))
    obj["attestation_bundles"][0]["publisher"] = {"kind": "Bitbucket"}
    with pytest.raises(VerificationError, match="unsupported publisher kind 'Bitbucket'"):
        v.verify_provenance(Provenance.from_dict(obj), dist(SDIST))


def test_find_attestations_lists_each_directory_once(tmp_path: Path, monkeypatch: Any) -> None:
    """Finding attestations for many files lists the directory once, and sees new files."""
    import os

    from attestkit.sigstore.verify import attestation as module

    names = [f"pkg{i}-1.0.tar.gz" for i in range(50)]
    for name in names:
        (tmp_path / name).write_text("x")
        (tmp_path / f"{name}.publish.attestation").write_text("{}")
    (tmp_path / f"{names[0]}.slsa.attestation").write_text("{}")
    (tmp_path / f"{names[0]}.a.b.attestation").write_text("{}")  # not a <kind>
    (tmp_path / f"{names[1]}.attestation").write_text("{}")  # legacy, shadowed by publish
    scans = []
    real = os.scandir

    def counting(path: Any) -> Any:
        scans.append(path)
        return real(path)

    monkeypatch.setattr(os, "scandir", counting)
    found = {name: module.find_attestations(tmp_path / name) for name in names}
    assert len(scans) == 1
    assert [p.name for p in found[names[0]]] == [
        f"{names[0]}.publish.attestation",
        f"{names[0]}.slsa.attestation",
    ]
    assert [p.name for p in found[names[1]]] == [f"{names[1]}.publish.attestation"]
    (tmp_path / f"{names[2]}.extra.attestation").write_text("{}")
    os.utime(tmp_path, ns=(0, tmp_path.stat().st_mtime_ns + 1_000_000))
    assert len(module.find_attestations(tmp_path / names[2])) == 2
    assert len(scans) == 2


def test_a_verification_parses_the_signing_certificate_once(monkeypatch: Any) -> None:
    """The verifier hands the certificate it parsed to the engine (it used to parse it twice)."""
    from cryptography import x509

    verifier = Verifier(TrustRoot.production())
    attestation = att(f"{SDIST}.publish.attestation")
    parsed: list[bytes] = []
    real = x509.load_der_x509_certificate

    def counting(data: bytes, *args: Any) -> Any:
        if data == attestation.verification_material.certificate:
            parsed.append(data)
        return real(data, *args)

    monkeypatch.setattr(x509, "load_der_x509_certificate", counting)
    verifier.verify(attestation, GitHubIdentity(GITHUB_REPO, "release.yml"), dist(SDIST))
    assert len(parsed) == 1
