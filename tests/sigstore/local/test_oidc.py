"""The local OIDC issuer: JWKS/discovery, minted claim sets, verify_token, GitHub's
token endpoint and the PKCE login flow, checked with PyJWT, sigstore-python and ``id``."""

from __future__ import annotations

import base64
import time
import urllib.parse

import id as id_pkg
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sigstore._internal.oidc.oauth import OOB_REDIRECT_URI as SIGSTORE_OOB
from sigstore._internal.oidc.oauth import _OAuthSession
from sigstore.oidc import IdentityError, IdentityToken

from attestkit.core.constants import (
    BUILDKITE_ISSUER,
    CIRCLECI_ISSUER,
    GITHUB_ISSUER,
    GITLAB_ISSUER,
    GOOGLE_ISSUER,
)
from attestkit.sigstore.local import oidc
from attestkit.sigstore.local.keys import KeyStore
from attestkit.sigstore.local.oidc import Issuer, TokenError, verify_token

URL = "http://127.0.0.1:8123"
REDIRECT = "http://localhost:40123/auth/callback"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return KeyStore.open(tmp_path_factory.mktemp("oidc"))


@pytest.fixture
def issuer(keys: KeyStore) -> Issuer:
    # The PKCE tests run the flow after approval; the approval itself is tested below.
    return Issuer(keys, URL + "/", login_email="dev@example.com", auto_approve=True)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


# -- discovery, JWKS, mint ------------------------------------------------------


def test_discovery_document(issuer: Issuer) -> None:
    doc = issuer.discovery()
    assert doc["issuer"] == URL
    assert doc["jwks_uri"] == URL + "/.well-known/jwks.json"
    assert doc["authorization_endpoint"] == URL + "/oauth2/authorize"
    assert doc["token_endpoint"] == URL + "/oauth2/token"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "code" in doc["response_types_supported"]


def test_tokens_verify_with_pyjwt_and_the_jwks(issuer: Issuer, keys: KeyStore) -> None:
    token = issuer.mint(oidc.github_claims("octo/repo", "release.yml", "refs/heads/main"))
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["kid"] == keys.oidc_kid
    jwks = jwt.PyJWKSet.from_dict(issuer.jwks())
    (jwk,) = jwks.keys
    assert jwk.key_id == keys.oidc_kid
    claims = jwt.decode(
        token, jwk.key, algorithms=["RS256"], audience="sigstore", issuer=GITHUB_ISSUER
    )
    assert claims["sub"] == "repo:octo/repo:ref:refs/heads/main"
    assert claims["exp"] - claims["iat"] == 600
    assert claims["nbf"] == claims["iat"]
    assert claims["jti"]


def test_mint_audience_forms(issuer: Issuer) -> None:
    one = jwt.decode(
        issuer.mint({"sub": "x"}, audience="pypi"), options={"verify_signature": False}
    )
    assert one["aud"] == "pypi"  # a string, not a list: `id` compares with ==
    assert one["iss"] == URL  # default issuer: the instance
    two = jwt.decode(
        issuer.mint({"sub": "x"}, audience=["sigstore", "pypi"]),
        options={"verify_signature": False, "verify_aud": False},
    )
    assert two["aud"] == ["sigstore", "pypi"]


@pytest.mark.parametrize("audience", ["sigstore", "pypi", "testpypi"])
def test_id_audience_rule_holds(issuer: Issuer, audience: str) -> None:
    token = issuer.mint(oidc.github_claims("octo/repo"), audience=audience)
    id_pkg._validate_credential(token, audience)  # raises on a mismatch
    with pytest.raises(id_pkg.AmbientCredentialError, match="audience"):
        id_pkg._validate_credential(token, "other")


# -- sigstore-python accepts the tokens ------------------------------------------


def test_sigstore_identity_token_github(issuer: Issuer) -> None:
    token = IdentityToken(issuer.mint(oidc.github_claims("octo/repo", "ci.yml", "refs/tags/v1")))
    assert token.issuer == GITHUB_ISSUER
    assert token.identity == "repo:octo/repo:ref:refs/tags/v1"


def test_sigstore_identity_token_gitlab(issuer: Issuer) -> None:
    token = IdentityToken(issuer.mint(oidc.gitlab_claims("group/sub/project")))
    assert token.issuer == GITLAB_ISSUER
    assert token.identity == "project_path:group/sub/project:ref_type:branch:ref:main"


def test_sigstore_identity_token_google_uses_email(issuer: Issuer) -> None:
    email = "sa@project.iam.gserviceaccount.com"
    token = IdentityToken(issuer.mint(oidc.google_claims(email)))
    assert token.issuer == GOOGLE_ISSUER
    assert token.identity == email


def test_sigstore_identity_token_local_email_user(issuer: Issuer) -> None:
    token = IdentityToken(issuer.mint(oidc.email_claims("dev@example.com", URL)))
    assert token.issuer == URL
    assert token.identity == "dev@example.com"


def test_sigstore_identity_token_circleci_and_buildkite(issuer: Issuer) -> None:
    circle = IdentityToken(issuer.mint(oidc.circleci_claims("proj-id", "pdef-id")))
    assert circle.issuer == CIRCLECI_ISSUER
    assert circle.identity.startswith("org/")
    kite = IdentityToken(issuer.mint(oidc.buildkite_claims("acme", "widgets")))
    assert kite.issuer == BUILDKITE_ISSUER
    assert kite.identity.startswith("organization:acme:pipeline:widgets:")


def test_sigstore_rejects_other_audience_and_expired(issuer: Issuer) -> None:
    with pytest.raises(IdentityError):
        IdentityToken(issuer.mint(oidc.github_claims("o/r"), audience="pypi"))
    with pytest.raises(IdentityError):
        IdentityToken(issuer.mint(oidc.github_claims("o/r"), issued_at=int(time.time()) - 700))


# -- claim sets -------------------------------------------------------------------


def test_github_claims_shape() -> None:
    c = oidc.github_claims("octo-org/octo-repo", "release.yml", "refs/heads/main")
    assert c["iss"] == GITHUB_ISSUER
    assert c["repository_owner"] == "octo-org"
    assert c["workflow_ref"] == "octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main"
    assert c["job_workflow_ref"] == c["workflow_ref"]
    assert c["job_workflow_sha"] == c["workflow_sha"] == c["sha"]
    assert len(c["sha"]) == 40 and int(c["sha"], 16) >= 0
    assert c["ref_type"] == "branch"
    assert c["repository_id"].isdigit() and c["repository_owner_id"].isdigit()
    assert c["run_id"].isdigit() and c["run_attempt"] == "1"
    assert c["runner_environment"] == "github-hosted"
    assert c["repository_visibility"] == "public"
    assert "environment" not in c
    # Deterministic, and distinct per input.
    assert c == oidc.github_claims("octo-org/octo-repo", "release.yml", "refs/heads/main")
    other = oidc.github_claims("octo-org/other", "release.yml", "refs/heads/main")
    assert other["sha"] != c["sha"] and other["repository_id"] != c["repository_id"]


def test_github_claims_variants() -> None:
    env = oidc.github_claims("o/r", "release.yml", "refs/tags/v1", environment="pypi")
    assert env["sub"] == "repo:o/r:environment:pypi"
    assert env["environment"] == "pypi"
    assert env["ref_type"] == "tag"
    pr = oidc.github_claims("o/r", "ci.yml", "refs/pull/7/merge", event_name="pull_request")
    assert pr["sub"] == "repo:o/r:pull_request"
    reusable = oidc.github_claims(
        "o/r", "release.yml", "refs/tags/v1", job_workflow_ref="x/y/.github/workflows/b.yml@v2"
    )
    assert reusable["workflow_ref"] == "o/r/.github/workflows/release.yml@refs/tags/v1"
    assert reusable["job_workflow_ref"] == "x/y/.github/workflows/b.yml@v2"
    assert reusable["job_workflow_sha"] != reusable["workflow_sha"]
    custom = oidc.github_claims("o/r", sha="a" * 40, repository_id="42", run_id="7")
    assert (custom["sha"], custom["repository_id"], custom["run_id"]) == ("a" * 40, "42", "7")


def test_gitlab_claims_shape() -> None:
    c = oidc.gitlab_claims("group/project", ".gitlab-ci.yml", "v1.0", "tag", environment="prod")
    assert c["iss"] == GITLAB_ISSUER
    assert c["sub"] == "project_path:group/project:ref_type:tag:ref:v1.0"
    assert c["namespace_path"] == "group"
    assert c["ci_config_ref_uri"] == "gitlab.com/group/project//.gitlab-ci.yml@refs/tags/v1.0"
    assert c["ci_config_sha"] == c["sha"]
    assert c["environment"] == "prod"
    for key in ("namespace_id", "project_id", "pipeline_id", "job_id"):
        assert c[key].isdigit()
    with pytest.raises(ValueError, match="ref_type"):
        oidc.gitlab_claims("g/p", ref_type="commit")


def test_google_circleci_buildkite_email_claims() -> None:
    g = oidc.google_claims("a@b.iam.gserviceaccount.com")
    assert g["email_verified"] is True and g["sub"].isdigit() and g["azp"] == g["sub"]
    c = oidc.circleci_claims("p", "d", vcs_origin="github.com/o/r", vcs_ref="refs/heads/main")
    assert c["iss"] == CIRCLECI_ISSUER
    assert c["oidc.circleci.com/project-id"] == "p"
    assert c["oidc.circleci.com/pipeline-definition-id"] == "d"
    assert c["oidc.circleci.com/vcs-origin"] == "github.com/o/r"
    assert c["oidc.circleci.com/vcs-ref"] == "refs/heads/main"
    assert "oidc.circleci.com/vcs-origin" not in oidc.circleci_claims("p", "d")
    b = oidc.buildkite_claims("acme", "widgets", build_number=12, step_key="publish")
    assert b["iss"] == BUILDKITE_ISSUER and b["build_number"] == 12
    assert b["sub"].endswith(":step:publish")
    e = oidc.email_claims("me@example.com", URL + "/")
    assert e == {
        "iss": URL,
        "sub": "me@example.com",
        "email": "me@example.com",
        "email_verified": True,
    }


# -- verify_token ------------------------------------------------------------------


def _trusted(issuer: Issuer) -> dict[str, list[rsa.RSAPublicKey]]:
    return issuer.trusted_issuers()


def test_trusted_issuers_cover_ci_and_instance(issuer: Issuer) -> None:
    trusted = issuer.trusted_issuers()
    assert set(trusted) == {*oidc.CI_ISSUERS, URL}


def test_verify_token_good(issuer: Issuer) -> None:
    claims = verify_token(issuer.mint(oidc.github_claims("o/r")), _trusted(issuer))
    assert claims["repository"] == "o/r"
    listed = issuer.mint(oidc.google_claims("a@b.c"), audience=["x", "sigstore"])
    assert verify_token(listed, _trusted(issuer))["email"] == "a@b.c"


def test_verify_token_expired(issuer: Issuer) -> None:
    token = issuer.mint(oidc.github_claims("o/r"), issued_at=int(time.time()) - 601, lifetime=600)
    with pytest.raises(TokenError, match=r"^token expired"):
        verify_token(token, _trusted(issuer))


def test_verify_token_forged(issuer: Issuer) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {**oidc.github_claims("o/r"), "aud": "sigstore", "iat": int(time.time())}
    claims["exp"] = claims["iat"] + 600
    token = jwt.encode(claims, other, algorithm="RS256")
    with pytest.raises(TokenError, match="^token signature does not verify$"):
        verify_token(token, _trusted(issuer))


def test_verify_token_wrong_audience(issuer: Issuer) -> None:
    token = issuer.mint(oidc.github_claims("o/r"), audience="pypi")
    with pytest.raises(TokenError, match="^token audience 'pypi' is not 'sigstore'$"):
        verify_token(token, _trusted(issuer))
    assert verify_token(token, _trusted(issuer), audience="pypi")["aud"] == "pypi"


def test_verify_token_unknown_issuer(issuer: Issuer) -> None:
    token = issuer.mint({**oidc.github_claims("o/r"), "iss": "https://evil.example"})
    with pytest.raises(TokenError, match="^unknown issuer 'https://evil.example'$"):
        verify_token(token, _trusted(issuer))


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln"])
def test_verify_token_malformed(issuer: Issuer, token: str) -> None:
    with pytest.raises(TokenError, match="^malformed token: "):
        verify_token(token, _trusted(issuer))


def test_verify_token_missing_claims_and_bad_alg(issuer: Issuer, keys: KeyStore) -> None:
    claims = oidc.github_claims("o/r")
    del claims["sub"]
    with pytest.raises(TokenError, match="missing 'sub' claim"):
        verify_token(issuer.mint(claims), _trusted(issuer))
    hs = jwt.encode({**oidc.github_claims("o/r"), "aud": "sigstore"}, "k" * 32, algorithm="HS256")
    with pytest.raises(TokenError, match="'HS256' is not RS256"):
        verify_token(hs, _trusted(issuer))
    future = issuer.mint(oidc.github_claims("o/r"), issued_at=int(time.time()) + 3600)
    with pytest.raises(TokenError, match="not valid yet"):
        verify_token(future, _trusted(issuer))


# -- GitHub Actions' token endpoint ------------------------------------------------


def test_actions_token(issuer: Issuer) -> None:
    """The request token fixes the identity; the query chooses only the audience."""
    request = issuer.request_token("octo/repo", "release.yml", "refs/tags/v1", environment="pypi")
    value = issuer.actions_token({"audience": "pypi"}, f"bearer {request}")["value"]
    id_pkg._validate_credential(value, "pypi")
    claims = verify_token(value, _trusted(issuer), audience="pypi")
    assert claims["sub"] == "repo:octo/repo:environment:pypi"
    assert claims["job_workflow_ref"] == "octo/repo/.github/workflows/release.yml@refs/tags/v1"
    plain = issuer.request_token("octo/repo", ".github/workflows/release.yml", "refs/tags/v1")
    default = issuer.actions_token({}, f"Bearer {plain}")["value"]
    assert IdentityToken(default).identity == "repo:octo/repo:ref:refs/tags/v1"


def test_actions_token_each_job_is_its_own_run(issuer: Issuer) -> None:
    """Two request tokens for one identity are two jobs: their tokens differ in run_id."""
    runs = set()
    for _ in range(2):
        request = issuer.request_token("octo/repo", "release.yml", "refs/tags/v1")
        value = issuer.actions_token({"audience": "sigstore"}, f"bearer {request}")["value"]
        runs.add(verify_token(value, _trusted(issuer))["run_id"])
    assert len(runs) == 2


def test_actions_token_refuses_identity_parameters(issuer: Issuer) -> None:
    """The attack of issue 10, step 1: a job for mallory/repo asks for victim/repo."""
    request = issuer.request_token("mallory/repo", "release.yml", "refs/heads/main")
    for name, value in (
        ("repository", "victim/repo"),
        ("environment", "pypi"),
        ("workflow", "release.yml"),
        ("ref", "refs/tags/v1"),
        ("sha", "0" * 40),
        ("bogus", "1"),
    ):
        with pytest.raises(TokenError) as exc:
            issuer.actions_token({"audience": "pypi", name: value}, f"bearer {request}")
        assert exc.value.status == 400
        assert str(exc.value) == (
            f"query parameter {name!r} is not accepted: the request token fixes the job's"
            " identity (only 'audience' may be chosen)"
        )


def test_actions_token_rejections(issuer: Issuer, keys: KeyStore) -> None:
    request = issuer.request_token("o/r", "release.yml", "refs/heads/main")
    body, mac = request.removeprefix("akdevjob.").split(".")
    victim = issuer.request_token("victim/r", "release.yml", "refs/heads/main")
    forged_body = victim.removeprefix("akdevjob.").split(".")[0]
    for auth in (
        None,
        "",
        "bearer nope",
        f"basic {request}",
        # The instance secret itself is not a request token (it used to be the shared one).
        f"bearer {keys.runner_token}",
        # Another job's identity with this job's signature; a truncated signature.
        f"bearer akdevjob.{forged_body}.{mac}",
        f"bearer akdevjob.{body}.{mac[:-4]}",
        f"bearer akdevjob.{body}",
    ):
        with pytest.raises(TokenError, match="[Aa]uthorization|request token") as exc:
            issuer.actions_token({}, auth)
        assert exc.value.status == 401
    with pytest.raises(ValueError, match="owner/name"):
        issuer.request_token("no-slash", "release.yml", "refs/heads/main")
    with pytest.raises(ValueError, match="full ref"):
        issuer.request_token("o/r", "release.yml", "main")


def test_actions_token_expires(keys: KeyStore) -> None:
    clock = Clock()
    issuer = Issuer(keys, URL, clock=clock)
    request = issuer.request_token("o/r", "release.yml", "refs/heads/main", lifetime=60)
    assert issuer.actions_token({}, f"bearer {request}")["value"]
    clock.now += 61
    with pytest.raises(TokenError, match="^invalid request token: expired$"):
        issuer.actions_token({}, f"bearer {request}")


def test_request_tokens_do_not_open_across_instances(
    issuer: Issuer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = Issuer(KeyStore.open(tmp_path_factory.mktemp("other")), URL)
    request = other.request_token("o/r", "release.yml", "refs/heads/main")
    with pytest.raises(TokenError, match="not issued by this instance"):
        issuer.actions_token({}, f"bearer {request}")


# -- interactive login (PKCE) -------------------------------------------------------


def _session(client_id: str = "sigstore") -> _OAuthSession:
    """sigstore-python's own OAuth session: its parameters, verifier and challenge."""
    return _OAuthSession(client_id, "", None)  # type: ignore[arg-type]


def _basic(client_id: str) -> str:
    # What requests sends for auth=(client_id, "").
    return "Basic " + base64.b64encode(f"{client_id}:".encode()).decode()


def _authorize(issuer: Issuer, session: _OAuthSession, redirect_uri: str = REDIRECT) -> str:
    location = issuer.authorize(session._auth_params(redirect_uri))
    assert isinstance(location, str)
    parts = urllib.parse.urlsplit(location)
    query = urllib.parse.parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == redirect_uri or (
        location.startswith(SIGSTORE_OOB + "?")
    )
    assert query["state"] == [session.state]
    return query["code"][0]


def _form(code: str, session: _OAuthSession, redirect_uri: str = REDIRECT) -> dict[str, str]:
    # Exactly what sigstore.oidc.Issuer.identity_token posts.
    return {
        "grant_type": "authorization_code",
        "redirect_uri": redirect_uri,
        "code": code,
        "code_verifier": session.code_verifier,
    }


def test_pkce_exchange_like_sigstore_python(issuer: Issuer) -> None:
    session = _session()
    code = _authorize(issuer, session)
    result = issuer.exchange(_form(code, session), _basic("sigstore"))
    assert "error" not in result, result
    assert result["token_type"] == "Bearer" and result["expires_in"] == 600
    token = IdentityToken(result["access_token"], "sigstore")
    assert token.identity == "dev@example.com"
    assert token.issuer == URL
    claims = verify_token(result["id_token"], _trusted(issuer))
    assert claims["email"] == "dev@example.com" and claims["email_verified"] is True


def test_pkce_out_of_band_and_nonce(issuer: Issuer) -> None:
    session = _session()
    params = {**session._auth_params(SIGSTORE_OOB), "nonce": "n-123"}
    location = issuer.authorize(params)
    assert isinstance(location, str) and location.startswith(SIGSTORE_OOB + "?")
    code = urllib.parse.parse_qs(location.split("?", 1)[1])["code"][0]
    result = issuer.exchange(_form(code, session, SIGSTORE_OOB) | {"client_id": "sigstore"})
    assert jwt.decode(result["id_token"], options={"verify_signature": False})["nonce"] == "n-123"


def test_pkce_wrong_verifier(issuer: Issuer) -> None:
    session = _session()
    code = _authorize(issuer, session)
    form = _form(code, session) | {"code_verifier": _session().code_verifier}
    assert issuer.exchange(form) == {
        "error": "invalid_grant",
        "error_description": "code_verifier does not match code_challenge",
    }


def test_pkce_missing_verifier(issuer: Issuer) -> None:
    session = _session()
    code = _authorize(issuer, session)
    form = _form(code, session)
    del form["code_verifier"]
    assert issuer.exchange(form)["error"] == "invalid_request"


def test_pkce_code_is_single_use(issuer: Issuer) -> None:
    session = _session()
    code = _authorize(issuer, session)
    assert "access_token" in issuer.exchange(_form(code, session))
    again = issuer.exchange(_form(code, session))
    assert again["error"] == "invalid_grant"
    assert "unknown or already used" in again["error_description"]


def test_pkce_failed_attempt_consumes_code(issuer: Issuer) -> None:
    session = _session()
    code = _authorize(issuer, session)
    assert issuer.exchange(_form(code, session, "http://localhost:1/other"))["error"]
    assert issuer.exchange(_form(code, session))["error"] == "invalid_grant"


def test_pkce_expired_code(keys: KeyStore) -> None:
    clock = Clock()
    issuer = Issuer(keys, URL, login_email="dev@example.com", auto_approve=True, clock=clock)
    session = _session()
    code = _authorize(issuer, session)
    clock.now += oidc.CODE_LIFETIME + 1
    assert issuer.exchange(_form(code, session)) == {
        "error": "invalid_grant",
        "error_description": "authorization code expired",
    }


def test_pkce_wrong_redirect_uri(issuer: Issuer) -> None:
    session = _session()
    code = _authorize(issuer, session)
    result = issuer.exchange(_form(code, session, "http://localhost:40124/auth/callback"))
    assert result["error"] == "invalid_grant"
    assert "redirect_uri" in result["error_description"]


def test_pkce_wrong_client(issuer: Issuer) -> None:
    session = _session()
    code = _authorize(issuer, session)
    assert issuer.exchange(_form(code, session), _basic("other"))["error"] == "invalid_grant"
    session = _session()
    code = _authorize(issuer, session)
    mixed = issuer.exchange(_form(code, session) | {"client_id": "a"}, _basic("b"))
    assert mixed["error"] == "invalid_client"


def test_pkce_other_client_gets_its_audience(issuer: Issuer) -> None:
    session = _session("my-client")
    code = _authorize(issuer, session)
    result = issuer.exchange(_form(code, session), _basic("my-client"))
    assert IdentityToken(result["access_token"], "my-client").identity == "dev@example.com"


def test_token_endpoint_grant_type(issuer: Issuer) -> None:
    assert issuer.exchange({"grant_type": "password"})["error"] == "unsupported_grant_type"
    assert issuer.exchange({"grant_type": "authorization_code"})["error"] == "invalid_request"


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/cb",
        "http://evil.example/cb",
        "http://localhost.evil.example/cb",
        "http://localhost:99999/cb",
        "javascript:alert(1)",
    ],
)
def test_authorize_refuses_foreign_redirects(issuer: Issuer, redirect_uri: str) -> None:
    with pytest.raises(TokenError, match="redirect_uri") as exc:
        issuer.authorize(_session()._auth_params(redirect_uri))
    assert exc.value.status == 400


def test_authorize_missing_client(issuer: Issuer) -> None:
    params = _session()._auth_params(REDIRECT)
    del params["client_id"]
    with pytest.raises(TokenError, match="client_id"):
        issuer.authorize(params)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
    ],
)
def test_authorize_errors_redirect_back(issuer: Issuer, change: dict, error: str) -> None:
    session = _session()
    location = issuer.authorize(session._auth_params(REDIRECT) | change)
    assert isinstance(location, str)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    assert location.startswith(REDIRECT + "?")
    assert query["error"] == [error]
    assert query["state"] == [session.state]
    assert "code" not in query


def test_default_login_email(keys: KeyStore) -> None:
    email = Issuer(keys, URL).login_email
    assert email.endswith("@localhost") and len(email) > len("@localhost")


def test_non_positive_lifetime_mints_an_expired_token(issuer: Issuer) -> None:
    token = issuer.mint(oidc.github_claims("o/r"), lifetime=-60)
    with pytest.raises(TokenError, match=r"^token expired \(6\d s ago\)$"):
        verify_token(token, _trusted(issuer))


# -- login approval (one-time code printed by the server) ------------------------------


def _approving_issuer(keys: KeyStore, clock: Clock | None = None) -> tuple[Issuer, list[str]]:
    codes: list[str] = []
    issuer = Issuer(
        keys,
        URL,
        login_email="dev@example.com",
        on_login=lambda prompt, code: codes.append(code),
        clock=clock or time.time,
    )
    return issuer, codes


def test_login_waits_for_the_approval_code(keys: KeyStore) -> None:
    issuer, codes = _approving_issuer(keys)
    session = _session()
    prompt = issuer.authorize(session._auth_params(REDIRECT))
    assert isinstance(prompt, oidc.LoginPrompt) and prompt.error is None
    assert prompt.email == "dev@example.com" and prompt.client_id == "sigstore"
    assert len(codes) == 1 and len(codes[0]) == 9 and codes[0][4] == "-"
    # A wrong code: the prompt again, with the reason; no code issued.
    again = issuer.approve({"request": prompt.request, "code": "0000-0000"})
    assert (
        isinstance(again, oidc.LoginPrompt) and again.error and "wrong approval code" in again.error
    )
    # The right code, typed sloppily (lower case, no dash) still approves.
    location = issuer.approve(
        {"request": prompt.request, "code": codes[0].lower().replace("-", "")}
    )
    assert isinstance(location, str) and location.startswith(REDIRECT + "?")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    assert query["state"] == [session.state]
    result = issuer.exchange(_form(query["code"][0], session), _basic("sigstore"))
    assert IdentityToken(result["access_token"], "sigstore").identity == "dev@example.com"
    # One approval per request.
    with pytest.raises(TokenError, match="already approved"):
        issuer.approve({"request": prompt.request, "code": codes[0]})


def test_login_code_belongs_to_its_request(keys: KeyStore) -> None:
    issuer, codes = _approving_issuer(keys)
    first = issuer.authorize(_session()._auth_params(REDIRECT))
    second = issuer.authorize(_session()._auth_params(REDIRECT))
    assert isinstance(first, oidc.LoginPrompt) and isinstance(second, oidc.LoginPrompt)
    assert codes[0] != codes[1]
    wrong = issuer.approve({"request": second.request, "code": codes[0]})
    assert isinstance(wrong, oidc.LoginPrompt) and wrong.error


def test_login_guessing_is_limited(keys: KeyStore) -> None:
    issuer, _codes = _approving_issuer(keys)
    prompt = issuer.authorize(_session()._auth_params(REDIRECT))
    assert isinstance(prompt, oidc.LoginPrompt)
    for _ in range(oidc.MAX_APPROVAL_ATTEMPTS - 1):
        assert isinstance(
            issuer.approve({"request": prompt.request, "code": "AAAA-AAAA"}), oidc.LoginPrompt
        )
    with pytest.raises(TokenError, match="too many wrong approval codes") as exc:
        issuer.approve({"request": prompt.request, "code": "AAAA-AAAA"})
    assert exc.value.status == 403


def test_login_request_forged_or_expired(keys: KeyStore) -> None:
    clock = Clock()
    issuer, codes = _approving_issuer(keys, clock)
    prompt = issuer.authorize(_session()._auth_params(REDIRECT))
    assert isinstance(prompt, oidc.LoginPrompt)
    body, mac = prompt.request.split(".")
    with pytest.raises(TokenError, match="not issued by this instance") as exc:
        issuer.approve({"request": body[:-2] + "AA." + mac, "code": codes[0]})
    assert exc.value.status == 400
    clock.now += oidc.LOGIN_LIFETIME + 1
    with pytest.raises(TokenError, match="login request expired"):
        issuer.approve({"request": prompt.request, "code": codes[0]})
