"""Fulcio's claim templates (its ``config/identity/config.yaml``).

They render a token's claims into a certificate's SAN and extensions.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from attestkit.core.providers.base import Template

if TYPE_CHECKING:
    pass


class _MissingClaimError(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _render_value(value: object) -> str:
    """A claim as a string: numbers as integers (not Go's ``%!s(float64=1)``), JSON else."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, separators=(",", ":"))


class _Lookup:
    """Template data: the token's claims over the provider's defaults (claims win)."""

    def __init__(self, claims: Mapping[str, Any], defaults: Mapping[str, str]) -> None:
        self._data = dict(defaults)
        self._data.update({k: _render_value(v) for k, v in claims.items()})

    def required(self, name: str) -> str:
        """``{{ .name }}`` with ``missingkey=error``."""
        try:
            return self._data[name]
        except KeyError:
            raise _MissingClaimError(name) from None

    def optional(self, name: str) -> str:
        """``{{ index . "name" }}``: empty when missing."""
        return self._data.get(name, "")


class _Formatter(string.Formatter):
    """``{claim}`` is required, ``{?claim}`` optional; field names are whole claim names."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        lookup: _Lookup = kwargs["lookup"]
        if field_name.startswith("?"):
            return lookup.optional(field_name[1:]), field_name
        return lookup.required(field_name), field_name


_FORMATTER = _Formatter()


def _apply(template: Template, lookup: _Lookup) -> str:
    if callable(template):
        return template(lookup)
    if "{" in template:
        return _FORMATTER.format(template, lookup=lookup)
    return lookup.required(template)
