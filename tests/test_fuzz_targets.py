"""The atheris targets (``fuzz/parsers.py``) on hypothesis-generated inputs, bounded, in CI.

Each target may succeed or refuse with an ``AttestkitError``; anything else is a crash.
Inputs: random bytes, and mutations of real inputs (an attestation, a provenance
object, a wheel, a pylock.toml) with a few bytes flipped, cut or repeated.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.parsers import TARGETS, one_input
from tests.conftest import DATA, SDIST
from tests.fixtures.readside import WHEEL

SEEDS = [
    (DATA / f"{SDIST}.publish.attestation").read_bytes(),
    (DATA / f"{SDIST}.provenance").read_bytes(),
    WHEEL.read_bytes(),
    b"lock-version = '1.0'\ncreated-by = 'x'\n[[packages]]\nname = 'a'\nversion = '1'\n",
]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "cut", "repeat"]))
        if op == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 64))] * draw(st.integers(2, 50))
    return bytes(data)


@pytest.mark.parametrize("target", range(len(TARGETS)), ids=[t.__name__ for t in TARGETS])
@SETTINGS
@given(data=st.binary(max_size=512) | mutated())
def test_every_target_refuses_cleanly(target: int, data: bytes) -> None:
    one_input(bytes([target]) + data)
