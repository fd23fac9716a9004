"""The human web pages: projects, releases, files and provenance verdicts.

The sdist's stored provenance is PyPI's real one, signed on the public-good
Sigstore, so it verifies with the production trust root (offline).
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from attestkit import TrustRoot
from attestkit.index.provenance import ProvenanceChecker
from attestkit.index.read.web import FileView
from tests.conftest import DATA
from tests.fixtures.index_server import get
from tests.fixtures.readside import add_file, make_wheel, seed, serve

SDIST = "pypi_attestations-0.0.19.tar.gz"
WHEEL = "rfc8785-0.1.2-py3-none-any.whl"
REPO = "https://github.com/trailofbits/pypi-attestations"
COMMIT = "08802efe1f8e5fec4ad842d6b8ce97656092ee72"
RUN = f"{REPO}/actions/runs/12169989787/attempts/1"
LOG_INDEX = "153454663"
VERIFIED = '<span class="badge verified" title="provenance verified">&#10003; verified</span>'
NOT_ATTESTED = '<span class="badge not-attested">not attested</span>'


@pytest.fixture
def served(index_factory):
    index = index_factory(trust_roots=(TrustRoot.production(),))
    facts = seed(index)
    server = serve(index)
    yield server, facts
    server.stop()


def page(url: str) -> str:
    r = get(url)
    assert r.status_code == 200, url
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    return r.text


def assert_provenance_summary(text: str) -> None:
    assert "GitHub trailofbits/pypi-attestations workflow release.yml" in text  # publisher
    assert f'<a href="{REPO}">{REPO}</a>' in text  # repository
    assert ".github/workflows/release.yml@refs/tags/v0.0.19" in text  # workflow
    assert f'<a href="{REPO}/commit/{COMMIT}">{COMMIT}</a>' in text  # commit
    assert f'<a href="{RUN}">{RUN}</a>' in text  # run link
    assert LOG_INDEX in text
    assert VERIFIED in text


def test_home_lists_projects(served):
    server, _ = served
    text = page(server.url + "/")
    assert '<a href="/project/pypi-attestations/">pypi-attestations</a>' in text
    assert '<a href="/project/rfc8785/">rfc8785</a>' in text
    assert text.index("pypi-attestations") < text.index("rfc8785")


def test_project_page(served):
    server, facts = served
    text = page(server.url + "/project/pypi-attestations/")
    assert "<h1>pypi-attestations" in text
    assert f'href="/project/pypi-attestations/0.0.19/{SDIST}"' in text
    assert f'href="{server.url}/files/{facts["sdist"]["path"]}"' in text
    assert_provenance_summary(text)
    assert "publish/v1" in text

    wheel_page = page(server.url + "/project/rfc8785/")
    assert NOT_ATTESTED in wheel_page
    assert "badge verified" not in wheel_page
    assert WHEEL in wheel_page


def test_release_page(served):
    server, _ = served
    text = page(server.url + "/project/pypi-attestations/0.0.19/")
    assert_provenance_summary(text)
    assert "Requires-Python &gt;=3.9" in text


def test_file_page_shows_certificate_claims(served):
    server, facts = served
    text = page(server.url + f"/project/pypi-attestations/0.0.19/{SDIST}")
    assert_provenance_summary(text)
    assert facts["sdist"]["sha256"] in text
    assert facts["sdist"]["blake2_256"] in text
    # The certificate: identity (SAN), issuer and the decoded Fulcio claims.
    assert f"{REPO}/.github/workflows/release.yml@refs/tags/v0.0.19" in text
    assert "https://token.actions.githubusercontent.com" in text
    for claim in (
        "source_repository_digest",
        "build_config_uri",
        "run_invocation_uri",
        "build_trigger",
    ):
        assert f"<th>{claim}</th>" in text
    # The build trigger's own row (not just any "release", which release.yml contains).
    assert '<tr><th>build_trigger</th><td><span class="mono">release</span></td></tr>' in text
    assert "Signed at 2024-12-04T23:14:01Z" in text
    assert f"log index {LOG_INDEX}" in text
    assert "https://docs.pypi.org/attestations/publish/v1 (publish/v1)" in text
    assert f'<a href="{server.url}/integrity/pypi-attestations/0.0.19/{SDIST}/provenance">' in text

    wheel = page(server.url + f"/project/rfc8785/0.1.2/{WHEEL}")
    assert NOT_ATTESTED in wheel
    assert "not attested" in wheel
    assert f"{server.url}/files/{facts['wheel']['path']}.metadata" in wheel


def test_redirects_and_not_found(served):
    server, _ = served
    cases = {
        "/project/PyPI_Attestations/": "/project/pypi-attestations/",
        "/project/pypi-attestations": "/project/pypi-attestations/",
        "/project/pypi-attestations/0.0.19": "/project/pypi-attestations/0.0.19/",
        "/project/pypi-attestations/0.0.19.0/": "/project/pypi-attestations/0.0.19/",
        f"/project/PyPI.Attestations/0.0.19/{SDIST}": f"/project/pypi-attestations/0.0.19/{SDIST}",
        f"/project/pypi-attestations/0.0.19/{SDIST}/": f"/project/pypi-attestations/0.0.19/{SDIST}",
    }
    for path, location in cases.items():
        r = get(server.url + path)
        assert r.status_code == 301, path
        assert r.headers["location"] == location, path
    for path in (
        "/project/nope/",
        "/project/pypi-attestations/9.9/",
        f"/project/pypi-attestations/0.0.19/{WHEEL}",
    ):
        r = get(server.url + path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert "Not Found" in r.text


def test_unverifiable_provenance_is_not_marked_verified(index_factory):
    # No trust roots: attested, but nothing to check against.
    index = index_factory()
    seed(index)
    server = serve(index)
    try:
        text = page(server.url + "/project/pypi-attestations/")
        assert "attested, not checked" in text
        assert "badge verified" not in text
    finally:
        server.stop()
    # The wrong Sigstore instance: verification fails, and says why.
    index = index_factory(trust_roots=(TrustRoot.staging(),))
    seed(index)
    server = serve(index)
    try:
        text = page(server.url + f"/project/pypi-attestations/0.0.19/{SDIST}")
        assert "verification failed" in text
        assert "badge verified" not in text
    finally:
        server.stop()


def test_tampered_provenance_fails(index_factory, tmp_path):
    index = index_factory(trust_roots=(TrustRoot.production(),))
    provenance = seed(index)["provenance"]
    # The real provenance attached to another file: the subject does not match.
    add_file(
        index, "demo", make_wheel(tmp_path, "demo", "1.0"), provenance=copy.deepcopy(provenance)
    )
    server = serve(index)
    try:
        text = page(server.url + "/project/demo/")
        assert "verification failed" in text
        assert "subject does not match distribution name" in text
        assert "badge verified" not in text
    finally:
        server.stop()


def test_escaping(index_factory, tmp_path):
    """Hostile metadata and provenance are shown escaped on every page, never as markup."""
    from markupsafe import escape

    index = index_factory()
    evil = '<script>alert("x")</script>'
    attribute = '"><img src=x onerror=alert(1)>'
    provenance = {
        "version": 1,
        "attestation_bundles": [
            {
                "publisher": {
                    "kind": "GitHub",
                    "repository": evil,
                    "workflow": attribute,
                    "environment": None,
                },
                "attestations": [],
            }
        ],
    }
    add_file(
        index,
        "demo",
        make_wheel(tmp_path, "demo", "1.0", summary=evil, requires_python="<4,>=3.9"),
        provenance=provenance,
        yanked_reason=evil,
    )
    server = serve(index)
    try:
        for path in (
            "/project/demo/",
            "/project/demo/1.0/",
            "/project/demo/1.0/demo-1.0-py3-none-any.whl",
        ):
            text = page(server.url + path)
            assert "<script>" not in text
            assert "<img" not in text
            assert str(escape(evil)) in text
            assert str(escape(attribute)) in text
    finally:
        server.stop()


def test_verdicts_are_cached():
    import json

    stored = json.loads((DATA / f"{SDIST}.provenance").read_text())
    checker = ProvenanceChecker([TrustRoot.production()])
    calls = []
    (verifier,) = checker._verifier_list()
    original = verifier.verify_provenance

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    verifier.verify_provenance = counting  # type: ignore[method-assign]
    file = FileView(
        id=1,
        filename=SDIST,
        packagetype="sdist",
        python_version="source",
        size=29882,
        md5="",
        sha256="9bb1add04b1b4e182be6b0b80931593f7a291eb49d69b4fd728a5d4cbcdc4bd3",
        blake2_256="",
        path="",
        metadata_sha256=None,
        requires_python=None,
        upload_time=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        uploaded_via_trusted_publisher=True,
        publisher_url=None,
        has_provenance=True,
        provenance=stored,
    )
    first = checker.check(file)
    assert first is not None and first.status == "verified"
    assert checker.check(file) is first
    assert len(calls) == 1
    # Different provenance content for the same file is judged again.
    changed = copy.deepcopy(stored)
    changed["attestation_bundles"][0]["publisher"]["workflow"] = "other.yml"
    from dataclasses import replace

    second = checker.check(replace(file, provenance=changed))
    assert second is not None and second.status == "failed"
    assert len(calls) == 2
    assert checker.check(replace(file, has_provenance=False, provenance=None)) is None
