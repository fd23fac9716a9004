"""``verify`` and ``inspect`` say when a certificate chains to a development instance.

Such an instance's identities are simulated (its own key signed the OIDC token,
whatever issuer the token names), so a "verified" there proves nothing about
real CI: the verdict carries a mark, a warning and a JSON flag.  Real PyPI
attestations carry none of them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import DATA, GITHUB_REPO, SDIST, STAGING_WHEEL
from tests.fixtures.processes import ak


@pytest.fixture
def signed(local_sigstore, tmp_path: Path) -> Path:
    dist = tmp_path / STAGING_WHEEL
    shutil.copy(DATA / STAGING_WHEEL, dist)
    dist.chmod(0o644)
    token = local_sigstore.token(
        "--github", "octo/sim", "--workflow", "release.yml", "--ref", "refs/tags/v1"
    )
    r = ak("sign", "--local", local_sigstore.url, "--identity-token", token, str(dist))
    assert r.returncode == 0, r.stderr
    return dist


def test_verify_marks_a_simulated_identity(local_sigstore, signed: Path) -> None:
    tc = str(local_sigstore.trust_config_path)
    repo = ["--repository", "https://github.com/octo/sim"]
    r = ak("verify", "attestation", "--trust-config", tc, *repo, str(signed))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"OK {signed}: ")
    assert r.stdout.rstrip().endswith("[SIMULATED identity: development instance]")
    assert "chains to an attestkit development instance" in r.stderr
    r = ak("verify", "attestation", "--json", "--trust-config", tc, *repo, str(signed))
    report = json.loads(r.stdout)
    [outcome] = report if isinstance(report, list) else [report]
    assert outcome["ok"] is True
    assert [a["simulated_identity"] for a in outcome["attestations"]] == [True]


def test_inspect_warns_about_a_simulated_identity(signed: Path) -> None:
    attestation = signed.with_name(signed.name + ".publish.attestation")
    r = ak("inspect", str(attestation))
    assert r.returncode == 0, r.stderr
    assert "WARNING       issued by an attestkit development instance" in r.stdout
    assert "O=attestkit development instance (simulated identities)" in r.stdout
    r = ak("inspect", "--json", str(attestation))
    assert '"simulated_identity": true' in r.stdout


def test_real_attestations_carry_no_mark() -> None:
    r = ak(
        "verify",
        "attestation",
        "--repository",
        f"https://github.com/{GITHUB_REPO}",
        str(DATA / SDIST),
    )
    assert r.returncode == 0, r.stderr
    assert "SIMULATED" not in r.stdout and "development instance" not in r.stderr
    r = ak("inspect", str(DATA / f"{SDIST}.publish.attestation"))
    assert "WARNING" not in r.stdout
    r = ak("inspect", "--json", str(DATA / f"{SDIST}.publish.attestation"))
    assert '"simulated_identity": false' in r.stdout
