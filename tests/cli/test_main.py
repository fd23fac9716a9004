"""The command line as a process: entry points, help, version, exit codes."""

from __future__ import annotations

import os
import sys
from unittest import mock

from attestkit import __version__
from tests.conftest import DATA, SDIST
from tests.fixtures.cli_runner import run_process


def test_version_and_help() -> None:
    r = run_process("--version")
    assert r.code == 0 and r.out.strip() == f"attestkit {__version__}"
    r = run_process("--help")
    assert r.code == 0
    for command in ("inspect", "verify", "convert"):
        assert command in r.out


def test_help_does_not_import_heavy_modules() -> None:
    import subprocess

    code = (
        "import sys; from attestkit.cli import build_parser; build_parser();"
        "heavy = [m for m in ('cryptography', 'sigstore', 'pydantic', 'packaging') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_verify_exit_codes_as_a_process() -> None:
    ok = run_process(
        "verify",
        "attestation",
        "--repository",
        "https://github.com/trailofbits/pypi-attestations",
        str(DATA / SDIST),
    )
    assert ok.code == 0, ok
    assert ok.out.startswith(f"OK {DATA / SDIST}: 2 attestations")
    bad = run_process(
        "verify",
        "attestation",
        "--repository",
        "https://github.com/someone/else",
        str(DATA / SDIST),
    )
    assert bad.code == 1
    assert bad.out.startswith(f"FAIL {DATA / SDIST}: ")
    usage = run_process("verify", "attestation", str(DATA / SDIST))
    assert usage.code == 2 and "say who must have signed" in usage.err
    assert "Traceback" not in usage.err + bad.err + bad.out


def test_missing_command_is_usage_error() -> None:
    r = run_process()
    assert r.code == 2
    assert "Traceback" not in r.err


def test_colour_on_a_terminal_only_and_never_with_no_color(tmp_path) -> None:
    """OK/FAIL are coloured on a terminal (as twine and uv do); NO_COLOR and pipes are plain."""
    import io

    from attestkit.cli._common import say

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM")}
    with mock.patch.dict(os.environ, env, clear=True):
        tty, pipe = Terminal(), io.StringIO()
        say("OK a.whl: fine", tty)
        say("FAIL b.whl: broken", tty)
        say("OK a.whl: fine", pipe)
        assert (
            tty.getvalue()
            == "\033[1;32mOK\033[0m a.whl: fine\n\033[1;31mFAIL\033[0m b.whl: broken\n"
        )
        assert pipe.getvalue() == "OK a.whl: fine\n"
        os.environ["NO_COLOR"] = "1"
        plain = Terminal()
        say("OK a.whl: fine", plain)
        assert plain.getvalue() == "OK a.whl: fine\n"
