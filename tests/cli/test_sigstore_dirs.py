"""One data-directory rule: `attestkit sigstore` finds the instance `attestkit serve --dev` runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.served import Served

IDENTITY = ["--github", "octo/demo", "--workflow", "release.yml", "--ref", "refs/tags/v1"]


def _token(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attestkit", "sigstore", "token", *args, *IDENTITY],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_sigstore_commands_take_the_directory_serve_uses(tmp_path: Path) -> None:
    served = Served(tmp_path / "data")
    try:
        given = _token("--data-dir", str(served.data_dir))
        assert given.returncode == 0, given.stderr
        assert given.stdout.count(".") == 2  # a JWT
        env = {k: v for k, v in os.environ.items() if k not in ("ATTESTKIT_SIGSTORE_DIR",)} | {
            "ATTESTKIT_DATA_DIR": str(served.data_dir)
        }
        from_env = _token(env=env)
        assert from_env.returncode == 0, from_env.stderr
    finally:
        served.stop()
