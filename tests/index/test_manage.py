"""The management API (``/manage/...``) on a running server: Owners yank, delete, set status, roles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fixtures.processes import ServerProcess, ak, start_server
from tests.fixtures.uploads import make_wheel, post_upload

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def _upload(url: str, token: str, wheel: Path, version: str) -> requests.Response:
    return post_upload(url, token, wheel, name="team-pkg", version=version)


class Api:
    def __init__(self, served: ServerProcess) -> None:
        self.base = f"{served.url}/manage/project/team-pkg"

    def call(
        self, method: str, path: str, token: str | None, body: Any = None, **kw: Any
    ) -> requests.Response:
        auth = ("__token__", token) if token else None
        return requests.request(method, self.base + path, json=body, auth=auth, timeout=30, **kw)


@pytest.fixture
def team(tmp_path: Path) -> Any:
    served = start_server(["serve"], tmp_path / "d")
    admin = ("index", "--data-dir", str(tmp_path / "d"))
    try:
        for name in ("alice", "bob"):
            assert ak(*admin, "user", "add", name).returncode == 0
        tokens = {
            n: ak(*admin, "token", "add", "--user", n).stdout.strip() for n in ("alice", "bob")
        }
        yield served, admin, tokens
    finally:
        served.stop()


def _files(url: str) -> dict[str, Any]:
    doc = requests.get(f"{url}/simple/team-pkg/", headers=JSON, timeout=30).json()
    assert isinstance(doc, dict)
    return doc


def test_owners_manage_a_project_over_http(team: Any, tmp_path: Path) -> None:
    served, _admin, tokens = team
    alice, bob = tokens["alice"], tokens["bob"]
    api = Api(served)
    wheels = {v: make_wheel(tmp_path, "team-pkg", v) for v in ("1.0", "2.0", "3.0", "4.0")}
    for version in ("1.0", "2.0"):
        assert _upload(served.url, alice, wheels[version], version).status_code == 200

    # Nobody, and a user with no role, changes nothing.
    assert api.call("POST", "/release/2.0/yank", None).status_code == 403
    refused = api.call("POST", "/release/2.0/yank", bob)
    assert refused.status_code == 403
    assert refused.json() == {"error": "user 'bob' is not an Owner of project 'team-pkg'"}

    # An Owner makes bob a Maintainer: he may upload, not manage.
    made = api.call("PUT", "/roles/bob", alice, {"role": "Maintainer"})
    assert made.status_code == 200 and made.json()["role"] == "Maintainer", made.text
    assert _upload(served.url, bob, wheels["3.0"], "3.0").status_code == 200
    assert api.call("POST", "/release/3.0/yank", bob).status_code == 403
    roles = api.call("GET", "/roles", alice).json()["roles"]
    assert roles == [{"user": "alice", "role": "Owner"}, {"user": "bob", "role": "Maintainer"}]

    # Yank with a reason, then unyank; every change bumps the serial.
    serial = _files(served.url)["meta"]["_last-serial"]
    done = api.call("POST", "/release/2.0/yank", alice, {"reason": "broken"})
    assert done.status_code == 200 and done.json()["reason"] == "broken", done.text
    page = _files(served.url)
    assert page["meta"]["_last-serial"] == serial + 1
    yanked = {f["filename"]: f["yanked"] for f in page["files"]}
    assert yanked[wheels["2.0"].name] == "broken"
    assert api.call("POST", "/release/2.0/unyank", alice).status_code == 200
    assert all(f["yanked"] is False for f in _files(served.url)["files"])

    # PEP 792: archived refuses uploads; quarantined withdraws the files.
    archived = api.call("PUT", "/status", alice, {"status": "archived", "reason": "moved"})
    assert archived.status_code == 200, archived.text
    assert _files(served.url)["project-status"] == {"status": "archived", "reason": "moved"}
    late = _upload(served.url, alice, wheels["4.0"], "4.0")
    assert late.status_code == 400 and "is archived" in late.text
    url = _files(served.url)["files"][0]["url"]
    assert api.call("PUT", "/status", alice, {"status": "quarantined"}).status_code == 200
    page = _files(served.url)
    assert page["project-status"] == {"status": "quarantined"} and page["files"] == []
    assert requests.get(url, timeout=30).status_code == 404
    assert api.call("PUT", "/status", alice, {"status": "active"}).status_code == 200
    assert requests.get(url, timeout=30).status_code == 200
    bad = api.call("PUT", "/status", alice, {"status": "gone"})
    assert bad.status_code == 400 and "unknown project status 'gone'" in bad.json()["error"]

    # Deleting a file: its name is never accepted again.
    gone = api.call("DELETE", f"/file/{wheels['3.0'].name}", alice)
    assert gone.status_code == 200, gone.text
    again = _upload(served.url, alice, wheels["3.0"], "3.0")
    assert again.status_code == 400 and "previously used" in again.text
    missing = api.call("DELETE", "/release/9.9", alice)
    assert missing.status_code == 404 and "has no release '9.9'" in missing.json()["error"]
    assert api.call("DELETE", "/release/1.0", alice).json()["files"] == 1
    assert {f["filename"] for f in _files(served.url)["files"]} == {wheels["2.0"].name}

    # The last Owner stays; hostile bodies get a 4xx.
    last = api.call("DELETE", "/roles/alice", alice)
    assert last.status_code == 400 and "last Owner" in last.json()["error"]
    junk = api.call("POST", "/release/2.0/yank", alice, data=b"[1,2]",
                    headers={"Content-Type": "application/json"})  # fmt: skip
    assert junk.status_code == 400
    huge = api.call("POST", "/release/2.0/yank", alice, {"reason": "x" * 20000})
    assert huge.status_code == 413

    # Another site's page cannot use a browser's cached credentials (CSRF).
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": "null"}):  # fmt: skip
        forged = api.call("POST", "/release/2.0/yank", alice, headers=headers)
        assert forged.status_code == 403, headers
    same = api.call("POST", "/release/2.0/unyank", alice, headers={"Origin": served.url})
    assert same.status_code == 200

    assert api.call("DELETE", "", alice).status_code == 200
    assert requests.get(f"{served.url}/simple/team-pkg/", timeout=30).status_code == 404


def test_scoped_and_trusted_publishing_tokens_do_not_manage(team: Any, tmp_path: Path) -> None:
    from attestkit.index import admin as index_admin
    from attestkit.index.instance import Index, IndexConfig

    served, admin, tokens = team
    wheel = make_wheel(tmp_path, "team-pkg", "1.0")
    assert _upload(served.url, tokens["alice"], wheel, "1.0").status_code == 200
    assert ak(*admin, "project", "add", "other", "--owner", "alice").returncode == 0
    scoped = ak(*admin, "token", "add", "--user", "alice", "--project", "other").stdout.strip()
    refused = Api(served).call("POST", "/release/1.0/yank", scoped)
    assert refused.status_code == 403 and "project-scoped token" in refused.json()["error"]

    index = Index.open(IndexConfig(data_dir=served.data_dir / "index"))
    try:
        with index.session() as session:
            project = index_admin.find_project(session, "team-pkg")
            publisher = index_admin.add_publisher(
                session, "GitHub", {"repository": "o/r", "workflow": "r.yml"}, project=project
            )
            minted, _ = index_admin.create_token(session, publisher=publisher)
    finally:
        index.close()
    refused = Api(served).call("POST", "/release/1.0/yank", minted)
    assert refused.status_code == 403
    assert refused.json() == {"error": "tokens minted by Trusted Publishing can only upload"}
