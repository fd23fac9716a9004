"""The local CA: Fulcio's certificate profile and CI extensions per provider, checked with
attestkit's policies, pypi-attestations' publisher policies, sigstore-python's SCT check
and cryptography's chain builder; plus every 4xx path."""

from __future__ import annotations

import base64
import datetime as dt
import json
import struct
import time
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store
from pypi_attestations import (
    CircleCIPublisher,
    GitHubPublisher,
    GitLabPublisher,
    GooglePublisher,
)
from sigstore._internal.sct import verify_sct
from sigstore._internal.trust import CTKeyring, Keyring
from sigstore.errors import VerificationError as SigstoreVerificationError
from sigstore_models.common import v1 as common_v1

from attestkit.core.certificate import CertificateClaims, der_utf8string
from attestkit.core.constants import (
    BUILDKITE_ISSUER,
    CIRCLECI_ISSUER,
    GITHUB_ISSUER,
    GITLAB_ISSUER,
    GOOGLE_ISSUER,
)
from attestkit.core.providers import (
    CircleCIIdentity,
    GitHubIdentity,
    GitLabIdentity,
    GoogleIdentity,
)
from attestkit.errors import VerificationError
from attestkit.sigstore.local import oidc
from attestkit.sigstore.local.ca import CAError, CertificateAuthority
from attestkit.sigstore.local.ca import der_utf8string as ca_der_utf8string
from attestkit.sigstore.local.keys import KeyStore, key_id
from attestkit.sigstore.verify.chain import _extension_policies
from tests.fixtures.csr import body, make_csr

URL = "http://127.0.0.1:8123"
FULCIO = "1.3.6.1.4.1.57264.1."
SCT_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return KeyStore.open(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def issuer(keys: KeyStore) -> oidc.Issuer:
    return oidc.Issuer(keys, URL, login_email="dev@example.com")


@pytest.fixture(scope="module")
def ca(keys: KeyStore, issuer: oidc.Issuer) -> CertificateAuthority:
    return CertificateAuthority(keys, issuer.trusted_issuers())


@pytest.fixture(scope="module")
def client_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def issue(
    ca: CertificateAuthority, issuer: oidc.Issuer, claims: dict[str, Any], key: Any
) -> list[x509.Certificate]:
    token = issuer.mint(claims)
    response = ca.signing_cert(body(make_csr(key)), f"Bearer {token}")
    pems = response["signedCertificateEmbeddedSct"]["chain"]["certificates"]
    assert set(response) == {"signedCertificateEmbeddedSct"}
    assert all(isinstance(p, str) and p.startswith("-----BEGIN CERTIFICATE-----") for p in pems)
    return [x509.load_pem_x509_certificate(p.encode()) for p in pems]


def ct_keyring(keys: KeyStore) -> CTKeyring:
    der = keys.ct_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public = common_v1.PublicKey(
        raw_bytes=base64.b64encode(der),
        key_details=common_v1.PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
    )
    return CTKeyring(Keyring([public]))


def verify_chain(keys: KeyStore, leaf: x509.Certificate, inter: x509.Certificate) -> None:
    ca_policy, ee_policy = _extension_policies()
    verifier = (
        PolicyBuilder()
        .store(Store([keys.root_cert]))
        .time(leaf.not_valid_before_utc + dt.timedelta(minutes=1))
        .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
        .build_client_verifier()
    )
    built = verifier.verify(leaf, [inter])
    assert built.chain[-1] == keys.root_cert


def fulcio_exts(cert: x509.Certificate) -> dict[int, bytes]:
    out = {}
    for ext in cert.extensions:
        if ext.oid.dotted_string.startswith(FULCIO):
            assert isinstance(ext.value, x509.UnrecognizedExtension)
            out[int(ext.oid.dotted_string[len(FULCIO) :])] = ext.value.value
    return out


# -- GitHub ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def github_chain(ca, issuer, client_key) -> list[x509.Certificate]:
    claims = oidc.github_claims(
        "octo-org/octo-repo", "release.yml", "refs/tags/v1.0", environment="pypi"
    )
    return issue(ca, issuer, claims, client_key)


def test_github_certificate_claims(github_chain) -> None:
    leaf = github_chain[0]
    c = oidc.github_claims(
        "octo-org/octo-repo", "release.yml", "refs/tags/v1.0", environment="pypi"
    )
    decoded = CertificateClaims.from_certificate(leaf)
    assert decoded.undecodable == ()
    wf = "https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/tags/v1.0"
    assert decoded.sans == (wf,)
    assert decoded.claims == {
        "issuer_v1": GITHUB_ISSUER,
        "github_workflow_trigger": "push",
        "github_workflow_sha": c["sha"],
        "github_workflow_name": "release",
        "github_workflow_repository": "octo-org/octo-repo",
        "github_workflow_ref": "refs/tags/v1.0",
        "issuer": GITHUB_ISSUER,
        "build_signer_uri": wf,
        "build_signer_digest": c["sha"],
        "runner_environment": "github-hosted",
        "source_repository_uri": "https://github.com/octo-org/octo-repo",
        "source_repository_digest": c["sha"],
        "source_repository_ref": "refs/tags/v1.0",
        "source_repository_identifier": c["repository_id"],
        "source_repository_owner_uri": "https://github.com/octo-org",
        "source_repository_owner_identifier": c["repository_owner_id"],
        "build_config_uri": wf,
        "build_config_digest": c["sha"],
        "build_trigger": "push",
        "run_invocation_uri": (
            f"https://github.com/octo-org/octo-repo/actions/runs/{c['run_id']}/attempts/1"
        ),
        "source_repository_visibility_at_signing": "public",
        "deployment_environment": "pypi",
    }
    assert decoded.issuer_dn == github_chain[1].subject.rfc4514_string()
    # Raw (.1-.6) vs DER UTF8String (.8+) encodings, in OID order, no .7/.24.
    exts = fulcio_exts(leaf)
    assert list(exts) == [1, 2, 3, 4, 5, 6, *range(8, 24)]
    assert exts[1] == GITHUB_ISSUER.encode()
    assert exts[8] == b"\x0c" + bytes([len(GITHUB_ISSUER)]) + GITHUB_ISSUER.encode()
    assert der_utf8string(exts[21]).endswith("/attempts/1")


@pytest.mark.parametrize("length", [0, 1, 127, 128, 255, 256, 65535, 65536])
def test_der_utf8string_round_trips_through_attestkit_decoder(length: int) -> None:
    value = ("é" * length)[: length // 2] + "x" * (length - length // 2)
    encoded = ca_der_utf8string(value)
    assert encoded[0] == 0x0C
    assert der_utf8string(encoded) == value


def test_long_claims_use_long_form_lengths(ca, issuer, client_key) -> None:
    repo = "an-organization-with-a-long-name/" + "r" * 120
    leaf = issue(ca, issuer, oidc.github_claims(repo, "release.yml", "refs/tags/v1"), client_key)[0]
    exts = fulcio_exts(leaf)
    assert exts[12][1] == 0x81  # > 127 bytes: long-form DER length
    decoded = CertificateClaims.from_certificate(leaf)
    assert decoded.claims["source_repository_uri"] == f"https://github.com/{repo}"
    GitHubIdentity(repo, "release.yml").check(decoded)


def test_github_policies(github_chain) -> None:
    claims = CertificateClaims.from_certificate(github_chain[0])
    GitHubIdentity("octo-org/octo-repo", "release.yml").check(claims)
    GitHubIdentity("octo-org/octo-repo").check(claims)
    GitHubIdentity(
        "octo-org/octo-repo",
        "release.yml",
        environment="pypi",
        ref="refs/tags/v1.0",
        strict_environment=True,
    ).check(claims)
    for wrong in (
        GitHubIdentity("octo-org/other", "release.yml"),
        GitHubIdentity("octo-org/octo-repo", "ci.yml"),
        GitHubIdentity("octo-org/octo-repo", "release.yml", environment="staging"),
        GitHubIdentity("octo-org/octo-repo", "release.yml", ref="refs/heads/main"),
    ):
        with pytest.raises(VerificationError):
            wrong.check(claims)
    with pytest.raises(VerificationError):
        GitLabIdentity("octo-org/octo-repo").check(claims)


def test_github_pypi_attestations_policy(github_chain) -> None:
    leaf = github_chain[0]
    GitHubPublisher(repository="octo-org/octo-repo", workflow="release.yml")._as_policy().verify(
        leaf
    )
    for repo, workflow in (("octo-org/other", "release.yml"), ("octo-org/octo-repo", "ci.yml")):
        with pytest.raises(SigstoreVerificationError):
            GitHubPublisher(repository=repo, workflow=workflow)._as_policy().verify(leaf)
    with pytest.raises(SigstoreVerificationError):
        GitLabPublisher(
            repository="octo-org/octo-repo", workflow_filepath="release.yml"
        )._as_policy().verify(leaf)


def test_github_without_environment_has_no_23(ca, issuer, client_key) -> None:
    leaf = issue(ca, issuer, oidc.github_claims("o/r", "ci.yml", "refs/heads/main"), client_key)[0]
    assert 23 not in fulcio_exts(leaf)
    GitHubIdentity("o/r", "ci.yml", environment="pypi").check(
        CertificateClaims.from_certificate(leaf)
    )


def test_github_reusable_workflow(ca, issuer, client_key) -> None:
    claims = oidc.github_claims(
        "o/r",
        "release.yml",
        "refs/tags/v2",
        job_workflow_ref="shared/workflows/.github/workflows/publish.yml@refs/tags/v1",
    )
    leaf = issue(ca, issuer, claims, client_key)[0]
    decoded = CertificateClaims.from_certificate(leaf)
    signer = "https://github.com/shared/workflows/.github/workflows/publish.yml@refs/tags/v1"
    assert decoded.sans == (signer,)
    assert decoded.claims["build_signer_uri"] == signer
    assert decoded.claims["build_signer_digest"] == claims["job_workflow_sha"]
    assert decoded.claims["build_config_uri"] == (
        "https://github.com/o/r/.github/workflows/release.yml@refs/tags/v2"
    )
    GitHubIdentity("o/r", "release.yml").check(decoded)
    GitHubPublisher(repository="o/r", workflow="release.yml")._as_policy().verify(leaf)


def test_github_url_claim_overrides_default(ca, issuer, client_key) -> None:
    claims = {**oidc.github_claims("o/r"), "url": "https://ghe.example"}
    decoded = CertificateClaims.from_certificate(issue(ca, issuer, claims, client_key)[0])
    assert decoded.claims["source_repository_uri"] == "https://ghe.example/o/r"


# -- the Fulcio profile, SCT and chain -----------------------------------------------


def test_leaf_profile(keys: KeyStore, github_chain, client_key) -> None:
    leaf, inter, root = github_chain
    assert inter == keys.intermediate_cert and root == keys.root_cert
    assert leaf.version == x509.Version.v3
    assert len(leaf.subject) == 0
    assert leaf.issuer == inter.subject
    assert 0 < leaf.serial_number < 2**159
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == dt.timedelta(minutes=10)
    assert abs(leaf.not_valid_before_utc.timestamp() - time.time()) < 120
    assert leaf.public_key() == client_key.public_key()
    assert isinstance(leaf.signature_hash_algorithm, hashes.SHA384)
    leaf.verify_directly_issued_by(inter)

    exts = leaf.extensions
    ku = exts.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature
    assert not (ku.value.key_cert_sign or ku.value.crl_sign or ku.value.key_agreement)
    eku = exts.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.CODE_SIGNING] and not eku.critical
    san = exts.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical and len(san.value) == 1
    ski = exts.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(client_key.public_key())
    aki = exts.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    inter_ski = inter.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == inter_ski.digest
    scts = exts.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps)
    assert len(scts.value) == 1 and not scts.critical
    order = [e.oid for e in exts]
    assert order[:5] == [
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    ]
    assert order[-1] == SCT_OID


def test_sct_verifies_with_sigstore(keys: KeyStore, github_chain) -> None:
    leaf, inter, root = github_chain
    verify_sct(leaf, [inter, root], ct_keyring(keys))


def test_sct_rejected_by_sigstore_with_other_ct_key(keys: KeyStore, github_chain) -> None:
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = other.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ring = CTKeyring(
        Keyring(
            [
                common_v1.PublicKey(
                    raw_bytes=base64.b64encode(der),
                    key_details=common_v1.PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
                )
            ]
        )
    )
    with pytest.raises(SigstoreVerificationError, match="SCT verify failed"):
        verify_sct(github_chain[0], github_chain[1:], ring)


def test_sct_verifies_with_cryptography(keys: KeyStore, github_chain) -> None:
    leaf, inter, _ = github_chain
    (sct,) = leaf.extensions.get_extension_for_class(
        x509.PrecertificateSignedCertificateTimestamps
    ).value
    assert sct.version == x509.certificate_transparency.Version.v1
    assert sct.log_id == keys.ct_log_id
    assert sct.entry_type == x509.certificate_transparency.LogEntryType.PRE_CERTIFICATE
    assert isinstance(sct.signature_hash_algorithm, hashes.SHA256)
    assert sct.signature_algorithm == x509.certificate_transparency.SignatureAlgorithm.ECDSA
    assert sct.extension_bytes == b""
    ts = int(sct.timestamp.replace(tzinfo=dt.UTC).timestamp() * 1000)
    assert leaf.not_valid_before_utc.timestamp() * 1000 <= ts
    tbs = leaf.tbs_precertificate_bytes
    signed = (
        struct.pack("!BBQH", 0, 0, ts, 1)
        + key_id(inter.public_key())
        + len(tbs).to_bytes(3, "big")
        + tbs
        + b"\x00\x00"
    )
    keys.ct_key.public_key().verify(sct.signature, signed, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        keys.ct_key.public_key().verify(sct.signature, signed + b"x", ec.ECDSA(hashes.SHA256()))


def test_chain_validates_with_sigstores_extension_policies(keys: KeyStore, github_chain) -> None:
    verify_chain(keys, github_chain[0], github_chain[1])


def test_each_issuance_is_fresh(ca, issuer, client_key) -> None:
    claims = oidc.github_claims("o/r")
    a = issue(ca, issuer, claims, client_key)[0]
    b = issue(ca, issuer, claims, client_key)[0]
    assert a.serial_number != b.serial_number


def test_p384_csr_accepted(keys, ca, issuer) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    leaf, inter, root = issue(ca, issuer, oidc.github_claims("o/r"), key)
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    verify_sct(leaf, [inter, root], ct_keyring(keys))


def test_der_csr_and_urlsafe_base64_accepted(ca, issuer, client_key) -> None:
    der = x509.load_pem_x509_csr(make_csr(client_key)).public_bytes(serialization.Encoding.DER)
    token = issuer.mint(oidc.github_claims("o/r"))
    result = ca.signing_cert(
        {"certificateSigningRequest": base64.urlsafe_b64encode(der).decode().rstrip("=")},
        f"bearer {token}",
    )
    assert len(result["signedCertificateEmbeddedSct"]["chain"]["certificates"]) == 3


# -- GitLab ------------------------------------------------------------------------


def test_gitlab_certificate(keys, ca, issuer, client_key) -> None:
    c = oidc.gitlab_claims("group/sub/project", ".gitlab/ci.yml", "v1.0", "tag", environment="prod")
    leaf, inter, root = issue(ca, issuer, c, client_key)
    decoded = CertificateClaims.from_certificate(leaf)
    config = "https://gitlab.com/group/sub/project//.gitlab/ci.yml@refs/tags/v1.0"
    assert decoded.sans == (config,)
    assert decoded.claims == {
        "issuer_v1": GITLAB_ISSUER,
        "issuer": GITLAB_ISSUER,
        "build_signer_uri": config,
        "build_signer_digest": c["ci_config_sha"],
        "runner_environment": "gitlab-hosted",
        "source_repository_uri": "https://gitlab.com/group/sub/project",
        "source_repository_digest": c["sha"],
        "source_repository_ref": "refs/tags/v1.0",
        "source_repository_identifier": c["project_id"],
        "source_repository_owner_uri": "https://gitlab.com/group/sub",
        "source_repository_owner_identifier": c["namespace_id"],
        "build_config_uri": config,
        "build_config_digest": c["ci_config_sha"],
        "build_trigger": "push",
        "run_invocation_uri": f"https://gitlab.com/group/sub/project/-/jobs/{c['job_id']}",
        "source_repository_visibility_at_signing": "public",
        "deployment_environment": "prod",
    }
    assert list(fulcio_exts(leaf)) == [1, *range(8, 24)]
    GitLabIdentity("group/sub/project", ".gitlab/ci.yml").check(decoded)
    GitLabIdentity("group/sub/project", ".gitlab/ci.yml", environment="prod").check(decoded)
    for wrong in (
        GitLabIdentity("group/sub/other", ".gitlab/ci.yml"),
        GitLabIdentity("group/sub/project", ".gitlab-ci.yml"),
        GitHubIdentity("group/sub/project"),
    ):
        with pytest.raises(VerificationError):
            wrong.check(decoded)
    GitLabPublisher(
        repository="group/sub/project", workflow_filepath=".gitlab/ci.yml"
    )._as_policy().verify(leaf)
    with pytest.raises(SigstoreVerificationError):
        GitLabPublisher(
            repository="group/sub/project", workflow_filepath=".gitlab-ci.yml"
        )._as_policy().verify(leaf)
    with pytest.raises(SigstoreVerificationError):
        GitHubPublisher(repository="group/sub", workflow="ci.yml")._as_policy().verify(leaf)
    verify_sct(leaf, [inter, root], ct_keyring(keys))
    verify_chain(keys, leaf, inter)


def test_gitlab_branch_ref(ca, issuer, client_key) -> None:
    leaf = issue(ca, issuer, oidc.gitlab_claims("g/p"), client_key)[0]
    decoded = CertificateClaims.from_certificate(leaf)
    assert decoded.claims["source_repository_ref"] == "refs/heads/main"
    assert "deployment_environment" not in decoded.claims
    GitLabIdentity("g/p", ".gitlab-ci.yml", ref="refs/heads/main").check(decoded)


# -- email issuers (Google, local user) ---------------------------------------------------


def test_google_certificate(keys, ca, issuer, client_key) -> None:
    email = "publisher@project.iam.gserviceaccount.com"
    leaf, inter, _ = issue(ca, issuer, oidc.google_claims(email), client_key)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical and san.value.get_values_for_type(x509.RFC822Name) == [email]
    assert fulcio_exts(leaf) == {
        1: GOOGLE_ISSUER.encode(),
        8: b"\x0c" + bytes([len(GOOGLE_ISSUER)]) + GOOGLE_ISSUER.encode(),
    }
    decoded = CertificateClaims.from_certificate(leaf)
    GoogleIdentity(email).check(decoded)
    with pytest.raises(VerificationError):
        GoogleIdentity("other@project.iam.gserviceaccount.com").check(decoded)
    GooglePublisher(email=email)._as_policy().verify(leaf)
    with pytest.raises(SigstoreVerificationError):
        GooglePublisher(email="other@x.iam.gserviceaccount.com")._as_policy().verify(leaf)
    verify_chain(keys, leaf, inter)


def test_local_email_user_certificate(ca, issuer, client_key) -> None:
    leaf = issue(ca, issuer, oidc.email_claims("dev@example.com", URL), client_key)[0]
    decoded = CertificateClaims.from_certificate(leaf)
    assert decoded.sans == ("dev@example.com",)
    assert decoded.claims == {"issuer_v1": URL, "issuer": URL}
    with pytest.raises(VerificationError):
        GoogleIdentity("dev@example.com").check(decoded)  # issuer differs


def test_email_must_be_verified(ca, issuer, client_key) -> None:
    claims = {**oidc.google_claims("a@b.c"), "email_verified": False}
    with pytest.raises(CAError, match="not verified") as exc:
        issue(ca, issuer, claims, client_key)
    assert exc.value.status == 401
    claims = oidc.email_claims("a@b.c", URL)
    del claims["email"]
    with pytest.raises(CAError, match="'email'") as exc:
        issue(ca, issuer, claims, client_key)
    assert exc.value.status == 400


# -- CircleCI, Buildkite ------------------------------------------------------------------


def test_circleci_certificate(keys, ca, issuer, client_key) -> None:
    c = oidc.circleci_claims(
        "11111111-2222-3333-4444-555555555555",
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        vcs_origin="github.com/org/repo",
        vcs_ref="refs/heads/main",
    )
    leaf, inter, root = issue(ca, issuer, c, client_key)
    decoded = CertificateClaims.from_certificate(leaf)
    signer = (
        "https://circleci.com/api/v2/projects/11111111-2222-3333-4444-555555555555"
        "/pipeline-definitions/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    )
    assert decoded.sans == (signer,)
    p = "oidc.circleci.com/"
    assert decoded.claims == {
        "issuer_v1": CIRCLECI_ISSUER,
        "issuer": CIRCLECI_ISSUER,
        "build_signer_uri": signer,
        "source_repository_uri": "github.com/org/repo",
        "source_repository_ref": "refs/heads/main",
        "build_config_uri": f"https://circleci.com/api/v2/pipeline/{c[p + 'pipeline-id']}/config",
        "run_invocation_uri": (
            f"https://app.circleci.com//workflow/{c[p + 'workflow-id']}/job/{c[p + 'job-id']}"
        ),
    }
    ok = CircleCIIdentity(
        "11111111-2222-3333-4444-555555555555",
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        vcs_origin="github.com/org/repo",
        vcs_ref="refs/heads/main",
    )
    ok.check(decoded)
    for wrong in (
        CircleCIIdentity("11111111-2222-3333-4444-555555555555", "other"),
        CircleCIIdentity("other", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
        CircleCIIdentity(
            "11111111-2222-3333-4444-555555555555",
            "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            vcs_ref="refs/heads/dev",
        ),
    ):
        with pytest.raises(VerificationError):
            wrong.check(decoded)
    CircleCIPublisher(
        project_id="11111111-2222-3333-4444-555555555555",
        pipeline_definition_id="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        vcs_origin="github.com/org/repo",
    )._as_policy().verify(leaf)
    with pytest.raises(SigstoreVerificationError):
        CircleCIPublisher(
            project_id="11111111-2222-3333-4444-555555555555", pipeline_definition_id="x"
        )._as_policy().verify(leaf)
    verify_sct(leaf, [inter, root], ct_keyring(keys))


def test_circleci_without_vcs_and_ssh_rerun(ca, issuer, client_key) -> None:
    c = oidc.circleci_claims("p", "d", ssh_rerun=True)
    decoded = CertificateClaims.from_certificate(issue(ca, issuer, c, client_key)[0])
    assert "source_repository_uri" not in decoded.claims
    assert "source_repository_ref" not in decoded.claims
    assert decoded.claims["runner_environment"] == "ssh-rerun"
    CircleCIIdentity("p", "d").check(decoded)


def test_circleci_per_org_issuer(keys, issuer, client_key) -> None:
    org_issuer = CIRCLECI_ISSUER + "/org/abc"
    ca = CertificateAuthority(keys, {org_issuer: [issuer.public_key()]})
    claims = {**oidc.circleci_claims("p", "d"), "iss": org_issuer}
    decoded = CertificateClaims.from_certificate(issue(ca, issuer, claims, client_key)[0])
    assert decoded.issuer == org_issuer
    assert decoded.claims["build_signer_uri"].endswith("/projects/p/pipeline-definitions/d")


def test_buildkite_certificate(ca, issuer, client_key) -> None:
    c = oidc.buildkite_claims("acme", "widgets", build_number=42, job_id="job-1")
    decoded = CertificateClaims.from_certificate(issue(ca, issuer, c, client_key)[0])
    assert decoded.sans == ("https://buildkite.com/acme/widgets",)
    assert decoded.claims == {
        "issuer_v1": BUILDKITE_ISSUER,
        "issuer": BUILDKITE_ISSUER,
        "runner_environment": "buildkite-hosted",
        "source_repository_digest": c["build_commit"],
        "build_trigger": "webhook",
        "run_invocation_uri": "https://buildkite.com/acme/widgets/builds/42#job-1",
    }


# -- the credentials + publicKeyRequest form ------------------------------------------------


def _pkr_body(token: str, key: ec.EllipticCurvePrivateKey, signed: str) -> dict[str, Any]:
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    proof = key.sign(signed.encode(), ec.ECDSA(hashes.SHA256()))
    return {
        "credentials": {"oidcIdentityToken": token},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": pem.decode()},
            "proofOfPossession": base64.b64encode(proof).decode(),
        },
    }


def test_public_key_request_form(ca, issuer, client_key) -> None:
    claims = oidc.github_claims("o/r")
    token = issuer.mint(claims)
    result = ca.signing_cert(_pkr_body(token, client_key, claims["sub"]), None)
    pem = result["signedCertificateEmbeddedSct"]["chain"]["certificates"][0]
    assert x509.load_pem_x509_certificate(pem.encode()).public_key() == client_key.public_key()
    email_token = issuer.mint(oidc.google_claims("a@b.c"))
    ca.signing_cert(_pkr_body(email_token, client_key, "a@b.c"), None)
    with pytest.raises(CAError, match="proofOfPossession") as exc:
        ca.signing_cert(_pkr_body(token, client_key, "someone else"), None)
    assert exc.value.status == 400


# -- rejections --------------------------------------------------------------------------


def _expect(ca, request: object, authorization: str | None, status: int, match: str) -> CAError:
    with pytest.raises(CAError, match=match) as exc:
        ca.signing_cert(request, authorization)
    assert exc.value.status == status
    assert exc.value.as_dict() == {"code": status, "message": exc.value.message}
    json.dumps(exc.value.as_dict())
    return exc.value


def test_missing_or_bad_authorization(ca, client_key) -> None:
    req = body(make_csr(client_key))
    _expect(ca, req, None, 401, "missing OIDC identity token")
    _expect(ca, req, "Basic Zm9vOmJhcg==", 401, "Bearer")
    _expect(ca, req, "Bearer not-a-jwt", 401, "malformed token")


def test_expired_token(ca, issuer, client_key) -> None:
    token = issuer.mint(oidc.github_claims("o/r"), issued_at=int(time.time()) - 1200)
    _expect(ca, body(make_csr(client_key)), f"Bearer {token}", 401, "token expired")


def test_forged_token(ca, client_key) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {**oidc.github_claims("o/r"), "aud": "sigstore", "iat": now, "exp": now + 600}
    token = jwt.encode(claims, other, algorithm="RS256", headers={"kid": "x"})
    _expect(ca, body(make_csr(client_key)), f"Bearer {token}", 401, "signature does not verify")


def test_wrong_audience(ca, issuer, client_key) -> None:
    token = issuer.mint(oidc.github_claims("o/r"), audience="pypi")
    _expect(
        ca, body(make_csr(client_key)), f"Bearer {token}", 401, "audience 'pypi' is not 'sigstore'"
    )


def test_unknown_issuer(ca, issuer, client_key) -> None:
    token = issuer.mint({**oidc.github_claims("o/r"), "iss": "https://ci.example"})
    _expect(
        ca,
        body(make_csr(client_key)),
        f"Bearer {token}",
        401,
        "unknown issuer 'https://ci.example'",
    )


@pytest.mark.parametrize(
    ("claim", "maker"),
    [
        ("job_workflow_ref", lambda: oidc.github_claims("o/r")),
        ("run_attempt", lambda: oidc.github_claims("o/r")),
        ("ci_config_ref_uri", lambda: oidc.gitlab_claims("g/p")),
        ("ref_type", lambda: oidc.gitlab_claims("g/p")),
        ("oidc.circleci.com/project-id", lambda: oidc.circleci_claims("p", "d")),
        ("runner_environment", lambda: oidc.buildkite_claims("a", "b")),
    ],
)
def test_missing_claim(ca, issuer, client_key, claim: str, maker) -> None:
    claims = maker()
    del claims[claim]
    token = issuer.mint(claims)
    err = _expect(
        ca, body(make_csr(client_key)), f"Bearer {token}", 400, f"missing claim '{claim}'"
    )
    assert "certificate profile" in err.message


def test_bad_csr_signature(ca, issuer, client_key) -> None:
    csr = x509.load_pem_x509_csr(make_csr(client_key))
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01  # last byte of the ECDSA signature's s
    tampered = x509.load_der_x509_csr(bytes(der))
    assert not tampered.is_signature_valid
    pem = tampered.public_bytes(serialization.Encoding.PEM)
    token = issuer.mint(oidc.github_claims("o/r"))
    _expect(ca, body(pem), f"Bearer {token}", 400, "CSR signature does not verify")


@pytest.mark.parametrize(
    ("request_json", "match"),
    [
        ([], "JSON object"),
        ("certificateSigningRequest", "JSON object"),
        (None, "JSON object"),
        ({}, "neither certificateSigningRequest nor publicKeyRequest"),
        ({"certificateSigningRequest": 5}, "base64"),
        ({"certificateSigningRequest": "!!!not base64!!!"}, "not valid base64"),
        (
            {"certificateSigningRequest": base64.b64encode(b"hello, not a CSR").decode()},
            "not a valid PKCS#10 CSR",
        ),
        (
            {
                "certificateSigningRequest": base64.b64encode(
                    b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
                ).decode()
            },
            "not a valid PKCS#10 CSR",
        ),
        ({"publicKeyRequest": "x"}, "publicKeyRequest"),
        ({"publicKeyRequest": {"publicKey": {"content": "nope"}}}, "not a PEM key"),
    ],
)
def test_malformed_requests(ca, issuer, request_json: object, match: str) -> None:
    token = issuer.mint(oidc.github_claims("o/r"))
    _expect(ca, request_json, f"Bearer {token}", 400, match)


@pytest.mark.parametrize(
    ("key", "desc"),
    [
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "RSA-2048"),
        (lambda: ec.generate_private_key(ec.SECP521R1()), "ECDSA secp521r1"),
    ],
)
def test_unsupported_csr_keys(ca, issuer, key, desc: str) -> None:
    token = issuer.mint(oidc.github_claims("o/r"))
    _expect(ca, body(make_csr(key())), f"Bearer {token}", 400, f"unsupported CSR key {desc}")


def test_csr_subject_and_extensions_ignored(ca, issuer, client_key) -> None:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "admin")]))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("evil.example")]), critical=False)
        .sign(client_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    token = issuer.mint(oidc.github_claims("o/r"))
    pem = ca.signing_cert(body(csr), f"Bearer {token}")["signedCertificateEmbeddedSct"]["chain"][
        "certificates"
    ][0]
    leaf = x509.load_pem_x509_certificate(pem.encode())
    assert len(leaf.subject) == 0
    with pytest.raises(x509.ExtensionNotFound):
        leaf.extensions.get_extension_for_class(x509.BasicConstraints)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == []
