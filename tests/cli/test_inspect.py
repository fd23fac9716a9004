"""``attestkit inspect``: readable and JSON summaries, clean errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import DATA, GITLAB_SDIST, SDIST, STAGING_WHEEL


def test_attestation_text(cli) -> None:
    r = cli("inspect", str(DATA / f"{SDIST}.publish.attestation"))
    assert r.code == 0
    assert "subject       pypi_attestations-0.0.19.tar.gz" in r.out
    assert "sha256        9bb1add04b1b4e182be6b0b80931593f7a291eb49d69b4fd728a5d4cbcdc4bd3" in r.out
    assert "publish/v1" in r.out
    assert "ref           refs/tags/v0.0.19" in r.out
    assert "commit        08802efe1f8e5fec4ad842d6b8ce97656092ee72" in r.out
    assert (
        "run           https://github.com/trailofbits/pypi-attestations/actions/runs/12169989787/attempts/1"
        in r.out
    )
    assert "log entry     #153454663 (dsse 0.0.1) at 2024-12-04T23:14:01Z" in r.out
    assert "valid         2024-12-04T23:14:01Z to 2024-12-04T23:24:01Z" in r.out


def test_provenance_and_bundle(cli) -> None:
    r = cli("inspect", str(DATA / f"{SDIST}.provenance"), str(DATA / f"{STAGING_WHEEL}.sigstore"))
    assert r.code == 0, r
    assert "publisher GitHub trailofbits/pypi-attestations workflow release.yml" in r.out
    assert ": bundle" in r.out
    assert "signed by     william@yossarian.net" in r.out


def test_json(cli) -> None:
    r = cli("inspect", "--json", str(DATA / f"{GITLAB_SDIST}.publish.attestation"))
    report = json.loads(r.out)[0]
    att = report["attestations"][0]
    assert att["signer"]["repository"] == "https://gitlab.com/facutuesca/gitlab-oidc-project"
    assert att["transparency_entries"][0]["log_index"] == 149945774
    assert att["statement"]["predicate_type"] == "https://docs.pypi.org/attestations/publish/v1"


def test_bad_files_reported_not_skipped(cli, tmp_path: Path) -> None:
    (tmp_path / "a.attestation").write_text("{")
    (tmp_path / "b.attestation").write_text('{"version": 1, "envelope": 3}')
    r = cli(
        "inspect",
        str(tmp_path / "a.attestation"),
        str(tmp_path / "b.attestation"),
        str(tmp_path / "missing"),
        str(DATA / f"{SDIST}.publish.attestation"),
    )
    assert r.code == 2
    errors = r.err.splitlines()
    assert len(errors) == 3
    assert all(line.startswith("FAIL ") for line in errors)
    assert "not valid JSON" in errors[0] and "missing verification_material" in errors[1]
    assert "no such file" in errors[2]
    assert "subject       pypi_attestations" in r.out  # the good file is still shown
