"""The mirror's trust-on-first-use rules (no I/O): baseline, changed and lost provenance."""

from __future__ import annotations

from typing import Any

import pytest

from attestkit.core.install_policy import Evidence, Policy, Status
from attestkit.index.mirror.verdicts import Candidate, Decision, baseline_of, decide

A = {"kind": "GitHub", "repository": "octo/pkg", "workflow": "release.yml", "environment": None}
B = {"kind": "GitHub", "repository": "evil/fork", "workflow": "release.yml", "environment": None}
G = {"kind": "GitLab", "repository": "group/pkg", "workflow_filepath": ".gitlab-ci.yml"}


def cand(version: str, publisher: dict[str, Any] | None, *, initial: bool = False) -> Candidate:
    status: Status = "verified" if publisher else "absent"
    evidence = Evidence(
        "pkg", version, f"pkg-{version}.tar.gz", status, (publisher,) if publisher else ()
    )
    return Candidate(f"pkg-{version}.tar.gz", version, initial, evidence)


def judge(c: Candidate, *, accepted=(A,), baseline: str | None = "2.0", **policy: Any) -> Decision:
    return decide(
        "pkg",
        c,
        policy=Policy.from_dict(policy) if policy else Policy(),
        accepted=[{k: v for k, v in p.items() if v is not None} for p in accepted],
        baseline=baseline,
        accept=lambda f: f"attestkit index quarantine release pkg {f}",
    )


def test_the_baseline_is_the_newest_attested_release() -> None:
    first = [cand("1.0", B, initial=True), cand("2.0", A, initial=True), cand("2.1", None)]
    version, publishers = baseline_of(first) or ("", [])
    assert version == "2.0"
    assert publishers == [{"kind": "GitHub", "repository": "octo/pkg", "workflow": "release.yml"}]
    assert baseline_of([cand("1.0", None)]) is None


def test_history_on_the_first_page_is_served_whoever_published_it() -> None:
    old = judge(cand("1.0", B, initial=True))
    assert old.state == "verified" and old.flag is None


def test_a_new_file_from_another_publisher_is_quarantined_and_named() -> None:
    d = judge(cand("2.1", B))
    assert d.state == "quarantined" and d.flag == "changed"
    assert "pinned to GitHub octo/pkg" in (d.reason or "")
    assert "now GitHub evil/fork" in (d.reason or "")
    assert "attestkit index quarantine release pkg pkg-2.1.tar.gz" in (d.reason or "")
    # Also for a new file in an older line: a new publisher always needs a decision.
    assert judge(cand("1.5", B)).flag == "changed"
    assert judge(cand("2.1", A)).state == "verified"


def test_provenance_lost_after_the_baseline_is_a_downgrade() -> None:
    lost = judge(cand("2.1", None))
    assert lost.state == "quarantined" and lost.flag == "lost"
    assert "provenance disappeared" in (lost.reason or "")
    # Not before it: an older, never-attested line may get a plain release.
    assert judge(cand("1.9.1", None)).state == "unattested"
    # The same holds on the first page: newer than the baseline and unattested is lost.
    assert judge(cand("2.1", None, initial=True)).flag == "lost"


@pytest.mark.parametrize(
    ("policy", "candidate", "state", "flag"),
    [
        ({"projects": {"pkg": {"mode": "require"}}}, cand("1.0", None, initial=True),
         "quarantined", "policy"),
        ({"projects": {"pkg": {"mode": "warn"}}}, cand("1.0", None, initial=True),
         "unattested", None),
        ({"projects": {"pkg": {"publishers": [G]}}}, cand("2.1", A), "quarantined", "policy"),
        ({"projects": {"pkg": {"publishers": [G]}}}, cand("2.1", G), "verified", None),
        ({"projects": {"pkg": {"mode": "off"}}}, cand("2.1", B), "unattested", None),
    ],
)  # fmt: skip
def test_the_policy_file_applies(
    policy: dict[str, Any], candidate: Candidate, state: str, flag: str | None
) -> None:
    d = judge(candidate, **policy)
    assert (d.state, d.flag) == (state, flag)


def test_a_signature_failure_is_its_own_flag() -> None:
    failed = Candidate(
        "pkg-3.0.tar.gz",
        "3.0",
        False,
        Evidence("pkg", "3.0", "pkg-3.0.tar.gz", "failed", (), "bad signature"),
    )
    d = judge(failed)
    assert d.state == "quarantined" and d.flag == "signature"
    assert "bad signature" in (d.reason or "")
