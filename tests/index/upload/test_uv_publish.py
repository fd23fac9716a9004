"""The real ``uv publish`` uploads to ``attestkit serve``: plain, and with attestations.

uv's multipart ``content`` part carries no ``Content-Type`` header; PyPI's form
parser reads that as ``text/plain`` and accepts it, so the index does too
(issue: every ``uv publish`` got "400 Invalid distribution file.").  uv also
finds ``<dist>.<anything>.attestation`` files beside each distribution and sends
them, which the index verifies like twine's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests

from tests.fixtures.processes import ak, start_server
from tests.fixtures.served import Served
from tests.fixtures.uploads import make_sdist, make_wheel

UV = str(Path(sys.executable).with_name("uv"))
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def _uv_publish(url: str, token: str, *files: Path | str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UV_NO_CACHE": "1", "UV_PUBLISH_TOKEN": token}
    return subprocess.run(
        [UV, "publish", "--publish-url", f"{url}/legacy/", *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_uv_publish_uploads_a_wheel_and_an_sdist(tmp_path: Path) -> None:
    served = start_server(["serve"], tmp_path / "d")
    try:
        d = str(tmp_path / "d")
        ak("index", "--data-dir", d, "user", "add", "alice")
        token = ak("index", "--data-dir", d, "token", "add", "--user", "alice").stdout.strip()
        dist = tmp_path / "dist"
        dist.mkdir()
        files = [make_wheel(dist, "demo-pkg", "1.0"), make_sdist(dist)]
        done = _uv_publish(served.url, token, *files)
        assert done.returncode == 0, done.stdout + done.stderr
        page = requests.get(f"{served.url}/simple/demo-pkg/", headers=JSON, timeout=30).json()
        assert sorted(f["filename"] for f in page["files"]) == sorted(f.name for f in files)
    finally:
        served.stop()


def test_uv_publish_sends_attestations_with_a_trusted_publishing_token(tmp_path: Path) -> None:
    served = Served(tmp_path / "data")
    try:
        served.pending_github_publisher()
        dist = tmp_path / "dist"
        dist.mkdir()
        wheel = make_wheel(dist, "demo-pkg", "1.0")
        identity = ["--github", "octo/demo", "--workflow", "release.yml", "--ref", "refs/tags/v1"]
        sigstore = ["sigstore", "token", "--data-dir", str(served.data_dir / "sigstore")]
        signing = served.ak(*sigstore, *identity)
        served.ak("sign", "--local", served.url, "--identity-token", signing, str(wheel))
        assert Path(f"{wheel}.publish.attestation").exists()
        oidc = served.ak(*sigstore, *identity, "--audience", "attestkit")
        minted = requests.post(f"{served.url}/_/oidc/mint-token", json={"token": oidc}, timeout=30)
        assert minted.status_code == 200, minted.text
        # uv pairs each distribution with the attestation files its globs match (`dist/*`).
        done = _uv_publish(served.url, minted.json()["token"], f"{dist}/*")
        assert done.returncode == 0, done.stdout + done.stderr
        (entry,) = requests.get(f"{served.url}/simple/demo-pkg/", headers=JSON, timeout=30).json()[
            "files"
        ]
        assert entry["provenance"], done.stderr[-3000:]
        provenance = requests.get(entry["provenance"], timeout=30).json()
        (bundle,) = provenance["attestation_bundles"]
        assert bundle["publisher"]["repository"] == "octo/demo"
    finally:
        served.stop()
