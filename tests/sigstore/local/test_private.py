"""A private Sigstore (``attestkit sigstore serve`` without ``--dev``), as real processes.

It trusts only the issuers it is configured with.  Here a development instance
plays a self-managed GitLab: its tokens carry its own URL as issuer and verify
through its OpenID discovery, exactly as a real GitLab's would.  Simulated
identities (tokens naming the real CI issuers) are refused.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from pypi_attestations import Attestation as PAAttestation
from sigstore.models import ClientTrustConfig
from sigstore.verify import Verifier as SigstoreVerifier
from sigstore.verify.policy import Identity as SigstoreIdentity

from attestkit import Attestation, Distribution, Identity, TrustRoot, Verifier
from tests.conftest import DATA, STAGING_WHEEL
from tests.fixtures.local_sigstore import Instance, start_instance
from tests.fixtures.processes import ServerProcess, ak, start_server

CA_NAME = "Example Corp Sigstore"


@pytest.fixture(scope="module")
def gitlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """A development instance standing in for a self-managed GitLab."""
    inst = start_instance(tmp_path_factory.mktemp("gitlab"))
    yield inst
    inst.stop()


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory, gitlab: Instance) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("private")
    server = start_server(
        ["sigstore", "serve", "--issuer", f"gitlab={gitlab.url}", "--ca-name", CA_NAME],
        root / "data",
    )
    r = ak(
        "sigstore", "trust-config", "--data-dir", str(server.data_dir), "-o", str(root / "tc.json")
    )
    assert r.returncode == 0, r.stderr
    yield server
    server.stop()


def _trust_config(private: ServerProcess) -> Path:
    return private.data_dir.parent / "tc.json"


def _gitlab_token(gitlab: Instance, *extra: str) -> str:
    return gitlab.token("--gitlab", "corp/app", "--ref", "main", *extra)


def _sign(private: ServerProcess, token: str, dist: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "attestkit",
            "sign",
            "--local",
            private.url,
            "--identity-token",
            token,
            "--no-interactive",
            str(dist),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    shutil.copy(DATA / STAGING_WHEEL, tmp_path / STAGING_WHEEL)
    (tmp_path / STAGING_WHEEL).chmod(0o644)
    return tmp_path / STAGING_WHEEL


def test_signs_a_self_managed_gitlab_identity(
    private: ServerProcess, gitlab: Instance, dist: Path
) -> None:
    r = _sign(private, _gitlab_token(gitlab, "--self-managed"), dist)
    assert r.returncode == 0, r.stderr
    path = dist.with_name(dist.name + ".publish.attestation")
    host = urlsplit(gitlab.url).netloc
    san = f"https://{host}/corp/app//.gitlab-ci.yml@refs/heads/main"
    # attestkit: the certificate records the self-managed GitLab, and nothing is simulated.
    root = TrustRoot.from_file(_trust_config(private))
    result = Verifier(root).verify(
        Attestation.from_file(path), Identity(san, gitlab.url), Distribution.from_file(dist)
    )
    assert result.claims.issuer == gitlab.url
    assert result.claims.claims["source_repository_uri"] == f"{gitlab.url}/corp/app"
    assert result.claims.issuer_organization == CA_NAME
    assert not result.claims.simulated and not result.warnings
    # sigstore-python agrees, with the same private trust root.
    tc = ClientTrustConfig.from_json(_trust_config(private).read_text())
    bundle = PAAttestation.model_validate_json(path.read_text()).to_bundle()
    SigstoreVerifier(trusted_root=tc.trusted_root).verify_dsse(
        bundle, SigstoreIdentity(identity=san, issuer=gitlab.url)
    )
    # The command line says OK, with no simulated-identity mark.
    v = ak(
        "verify",
        "attestation",
        "--trust-config",
        str(_trust_config(private)),
        "--identity",
        san,
        "--issuer",
        gitlab.url,
        str(dist),
    )
    assert v.returncode == 0, v.stdout + v.stderr
    assert v.stdout.startswith("OK ") and "SIMULATED" not in v.stdout


@pytest.mark.parametrize(
    "who",
    [
        ["--gitlab", "corp/app", "--ref", "main"],  # iss https://gitlab.com, simulated
        ["--github", "corp/app", "--workflow", "release.yml", "--ref", "refs/tags/v1"],
        ["--google", "sa@corp.iam.gserviceaccount.com"],
    ],
)
def test_refuses_simulated_identities(
    private: ServerProcess, gitlab: Instance, dist: Path, who: list[str]
) -> None:
    r = _sign(private, gitlab.token(*who), dist)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "unknown issuer" in r.stdout + r.stderr
    assert not dist.with_name(dist.name + ".publish.attestation").exists()


def test_runs_no_issuer_of_its_own(private: ServerProcess) -> None:
    for path in ("/oidc/github-actions", "/oauth2/authorize", "/.well-known/jwks.json"):
        assert requests.get(private.url + path, timeout=30).status_code == 404, path
    config = requests.get(private.url + "/trust-config.json", timeout=30).json()
    assert config["signingConfig"]["oidcUrls"] == []
    authority = config["trustedRoot"]["certificateAuthorities"][0]
    assert authority["subject"]["organization"] == CA_NAME
    assert json.loads(_trust_config(private).read_text())["signingConfig"]["oidcUrls"] == []
    r = ak("sigstore", "token", "--data-dir", str(private.data_dir), "--google", "a@b.c")
    assert r.returncode == 2 and "private (production) instance" in r.stderr


def test_a_private_instance_needs_an_issuer(tmp_path: Path) -> None:
    r = ak("sigstore", "serve", "--data-dir", str(tmp_path / "d"))
    assert r.returncode == 2
    assert "needs at least one trusted OIDC issuer" in r.stderr and "--dev" in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--issuer", "gitlab"], "want KIND=URL"),
        (["--issuer", "jenkins=https://ci.example.com"], "not one of"),
        (["--issuer", "gitlab=http://gitlab.example.com"], "plain http"),
        (["--issuer", "gitlab=https://g.example", "--ca-name", "attestkit.local"], "reserved"),
        (["--dev", "--issuer", "gitlab=https://g.example"], "configured issuers are for a private"),
    ],
)
def test_bad_configuration_is_refused(tmp_path: Path, args: list[str], message: str) -> None:
    r = ak("sigstore", "serve", "--data-dir", str(tmp_path / "d"), *args)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr


def test_private_ca_follows_a_key_rotation(tmp_path: Path) -> None:
    """The CA discovers the external issuer's keys; a rotation (unknown kid) triggers one
    refresh, a forged kid right after none."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from attestkit.core.issuers import OidcIssuer
    from attestkit.sigstore.local.ca import CAError, CertificateAuthority
    from attestkit.sigstore.local.keys import KeyStore
    from attestkit.sigstore.local.oidc import gitlab_claims
    from tests.fixtures.csr import body, make_csr
    from tests.fixtures.oidc_issuer import rotating_issuer

    now = [1000.0]
    keys = KeyStore.open(tmp_path / "ca", organization=CA_NAME)
    with rotating_issuer() as issuer:
        ca = CertificateAuthority.private(
            keys, [OidcIssuer(issuer.url, "gitlab")], monotonic=lambda: now[0]
        )
        claims = gitlab_claims("corp/app", issuer=issuer.url)

        def sign(kid: str | None = None) -> dict:
            token = issuer.mint(claims, "sigstore", kid=kid)
            key = ec.generate_private_key(ec.SECP256R1())
            return ca.signing_cert(body(make_csr(key)), f"Bearer {token}")

        assert sign()["signedCertificateEmbeddedSct"]
        assert issuer.jwks_fetches == 1
        issuer.rotate()
        now[0] += 61
        assert sign()["signedCertificateEmbeddedSct"]
        assert issuer.jwks_fetches == 2
        with pytest.raises(CAError, match="unknown signing key 'forged'"):
            sign(kid="forged")
        assert issuer.jwks_fetches == 2
