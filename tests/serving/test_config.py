"""The servers' configuration file: every key read, every mistake a one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from attestkit.core.issuers import OidcIssuer
from attestkit.errors import InputError
from attestkit.serving.config import load_config, parse_issuer

FULL = """
[serve]
dev = false
host = "0.0.0.0"
port = 8080
data_dir = "data"
database_url = "postgresql://u@db/ak"
base_url = "https://pypi.example.com"
audience = "corp"
workers = 2
login_email = "a@b.c"
public_sigstore = false
trust_roots = ["roots/private.json", "/abs/other.json"]

[sigstore]
dev = false
host = "127.0.0.1"
port = 8081
data_dir = "/var/lib/sig"
ca_name = "Example Corp Sigstore"

[[sigstore.issuers]]
url = "https://gitlab.example.com/"
kind = "gitlab"

[[sigstore.issuers]]
url = "http://127.0.0.1:9000"
kind = "github"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "attestkit.toml"
    path.write_text(text)
    return path


def test_every_key_is_read_and_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, FULL))
    serve = config.serve
    assert serve.dev is False and serve.host == "0.0.0.0" and serve.port == 8080
    assert serve.data_dir == tmp_path / "data"
    assert serve.database_url == "postgresql://u@db/ak"
    assert serve.base_url == "https://pypi.example.com" and serve.audience == "corp"
    assert serve.workers == 2 and serve.login_email == "a@b.c"
    assert serve.public_sigstore is False
    assert serve.trust_roots == (tmp_path / "roots/private.json", Path("/abs/other.json"))
    sig = config.sigstore
    assert sig.port == 8081 and sig.data_dir == Path("/var/lib/sig")
    assert sig.ca_name == "Example Corp Sigstore"
    assert sig.issuers == (
        OidcIssuer("https://gitlab.example.com", "gitlab"),
        OidcIssuer("http://127.0.0.1:9000", "github"),
    )


def test_an_empty_file_sets_nothing(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, ""))
    assert config.serve.dev is None and config.serve.trust_roots == ()
    assert config.sigstore.issuers == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[serve]\ndevv = true\n", "unknown key serve.devv"),
        ("[servee]\n", r"unknown table \[servee\]"),
        ("[serve]\nport = '8080'\n", "serve.port must be an integer"),
        ("[serve]\nport = true\n", "serve.port must be an integer"),
        ("[serve]\ndev = 1\n", "serve.dev must be true or false"),
        ("[serve]\ntrust_roots = 'x.json'\n", "serve.trust_roots must be an array"),
        ("[serve]\ntrust_roots = [1]\n", r"serve.trust_roots\[0\] must be a file path"),
        ("serve = 3\n", "serve must be a table"),
        ("[sigstore]\nissuers = [{url = 'https://x'}]\n", "needs 'url' and 'kind'"),
        ("[sigstore]\nissuers = [{url = 'https://x', kind = 'jenkins'}]\n", "not one of"),
        (
            "[sigstore]\nissuers = [{url = 'http://gitlab.example.com', kind = 'gitlab'}]\n",
            "uses plain http",
        ),
        ("[sigstore]\nissuers = [{url = 'https://x', kind = 'gitlab', k = 1}]\n", "a table"),
        ("[serve\n", "not valid TOML"),
    ],
)
def test_mistakes_are_one_line_errors_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=message) as info:
        load_config(path)
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("kind", "url", "message"),
    [
        ("gitlab", "ftp://x", "absolute https"),
        ("gitlab", "https://x/?a=b", "query"),
        ("gitlab", "https://user:pw@x", "credentials"),
        ("gitlab", "http://10.0.0.1", "plain http"),
        ("teamcity", "https://x", "not one of"),
    ],
)
def test_issuers_must_be_https_or_loopback(kind: str, url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_issuer(kind, url)


def test_loopback_http_issuers_are_allowed_for_tests() -> None:
    assert parse_issuer("gitlab", "http://localhost:8080/").iss == "http://localhost:8080"
    assert parse_issuer("gitlab", "http://[::1]:8080").iss == "http://[::1]:8080"


def test_the_scale_out_keys_are_read(tmp_path: Path) -> None:
    text = """
[serve]
storage = "s3://attestkit-files/prod"
s3_endpoint_url = "http://minio:9000"
s3_region = "eu-west-1"
s3_redirect_downloads = true
sweep_grace = 600

[sigstore]
url = "https://sigstore.example.com"
keys_dir = "keys"
log_database_url = "postgresql://u@db/sig"
"""
    config = load_config(_write(tmp_path, text))
    serve, sigstore = config.serve, config.sigstore
    assert (serve.storage, serve.s3_endpoint_url, serve.s3_region) == (
        "s3://attestkit-files/prod",
        "http://minio:9000",
        "eu-west-1",
    )
    assert serve.s3_redirect_downloads is True and serve.sweep_grace == 600
    assert sigstore.url == "https://sigstore.example.com"
    assert sigstore.keys_dir == tmp_path / "keys"  # relative to the file
    assert sigstore.log_database_url == "postgresql://u@db/sig"
    with pytest.raises(InputError, match="serve.sweep_grace must be an integer"):
        load_config(_write(tmp_path, '[serve]\nsweep_grace = "1h"\n'))
