"""CLI test helpers: run ``attestkit`` in-process or as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest

from attestkit.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run the CLI in-process and capture its output."""

    def run(*args: str) -> Result:
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse errors, --help, --version
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def run_process(*args: str, cwd: str | None = None) -> Result:
    """Run ``python -m attestkit`` as a real process."""
    proc = subprocess.run(
        [sys.executable, "-m", "attestkit", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
