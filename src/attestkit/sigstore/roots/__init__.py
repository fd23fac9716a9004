"""Sigstore's public-good and staging trust roots and signing configs, shipped as package data."""

from __future__ import annotations

from importlib.resources import files
from typing import Literal

__all__ = ["INSTANCES", "read"]

_FILES = ("trusted_root.json", "signing_config.v0.2.json")

Instance = Literal["public-good", "staging"]
#: Instance directory -> the TUF repository its files come from.
INSTANCES: dict[str, str] = {
    "public-good": "https://tuf-repo-cdn.sigstore.dev",
    "staging": "https://tuf-repo-cdn.sigstage.dev",
}


def read(instance: Instance, filename: str = "trusted_root.json") -> bytes:
    """The bytes of ``filename`` (``trusted_root.json`` or ``signing_config.v0.2.json``)."""
    if instance not in INSTANCES or filename not in (
        "trusted_root.json",
        "signing_config.v0.2.json",
    ):
        raise ValueError(f"no shipped {filename!r} for {instance!r}")
    return files(__name__).joinpath(instance, filename).read_bytes()
