"""verify lock: a real index (read-side routes on 127.0.0.1) serving real PyPI provenance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from attestkit.client.lock_check import verify_lock
from attestkit.core.install_policy import Pins, Policy
from attestkit.core.locks.pylock import parse_pylock
from attestkit.sigstore.trust import TrustRoot
from tests.conftest import DATA, SDIST
from tests.fixtures.locks import GITHUB, GITLAB, gitlab_provenance, pylock, sha256_of
from tests.fixtures.readside import add_file, serve


def check(text: str, **kwargs: Any) -> dict[str, tuple[str, str]]:
    report = verify_lock(
        parse_pylock(text), trust_roots=[TrustRoot.production()], workers=4, **kwargs
    )
    return {r.locked.project: (r.judgement.level, r.judgement.message) for r in report.results}


def test_a_clean_lock_verifies_each_publisher(lock_index: str, tmp_path: Path) -> None:
    verdicts = check(pylock(lock_index), cache_dir=tmp_path / "cache")
    assert verdicts["pypi-attestations"] == (
        "ok",
        "GitHub trailofbits/pypi-attestations workflow release.yml",
    )
    assert verdicts["gitlab-oidc-project"] == (
        "ok",
        "GitLab facutuesca/gitlab-oidc-project workflow_filepath .gitlab-ci.yml",
    )
    assert verdicts["rfc8785"] == ("warn", "no provenance")
    # The verified provenance is cached by the file's digest for the next run.
    assert (tmp_path / "cache" / "provenance" / f"{sha256_of(DATA / SDIST)}.json").exists()


def test_a_warm_run_reuses_the_verdict_only_under_the_same_trust_roots(
    lock_index: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache keeps each verdict with the roots it was reached under; other roots re-verify."""
    from attestkit.client import lock_check

    cold = check(pylock(lock_index), cache_dir=tmp_path / "cache")
    calls: list[str] = []
    real = lock_check._verify

    def counted(job: Any, verifiers: Any) -> Any:
        calls.append(job.filename)
        return real(job, verifiers)

    monkeypatch.setattr(lock_check, "_verify", counted)
    assert check(pylock(lock_index), cache_dir=tmp_path / "cache") == cold
    assert calls == []  # every attested file's verdict came from the cache
    staging = verify_lock(
        parse_pylock(pylock(lock_index)),
        trust_roots=[TrustRoot.staging()],
        cache_dir=tmp_path / "cache",
        workers=4,
    )
    verdicts = {r.locked.project: r.judgement.level for r in staging.results}
    assert verdicts["pypi-attestations"] == "fail"  # not the production verdict from the cache
    assert calls  # re-verified under the other root


def test_a_tampered_file_fails(lock_index: str) -> None:
    verdicts = check(pylock(lock_index, sdist_hash="0" * 64))
    level, message = verdicts["pypi-attestations"]
    assert level == "fail"
    assert "the index serves other bytes" in message


def test_a_swapped_provenance_fails(index_factory: Any) -> None:
    idx = index_factory(trust_roots=(TrustRoot.production(),))
    add_file(idx, "pypi-attestations", DATA / SDIST, provenance=gitlab_provenance())
    served = serve(idx)
    try:
        lock = pylock(f"{served.url}/simple/").split("[[packages]]\nname = 'gitlab")[0]
        verdicts = check(lock)
    finally:
        served.stop()
    level, message = verdicts["pypi-attestations"]
    assert level == "fail"
    assert message.startswith("provenance does not verify:")


def test_a_changed_publisher_fails_against_the_pin(lock_index: str, tmp_path: Path) -> None:
    pins = Pins(tmp_path / "pins.toml")
    pins.record("pypi-attestations", [{**GITHUB, "repository": "someone/else"}], "0.0.18")
    level, message = check(pylock(lock_index), pins=pins)["pypi-attestations"]
    assert level == "fail"
    assert "publisher changed: pinned to GitHub someone/else" in message
    assert "attestkit pin --update pypi-attestations" in message


def test_removed_provenance_is_a_downgrade_against_the_pin(lock_index: str, tmp_path: Path) -> None:
    pins = Pins(tmp_path / "pins.toml")
    pins.record("rfc8785", [GITHUB], "0.1.1")
    level, message = check(pylock(lock_index), pins=pins)["rfc8785"]
    assert level == "fail"
    assert message.startswith("provenance disappeared: pinned to GitHub")


def test_a_policy_can_require_attestations(lock_index: str) -> None:
    policy = Policy.from_dict({"projects": {"RFC8785": {"mode": "require"}}})
    assert check(pylock(lock_index), policy=policy)["rfc8785"] == (
        "fail",
        "no provenance, and the policy requires it",
    )
    allowed = Policy.from_dict(
        {"default": "require", "projects": {"rfc8785": {"mode": "off", "reason": "vendored"}}}
    )
    verdicts = check(pylock(lock_index), policy=allowed)
    assert verdicts["rfc8785"] == ("skip", "not checked: policy mode off (vendored)")
    assert verdicts["pypi-attestations"][0] == "ok"


def test_expected_publishers_from_the_policy_and_the_lock(lock_index: str) -> None:
    policy = Policy.from_dict(
        {"projects": {"gitlab-oidc-project": {"publishers": [{**GITLAB, "repository": "x/y"}]}}}
    )
    level, message = check(pylock(lock_index), policy=policy)["gitlab-oidc-project"]
    assert level == "fail"
    assert "but the policy expects GitLab x/y" in message
    wrong = (
        "[[packages.attestation-identities]]\nkind = 'GitHub'\nrepository = 'trailofbits/other'\n"
    )
    level, message = check(pylock(lock_index, identities=wrong))["pypi-attestations"]
    assert level == "fail"
    assert "but the lock file expects GitHub trailofbits/other" in message
    right = "[[packages.attestation-identities]]\nkind = 'GitHub'\nworkflow = 'release.yml'\n"
    assert check(pylock(lock_index, identities=right))["pypi-attestations"][0] == "ok"


def test_a_project_missing_from_the_index_is_an_error(lock_index: str) -> None:
    text = pylock(lock_index).replace("name = 'rfc8785'", "name = 'not-there'", 1)
    level, message = check(text)["not-there"]
    assert level == "fail" and message == "project not-there is not on the index"


def test_a_policy_binds_a_project_to_one_index(lock_index: str, index_factory: Any) -> None:
    """A project the policy binds to an index is read only there (no dependency confusion)."""
    other = index_factory()
    add_file(other, "pypi-attestations", DATA / "rfc8785-0.1.2-py3-none-any.whl")
    served = serve(other)
    try:
        elsewhere = f"{served.url}/simple/"
        bound = Policy.from_dict({"projects": {"pypi-attestations": {"index": elsewhere}}})
        level, message = check(pylock(lock_index), policy=bound)["pypi-attestations"]
        assert level == "fail"
        assert message == "pypi_attestations-0.0.19.tar.gz is not on the index"
        # ... and the binding wins over --index-url too.
        home = Policy.from_dict({"projects": {"pypi-attestations": {"index": lock_index}}})
        verdicts = check(pylock(lock_index), policy=home, index_url=elsewhere)
        assert verdicts["pypi-attestations"][0] == "ok"
    finally:
        served.stop()


def test_verification_across_worker_processes_gives_the_same_verdicts(
    lock_index: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large lock is verified by one process per core; the verdicts do not change."""
    from attestkit.client import lock_check

    in_process = check(pylock(lock_index), processes=1)
    monkeypatch.setattr(lock_check, "PROCESS_THRESHOLD", 1)
    assert check(pylock(lock_index), processes=2) == in_process
    assert in_process["pypi-attestations"][0] == "ok"


def test_a_lock_without_sha256_downloads_and_hashes_the_file(lock_index: str) -> None:
    """Attestations name a SHA-256: with only a SHA-512 pin, the file itself is hashed."""
    import hashlib

    sha512 = hashlib.sha512((DATA / SDIST).read_bytes()).hexdigest()
    text = pylock(lock_index).replace(
        f"sha256 = '{sha256_of(DATA / SDIST)}'", f"sha512 = '{sha512}'"
    )
    assert check(text)["pypi-attestations"][0] == "ok"
    level, message = check(text.replace(sha512, "0" * 128))["pypi-attestations"]
    assert level == "fail"
    assert "does not match the lock's hash" in message
