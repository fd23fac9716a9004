"""``uv.lock``: registry packages' sdists and wheels with their ``sha256:`` hashes.

Schema version 1 (uv's ``crates/uv-resolver/src/lock/mod.rs``); a higher
``version`` is refused as uv itself does.  Each file carries one
``"<alg>:<hex>"`` hash; its name comes from ``filename`` or the last URL
component.  Git, path, directory, editable and virtual sources name no index
file.  uv.lock records no attestation identity.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from attestkit.core.locks.model import Lock, LockedFile, Unverifiable, check_hashes
from attestkit.errors import InputError

__all__ = ["parse_uv_lock"]

SUPPORTED_VERSION = 1


def _hash(value: object, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, str) or ":" not in value:
        raise InputError(f"{where}: hash must be '<algorithm>:<hex>'")
    alg, _, hex_value = value.partition(":")
    return check_hashes({alg: hex_value}, where)


def _name(entry: dict[str, Any], where: str) -> tuple[str, str | None]:
    url = entry.get("url")
    filename = entry.get("filename")
    if isinstance(filename, str) and filename:
        return filename, url if isinstance(url, str) else None
    location = url if isinstance(url, str) else entry.get("path")
    if not isinstance(location, str) or not location:
        raise InputError(f"{where}: needs 'url', 'path' or 'filename'")
    path = urlsplit(location).path if isinstance(url, str) else location
    return unquote(path.rstrip("/").rpartition("/")[2]), url if isinstance(url, str) else None


def parse_uv_lock(text: str, *, source: str = "uv.lock") -> Lock:
    """Parse a ``uv.lock`` document."""
    import tomllib

    from packaging.utils import canonicalize_name

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source}: not valid TOML: {exc}") from None
    version = doc.get("version")
    if version != SUPPORTED_VERSION:
        raise InputError(
            f"{source}: unsupported lockfile schema version ({version!r}; only {SUPPORTED_VERSION})"
        )
    lock = Lock(source=source, format="uv.lock")
    packages = doc.get("package", [])
    if not isinstance(packages, list):
        raise InputError(f"{source}: 'package' must be an array of tables")
    for i, pkg in enumerate(packages):
        where = f"package[{i}]"
        if not isinstance(pkg, dict) or not isinstance(pkg.get("name"), str):
            raise InputError(f"{source}: {where} needs a string 'name'")
        project = canonicalize_name(pkg["name"])
        pkg_version = pkg.get("version") if isinstance(pkg.get("version"), str) else None
        src = pkg.get("source", {})
        registry = src.get("registry") if isinstance(src, dict) else None
        if not isinstance(registry, str):
            kind = next(iter(src), "unknown") if isinstance(src, dict) and src else "unknown"
            lock.unverifiable.append(
                Unverifiable(project, f"a {kind} source has no index file to attest", where)
            )
            continue
        if registry not in lock.indexes:
            lock.indexes.append(registry)
        entries: list[tuple[str, dict[str, Any]]] = []
        if isinstance(pkg.get("sdist"), dict):
            entries.append((f"{where}.sdist", pkg["sdist"]))
        for k, wheel in enumerate(pkg.get("wheels", []) or []):
            if isinstance(wheel, dict):
                entries.append((f"{where}.wheels[{k}]", wheel))
        for entry_where, entry in entries:
            filename, url = _name(entry, f"{source}: {entry_where}")
            lock.files.append(
                LockedFile(
                    project=project,
                    version=pkg_version,
                    filename=filename,
                    hashes=_hash(entry.get("hash"), f"{source}: {entry_where}"),
                    url=url,
                    index=registry,
                    size=entry.get("size") if isinstance(entry.get("size"), int) else None,
                    where=entry_where,
                )
            )
    return lock
