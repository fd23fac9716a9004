"""The one reader of untrusted JSON, and the number readers (hardening row 3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attestkit.core.encoding import (
    MAX_JSON_DEPTH,
    MAX_TIMESTAMP,
    ascii_int,
    loads_json,
    plausible_time,
)
from attestkit.errors import InputError


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ("[" * 1000 + "]" * 1000, "nested too deeply"),
        ("[" * 200_000, "nested too deeply"),
        ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), "nested more than"),
        ('{"a": NaN}', "NaN is not JSON"),
        ("[Infinity]", "Infinity is not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        ("{", "not valid JSON (line 1"),
    ],
)
def test_bad_json_is_a_one_line_input_error(data: str | bytes, fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        loads_json(data, what="the body")
    assert fragment in caught.value.reason and "\n" not in caught.value.reason


def test_the_size_limit_is_checked_before_parsing() -> None:
    with pytest.raises(InputError, match="larger than 10 bytes"):
        loads_json(b"[" + b"1," * 100 + b"1]", max_bytes=10)
    depth = MAX_JSON_DEPTH
    assert loads_json("[" * depth + "]" * depth) is not None


@given(st.text(max_size=30))
def test_ascii_int_accepts_exactly_ascii_digits(value: str) -> None:
    parsed = ascii_int(value)
    if value and len(value) <= 18 and all("0" <= c <= "9" for c in value):
        assert parsed == int(value)
    else:
        assert parsed is None


@pytest.mark.parametrize(
    ("value", "ok"),
    [(0, True), (1_700_000_000, True), (MAX_TIMESTAMP, True), (MAX_TIMESTAMP + 1, False),
     (10**20, False), (-1, False), (True, False), ("1", False), (1.5, True)],
)  # fmt: skip
def test_plausible_time(value: object, ok: bool) -> None:
    assert (plausible_time(value) is not None) is ok
