"""The air-gapped company: its own GitLab, its own Sigstore, its own index, nothing public.

Four real processes on 127.0.0.1:

* a development instance standing in for the company's self-managed GitLab
  (its tokens name its own URL as issuer and verify through its discovery);
* a private ``attestkit sigstore serve`` that trusts that GitLab and nothing else;
* a production ``attestkit serve`` that trusts that private Sigstore's root (and
  not public Sigstore) and has a Trusted Publisher registered with that GitLab
  as its issuer;
* a second production index that does not trust the private root.

The release job signs with its GitLab identity, exchanges its token for an
upload token, uploads with the attestation; the provenance served by the
Integrity API verifies with ``attestkit verify --trust-config``.  The second
index refuses the same attestation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.fixtures.local_sigstore import Instance, start_instance
from tests.fixtures.processes import ServerProcess, ak, start_server
from tests.fixtures.readside import make_wheel

PROJECT = "corp-app"
REPO = "corp/app"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    root = tmp_path_factory.mktemp("airgap")
    gitlab = start_instance(root / "gitlab")
    servers: list[ServerProcess] = []
    try:
        sigstore = start_server(
            ["sigstore", "serve", "--issuer", f"gitlab={gitlab.url}"], root / "sig"
        )
        servers.append(sigstore)
        trust = root / "corp-trust.json"
        r = ak("sigstore", "trust-config", "--data-dir", str(sigstore.data_dir), "-o", str(trust))
        assert r.returncode == 0, r.stderr
        index = start_server(
            ["serve", "--trust-root", str(trust), "--no-public-sigstore"], root / "index"
        )
        servers.append(index)
        other = start_server(["serve"], root / "other")  # public Sigstore only
        servers.append(other)
        for server in (index, other):
            d = str(server.data_dir)
            assert ak("index", "--data-dir", d, "user", "add", "alice").returncode == 0
            r = ak(
                "index",
                "--data-dir",
                d,
                "publisher",
                "add",
                "--pending",
                PROJECT,
                "--owner",
                "alice",
                "--gitlab",
                REPO,
                "--workflow",
                ".gitlab-ci.yml",
                "--issuer",
                gitlab.url,
            )
            assert r.returncode == 0, r.stderr
        yield {
            "gitlab": gitlab,
            "sigstore": sigstore,
            "index": index,
            "other": other,
            "trust": trust,
            "root": root,
        }
    finally:
        for server in servers:
            server.stop()
        gitlab.stop()


def _job_token(gitlab: Instance, audience: str) -> str:
    return gitlab.token("--gitlab", REPO, "--self-managed", "--ref", "main", "--audience", audience)


def _upload_token(index: ServerProcess, gitlab: Instance) -> str:
    r = requests.post(
        index.url + "/_/oidc/mint-token",
        json={"token": _job_token(gitlab, "attestkit")},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


@pytest.fixture(scope="module")
def signed(world: dict[str, object]) -> Path:
    gitlab, sigstore = world["gitlab"], world["sigstore"]
    assert isinstance(gitlab, Instance) and isinstance(sigstore, ServerProcess)
    dist_dir = Path(str(world["root"])) / "dist"
    dist_dir.mkdir()
    wheel = make_wheel(dist_dir, PROJECT, "1.0")
    r = ak(
        "sign",
        "--local",
        sigstore.url,
        "--identity-token",
        _job_token(gitlab, "sigstore"),
        "--no-interactive",
        str(wheel),
    )
    assert r.returncode == 0, r.stderr
    return wheel


def test_release_from_self_managed_gitlab_to_a_private_index(
    world: dict[str, object], signed: Path, tmp_path: Path
) -> None:
    gitlab, index, trust = world["gitlab"], world["index"], world["trust"]
    assert isinstance(gitlab, Instance) and isinstance(index, ServerProcess)
    token = _upload_token(index, gitlab)
    r = ak(
        "upload",
        "--attestations",
        "--repository-url",
        index.url + "/legacy/",
        "-p",
        token,
        str(signed),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    # The provenance the index serves names the self-managed issuer, and verifies.
    name = signed.name
    url = f"{index.url}/integrity/{PROJECT}/1.0/{name}/provenance"
    provenance = requests.get(url, timeout=30).json()
    [bundle] = provenance["attestation_bundles"]
    assert bundle["publisher"]["kind"] == "GitLab"
    assert bundle["publisher"]["repository"] == REPO
    assert bundle["publisher"]["issuer_url"] == gitlab.url
    local = tmp_path / name
    local.write_bytes(signed.read_bytes())
    (tmp_path / f"{name}.provenance").write_text(json.dumps(provenance))
    host = urlsplit(gitlab.url).netloc
    san = f"https://{host}/{REPO}//.gitlab-ci.yml@refs/heads/main"
    v = ak(
        "verify",
        "provenance",
        "--trust-config",
        str(trust),
        "--identity",
        san,
        "--issuer",
        gitlab.url,
        str(local),
    )
    assert v.returncode == 0, v.stdout + v.stderr
    assert v.stdout.startswith("OK ") and "SIMULATED" not in v.stdout
    # The publisher form of the same check: the self-managed GitLab's repository + issuer.
    v = ak(
        "verify", "provenance", "--trust-config", str(trust),
        "--repository", f"{gitlab.url}/{REPO}", "--issuer", gitlab.url, str(local),
    )  # fmt: skip
    assert v.returncode == 0, v.stdout + v.stderr
    v = ak(
        "verify", "provenance", "--trust-config", str(trust),
        "--repository", f"{gitlab.url}/corp/other", "--issuer", gitlab.url, str(local),
    )  # fmt: skip
    assert v.returncode == 1 and "Source Repository URI does not match" in v.stdout + v.stderr
    # The same provenance does not verify against public Sigstore.
    v = ak("verify", "provenance", "--identity", san, "--issuer", gitlab.url, str(local))
    assert v.returncode == 1, v.stdout + v.stderr
    # The page shows it as verified, with no simulated mark.
    page = requests.get(f"{index.url}/project/{PROJECT}/", timeout=30).text
    assert "&#10003; verified" in page and "simulated identity" not in page


def test_an_index_without_the_private_root_refuses_it(
    world: dict[str, object], signed: Path
) -> None:
    gitlab, other = world["gitlab"], world["other"]
    assert isinstance(gitlab, Instance) and isinstance(other, ServerProcess)
    token = _upload_token(other, gitlab)
    r = ak(
        "upload",
        "--attestations",
        "--repository-url",
        other.url + "/legacy/",
        "-p",
        token,
        str(signed),
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Could not verify the uploaded artifact" in r.stdout + r.stderr


def test_the_issuer_is_trusted_only_for_its_publisher(world: dict[str, object]) -> None:
    """Another project's publisher (gitlab.com) is not reachable with the custom issuer's token,
    and a token for another project path of the same issuer matches nothing."""
    gitlab, index = world["gitlab"], world["index"]
    assert isinstance(gitlab, Instance) and isinstance(index, ServerProcess)
    stranger = gitlab.token(
        "--gitlab", "corp/other", "--self-managed", "--ref", "main", "--audience", "attestkit"
    )
    r = requests.post(index.url + "/_/oidc/mint-token", json={"token": stranger}, timeout=60)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "invalid-publisher"


def test_an_index_that_does_not_know_the_issuer_refuses_its_tokens(
    world: dict[str, object], tmp_path: Path
) -> None:
    """No publisher registered with that issuer: the token names an unknown issuer, and the
    index never contacts it."""
    gitlab = world["gitlab"]
    assert isinstance(gitlab, Instance)
    plain = start_server(["serve"], tmp_path / "plain")
    try:
        d = str(plain.data_dir)
        assert ak("index", "--data-dir", d, "user", "add", "alice").returncode == 0
        r = ak(
            "index", "--data-dir", d, "publisher", "add", "--pending", PROJECT,
            "--owner", "alice", "--gitlab", REPO, "--workflow", ".gitlab-ci.yml",
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        mint = requests.post(
            plain.url + "/_/oidc/mint-token",
            json={"token": _job_token(gitlab, "attestkit")},
            timeout=60,
        )
        assert mint.status_code == 422
        assert mint.json()["errors"] == [
            {"code": "invalid-payload", "description": "unknown trusted publishing issuer"}
        ]
    finally:
        plain.stop()
