"""Search over the hosted projects: by name and summary, as a page and as JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from tests.fixtures.uploads import make_sdist, post, setup_project


def test_search_by_name_and_summary(index_server: Any, tmp_path: Path) -> None:
    server = index_server()
    token = setup_project(server)  # project demo-pkg, owned by the token's user
    sdist = make_sdist(tmp_path)
    assert (
        post(server, token, sdist, summary="A tiny demo of 100% attested uploads").status_code
        == 200
    )

    def found(query: str) -> list[str]:
        r = requests.get(f"{server.url}/search/", params={"q": query, "format": "json"}, timeout=30)
        assert r.status_code == 200
        return [p["name"] for p in r.json()["projects"]]

    assert found("demo") == ["demo-pkg"]
    assert found("TINY attested") == ["demo-pkg"]  # every word, in the name or the summary
    assert found("100%") == ["demo-pkg"]  # LIKE wildcards are literal
    assert found("10_%") == []
    assert found("demo nothing-like-this") == []
    assert found("") == []
    page = requests.get(f"{server.url}/search/", params={"q": "<b>demo</b>"}, timeout=30)
    assert page.status_code == 200 and "&lt;b&gt;demo&lt;/b&gt;" in page.text
    hit = requests.get(f"{server.url}/search/", params={"q": "tiny"}, timeout=30).text
    assert 'href="/project/demo-pkg/"' in hit or "/project/demo-pkg/" in hit
