"""The Simple API (PEP 503/691/700/714/740/792) and file downloads, against a real server.

Documents are compared exactly (index notes §6); real pip and uv install from
the index, and pip fetches the PEP 658 metadata.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import sys
import zipfile
from pathlib import Path

import pytest
import requests

from attestkit.index.read.simple import select_content_type
from attestkit.index.read.web import acceptable_offers
from tests.conftest import DATA
from tests.fixtures.index_server import get
from tests.fixtures.readside import add_file, make_wheel, seed, serve, set_serial

HTML = "text/html"
V1_HTML = "application/vnd.pypi.simple.v1+html"
V1_JSON = "application/vnd.pypi.simple.v1+json"
PIP_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
UV_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET",
    "access-control-allow-headers": "Content-Type, If-Match, If-Modified-Since, If-None-Match, If-Unmodified-Since",
    "access-control-max-age": "86400",
    "access-control-expose-headers": "X-PyPI-Last-Serial",
}
CACHING = {
    "vary": "Accept",
    "cache-control": "max-age=600, public",
    "surrogate-control": "max-age=86400, stale-while-revalidate=300, stale-if-error=86400",
}


@pytest.fixture
def served(index_factory):
    index = index_factory()
    facts = seed(index)
    server = serve(index)
    yield server, facts
    server.stop()


def assert_headers(response, content_type: str, serial: int) -> None:
    assert response.headers["content-type"] == content_type
    assert response.headers["x-pypi-last-serial"] == str(serial)
    for key, value in {**CORS, **CACHING}.items():
        assert response.headers[key] == value, key
    assert response.headers["etag"]


def wheel_file(url: str, facts: dict) -> dict:
    return {
        "filename": "rfc8785-0.1.2-py3-none-any.whl",
        "url": f"{url}/files/{facts['path']}",
        "hashes": {"sha256": facts["sha256"]},
        "requires-python": ">=3.8",
        "size": facts["size"],
        "upload-time": "2024-12-04T23:14:05Z",
        "yanked": False,
        "data-dist-info-metadata": {"sha256": facts["metadata_sha256"]},
        "core-metadata": {"sha256": facts["metadata_sha256"]},
        "provenance": None,
    }


# ----------------------------------------------------------------------
# Documents


def test_index_documents(served):
    server, _ = served
    r = get(server.url + "/simple/")
    assert r.status_code == 200
    assert_headers(r, HTML, 7)
    assert r.text == (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        "  <head>\n"
        '    <meta name="pypi:repository-version" content="1.4">\n'
        "    <title>Simple index</title>\n"
        "  </head>\n"
        "  <body>\n"
        '    <a href="/simple/pypi-attestations/">pypi-attestations</a>\n'
        '    <a href="/simple/rfc8785/">rfc8785</a>\n'
        "  </body>\n"
        "</html>\n"
    )
    r = get(server.url + "/simple/", headers={"Accept": V1_JSON})
    assert_headers(r, V1_JSON, 7)
    assert r.content.endswith(b"}\n")
    assert r.json() == {
        "meta": {"api-version": "1.4", "_last-serial": 7},
        "projects": [
            {"name": "pypi-attestations", "_last-serial": 7},
            {"name": "rfc8785", "_last-serial": 3},
        ],
    }


def test_detail_json_documents(served):
    server, facts = served
    r = get(server.url + "/simple/rfc8785/", headers={"Accept": V1_JSON})
    assert r.status_code == 200
    assert_headers(r, V1_JSON, 3)
    assert r.content.endswith(b"}\n")
    assert r.json() == {
        "meta": {"api-version": "1.4", "_last-serial": 3},
        "name": "rfc8785",
        "project-status": {"status": "active"},
        "versions": ["0.1.2"],
        "files": [wheel_file(server.url, facts["wheel"])],
    }
    assert list(r.json()) == ["meta", "name", "project-status", "versions", "files"]
    assert "dist-info-metadata" not in r.json()["files"][0]  # pip >= 22.3 crashes on it

    sdist = facts["sdist"]
    r = get(server.url + "/simple/pypi-attestations/", headers={"Accept": V1_JSON})
    assert_headers(r, V1_JSON, 7)
    assert r.json() == {
        "meta": {"api-version": "1.4", "_last-serial": 7},
        "name": "pypi-attestations",
        "project-status": {"status": "active"},
        "versions": ["0.0.19"],
        "files": [
            {
                "filename": "pypi_attestations-0.0.19.tar.gz",
                "url": f"{server.url}/files/{sdist['path']}",
                "hashes": {"sha256": sdist["sha256"]},
                "requires-python": ">=3.9",
                "size": 29882,
                "upload-time": "2024-12-04T23:14:05Z",
                "yanked": False,
                "data-dist-info-metadata": False,
                "core-metadata": False,
                "provenance": (
                    f"{server.url}/integrity/pypi-attestations/0.0.19/"
                    "pypi_attestations-0.0.19.tar.gz/provenance"
                ),
            }
        ],
    }


def test_detail_html_documents(served):
    server, facts = served
    wheel, sdist = facts["wheel"], facts["sdist"]
    r = get(server.url + "/simple/rfc8785/")
    assert_headers(r, HTML, 3)
    m = wheel["metadata_sha256"]
    assert r.text == (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        "  <head>\n"
        '    <meta name="pypi:repository-version" content="1.4">\n'
        '    <meta name="pypi:project-status" content="active">\n'
        "    <title>Links for rfc8785</title>\n"
        "  </head>\n"
        "  <body>\n"
        "    <h1>Links for rfc8785</h1>\n"
        f'    <a href="{server.url}/files/{wheel["path"]}#sha256={wheel["sha256"]}"'
        f' data-requires-python="&gt;=3.8" data-dist-info-metadata="sha256={m}"'
        f' data-core-metadata="sha256={m}">rfc8785-0.1.2-py3-none-any.whl</a><br />\n'
        "  </body>\n"
        "</html>\n"
        "<!--SERIAL 3-->\n"
    )
    r = get(server.url + "/simple/pypi-attestations/", headers={"Accept": V1_HTML})
    assert_headers(r, V1_HTML, 7)
    prov = f"{server.url}/integrity/pypi-attestations/0.0.19/pypi_attestations-0.0.19.tar.gz/provenance"
    assert (
        f'    <a href="{server.url}/files/{sdist["path"]}#sha256={sdist["sha256"]}"'
        f' data-requires-python="&gt;=3.9" data-provenance="{prov}">'
        "pypi_attestations-0.0.19.tar.gz</a><br />\n"
    ) in r.text
    assert r.text.endswith("</html>\n<!--SERIAL 7-->\n")


def test_versions_files_yanked_and_escaping(index_factory, tmp_path):
    index = index_factory()
    times = {
        "0.1.10": dt.datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC),
        "0.1.9": dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        "1.0rc1": dt.datetime(2025, 2, 1, tzinfo=dt.UTC),
        "0.1.2": dt.datetime(2024, 6, 1, tzinfo=dt.UTC),
    }
    add_file(
        index, "Demo.Pkg", make_wheel(tmp_path, "demo-pkg", "0.1.10"), upload_time=times["0.1.10"]
    )
    add_file(
        index,
        "Demo.Pkg",
        make_wheel(tmp_path, "demo-pkg", "0.1.9", requires_python=">=3.8,<4"),
        upload_time=times["0.1.9"],
        yanked_reason='broken <"&">',
    )
    add_file(
        index,
        "Demo.Pkg",
        make_wheel(tmp_path, "demo-pkg", "1.0rc1"),
        upload_time=times["1.0rc1"],
        yanked=True,
    )
    add_file(
        index,
        "Demo.Pkg",
        make_wheel(tmp_path, "demo-pkg", "0.1.2"),
        upload_time=times["0.1.2"],
    )
    add_file(
        index,
        "Demo.Pkg",
        make_wheel(tmp_path, "demo-pkg", "2.0"),
        yanked_reason="caf\u00e9 \u2603",
        serial=42,
    )
    server = serve(index)
    try:
        r = get(server.url + "/simple/demo-pkg/", headers={"Accept": V1_JSON})
        doc = r.json()
        assert doc["name"] == "demo-pkg"
        assert doc["meta"]["_last-serial"] == 42
        assert r.headers["x-pypi-last-serial"] == "42"
        assert doc["versions"] == ["0.1.2", "0.1.9", "0.1.10", "1.0rc1", "2.0"]
        files = {f["filename"]: f for f in doc["files"]}
        assert [f["filename"] for f in doc["files"]] == [
            "demo_pkg-0.1.2-py3-none-any.whl",
            "demo_pkg-0.1.9-py3-none-any.whl",
            "demo_pkg-0.1.10-py3-none-any.whl",
            "demo_pkg-1.0rc1-py3-none-any.whl",
            "demo_pkg-2.0-py3-none-any.whl",
        ]
        assert (
            files["demo_pkg-0.1.10-py3-none-any.whl"]["upload-time"]
            == "2025-01-02T03:04:05.123456Z"
        )
        assert files["demo_pkg-0.1.9-py3-none-any.whl"]["upload-time"] == "2025-01-01T00:00:00Z"
        assert files["demo_pkg-0.1.9-py3-none-any.whl"]["yanked"] == 'broken <"&">'
        assert files["demo_pkg-0.1.9-py3-none-any.whl"]["requires-python"] == ">=3.8,<4"
        assert files["demo_pkg-1.0rc1-py3-none-any.whl"]["yanked"] is True
        assert files["demo_pkg-0.1.2-py3-none-any.whl"]["yanked"] is False
        assert files["demo_pkg-0.1.2-py3-none-any.whl"]["requires-python"] is None
        assert files["demo_pkg-2.0-py3-none-any.whl"]["yanked"] == "caf\u00e9 \u2603"
        assert r.content.isascii()

        r = get(server.url + "/simple/demo-pkg/")
        assert r.content.isascii()  # other characters as references: no charset to guess
        html = r.text
        anchors = [line.strip() for line in html.splitlines() if line.strip().startswith("<a ")]
        assert [re.findall(r">([^<>]+)</a>", a)[0] for a in anchors] == list(files)
        assert (
            'data-requires-python="&gt;=3.8,&lt;4" data-yanked="broken &lt;&quot;&amp;&quot;&gt;"'
            in anchors[1]
        )
        assert 'data-yanked=""' in anchors[3]
        assert 'data-yanked="caf&#233; &#9731;"' in anchors[4]
        assert "data-yanked" not in anchors[0] and "data-requires-python" not in anchors[0]
        assert "data-provenance" not in html
        assert html.endswith("<!--SERIAL 42-->\n")

        # The index lists the display name, links the normalized one; serial is the maximum.
        r = get(server.url + "/simple/")
        assert '<a href="/simple/demo-pkg/">Demo.Pkg</a>' in r.text
        assert r.headers["x-pypi-last-serial"] == "42"
    finally:
        server.stop()


def test_serial_follows_the_project(served):
    server, _ = served
    set_serial(server.index, "rfc8785", 1234)
    r = get(server.url + "/simple/rfc8785/")
    assert r.headers["x-pypi-last-serial"] == "1234"
    assert r.text.endswith("<!--SERIAL 1234-->\n")
    r = get(server.url + "/simple/rfc8785/", headers={"Accept": V1_JSON})
    assert r.json()["meta"]["_last-serial"] == 1234
    r = get(server.url + "/simple/", headers={"Accept": V1_JSON})
    assert r.headers["x-pypi-last-serial"] == "1234"
    assert r.json()["meta"]["_last-serial"] == 1234
    assert {"name": "rfc8785", "_last-serial": 1234} in r.json()["projects"]


def test_empty_index(index_factory):
    server = serve(index_factory())
    try:
        r = get(server.url + "/simple/", headers={"Accept": V1_JSON})
        assert r.json() == {"meta": {"api-version": "1.4", "_last-serial": 0}, "projects": []}
        assert r.headers["x-pypi-last-serial"] == "0"
    finally:
        server.stop()


# ----------------------------------------------------------------------
# Negotiation, redirects, errors, caching

NEGOTIATION = [
    (None, HTML),
    ("", HTML),
    (PIP_ACCEPT, V1_JSON),
    (UV_ACCEPT, V1_JSON),
    ("text/html", HTML),
    (V1_HTML, V1_HTML),
    (V1_JSON, V1_JSON),
    ("*/*", HTML),
    ("application/*", V1_HTML),
    ("application/json", HTML),  # nothing acceptable: HTML, never 406
    ("image/png", HTML),
    ("text/html;q=0, */*", V1_HTML),
    (f"{V1_JSON};q=0.5, text/html;q=0.6", HTML),
    (f"{V1_JSON};q=0.6, text/html;q=0.5", V1_JSON),
    (f"{V1_JSON}, {V1_HTML}", V1_HTML),  # tie: the server's order of offers
    (f"{V1_JSON};q=0.9, */*;q=0.1", V1_JSON),
    (f"{V1_JSON};q=0, */*", HTML),
    ("APPLICATION/VND.PYPI.SIMPLE.V1+JSON", V1_JSON),
    ("text/html;level=1, application/vnd.pypi.simple.v1+json;q=0.5", V1_JSON),
    ("this is not an accept header", HTML),
    ("application/vnd.pypi.simple.v1+json;q=abc", HTML),
]


@pytest.mark.parametrize(("accept", "expected"), NEGOTIATION)
def test_select_content_type(accept, expected):
    assert select_content_type(accept) == expected


def test_acceptable_offers_orders_by_quality_then_offer():
    offers = [HTML, V1_HTML, V1_JSON]
    assert acceptable_offers(PIP_ACCEPT, offers) == [(V1_JSON, 1.0), (V1_HTML, 0.1), (HTML, 0.01)]
    assert acceptable_offers("text/*;q=0.3, application/*;q=0.3", offers) == [
        (HTML, 0.3),
        (V1_HTML, 0.3),
        (V1_JSON, 0.3),
    ]
    assert acceptable_offers("application/json", offers) == []


def test_negotiation_over_http(served):
    server, _ = served
    for accept, expected in NEGOTIATION:
        headers = {} if accept is None else {"Accept": accept}
        for path in ("/simple/", "/simple/rfc8785/"):
            r = get(server.url + path, headers=headers)
            assert r.status_code == 200, (accept, path)
            assert r.headers["content-type"] == expected, (accept, path)
            if expected == V1_JSON:
                assert r.json()["meta"]["api-version"] == "1.4"
            else:
                assert r.text.startswith("<!DOCTYPE html>")


def test_redirects_and_not_found(served):
    server, _ = served
    cases = {
        "/simple": "/simple/",
        "/simple/RFC8785/": "/simple/rfc8785/",
        "/simple/rfc8785": "/simple/rfc8785/",
        "/simple/PyPI_Attestations": "/simple/pypi-attestations/",
        "/simple/pypi.attestations/": "/simple/pypi-attestations/",
        "/simple/pypi--attestations/": "/simple/pypi-attestations/",
    }
    for path, location in cases.items():
        r = get(server.url + path)
        assert r.status_code == 301, path
        assert r.headers["location"] == location, path
        assert r.headers["access-control-allow-origin"] == "*"
    for path in ("/simple/nope/", "/simple/nope", "/simple/rfc8785/extra/"):
        r = get(server.url + path, headers={"Accept": V1_JSON})
        assert r.status_code == 404, path
        assert r.headers["content-type"].split(";")[0] == "text/plain"
        assert r.text == "404 Not Found"
    # requests follows the redirect like pip does
    r = server_get_follow(server.url + "/simple/RFC8785", V1_JSON)
    assert r.json()["name"] == "rfc8785"


def server_get_follow(url: str, accept: str):
    import requests

    return requests.get(url, headers={"Accept": accept}, timeout=30)


def test_base_url_from_config(index_factory):
    index = index_factory(base_url="https://pkgs.example.org/mirror/")
    facts = seed(index)
    server = serve(index)
    try:
        doc = get(server.url + "/simple/rfc8785/", headers={"Accept": V1_JSON}).json()
        assert (
            doc["files"][0]["url"]
            == f"https://pkgs.example.org/mirror/files/{facts['wheel']['path']}"
        )
        html = get(server.url + "/simple/").text
        assert '<a href="/mirror/simple/rfc8785/">rfc8785</a>' in html
        assert get(server.url + "/simple/RFC8785/").headers["location"] == "/mirror/simple/rfc8785/"
        prov = get(server.url + "/simple/pypi-attestations/", headers={"Accept": V1_JSON}).json()
        assert prov["files"][0]["provenance"].startswith(
            "https://pkgs.example.org/mirror/integrity/"
        )
    finally:
        server.stop()


def test_etag_and_head(served):
    server, _ = served
    r = get(server.url + "/simple/rfc8785/", headers={"Accept": V1_JSON})
    etag = r.headers["etag"]
    again = get(server.url + "/simple/rfc8785/", headers={"Accept": V1_JSON, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["x-pypi-last-serial"] == "3"
    html = get(server.url + "/simple/rfc8785/", headers={"If-None-Match": etag})
    assert html.status_code == 200  # another representation, another ETag
    import requests

    head = requests.head(server.url + "/simple/rfc8785/", timeout=30)
    assert head.status_code == 200
    assert head.headers["content-type"] == HTML


# ----------------------------------------------------------------------
# Files and PEP 658 metadata


def test_file_downloads(served):
    server, facts = served
    wheel, sdist = facts["wheel"], facts["sdist"]
    for f in (wheel, sdist):
        r = get(f"{server.url}/files/{f['path']}")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.headers["content-length"] == str(f["size"])
        assert r.content == f["data"]
        assert hashlib.sha256(r.content).hexdigest() == f["sha256"]
    r = get(f"{server.url}/files/{wheel['path']}.metadata")
    assert r.status_code == 200
    assert r.content == wheel["metadata"]
    assert hashlib.sha256(r.content).hexdigest() == wheel["metadata_sha256"]
    with zipfile.ZipFile(DATA / "rfc8785-0.1.2-py3-none-any.whl") as zf:
        assert r.content == zf.read("rfc8785-0.1.2.dist-info/METADATA")
    # No metadata for the sdist; nothing else is served.
    assert get(f"{server.url}/files/{sdist['path']}.metadata").status_code == 404


def test_no_orphan_or_foreign_path_is_served(served):
    server, facts = served
    index = server.index
    index.store.put("aa/bb/cccc/orphan-1.0-py3-none-any.whl", data=b"orphan")
    wheel = facts["wheel"]
    index.store.put("aa/bb/cccc/rfc8785-0.1.2-py3-none-any.whl", data=b"same name, other path")
    for path in (
        "aa/bb/cccc/orphan-1.0-py3-none-any.whl",
        "aa/bb/cccc/rfc8785-0.1.2-py3-none-any.whl",
        "aa/bb/cccc/rfc8785-0.1.2-py3-none-any.whl.metadata",
        wheel["path"].rsplit("/", 1)[0] + "/",
        wheel["path"] + ".sha256",
        "../index.sqlite3",
        "",
    ):
        r = get(f"{server.url}/files/{path}")
        assert r.status_code == 404, path
    # A tampered metadata file is never served under the advertised hash.
    index.store.put(wheel["path"] + ".metadata", data=b"Metadata-Version: 2.1\nName: evil\n")
    assert get(f"{server.url}/files/{wheel['path']}.metadata").status_code == 404
    # A file row whose stored bytes are missing is a 404, not a 500.
    index.store.delete(facts["sdist"]["path"])
    assert get(f"{server.url}/files/{facts['sdist']['path']}").status_code == 404


# ----------------------------------------------------------------------
# Real clients


def client_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.update(
        PIP_FIND_LINKS="",
        PIP_EXTRA_INDEX_URL="",
        PIP_CONFIG_FILE=os.devnull,
        UV_NO_CACHE="1",
    )
    return env


def run(args: list[str]) -> None:
    import subprocess

    proc = subprocess.run(args, env=client_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{args}\n{proc.stdout}\n{proc.stderr}"


def test_pip_download_and_install(served, tmp_path):
    server, facts = served
    wheel = facts["wheel"]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-cache-dir"]
    index_url = ["--index-url", f"{server.url}/simple/"]
    run([*pip, "download", "--no-deps", *index_url, "rfc8785==0.1.2", "-d", str(tmp_path / "dl")])
    downloaded = tmp_path / "dl" / "rfc8785-0.1.2-py3-none-any.whl"
    assert downloaded.read_bytes() == wheel["data"]
    paths = server.paths()
    assert f"/files/{wheel['path']}.metadata" in paths  # PEP 658 metadata used
    assert f"/files/{wheel['path']}" in paths
    assert "/simple/rfc8785/" in paths

    server.requests.clear()
    run([*pip, "install", "--no-deps", "--target", str(tmp_path / "target"), *index_url, "rfc8785"])
    assert (tmp_path / "target" / "rfc8785" / "__init__.py").is_file()
    assert f"/files/{wheel['path']}.metadata" in server.paths()


def test_uv_pip_install(served, tmp_path):
    server, facts = served
    uv = str(Path(sys.executable).with_name("uv"))
    run(
        [
            uv,
            "pip",
            "install",
            "--target",
            str(tmp_path / "target"),
            "--index-url",
            f"{server.url}/simple/",
            "--no-deps",
            "--python",
            sys.executable,
            "rfc8785",
        ]
    )
    assert (tmp_path / "target" / "rfc8785" / "__init__.py").is_file()
    assert f"/files/{facts['wheel']['path']}" in server.paths()
    assert ("GET", "/simple/rfc8785/") in server.requests


def test_assembled_app_serves_the_read_side(index_server):
    """The full application (``app.create_app``, as ``attestkit serve`` runs it) routes here too."""
    server = index_server()
    facts = seed(server.index)
    r = get(server.url + "/simple/rfc8785/", headers={"Accept": PIP_ACCEPT})
    assert r.headers["content-type"] == V1_JSON
    assert r.json()["files"][0] == wheel_file(server.url, facts["wheel"])
    assert (
        get(f"{server.url}/files/{facts['wheel']['path']}.metadata").content
        == facts["wheel"]["metadata"]
    )
    prov = get(
        server.url
        + "/integrity/pypi-attestations/0.0.19/pypi_attestations-0.0.19.tar.gz/provenance"
    )
    assert prov.json() == facts["provenance"]
    assert get(server.url + "/pypi/rfc8785/json").json()["info"]["version"] == "0.1.2"
    assert "pypi-attestations" in get(server.url + "/").text


# ----------------------------------------------------------------------
# The page cache: never a stale page


def _json_page(url: str, name: str, **headers: str) -> tuple[dict, requests.Response]:
    r = get(f"{url}/simple/{name}/", headers={"Accept": V1_JSON, **headers})
    assert r.status_code == 200, r.text
    return r.json(), r


def _filenames(doc: dict) -> list[str]:
    return [f["filename"] for f in doc["files"]]


@pytest.fixture
def load_calls(monkeypatch):
    """How many times the Simple API rendered a project page from the database."""
    from attestkit.index.read import simple, web

    calls: list[str] = []
    real = web.load_project

    def counting(index, name, **kwargs):
        calls.append(name)
        return real(index, name, **kwargs)

    monkeypatch.setattr(simple, "load_project", counting)
    return calls


def test_pages_are_cached_per_format_and_base_url(index_factory, tmp_path, load_calls):
    index = index_factory()
    for version in ("1.0", "1.1"):
        add_file(index, "cached", make_wheel(tmp_path, "cached", version))
    server = serve(index)
    try:
        first, r1 = _json_page(server.url, "cached")
        again, r2 = _json_page(server.url, "cached")
        assert again == first and r2.content == r1.content
        assert r2.headers["etag"] == r1.headers["etag"]
        assert load_calls == ["cached"]  # the second answer came from the cache
        html = get(f"{server.url}/simple/cached/")
        v1_html = get(f"{server.url}/simple/cached/", headers={"Accept": V1_HTML})
        assert html.headers["content-type"] == HTML
        assert v1_html.headers["content-type"] == V1_HTML
        assert v1_html.content == html.content  # one HTML body for both HTML types
        assert len(load_calls) == 2
        # 304 from a cached page
        r = get(
            f"{server.url}/simple/cached/",
            headers={"Accept": V1_JSON, "If-None-Match": r1.headers["etag"]},
        )
        assert r.status_code == 304 and r.headers["x-pypi-last-serial"] == "2"
        # Another Host (no configured base URL): its own absolute URLs, never another host's.
        other, _ = _json_page(server.url, "cached", Host="mirror.example:8443")
        assert other["files"][0]["url"].startswith("http://mirror.example:8443/files/")
        assert first["files"][0]["url"].startswith(server.url + "/files/")
        assert len(load_calls) == 3
        # Redirects and 404s are answered before the cache.
        assert get(f"{server.url}/simple/Cached/").status_code == 301
        assert get(f"{server.url}/simple/nope/").status_code == 404
        assert len(load_calls) == 3
    finally:
        server.stop()


def test_cached_page_is_fresh_after_an_upload(index_server, tmp_path, load_calls):
    """Uploads through POST /legacy/ show at once, in both formats, with new serials and ETags."""
    from tests.fixtures.uploads import make_wheel as upload_wheel
    from tests.fixtures.uploads import post, setup_project

    server = index_server()
    token = setup_project(server, "fresh-pkg")
    seen: list[str] = []
    etags: set[str] = set()
    previous: str | None = None
    for i, version in enumerate(("1.0", "1.1", "2.0")):
        wheel = upload_wheel(tmp_path, "fresh-pkg", version)
        r = post(server, token, wheel, name="fresh-pkg", version=version)
        assert r.status_code == 200, r.text
        seen.append(wheel.name)
        for _ in range(2):  # the second read is served from the cache
            doc, response = _json_page(server.url, "fresh-pkg")
            assert _filenames(doc) == seen
            assert doc["meta"]["_last-serial"] == i + 1
            assert response.headers["x-pypi-last-serial"] == str(i + 1)
            html = get(f"{server.url}/simple/fresh-pkg/")
            assert [n for n in seen if f">{n}</a>" in html.text] == seen
            assert html.text.endswith(f"<!--SERIAL {i + 1}-->\n")
        etags.add(response.headers["etag"])
        # A client revalidating with the previous page's ETag gets the new page.
        if previous is not None:
            stale = get(
                f"{server.url}/simple/fresh-pkg/",
                headers={"Accept": V1_JSON, "If-None-Match": previous},
            )
            assert stale.status_code == 200 and _filenames(stale.json()) == seen
        previous = response.headers["etag"]
    assert len(etags) == 3
    assert len(load_calls) == 6  # one render per format and serial, the rest from the cache


def _yank(index, name: str, version: str, reason: str | None) -> None:
    """Yank a release the way every writer must change what the Simple API shows:
    in one transaction with a serial bump."""
    from sqlalchemy import select

    from attestkit.index.db import Project, Release

    with index.session() as session:
        project = session.scalar(select(Project).where(Project.normalized_name == name))
        release = session.scalar(
            select(Release).where(Release.project_id == project.id, Release.version == version)
        )
        release.yanked, release.yanked_reason = True, reason
        project.serial += 1


def test_cached_page_is_fresh_after_a_yank(index_factory, tmp_path):
    index = index_factory()
    for version in ("1.0", "1.1"):
        add_file(index, "yanky", make_wheel(tmp_path, "yanky", version))
    server = serve(index)
    try:
        doc, _ = _json_page(server.url, "yanky")
        assert [f["yanked"] for f in doc["files"]] == [False, False]
        assert "data-yanked" not in get(f"{server.url}/simple/yanky/").text
        _yank(index, "yanky", "1.0", "broken")
        doc, r = _json_page(server.url, "yanky")
        assert [f["yanked"] for f in doc["files"]] == ["broken", False]
        assert r.headers["x-pypi-last-serial"] == "3"
        assert 'data-yanked="broken"' in get(f"{server.url}/simple/yanky/").text
        _yank(index, "yanky", "1.1", None)
        doc, _ = _json_page(server.url, "yanky")
        assert [f["yanked"] for f in doc["files"]] == ["broken", True]
        assert get(f"{server.url}/simple/yanky/").text.count("data-yanked=") == 2
    finally:
        server.stop()


def test_another_writer_is_seen_at_once(index_factory, tmp_path):
    """A change committed by another process or server (here: straight to the database)."""
    index = index_factory()
    add_file(index, "shared", make_wheel(tmp_path, "shared", "1.0"))
    server = serve(index)
    try:
        _json_page(server.url, "shared")
        _json_page(server.url, "shared")
        add_file(index, "shared", make_wheel(tmp_path, "shared", "1.1"))
        doc, _ = _json_page(server.url, "shared")
        assert _filenames(doc) == [
            "shared-1.0-py3-none-any.whl",
            "shared-1.1-py3-none-any.whl",
        ]
        set_serial(index, "shared", 99)
        doc, r = _json_page(server.url, "shared")
        assert doc["meta"]["_last-serial"] == 99 and r.headers["x-pypi-last-serial"] == "99"
    finally:
        server.stop()


def test_no_stale_page_under_concurrent_reads(index_server, tmp_path):
    """Readers fill the cache at every intermediate state; after each upload returns, the next
    read lists it."""
    import threading

    from tests.fixtures.uploads import make_wheel as upload_wheel
    from tests.fixtures.uploads import post, setup_project

    server = index_server()
    token = setup_project(server, "busy")
    stop = threading.Event()
    errors: list[str] = []

    def reader(accept: str) -> None:
        session = requests.Session()
        while not stop.is_set():
            r = session.get(f"{server.url}/simple/busy/", headers={"Accept": accept}, timeout=30)
            if r.status_code not in (200, 404):
                errors.append(f"{r.status_code} {r.text[:200]}")

    readers = [threading.Thread(target=reader, args=(a,)) for a in (V1_JSON, HTML, V1_JSON)]
    for t in readers:
        t.start()
    try:
        expected: list[str] = []
        for n in range(12):
            version = f"1.{n}"
            wheel = upload_wheel(tmp_path, "busy", version)
            r = post(server, token, wheel, name="busy", version=version)
            assert r.status_code == 200, r.text
            expected.append(wheel.name)
            doc, response = _json_page(server.url, "busy")
            assert _filenames(doc) == expected
            assert response.headers["x-pypi-last-serial"] == str(n + 1)
            assert get(f"{server.url}/simple/busy/").text.count("</a><br />") == n + 1
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert errors == []


def test_page_cache_unit():
    from attestkit.index.read.simple import PageCache, _Page

    cache = PageCache(max_bytes=400)
    key = ("p", "json", "http://x")
    state = (1, 5, dt.datetime(2025, 1, 1))
    page = _Page(state, 5, b"a" * 100, '"e"')
    cache.put(key, page)
    assert cache.get(key, state) is page
    # Another serial, another project id (recreated, serial restarted) or creation time: a miss.
    assert cache.get(key, (1, 6, state[2])) is None
    assert cache.get(key, (2, 5, state[2])) is None
    assert cache.get(key, (1, 5, dt.datetime(2025, 1, 2))) is None
    assert cache.get(("p", "html", "http://x"), state) is None
    # Replacing keeps one entry per key; least recently used go beyond the byte budget.
    cache.put(key, _Page((1, 6, state[2]), 6, b"b" * 100, '"f"'))
    assert len(cache) == 1 and cache.get(key, state) is None
    for i in range(4):
        cache.put((f"q{i}", "json", ""), _Page(state, 5, b"c" * 100, '"g"'))
    assert len(cache) == 4 and cache.get(key, (1, 6, state[2])) is None
    # A page above a quarter of the budget is not kept (and drops the older one).
    cache.put(("q3", "json", ""), _Page(state, 6, b"d" * 101, '"h"'))
    assert cache.get(("q3", "json", ""), state) is None and len(cache) == 3
    cache.clear()
    assert len(cache) == 0


def test_the_project_list_is_cached_until_the_index_changes(index_factory, tmp_path, monkeypatch):
    """/simple/ is rendered once per change (IndexState), and every kind of change shows."""
    from attestkit.index import admin, lifecycle
    from attestkit.index.read.web import list_projects as real

    index = index_factory()
    seed(index)
    server = serve(index)
    renders: list[int] = []

    def counting(i):
        renders.append(1)
        return real(i)

    monkeypatch.setattr("attestkit.index.read.simple.list_projects", counting)
    json_accept = {"Accept": "application/vnd.pypi.simple.v1+json"}

    def names() -> list[str]:
        doc = requests.get(f"{server.url}/simple/", headers=json_accept, timeout=30).json()
        return [p["name"] for p in doc["projects"]]

    try:
        assert names() == ["pypi-attestations", "rfc8785"]
        assert names() == ["pypi-attestations", "rfc8785"]
        html = requests.get(f"{server.url}/simple/", timeout=30).text
        assert len(renders) == 1 and ">rfc8785</a>" in html  # one rendering served all three
        with index.session() as session:
            admin.create_project(session, "newcomer")
        assert names() == ["newcomer", "pypi-attestations", "rfc8785"]
        with index.session() as session:
            lifecycle.delete_project(session, "newcomer")
        with index.session() as session:  # SQLite may reuse the deleted row's id
            admin.create_project(session, "Other")
        assert names() == ["Other", "pypi-attestations", "rfc8785"]
        add_file(index, "rfc8785", make_wheel(tmp_path, "rfc8785", "9.0"))  # a new serial
        doc = requests.get(f"{server.url}/simple/", headers=json_accept, timeout=30).json()
        serials = {p["name"]: p["_last-serial"] for p in doc["projects"]}
        with index.session() as session:
            project = admin.find_project(session, "rfc8785")
            assert project is not None and serials["rfc8785"] == project.serial
        with index.session() as session:  # a failed transaction changes nothing
            admin.create_project(session, "ghost")
            session.rollback()
        assert "ghost" not in names()
        assert len(renders) == 4
        with index.session() as session:  # no counter row: nothing is cached, nothing stale
            from sqlalchemy import delete

            from attestkit.index.db import IndexState

            session.execute(delete(IndexState))
        with index.session() as session:
            admin.create_project(session, "late")
        assert "late" in names() and "late" in names()
        assert len(renders) == 6
    finally:
        server.stop()
