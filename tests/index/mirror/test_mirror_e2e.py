"""The verifying mirror, end to end: real ``attestkit serve`` processes and real installers.

An upstream ``attestkit serve --dev`` holds attested (GitHub, GitLab) and plain
releases; a second ``attestkit serve --mirror UPSTREAM`` (TTL 0: every page read
revalidates) mirrors it, verifying with the upstream's trust root.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from attestkit.index.db import Project, Release
from attestkit.index.instance import Index, IndexConfig
from tests.fixtures.mirror import JSON, Upstream, install, mirror_of, page
from tests.fixtures.uploads import form, make_wheel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    up = Upstream(tmp_path_factory.mktemp("upstream"))
    up.publish("attested-pkg", "1.0", github="octo/attested")
    up.publish("gitlab-pkg", "1.0", gitlab="group/gitlab-pkg")
    up.publish("plain-pkg", "1.0")
    yield up
    up.stop()


def _names(doc: dict) -> list[str]:
    return [f["filename"] for f in doc["files"]]


def _quarantine(mirror_dir: Path, *args: str) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-m", "attestkit", "index", "--data-dir", str(mirror_dir),
         "quarantine", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if "--json" in args else [{"stdout": out.stdout}]


def test_pip_and_uv_install_verified_files_through_the_mirror(
    upstream: Upstream, tmp_path: Path
) -> None:
    mirror = mirror_of(upstream, tmp_path / "mirror", "--mirror-ttl", "0")
    try:
        doc = page(mirror.url, "attested-pkg")
        (entry,) = doc["files"]
        assert entry["url"].startswith(f"{mirror.url}/mirror/files/")
        assert entry["provenance"].startswith(f"{mirror.url}/integrity/attested-pkg/1.0/")
        assert entry["core-metadata"] and entry["size"] and entry["upload-time"]
        # The provenance served is upstream's, verified.
        (up_entry,) = page(upstream.url, "attested-pkg")["files"]
        assert entry["hashes"] == up_entry["hashes"]
        ours = requests.get(entry["provenance"], timeout=30).json()
        theirs = requests.get(up_entry["provenance"], timeout=30).json()
        assert ours == theirs
        assert page(mirror.url, "plain-pkg")["files"][0]["provenance"] is None

        wanted = ("attested-pkg==1.0", "gitlab-pkg==1.0", "plain-pkg==1.0")
        pip = install("pip", mirror.url, tmp_path / "pip", *wanted)
        assert pip.returncode == 0, pip.stdout + pip.stderr
        uv = install("uv", mirror.url, tmp_path / "uv", *wanted)
        assert uv.returncode == 0, uv.stdout + uv.stderr
        for target in ("pip", "uv"):
            assert (tmp_path / target / "gitlab_pkg-1.0.dist-info").is_dir()

        # attestkit verify index reads the mirror like any PEP 740 index.
        checked = subprocess.run(
            [sys.executable, "-m", "attestkit", "verify", "index", "--index-url",
             f"{mirror.url}/simple/", "--trust-config", upstream.trust, "gitlab-pkg==1.0"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "group/gitlab-pkg" in checked.stdout

        web = requests.get(f"{mirror.url}/project/attested-pkg/", timeout=30).text
        assert "GitHub octo/attested" in web and "full-provenance" in web
    finally:
        mirror.stop()


def test_a_changed_publisher_is_quarantined_and_named(upstream: Upstream, tmp_path: Path) -> None:
    upstream.publish("changing-pkg", "1.0", github="octo/changing")
    mirror = mirror_of(upstream, tmp_path / "mirror", "--mirror-ttl", "0")
    try:
        assert _names(page(mirror.url, "changing-pkg")) == ["changing_pkg-1.0-py3-none-any.whl"]
        wheel = upstream.publish("changing-pkg", "2.0", github="evil/fork")
        # Revalidated: 2.0 is on upstream, but the mirror does not serve it.
        assert _names(page(mirror.url, "changing-pkg")) == ["changing_pkg-1.0-py3-none-any.whl"]
        (held,) = _quarantine(tmp_path / "mirror", "list", "--json")
        assert held["filename"] == wheel.name and held["flag"] == "changed"
        assert "pinned to GitHub octo/changing" in held["reason"]
        assert "now GitHub evil/fork" in held["reason"]
        assert "attestkit index quarantine release changing-pkg" in held["reason"]
        web = requests.get(f"{mirror.url}/project/changing-pkg/", timeout=30).text
        assert wheel.name in web and "changed-provenance" in web
        sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
        direct = requests.get(f"{mirror.url}/mirror/files/{sha}/{wheel.name}", timeout=30)
        assert direct.status_code == 403 and "publisher changed" in direct.text
        pinned = install("pip", mirror.url, tmp_path / "pip2", "changing-pkg==2.0")
        assert pinned.returncode != 0
        latest = install("pip", mirror.url, tmp_path / "pip", "changing-pkg")
        assert latest.returncode == 0 and (tmp_path / "pip" / "changing_pkg-1.0.dist-info").is_dir()

        # The operator accepts the new publisher: 2.0 is served from then on.
        _quarantine(tmp_path / "mirror", "release", "changing-pkg", wheel.name)
        assert wheel.name in _names(page(mirror.url, "changing-pkg"))
        served = requests.get(f"{mirror.url}/mirror/files/{sha}/{wheel.name}", timeout=30)
        assert served.status_code == 200 and served.content == wheel.read_bytes()
        assert _quarantine(tmp_path / "mirror", "list", "--json") == []
    finally:
        mirror.stop()


def test_a_file_tampered_upstream_is_never_served(upstream: Upstream, tmp_path: Path) -> None:
    first = upstream.publish("tamper-pkg", "1.0", github="octo/tamper")
    second = upstream.publish("tamper-pkg", "1.1", github="octo/tamper")
    mirror = mirror_of(upstream, tmp_path / "mirror", "--mirror-ttl", "0")
    try:
        urls = {f["filename"]: f["url"] for f in page(mirror.url, "tamper-pkg")["files"]}
        assert requests.get(urls[first.name], timeout=30).content == first.read_bytes()
        # Upstream's stored bytes change behind its own page's back.
        for stored in Path(upstream.data, "index", "files").rglob("tamper_pkg-*.whl"):
            stored.write_bytes(b"PK tampered")
        cached = requests.get(urls[first.name], timeout=30)
        assert cached.status_code == 200 and cached.content == first.read_bytes()
        fresh = requests.get(urls[second.name], timeout=30)
        assert fresh.status_code == 403
        assert "upstream served other bytes" in fresh.text
        (held,) = _quarantine(tmp_path / "mirror", "list", "--json", "--project", "tamper-pkg")
        assert held["filename"] == second.name and held["flag"] == "bytes"
        assert _names(page(mirror.url, "tamper-pkg")) == [first.name]
        refused = subprocess.run(
            [sys.executable, "-m", "attestkit", "index", "--data-dir", str(tmp_path / "mirror"),
             "quarantine", "release", "tamper-pkg", second.name],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert refused.returncode == 2 and "never released" in refused.stderr
    finally:
        mirror.stop()


def test_a_hosted_name_never_falls_through_to_upstream(upstream: Upstream, tmp_path: Path) -> None:
    upstream.publish("shadow-pkg", "9.0", github="evil/shadow")
    upstream.publish("corp-secret", "9.0")
    mirror = mirror_of(upstream, tmp_path / "mirror", "--mirror-ttl", "0", "--local-only", "corp-*")
    try:
        d = str(tmp_path / "mirror")
        mirror.ak("index", "--data-dir", d, "user", "add", "bob")
        token = mirror.ak("index", "--data-dir", d, "token", "add", "--user", "bob")
        local = make_wheel(tmp_path, "shadow-pkg", "1.0")
        uploaded = requests.post(
            f"{mirror.url}/legacy/",
            data=form(local, name="shadow-pkg", version="1.0"),
            files={"content": (local.name, local.read_bytes(), "application/octet-stream")},
            auth=("__token__", token),
            timeout=60,
        )
        assert uploaded.status_code == 200, uploaded.reason
        for spelling in ("shadow-pkg", "Shadow_Pkg", "SHADOW.pkg"):
            r = requests.get(
                f"{mirror.url}/simple/{spelling}/", headers={"Accept": JSON}, timeout=30
            )
            assert r.status_code == 200
            assert _names(r.json()) == [local.name]
            assert all("/mirror/" not in f["url"] for f in r.json()["files"])
        # A local-only name is never read from upstream, even when nothing hosts it here.
        assert requests.get(f"{mirror.url}/simple/corp-secret/", timeout=30).status_code == 404
        got = install("pip", mirror.url, tmp_path / "pip", "shadow-pkg")
        assert got.returncode == 0 and (tmp_path / "pip" / "shadow_pkg-1.0.dist-info").is_dir()
    finally:
        mirror.stop()


def test_yanked_files_stay_yanked(upstream: Upstream, tmp_path: Path) -> None:
    upstream.publish("yank-pkg", "1.0", github="octo/yank")
    mirror = mirror_of(upstream, tmp_path / "mirror", "--mirror-ttl", "0")
    try:
        assert page(mirror.url, "yank-pkg")["files"][0]["yanked"] is False
        index = Index.open(IndexConfig(data_dir=Path(upstream.data, "index")))
        try:
            with index.session() as session:
                project = session.query(Project).filter_by(normalized_name="yank-pkg").one()
                release = session.query(Release).filter_by(project_id=project.id).one()
                release.yanked, release.yanked_reason = True, "broken build"
                project.serial += 1
        finally:
            index.close()
        assert page(upstream.url, "yank-pkg")["files"][0]["yanked"] == "broken build"
        assert page(mirror.url, "yank-pkg")["files"][0]["yanked"] == "broken build"
        html = requests.get(f"{mirror.url}/simple/yank-pkg/", timeout=30).text
        assert 'data-yanked="broken build"' in html
        # A yanked file is still served to an exact pin, as PEP 592 says.
        got = install("pip", mirror.url, tmp_path / "pip", "yank-pkg==1.0")
        assert got.returncode == 0, got.stdout + got.stderr
    finally:
        mirror.stop()


def test_cached_projects_are_served_while_upstream_is_down(tmp_path: Path) -> None:
    upstream = Upstream(tmp_path / "up")
    try:
        upstream.publish("offline-pkg", "1.0", github="octo/offline")
        mirror = mirror_of(upstream, tmp_path / "mirror", "--mirror-ttl", "0")
    except BaseException:
        upstream.stop()
        raise
    try:
        first = install("pip", mirror.url, tmp_path / "pip1", "offline-pkg==1.0")
        assert first.returncode == 0, first.stdout + first.stderr
        upstream.stop()
        r = requests.get(f"{mirror.url}/simple/offline-pkg/", headers={"Accept": JSON}, timeout=30)
        assert r.status_code == 200 and "upstream unavailable" in r.headers["X-Attestkit-Stale"]
        assert r.headers["Warning"].startswith("110 ")
        again = install("pip", mirror.url, tmp_path / "pip2", "offline-pkg==1.0")
        assert again.returncode == 0, again.stdout + again.stderr
        uv = install("uv", mirror.url, tmp_path / "uv", "offline-pkg==1.0")
        assert uv.returncode == 0, uv.stdout + uv.stderr
        never = requests.get(f"{mirror.url}/simple/never-fetched/", timeout=30)
        assert never.status_code == 503 and int(never.headers["Retry-After"]) > 0
        assert never.text.startswith(f"503 upstream {upstream.url}/simple/ is unavailable")
        assert requests.get(f"{mirror.url}/project/offline-pkg/", timeout=30).status_code == 200
    finally:
        mirror.stop()
        upstream.stop()
