"""Property-based tests: random and mutated JSON into every parser, and into verify.

The only acceptable outcomes are success or an :class:`AttestkitError`
subclass with a one-line message; anything else (KeyError, TypeError,
UnicodeError, a cryptography exception...) is a crash and fails the test.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attestkit import Attestation, Distribution, GitHubIdentity, Provenance, Verifier
from attestkit.core.inspect import inspect_file
from attestkit.core.log_entry import LogEntry
from attestkit.core.statement import Statement
from attestkit.errors import AttestkitError
from tests.conftest import DATA, SDIST

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)

ATTESTATION = json.loads((DATA / f"{SDIST}.publish.attestation").read_text())
PROVENANCE = json.loads((DATA / f"{SDIST}.provenance").read_text())
ENTRY = ATTESTATION["verification_material"]["transparency_entries"][0]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.extend(_paths(v, (*prefix, i)))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """``base`` with one node deleted, replaced by random JSON, or a string corrupted."""
    obj = copy.deepcopy(base)
    paths = [p for p in _paths(obj) if p]
    path = draw(st.sampled_from(paths))
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    action = draw(st.sampled_from(["delete", "replace", "corrupt"]))
    if action == "delete":
        del parent[key]
    elif action == "replace":
        parent[key] = draw(json_values)
    elif isinstance(parent[key], str) and parent[key]:
        s = parent[key]
        i = draw(st.integers(0, len(s) - 1))
        parent[key] = (
            s[:i] + draw(st.sampled_from(["A", "-", "_", "=", "é", "\x00", ""])) + s[i + 1 :]
        )
    return obj


def _clean(fn, *args: Any) -> None:
    try:
        fn(*args)
    except AttestkitError as exc:
        assert "\n" not in str(exc)
        assert str(exc)


@SETTINGS
@given(json_values)
def test_random_json_into_every_parser(value: Any) -> None:
    text = json.dumps(value)
    _clean(Attestation.from_json, text)
    _clean(Provenance.from_json, text)
    _clean(LogEntry.from_dict, value)
    _clean(Statement.from_bytes, text.encode())


@SETTINGS
@given(st.binary(max_size=64))
def test_random_bytes_into_every_parser(data: bytes) -> None:
    _clean(Attestation.from_json, data)
    _clean(Provenance.from_json, data)
    _clean(Statement.from_bytes, data)


@SETTINGS
@given(mutated(ATTESTATION))
def test_mutated_attestation_parse_and_verify(obj: Any) -> None:
    dist = Distribution.from_file(DATA / SDIST)
    verifier = Verifier.production()

    def parse_and_verify() -> None:
        att = Attestation.from_dict(obj)
        verifier.verify(att, GitHubIdentity("trailofbits/pypi-attestations", "release.yml"), dist)

    _clean(parse_and_verify)


@SETTINGS
@given(mutated(PROVENANCE))
def test_mutated_provenance(obj: Any) -> None:
    _clean(Provenance.from_dict, obj)


@SETTINGS
@given(mutated(ENTRY))
def test_mutated_log_entry(obj: Any) -> None:
    _clean(LogEntry.from_dict, obj)


@pytest.mark.parametrize("base", [ATTESTATION, PROVENANCE])
def test_mutated_files_into_inspect(tmp_path, base: Any) -> None:
    @SETTINGS
    @given(mutated(base))
    def inner(obj: Any) -> None:
        path = tmp_path / "f.attestation"
        path.write_text(json.dumps(obj))
        _clean(inspect_file, path)

    inner()
