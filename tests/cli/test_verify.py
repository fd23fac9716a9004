"""``attestkit verify attestation|provenance`` from the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import (
    DATA,
    GITLAB_SDIST,
    SDIST,
    STAGING_EMAIL,
    STAGING_ISSUER,
    STAGING_WHEEL,
)

GH = "https://github.com/trailofbits/pypi-attestations"
GL = "https://gitlab.com/facutuesca/gitlab-oidc-project"


def test_ok_github(cli) -> None:
    r = cli(
        "verify", "attestation", "--repository", GH, "--workflow", "release.yml", str(DATA / SDIST)
    )
    assert r.code == 0
    assert r.out == (
        f"OK {DATA / SDIST}: 2 attestations (publish, SLSA provenance) signed by GitHub"
        " trailofbits/pypi-attestations workflow release.yml @ refs/tags/v0.0.19 at"
        " 2024-12-04T23:14:01Z\n"
    )


def test_ok_gitlab_and_staging(cli) -> None:
    r = cli(
        "verify",
        "attestation",
        "--repository",
        GL,
        "--workflow",
        ".gitlab-ci.yml",
        str(DATA / GITLAB_SDIST),
    )
    assert r.code == 0, r
    r = cli(
        "verify",
        "attestation",
        "--staging",
        "--identity",
        STAGING_EMAIL,
        "--issuer",
        STAGING_ISSUER,
        str(DATA / STAGING_WHEEL),
    )
    assert r.code == 0, r
    assert f"signed by {STAGING_EMAIL} (issuer {STAGING_ISSUER})" in r.out


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        (
            ["--repository", "https://github.com/trailofbits/other"],
            "Source Repository URI does not match",
        ),
        (
            ["--repository", GH, "--workflow", "ci.yml"],
            "does not match expected Trusted Publisher (ci.yml @",
        ),
        (
            ["--repository", "https://gitlab.com/trailofbits/pypi-attestations"],
            "OIDCIssuerV2 does not match",
        ),
        (
            [
                "--identity",
                GH + "/.github/workflows/release.yml@refs/tags/v0.0.19",
                "--issuer",
                "https://gitlab.com",
            ],
            "OIDCIssuer does not match",
        ),
        (["--staging", "--repository", GH], "does not chain to a Fulcio root of staging"),
    ],
)
def test_fail_wrong_publisher(cli, flags: list[str], reason: str) -> None:
    r = cli("verify", "attestation", *flags, str(DATA / SDIST))
    assert r.code == 1
    assert r.out.startswith(f"FAIL {DATA / SDIST}: ")
    assert reason in r.out
    assert len(r.out.splitlines()) == 1


def test_identity_flag_checks_issuer(cli) -> None:
    san = GH + "/.github/workflows/release.yml@refs/tags/v0.0.19"
    ok = cli(
        "verify",
        "attestation",
        "--identity",
        san,
        "--issuer",
        "https://token.actions.githubusercontent.com",
        str(DATA / SDIST),
    )
    assert ok.code == 0, ok


def test_mixed_results_one_line_each(cli, data_copy: Path) -> None:
    (data_copy / "junk-1.0.tar.gz").write_bytes(b"junk")
    r = cli(
        "verify",
        "attestation",
        "--repository",
        GH,
        str(data_copy / SDIST),
        str(data_copy / GITLAB_SDIST),
        str(data_copy / "junk-1.0.tar.gz"),
    )
    lines = r.out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("OK ")
    assert lines[1].startswith("FAIL ") and "OIDCIssuerV2" in lines[1]
    assert lines[2].startswith("FAIL ") and "no attestations found" in lines[2]
    assert r.code == 2  # an input error wins over a verification failure


def test_glob_of_directory_is_fine(cli, data_copy: Path) -> None:
    """``verify dist/*`` includes attestation files: they are not treated as dists (D17)."""
    files = sorted(str(p) for p in data_copy.glob(f"{SDIST}*"))
    r = cli("verify", "attestation", "--repository", GH, *files)
    assert r.code == 0, r
    assert len(r.out.splitlines()) == 1


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda d: (d / f"{SDIST}.publish.attestation").write_text("{oops"), "not valid JSON"),
        (lambda d: (d / f"{SDIST}.publish.attestation").write_text("[]"), "must be an object"),
        (
            lambda d: (d / f"{SDIST}.publish.attestation").write_text('{"version": 1}'),
            "missing verification_material",
        ),
        (lambda d: (d / f"{SDIST}.publish.attestation").write_bytes(b"\xff\xfe"), "not UTF-8"),
    ],
)
def test_bad_attestation_input_is_exit_2(cli, data_copy: Path, setup, reason: str) -> None:
    setup(data_copy)
    r = cli("verify", "attestation", "--repository", GH, str(data_copy / SDIST))
    assert r.code == 2
    assert reason in r.out
    assert f"{SDIST}.publish.attestation" in r.out
    assert "Traceback" not in r.out + r.err


def test_bad_dist_inputs(cli, tmp_path: Path) -> None:
    r = cli("verify", "attestation", "--repository", GH, str(tmp_path / SDIST))
    assert r.code == 2 and "no such file" in r.out
    (tmp_path / "notadist.exe").write_text("x")
    r = cli("verify", "attestation", "--repository", GH, str(tmp_path / "notadist.exe"))
    assert r.code == 2 and "unknown distribution format" in r.out
    (tmp_path / "dir-1.0.tar.gz").mkdir()
    r = cli("verify", "attestation", "--repository", GH, str(tmp_path / "dir-1.0.tar.gz"))
    assert r.code == 2 and "is a directory" in r.out


def test_explicit_attestation_and_tampered_dist(cli, data_copy: Path) -> None:
    r = cli(
        "verify",
        "attestation",
        "--repository",
        GH,
        "--attestation",
        str(data_copy / f"{SDIST}.slsa.attestation"),
        str(data_copy / SDIST),
    )
    assert r.code == 0 and "1 attestation (SLSA provenance)" in r.out
    with (data_copy / SDIST).open("ab") as f:
        f.write(b"\0")
    r = cli("verify", "attestation", "--repository", GH, str(data_copy / SDIST))
    assert r.code == 1 and "subject does not match distribution digest" in r.out


def test_legacy_attestation_name_found_without_a_twine_warning(cli, tmp_path: Path) -> None:
    """The legacy name verifies; whether twine finds it is upload's business (said there)."""
    shutil.copy(DATA / STAGING_WHEEL, tmp_path)
    shutil.copy(DATA / f"{STAGING_WHEEL}.attestation", tmp_path)
    r = cli(
        "verify",
        "attestation",
        "--staging",
        "--identity",
        STAGING_EMAIL,
        "--issuer",
        STAGING_ISSUER,
        str(tmp_path / STAGING_WHEEL),
    )
    assert r.code == 0, r
    assert "twine" not in r.err + r.out


def test_usage_errors(cli) -> None:
    d = str(DATA / SDIST)
    assert cli("verify", "attestation", "--repository", "http://github.com/a/b", d).code == 2
    assert cli("verify", "attestation", "--repository", "https://example.com/a/b", d).code == 2
    assert cli("verify", "attestation", "--identity", "x", d).code == 2
    assert cli("verify", "attestation", "--circleci-project-id", "x", d).code == 2
    assert cli("verify", "attestation", "--workflow", "x.yml", d).code == 2
    r = cli("verify", "attestation", "--repository", GH, "--trust-config", "/nonexistent.json", d)
    assert r.code == 2 and "/nonexistent.json" in r.err


def test_json_output(cli) -> None:
    r = cli(
        "verify",
        "attestation",
        "--json",
        "--repository",
        GH,
        str(DATA / SDIST),
        str(DATA / GITLAB_SDIST),
    )
    data = json.loads(r.out)
    assert data[0]["ok"] is True
    assert data[0]["attestations"][0]["signer"]["ref"] == "refs/tags/v0.0.19"
    assert data[1]["ok"] is False and data[1]["error_kind"] == "verification"
    assert r.code == 1


def test_verbose_flag_after_subcommand(cli) -> None:
    r = cli("verify", "attestation", "-v", "--repository", GH, str(DATA / SDIST))
    assert r.code == 0


def test_provenance(cli, data_copy: Path) -> None:
    r = cli(
        "verify",
        "provenance",
        "--repository",
        GH,
        "--workflow",
        "release.yml",
        str(data_copy / SDIST),
    )
    assert r.code == 0, r
    assert "1 attestation (publish)" in r.out
    r = cli(
        "verify", "provenance", "--repository", "https://github.com/x/y", str(data_copy / SDIST)
    )
    assert r.code == 1
    (data_copy / f"{SDIST}.provenance").write_text('{"version":1,"attestation_bundles":[]}')
    r = cli("verify", "provenance", "--repository", GH, str(data_copy / SDIST))
    assert r.code == 1 and "nothing verified" in r.out
    r = cli("verify", "provenance", "--repository", GH, str(data_copy / GITLAB_SDIST))
    assert r.code == 2 and "no provenance found" in r.out


def test_sigstore_backend_agrees(cli) -> None:
    ok = cli(
        "verify", "attestation", "--backend", "sigstore", "--repository", GH, str(DATA / SDIST)
    )
    assert ok.code == 0, ok
    bad = cli(
        "verify",
        "attestation",
        "--backend",
        "sigstore",
        "--repository",
        "https://github.com/x/y",
        str(DATA / SDIST),
    )
    assert bad.code == 1


def test_trust_config_file(cli, tmp_path: Path) -> None:
    """--trust-config takes a ClientTrustConfig (here wrapping the staging root)."""
    import importlib.util

    spec = importlib.util.find_spec("sigstore")
    assert spec is not None and spec.submodule_search_locations
    store = Path(next(iter(spec.submodule_search_locations))) / "_store"
    root = json.loads(
        (store / "https%3A%2F%2Ftuf-repo-cdn.sigstage.dev" / "trusted_root.json").read_text()
    )
    config = {
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": root,
        "signingConfig": json.loads(
            (
                store / "https%3A%2F%2Ftuf-repo-cdn.sigstage.dev" / "signing_config.v0.2.json"
            ).read_text()
        ),
    }
    path = tmp_path / "trust.json"
    path.write_text(json.dumps(config))
    args = [
        "verify",
        "attestation",
        "--trust-config",
        str(path),
        "--identity",
        STAGING_EMAIL,
        "--issuer",
        STAGING_ISSUER,
        str(DATA / STAGING_WHEEL),
    ]
    assert cli(*args).code == 0
    path.write_text('{"mediaType": "nope"}')
    r = cli(*args)
    assert r.code == 2 and str(path) in r.err
