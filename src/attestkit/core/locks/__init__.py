"""Lock and requirements files read as lists of pinned files (no network).

Four formats name the exact files a project is about to install, each with at
least one hash: PEP 751 ``pylock.toml``, ``uv.lock``, pip requirements files
with ``--hash`` and pip's installation report (``pip install --dry-run
--report``).  :func:`load_lock` detects the format and returns a
:class:`Lock`: the pinned files, what each package expects of its publisher
(``pylock.toml``'s ``[[packages.attestation-identities]]``), and the entries
that name no index file (VCS, local directories) and so cannot carry
provenance.
"""

from __future__ import annotations

import os
from pathlib import Path

from attestkit.core.locks.model import Lock, LockedFile, Unverifiable
from attestkit.errors import InputError

__all__ = ["Lock", "LockedFile", "Unverifiable", "detect_format", "load_lock"]

FORMATS = ("pylock", "uv.lock", "requirements", "pip-report")


def detect_format(path: str | os.PathLike[str], text: str) -> str:
    """The format of ``path`` by its name, else by its content."""
    from attestkit.core.locks.pylock import is_pylock_name

    name = Path(path).name
    if is_pylock_name(name):
        return "pylock"
    if name == "uv.lock":
        return "uv.lock"
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return "pip-report"
    if "lock-version" in text and "[[packages]]" in text:
        return "pylock"
    if "[[package]]" in text and "\nversion = 1" in "\n" + text:
        return "uv.lock"
    return "requirements"


def load_lock(path: str | os.PathLike[str], *, fmt: str | None = None) -> Lock:
    """Read ``path`` (any supported format, or ``fmt``) into a :class:`Lock`."""
    from attestkit.core.encoding import read_bytes

    data = read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    fmt = fmt or detect_format(path, text)
    try:
        if fmt == "pylock":
            from attestkit.core.locks.pylock import parse_pylock

            return parse_pylock(text, source=str(path))
        if fmt == "uv.lock":
            from attestkit.core.locks.uvlock import parse_uv_lock

            return parse_uv_lock(text, source=str(path))
        if fmt == "pip-report":
            from attestkit.core.locks.pipreport import parse_pip_report

            return parse_pip_report(text, source=str(path))
        if fmt == "requirements":
            from attestkit.core.locks.requirements import parse_requirements

            return parse_requirements(Path(path))
    except InputError as exc:
        if str(path) in exc.reason:
            raise
        raise InputError(f"{path}: {exc.reason}") from None
    raise InputError(f"unknown lock format {fmt!r} (expected one of {', '.join(FORMATS)})")
