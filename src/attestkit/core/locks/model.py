"""What every lock format is read into: pinned files, expected identities, unverifiable entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["STRONG_HASHES", "Lock", "LockedFile", "Unverifiable", "check_hashes"]

#: Hash algorithms a pin may use (pip's ``STRONG_HASHES``; uv and PEP 751 recommend sha256).
STRONG_HASHES = ("sha256", "sha384", "sha512")
_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}


@dataclass(frozen=True)
class LockedFile:
    """One pinned distribution file.

    ``filename`` may be ``None`` when only a hash pins the file (a requirements
    line ``name==1.0 --hash=...``): the file is then found on the index by hash.
    ``hashes`` maps algorithm -> lowercase hex; a file matches if *any* of them does.
    """

    project: str  # PEP 503-normalised
    version: str | None
    filename: str | None
    hashes: dict[str, tuple[str, ...]]
    url: str | None = None
    index: str | None = None
    size: int | None = None
    where: str = ""  # e.g. "pylock.toml: packages[3].wheels[0]"

    @property
    def sha256(self) -> tuple[str, ...]:
        return self.hashes.get("sha256", ())

    def matches(self, hashes: dict[str, str]) -> bool:
        """Whether an index file with ``hashes`` is this pinned file."""
        return any(
            hashes.get(alg, "").lower() in values for alg, values in self.hashes.items() if values
        )


@dataclass(frozen=True)
class Unverifiable:
    """A lock entry that names no index file (VCS, local directory or path)."""

    project: str
    reason: str
    where: str = ""


@dataclass
class Lock:
    """A parsed lock: its files, per-project expected identities and what cannot be checked."""

    source: str
    format: str
    files: list[LockedFile] = field(default_factory=list)
    identities: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    unverifiable: list[Unverifiable] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def projects(self) -> list[str]:
        seen = dict.fromkeys(f.project for f in self.files)
        return list(seen)


def check_hashes(raw: dict[str, Any], where: str) -> dict[str, tuple[str, ...]]:
    """Validate ``{alg: hex}`` from a lock: strong algorithms only, hex of the right length."""
    from attestkit.errors import InputError

    out: dict[str, tuple[str, ...]] = {}
    for alg, value in raw.items():
        alg_l = str(alg).lower()
        if not isinstance(value, str):
            raise InputError(f"{where}: hash {alg!r} is not a string")
        if alg_l not in _HEX_LENGTH:
            continue  # a weak or unknown algorithm is not a pin (pip refuses md5 too)
        hex_l = value.lower()
        if len(hex_l) != _HEX_LENGTH[alg_l] or any(c not in "0123456789abcdef" for c in hex_l):
            raise InputError(
                f"{where}: {alg_l} hash {value!r} is not {_HEX_LENGTH[alg_l]} hex digits"
            )
        out[alg_l] = (*out.get(alg_l, ()), hex_l)
    if not out:
        raise InputError(f"{where}: no sha256, sha384 or sha512 hash")
    return out
