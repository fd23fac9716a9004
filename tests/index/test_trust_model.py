"""The impersonation attack, step by step, against a production index.

The attack: a development issuer mints a GitHub-shaped token for the victim's
repository (1), the index accepts it for Trusted Publishing (2), and an
attestation signed under the victim's identity is uploaded and shown as
verified (3).  In production, step 2 fails (only the real issuers' discovered
keys are trusted) and step 3 fails on its own too (only public Sigstore and
configured roots are trusted).  The development-mode side of the attack (a job
asking for another repository's token) is in ``test_dev_attack.py``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests

import attestkit
from attestkit.core.constants import GITHUB_ISSUER
from attestkit.index import admin
from attestkit.index.db import utcnow
from attestkit.index.instance import Index, OidcIssuer
from attestkit.index.serve import PUBLIC_ISSUERS
from attestkit.index.trusted_publishing.exchange import TrustedPublishing
from attestkit.sigstore.local.keys import KeyStore
from attestkit.sigstore.local.oidc import Issuer, github_claims
from tests.fixtures.index_server import Server
from tests.fixtures.processes import ServerProcess, start_server
from tests.fixtures.uploads import make_sdist, post

VICTIM = "victim/repo"
AUD = "attestkit"


@pytest.fixture(scope="module")
def attacker_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    """The keys of the attacker's own development instance."""
    return KeyStore.open(tmp_path_factory.mktemp("attacker"))


@pytest.fixture(scope="module")
def github_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    """Stands in for GitHub's real signing keys (what discovery would return)."""
    return KeyStore.open(tmp_path_factory.mktemp("github"))


def _victim_token(keys: KeyStore) -> str:
    claims = github_claims(VICTIM, "release.yml", "refs/tags/v9", environment="pypi")
    return Issuer(keys, "http://attacker").mint(claims, audience=AUD)


def _victim_publisher(index: Index) -> None:
    with index.session() as s:
        project = admin.create_project(s, "victimpkg")
        admin.add_publisher(
            s,
            "GitHub",
            {"repository": VICTIM, "workflow": "release.yml", "environment": "pypi"},
            project=project,
        )


class FetchGitHub:
    """Discovery of the real GitHub issuer, answering with GitHub's keys (counted)."""

    def __init__(self, keys: KeyStore) -> None:
        self.jwks = Issuer(keys, GITHUB_ISSUER).jwks()
        self.urls: list[str] = []

    def __call__(self, url: str) -> Mapping[str, Any]:
        self.urls.append(url)
        return self.jwks


def test_step_2_production_never_trusts_a_local_key(
    index_factory: Callable[..., Index], attacker_keys: KeyStore, github_keys: KeyStore
) -> None:
    index = index_factory(oidc_issuers=PUBLIC_ISSUERS)
    _victim_publisher(index)
    fetch = FetchGitHub(github_keys)
    service = TrustedPublishing(index, fetch=fetch)
    result = service.mint(json.dumps({"token": _victim_token(attacker_keys)}).encode())
    assert result.status == 422
    [error] = result.body["errors"]
    assert error["code"] == "invalid-token"
    assert "unknown signing key" in error["description"]
    assert fetch.urls == [GITHUB_ISSUER]  # the real issuer's discovery, nothing local
    # The same claims signed with GitHub's key are accepted: the check is the key.
    good = Issuer(github_keys, GITHUB_ISSUER).mint(
        github_claims(VICTIM, "release.yml", "refs/tags/v9", environment="pypi"), audience=AUD
    )
    assert service.mint(json.dumps({"token": good}).encode()).status == 200


@pytest.fixture
def production(tmp_path: Path) -> Iterator[ServerProcess]:
    server = start_server(["serve"], tmp_path / "prod")
    yield server
    server.stop()


def test_step_2_through_attestkit_serve(production: ServerProcess, attacker_keys: KeyStore) -> None:
    """A real production server: no embedded issuer, and the attacker's token gets nothing.

    Offline, the real GitHub's keys cannot be fetched (503, try later); online
    they do not contain the attacker's key (422).  Either way: no token.
    """
    r = requests.post(
        production.url + "/_/oidc/mint-token",
        json={"token": _victim_token(attacker_keys)},
        timeout=60,
    )
    assert r.status_code in (422, 503), r.text
    assert "token" not in r.json()
    assert r.json()["errors"][0]["code"] in ("invalid-token", "issuer-unavailable")
    assert requests.get(production.url + "/oidc/github-actions", timeout=30).status_code == 404


def test_step_3_attestations_must_chain_to_a_trusted_root(
    index_server: Callable[..., Server], local_sigstore: Any, tmp_path: Path
) -> None:
    """Even with step 2 bypassed, a development instance's attestation is refused by an
    index that trusts only public Sigstore (production's default)."""
    server = index_server(trust_roots=(attestkit.TrustRoot.production(),))
    sdist = make_sdist(tmp_path, "victimpkg", "9.0.0")
    token = local_sigstore.token(
        "--github", VICTIM, "--workflow", "release.yml", "--ref", "refs/tags/v9"
    )
    services = attestkit.SigningServices.from_file(str(local_sigstore.trust_config_path))
    attestkit.sign([sdist], identity_token=token, services=services)
    attestation = json.loads((tmp_path / f"{sdist.name}.publish.attestation").read_text())
    with server.index.session() as s:
        project = admin.create_project(s, "victimpkg")
        publisher = admin.add_publisher(
            s, "GitHub", {"repository": VICTIM, "workflow": "release.yml"}, project=project
        )
        upload_token, _ = admin.create_token(
            s,
            publisher=publisher,
            expires=utcnow() + dt.timedelta(minutes=15),
        )
    r = post(
        server,
        upload_token,
        sdist,
        name="victimpkg",
        version="9.0.0",
        attestations=json.dumps([attestation]),
    )
    assert r.status_code == 400
    assert "Could not verify the uploaded artifact" in r.text
    with server.index.session() as s:
        assert not admin.find_project(s, "victimpkg").releases  # type: ignore[union-attr]


def test_public_issuers_are_the_real_ones() -> None:
    """Production's Trusted Publishing issuers: real URLs, keys only by discovery."""
    assert {i.iss for i in PUBLIC_ISSUERS} == {
        "https://token.actions.githubusercontent.com",
        "https://gitlab.com",
        "https://accounts.google.com",
        "https://platform.activestate.com/api/v1/oauth/oidc",
    }
    assert all(i.jwks is None and i.discovery_url == i.iss for i in PUBLIC_ISSUERS)
    assert all(isinstance(i, OidcIssuer) for i in PUBLIC_ISSUERS)
