"""Python distribution files: filename rules, equivalence and SHA-256 digests.

A :class:`Distribution` is what an attestation's statement is about: a wheel or
sdist filename plus the SHA-256 of its bytes.  Filenames are parsed with
``packaging``'s wheel/sdist rules, the same ones PyPI uses; two names are
*equivalent* when their parsed components are equal (PyPI's rule: tags compare
as a set, versions by value, sdist archive format ignored).

>>> d = Distribution("pkg-1.0-py3-none-any.whl", "ab" * 32)
>>> d.equivalent_name("pkg-1.0.0-py3-none-any.whl")
True
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attestkit.errors import InputError

__all__ = ["Distribution", "DistributionName", "is_distribution_filename", "parse_filename"]

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class DistributionName:
    """The parsed components of a distribution filename that PyPI compares."""

    kind: str  # "wheel" or "sdist"
    name: str  # canonicalized project name
    version: Any  # packaging.version.Version (typed loosely to keep packaging lazy)
    build: tuple[int, str] | tuple[()]
    tags: frozenset[Any]


def is_distribution_filename(filename: str) -> bool:
    """True if ``filename`` has a distribution suffix (``.whl``, ``.tar.gz``, ``.zip``)."""
    return filename.endswith((".whl", ".tar.gz", ".zip"))


def parse_filename(filename: str) -> DistributionName:
    """Parse a wheel or sdist filename, or raise :class:`InputError` with packaging's reason."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    if "/" in filename or "\\" in filename:
        raise InputError(f"invalid distribution filename {filename!r}: contains a path separator")
    try:
        if filename.endswith(".whl"):
            name, version, build, tags = parse_wheel_filename(filename)
            return DistributionName("wheel", name, version, build, tags)
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return DistributionName("sdist", name, version, (), frozenset())
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise InputError(f"invalid distribution filename: {exc}") from None
    raise InputError(f"unknown distribution format: {filename!r} (expected .whl, .tar.gz or .zip)")


@dataclass(frozen=True, slots=True)
class Distribution:
    """A distribution file by name and SHA-256 digest (64 hex digits, any case).

    The digest is stored lower-cased; comparisons are therefore case-insensitive.
    """

    name: str
    digest: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InputError("distribution name must be a non-empty string")
        parse_filename(self.name)
        if not isinstance(self.digest, str) or not _HEX64.fullmatch(self.digest):
            raise InputError(f"invalid SHA-256 digest for {self.name}: expected 64 hex digits")
        object.__setattr__(self, "digest", self.digest.lower())

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Distribution:
        """Hash a distribution file (streamed) and name it by its basename."""
        p = Path(path)
        name = p.name
        if not is_distribution_filename(name):
            parse_filename(name)  # raises the precise reason
        h = hashlib.sha256()
        try:
            with p.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    h.update(chunk)
        except OSError as exc:
            from attestkit.core.encoding import file_error

            raise file_error(exc, path) from None
        try:
            return cls(name, h.hexdigest())
        except InputError as exc:
            raise exc.with_source(str(path)) from None

    @property
    def parsed(self) -> DistributionName:
        """The parsed filename components."""
        return parse_filename(self.name)

    def equivalent_name(self, other: str) -> bool:
        """PyPI's name equivalence: parsed components equal (raises on an invalid ``other``)."""
        return parse_filename(other) == self.parsed

    def matches_digest(self, hexdigest: str) -> bool:
        """Case-insensitive SHA-256 comparison; False for anything that is not 64 hex digits."""
        return bool(_HEX64.fullmatch(hexdigest)) and hexdigest.lower() == self.digest
