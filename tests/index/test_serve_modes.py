"""``attestkit serve`` in production (default) and development (``--dev``) mode, as real processes.

Development mode simulates CI identities, so it is fenced: loopback only, a
banner on every HTML page, and a data directory that remembers its mode.
Production has no embedded issuer at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from attestkit.serving.devmode import BANNER
from tests.fixtures.processes import ServerProcess, ak, start_server

HTML = {"Accept": "text/html"}
PAGES = ["/", "/simple/", "/project/nothing-here/", "/help"]


@pytest.fixture
def production(tmp_path: Path):
    server = start_server(["serve"], tmp_path / "prod")
    yield server
    server.stop()


@pytest.fixture
def development(tmp_path: Path):
    server = start_server(["serve", "--dev"], tmp_path / "dev")
    yield server
    server.stop()


def _html_pages(server: ServerProcess) -> list[requests.Response]:
    responses = [requests.get(server.url + p, headers=HTML, timeout=30) for p in PAGES]
    pages = [r for r in responses if r.headers.get("content-type", "").startswith("text/html")]
    assert len(pages) >= 3, [
        (r.url, r.status_code, r.headers.get("content-type")) for r in responses
    ]
    return pages


def test_production_has_no_embedded_issuer_and_no_banner(production: ServerProcess) -> None:
    for path in ("/oidc/github-actions", "/.well-known/jwks.json", "/trust-config.json"):
        assert requests.get(production.url + path, timeout=30).status_code == 404, path
    r = requests.get(production.url + "/_/oidc/audience", timeout=30)
    assert r.status_code == 200 and r.json() == {"audience": "attestkit"}
    for page in _html_pages(production):
        assert BANNER not in page.text, page.url
    assert json.loads((production.data_dir / "attestkit-mode.json").read_text()) == {
        "mode": "production"
    }


def test_development_pages_all_carry_the_banner(development: ServerProcess) -> None:
    for page in _html_pages(development):
        assert page.text.count(BANNER) == 1, page.url
        assert int(page.headers["content-length"]) == len(page.content)
    # Machine-readable answers are untouched.
    r = requests.get(
        development.url + "/simple/",
        timeout=30,
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    assert BANNER not in r.text and r.json()["meta"]["api-version"]
    assert requests.get(development.url + "/trust-config.json", timeout=30).status_code == 200
    assert "DEVELOPMENT INSTANCE" in development.log.read_text()


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--dev", "--host", "0.0.0.0"],
        ["serve", "--dev", "--host", "192.0.2.1"],
        ["sigstore", "serve", "--dev", "--host", "0.0.0.0"],
    ],
)
def test_dev_refuses_non_loopback_hosts(tmp_path: Path, command: list[str]) -> None:
    r = ak(*command, "--data-dir", str(tmp_path / "d"))
    assert r.returncode == 2
    assert "loopback addresses only" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "d" / "attestkit-mode.json").exists()


def test_dev_from_the_config_file_is_fenced_too(tmp_path: Path) -> None:
    config = tmp_path / "attestkit.toml"
    config.write_text('[serve]\ndev = true\nhost = "0.0.0.0"\n')
    r = ak("serve", "--config", str(config), "--data-dir", str(tmp_path / "d"))
    assert r.returncode == 2 and "loopback addresses only" in r.stderr


def test_a_data_directory_never_changes_mode(tmp_path: Path) -> None:
    dev_dir, prod_dir = tmp_path / "dev", tmp_path / "prod"
    start_server(["serve", "--dev"], dev_dir).stop()
    start_server(["serve"], prod_dir).stop()
    r = ak("serve", "--data-dir", str(dev_dir))
    assert r.returncode == 2
    assert "belongs to a development instance" in r.stderr and "--dev" in r.stderr
    r = ak("serve", "--dev", "--data-dir", str(prod_dir))
    assert r.returncode == 2 and "belongs to a production instance" in r.stderr
    # The embedded Sigstore's own directory is marked too.
    r = ak(
        "sigstore",
        "serve",
        "--issuer",
        "gitlab=https://gitlab.example.com",
        "--data-dir",
        str(dev_dir / "sigstore"),
    )
    assert r.returncode == 2 and "belongs to a development instance" in r.stderr


def test_a_data_directory_from_before_modes_is_development(tmp_path: Path) -> None:
    legacy = tmp_path / "legacy"
    (legacy / "index").mkdir(parents=True)
    r = ak("serve", "--data-dir", str(legacy))
    assert r.returncode == 2 and "belongs to a development instance" in r.stderr


def test_trust_roots_are_checked_before_serving(tmp_path: Path) -> None:
    r = ak("serve", "--trust-root", str(tmp_path / "missing.json"), "--data-dir", str(tmp_path))
    assert r.returncode == 2 and "missing.json" in r.stderr
    r = ak("serve", "--no-public-sigstore", "--data-dir", str(tmp_path / "d"))
    assert r.returncode == 2 and "no trust root" in r.stderr


def test_production_never_trusts_a_development_trust_root(tmp_path: Path) -> None:
    dev = start_server(["serve", "--dev"], tmp_path / "dev")
    try:
        trust = tmp_path / "dev-trust.json"
        trust.write_bytes(requests.get(dev.url + "/trust-config.json", timeout=30).content)
    finally:
        dev.stop()
    r = ak("serve", "--trust-root", str(trust), "--data-dir", str(tmp_path / "prod"))
    assert r.returncode == 2
    assert "trust root of an attestkit development instance" in r.stderr
    assert str(trust) in r.stderr


def test_a_bad_config_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "attestkit.toml"
    config.write_text("[serve]\nprot = 8080\n")
    r = ak("serve", "--config", str(config))
    assert r.returncode == 2
    assert str(config) in r.stderr and "unknown key serve.prot" in r.stderr


def test_the_default_port_is_8740(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8740)) == 0:
            pytest.skip("something else listens on 127.0.0.1:8740")
    server = start_server(["serve"], tmp_path / "d", free_port=False)
    try:
        assert server.url == "http://127.0.0.1:8740"
    finally:
        server.stop()


@pytest.mark.parametrize("trusted", [True, False])
def test_forwarded_headers_only_from_configured_proxies(tmp_path: Path, trusted: bool) -> None:
    proxy = ["--forwarded-allow-ips", "127.0.0.1"] if trusted else []
    server = start_server(["serve", *proxy], tmp_path / "d")
    try:
        page = requests.get(
            server.url + "/pypi/nothing/json",
            headers={"X-Forwarded-Proto": "https", "Host": "pypi.example.test"},
            timeout=30,
        )
        home = requests.post(
            server.url + "/legacy", headers={"X-Forwarded-Proto": "https"}, allow_redirects=False,
            timeout=30,
        )  # fmt: skip
    finally:
        server.stop()
    assert page.status_code == 400  # Host names are still checked, proxy or not
    assert home.status_code == 308  # an absolute URL, built with the scheme believed
    scheme = "https" if trusted else "http"
    assert home.headers["location"].startswith(f"{scheme}://127.0.0.1:"), home.headers
