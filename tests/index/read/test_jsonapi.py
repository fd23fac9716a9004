"""PyPI's JSON API (``/pypi/{project}/json``, ``/pypi/{project}/{version}/json``)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.fixtures.index_server import get
from tests.fixtures.readside import add_file, make_wheel, seed, serve


@pytest.fixture
def served(index_factory):
    index = index_factory()
    facts = seed(index)
    server = serve(index)
    yield server, facts
    server.stop()


def wheel_json(url: str, f: dict) -> dict:
    return {
        "comment_text": "",
        "digests": {"blake2b_256": f["blake2_256"], "md5": f["md5"], "sha256": f["sha256"]},
        "downloads": -1,
        "filename": "rfc8785-0.1.2-py3-none-any.whl",
        "has_sig": False,
        "md5_digest": f["md5"],
        "packagetype": "bdist_wheel",
        "python_version": "py3",
        "requires_python": ">=3.8",
        "size": f["size"],
        "upload_time": "2024-12-04T23:14:05",
        "upload_time_iso_8601": "2024-12-04T23:14:05Z",
        "url": f"{url}/files/{f['path']}",
        "yanked": False,
        "yanked_reason": None,
    }


def test_project_json(served):
    server, facts = served
    r = get(server.url + "/pypi/rfc8785/json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["access-control-allow-origin"] == "*"
    doc = r.json()
    assert set(doc) == {"info", "last_serial", "releases", "urls", "vulnerabilities"}
    info = doc["info"]
    assert info["name"] == "rfc8785"
    assert info["version"] == "0.1.2"
    assert (
        info["summary"] == "A pure-Python implementation of RFC 8785 (JSON Canonicalization Scheme)"
    )
    assert info["requires_python"] == ">=3.8"
    assert info["author_email"] == "Trail of Bits <opensource@trailofbits.com>"
    assert "Topic :: Security :: Cryptography" in info["classifiers"]
    assert 'pytest ; extra == "test"' in info["requires_dist"]
    assert info["yanked"] is False and info["yanked_reason"] is None
    assert info["project_url"] == f"{server.url}/project/rfc8785/"
    assert info["release_url"] == f"{server.url}/project/rfc8785/0.1.2/"
    assert doc["urls"] == [wheel_json(server.url, facts["wheel"])]
    assert doc["releases"] == {"0.1.2": [wheel_json(server.url, facts["wheel"])]}
    assert doc["last_serial"] == 3
    assert doc["vulnerabilities"] == []


def test_release_json(served):
    server, facts = served
    r = get(server.url + "/pypi/pypi-attestations/0.0.19/json")
    assert r.status_code == 200
    doc = r.json()
    assert "releases" not in doc
    assert doc["info"]["name"] == "pypi-attestations"
    assert doc["info"]["version"] == "0.0.19"
    assert doc["info"]["requires_python"] == ">=3.9"
    assert doc["last_serial"] == 7
    (f,) = doc["urls"]
    sdist = facts["sdist"]
    assert f["filename"] == "pypi_attestations-0.0.19.tar.gz"
    assert f["packagetype"] == "sdist"
    assert f["python_version"] == "source"
    assert f["digests"] == {
        "md5": sdist["md5"],
        "sha256": sdist["sha256"],
        "blake2b_256": sdist["blake2_256"],
    }
    assert f["size"] == 29882
    assert get(f["url"]).content == sdist["data"]


def test_not_found_and_redirects(served):
    server, _ = served
    for path in ("/pypi/nope/json", "/pypi/rfc8785/9.9/json", "/pypi/nope/1.0/json"):
        r = get(server.url + path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/json"
        assert "message" in r.json()
    assert get(server.url + "/pypi/nope/json").json() == {"message": "No project named nope"}
    assert get(server.url + "/pypi/rfc8785/9.9/json").json() == {
        "message": "No release 9.9 of rfc8785"
    }
    cases = {
        "/pypi/RFC8785/json": "/pypi/rfc8785/json",
        "/pypi/pypi_attestations/json": "/pypi/pypi-attestations/json",
        "/pypi/rfc8785/0.1.2.0/json": "/pypi/rfc8785/0.1.2/json",
        "/pypi/RFC8785/0.1.2/json": "/pypi/rfc8785/0.1.2/json",
    }
    for path, location in cases.items():
        r = get(server.url + path)
        assert r.status_code == 301, path
        assert r.headers["location"] == location


def test_latest_release_prefers_final_unyanked(index_factory, tmp_path):
    index = index_factory()
    t = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    add_file(index, "Demo_Pkg", make_wheel(tmp_path, "demo-pkg", "1.0"), upload_time=t)
    add_file(
        index,
        "Demo_Pkg",
        make_wheel(tmp_path, "demo-pkg", "1.1"),
        upload_time=t,
        yanked_reason="bad",
    )
    add_file(index, "Demo_Pkg", make_wheel(tmp_path, "demo-pkg", "2.0b1"), upload_time=t)
    add_file(index, "Demo_Pkg", make_wheel(tmp_path, "demo-pkg", "0.9"), upload_time=t)
    server = serve(index)
    try:
        # The display name is canonical for the JSON API, as on PyPI.
        assert get(server.url + "/pypi/demo-pkg/json").headers["location"] == "/pypi/Demo_Pkg/json"
        doc = get(server.url + "/pypi/Demo_Pkg/json").json()
        assert doc["info"]["version"] == "1.0"
        assert doc["info"]["name"] == "Demo_Pkg"
        assert list(doc["releases"]) == ["0.9", "1.0", "1.1", "2.0b1"]
        assert [f["filename"] for f in doc["urls"]] == ["demo_pkg-1.0-py3-none-any.whl"]
        assert doc["releases"]["1.1"][0]["yanked"] is True
        assert doc["releases"]["1.1"][0]["yanked_reason"] == "bad"
        yanked = get(server.url + "/pypi/Demo_Pkg/1.1/json").json()
        assert yanked["info"]["yanked"] is True
        assert yanked["info"]["yanked_reason"] == "bad"
    finally:
        server.stop()
