"""``attestkit serve --private``: anonymous reads refused, pip and uv install with a token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests

from tests.fixtures.processes import ak, start_server
from tests.fixtures.uploads import make_wheel, post_upload, twine_env


def test_a_private_index_needs_a_token_to_read(tmp_path: Path) -> None:
    served = start_server(["serve", "--private"], tmp_path / "d")
    d = str(tmp_path / "d")
    try:
        ak("index", "--data-dir", d, "user", "add", "alice")
        token = ak("index", "--data-dir", d, "token", "add", "--user", "alice").stdout.strip()
        wheel = make_wheel(tmp_path, "demo-pkg", "1.0")
        uploaded = post_upload(served.url, token, wheel, name="demo-pkg", version="1.0")
        assert uploaded.status_code == 200, uploaded.text  # uploads keep their own auth
        for path in ("/simple/", "/simple/demo-pkg/", "/project/demo-pkg/", "/pypi/demo-pkg/json"):
            anonymous = requests.get(f"{served.url}{path}", timeout=30)
            assert anonymous.status_code == 401, path
            assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="attestkit"'
            wrong = requests.get(f"{served.url}{path}", auth=("__token__", "pypi-nope"), timeout=30)
            assert wrong.status_code == 401, path
            good = requests.get(f"{served.url}{path}", auth=("__token__", token), timeout=30)
            assert good.status_code == 200, path
        assert requests.get(f"{served.url}/_/oidc/audience", timeout=30).status_code == 200

        host = served.url.removeprefix("http://")
        with_token = f"http://__token__:{token}@{host}/simple/"
        env = twine_env() | {"PIP_CONFIG_FILE": os.devnull, "PIP_EXTRA_INDEX_URL": ""}
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir",
             "--disable-pip-version-check", "--target", str(tmp_path / "pip"),
             "--index-url", with_token, "demo-pkg"],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert pip.returncode == 0, pip.stderr
        uv = subprocess.run(
            [str(Path(sys.executable).with_name("uv")), "pip", "install", "--no-deps",
             "--python", sys.executable, "--target", str(tmp_path / "uv"),
             "--index-url", with_token, "demo-pkg"],
            capture_output=True, text=True, env=env | {"UV_NO_CACHE": "1"}, timeout=300,
        )  # fmt: skip
        assert uv.returncode == 0, uv.stderr
        # The same credentials from a .netrc (pip through requests, uv natively).
        netrc = tmp_path / "netrc"
        netrc.write_text(f"machine 127.0.0.1 login __token__ password {token}\n")
        netrc.chmod(0o600)
        plain = f"{served.url}/simple/"
        for tool, command in (
            ("pip", [sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir",
                     "--disable-pip-version-check", "--no-input", "--target",
                     str(tmp_path / "pip-netrc"), "--index-url", plain, "demo-pkg"]),
            ("uv", [str(Path(sys.executable).with_name("uv")), "pip", "install", "--no-deps",
                    "--python", sys.executable, "--target", str(tmp_path / "uv-netrc"),
                    "--index-url", plain, "demo-pkg"]),
        ):  # fmt: skip
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=300,
                env=env | {"NETRC": str(netrc), "UV_NO_CACHE": "1"},
            )  # fmt: skip
            assert done.returncode == 0, (tool, done.stderr)
        anonymous_pip = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir",
             "--disable-pip-version-check", "--no-input", "--target", str(tmp_path / "anon"),
             "--index-url", f"{served.url}/simple/", "demo-pkg"],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert anonymous_pip.returncode != 0
    finally:
        served.stop()
