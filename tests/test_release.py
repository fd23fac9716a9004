"""A release people can install: the built sdist and wheel pass attestkit's own checks, and
the wheel, installed into a fresh virtual environment, runs ``--help``, ``verify`` on real
PyPI attestations and ``sign`` against a local Sigstore instance.

Built with ``uv build`` (hatchling from the package index) and installed with ``uv pip``
into a new venv, as a user would; marked slow (it resolves the dependencies once).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA, SDIST
from tests.fixtures.uploads import make_wheel

ROOT = Path(__file__).resolve().parents[1]
UV = str(Path(sys.executable).with_name("uv"))

pytestmark = pytest.mark.slow


def _run(*cmd: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGSTORE_", "GITHUB_"))}
    return subprocess.run(
        list(cmd), capture_output=True, text=True, timeout=600, cwd=cwd, env=env, check=False
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("built")
    done = _run(UV, "build", "--out-dir", str(out), str(ROOT))
    assert done.returncode == 0, done.stderr[-3000:]
    (sdist,) = out.glob("attestkit-*.tar.gz")
    (wheel,) = out.glob("attestkit-*-py3-none-any.whl")
    return sdist, wheel


def test_the_release_files_pass_attestkits_own_check(built: tuple[Path, Path]) -> None:
    done = _run(sys.executable, "-m", "attestkit", "check", *map(str, built))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("OK ") == 2


def test_the_wheel_installs_and_runs(built, local_sigstore, tmp_path: Path) -> None:
    _, wheel = built
    venv = tmp_path / "venv"
    assert _run(UV, "venv", "--python", sys.executable, str(venv)).returncode == 0
    python = venv / "bin" / "python"
    installed = _run(UV, "pip", "install", "--python", str(python), str(wheel))
    assert installed.returncode == 0, installed.stderr[-3000:]
    attestkit = str(venv / "bin" / "attestkit")

    helped = _run(attestkit, "--help")
    assert helped.returncode == 0 and "usage: attestkit" in helped.stdout

    verified = _run(attestkit, "verify", "attestation", "--repository",
                    "https://github.com/trailofbits/pypi-attestations", str(DATA / SDIST))  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("OK ")

    dist = tmp_path / "dist"
    dist.mkdir()
    target = make_wheel(dist, "demo-pkg", "1.0")
    token = local_sigstore.token(
        "--github", "octo/demo", "--workflow", "release.yml", "--ref", "refs/tags/v1"
    )
    signed = _run(attestkit, "sign", "--local", local_sigstore.url, "--identity-token", token,
                  str(target))  # fmt: skip
    assert signed.returncode == 0, signed.stdout + signed.stderr
    assert Path(f"{target}.publish.attestation").is_file()
    # It is the installed copy that ran, not the source tree.
    where = _run(str(python), "-c", "import attestkit; print(attestkit.__file__)")
    assert str(venv) in where.stdout and shutil.which("attestkit") != attestkit
