"""sigstore-conformance's ``bundle-verify`` cases through ``attestkit verify bundle``.

The cases are copies of the public suite's assets (``tests/data/conformance``,
see its ``SOURCE.md``), run the way the suite's harness runs a client:
``verify bundle --bundle B --certificate-identity I --certificate-oidc-issuer O
[--trusted-root T] ARTIFACT``, with the harness's default identity, issuer and
artifact unless the case gives its own.  A case whose name ends in ``_fail``
must fail verification; every other must verify.  Message-signature bundles are
out of scope for a PEP 740 tool and must say so (exit 2), not fail or pass.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.conftest import DATA
from tests.fixtures.cli_runner import Result

ASSETS = DATA / "conformance"
#: The harness's defaults (sigstore-conformance ``test/client.py``).
IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/"
    "workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ISSUER = "https://token.actions.githubusercontent.com"
CASES = sorted(p.name for p in ASSETS.iterdir() if (p / "bundle.sigstore.json").is_file())


def _is_dsse(case: str) -> bool:
    return "dsseEnvelope" in json.loads((ASSETS / case / "bundle.sigstore.json").read_text())


def _args(case: str) -> list[str]:
    path = ASSETS / case
    identity = (path / "identity").read_text().strip() if (path / "identity").exists() else IDENTITY
    issuer = (path / "issuer").read_text().strip() if (path / "issuer").exists() else ISSUER
    artifact = path / "artifact" if (path / "artifact").exists() else ASSETS / "a.txt"
    args = ["verify", "bundle", "--bundle", str(path / "bundle.sigstore.json"), str(artifact),
            "--certificate-identity", identity, "--certificate-oidc-issuer", issuer]  # fmt: skip
    if (path / "trusted_root.json").exists():
        args += ["--trusted-root", str(path / "trusted_root.json")]
    return args


def test_the_copied_suite_covers_every_dsse_kind() -> None:
    dsse = [c for c in CASES if _is_dsse(c)]
    assert len(dsse) == 14
    assert {c.split("-")[0] for c in dsse} >= {"dsse", "intoto", "rekor2", "happy"}
    assert sum(c.endswith("_fail") for c in dsse) == 11


@pytest.mark.parametrize("case", [c for c in CASES if _is_dsse(c)])
def test_dsse_case(case: str, cli: Callable[..., Result]) -> None:
    result = cli(*_args(case))
    if case.endswith("_fail"):
        assert result.code == 1, result.out + result.err
        assert result.out.startswith("FAIL ") and result.out.count("\n") == 1
    else:
        assert result.code == 0, result.out + result.err
        assert result.out.startswith("OK ") and IDENTITY in result.out


@pytest.mark.parametrize("case", [c for c in CASES if not _is_dsse(c)])
def test_message_signature_cases_are_out_of_scope(case: str, cli: Callable[..., Result]) -> None:
    result = cli(*_args(case))
    assert result.code == 2
    assert "message-signature bundle is out of scope" in result.err
    assert result.err.count("\n") == 1 and result.out == ""


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if _is_dsse(c) and not c.startswith("intoto-with")],
)
def test_sigstore_python_agrees(case: str, cli: Callable[..., Result]) -> None:
    """The same verdict from sigstore-python's verifier (``--backend sigstore``).

    Not for ``intoto-with-custom-trust-root``: sigstore-python 4.5.1 refuses
    ``intoto`` entries altogether, which attestkit verifies (its SET-bound time
    and its body), as the conformance suite expects.
    """
    ours = cli(*_args(case))
    theirs = cli(*_args(case), "--backend", "sigstore")
    assert (ours.code, theirs.code) in ((0, 0), (1, 1)), theirs.out + theirs.err


def test_sigstore_python_refuses_what_attestkit_verifies_for_intoto(
    cli: Callable[..., Result],
) -> None:
    theirs = cli(*_args("intoto-with-custom-trust-root"), "--backend", "sigstore")
    assert theirs.code == 1 and "intoto" in theirs.out


def test_the_time_threshold_counts_verified_times(cli: Callable[..., Result]) -> None:
    # A SET-bound integrated time and a trusted timestamp: two verified times.
    assert cli(*_args("intoto-with-custom-trust-root"), "--time-threshold", "2").code == 0
    three = cli(*_args("intoto-with-custom-trust-root"), "--time-threshold", "3")
    assert three.code == 1 and "not enough sources of verified time" in three.out
    # A Rekor v2 entry has only its timestamp.
    two = cli(*_args("rekor2-dsse-happy-path"), "--time-threshold", "2")
    assert two.code == 1 and "1 of 1 timestamps verified" in two.out
    assert cli(*_args("rekor2-dsse-happy-path"), "--time-threshold", "0").code == 2
