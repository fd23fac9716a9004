"""``verify index`` gives the same verdicts as pypi-attestations' ``verify pypi`` (the real peer).

``verify pypi`` reads only pypi.org, but it verifies a local file with
``--offline --provenance-file``; attestkit reads the same provenance from a
real index serving the same file.  Both verify against Sigstore's production
trust root.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from attestkit.sigstore.trust import TrustRoot
from tests.conftest import DATA, GITLAB_SDIST, SDIST
from tests.fixtures.locks import gitlab_provenance
from tests.fixtures.readside import add_file, serve

GITHUB_REPO = "https://github.com/trailofbits/pypi-attestations"
GITLAB_REPO = "https://gitlab.com/facutuesca/gitlab-oidc-project"


def peer(dist: Path, provenance: dict[str, Any], repository: str, tmp_path: Path) -> bool:
    path = tmp_path / "peer.provenance"
    path.write_text(json.dumps(provenance))
    r = subprocess.run(
        [sys.executable, "-m", "pypi_attestations", "verify", "pypi", "--offline",
         "--provenance-file", str(path), "--repository", repository, str(dist)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return r.returncode == 0


@pytest.mark.parametrize(
    ("dist", "served", "repository", "verified"),
    [
        (SDIST, "github", GITHUB_REPO, True),
        (SDIST, "github", "https://github.com/someone/else", False),
        (GITLAB_SDIST, "gitlab", GITLAB_REPO, True),
        (GITLAB_SDIST, "gitlab", "https://gitlab.com/facutuesca/other", False),
        (SDIST, "gitlab", GITHUB_REPO, False),  # another file's provenance, swapped in
    ],
)
def test_same_verdict_as_verify_pypi(
    cli: Any,
    index_factory: Any,
    tmp_path: Path,
    dist: str,
    served: str,
    repository: str,
    verified: bool,
) -> None:
    provenance = (
        json.loads((DATA / f"{SDIST}.provenance").read_text())
        if served == "github"
        else gitlab_provenance()
    )
    index = index_factory(trust_roots=(TrustRoot.production(),))
    project = "pypi-attestations" if dist == SDIST else "gitlab-oidc-project"
    add_file(index, project, DATA / dist, provenance=provenance)
    server = serve(index)
    try:
        r = cli(
            "verify", "index", str(DATA / dist), "--index-url", f"{server.url}/simple/",
            "--repository", repository, "--no-cache",
        )  # fmt: skip
    finally:
        server.stop()
    assert r.code in (0, 1), r.err
    assert (r.code == 0) is verified, r.out
    assert peer(DATA / dist, provenance, repository, tmp_path) is verified
