"""``attestkit verify lock`` and ``attestkit pin`` from the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.conftest import DATA
from tests.fixtures.locks import pylock


def test_verify_lock_table_json_and_exit_codes(cli: Any, lock_index: str, tmp_path: Path) -> None:
    lock = tmp_path / "pylock.toml"
    lock.write_text(pylock(lock_index))
    r = cli("verify", "lock", str(lock), "--no-cache")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].startswith("OK    pypi_attestations-0.0.19.tar.gz")
    assert lines[0].endswith("GitHub trailofbits/pypi-attestations workflow release.yml")
    assert any(line.startswith("WARN  rfc8785-0.1.2-py3-none-any.whl") for line in lines)
    assert "3 files: 2 verified, 1 without provenance (allowed), 0 failed" in r.err

    r = cli("verify", "lock", str(lock), "--no-cache", "--json")
    doc = json.loads(r.out)
    assert doc["ok"] is True and doc["format"] == "pylock"
    assert {f["project"]: f["verdict"] for f in doc["files"]} == {
        "pypi-attestations": "ok",
        "gitlab-oidc-project": "ok",
        "rfc8785": "warn",
    }

    policy = tmp_path / "attestkit.toml"
    policy.write_text("[policy]\ndefault = 'require'\n")
    r = cli("verify", "lock", str(lock), "--no-cache", "--policy", str(policy))
    assert r.code == 1
    assert re.search(
        r"^FAIL +rfc8785-0\.1\.2-py3-none-any\.whl +no provenance, and the policy requires it$",
        r.out,
        re.M,
    )


def test_input_errors_exit_2_with_one_line(cli: Any, tmp_path: Path) -> None:
    bad = tmp_path / "pylock.toml"
    bad.write_text("lock-version = '2.0'\ncreated-by = 'x'\n")
    r = cli("verify", "lock", str(bad))
    assert r.code == 2
    assert r.err.strip().splitlines() == [
        f"attestkit verify: error: {bad}: lock-version 2.0 is not supported (only 1.x)"
    ]
    policy = tmp_path / "attestkit.toml"
    policy.write_text("[policy]\ndefault = 'sometimes'\n")
    good = tmp_path / "requirements.txt"
    good.write_text("")
    r = cli("verify", "lock", str(good), "--policy", str(policy))
    assert r.code == 2
    assert "policy.default 'sometimes' is not one of require, tofu, warn, off" in r.err


def test_pin_then_a_changed_publisher_fails_until_accepted(
    cli: Any, lock_index: str, tmp_path: Path
) -> None:
    lock = tmp_path / "pylock.toml"
    lock.write_text(pylock(lock_index))
    r = cli("pin", str(lock), "--no-cache")
    assert r.code == 0, r.err
    pins = tmp_path / "attestkit.pins.toml"
    text = pins.read_text()
    assert "[projects.pypi-attestations]" in text and "[projects.gitlab-oidc-project]" in text
    assert "rfc8785" not in text  # nothing verified, nothing pinned
    assert cli("verify", "lock", str(lock), "--no-cache").code == 0

    pins.write_text(text.replace("trailofbits/pypi-attestations", "mallory/pypi-attestations"))
    r = cli("verify", "lock", str(lock), "--no-cache")
    assert r.code == 1
    assert "publisher changed: pinned to GitHub mallory/pypi-attestations" in r.out
    r = cli("pin", str(lock), "--no-cache", "--update", "PyPI_Attestations")
    assert r.code == 0, r.err
    assert "pinned pypi-attestations: GitHub trailofbits/pypi-attestations" in r.out
    assert cli("verify", "lock", str(lock), "--no-cache").code == 0


def test_verify_index_like_verify_pypi(cli: Any, lock_index: str, tmp_path: Path) -> None:
    repo = "https://github.com/trailofbits/pypi-attestations"
    spec = "pypi:pypi_attestations-0.0.19.tar.gz"
    out = tmp_path / "wheelhouse"
    r = cli(
        "verify", "index", spec, "--index-url", lock_index, "--repository", repo,
        "--workflow", "release.yml", "--no-cache", "--output", str(out),
    )  # fmt: skip
    assert r.code == 0, r.out + r.err
    assert r.out.startswith("OK    pypi_attestations-0.0.19.tar.gz")
    kept = out / "pypi_attestations-0.0.19.tar.gz"
    assert kept.read_bytes() == (DATA / "pypi_attestations-0.0.19.tar.gz").read_bytes()
    assert [p.name for p in out.iterdir()] == [kept.name]  # no partial file left

    r = cli("verify", "index", spec, "--index-url", lock_index, "--no-cache",
            "--repository", "https://github.com/someone/else")  # fmt: skip
    assert r.code == 1
    assert "but the policy expects GitHub someone/else" in r.out

    # A release without provenance fails: asking about a file means wanting its provenance.
    r = cli("verify", "index", "rfc8785==0.1.2", "--index-url", lock_index, "--no-cache")
    assert r.code == 1
    assert "no provenance, and the policy requires it" in r.out

    # A local copy is checked against the index it came from.
    local = DATA / "gitlab_oidc_project-0.0.3.tar.gz"
    r = cli("verify", "index", str(local), "--index-url", lock_index, "--no-cache")
    assert r.code == 0, r.out + r.err
    tampered = tmp_path / local.name
    tampered.write_bytes(local.read_bytes() + b"x")
    r = cli("verify", "index", str(tampered), "--index-url", lock_index, "--no-cache")
    assert r.code == 2
    assert "does not match the hash the index publishes" in r.err

    r = cli("verify", "index", "pypi:not-a-dist.txt", "--index-url", lock_index)
    assert r.code == 2
    assert "a SPEC names a wheel (*.whl) or a source distribution" in r.err


def test_install_installs_only_what_verified(cli: Any, lock_index: str, tmp_path: Path) -> None:
    """pip resolves against the index, attestkit verifies, pip installs by hash (or nothing)."""
    target = tmp_path / "site"
    policy = tmp_path / "attestkit.toml"
    policy.write_text("[policy.projects.rfc8785]\nmode = 'require'\n")
    pip = ["--index-url", lock_index, "--target", str(target), "--no-deps", "rfc8785==0.1.2"]
    r = cli("install", "--no-cache", "--policy", str(policy), "--", *pip)
    assert r.code == 1
    assert "nothing installed: a file failed verification" in r.err
    assert not target.exists()

    r = cli(
        "install", "--no-cache", "--", *pip
    )  # the default policy allows a file without provenance
    assert r.code == 0, r.out + r.err
    assert r.out.startswith("WARN  rfc8785-0.1.2-py3-none-any.whl")
    assert (target / "rfc8785").is_dir()
