"""The Integrity API (index notes §5), against a real server.

200 bodies are the stored provenance, ASCII-only with no trailing newline,
and readable by pypi-attestations; every error is JSON (better than PyPI).
"""

from __future__ import annotations

import copy
import json

import pytest

from tests.fixtures.index_server import get
from tests.fixtures.readside import add_file, make_wheel, seed, serve

V1 = "application/vnd.pypi.integrity.v1+json"
JSON = "application/json"
SDIST = "pypi_attestations-0.0.19.tar.gz"
WHEEL = "rfc8785-0.1.2-py3-none-any.whl"
PATH = f"/integrity/pypi-attestations/0.0.19/{SDIST}/provenance"
CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET",
    "access-control-allow-headers": "Content-Type, If-Match, If-Modified-Since, If-None-Match, If-Unmodified-Since",
    "access-control-max-age": "86400",
    "access-control-expose-headers": "X-PyPI-Last-Serial",
}


@pytest.fixture
def served(index_factory):
    index = index_factory()
    facts = seed(index)
    server = serve(index)
    yield server, facts
    server.stop()


def test_provenance_200(served):
    server, facts = served
    r = get(server.url + PATH)
    assert r.status_code == 200
    assert r.headers["content-type"] == V1  # no charset
    assert r.headers["vary"] == "Accept"
    assert r.headers["cache-control"] == "max-age=600, public"
    assert (
        r.headers["surrogate-control"]
        == "max-age=86400, stale-while-revalidate=300, stale-if-error=86400"
    )
    for key, value in CORS.items():
        assert r.headers[key] == value
    body = r.content
    assert body.isascii()
    assert not body.endswith(b"\n")
    assert json.loads(body) == facts["provenance"]
    assert body == json.dumps(facts["provenance"]).encode()  # json.dumps defaults, as Pyramid

    import pypi_attestations

    parsed = pypi_attestations.Provenance.model_validate_json(body)
    publisher = parsed.attestation_bundles[0].publisher
    assert isinstance(publisher, pypi_attestations.GitHubPublisher)
    assert publisher.repository == "trailofbits/pypi-attestations"
    assert parsed.model_dump(mode="json") == pypi_attestations.Provenance.model_validate(
        facts["provenance"]
    ).model_dump(mode="json")


NEGOTIATION = [
    (None, V1),
    ("", V1),
    (V1, V1),
    (JSON, JSON),
    ("*/*", V1),
    ("application/*", V1),
    (f"{JSON}, {V1}", V1),  # a tie goes to the integrity type
    (f"{JSON};q=0.9, {V1};q=0.5", JSON),
    (f"{V1};q=0.1, {JSON};q=0.2", JSON),
    (f"{V1};q=0, */*", JSON),
    ("text/html, */*;q=0.1", V1),
    ("not an accept header", V1),
]


def test_negotiation(served):
    server, facts = served
    for accept, expected in NEGOTIATION:
        headers = {} if accept is None else {"Accept": accept}
        r = get(server.url + PATH, headers=headers)
        assert r.status_code == 200, accept
        assert r.headers["content-type"] == expected, accept
        assert r.json() == facts["provenance"]


def test_not_acceptable(served):
    server, _ = served
    for accept in ("text/html", "application/xml", f"{V1};q=0, {JSON};q=0", "text/*"):
        r = get(server.url + PATH, headers={"Accept": accept})
        assert r.status_code == 406, accept
        assert r.headers["content-type"] == JSON
        assert r.content == b'{"message": "Request not acceptable"}'
        assert r.headers["access-control-allow-origin"] == "*"


def test_no_provenance(served):
    server, _ = served
    r = get(server.url + f"/integrity/rfc8785/0.1.2/{WHEEL}/provenance")
    assert r.status_code == 404
    assert r.headers["content-type"] == JSON
    assert r.json() == {"message": f"No provenance available for {WHEEL}"}


UNKNOWN = [
    (f"/integrity/nope/0.0.19/{SDIST}/provenance", "No project named nope"),
    (f"/integrity/pypi-attestations/9.9/{SDIST}/provenance", "No release 9.9 of pypi-attestations"),
    (
        "/integrity/pypi-attestations/0.0.19/other-0.0.19.tar.gz/provenance",
        "No file other-0.0.19.tar.gz in pypi-attestations 0.0.19",
    ),
    (f"/integrity/rfc8785/0.0.19/{SDIST}/provenance", "No release 0.0.19 of rfc8785"),
    (f"/integrity/rfc8785/0.1.2/{SDIST}/provenance", f"No file {SDIST} in rfc8785 0.1.2"),
]


def test_unknown_project_version_or_file_is_json(served):
    server, _ = served
    for path, message in UNKNOWN:
        for accept in ("text/html", V1):
            r = get(server.url + path, headers={"Accept": accept})
            assert r.status_code == 404, path
            assert r.headers["content-type"] == JSON
            assert r.json() == {"message": message}
            assert r.content.isascii()


def test_lookup_by_normalized_name_and_canonical_version(served):
    server, facts = served
    for path in (
        f"/integrity/PyPI_Attestations/0.0.19/{SDIST}/provenance",
        f"/integrity/pypi.attestations/0.0.19.0/{SDIST}/provenance",
        f"/integrity/pypi-attestations/v0.0.19/{SDIST}/provenance",
    ):
        r = get(server.url + path)
        assert r.status_code == 200, path  # no redirect
        assert r.json() == facts["provenance"]
    # The filename must match exactly.
    assert (
        get(
            server.url + f"/integrity/pypi-attestations/0.0.19/{SDIST.upper()}/provenance"
        ).status_code
        == 404
    )


def test_non_ascii_provenance_is_escaped(index_factory, tmp_path):
    index = index_factory()
    provenance = copy.deepcopy(seed(index)["provenance"])
    provenance["attestation_bundles"][0]["publisher"]["environment"] = "prod-\u00fc\u2603"
    add_file(index, "demo", make_wheel(tmp_path, "demo", "1.0"), provenance=provenance)
    server = serve(index)
    try:
        r = get(
            server.url + "/integrity/demo/1.0/demo-1.0-py3-none-any.whl/provenance",
            headers={"Accept": JSON},
        )
        assert r.status_code == 200
        assert r.headers["content-type"] == JSON
        assert r.content.isascii()
        assert b"\\u00fc\\u2603" in r.content
        assert json.loads(r.content) == provenance
    finally:
        server.stop()


def test_etag(served):
    server, _ = served
    r = get(server.url + PATH)
    again = get(server.url + PATH, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
