"""What the mirror decides for each upstream file: served, or quarantined and why.

The mirror applies the install-time policy (:mod:`attestkit.core.install_policy`:
modes, expected publishers) and keeps its own trust-on-first-use pins per
project, with no-downgrade rules that avoid the known false positives of
npm-style trust policies:

* **Baseline.** The first time a project's files are judged, the publishers of
  its *newest attested release* become the accepted publishers (``first use``).
  Older files on that first page are history, not news: they are served when
  they verify, whoever published them (a repository moved, a maintenance
  branch built elsewhere), and their publishers are recorded, not accepted.
* **Changed publisher.** A file that appears upstream later must be published
  by an accepted publisher, or it is quarantined naming both.
* **Lost provenance.** A file without provenance in a release *newer* than the
  baseline release is a downgrade and is quarantined; a later upload to an older,
  never-attested release line is not.
* A newer attested release from an accepted publisher moves the baseline up.

An operator's ``release`` of a quarantined file accepts its publishers from then
on; ``reject`` keeps it out for good.  No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from attestkit.core.install_policy import Evidence, Pin, Pins, Policy, judge

__all__ = [
    "SERVED",
    "Candidate",
    "Decision",
    "baseline_of",
    "decide",
    "publisher_key",
    "version_key",
]

#: States whose files the mirror serves.
SERVED = ("verified", "unattested", "released")


def version_key(version: str | None) -> tuple[int, Any]:
    """PEP 440 order; unparseable or missing versions sort first."""
    from packaging.version import InvalidVersion, Version

    if version is None:
        return (0, "")
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def publisher_key(publisher: Mapping[str, Any]) -> dict[str, Any]:
    """A publisher as pinned: its identity keys, without ``claims`` and empty values."""
    return {k: v for k, v in publisher.items() if k != "claims" and v is not None}


@dataclass(frozen=True)
class Candidate:
    """One file to judge: its version, whether it is history, and its evidence."""

    filename: str
    version: str | None
    initial: bool
    evidence: Evidence


@dataclass(frozen=True)
class Decision:
    """The verdict on a candidate."""

    state: str
    reason: str | None
    publishers: tuple[dict[str, Any], ...]
    #: For a quarantine: ``changed``, ``lost``, ``signature`` or ``policy``.
    flag: str | None = None


def baseline_of(candidates: Iterable[Candidate]) -> tuple[str, list[dict[str, Any]]] | None:
    """The newest attested release among ``candidates`` and its publishers (first use)."""
    verified = [c for c in candidates if c.evidence.status == "verified" and c.version]
    if not verified:
        return None
    newest = max(verified, key=lambda c: version_key(c.version))
    publishers: list[dict[str, Any]] = []
    for c in verified:
        if c.version == newest.version:
            for p in c.evidence.publishers:
                if publisher_key(p) not in publishers:
                    publishers.append(publisher_key(p))
    assert newest.version is not None
    return newest.version, publishers


def decide(
    project: str,
    candidate: Candidate,
    *,
    policy: Policy,
    accepted: Sequence[Mapping[str, Any]],
    baseline: str | None,
    accept: Callable[[str], str],
) -> Decision:
    """Judge one candidate against the policy, the accepted publishers and the baseline."""
    evidence = candidate.evidence
    pins: Pins | None = None
    if baseline is not None and accepted:
        newer = version_key(candidate.version) > version_key(baseline)
        history = candidate.initial and not newer
        checked = evidence.status == "verified" or (evidence.status == "absent" and newer)
        if checked and not history:
            pinned = tuple(dict(p) for p in accepted)
            pins = Pins(None, {project: Pin(pinned, baseline, "")})
    judgement = judge(evidence, policy, pins, accept=accept(candidate.filename))
    publishers = tuple(evidence.publishers)
    if judgement.level == "fail":
        if judgement.rule == "pin":
            flag = "lost" if evidence.status == "absent" else "changed"
        else:
            flag = "signature" if judgement.rule == "signature" else "policy"
        return Decision("quarantined", judgement.message, publishers, flag)
    if judgement.level == "skip":
        return Decision("unattested", judgement.message, ())
    if evidence.status == "verified":
        return Decision("verified", judgement.message, publishers)
    return Decision("unattested", judgement.message, ())
