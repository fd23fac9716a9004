"""``attestkit check``: metadata, the index's file-name rules and the README, nothing sent."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from tests.fixtures.uploads import make_sdist


def _wheel(directory: Path, name: str, readme: str | None, content_type: str | None) -> Path:
    dist = f"{name.replace('-', '_')}-1.0"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\nSummary: s\n"
    if content_type:
        metadata += f"Description-Content-Type: {content_type}\n"
    if readme is not None:
        metadata += f"\n{readme}"
    path = directory / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{dist}.dist-info/METADATA", metadata)
        zf.writestr(f"{dist}.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")
        zf.writestr(f"{dist}.dist-info/RECORD", "")
    return path


def test_a_good_set_passes_with_warnings_where_twine_warns(cli, tmp_path: Path) -> None:
    good = _wheel(tmp_path, "good-pkg", "# Title\n\nText.\n", "text/markdown")
    bare = _wheel(tmp_path, "bare-pkg", None, None)
    r = cli("check", str(good), str(bare))
    assert r.code == 0, r
    assert r.out == f"OK {good}\nOK {bare}\n"
    assert f"warning: {bare}: no long description" in r.err


def test_what_the_index_or_pypi_would_refuse_fails(cli, tmp_path: Path) -> None:
    broken = _wheel(tmp_path, "rst-pkg", "Title\n=====\n\n.. raw:: html\n\n   <b>x</b>\n", None)
    r = cli("check", "--json", str(broken))
    assert r.code == 1, r
    (row,) = json.loads(r.out)
    assert row["ok"] is False
    assert row["errors"][0].startswith("the reStructuredText README does not render on PyPI")
    sdist = make_sdist(tmp_path, "hello-ux", "1.1.0", filename="hello-ux-1.1.0.tar.gz")
    r = cli("check", str(sdist))
    assert r.code == 1
    assert "should be 'hello_ux-1.1.0.tar.gz'" in r.out


def test_default_is_dist(cli, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "dist").mkdir()
    good = _wheel(tmp_path / "dist", "good-pkg", "text", "text/plain")
    monkeypatch.chdir(tmp_path)
    r = cli("check")
    assert r.code == 0 and r.out == f"OK {good.relative_to(tmp_path)}\n", r
