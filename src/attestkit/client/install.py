"""``attestkit install``: resolve with pip, verify every file, then install exactly those files.

pip resolves first without installing anything (``pip install --dry-run
--report``, its installation report), every file it chose is verified like a
lock file, and only when none failed does pip install them, pinned by the
SHA-256 just verified (``--require-hashes``, ``--no-deps``): what gets
installed is what was verified, and nothing is installed when a file fails.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from attestkit.core.locks import Lock
from attestkit.errors import InputError

__all__ = ["hash_pinned_requirements", "pip_install", "resolve_with_pip"]


def _pip() -> list[str]:
    return [sys.executable, "-m", "pip", "--disable-pip-version-check"]


def resolve_with_pip(pip_args: Sequence[str], workdir: Path) -> Lock:
    """What ``pip install PIP_ARGS`` would install, read from pip's installation report."""
    from attestkit.core.locks import load_lock

    report = workdir / "pip-report.json"
    command = [*_pip(), "install", "--dry-run", "--quiet", "--report", str(report), *pip_args]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not report.exists():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise InputError(f"pip could not resolve {' '.join(pip_args)}: {last}")
    return load_lock(report, fmt="pip-report")


def hash_pinned_requirements(lock: Lock) -> str:
    """A requirements file installing exactly the lock's files, each pinned by its SHA-256."""
    lines = []
    for file in lock.files:
        if not file.sha256 or file.version is None:
            raise InputError(f"{file.project}: pip reported no sha256 for {file.filename}")
        hashes = " ".join(f"--hash=sha256:{digest}" for digest in file.sha256)
        lines.append(f"{file.project}=={file.version} {hashes}")
    return "\n".join(lines) + "\n"


#: pip options that say where and how to install, passed on to the final ``pip install``.
_WITH_VALUE = frozenset(
    {"--index-url", "-i", "--extra-index-url", "--target", "-t", "--prefix", "--find-links",
     "-f", "--trusted-host", "--root"}
)  # fmt: skip
_FLAGS = frozenset({"--user", "--no-index", "--quiet", "-q"})


def pip_install(lock: Lock, pip_args: Sequence[str]) -> int:
    """Install the lock's files by hash; pip's exit code."""
    with tempfile.TemporaryDirectory(prefix="attestkit-install-") as tmp:
        requirements = Path(tmp) / "verified.txt"
        requirements.write_text(hash_pinned_requirements(lock))
        command = [
            *_pip(), "install", "--no-deps", "--require-hashes", "-r", str(requirements),
            *_pass_through(pip_args),
        ]  # fmt: skip
        return subprocess.run(command, check=False).returncode


def _pass_through(pip_args: Sequence[str]) -> list[str]:
    """The options of ``pip_args`` (with their values) that say where and how to install."""
    out: list[str] = []
    args = list(pip_args)
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        if name in _FLAGS:
            out.append(arg)
        elif name in _WITH_VALUE:
            out.append(arg)
            if "=" not in arg and i + 1 < len(args):
                out.append(args[i + 1])
                i += 1
        i += 1
    return out
