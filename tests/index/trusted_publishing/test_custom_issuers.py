"""Custom OIDC issuers registered per publisher: self-managed GitLab, GitHub Enterprise Server.

The issuer is a real HTTP server on loopback (:mod:`tests.fixtures.oidc_issuer`);
the index discovers its keys only once a publisher names it, refreshes them
once when a token names an unknown ``kid`` (a rotation), and never more often
than once a minute.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from attestkit.core.providers import publisher_from_dict
from attestkit.errors import InputError
from attestkit.index import admin
from attestkit.index.instance import Index
from attestkit.index.serve import PUBLIC_ISSUERS
from attestkit.index.trusted_publishing.exchange import TrustedPublishing
from attestkit.sigstore.local.oidc import github_claims, gitlab_claims
from tests.fixtures.oidc_issuer import rotating_issuer

AUD = "attestkit"


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _mint(service: TrustedPublishing, token: str) -> tuple[int, dict]:
    result = service.mint(json.dumps({"token": token}).encode())
    return result.status, result.body


def test_self_managed_gitlab_and_key_rotation(index_factory: Callable[..., Index]) -> None:
    index = index_factory(oidc_issuers=PUBLIC_ISSUERS)
    clock = Monotonic()
    with rotating_issuer() as gitlab:
        service = TrustedPublishing(index, monotonic=clock)
        claims = gitlab_claims("corp/app", issuer=gitlab.url)
        # Not registered yet: an unknown issuer, and nothing is fetched from it.
        status, body = _mint(service, gitlab.mint(claims, AUD))
        assert status == 422 and body["errors"][0]["description"] == (
            "unknown trusted publishing issuer"
        )
        assert gitlab.jwks_fetches == 0
        with index.session() as s:
            project = admin.create_project(s, "corp-app")
            admin.add_publisher(
                s,
                "GitLab",
                {
                    "repository": "corp/app",
                    "workflow_filepath": ".gitlab-ci.yml",
                    "issuer_url": gitlab.url + "/",
                },
                project=project,
            )
        assert _mint(service, gitlab.mint(claims, AUD))[0] == 200
        assert _mint(service, gitlab.mint(claims, AUD))[0] == 200
        assert gitlab.jwks_fetches == 1  # cached
        # The issuer rotates its key: the unknown kid triggers exactly one refresh.
        gitlab.rotate()
        clock.now += 61
        assert _mint(service, gitlab.mint(claims, AUD))[0] == 200
        assert gitlab.jwks_fetches == 2
        # A forged kid right after: refused, and no refresh storm.
        status, body = _mint(service, gitlab.mint(claims, AUD, kid="forged"))
        assert status == 422 and "unknown signing key 'forged'" in body["errors"][0]["description"]
        assert gitlab.jwks_fetches == 2


def test_github_enterprise_server(index_factory: Callable[..., Index]) -> None:
    index = index_factory(oidc_issuers=())
    with rotating_issuer("/_services/token") as ghes:
        service = TrustedPublishing(index)
        assert service.audience().status == 403  # nothing configured, nothing registered
        with index.session() as s:
            project = admin.create_project(s, "corp-tool")
            admin.add_publisher(
                s,
                "GitHub",
                {"repository": "corp/tool", "workflow": "release.yml", "issuer_url": ghes.url},
                project=project,
            )
        assert service.audience().body == {"audience": AUD}
        claims = github_claims("corp/tool", "release.yml", "refs/tags/v1")
        claims["iss"] = ghes.url
        status, body = _mint(service, ghes.mint(claims, AUD))
        assert status == 200, body
        # A github.com token for the same repository does not reach the GHES publisher.
        status, body = _mint(service, ghes.mint(dict(claims, iss=ghes.url + "x"), AUD))
        assert status == 422


@pytest.mark.parametrize(
    "url", ["http://gitlab.example.com", "ftp://x", "https://gitlab.example.com/?q=1"]
)
def test_issuer_url_rules(index_factory: Callable[..., Index], url: str) -> None:
    index = index_factory()
    with index.session() as s, pytest.raises(InputError, match="issuer URL|http"):
        project = admin.create_project(s, "p")
        admin.add_publisher(
            s,
            "GitLab",
            {"repository": "a/b", "workflow_filepath": ".gitlab-ci.yml", "issuer_url": url},
            project=project,
        )


def test_publisher_objects_carry_the_issuer_into_the_policy() -> None:
    gitlab = publisher_from_dict(
        {
            "kind": "GitLab",
            "repository": "corp/app",
            "workflow_filepath": ".gitlab-ci.yml",
            "environment": None,
            "issuer_url": "https://git.corp.example",
        }
    )
    policy = gitlab.policy()
    assert policy.issuer == "https://git.corp.example"  # type: ignore[attr-defined]
    assert policy.url == "https://git.corp.example"  # type: ignore[attr-defined]
    assert gitlab.summary().endswith("issuer https://git.corp.example")
    ghes = publisher_from_dict(
        {
            "kind": "GitHub",
            "repository": "corp/tool",
            "workflow": "release.yml",
            "issuer_url": "https://ghe.corp.example/_services/token",
        }
    ).policy()
    assert ghes.url == "https://ghe.corp.example"  # type: ignore[attr-defined]
    assert ghes.issuer == "https://ghe.corp.example/_services/token"  # type: ignore[attr-defined]
