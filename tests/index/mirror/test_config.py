"""Which upstream a name may come from, and the refusals of ``attestkit serve --mirror``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from attestkit.core.install_policy import Policy
from attestkit.errors import InputError
from attestkit.index.mirror import MirrorConfig


def test_names_map_to_their_upstreams() -> None:
    policy = Policy.from_dict({"projects": {"Our_Lib": {"index": "https://corp.example/simple"}}})
    config = MirrorConfig(
        upstreams=("https://pypi.org/simple", "http://127.0.0.1:8080/simple/"),
        policy=policy,
        local_only=("acme-*",),
    )
    assert config.upstreams == ("https://pypi.org/simple/", "http://127.0.0.1:8080/simple/")
    assert config.upstreams_for("requests") == config.upstreams
    assert config.upstreams_for("our-lib") == ("https://corp.example/simple/",)
    assert config.upstreams_for("acme-tools") == ()


@pytest.mark.parametrize(
    "url", ["http://pypi.example/simple/", "ftp://x/simple/", "https:///simple/", "pypi.org"]
)
def test_an_insecure_or_odd_upstream_is_refused(url: str) -> None:
    with pytest.raises(InputError, match="must be an https:// URL"):
        MirrorConfig(upstreams=(url,))


def _serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attestkit", "serve", "--data-dir", str(tmp_path / "d"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_refuses_a_bad_mirror_configuration_in_one_line(tmp_path: Path) -> None:
    bad = _serve(tmp_path, "--mirror", "http://pypi.example/simple/")
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "must be an https:// URL" in bad.stderr
    policy = tmp_path / "policy.toml"
    policy.write_text("[policy]\ndefault = 'sometimes'\n")
    bad = _serve(tmp_path, "--mirror", "--mirror-policy", str(policy))
    assert bad.returncode == 2 and f"{policy}: policy.default 'sometimes'" in bad.stderr
    assert not (tmp_path / "d").exists()  # refused before anything was created
