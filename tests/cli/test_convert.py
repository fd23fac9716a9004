"""``attestkit convert``: bundle -> attestation and back, atomically, never clobbering."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from attestkit import Attestation
from tests.conftest import DATA, SDIST, STAGING_WHEEL


def test_bundle_to_attestation_reproduces_pypi_file(cli, tmp_path: Path) -> None:
    shutil.copy(DATA / f"{STAGING_WHEEL}.sigstore", tmp_path)
    r = cli("convert", str(tmp_path / f"{STAGING_WHEEL}.sigstore"))
    assert r.code == 0, r
    out = tmp_path / f"{STAGING_WHEEL}.publish.attestation"
    assert r.out == f"OK {tmp_path / f'{STAGING_WHEEL}.sigstore'}: wrote attestation {out}\n"
    expected = Attestation.from_file(DATA / f"{STAGING_WHEEL}.publish.attestation").to_json()
    assert out.read_text() == expected
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_existing_output_refused_then_overwritten(cli, tmp_path: Path) -> None:
    shutil.copy(DATA / f"{STAGING_WHEEL}.sigstore", tmp_path)
    out = tmp_path / f"{STAGING_WHEEL}.publish.attestation"
    out.write_text("precious")
    r = cli("convert", str(tmp_path / f"{STAGING_WHEEL}.sigstore"))
    assert r.code == 2 and "already exists" in r.err
    assert out.read_text() == "precious"
    r = cli("convert", "--overwrite", str(tmp_path / f"{STAGING_WHEEL}.sigstore"))
    assert r.code == 0
    assert out.read_text() != "precious"


def test_attestation_to_bundle_and_back(cli, tmp_path: Path) -> None:
    src = tmp_path / f"{SDIST}.publish.attestation"
    shutil.copy(DATA / src.name, src)
    r = cli("convert", "--to-bundle", str(src))
    assert r.code == 0, r
    bundle = tmp_path / f"{SDIST}.sigstore.json"
    assert (
        json.loads(bundle.read_text())["mediaType"]
        == "application/vnd.dev.sigstore.bundle.v0.3+json"
    )
    again = tmp_path / "again.attestation"
    r = cli("convert", str(bundle), "-o", str(again))
    assert r.code == 0, r
    # Same content; the log entry's keys come back in sigstore's order, not PyPI's sorted one.
    assert json.loads(again.read_text()) == json.loads(Attestation.from_file(src).to_json())


def test_unconvertible_bundle_is_exit_1_and_writes_nothing(cli, tmp_path: Path) -> None:
    bundle = json.loads((DATA / f"{STAGING_WHEEL}.sigstore").read_text())
    del bundle["dsseEnvelope"]
    bundle["messageSignature"] = {
        "messageDigest": {"algorithm": "SHA2_256", "digest": "AAAA"},
        "signature": "AAAA",
    }
    path = tmp_path / "x.sigstore.json"
    path.write_text(json.dumps(bundle))
    r = cli("convert", str(path))
    assert r.code == 1
    assert r.err.startswith(f"FAIL {path}: bundle does not contain a DSSE envelope")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.sigstore.json"]


def test_bad_input_is_exit_2(cli, tmp_path: Path) -> None:
    (tmp_path / "b.sigstore.json").write_text("{")
    r = cli("convert", str(tmp_path / "b.sigstore.json"))
    assert r.code == 2 and "not valid JSON" in r.err
    r = cli("convert", str(tmp_path / "missing.sigstore.json"))
    assert r.code == 2 and "no such file" in r.err
    assert "Traceback" not in r.err


def test_pypi_attestations_habits(cli, tmp_path: Path) -> None:
    """--output-file, several inputs at once, and a wrong flag answered by convert's usage."""
    shutil.copy(DATA / f"{STAGING_WHEEL}.sigstore", tmp_path)
    src = tmp_path / f"{SDIST}.publish.attestation"
    shutil.copy(DATA / src.name, src)
    assert cli("convert", "--to-bundle", str(src)).code == 0
    out = tmp_path / "named.attestation"
    r = cli("convert", str(tmp_path / f"{STAGING_WHEEL}.sigstore"), "--output-file", str(out))
    assert r.code == 0 and out.is_file(), r
    both = cli(
        "convert", "--overwrite",
        str(tmp_path / f"{STAGING_WHEEL}.sigstore"), str(tmp_path / f"{SDIST}.sigstore.json"),
    )  # fmt: skip
    assert both.code == 0, both
    assert both.out.count("OK ") == 2
    assert (tmp_path / f"{SDIST}.publish.attestation").is_file()
    wrong = cli("convert", "--bundle", str(out))
    assert wrong.code == 2
    assert "usage: attestkit convert" in wrong.err
    assert "attestkit convert: error: unrecognized arguments: --bundle" in wrong.err


def test_a_bundle_with_several_subjects_is_an_input_error(cli, tmp_path: Path) -> None:
    """What ``actions/attest`` with ``subject-path: dist/*`` makes: exit 2, and what works."""
    import base64

    bundle = json.loads((DATA / f"{STAGING_WHEEL}.sigstore").read_text())
    envelope = bundle["dsseEnvelope"]
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["subject"] = statement["subject"] * 2
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    path = tmp_path / "multi.sigstore.json"
    path.write_text(json.dumps(bundle))
    r = cli("convert", str(path))
    assert r.code == 2, r
    assert "PyPI cannot take this bundle" in r.err and "attestkit sign" in r.err
    assert "--raw" not in r.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["multi.sigstore.json"]
