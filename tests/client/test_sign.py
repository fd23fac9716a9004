"""attestkit.sign against a real local Sigstore instance, for every identity source.

Each result is verified with attestkit *and* with pypi-attestations through
sigstore-python's verifier, using the instance's trust root.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pypi_attestations import Attestation as PAAttestation
from pypi_attestations import CircleCIPublisher as PACircleCIPublisher
from pypi_attestations import GitHubPublisher as PAGitHubPublisher
from pypi_attestations import GitLabPublisher as PAGitLabPublisher
from pypi_attestations import GooglePublisher as PAGooglePublisher
from sigstore.models import ClientTrustConfig
from sigstore.verify import Verifier as SigstoreVerifier

import attestkit
from attestkit import (
    Attestation,
    CircleCIIdentity,
    Distribution,
    GitHubIdentity,
    GitLabIdentity,
    GoogleIdentity,
    SigningServices,
    TrustRoot,
    Verifier,
)
from attestkit.client.identity import IdentityError
from attestkit.client.sign import PlanError, SigningError
from attestkit.errors import InputError
from tests.conftest import DATA, SDIST, STAGING_WHEEL

WHEEL = STAGING_WHEEL


@pytest.fixture
def dists(tmp_path: Path) -> list[Path]:
    for name in (SDIST, WHEEL):
        shutil.copy(DATA / name, tmp_path / name)
        (tmp_path / name).chmod(0o644)
    return [tmp_path / SDIST, tmp_path / WHEEL]


def _services(local_sigstore) -> SigningServices:
    return SigningServices.from_file(str(local_sigstore.trust_config_path))


def _pa_verify(local_sigstore, path: Path, publisher) -> None:
    tc = ClientTrustConfig.from_json(local_sigstore.trust_config_path.read_text())
    att = PAAttestation.model_validate_json(path.read_text())
    SigstoreVerifier(trusted_root=tc.trusted_root).verify_dsse(
        att.to_bundle(), publisher._as_policy()
    )


IDENTITIES = [
    (
        ["--github", "octo/repo", "--workflow", "release.yml", "--ref", "refs/tags/v1.0"],
        GitHubIdentity("octo/repo", "release.yml", ref="refs/tags/v1.0"),
        PAGitHubPublisher(repository="octo/repo", workflow="release.yml"),
    ),
    (
        ["--gitlab", "group/project", "--workflow", ".gitlab-ci.yml", "--ref", "main"],
        GitLabIdentity("group/project", ".gitlab-ci.yml"),
        PAGitLabPublisher(repository="group/project", workflow_filepath=".gitlab-ci.yml"),
    ),
    (
        ["--google", "release@proj.iam.gserviceaccount.com"],
        GoogleIdentity("release@proj.iam.gserviceaccount.com"),
        PAGooglePublisher(email="release@proj.iam.gserviceaccount.com"),
    ),
    (
        [
            "--circleci",
            "c7f5b1b0-0000-4000-8000-000000000001",
            "--pipeline-definition-id",
            "d1e2f3a4-0000-4000-8000-000000000002",
            "--vcs-origin",
            "github.com/octo/repo",
            "--ref",
            "refs/heads/main",
        ],
        CircleCIIdentity(
            "c7f5b1b0-0000-4000-8000-000000000001",
            "d1e2f3a4-0000-4000-8000-000000000002",
            "github.com/octo/repo",
            "refs/heads/main",
        ),
        PACircleCIPublisher(
            project_id="c7f5b1b0-0000-4000-8000-000000000001",
            pipeline_definition_id="d1e2f3a4-0000-4000-8000-000000000002",
            vcs_origin="github.com/octo/repo",
            vcs_ref="refs/heads/main",
        ),
    ),
]


@pytest.mark.parametrize(
    ("token_args", "policy", "pa_publisher"),
    IDENTITIES,
    ids=["github", "gitlab", "google", "circleci"],
)
def test_sign_every_identity_and_verify_with_both(
    local_sigstore, dists, token_args, policy, pa_publisher
) -> None:
    token = local_sigstore.token(*token_args)
    results = attestkit.sign(dists, identity_token=token, services=_services(local_sigstore))
    assert [r.dist for r in results] == dists
    root = TrustRoot.from_file(local_sigstore.trust_config_path)
    for path, result in zip(dists, results, strict=True):
        (att_path,) = result.written
        assert att_path == path.with_name(path.name + ".publish.attestation")
        att = Attestation.from_file(att_path)
        Verifier(root).verify(att, policy, Distribution.from_file(path))
        _pa_verify(local_sigstore, att_path, pa_publisher)
        statement = json.loads(att.envelope.statement)
        assert statement["subject"][0]["name"] == path.name
        assert statement["predicate"] is None


def test_slsa_provenance_writes_both(local_sigstore, dists, tmp_path: Path) -> None:
    predicate = {
        "buildDefinition": {"buildType": "https://actions.github.io/buildtypes/workflow/v1"},
        "runDetails": {"builder": {"id": "https://github.com/octo/repo"}},
    }
    token = local_sigstore.token(
        "--github", "octo/repo", "--workflow", "release.yml", "--ref", "refs/tags/v1.0"
    )
    results = attestkit.sign(
        dists[:1],
        identity_token=token,
        services=_services(local_sigstore),
        slsa_provenance=predicate,
    )
    assert sorted(p.name for p in results[0].written) == [
        f"{SDIST}.publish.attestation",
        f"{SDIST}.slsa.attestation",
    ]
    atts = [Attestation.from_file(p) for p in results[0].written]
    verified = Verifier(TrustRoot.from_file(local_sigstore.trust_config_path)).verify_all(
        atts, GitHubIdentity("octo/repo", "release.yml"), Distribution.from_file(dists[0])
    )
    by_type = {r.predicate_type: r.predicate for r in verified}
    assert by_type["https://slsa.dev/provenance/v1"] == predicate
    assert by_type["https://docs.pypi.org/attestations/publish/v1"] is None


def test_one_certificate_for_the_whole_run(local_sigstore, dists) -> None:
    token = local_sigstore.token(
        "--github", "octo/repo", "--workflow", "release.yml", "--ref", "refs/tags/v1.0"
    )
    results = attestkit.sign(dists, identity_token=token, services=_services(local_sigstore))
    certs = {Attestation.from_file(r.written[0]).verification_material.certificate for r in results}
    assert len(certs) == 1


def test_skip_verified_keeps_and_refuses_foreign(local_sigstore, dists) -> None:
    services = _services(local_sigstore)
    token = local_sigstore.token(
        "--github", "octo/repo", "--workflow", "release.yml", "--ref", "refs/tags/v1.0"
    )
    attestkit.sign(dists, identity_token=token, services=services)
    before = {p: p.with_name(p.name + ".publish.attestation").read_bytes() for p in dists}
    again = attestkit.sign(dists, identity_token=token, services=services, skip_verified=True)
    assert all(r.kept and not r.written for r in again)
    assert {p: p.with_name(p.name + ".publish.attestation").read_bytes() for p in dists} == before
    other = local_sigstore.token(
        "--github", "octo/other", "--workflow", "release.yml", "--ref", "refs/tags/v1.0"
    )
    with pytest.raises(SigningError, match="does not verify for https://github.com/octo/other"):
        attestkit.sign(dists, identity_token=other, services=services, skip_verified=True)
    assert {p: p.with_name(p.name + ".publish.attestation").read_bytes() for p in dists} == before


def test_inputs_checked_before_any_network_call(dists, tmp_path: Path) -> None:
    def no_network() -> SigningServices:
        raise AssertionError("the services must not be resolved when an input is bad")

    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(PlanError) as info:
        attestkit.sign(
            [*dists, tmp_path / "missing-1.0.tar.gz", tmp_path / "notes.txt"],
            identity_token="x.y.z",
            services=no_network,
        )
    reasons = [str(e) for e in info.value.errors]
    assert any("missing-1.0.tar.gz: no such file" in r for r in reasons)
    assert any("notes.txt" in r and "unknown distribution format" in r for r in reasons)
    assert not list(tmp_path.glob("*.attestation"))


def test_bad_tokens_are_refused_before_signing(local_sigstore, dists) -> None:
    expired = local_sigstore.token(
        "--github", "o/r", "--workflow", "w.yml", "--ref", "refs/heads/main", "--lifetime", "-10"
    )
    with pytest.raises(IdentityError, match="expired at"):
        attestkit.sign(dists, identity_token=expired, services=_services(local_sigstore))
    wrong_aud = local_sigstore.token(
        "--github", "o/r", "--workflow", "w.yml", "--ref", "refs/heads/main", "--audience", "pypi"
    )
    with pytest.raises(IdentityError, match="not 'sigstore'"):
        attestkit.sign(dists, identity_token=wrong_aud, services=_services(local_sigstore))
    with pytest.raises(IdentityError, match="not a JWT"):
        attestkit.sign(dists, identity_token="garbage", services=_services(local_sigstore))
    assert not list(dists[0].parent.glob("*.attestation"))


def _dead_port() -> int:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("which", ["caUrls", "rekorTlogUrls"])
def test_unreachable_service_writes_nothing(
    local_sigstore, dists, tmp_path: Path, which: str
) -> None:
    config = json.loads(local_sigstore.trust_config_path.read_text())
    config["signingConfig"][which][0]["url"] = f"http://127.0.0.1:{_dead_port()}"
    path = tmp_path / "tc.json"
    path.write_text(json.dumps(config))
    token = local_sigstore.token(
        "--github", "o/r", "--workflow", "w.yml", "--ref", "refs/heads/main"
    )
    expected = "certificate authority" if which == "caUrls" else "transparency log"
    with pytest.raises(SigningError, match=f"cannot reach the {expected}"):
        attestkit.sign(
            dists, identity_token=token, services=SigningServices.from_file(str(path)), timeout=5
        )
    assert sorted(p.name for p in dists[0].parent.iterdir() if p.name != "tc.json") == sorted(
        p.name for p in dists
    )


def test_a_v2_only_trust_config_needs_a_timestamp_authority(local_sigstore, tmp_path: Path) -> None:
    config = json.loads(local_sigstore.trust_config_path.read_text())
    config["signingConfig"]["rekorTlogUrls"][0]["majorApiVersion"] = 2
    path = tmp_path / "tc.json"
    path.write_text(json.dumps(config))
    with pytest.raises(InputError, match="lists no valid timestamp authority"):
        SigningServices.from_file(str(path))
    config["signingConfig"]["rekorTlogUrls"] = []
    path.write_text(json.dumps(config))
    with pytest.raises(InputError, match=r"no valid Rekor \(v1 or v2\) log"):
        SigningServices.from_file(str(path))
    with pytest.raises(InputError, match="not a ClientTrustConfig"):
        SigningServices.from_trust_config(json.dumps(config["trustedRoot"]), source="root.json")
