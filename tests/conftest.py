"""Shared fixtures: paths to the real PyPI attestations copied into tests/data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

#: Fixtures every test directory may use (real servers, the CLI runner).
pytest_plugins = [
    "tests.fixtures.cli_runner",
    "tests.fixtures.index_server",
    "tests.fixtures.local_sigstore",
    "tests.fixtures.locks",
    "tests.fixtures.s3_server",
]

DATA = Path(__file__).parent / "data"

SDIST = "pypi_attestations-0.0.19.tar.gz"
GITLAB_SDIST = "gitlab_oidc_project-0.0.3.tar.gz"
STAGING_WHEEL = "rfc8785-0.1.2-py3-none-any.whl"

GITHUB_REPO = "trailofbits/pypi-attestations"
GITLAB_REPO = "facutuesca/gitlab-oidc-project"
STAGING_EMAIL = "william@yossarian.net"
STAGING_ISSUER = "https://github.com/login/oauth"


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of tests/data (tests may tamper with it)."""
    dest = tmp_path / "data"
    shutil.copytree(DATA, dest)
    for p in dest.iterdir():
        p.chmod(0o644)
    return dest


@pytest.fixture(scope="session")
def local_sigstore(tmp_path_factory: pytest.TempPathFactory):
    """One real local Sigstore server process shared by the whole session."""
    from tests.fixtures.local_sigstore import start_instance

    inst = start_instance(tmp_path_factory.mktemp("local-sigstore"))
    yield inst
    inst.stop()
