"""Security headers and trusted hosts (hardening row 7), on real servers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fixtures.processes import start_server


def test_every_response_carries_the_security_headers(index_server: Any) -> None:
    server = index_server()
    page = requests.get(f"{server.url}/", timeout=30)
    assert page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src" not in csp  # no script may run, inline or not
    simple = requests.get(f"{server.url}/simple/", timeout=30)
    assert (
        simple.headers["Content-Security-Policy"]
        == "sandbox allow-top-navigation; default-src 'none'"
    )
    as_json = requests.get(
        f"{server.url}/simple/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        timeout=30,
    )
    for response in (page, simple, as_json, requests.get(f"{server.url}/nope", timeout=30)):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "origin-when-cross-origin"
    assert "Content-Security-Policy" not in as_json.headers


def test_a_foreign_host_header_is_refused(tmp_path: Path) -> None:
    """Without --base-url, URLs come from Host: a host nobody configured gets 400."""
    served = start_server(["serve"], tmp_path / "d")
    try:
        good = requests.get(f"{served.url}/simple/", timeout=30)
        assert good.status_code == 200
        evil = requests.get(f"{served.url}/simple/", headers={"Host": "evil.example"}, timeout=30)
        assert evil.status_code == 400 and "evil.example" not in evil.text
    finally:
        served.stop()


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_a_network_address_needs_its_host_names(tmp_path: Path, host: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "attestkit", "serve", "--host", host, "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "--allowed-host NAME" in out.stderr
