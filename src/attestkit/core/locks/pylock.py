"""PEP 751 ``pylock.toml``: pinned wheels and sdists, and ``[[packages.attestation-identities]]``.

Follows the PyPA specification (packaging.python.org ``specifications/pylock-toml``):
``lock-version`` must be ``1.x`` (a higher minor is read with a warning, another
major refused); a file's name is its ``name`` key, else the last component of
its ``path`` or ``url`` (the path wins); ``hashes`` is a table of
algorithm -> hex and is required.  ``vcs`` and ``directory`` entries name no
index file and are reported as unverifiable.  Markers are not evaluated: a
lock is verified whole, so the verdict does not depend on the machine that
checks it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

from attestkit.core.locks.model import Lock, LockedFile, Unverifiable, check_hashes
from attestkit.errors import InputError

__all__ = ["is_pylock_name", "parse_pylock"]

_NAME = re.compile(r"^pylock\.([^.]+)\.toml$")


def is_pylock_name(name: str) -> bool:
    """``pylock.toml`` or ``pylock.<name>.toml`` (the spec's file-name rule)."""
    return name == "pylock.toml" or bool(_NAME.match(name))


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"{where} must be a table")
    return value


def _string(table: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = table.get(key)
    if value is None:
        if required:
            raise InputError(f"{where}: missing required key {key!r}")
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}.{key} must be a string")
    return value


def _filename(entry: dict[str, Any], where: str) -> tuple[str, str | None]:
    name = _string(entry, "name", where)
    path = _string(entry, "path", where)
    url = _string(entry, "url", where)
    if not (path or url):
        raise InputError(f"{where}: needs 'url' or 'path'")
    if name:
        return name, url
    source = path if path else urlsplit(url or "").path
    last = unquote(source.replace("\\", "/").rstrip("/").rpartition("/")[2])
    if not last:
        raise InputError(f"{where}: cannot tell the file name from {path or url!r}")
    return last, url


def parse_pylock(text: str, *, source: str = "pylock.toml") -> Lock:
    """Parse a ``pylock.toml`` document."""
    import tomllib

    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source}: not valid TOML: {exc}") from None
    lock = Lock(source=source, format="pylock")
    version_text = _string(doc, "lock-version", source, required=True)
    assert version_text is not None
    try:
        lock_version = Version(version_text)
    except InvalidVersion:
        raise InputError(f"{source}: lock-version {version_text!r} is not a version") from None
    if lock_version.major != 1:
        raise InputError(f"{source}: lock-version {version_text} is not supported (only 1.x)")
    if lock_version > Version("1.0"):
        lock.warnings.append(
            f"{source}: lock-version {version_text} is newer than 1.0; unknown keys ignored"
        )
    _string(doc, "created-by", source, required=True)
    packages = doc.get("packages", [])
    if not isinstance(packages, list):
        raise InputError(f"{source}: 'packages' must be an array of tables")
    for i, raw in enumerate(packages):
        where = f"packages[{i}]"
        pkg = _table(raw, where)
        name = _string(pkg, "name", where, required=True)
        assert name is not None
        project = canonicalize_name(name)
        version = _string(pkg, "version", where)
        index = _string(pkg, "index", where)
        if index and index not in lock.indexes:
            lock.indexes.append(index)
        identities = pkg.get("attestation-identities")
        if identities is not None:
            if not isinstance(identities, list):
                raise InputError(
                    f"{source}: {where}.attestation-identities must be an array of tables"
                )
            for j, ident in enumerate(identities):
                ident_t = _table(ident, f"{where}.attestation-identities[{j}]")
                _string(ident_t, "kind", f"{where}.attestation-identities[{j}]", required=True)
                lock.identities.setdefault(project, []).append(dict(ident_t))
        if "vcs" in pkg or "directory" in pkg:
            kind = "vcs" if "vcs" in pkg else "directory"
            lock.unverifiable.append(
                Unverifiable(project, f"a {kind} source has no index file to attest", where)
            )
            continue
        entries: list[tuple[str, dict[str, Any]]] = []
        if "archive" in pkg:
            entries.append((f"{where}.archive", _table(pkg["archive"], f"{where}.archive")))
        if "sdist" in pkg:
            entries.append((f"{where}.sdist", _table(pkg["sdist"], f"{where}.sdist")))
        wheels = pkg.get("wheels", [])
        if not isinstance(wheels, list):
            raise InputError(f"{source}: {where}.wheels must be an array of tables")
        for k, wheel in enumerate(wheels):
            entries.append((f"{where}.wheels[{k}]", _table(wheel, f"{where}.wheels[{k}]")))
        if not entries:
            lock.unverifiable.append(
                Unverifiable(project, "no sdist, wheel or archive listed", where)
            )
        for entry_where, entry in entries:
            filename, url = _filename(entry, entry_where)
            hashes = entry.get("hashes")
            if not isinstance(hashes, dict):
                raise InputError(f"{source}: {entry_where}: missing required table 'hashes'")
            size = entry.get("size")
            lock.files.append(
                LockedFile(
                    project=project,
                    version=version,
                    filename=filename,
                    hashes=check_hashes(hashes, f"{source}: {entry_where}"),
                    url=url,
                    index=index,
                    size=size if isinstance(size, int) else None,
                    where=entry_where,
                )
            )
    return lock
