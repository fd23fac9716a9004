"""The mirror in process, on SQLite and PostgreSQL: real PyPI provenance, hostile upstreams.

The upstream is an attestkit index (read-side routes on 127.0.0.1) serving the
pypi-attestations sdist with its real PyPI provenance (GitHub), a GitLab-published
sdist and a wheel without provenance; the mirror verifies against Sigstore's
production trust root, as a production mirror of PyPI would.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
import requests

from attestkit.core.install_policy import Policy
from attestkit.index.db import MirrorFile
from attestkit.index.mirror import MirrorConfig, release_file
from attestkit.sigstore.trust import TrustRoot
from tests.conftest import DATA, SDIST
from tests.fixtures.mirror import JSON

PRODUCTION = (TrustRoot.production(),)


def _mirror(index_server: Any, upstream: str, **options: Any) -> Any:
    config = MirrorConfig(upstreams=(upstream,), ttl=options.pop("ttl", 0), **options)
    return index_server(trust_roots=PRODUCTION, mirror=config)


def _page(url: str, name: str) -> requests.Response:
    return requests.get(f"{url}/simple/{name}/", headers={"Accept": JSON}, timeout=30)


def test_real_pypi_provenance_verifies_through_the_mirror(
    lock_index: str, index_server: Any
) -> None:
    mirror = _mirror(index_server, lock_index)
    doc = _page(mirror.url, "pypi-attestations").json()
    (entry,) = doc["files"]
    assert entry["filename"] == SDIST
    # Listed at once (judged in the background); its provenance is served once verified.
    provenance = requests.get(entry["provenance"], timeout=30)
    assert provenance.status_code == 200
    assert provenance.json() == json.loads((DATA / f"{SDIST}.provenance").read_text())
    body = requests.get(entry["url"], timeout=30).content
    assert body == (DATA / SDIST).read_bytes()
    view = mirror.index.mirror.view("pypi-attestations")
    (publisher,) = view.publishers
    assert publisher[0]["repository"] == "trailofbits/pypi-attestations" and publisher[3]
    # The wheel without provenance is served (the default policy allows it), marked as such.
    (plain,) = _page(mirror.url, "rfc8785").json()["files"]
    assert plain["provenance"] is None
    assert requests.get(plain["url"], timeout=30).status_code == 200
    # The HTML page says the same, and its project-status is the upstream's.
    html = requests.get(f"{mirror.url}/simple/pypi-attestations/", timeout=30).text
    assert (
        'data-provenance="' in html and '<meta name="pypi:project-status" content="active">' in html
    )


def test_a_require_policy_quarantines_a_file_without_provenance(
    lock_index: str, index_server: Any
) -> None:
    policy = Policy.from_dict({"projects": {"rfc8785": {"mode": "require"}}})
    mirror = _mirror(index_server, lock_index, policy=policy)
    (pending,) = _page(mirror.url, "rfc8785").json()["files"]
    refused = requests.get(pending["url"], timeout=30)
    assert refused.status_code == 403 and "the policy requires it" in refused.text
    assert _page(mirror.url, "rfc8785").json()["files"] == []
    with mirror.index.session() as session:
        row = session.query(MirrorFile).one()
        assert row.state == "quarantined" and row.flag == "policy"
        assert "the policy requires it" in (row.reason or "")
    web = requests.get(f"{mirror.url}/project/rfc8785/", timeout=30).text
    assert "Quarantined" in web and "the policy requires it" in web
    with mirror.index.session() as session:
        release_file(session, "rfc8785", row.filename)
    assert len(_page(mirror.url, "rfc8785").json()["files"]) == 1


def test_an_untrusted_root_quarantines_everything_attested(
    lock_index: str, index_server: Any
) -> None:
    """Attestations that do not verify under the mirror's roots never pass (staging root)."""
    config = MirrorConfig(upstreams=(lock_index,), ttl=0)
    mirror = index_server(trust_roots=(TrustRoot.staging(),), mirror=config)
    (pending,) = _page(mirror.url, "pypi-attestations").json()["files"]
    sha = hashlib.sha256((DATA / SDIST).read_bytes()).hexdigest()
    assert pending["url"] == f"{mirror.url}/mirror/files/{sha}/{SDIST}"
    r = requests.get(pending["url"], timeout=30)
    assert r.status_code == 403 and "does not verify" in r.text
    assert _page(mirror.url, "pypi-attestations").json()["files"] == []
    with mirror.index.session() as session:
        row = session.query(MirrorFile).one()
        assert row.flag == "signature"
    integrity = requests.get(
        f"{mirror.url}/integrity/pypi-attestations/0.0.19/{SDIST}/provenance", timeout=30
    )
    assert integrity.status_code == 404


def test_a_policy_binds_a_name_to_one_upstream(
    lock_index: str, index_server: Any, index_factory: Any
) -> None:
    other = index_server()  # an empty index: has nothing
    policy = Policy.from_dict({"projects": {"rfc8785": {"index": f"{other.url}/simple/"}}})
    mirror = _mirror(index_server, lock_index, policy=policy)
    assert _page(mirror.url, "rfc8785").status_code == 404  # never read from lock_index
    assert _page(mirror.url, "pypi-attestations").status_code == 200


# -- hostile and failing upstreams ---------------------------------------------------------


class _Canned(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}

    def do_GET(self) -> None:
        status, headers, body = self.routes.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def canned() -> Iterator[Callable[[dict[str, tuple[int, dict[str, str], bytes]]], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(routes: dict[str, tuple[int, dict[str, str], bytes]]) -> str:
        handler = type("Handler", (_Canned,), {"routes": routes})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/simple/"

    yield start
    for server in servers:
        server.shutdown()


def _json(doc: Any) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": JSON}, json.dumps(doc).encode()


SHA = "a" * 64


@pytest.mark.parametrize(
    ("answer", "status", "text"),
    [
        ((500, {}, b"boom"), 503, "answered 500"),
        ((200, {"Content-Type": "text/html"}, b"<html>"), 502, "did not answer a PEP 691"),
        ((200, {"Content-Type": JSON}, b"{not json"), 502, "is not valid JSON"),
        (_json({"meta": {"api-version": "2.0"}, "files": []}), 502, "speaks Simple API 2.0"),
        (_json({"files": "nope"}), 502, "no files array"),
    ],
)
def test_a_failing_upstream_is_a_one_line_5xx_never_a_500(
    canned: Any, index_server: Any, answer: Any, status: int, text: str
) -> None:
    upstream = canned({"/simple/demo/": answer})
    mirror = _mirror(index_server, upstream)
    r = _page(mirror.url, "demo")
    assert r.status_code == status and text in r.text
    assert "\n" not in r.text.strip()
    if status == 503:
        assert int(r.headers["Retry-After"]) > 0


def test_hostile_entries_are_dropped_and_markup_is_escaped(canned: Any, index_server: Any) -> None:
    files = [
        {"filename": "../../etc/passwd", "url": "x", "hashes": {"sha256": SHA}},
        {"filename": "demo-1.0.tar.gz", "url": "demo-1.0.tar.gz", "hashes": {"md5": "0" * 32}},
        {"filename": "demo-1.1.tar.gz", "url": "http://example.com/d.tgz", "hashes": {"sha256": SHA}},
        {"filename": "demo-1.2.tar.gz", "url": "demo-1.2.tar.gz", "hashes": {"sha256": SHA},
         "requires-python": ">=3.8", "yanked": "bad <b>", "size": "big"},
    ]  # fmt: skip
    status = {"status": 'active"><script>', "reason": "<i>x</i>"}
    doc = {"meta": {"api-version": "1.4"}, "files": files, "project-status": status}
    upstream = canned({"/simple/demo/": _json(doc)})
    mirror = _mirror(index_server, upstream)
    (entry,) = _page(mirror.url, "demo").json()["files"]
    assert entry["filename"] == "demo-1.2.tar.gz" and "size" not in entry
    assert entry["yanked"] == "bad <b>"
    html = requests.get(f"{mirror.url}/simple/demo/", timeout=30).text
    assert "<script>" not in html and "<i>" not in html and "<b>" not in html
    assert 'data-yanked="bad &lt;b&gt;"' in html


def test_bytes_other_than_announced_are_never_served(canned: Any, index_server: Any) -> None:
    good = b"the real sdist"
    digest = hashlib.sha256(good).hexdigest()
    files = [{"filename": "demo-1.0.tar.gz", "url": "/files/demo-1.0.tar.gz",
              "hashes": {"sha256": digest}}]  # fmt: skip
    routes = {
        "/simple/demo/": _json({"meta": {"api-version": "1.1"}, "files": files}),
        "/files/demo-1.0.tar.gz": (200, {}, b"something else"),
    }
    upstream = canned(routes)
    mirror = _mirror(index_server, upstream)
    (entry,) = _page(mirror.url, "demo").json()["files"]
    r = requests.get(entry["url"], timeout=30)
    assert r.status_code == 403 and "upstream served other bytes" in r.text
    assert not list(mirror.index.local_store.root.rglob("demo-1.0.tar.gz*"))  # nothing half-written
    assert _page(mirror.url, "demo").json()["files"] == []
    # Upstream repairs the file: it stays quarantined (a decision for the operator).
    routes["/files/demo-1.0.tar.gz"] = (200, {}, good)
    assert requests.get(entry["url"], timeout=30).status_code == 403


def test_a_project_removed_upstream_keeps_its_history(canned: Any, index_server: Any) -> None:
    """An upstream 404 empties the page but never resets trust on first use."""
    data = b"an sdist"
    files = [{"filename": "demo-1.0.tar.gz", "url": "/files/demo-1.0.tar.gz",
              "hashes": {"sha256": hashlib.sha256(data).hexdigest()}}]  # fmt: skip
    page = _json({"meta": {"api-version": "1.4"}, "files": files})
    routes = {"/simple/demo/": page, "/files/demo-1.0.tar.gz": (200, {}, data)}
    mirror = _mirror(index_server, canned(routes))
    (entry,) = _page(mirror.url, "demo").json()["files"]
    assert requests.get(entry["url"], timeout=30).content == data  # judged and served
    del routes["/simple/demo/"]
    assert _page(mirror.url, "demo").json()["files"] == []
    assert requests.get(entry["url"], timeout=30).status_code == 404
    with mirror.index.session() as session:
        (row,) = session.query(MirrorFile).all()
        assert row.state == "unattested" and row.listed is False and row.initial is True
    routes["/simple/demo/"] = page
    assert len(_page(mirror.url, "demo").json()["files"]) == 1
    with mirror.index.session() as session:
        (row,) = session.query(MirrorFile).all()
        assert row.state == "unattested" and row.listed is True  # the same row, not a new one
