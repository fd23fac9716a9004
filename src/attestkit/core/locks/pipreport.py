"""pip's installation report (``pip install --dry-run --report FILE``): what pip would install.

Format: pip's ``docs/html/reference/installation-report.md`` (version "1"):
``install[]`` items with ``metadata.name``/``metadata.version`` and
``download_info`` (``url`` plus ``archive_info.hashes``, PEP 610's
``direct_url.json`` layout).  Entries from a VCS or a local directory
(``vcs_info``, ``dir_info``) name no index file.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from attestkit.core.locks.model import Lock, LockedFile, Unverifiable, check_hashes
from attestkit.errors import InputError

__all__ = ["parse_pip_report"]


def parse_pip_report(text: str, *, source: str = "report.json") -> Lock:
    """Parse a pip installation report."""
    from packaging.utils import canonicalize_name

    from attestkit.core.encoding import loads_json

    doc = loads_json(text, what=source)
    if not isinstance(doc, dict) or not isinstance(doc.get("install"), list):
        raise InputError(f"{source}: not a pip installation report (no 'install' array)")
    if str(doc.get("version", "1")).split(".")[0] != "1":
        raise InputError(
            f"{source}: report version {doc.get('version')!r} is not supported (only 1)"
        )
    lock = Lock(source=source, format="pip-report")
    for i, item in enumerate(doc["install"]):
        where = f"install[{i}]"
        if not isinstance(item, dict):
            raise InputError(f"{source}: {where} is not an object")
        metadata: dict[str, Any] = item.get("metadata") or {}
        name = metadata.get("name")
        if not isinstance(name, str):
            raise InputError(f"{source}: {where}.metadata.name is missing")
        project = canonicalize_name(name)
        info: dict[str, Any] = item.get("download_info") or {}
        url = info.get("url")
        archive = info.get("archive_info")
        if not isinstance(url, str) or not isinstance(archive, dict):
            kind = "vcs" if "vcs_info" in info else "directory" if "dir_info" in info else "unknown"
            lock.unverifiable.append(
                Unverifiable(project, f"a {kind} source has no index file", where)
            )
            continue
        hashes = archive.get("hashes")
        if not isinstance(hashes, dict):
            legacy = archive.get("hash")
            if isinstance(legacy, str) and "=" in legacy:
                alg, _, value = legacy.partition("=")
                hashes = {alg: value}
            else:
                raise InputError(f"{source}: {where}.download_info.archive_info has no hashes")
        filename = unquote(urlsplit(url).path.rpartition("/")[2])
        version = metadata.get("version")
        lock.files.append(
            LockedFile(
                project=project,
                version=version if isinstance(version, str) else None,
                filename=filename,
                hashes=check_hashes(hashes, f"{source}: {where}"),
                url=url,
                where=where,
            )
        )
    return lock
