"""The impersonation attack, step by step, against a development index (``serve --dev``).

Step 1 was: a job given the runner environment for ``mallory/repo`` asks the
embedded issuer's GitHub endpoint, with the same request token, for
``repository=victim/repo&environment=pypi`` and gets a token.  Now the request
token is bound to one identity and one job when it is issued, so the query
can only choose the audience: the request is refused, the shared instance
secret is no token, a forged token does not open, and the one token mallory
can get (mallory's own) is refused by the victim's Trusted Publisher (step 2),
so nothing is uploaded under the victim's name (step 3).  The production side
is ``test_trust_model.py``.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from attestkit.sigstore.local.keys import KeyStore
from tests.fixtures.processes import ServerProcess, ak, start_server

AUD = "attestkit"


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(["serve", "--dev"], tmp_path_factory.mktemp("devattack") / "data")
    d = str(server.data_dir)
    for args in (
        ("user", "add", "victim"),
        (
            "publisher", "add", "--pending", "victimpkg", "--owner", "victim",
            "--github", "victim/repo", "--workflow", "release.yml", "--environment", "pypi",
        ),
    ):  # fmt: skip
        r = ak("index", "--data-dir", d, *args)
        assert r.returncode == 0, r.stderr
    yield server
    server.stop()


def _runner_env(server: ServerProcess, repo: str, *extra: str) -> dict[str, str]:
    """What ``sigstore token --print-env`` gives a job of ``repo`` (release.yml)."""
    r = ak(
        "sigstore", "token", "--data-dir", str(server.data_dir / "sigstore"),
        "--url", server.url, "--github", repo, "--workflow", "release.yml",
        "--ref", "refs/tags/v9", "--print-env", *extra,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    env = {}
    for line in r.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0]
    return env


def _ask(env: dict[str, str], query: str, token: str | None = None) -> requests.Response:
    request_token = env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] if token is None else token
    return requests.get(
        env["ACTIONS_ID_TOKEN_REQUEST_URL"] + query,
        headers={"Authorization": f"bearer {request_token}"},
        timeout=30,
    )


def test_step_1_a_job_cannot_choose_its_identity(dev: ServerProcess) -> None:
    env = _runner_env(dev, "mallory/repo")
    # The request URL carries no identity; the token is mallory's job's alone.
    assert env["ACTIONS_ID_TOKEN_REQUEST_URL"] == dev.url + "/oidc/github-actions"
    r = _ask(env, f"?repository=victim/repo&environment=pypi&audience={AUD}")
    assert r.status_code == 400
    assert r.json()["message"] == (
        "query parameter 'environment' is not accepted: the request token fixes the job's"
        " identity (only 'audience' may be chosen)"
    )
    assert "value" not in r.json()
    # The instance's secret is no request token (it was the shared one before).
    secret = KeyStore.open(dev.data_dir / "sigstore").runner_token
    assert _ask(env, f"?audience={AUD}", token=secret).status_code == 401
    # Another job's identity under mallory's signature does not open.
    victim_body = _runner_env(dev, "victim/repo")["ACTIONS_ID_TOKEN_REQUEST_TOKEN"].split(".")[1]
    prefix, _, mac = env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"].split(".")
    forged = f"{prefix}.{victim_body}.{mac}"
    r = _ask(env, f"?audience={AUD}", token=forged)
    assert r.status_code == 401
    assert r.json()["message"] == "invalid request token: not issued by this instance"


def test_steps_2_and_3_mallorys_own_token_gets_nothing_of_the_victims(
    dev: ServerProcess, tmp_path: Path
) -> None:
    env = _runner_env(dev, "mallory/repo")
    r = _ask(env, f"?audience={AUD}")
    assert r.status_code == 200, r.text
    oidc_token = r.json()["value"]
    mint = requests.post(dev.url + "/_/oidc/mint-token", json={"token": oidc_token}, timeout=30)
    assert mint.status_code == 422, mint.text
    assert "token" not in mint.json()
    assert mint.json()["errors"][0]["code"] == "invalid-publisher"
    # Nothing under the victim's name: the pending project was never created.
    assert requests.get(dev.url + "/simple/victimpkg/", timeout=30).status_code == 404
    # The victim's real job (its own request token, its environment) is what works.
    victim = _runner_env(dev, "victim/repo", "--environment", "pypi")
    token = _ask(victim, f"?audience={AUD}").json()["value"]
    ok = requests.post(dev.url + "/_/oidc/mint-token", json={"token": token}, timeout=30)
    assert ok.status_code == 200, ok.text
