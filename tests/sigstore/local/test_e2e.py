"""The unmodified sigstore-python (API and CLI), pypi-attestations and ``id`` against a
real local instance over HTTP, and attestkit verifying what they produce."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from pypi_attestations import Attestation as PAAttestation
from pypi_attestations import Distribution as PADistribution
from pypi_attestations import GitHubPublisher as PAGitHubPublisher
from pypi_attestations import GitLabPublisher as PAGitLabPublisher
from sigstore.dsse import StatementBuilder, Subject
from sigstore.models import Bundle, ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier as SigstoreVerifier
from sigstore.verify import policy

from attestkit import (
    Attestation,
    Distribution,
    GitHubIdentity,
    GitLabIdentity,
    GoogleIdentity,
    TrustRoot,
    Verifier,
)
from attestkit.errors import VerificationError
from tests.conftest import DATA, SDIST
from tests.fixtures.local_sigstore import Instance

GH_ISSUER = "https://token.actions.githubusercontent.com"


def _context(instance: Instance) -> tuple[ClientTrustConfig, SigningContext]:
    tc = ClientTrustConfig.from_json(instance.trust_config_path.read_text())
    return tc, SigningContext.from_trust_config(tc)


def _github_token(
    instance: Instance, repo: str = "octo/repo", workflow: str = "release.yml"
) -> str:
    return instance.token("--github", repo, "--workflow", workflow, "--ref", "refs/tags/v1.0")


def test_trust_config_loads_and_served_over_http(instance: Instance) -> None:
    served = requests.get(f"{instance.url}/trust-config.json", timeout=10).json()
    assert served == instance.trust_config
    ClientTrustConfig.from_json(json.dumps(served))
    TrustRoot.from_file(instance.trust_config_path)


def test_sign_and_verify_artifact_with_sigstore_api(instance: Instance) -> None:
    tc, ctx = _context(instance)
    token = IdentityToken(_github_token(instance))
    with ctx.signer(token) as signer:
        bundle = signer.sign_artifact(b"hello attestkit")
    verifier = SigstoreVerifier(trusted_root=tc.trusted_root)
    san = "https://github.com/octo/repo/.github/workflows/release.yml@refs/tags/v1.0"
    verifier.verify_artifact(
        b"hello attestkit", bundle, policy.Identity(identity=san, issuer=GH_ISSUER)
    )
    with pytest.raises(Exception, match="digest mismatch"):
        verifier.verify_artifact(
            b"tampered", bundle, policy.Identity(identity=san, issuer=GH_ISSUER)
        )


def test_dsse_statement_and_pep740_attestation(instance: Instance, tmp_path: Path) -> None:
    """pypi-attestations signs with a local signer; attestkit and sigstore verify it."""
    tc, ctx = _context(instance)
    dist_path = tmp_path / SDIST
    dist_path.write_bytes((DATA / SDIST).read_bytes())
    with ctx.signer(IdentityToken(_github_token(instance))) as signer:
        att = PAAttestation.sign(signer, PADistribution.from_file(dist_path))
        stmt = StatementBuilder(
            subjects=[
                Subject.model_validate(
                    {"name": "x", "digest": {"sha256": hashlib.sha256(b"x").hexdigest()}}
                )
            ],
            predicate_type="https://example.com/p",
        ).build()
        dsse_bundle = signer.sign_dsse(stmt)
    verifier = SigstoreVerifier(trusted_root=tc.trusted_root)
    verifier.verify_dsse(dsse_bundle, policy.OIDCIssuerV2(GH_ISSUER))
    # pypi-attestations' own publisher policies, through sigstore's verifier.
    verifier.verify_dsse(
        att.to_bundle(),
        PAGitHubPublisher(repository="octo/repo", workflow="release.yml")._as_policy(),
    )
    with pytest.raises(Exception, match="does not match"):
        verifier.verify_dsse(
            att.to_bundle(),
            PAGitHubPublisher(repository="octo/repo", workflow="ci.yml")._as_policy(),
        )
    # attestkit reads pypi-attestations' output and verifies it on both engines.
    ours = Attestation.from_json(att.model_dump_json())
    root = TrustRoot.from_file(instance.trust_config_path)
    for backend in ("attestkit", "sigstore"):
        result = Verifier(root, backend=backend).verify(
            ours,
            GitHubIdentity("octo/repo", "release.yml", ref="refs/tags/v1.0"),
            Distribution.from_file(dist_path),
        )
        assert result.predicate_type == "https://docs.pypi.org/attestations/publish/v1"
        with pytest.raises(VerificationError, match="Source Repository URI"):
            Verifier(root, backend=backend).verify(
                ours, GitHubIdentity("octo/other"), Distribution.from_file(dist_path)
            )
    # ...and the production root does not trust the local instance.
    with pytest.raises(VerificationError, match="does not chain to a Fulcio root of production"):
        Verifier.production().verify(
            ours, GitHubIdentity("octo/repo"), Distribution.from_file(dist_path)
        )


@pytest.mark.parametrize(
    ("args", "make_policy", "pa_publisher"),
    [
        (
            ["--gitlab", "group/sub/project", "--ref", "main"],
            lambda: GitLabIdentity("group/sub/project", ".gitlab-ci.yml"),
            PAGitLabPublisher(repository="group/sub/project", workflow_filepath=".gitlab-ci.yml"),
        ),
        (
            ["--google", "builder@proj.iam.gserviceaccount.com"],
            lambda: GoogleIdentity("builder@proj.iam.gserviceaccount.com"),
            None,
        ),
        (
            [
                "--github",
                "octo/repo",
                "--workflow",
                "release.yml",
                "--ref",
                "refs/heads/main",
                "--environment",
                "pypi",
            ],
            lambda: GitHubIdentity(
                "octo/repo", "release.yml", environment="pypi", strict_environment=True
            ),
            PAGitHubPublisher(repository="octo/repo", workflow="release.yml", environment="pypi"),
        ),
    ],
)
def test_identities_verify_with_attestkit_and_pypi_attestations(
    instance: Instance, tmp_path: Path, args, make_policy, pa_publisher
) -> None:
    tc, ctx = _context(instance)
    dist_path = tmp_path / SDIST
    dist_path.write_bytes((DATA / SDIST).read_bytes())
    with ctx.signer(IdentityToken(instance.token(*args))) as signer:
        att = PAAttestation.sign(signer, PADistribution.from_file(dist_path))
    Verifier(TrustRoot.from_file(instance.trust_config_path)).verify(
        Attestation.from_json(att.model_dump_json()),
        make_policy(),
        Distribution.from_file(dist_path),
    )
    if pa_publisher is not None:
        SigstoreVerifier(trusted_root=tc.trusted_root).verify_dsse(
            att.to_bundle(), pa_publisher._as_policy()
        )


def test_sigstore_cli_sign_and_verify(instance: Instance, tmp_path: Path) -> None:
    artifact = tmp_path / "artifact.txt"
    artifact.write_text("signed by the sigstore CLI")
    bundle = tmp_path / "artifact.sigstore.json"
    base = [sys.executable, "-m", "sigstore", "--trust-config", str(instance.trust_config_path)]
    env = dict(os.environ, SIGSTORE_OIDC_DISABLE_AMBIENT_PROVIDERS="1")
    token = _github_token(instance)
    subprocess.run(
        [*base, "sign", "--identity-token", token, "--bundle", str(bundle), str(artifact)],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )
    Bundle.from_json(bundle.read_text())
    san = "https://github.com/octo/repo/.github/workflows/release.yml@refs/tags/v1.0"
    ok = subprocess.run(
        [
            *base,
            "verify",
            "identity",
            "--bundle",
            str(bundle),
            "--cert-identity",
            san,
            "--cert-oidc-issuer",
            GH_ISSUER,
            str(artifact),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    gh = subprocess.run(
        [
            *base,
            "verify",
            "github",
            "--bundle",
            str(bundle),
            "--repository",
            "octo/repo",
            "--ref",
            "refs/tags/v1.0",
            "--trigger",
            "push",
            str(artifact),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert gh.returncode == 0, gh.stderr
    bad = subprocess.run(
        [
            *base,
            "verify",
            "identity",
            "--bundle",
            str(bundle),
            "--cert-identity",
            san,
            "--cert-oidc-issuer",
            "https://gitlab.com",
            str(artifact),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert bad.returncode != 0


def test_github_ambient_credentials_through_id(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The instance acts as ACTIONS_ID_TOKEN_REQUEST_URL: `id` finds the token unchanged."""
    import id as oidc_id

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "attestkit",
            "sigstore",
            "token",
            "--data-dir",
            str(instance.data_dir),
            "--github",
            "octo/repo",
            "--workflow",
            "release.yml",
            "--ref",
            "refs/tags/v2",
            "--print-env",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    for line in out.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        monkeypatch.setenv(name, value.strip("'"))
    token = oidc_id.detect_credential("sigstore")
    assert token is not None
    # sigstore's identity for GitHub tokens is the `sub` claim.
    assert IdentityToken(token).identity == "repo:octo/repo:ref:refs/tags/v2"
    other = oidc_id.detect_credential("pypi")
    assert other is not None and json.loads(_payload(other))["aud"] == "pypi"
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "wrong")
    with pytest.raises(oidc_id.IdentityError):
        oidc_id.detect_credential("sigstore")


def _payload(jwt: str) -> str:
    import base64

    part = jwt.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


# -- negative cases over HTTP: clear 4xx JSON, nothing logged -------------------------


def _csr_b64() -> str:
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


@pytest.mark.parametrize(
    ("token_args", "status", "fragment"),
    [
        (["--lifetime", "-60"], 401, "expired"),
        (["--audience", "pypi"], 401, "audience"),
    ],
)
def test_ca_rejects_bad_tokens(
    instance: Instance, token_args: list[str], status: int, fragment: str
) -> None:
    token = instance.token(
        "--github", "o/r", "--workflow", "w.yml", "--ref", "refs/heads/main", *token_args
    )
    r = requests.post(
        f"{instance.url}/api/v2/signingCert",
        json={"certificateSigningRequest": _csr_b64()},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.status_code == status
    assert fragment in r.json()["message"].lower()
    assert r.json()["code"] == status


def test_ca_rejects_forged_token_and_bad_csr(instance: Instance) -> None:
    import jwt as pyjwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    good = instance.token("--github", "o/r", "--workflow", "w.yml", "--ref", "refs/heads/main")
    claims = pyjwt.decode(good, options={"verify_signature": False})
    forged = pyjwt.encode(
        claims,
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": pyjwt.get_unverified_header(good).get("kid")},
    )
    r = requests.post(
        f"{instance.url}/api/v2/signingCert",
        json={"certificateSigningRequest": _csr_b64()},
        headers={"Authorization": f"Bearer {forged}"},
        timeout=10,
    )
    assert r.status_code == 401 and "signature" in r.json()["message"]
    r = requests.post(
        f"{instance.url}/api/v2/signingCert",
        json={"certificateSigningRequest": "bm90IGEgY3Ny"},
        headers={"Authorization": f"Bearer {good}"},
        timeout=10,
    )
    assert r.status_code == 400
    r = requests.post(
        f"{instance.url}/api/v2/signingCert",
        data=b"{not json",
        headers={"Authorization": f"Bearer {good}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 400 and r.json()["message"]


def test_rekor_rejects_bad_entries_and_logs_nothing(instance: Instance) -> None:
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    size = requests.get(f"{instance.url}/api/v1/log", timeout=10).json()["treeSize"]
    key = ec.generate_private_key(ec.SECP256R1())
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    name = x509.Name([])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(minutes=5))
        .sign(key, hashes.SHA256())
    )
    pem = base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()
    digest = hashlib.sha256(b"artifact").hexdigest()
    wrong_sig = key.sign(hashlib.sha256(b"other").digest(), ec.ECDSA(hashes.SHA256()))
    entry = {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "signature": {
                "content": base64.b64encode(wrong_sig).decode(),
                "publicKey": {"content": pem},
            },
            "data": {"hash": {"algorithm": "sha256", "value": digest}},
        },
    }
    bodies: list[object] = [entry, {"kind": "nope"}, "not an object"]
    for body in bodies:
        r = requests.post(f"{instance.url}/api/v1/log/entries", data=json.dumps(body), timeout=10)
        assert r.status_code == 400 and r.json()["message"], r.text
    r = requests.post(
        f"{instance.url}/api/v1/log/entries",
        data=b"{",
        timeout=10,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert requests.get(f"{instance.url}/api/v1/log", timeout=10).json()["treeSize"] == size


def test_interactive_browser_login_with_sigstore_client(instance: Instance, tmp_path: Path) -> None:
    """sigstore-python's browser/PKCE flow against the local issuer, unmodified.

    ``$BROWSER`` is curl: it "opens" the authorize URL and follows the redirect to
    sigstore-python's own loopback redirect server, as a browser would.
    """
    from tests.fixtures.local_sigstore import LOGIN_EMAIL

    code = (
        "import sys; from sigstore.oidc import Issuer;"
        f"t = Issuer({instance.url!r}).identity_token(client_id='sigstore', client_secret='');"
        "print(t.identity); print(t._raw_token)"
    )
    env = dict(os.environ, BROWSER="curl -sL -o /dev/null %s")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    identity, raw = out.stdout.split()
    assert identity == LOGIN_EMAIL
    tc, ctx = _context(instance)
    with ctx.signer(IdentityToken(raw)) as signer:
        bundle = signer.sign_artifact(b"signed interactively")
    SigstoreVerifier(trusted_root=tc.trusted_root).verify_artifact(
        b"signed interactively", bundle, policy.Identity(identity=LOGIN_EMAIL, issuer=instance.url)
    )
