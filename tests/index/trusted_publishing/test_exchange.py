"""Trusted Publishing over real HTTP: ``/_/oidc/audience`` and ``/_/oidc/mint-token``.

Tokens are minted by the embedded OIDC issuer with the real CI issuer strings
(GitHub, GitLab, Google, ActiveState); the index trusts that issuer's JWKS
(statically, or discovered from a running ``attestkit sigstore serve``).
Every error row of PyPI's table is checked with its code and description, on
SQLite and (when configured) PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jwt
import pytest
import requests

from attestkit.core.constants import ACTIVESTATE_ISSUER, GITHUB_ISSUER, GITLAB_ISSUER, GOOGLE_ISSUER
from attestkit.index import admin
from attestkit.index.db import ApiToken, Project, Role, TrustedPublisher, UsedJti
from attestkit.index.instance import Index, OidcIssuer
from attestkit.index.tokens import matches, parse_token
from attestkit.index.trusted_publishing import exchange as oidc
from attestkit.index.trusted_publishing.routes import routes as tp_routes
from attestkit.sigstore.local.keys import KeyStore
from attestkit.sigstore.local.oidc import Issuer, github_claims, gitlab_claims, google_claims
from tests.fixtures.index_server import Server
from tests.fixtures.tp_app import oidc_app

AUD = "attestkit"
REPO = "octo/repo"


# -- fixtures and helpers ---------------------------------------------------------


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return KeyStore.open(tmp_path_factory.mktemp("oidc-keys"))


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return KeyStore.open(tmp_path_factory.mktemp("oidc-other-keys"))


@pytest.fixture
def issuer(keys: KeyStore) -> Issuer:
    return Issuer(keys, "http://local")


def all_issuers(issuer: Issuer) -> tuple[OidcIssuer, ...]:
    jwks = issuer.jwks()
    return (
        OidcIssuer(GITHUB_ISSUER, "github", jwks=jwks),
        OidcIssuer(GITLAB_ISSUER, "gitlab", jwks=jwks),
        OidcIssuer(GOOGLE_ISSUER, "google", jwks=jwks),
        OidcIssuer(ACTIVESTATE_ISSUER, "activestate", jwks=jwks),
    )


@pytest.fixture
def server(index_server: Callable[..., Server], issuer: Issuer) -> Server:
    """An index serving the Trusted Publishing routes, trusting the embedded issuer."""
    return index_server(app_factory=oidc_app, oidc_issuers=all_issuers(issuer))


@pytest.fixture
def alice(server: Server) -> int:
    with server.index.session() as session:
        return admin.create_user(session, "alice", "alice@example.com").id


def add_project(server: Server, name: str, owner: str = "alice") -> int:
    with server.index.session() as session:
        user = admin.find_user(session, owner)
        return admin.create_project(session, name, user).id


def add_publisher(
    server: Server,
    kind: str,
    config: dict[str, Any],
    *,
    project: str | None = None,
    pending: str | None = None,
    owner: str = "alice",
) -> int:
    with server.index.session() as session:
        p = admin.find_project(session, project) if project else None
        tp = admin.add_publisher(
            session,
            kind,
            config,
            project=p,
            pending_name=pending,
            added_by=admin.find_user(session, owner),
        )
        return tp.id


def github(server: Server, project: str = "demo", **extra: Any) -> int:
    return add_publisher(
        server, "GitHub", {"repository": REPO, "workflow": "release.yml", **extra}, project=project
    )


def exchange(server: Server, token: str, path: str = "/_/oidc/mint-token") -> requests.Response:
    response = requests.post(server.url + path, json={"token": token}, timeout=30)
    if len(token) > 8:
        assert token not in response.text  # the token is never echoed
    return response


def post_raw(server: Server, body: bytes) -> requests.Response:
    return requests.post(
        server.url + "/_/oidc/mint-token",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )


def error(response: requests.Response) -> tuple[str, str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["message"] == "Token request failed"
    assert len(body["errors"]) == 1
    return body["errors"][0]["code"], body["errors"][0]["description"]


def sign(
    claims: Mapping[str, Any],
    keys: KeyStore,
    *,
    kid: str | None = "default",
    alg: str = "RS256",
    audience: object = AUD,
    lifetime: int = 600,
    issued_at: int | None = None,
    drop: tuple[str, ...] = (),
) -> str:
    """A JWT crafted by hand (for the malformed cases the issuer will not mint)."""
    iat = int(time.time()) if issued_at is None else issued_at
    payload = {
        "aud": audience,
        "iat": iat,
        "nbf": iat,
        "exp": iat + lifetime,
        "jti": "j-" + str(iat),
    }
    payload.update(claims)
    for name in drop:
        payload.pop(name, None)
    headers: dict[str, Any] = {"typ": "JWT"}
    if kid is not None:
        headers["kid"] = keys.oidc_kid if kid == "default" else kid
    key: Any = keys.oidc_key if alg == "RS256" else "a-shared-secret-of-at-least-32-bytes!!"
    return jwt.encode(payload, key, algorithm=alg, headers=headers)


def github_token(issuer: Issuer, repository: str = REPO, **kwargs: Any) -> str:
    overrides = kwargs.pop("claims", {})
    claims = github_claims(repository, kwargs.pop("workflow", "release.yml"), **kwargs)
    claims.update(overrides)
    return issuer.mint(claims, audience=AUD)


def token_row(server: Server, token: str) -> ApiToken:
    parsed = parse_token(token)
    assert parsed is not None
    with server.index.session() as session:
        row = session.get(ApiToken, parsed[0])
        assert row is not None
        assert matches(row.secret_sha256, parsed[1])
        return row


def as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


# -- audience -----------------------------------------------------------------------


def test_audience(server: Server) -> None:
    response = requests.get(server.url + "/_/oidc/audience", timeout=30)
    assert response.status_code == 200
    assert response.json() == {"audience": AUD}


def test_audience_disabled_without_issuers(index_server: Callable[..., Server]) -> None:
    server = index_server(app_factory=oidc_app, audience="custom")
    response = requests.get(server.url + "/_/oidc/audience", timeout=30)
    assert response.status_code == 403
    assert response.json() == {"message": "Trusted publishing functionality not enabled"}


def test_custom_audience(index_server: Callable[..., Server], issuer: Issuer) -> None:
    server = index_server(
        app_factory=oidc_app, audience="myindex", oidc_issuers=all_issuers(issuer)
    )
    assert requests.get(server.url + "/_/oidc/audience", timeout=30).json() == {
        "audience": "myindex"
    }


# -- successful exchanges --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/_/oidc/mint-token", "/_/oidc/github/mint-token"])
def test_github_mint(server: Server, issuer: Issuer, alice: int, path: str) -> None:
    from attestkit.index.upload.auth import authenticate, caveat_failure

    project_id = add_project(server, "demo")
    add_project(server, "other")
    publisher_id = github(server)
    claims = github_claims(REPO, "release.yml", "refs/tags/v1.0")
    before = int(time.time())
    response = exchange(server, issuer.mint(claims, audience=AUD), path)
    after = int(time.time())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert set(body) == {"success", "token", "expires"}
    assert body["token"].startswith("pypi-")
    assert before + 900 <= body["expires"] <= after + 900

    row = token_row(server, body["token"])
    assert row.publisher_id == publisher_id
    assert row.user_id is None
    assert row.expires is not None
    assert as_utc(row.expires) == dt.datetime.fromtimestamp(body["expires"], dt.UTC)
    assert row.not_before is not None
    assert row.claims["ref"] == "refs/tags/v1.0"
    assert row.claims["sha"] == claims["sha"]
    assert row.claims["job_workflow_ref"] == claims["job_workflow_ref"]

    # The token authenticates as the publisher and may upload to its project only.
    with server.index.session() as session:
        identity = authenticate(session, f"token {body['token']}", "http://help")
        assert identity.publisher is not None and identity.publisher.id == publisher_id
        now = dt.datetime.now(dt.UTC)
        demo = session.get(Project, project_id)
        other = admin.find_project(session, "other")
        assert caveat_failure(identity, demo, "demo", now) is None
        assert caveat_failure(identity, other, "other", now) is not None
        later = dt.datetime.fromtimestamp(body["expires"] + 1, dt.UTC)
        assert "expired" in (caveat_failure(identity, demo, "demo", later) or "")


def test_minted_lifetime_is_configurable(
    index_server: Callable[..., Server], issuer: Issuer
) -> None:
    server = index_server(
        app_factory=oidc_app, oidc_issuers=all_issuers(issuer), minted_token_lifetime=3600
    )
    with server.index.session() as session:
        admin.create_project(session, "demo")
    github(server)
    before = int(time.time())
    body = exchange(server, github_token(issuer)).json()
    assert before + 3600 <= body["expires"] <= int(time.time()) + 3600


def test_github_case_insensitive_repository_and_environment(
    server: Server, issuer: Issuer, alice: int
) -> None:
    add_project(server, "demo")
    github(server, environment="PyPI")
    token = github_token(issuer, "Octo/Repo", environment="pypi")
    assert exchange(server, token).status_code == 200


def test_github_owner_id_checked_when_configured(
    server: Server, issuer: Issuer, alice: int
) -> None:
    add_project(server, "demo")
    github(server, repository_owner_id="1234")
    assert exchange(server, github_token(issuer, owner_id="1234")).status_code == 200
    code, description = error(exchange(server, github_token(issuer, owner_id="9999")))
    assert code == "invalid-publisher"
    assert description.startswith(
        "valid token, but no corresponding publisher (Check failed for required claim"
        " 'repository_owner_id': expected '1234', got '9999'"
    )


def test_publisher_with_environment_wins(server: Server, issuer: Issuer, alice: int) -> None:
    add_project(server, "general")
    add_project(server, "specific")
    general = github(server, project="general")
    specific = github(server, project="specific", environment="release")
    body = exchange(server, github_token(issuer, environment="release")).json()
    assert token_row(server, body["token"]).publisher_id == specific
    # Another environment (or none) falls back to the publisher without one.
    body = exchange(server, github_token(issuer, environment="staging")).json()
    assert token_row(server, body["token"]).publisher_id == general
    body = exchange(server, github_token(issuer)).json()
    assert token_row(server, body["token"]).publisher_id == general


def test_reusable_workflow_in_same_repository(server: Server, issuer: Issuer, alice: int) -> None:
    """PyPI matches the called workflow (job_workflow_ref): the publisher names it."""
    add_project(server, "demo")
    add_publisher(server, "GitHub", {"repository": REPO, "workflow": "build.yml"}, project="demo")
    token = github_token(
        issuer, job_workflow_ref=f"{REPO}/.github/workflows/build.yml@refs/heads/main"
    )
    assert exchange(server, token).status_code == 200


def test_gitlab_mint(server: Server, issuer: Issuer, alice: int) -> None:
    add_project(server, "demo")
    publisher_id = add_publisher(
        server,
        "GitLab",
        {
            "repository": "group/sub/proj",
            "workflow_filepath": "ci/release.yml",
            "environment": "prod",
        },
        project="demo",
    )
    claims = gitlab_claims("Group/Sub/Proj", "ci/release.yml", "v1", "tag", environment="prod")
    response = exchange(server, issuer.mint(claims, audience=AUD))
    assert response.status_code == 200, response.text
    row = token_row(server, response.json()["token"])
    assert row.publisher_id == publisher_id
    assert row.claims["ref_path"] == "refs/tags/v1"
    assert row.claims["sha"] == claims["sha"]

    # Environments are case-sensitive on GitLab.
    claims = gitlab_claims("group/sub/proj", "ci/release.yml", environment="Prod")
    code, description = error(exchange(server, issuer.mint(claims, audience=AUD)))
    assert code == "invalid-publisher"
    assert (
        "Check failed for optional claim 'environment': expected 'prod', got 'Prod'" in description
    )


def test_gitlab_wrong_ci_file_is_named(server: Server, issuer: Issuer, alice: int) -> None:
    add_project(server, "demo")
    add_publisher(
        server,
        "GitLab",
        {"repository": "group/proj", "workflow_filepath": ".gitlab-ci.yml"},
        project="demo",
    )
    claims = gitlab_claims("group/proj", "ci/other.yml")
    code, description = error(exchange(server, issuer.mint(claims, audience=AUD)))
    assert code == "invalid-publisher"
    assert "Check failed for required claim 'ci_config_ref_uri'" in description
    assert (
        "the publisher names CI file '.gitlab-ci.yml', but the token comes from 'ci/other.yml'"
        in description
    )


def test_gitlab_custom_issuer(index_server: Callable[..., Server], issuer: Issuer) -> None:
    custom = "https://gitlab.example.com"
    server = index_server(
        app_factory=oidc_app,
        oidc_issuers=(*all_issuers(issuer), OidcIssuer(custom, "gitlab", jwks=issuer.jwks())),
    )
    with server.index.session() as session:
        admin.create_project(session, "demo")
    add_publisher(
        server,
        "GitLab",
        {"repository": "group/proj", "workflow_filepath": ".gitlab-ci.yml", "issuer_url": custom},
        project="demo",
    )
    claims = gitlab_claims("group/proj")
    claims["iss"] = custom
    claims["ci_config_ref_uri"] = claims["ci_config_ref_uri"].replace(
        "gitlab.com", "gitlab.example.com"
    )
    assert exchange(server, issuer.mint(claims, audience=AUD)).status_code == 200
    # The same project path on gitlab.com does not match a publisher of the custom issuer.
    code, description = error(
        exchange(server, issuer.mint(gitlab_claims("group/proj"), audience=AUD))
    )
    assert code == "invalid-publisher"
    assert (
        f"JWT issuer 'https://gitlab.com' does not match expected issuer '{custom}'" in description
    )


def test_google_mint(server: Server, issuer: Issuer, alice: int) -> None:
    add_project(server, "demo")
    email = "release@proj.iam.gserviceaccount.com"
    publisher_id = add_publisher(server, "Google", {"email": email}, project="demo")
    claims = google_claims(email)
    response = exchange(server, issuer.mint(claims, audience=AUD))
    assert response.status_code == 200, response.text
    assert token_row(server, response.json()["token"]).publisher_id == publisher_id

    unverified = dict(claims, email_verified=False)
    code, description = error(exchange(server, issuer.mint(unverified, audience=AUD)))
    assert code == "invalid-publisher"
    assert (
        "Check failed for required claim 'email_verified': expected True, got False" in description
    )


def test_activestate_mint(server: Server, keys: KeyStore, alice: int) -> None:
    add_project(server, "demo")
    config = {"organization": "acme", "project": "widget", "actor_id": "a-1"}
    publisher_id = add_publisher(server, "ActiveState", config, project="demo")
    claims = {
        "iss": ACTIVESTATE_ISSUER,
        "sub": "org:acme:project:widget",
        "organization": "acme",
        "project": "widget",
        "actor_id": "a-1",
        "actor": "alice",
        "builder": "pypi-publisher",
        "artifact_id": "x",
        "ingredient": "widget",
    }
    response = exchange(server, sign(claims, keys))
    assert response.status_code == 200, response.text
    assert token_row(server, response.json()["token"]).publisher_id == publisher_id

    code, description = error(exchange(server, sign(dict(claims, builder="other", jti="j2"), keys)))
    assert code == "invalid-publisher"
    assert (
        "Check failed for required claim 'builder': expected 'pypi-publisher', got 'other'"
        in description
    )


def test_pending_publisher_creates_project(server: Server, issuer: Issuer, alice: int) -> None:
    publisher_id = add_publisher(
        server,
        "GitHub",
        {"repository": REPO, "workflow": "release.yml"},
        pending="New-Project",
    )
    response = exchange(server, github_token(issuer))
    assert response.status_code == 200, response.text
    with server.index.session() as session:
        project = admin.find_project(session, "new-project")
        assert project is not None and project.name == "New-Project"
        role = session.query(Role).filter_by(project_id=project.id).one()
        assert role.user_id == alice and role.role == "Owner"
        tp = session.get(TrustedPublisher, publisher_id)
        assert tp is not None
        assert tp.project_id == project.id
        assert tp.pending_project_name is None
    assert token_row(server, response.json()["token"]).publisher_id == publisher_id
    # The converted publisher keeps working as a normal one.
    assert exchange(server, github_token(issuer)).status_code == 200


# -- every error row of the table ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"not json", "request body is not valid JSON"),
        (b"[1, 2]", "request body is a JSON list"),
        (b"{}", "field 'token' is missing"),
        (b'{"token": 12345}', "field 'token' must be a string, not int"),
        (b'{"token": null}', "field 'token' must be a string, not null"),
        (b"x" * (70 * 1024), "request body exceeds"),
    ],
)
def test_malformed_body(server: Server, body: bytes, expected: str) -> None:
    code, description = error(post_raw(server, body))
    assert code == "invalid-payload"
    assert expected in description


def test_body_schema_error_does_not_echo_input(server: Server, issuer: Issuer) -> None:
    token = github_token(issuer)
    response = post_raw(server, b'{"token": ["' + token.encode() + b'"]}')
    assert error(response)[0] == "invalid-payload"
    assert token not in response.text


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"])
def test_malformed_jwt(server: Server, token: str) -> None:
    assert error(exchange(server, token)) == ("invalid-payload", "malformed JWT")


def test_jwt_without_iss_is_malformed(server: Server, keys: KeyStore) -> None:
    token = sign({"sub": "x"}, keys)
    assert error(exchange(server, token)) == ("invalid-payload", "malformed JWT")


def test_unknown_issuer(server: Server, issuer: Issuer) -> None:
    claims = dict(github_claims(REPO), iss="https://token.actions.example.com")
    token = issuer.mint(claims, audience=AUD)
    assert error(exchange(server, token)) == (
        "invalid-payload",
        "unknown trusted publishing issuer",
    )


def test_not_enabled(index_server: Callable[..., Server], issuer: Issuer) -> None:
    server = index_server(
        app_factory=oidc_app,
        oidc_issuers=(OidcIssuer(GITHUB_ISSUER, "github", jwks=issuer.jwks()),),
    )
    token = issuer.mint(gitlab_claims("group/proj"), audience=AUD)
    assert error(exchange(server, token)) == (
        "not-enabled",
        "gitlab trusted publishing functionality not enabled",
    )


def test_not_enabled_when_disabled_globally(
    index_server: Callable[..., Server], issuer: Issuer
) -> None:
    server = index_server(app_factory=oidc_app)
    assert error(exchange(server, github_token(issuer))) == (
        "not-enabled",
        "github trusted publishing functionality not enabled",
    )


def assert_invalid_token(response: requests.Response, reason: str) -> None:
    code, description = error(response)
    assert code == "invalid-token"
    assert description.startswith("malformed or invalid token (")
    assert reason in description


def test_bad_signature(server: Server, keys: KeyStore, other_keys: KeyStore) -> None:
    # Signed by another key but claiming the trusted key's kid.
    token = sign(github_claims(REPO), other_keys, kid=keys.oidc_kid)
    assert_invalid_token(exchange(server, token), "signature does not verify")


def test_unknown_key_id(server: Server, other_keys: KeyStore) -> None:
    token = Issuer(other_keys, "http://other").mint(github_claims(REPO), audience=AUD)
    assert_invalid_token(exchange(server, token), f"unknown signing key {other_keys.oidc_kid!r}")


def test_missing_kid(server: Server, keys: KeyStore) -> None:
    token = sign(github_claims(REPO), keys, kid=None)
    assert_invalid_token(exchange(server, token), "no key ID ('kid')")


def test_only_rs256(server: Server, keys: KeyStore) -> None:
    token = sign(github_claims(REPO), keys, alg="HS256")
    assert_invalid_token(exchange(server, token), "'HS256' is not RS256")


def test_expired(server: Server, issuer: Issuer) -> None:
    token = issuer.mint(github_claims(REPO), audience=AUD, issued_at=int(time.time()) - 700)
    assert_invalid_token(exchange(server, token), "the token expired")


def test_expiry_leeway(server: Server, issuer: Issuer, alice: int) -> None:
    add_project(server, "demo")
    github(server)
    # Expired 10 s ago: within the 30 s leeway.
    token = issuer.mint(github_claims(REPO), audience=AUD, issued_at=int(time.time()) - 610)
    assert exchange(server, token).status_code == 200


def test_issued_in_the_future(server: Server, issuer: Issuer) -> None:
    token = issuer.mint(github_claims(REPO), audience=AUD, issued_at=int(time.time()) + 300)
    assert_invalid_token(exchange(server, token), "issued in the future")


def test_wrong_audience(server: Server, issuer: Issuer) -> None:
    token = issuer.mint(github_claims(REPO), audience="sigstore")
    assert_invalid_token(
        exchange(server, token), "audience 'sigstore' is not this index's 'attestkit'"
    )


def test_audience_list_is_refused(server: Server, issuer: Issuer) -> None:
    token = issuer.mint(github_claims(REPO), audience=[AUD])
    assert_invalid_token(exchange(server, token), "must be the single string 'attestkit', not list")


@pytest.mark.parametrize("claim", ["iat", "exp", "aud"])
def test_missing_standard_claim(server: Server, keys: KeyStore, claim: str) -> None:
    token = sign(github_claims(REPO), keys, drop=(claim,))
    assert_invalid_token(exchange(server, token), f"the token has no {claim!r} claim")


def test_replayed_jti(server: Server, issuer: Issuer, alice: int) -> None:
    add_project(server, "demo")
    github(server)
    token = github_token(issuer)
    assert exchange(server, token).status_code == 200
    assert error(exchange(server, token)) == ("invalid-reuse-token", "invalid token: already used")
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    with server.index.session() as session:
        used = session.get(UsedJti, (GITHUB_ISSUER, jti))
        assert used is not None
        exp = jwt.decode(token, options={"verify_signature": False})["exp"]
        assert as_utc(used.expires) == dt.datetime.fromtimestamp(exp + 35, dt.UTC)


def test_concurrent_replays_mint_once(server: Server, issuer: Issuer, alice: int) -> None:
    add_project(server, "demo")
    github(server)
    token = github_token(issuer)
    results: list[int] = []
    codes: list[str] = []

    def attempt() -> None:
        response = exchange(server, token)
        results.append(response.status_code)
        if response.status_code != 200:
            codes.append(response.json()["errors"][0]["code"])

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [422] * 7
    assert set(codes) == {"invalid-reuse-token"}
    with server.index.session() as session:
        assert session.query(ApiToken).count() == 1


def test_no_publisher_for_repository(server: Server, issuer: Issuer, alice: int) -> None:
    add_project(server, "demo")
    github(server)
    code, description = error(exchange(server, github_token(issuer, "octo/other")))
    assert code == "invalid-publisher"
    # Publishers of other repositories are not revealed to a stranger's token.
    assert description == (
        "valid token, but no corresponding publisher (Publisher with matching claims was not"
        " found: no GitHub publisher is registered for repository 'octo/other')"
    )


def test_wrong_workflow_is_named(server: Server, issuer: Issuer, alice: int) -> None:
    add_project(server, "demo")
    github(server)
    code, description = error(exchange(server, github_token(issuer, workflow="publish.yml")))
    assert code == "invalid-publisher"
    assert description.startswith(
        "valid token, but no corresponding publisher (Check failed for required claim"
        " 'job_workflow_ref': expected one of ["
    )
    assert (
        "the publisher names workflow 'release.yml', but the token comes from 'publish.yml'"
        in description
    )


def test_reusable_workflow_mismatch_explained(server: Server, issuer: Issuer, alice: int) -> None:
    add_project(server, "demo")
    github(server)  # names the caller, release.yml
    token = github_token(
        issuer, job_workflow_ref=f"{REPO}/.github/workflows/build.yml@refs/heads/main"
    )
    code, description = error(exchange(server, token))
    assert code == "invalid-publisher"
    assert (
        "the token comes from workflow 'release.yml', which calls the reusable workflow"
        " 'build.yml'; Trusted Publishing matches the called workflow, so the publisher must"
        " name workflow 'build.yml'"
    ) in description


def test_reusable_workflow_from_another_repository(
    server: Server, issuer: Issuer, alice: int
) -> None:
    add_project(server, "demo")
    github(server)
    token = github_token(
        issuer, job_workflow_ref="shared/workflows/.github/workflows/release.yml@refs/tags/v1"
    )
    code, description = error(exchange(server, token))
    assert code == "invalid-publisher"
    assert "from another repository" in description
    assert "only a workflow of the publishing repository 'octo/repo' can match" in description


def test_environment_mismatch_is_named(server: Server, issuer: Issuer, alice: int) -> None:
    add_project(server, "demo")
    github(server, environment="pypi")
    code, description = error(exchange(server, github_token(issuer)))
    assert code == "invalid-publisher"
    assert (
        "Check failed for optional claim 'environment': expected 'pypi', got None;"
        " the job does not run in a deployment environment"
    ) in description
    code, description = error(exchange(server, github_token(issuer, environment="staging")))
    assert "expected 'pypi', got 'staging'" in description


def test_pull_request_target_refused(server: Server, issuer: Issuer, alice: int) -> None:
    add_project(server, "demo")
    github(server)
    code, description = error(
        exchange(server, github_token(issuer, event_name="pull_request_target"))
    )
    assert (code, description) == (
        "invalid-publisher",
        "valid token, but no corresponding publisher (Publishing from a workflow invoked via"
        " 'pull_request_target' is not supported.)",
    )


@pytest.mark.parametrize("claim", ["ref", "jti", "repository_owner_id", "job_workflow_ref"])
def test_missing_required_claim(server: Server, keys: KeyStore, alice: int, claim: str) -> None:
    add_project(server, "demo")
    github(server)
    token = sign(github_claims(REPO), keys, drop=(claim,))
    assert error(exchange(server, token)) == (
        "invalid-publisher",
        f"valid token, but no corresponding publisher (Missing claim {claim!r})",
    )


def test_empty_ref_and_sha(server: Server, issuer: Issuer, alice: int) -> None:
    add_project(server, "demo")
    github(server)
    token = github_token(issuer, claims={"ref": "", "sha": ""})
    assert error(exchange(server, token))[1] == (
        "valid token, but no corresponding publisher (The ref and sha claims are empty)"
    )


def test_an_expired_pending_publisher_creates_nothing(
    server: Server, issuer: Issuer, alice: int
) -> None:
    publisher_id = add_publisher(
        server, "GitHub", {"repository": REPO, "workflow": "release.yml"}, pending="late"
    )
    with server.index.session() as session:
        tp = session.get(TrustedPublisher, publisher_id)
        assert tp is not None
        tp.expires = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    code, description = error(exchange(server, github_token(issuer)))
    assert code == "invalid-publisher"
    assert "the pending publisher for 'late' expired at" in description
    with server.index.session() as session:
        assert admin.find_project(session, "late") is None
        assert session.query(ApiToken).count() == 0
    with server.index.session() as session:  # still within its time: it works, and stops expiring
        tp = session.get(TrustedPublisher, publisher_id)
        assert tp is not None
        tp.expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert exchange(server, github_token(issuer)).status_code == 200
    with server.index.session() as session:
        tp = session.get(TrustedPublisher, publisher_id)
        assert tp is not None and tp.project_id is not None and tp.expires is None


def test_pending_publisher_whose_project_exists(server: Server, issuer: Issuer, alice: int) -> None:
    publisher_id = add_publisher(
        server, "GitHub", {"repository": REPO, "workflow": "release.yml"}, pending="taken"
    )
    add_project(server, "Taken")  # created after the pending publisher was registered
    assert error(exchange(server, github_token(issuer))) == (
        "invalid-pending-publisher",
        "valid token, but project already exists",
    )
    with server.index.session() as session:
        assert session.get(TrustedPublisher, publisher_id) is None
        assert session.query(ApiToken).count() == 0


def test_pending_publisher_project_creation_fails(
    server: Server, issuer: Issuer, alice: int
) -> None:
    publisher_id = add_publisher(
        server, "GitHub", {"repository": REPO, "workflow": "release.yml"}, pending="fine"
    )
    with server.index.session() as session:  # a name that can no longer be created
        tp = session.get(TrustedPublisher, publisher_id)
        assert tp is not None
        tp.pending_project_name = "-bad-"
    code, description = error(exchange(server, github_token(issuer)))
    assert (code, description) == ("invalid-payload", "invalid project name '-bad-'")
    # Nothing was consumed: the jti was not recorded.
    with server.index.session() as session:
        assert session.query(UsedJti).count() == 0


def test_replayed_jti_on_pending_publisher_is_refused_first(
    server: Server, issuer: Issuer, alice: int
) -> None:
    add_publisher(server, "GitHub", {"repository": REPO, "workflow": "release.yml"}, pending="pp")
    token = github_token(issuer)
    assert exchange(server, token).status_code == 200
    assert error(exchange(server, token))[0] == "invalid-reuse-token"


# -- JWKS discovery -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sigstore_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.fixtures.local_sigstore import start_instance

    instance = start_instance(tmp_path_factory.mktemp("sigstore-for-oidc"))
    yield instance
    instance.stop()


def test_keys_from_discovery(
    index_server: Callable[..., Server], sigstore_instance: Any, other_keys: KeyStore
) -> None:
    """GitHub's issuer string with keys discovered from a running `attestkit sigstore serve`."""
    server = index_server(
        app_factory=oidc_app,
        oidc_issuers=(OidcIssuer(GITHUB_ISSUER, "github", discovery_url=sigstore_instance.url),),
    )
    with server.index.session() as session:
        admin.create_project(session, "demo")
    github(server)
    token = sigstore_instance.token(
        "--github", REPO, "--workflow", "release.yml", "--ref", "refs/tags/v1", "--audience", AUD
    )
    response = exchange(server, token)
    assert response.status_code == 200, response.text
    # A token signed by a key the issuer does not publish stays unknown after the refresh.
    with_other_key = sign(github_claims(REPO), other_keys)
    code, description = error(exchange(server, with_other_key))
    assert code == "invalid-token" and "unknown signing key" in description


def test_issuer_unreachable_is_503(index_server: Callable[..., Server], issuer: Issuer) -> None:
    server = index_server(
        app_factory=oidc_app,
        oidc_issuers=(OidcIssuer(GITHUB_ISSUER, "github", discovery_url="http://127.0.0.1:9"),),
    )
    response = exchange(server, github_token(issuer))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    body = response.json()
    assert body["message"] == "Token request failed"
    assert body["errors"][0]["code"] == "issuer-unavailable"
    assert "could not be fetched" in body["errors"][0]["description"]


class FakeFetch:
    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks = jwks
        self.calls = 0
        self.fail = False

    def __call__(self, url: str) -> dict[str, Any]:
        self.calls += 1
        if self.fail:
            raise oidc.JwksUnavailable("down")
        return self.jwks


def test_jwks_cache_refresh_policy(keys: KeyStore, other_keys: KeyStore) -> None:
    now = [1000.0]
    first = Issuer(keys, "http://a").jwks()
    second = Issuer(other_keys, "http://b").jwks()
    fetch = FakeFetch(first)
    cache = oidc.JwksCache(
        OidcIssuer(GITHUB_ISSUER, "github", discovery_url="http://x"),
        fetch=fetch,
        clock=lambda: now[0],
    )
    assert cache.key(keys.oidc_kid) is not None and fetch.calls == 1
    assert cache.key(keys.oidc_kid) is not None and fetch.calls == 1  # cached, no expiry
    # Unknown kid: the refresh just succeeded, so no new fetch within 60 s.
    assert cache.key(other_keys.oidc_kid) is None and fetch.calls == 1
    now[0] += 61
    fetch.jwks = second
    assert cache.key(other_keys.oidc_kid) is not None and fetch.calls == 2
    # A failed refresh keeps the old cache, and may be retried at once.
    now[0] += 61
    fetch.fail = True
    with pytest.raises(oidc.JwksUnavailable):
        cache.key("nope")
    assert cache.key(other_keys.oidc_kid) is not None
    with pytest.raises(oidc.JwksUnavailable):
        cache.key("nope")
    assert fetch.calls == 4
    # An empty key set also keeps the old cache.
    fetch.fail = False
    fetch.jwks = {"keys": []}
    assert cache.key("nope") is None
    assert cache.key(other_keys.oidc_kid) is not None


def test_static_jwks_never_fetches(keys: KeyStore, other_keys: KeyStore) -> None:
    fetch = FakeFetch({})
    cache = oidc.JwksCache(
        OidcIssuer(GITHUB_ISSUER, "github", jwks=Issuer(keys, "http://a").jwks()), fetch=fetch
    )
    assert cache.key(keys.oidc_kid) is not None
    assert cache.key(other_keys.oidc_kid) is None
    assert fetch.calls == 0


@pytest.mark.parametrize(
    ("issuer_config", "message"),
    [
        (
            OidcIssuer("https://accounts.example.com", "google"),
            "only GitHub \\(Enterprise Server\\) and GitLab \\(self-managed\\) support custom",
        ),
        (OidcIssuer(GITHUB_ISSUER, "gitlab"), "is 'github', not 'gitlab'"),
        (OidcIssuer("https://oidc.circleci.com/org/x", "circleci"), "unsupported kind 'circleci'"),
    ],
)
def test_issuer_configuration_is_validated(
    index_factory: Callable[..., Index], issuer_config: OidcIssuer, message: str
) -> None:
    index = index_factory(oidc_issuers=(issuer_config,))
    with pytest.raises(ValueError, match=message):
        tp_routes(index)


def test_served_by_the_full_index_app(index_server: Callable[..., Server], issuer: Issuer) -> None:
    """The routes work inside the assembled index app (no other route shadows them)."""
    server = index_server(oidc_issuers=all_issuers(issuer))
    assert requests.get(server.url + "/_/oidc/audience", timeout=30).json() == {"audience": AUD}
    with server.index.session() as session:
        admin.create_project(session, "demo")
    github(server)
    for path in oidc.MINT_PATHS:
        assert exchange(server, github_token(issuer), path).status_code == 200


# -- hostile input (hardening row 3): 4xx with PyPI's error shape, never a 500 -----------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"[" * 1000 + b"]" * 1000, "not valid JSON"),
        (b'{"token": ' + b"[" * 100 + b"]" * 100 + b"}", "not valid JSON"),
        (b'{"token": NaN}', "not valid JSON"),
        (b"x" * (20 * 1024 * 1024), "exceeds"),
    ],
    ids=["deep-array", "deep-token", "nan", "20MB"],
)
def test_hostile_bodies_are_refused_with_the_error_shape(
    server: Server, body: bytes, fragment: str
) -> None:
    code, description = error(post_raw(server, body))
    assert code == "invalid-payload" and fragment in description


def test_a_token_with_deep_json_claims_is_malformed(server: Server, keys: KeyStore) -> None:
    import base64

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(b'{"alg": "RS256", "kid": "%s"}' % keys.oidc_kid.encode())
    token = f"{header}.{b64(b'[' * 5000 + b']' * 5000)}.c2ln"
    assert error(exchange(server, token)) == ("invalid-payload", "malformed JWT")


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_an_absurd_time_claim_is_refused_not_a_crash(
    server: Server, keys: KeyStore, alice: int, claim: str
) -> None:
    add_project(server, "demo")
    github(server)
    claims = {**github_claims(REPO, "release.yml"), "iss": GITHUB_ISSUER, claim: 10**20}
    code, description = error(exchange(server, sign(claims, keys)))
    assert code == "invalid-token" and f"the {claim!r} claim is not a Unix time" in description
