"""Yank, unyank and delete through ``attestkit index``, seen by a running server and by pip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests

from tests.fixtures.processes import ak, start_server
from tests.fixtures.uploads import make_wheel, post_upload, twine_env

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def _upload(url: str, token: str, wheel: Path, version: str) -> requests.Response:
    return post_upload(url, token, wheel, name="demo-pkg", version=version)


def _pip(url: str, target: Path, requirement: str) -> subprocess.CompletedProcess[str]:
    env = twine_env() | {"PIP_CONFIG_FILE": os.devnull, "PIP_EXTRA_INDEX_URL": ""}
    return subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir",
         "--disable-pip-version-check", "--target", str(target),
         "--index-url", f"{url}/simple/", requirement],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def test_yank_unyank_and_delete(tmp_path: Path) -> None:
    served = start_server(["serve"], tmp_path / "d")
    d = str(tmp_path / "d")
    admin = ("index", "--data-dir", d)
    try:
        ak(*admin, "user", "add", "alice")
        token = ak(*admin, "token", "add", "--user", "alice").stdout.strip()
        dist = tmp_path / "dist"
        dist.mkdir()
        one, two = make_wheel(dist, "demo-pkg", "1.0"), make_wheel(dist, "demo-pkg", "2.0")
        assert _upload(served.url, token, one, "1.0").status_code == 200
        assert _upload(served.url, token, two, "2.0").status_code == 200

        def page() -> dict[str, object]:
            files = requests.get(f"{served.url}/simple/demo-pkg/", headers=JSON, timeout=30)
            return {f["filename"]: f for f in files.json()["files"]}

        done = ak(*admin, "release", "yank", "demo-pkg", "2.0", "--reason", "broken build")
        assert done.returncode == 0, done.stderr
        assert page()[two.name]["yanked"] == "broken build"  # type: ignore[index]
        latest = _pip(served.url, tmp_path / "latest", "demo-pkg")
        assert latest.returncode == 0 and (tmp_path / "latest" / "demo_pkg-1.0.dist-info").is_dir()
        pinned = _pip(served.url, tmp_path / "pinned", "demo-pkg==2.0")
        assert pinned.returncode == 0, pinned.stderr  # an exact pin still installs (PEP 592)
        assert ak(*admin, "release", "unyank", "demo-pkg", "2.0").returncode == 0
        assert page()[two.name]["yanked"] is False  # type: ignore[index]

        refused = ak(*admin, "file", "delete", "demo-pkg", two.name)
        assert refused.returncode == 2 and "--yes" in refused.stderr
        url = page()[two.name]["url"]  # type: ignore[index]
        assert ak(*admin, "file", "delete", "demo-pkg", two.name, "--yes").returncode == 0
        assert two.name not in page()
        assert requests.get(str(url), timeout=30).status_code == 404
        again = _upload(served.url, token, two, "2.0")
        assert again.status_code == 400
        assert "previously used by a file that has since been deleted" in again.text

        assert ak(*admin, "project", "delete", "demo-pkg", "--yes").returncode == 0
        assert requests.get(f"{served.url}/simple/demo-pkg/", timeout=30).status_code == 404
        assert _upload(served.url, token, one, "1.0").status_code == 400  # never reused
        fresh = make_wheel(tmp_path, "demo-pkg", "3.0")
        assert _upload(served.url, token, fresh, "3.0").status_code == 200  # the name is free
        store = tmp_path / "d" / "index" / "files"
        names = sorted(p.name for p in store.rglob("*.whl"))
        assert names == [fresh.name]  # deleted bytes are gone from the store
    finally:
        served.stop()
