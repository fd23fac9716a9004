"""pip requirements files pinned with ``--hash`` (pip-compile and ``uv pip compile`` output).

Read the way pip reads them (``pip/_internal/req/req_file.py``): an unescaped
trailing backslash continues a line, comments (``#`` at the start or after
whitespace) are stripped after joining, ``${UPPER_VAR}`` is expanded from the
environment, ``-r``/``--requirement`` includes are read relative to the
including file, and ``-i``/``--index-url``/``--extra-index-url`` name the
indexes.  ``--hash=<alg>:<hex>`` is repeatable per requirement; only sha256,
sha384 and sha512 are accepted, as pip does.  A requirement is pinned when it
has an exact version (``==``/``===``) or a URL, and at least one hash.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from attestkit.core.locks.model import Lock, LockedFile, Unverifiable, check_hashes
from attestkit.errors import InputError

__all__ = ["parse_requirements", "parse_requirements_text"]

_COMMENT = re.compile(r"(^|\s+)#.*$")
_ENV_VAR = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)\}")
_MAX_DEPTH = 20
_HASH_OPTION = "--hash"
_ALLOWED = "allowed hash algorithms for --hash are sha256, sha384, sha512"
_IGNORED_WITH_VALUE = {
    "-c",
    "--constraint",
    "-f",
    "--find-links",
    "--no-binary",
    "--only-binary",
    "--trusted-host",
    "--use-feature",
    "--config-settings",
}


def _logical_lines(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    buffer: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not buffer:
            start = number
        if line.endswith("\\") and not line.endswith("\\\\"):
            buffer.append(line[:-1])
            continue
        buffer.append(line)
        joined = _COMMENT.sub("", "".join(buffer)).strip()
        buffer = []
        if joined:
            out.append((start, _ENV_VAR.sub(lambda m: os.environ.get(m["name"], m[0]), joined)))
    if buffer:
        joined = _COMMENT.sub("", "".join(buffer)).strip()
        if joined:
            out.append((start, joined))
    return out


def parse_requirements(path: Path) -> Lock:
    """Parse a requirements file (and its ``-r`` includes)."""
    lock = Lock(source=str(path), format="requirements")
    _read(path, lock, depth=0, seen=set())
    return lock


def parse_requirements_text(text: str, *, source: str = "requirements.txt") -> Lock:
    """Parse requirements text that has no includes (tests, standard input)."""
    lock = Lock(source=source, format="requirements")
    _parse(text, source, None, lock, depth=0, seen=set())
    return lock


def _read(path: Path, lock: Lock, depth: int, seen: set[Path]) -> None:
    from attestkit.core.encoding import read_bytes

    resolved = path.resolve()
    if resolved in seen:
        return
    seen.add(resolved)
    try:
        text = read_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    _parse(text, str(path), path.parent, lock, depth, seen)


def _parse(
    text: str, source: str, base: Path | None, lock: Lock, depth: int, seen: set[Path]
) -> None:
    if depth > _MAX_DEPTH:
        raise InputError(f"{source}: requirement files nested more than {_MAX_DEPTH} deep")
    for number, line in _logical_lines(text):
        where = f"{source}:{number}"
        try:
            tokens = shlex.split(line, posix=True)
        except ValueError as exc:
            raise InputError(f"{where}: cannot split the line: {exc}") from None
        if not tokens:
            continue
        head = tokens[0]
        if head.startswith("-") and not head.startswith("--hash"):
            _option(tokens, where, base, lock, depth, seen)
            continue
        _requirement(tokens, where, lock)


def _option_value(tokens: list[str], where: str) -> str:
    head = tokens[0]
    if "=" in head and head.startswith("--"):
        return head.partition("=")[2]
    if head.startswith("-") and not head.startswith("--") and len(head) > 2:
        return head[2:]
    if len(tokens) < 2:
        raise InputError(f"{where}: {head} needs a value")
    return tokens[1]


def _option(
    tokens: list[str], where: str, base: Path | None, lock: Lock, depth: int, seen: set[Path]
) -> None:
    head = tokens[0].partition("=")[0]
    if head.startswith("-") and not head.startswith("--") and len(head) > 2:
        head = head[:2]
    if head in ("-r", "--requirement"):
        target = _option_value(tokens, where)
        if "://" in target:
            raise InputError(f"{where}: remote requirement files are not read ({target})")
        if base is None:
            raise InputError(f"{where}: -r {target}: includes need a file, not standard input")
        _read(base / target, lock, depth + 1, seen)
    elif head in ("-i", "--index-url", "--extra-index-url"):
        url = _option_value(tokens, where)
        if url not in lock.indexes:
            if head == "--extra-index-url":
                lock.indexes.append(url)
            else:
                lock.indexes.insert(0, url)  # the main index comes first
    elif head in (
        "--no-index",
        "--require-hashes",
        "--no-require-hashes",
        "--pre",
        "--prefer-binary",
    ):
        return
    elif head in _IGNORED_WITH_VALUE or head in ("-e", "--editable"):
        if head in ("-e", "--editable"):
            lock.unverifiable.append(
                Unverifiable(
                    _option_value(tokens, where), "an editable install has no index file", where
                )
            )
        return
    else:
        lock.warnings.append(f"{where}: option {head} ignored")


def _requirement(tokens: list[str], where: str, lock: Lock) -> None:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    spec_parts: list[str] = []
    raw_hashes: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("--hash="):
            raw_hashes.append(token.partition("=")[2])
        elif token == _HASH_OPTION:
            if i + 1 >= len(tokens):
                raise InputError(f"{where}: --hash needs a value")
            raw_hashes.append(tokens[i + 1])
            i += 1
        elif token.startswith("--"):
            pass  # per-requirement options such as --config-settings
        else:
            spec_parts.append(token)
        i += 1
    spec = " ".join(spec_parts)
    hashes: dict[str, tuple[str, ...]] = {}
    for raw in raw_hashes:
        alg, sep, hex_value = raw.partition(":")
        if not sep or alg.lower() not in ("sha256", "sha384", "sha512"):
            raise InputError(f"{where}: --hash {raw!r}: {_ALLOWED}")
        for key, values in check_hashes({alg: hex_value}, where).items():
            hashes[key] = (*hashes.get(key, ()), *values)
    if "://" in spec.split(";")[0] and " @ " not in spec:
        url = spec.split(";")[0].strip()
        filename = url.rpartition("/")[2].split("#")[0]
        if not hashes:
            lock.unverifiable.append(
                Unverifiable(filename, "a URL without --hash is not pinned", where)
            )
            return
        from attestkit.core.distribution import parse_filename

        parsed = parse_filename(filename)
        lock.files.append(
            LockedFile(parsed.name, str(parsed.version), filename, hashes, url=url, where=where)
        )
        return
    try:
        req = Requirement(spec)
    except InvalidRequirement as exc:
        raise InputError(f"{where}: {spec!r} is not a requirement: {exc}") from None
    project = canonicalize_name(req.name)
    if req.url:
        filename = req.url.rpartition("/")[2].split("#")[0]
        if not hashes:
            lock.unverifiable.append(
                Unverifiable(project, "a URL without --hash is not pinned", where)
            )
            return
        lock.files.append(LockedFile(project, None, filename, hashes, url=req.url, where=where))
        return
    exact = [
        s.version for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version
    ]
    if not exact or not hashes:
        missing = "an exact version (==)" if not exact else "a --hash"
        lock.unverifiable.append(Unverifiable(project, f"not pinned: needs {missing}", where))
        return
    lock.files.append(LockedFile(project, exact[0], None, hashes, where=where))
