"""The client works with only ``pip install attestkit`` (no ``[server]``, no ``[login]``).

The CLI runs in an interpreter whose path holds everything installed here
*except* the server stack (``attestkit[server]``: Starlette, uvicorn,
SQLAlchemy, alembic, python-multipart, psycopg, httptools, uvloop) and
sigstore-python with its tree (``attestkit[login]``: pydantic, tuf,
securesystemslib, rfc3161-client, sigstore-models...), as after a plain
``pip install attestkit``.  It publishes to a real index (started with the
full install, as an operator would run it) and verifies; the server commands
say what to install.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DATA
from tests.fixtures.processes import ServerProcess, ak, start_server
from tests.fixtures.uploads import make_wheel

SRC = Path(__file__).resolve().parents[2] / "src"
#: The top-level import names attestkit[server] installs.
SERVER_ONLY = {
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "python_multipart",
    "multipart",
    "psycopg",
    "psycopg_binary",
    "httptools",
    "uvloop",
    "jinja2",
    "markupsafe",
}
#: The top-level import names attestkit[login] (sigstore-python and its tree) installs.
LOGIN_ONLY = {
    "sigstore",
    "sigstore_models",
    "sigstore_rekor_types",
    "pydantic",
    "pydantic_core",
    "tuf",
    "securesystemslib",
    "rfc3161_client",
    "platformdirs",
    "annotated_types",
    "typing_inspection",
    "email_validator",
    "dns",
    "dnspython",
    "pypi_attestations",  # a test dependency built on sigstore-python
}
NOT_IN_CLIENT = SERVER_ONLY | LOGIN_ONLY


@pytest.fixture(scope="module")
def client_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory with every installed distribution but the server stack."""
    site = tmp_path_factory.mktemp("client-site")
    purelib = Path(sysconfig.get_paths()["purelib"])
    for entry in purelib.iterdir():
        top = entry.name.split("-", 1)[0].split(".", 1)[0].lower()
        if top in NOT_IN_CLIENT or entry.suffix == ".pth" or top.startswith("__editable__"):
            continue
        (site / entry.name).symlink_to(entry)
    return site


def client(
    site: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``attestkit ARGS`` in an interpreter without the server extra (``-S``: no site-packages)."""
    code = (
        "import sys; sys.path[:0] = [sys.argv.pop(1), sys.argv.pop(1)];"
        "from attestkit.cli import main; code = main();"
        f"leaked = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(NOT_IN_CLIENT)!r});"
        "assert not leaked, leaked; raise SystemExit(code)"
    )
    return subprocess.run(
        [sys.executable, "-S", "-c", code, str(SRC), str(site), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def test_the_server_stack_is_really_absent(client_site: Path) -> None:
    code = "import sys; sys.path[:0] = [sys.argv[1]]; import starlette"
    r = subprocess.run(
        [sys.executable, "-S", "-c", code, str(client_site)], capture_output=True, text=True
    )
    assert r.returncode == 1 and "No module named 'starlette'" in r.stderr
    code = "import sys; sys.path[:0] = [sys.argv[1]]; import sigstore"
    r = subprocess.run(
        [sys.executable, "-S", "-c", code, str(client_site)], capture_output=True, text=True
    )
    assert r.returncode == 1 and "No module named 'sigstore'" in r.stderr


def test_interactive_login_and_sigstore_backend_say_what_to_install(
    client_site: Path, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path, "login-pkg", "1.0")
    env = {k: v for k, v in os.environ.items() if k not in ("SIGSTORE_ID_TOKEN", "CI")}
    r = client(client_site, "sign", "--staging", "--interactive", str(wheel), env=env)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.strip().endswith(
        "the interactive browser login needs sigstore-python: pip install 'attestkit[login]'"
    ), r.stderr
    dist = DATA / "pypi_attestations-0.0.19.tar.gz"
    r = client(
        client_site,
        "verify", "attestation", "--backend", "sigstore",
        "--repository", "https://github.com/trailofbits/pypi-attestations",
        str(dist),
    )  # fmt: skip
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stdout.strip().endswith(
        "--backend sigstore needs sigstore-python: pip install 'attestkit[login]'"
    ), r.stdout


@pytest.mark.parametrize(
    "command", [["serve"], ["sigstore", "serve", "--dev"], ["index", "user", "list"]]
)
def test_server_commands_say_what_to_install(client_site: Path, command: list[str]) -> None:
    r = client(client_site, *command)
    assert r.returncode == 2, r.stdout + r.stderr
    [line] = r.stderr.splitlines()
    assert line.startswith(
        f"attestkit {command[0]}: error: the server components are not installed"
    )
    assert line.endswith("pip install 'attestkit[server]'")


def test_inspect_and_verify_real_pypi_attestations(client_site: Path) -> None:
    dist = DATA / "pypi_attestations-0.0.19.tar.gz"
    r = client(client_site, "inspect", f"{dist}.publish.attestation")
    assert r.returncode == 0, r.stderr
    r = client(
        client_site,
        "verify", "attestation",
        "--repository", "https://github.com/trailofbits/pypi-attestations",
        str(dist),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("OK ")


@pytest.fixture(scope="module")
def dev_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(["serve", "--dev"], tmp_path_factory.mktemp("client") / "data")
    d = str(server.data_dir)
    assert ak("index", "--data-dir", d, "user", "add", "alice").returncode == 0
    r = ak(
        "index", "--data-dir", d, "publisher", "add", "--pending", "client-pkg",
        "--owner", "alice", "--github", "octo/client", "--workflow", "release.yml",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    yield server
    server.stop()


def test_publish_and_verify_without_the_server_extra(
    client_site: Path, dev_index: ServerProcess, tmp_path: Path
) -> None:
    """Trusted Publishing exchange, signing, upload and verification: all client side."""
    r = ak(
        "sigstore", "token", "--data-dir", str(dev_index.data_dir / "sigstore"),
        "--url", dev_index.url, "--github", "octo/client", "--workflow", "release.yml",
        "--ref", "refs/tags/v1", "--print-env",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "GITLAB_", "ACTIONS_", "CI")) and not k.endswith("_TOKEN")
    }
    for line in r.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0]
    wheel = make_wheel(tmp_path, "client-pkg", "1.0")
    r = client(
        client_site,
        "publish", "--repository-url", f"{dev_index.url}/legacy/", "--local", dev_index.url,
        str(wheel),
        env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    trust = tmp_path / "trust.json"
    r = ak("sigstore", "trust-config", "--data-dir", str(dev_index.data_dir / "sigstore"),
           "-o", str(trust))  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = client(
        client_site,
        "verify", "attestation", "--trust-config", str(trust),
        "--repository", "https://github.com/octo/client", "--workflow", "release.yml",
        str(wheel),
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
