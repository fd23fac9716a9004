"""The install policy's pure parts: identity matching, the policy file, the pins file."""

from __future__ import annotations

from pathlib import Path

import pytest

from attestkit.core.install_policy import Evidence, Pins, Policy, identity_matches, judge
from attestkit.errors import InputError

PUBLISHER = {"kind": "GitHub", "repository": "o/r", "workflow": "release.yml", "environment": None}


def test_identity_matching_is_pep751s_rule() -> None:
    assert identity_matches({"kind": "GitHub"}, PUBLISHER)
    assert identity_matches({"kind": "GitHub", "repository": "o/r", "environment": None}, PUBLISHER)
    assert not identity_matches({"kind": "GitLab", "repository": "o/r"}, PUBLISHER)
    assert not identity_matches({"kind": "GitHub", "repository": "O/R"}, PUBLISHER)  # exact
    assert not identity_matches({"kind": "GitHub", "environment": "pypi"}, PUBLISHER)


def test_policy_file_refuses_what_it_does_not_know(tmp_path: Path) -> None:
    path = tmp_path / "attestkit.toml"
    path.write_text("[policy]\ndefault = 'tofu'\n[policy.projects.x]\nmod = 'require'\n")
    with pytest.raises(InputError, match=r"attestkit\.toml: policy\.projects\.x has no key 'mod'"):
        Policy.load(path)
    path.write_text("[policy.projects.x]\npublishers = [{ repository = 'o/r' }]\n")
    with pytest.raises(InputError, match="must be a table with a string 'kind'"):
        Policy.load(path)


def test_pins_round_trip_atomically(tmp_path: Path) -> None:
    pins = Pins.load(tmp_path / "pins.toml")
    assert pins.projects == {}
    pins.record("my-project", [PUBLISHER, PUBLISHER], "1.0")
    pins.save()
    again = Pins.load(tmp_path / "pins.toml")
    (pin,) = again.projects.values()
    assert pin.publishers == ({"kind": "GitHub", "repository": "o/r", "workflow": "release.yml"},)
    assert pin.version == "1.0"
    assert [p.name for p in tmp_path.iterdir()] == ["pins.toml"]  # no temporary file left


def test_a_broken_signature_fails_in_every_mode_but_off() -> None:
    evidence = Evidence("x", "1", "x-1.tar.gz", "failed", (), "signature mismatch")
    for mode in ("require", "tofu", "warn"):
        policy = Policy.from_dict({"default": mode})
        assert judge(evidence, policy).level == "fail"
    assert judge(evidence, Policy.from_dict({"default": "off"})).level == "skip"


def test_a_simulated_identity_is_named_as_such() -> None:
    evidence = Evidence("x", "1", "x-1.tar.gz", "verified", (PUBLISHER,), simulated=True)
    verdict = judge(evidence, Policy())
    assert verdict.level == "ok"
    assert verdict.message == (
        "GitHub o/r workflow release.yml [SIMULATED identity: development instance]"
    )
