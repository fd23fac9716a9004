"""The provenance web pages as headless Chromium renders them.

A real index server (uvicorn on 127.0.0.1) holds the pypi-attestations sdist
with PyPI's real provenance, which verifies against the production Sigstore
trust root, and the rfc8785 wheel without provenance.  Debian's ``chromium``
is driven from the command line only, no extra Python packages:
``--dump-dom`` gives the DOM after the page has loaded (parsed here with the
standard library's ``html.parser``) and ``--screenshot`` a PNG.

The layout check renders the pages in iframes of a probe page served by the
same server (same origin). The pages refuse to be framed (``X-Frame-Options:
DENY``), so the probe fetches each one and renders its HTML through ``srcdoc``;
its script then measures each rendered page (any horizontal overflow, each
badge's box and computed style) and writes the result into its own DOM, where
``--dump-dom`` picks it up.

Skipped, with the reason, where ``chromium`` is not installed; ``.ci/run``
installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from attestkit import TrustRoot
from attestkit.index.app import create_app
from attestkit.index.instance import Index, IndexConfig
from attestkit.serving.devmode import BANNER
from tests.fixtures.index_server import Server, start_server
from tests.fixtures.processes import ServerProcess
from tests.fixtures.processes import start_server as start_process
from tests.fixtures.readside import SDIST_PROVENANCE, seed

CHROMIUM = shutil.which("chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="chromium is not installed (Debian's chromium package; .ci/run installs it)",
    ),
]

# Headless, as root, on a machine without outside network: no sandbox, no GPU,
# none of the background connections, and a fresh profile each time.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)

SDIST = "pypi_attestations-0.0.19.tar.gz"
WHEEL = "rfc8785-0.1.2-py3-none-any.whl"
PUBLISHER = "GitHub trailofbits/pypi-attestations workflow release.yml"
REPO = "https://github.com/trailofbits/pypi-attestations"
WORKFLOW = ".github/workflows/release.yml@refs/tags/v0.0.19"
COMMIT = "08802efe1f8e5fec4ad842d6b8ce97656092ee72"
RUN = f"{REPO}/actions/runs/12169989787/attempts/1"
SDIST_PAGE = f"/project/pypi-attestations/0.0.19/{SDIST}"
WHEEL_PAGE = f"/project/rfc8785/0.1.2/{WHEEL}"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def real_log_index() -> str:
    """The Rekor log index recorded in the sdist's real provenance."""
    provenance = json.loads(SDIST_PROVENANCE.read_text())
    (bundle,) = provenance["attestation_bundles"]
    (attestation,) = bundle["attestations"]
    (entry,) = attestation["verification_material"]["transparency_entries"]
    return str(entry["logIndex"])


LOG_INDEX = real_log_index()  # 153454663


# ----------------------------------------------------------------------
# Chromium


def chromium(workdir: Path, *args: str, timeout: float = 60) -> str:
    """Run headless Chromium with ``args`` and a fresh profile; its stdout."""
    assert CHROMIUM is not None
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir)
    proc = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, killed whole on a timeout
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"chromium {args} timed out; stderr:\n{err[-3000:]}") from None
    assert proc.returncode == 0, f"chromium {args} exited {proc.returncode}:\n{err[-3000:]}"
    return out


def dump_dom(workdir: Path, url: str, *, window: str = "1280,1600", wait_ms: int = 0) -> Element:
    """The DOM of ``url`` after it loaded (and ``wait_ms`` of its scripts' time), serialized."""
    wait = [f"--virtual-time-budget={wait_ms}"] if wait_ms else []
    dom = chromium(workdir, f"--window-size={window}", *wait, "--dump-dom", url)
    assert dom.lstrip().startswith("<!DOCTYPE html>"), dom[:500]
    return parse(dom)


def screenshot(workdir: Path, url: str, path: Path, *, width: int, height: int) -> bytes:
    """A PNG screenshot of ``url`` in a ``width`` x ``height`` window."""
    chromium(workdir, f"--window-size={width},{height}", f"--screenshot={path}", url)
    return path.read_bytes()


# ----------------------------------------------------------------------
# A small DOM from html.parser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        """The text content, whitespace collapsed."""
        parts: list[str] = []

        def walk(node: Element | str) -> None:
            if isinstance(node, str):
                parts.append(node)
            elif node.tag not in ("style", "script"):
                for child in node.children:
                    walk(child)

        walk(self)
        return " ".join("".join(parts).split())

    def iter(self) -> Iterator[Element]:
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        return [
            e
            for e in self.iter()
            if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)
        ]

    def find(self, tag: str | None = None, cls: str | None = None) -> Element:
        found = self.find_all(tag, cls)
        assert found, f"no <{tag or '*'} class={cls}> in {self.text()[:300]!r}"
        return found[0]

    def links(self) -> list[tuple[str, str]]:
        """(href, text) of every anchor inside."""
        return [(a.attrs.get("href", ""), a.text()) for a in self.find_all("a")]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Element:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def labelled(node: Element) -> list[tuple[str, Element]]:
    """Every (label, value) pair inside: ``<dt>``/``<dd>`` and ``<th>``/``<td>``."""
    pairs: list[tuple[str, Element]] = []
    for container in node.find_all("dl") + node.find_all("tr"):
        kids = [c for c in container.children if isinstance(c, Element)]
        for label, value in pairwise(kids):
            if (label.tag, value.tag) in (("dt", "dd"), ("th", "td")):
                pairs.append((label.text(), value))
    return pairs


def values(node: Element, label: str) -> list[Element]:
    return [value for key, value in labelled(node) if key == label]


def badges(node: Element) -> list[str]:
    return [b.text() for b in node.find_all(cls="badge")]


def assert_provenance(node: Element) -> None:
    """Publisher, repository, workflow, commit, run link and log entry, as rendered."""
    assert PUBLISHER in [v.text() for v in values(node, "publisher")] or any(
        h.text() == f"Bundle 1: {PUBLISHER}" for h in node.find_all("h3")
    )
    assert (REPO, REPO) in [link for v in values(node, "repository") for link in v.links()]
    assert WORKFLOW in [v.text() for v in values(node, "workflow")]
    commits = [link for v in values(node, "commit") for link in v.links()]
    assert (f"{REPO}/commit/{COMMIT}", COMMIT) in commits
    assert (RUN, RUN) in [link for v in values(node, "run") for link in v.links()]
    assert LOG_INDEX in [v.text() for v in values(node, "log index")]


# ----------------------------------------------------------------------
# The server

LAYOUT_PAGES = ("/project/pypi-attestations/", SDIST_PAGE, "/project/rfc8785/", WHEEL_PAGE)
LAYOUT_WIDTHS = (1280, 480)

# The pages may not be framed (X-Frame-Options: DENY, frame-ancestors 'none'), so the probe
# fetches each one (same origin) and renders its HTML in an iframe's srcdoc, then measures.
LAYOUT_SCRIPT = """
(async () => {
  const frames = [...document.querySelectorAll("iframe")];
  await Promise.all(frames.map(async (frame) => {
    const html = await (await fetch(frame.dataset.src)).text();
    await new Promise((done) => { frame.onload = done; frame.srcdoc = html; });
  }));
  const pages = [];
  for (const frame of frames) {
    const doc = frame.contentDocument, win = frame.contentWindow;
    const badges = [...doc.querySelectorAll(".badge")].map((b) => {
      const box = b.getBoundingClientRect(), style = win.getComputedStyle(b);
      return {text: b.textContent, classes: b.className, width: box.width, height: box.height,
              left: box.left, right: box.right, display: style.display,
              visibility: style.visibility, color: style.color, background: style.backgroundColor};
    });
    pages.push({src: frame.dataset.src, frameWidth: frame.width, title: doc.title,
                clientWidth: doc.documentElement.clientWidth,
                scrollWidth: doc.documentElement.scrollWidth, badges});
  }
  document.getElementById("result").textContent = JSON.stringify(pages);
})();
"""
#: The probe's own policy (test infrastructure): its inline script and same-origin fetches.
PROBE_CSP = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"


async def layout_probe(request: Request) -> HTMLResponse:
    frames = "".join(
        f'<iframe data-src="{escape(page)}" width="{width}" height="1000"></iframe>'
        for width in LAYOUT_WIDTHS
        for page in LAYOUT_PAGES
    )
    return HTMLResponse(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>layout probe</title></head>'
        f'<body>{frames}<pre id="result">pending</pre><script>{LAYOUT_SCRIPT}</script></body></html>',
        headers={"Content-Security-Policy": PROBE_CSP},
    )


README = """# Attestations for Python

| format | status |
|--------|--------|
| PEP 740 | ~~draft~~ final |

<script>document.title = "pwned"</script>
<img src="x" onerror="document.title = 'pwned'">
[click](javascript:document.title='pwned')

```
pip install pypi-attestations
```
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The full index app (plus the layout probe page) with the two real distributions.

    One server for the module, on SQLite: what is rendered does not depend on
    the database (test_pages.py runs the same pages on every backend).
    """
    data_dir = tmp_path_factory.mktemp("browser-index")
    index = Index.open(IndexConfig(data_dir=data_dir, trust_roots=(TrustRoot.production(),)))
    seed(index)
    with index.session() as session:  # a README, hostile parts included, and a status
        from sqlalchemy import select

        from attestkit.index.db import Project, Release

        release = session.scalars(select(Release)).all()
        for r in release:
            if r.version == "0.0.19":
                r.metadata_json = {
                    **r.metadata_json,
                    "description": README,
                    "description_content_type": "text/markdown; charset=UTF-8",
                }
        project = session.scalar(select(Project).where(Project.name == "pypi-attestations"))
        assert project is not None
        project.status, project.status_reason = "deprecated", "use the successor"
    server = start_server(
        index, lambda i: create_app(i, extra_routes=[Route("/_layout-probe", layout_probe)])
    )
    try:
        yield server
    finally:
        server.stop()
        index.close()


# ----------------------------------------------------------------------
# Tests


def test_project_page_shows_verified_provenance_and_links_to_the_file_page(site, tmp_path):
    dom = dump_dom(tmp_path, site.url + "/project/pypi-attestations/")
    assert dom.find("title").text() == "pypi-attestations"
    assert dom.find("h1").text() == "pypi-attestations 0.0.19"
    (block,) = dom.find_all("div", cls="file")
    name = block.find("a", cls="name")
    assert name.text() == SDIST
    assert badges(block) == ["\u2713 verified"]
    assert "verified" in block.find(cls="badge").classes
    assert_provenance(block)
    assert [v.text() for v in values(block, "attestation")] == ["publish/v1"]

    # Follow the file's link, as a reader would, to its own page.
    href = name.attrs["href"]
    assert href == SDIST_PAGE
    page = dump_dom(tmp_path, urljoin(site.url + "/project/pypi-attestations/", href))
    h1 = page.find("h1")
    assert h1.children[0] == SDIST
    assert badges(h1) == ["\u2713 verified"]
    assert_provenance(page)


def test_file_page_shows_certificate_and_log_entry(site, tmp_path):
    assert LOG_INDEX == "153454663"
    dom = dump_dom(tmp_path, site.url + SDIST_PAGE)
    h1 = dom.find("h1")
    assert h1.children[0] == SDIST
    assert badges(h1) == ["\u2713 verified"]
    assert "verified" in h1.find(cls="badge").classes
    assert_provenance(dom)
    (identity,) = values(dom, "identity")
    assert identity.text() == f"{REPO}/{WORKFLOW}"
    text = dom.text()
    assert "Every attestation verified against the publisher recorded in the provenance." in text
    assert "Signed at 2024-12-04T23:14:01Z" in text
    (entry,) = values(dom, f"log index {LOG_INDEX}")  # the Transparency log table
    assert entry.text().startswith("dsse 0.0.1, integrated 2024-12-04T23:14:01Z")
    assert "not attested" not in text
    # Back to the project and the release, by the page's own links.
    (project,) = values(dom, "project")
    assert project.links() == [("/project/pypi-attestations/", "pypi-attestations")]
    (provenance,) = values(dom, "provenance")
    [(href, _)] = provenance.links()
    assert href == f"{site.url}/integrity/pypi-attestations/0.0.19/{SDIST}/provenance"


def test_project_page_renders_the_readme_safely_with_install_and_status(site, tmp_path):
    dom = dump_dom(tmp_path, site.url + "/project/pypi-attestations/", wait_ms=500)
    assert dom.find("title").text() == "pypi-attestations"  # no script ran
    readme = dom.find("div", cls="readme")
    assert readme.find("h1").text() == "Attestations for Python"
    assert [c.text() for c in readme.find("table").find_all("td")] == ["PEP 740", "draft final"]
    assert readme.find("del").text() == "draft"
    assert not readme.find_all("script")
    for node in readme.iter():
        assert not any(k.startswith("on") for k in node.attrs), node.attrs
        assert not node.attrs.get("href", "").startswith("javascript:")
    install = dom.find("details", cls="install").find("pre").text()
    assert f"pip install --index-url {site.url}/simple/ pypi-attestations" in install
    assert f"uv pip install --index-url {site.url}/simple/ pypi-attestations" in install
    status = dom.find("p", cls="status")
    assert status.text() == "This project is deprecated: use the successor."
    uploaded = dom.find("div", cls="file").find(cls="muted").text()
    assert "uploaded 2024-12-04 23:14 UTC" in uploaded


def test_log_entries_link_to_sigstore_search_and_help_exists(site, tmp_path):
    dom = dump_dom(tmp_path, site.url + SDIST_PAGE)
    (entry,) = values(dom, f"log index {LOG_INDEX}")
    assert entry.links()[0][0] == f"https://search.sigstore.dev/?logIndex={LOG_INDEX}"
    help_page = dump_dom(tmp_path, site.url + "/docs/archives")  # PyPI-style docs path
    assert help_page.find("title").text() == "Help"
    ids = {n.attrs.get("id") for n in help_page.iter()}
    assert {"invalid-auth", "apitoken", "trusted-publishers", "project-name", "archives"} <= ids


def test_unattested_wheel_is_marked_not_attested(site, tmp_path):
    project = dump_dom(tmp_path, site.url + "/project/rfc8785/")
    (block,) = project.find_all("div", cls="file")
    assert badges(block) == ["not attested"]
    assert not project.find_all(cls="verified")
    assert not project.find_all("dl")  # no provenance summary
    href = block.find("a", cls="name").attrs["href"]
    assert href == WHEEL_PAGE

    page = dump_dom(tmp_path, urljoin(site.url + "/project/rfc8785/", href))
    h1 = page.find("h1")
    assert h1.children[0] == WHEEL
    assert badges(h1) == ["not attested"]
    assert not page.find_all(cls="verified")
    assert "This file was uploaded without attestations: it is not attested." in page.text()


def test_layout_no_overflow_and_visible_badges(site, tmp_path):
    dom = dump_dom(tmp_path, site.url + "/_layout-probe", window="1400,1000", wait_ms=10_000)
    pages: list[dict[str, Any]] = json.loads(dom.find("pre").text())
    assert len(pages) == len(LAYOUT_PAGES) * len(LAYOUT_WIDTHS)
    for page in pages:
        where = f"{page['src']} at {page['frameWidth']}px"
        assert page["title"] not in ("", "Not Found"), where
        # Long URLs and digests wrap instead of widening the page.
        assert page["scrollWidth"] <= page["clientWidth"], where
        assert page["badges"], where
        for badge in page["badges"]:
            assert badge["display"] != "none" and badge["visibility"] == "visible", where
            assert badge["width"] > 10 and badge["height"] > 10, (where, badge)
            assert badge["left"] >= 0 and badge["right"] <= page["clientWidth"], (where, badge)
            assert badge["color"] != badge["background"], (where, badge)
        texts = {b["text"] for b in page["badges"]}
        if "rfc8785" in page["src"]:
            assert texts == {"not attested"}, where
        else:
            assert texts == {"\u2713 verified"}, where
            verified = next(b for b in page["badges"] if "verified" in b["classes"])
            assert verified["color"] == "rgb(17, 96, 44)", where  # green on light green
            assert verified["background"] == "rgb(220, 245, 227)", where


@pytest.mark.parametrize("path", ["/project/pypi-attestations/", SDIST_PAGE])
def test_screenshot(site, tmp_path, path):
    png = screenshot(tmp_path, site.url + path, tmp_path / "page.png", width=1280, height=1600)
    assert png.startswith(PNG_SIGNATURE)
    assert png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (1280, 1600)
    assert len(png) > 10_000, len(png)  # a rendered page, not a blank one
    assert png[-12:] == b"\x00\x00\x00\x00IEND\xaeB`\x82"  # complete


# ----------------------------------------------------------------------
# Development mode: the banner, in the browser


DEV_PAGES = (
    "/",
    "/simple/",
    "/simple/rfc8785/",
    "/project/pypi-attestations/",
    SDIST_PAGE,
    "/project/rfc8785/",
    WHEEL_PAGE,
    "/project/no-such-project/",
)


@pytest.fixture(scope="module")
def dev_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """``attestkit serve --dev`` (a real process) holding the two real distributions."""
    data_dir = tmp_path_factory.mktemp("dev-site") / "data"
    server = start_process(["serve", "--dev"], data_dir)
    index = Index.open(IndexConfig(data_dir=data_dir / "index"))
    try:
        seed(index)
        yield server
    finally:
        index.close()
        server.stop()


def test_every_development_page_shows_the_banner_first(dev_site, tmp_path):
    for path in DEV_PAGES:
        dom = dump_dom(tmp_path, dev_site.url + path)
        body = dom.find("body")
        first = next(c for c in body.children if isinstance(c, Element))
        assert first.attrs.get("id") == "attestkit-dev-banner", path
        assert first.attrs.get("role") == "alert", path
        assert first.text() == BANNER, path
        assert len(dom.find_all("div")) >= 1 and [
            e for e in dom.iter() if e.attrs.get("id") == "attestkit-dev-banner"
        ] == [first], path
    # pip still finds the links of a development Simple page.
    links = dump_dom(tmp_path, dev_site.url + "/simple/rfc8785/").links()
    assert [text for _, text in links] == [WHEEL]


def test_the_banner_is_visible_on_top(dev_site, tmp_path):
    png = screenshot(
        tmp_path,
        dev_site.url + "/project/pypi-attestations/",
        tmp_path / "dev.png",
        width=1280,
        height=400,
    )
    assert png.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1280, 400)
    # The banner's red (#b00020) fills the top rows of the page.
    assert _top_left_pixel_is_red(tmp_path / "dev.png")


def test_production_pages_have_no_banner(site, tmp_path):
    for path in ("/", "/project/pypi-attestations/", SDIST_PAGE):
        dom = dump_dom(tmp_path, site.url + path)
        assert not [e for e in dom.iter() if e.attrs.get("id") == "attestkit-dev-banner"], path
        assert BANNER not in dom.text()


def _top_left_pixel_is_red(path: Path) -> bool:
    """Decode just enough of the PNG (zlib, filter byte, RGB/RGBA) to read pixel (8, 8)."""
    import zlib

    data = path.read_bytes()
    pos, chunks, header = 8, b"", b""
    while pos < len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks += body
        pos += 12 + length
    width, _, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color in (2, 6), (depth, color)
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(chunks)
    stride = 1 + width * channels
    rows: list[bytes] = []
    previous = bytes(width * channels)
    for y in range(9):
        filter_type, line = raw[y * stride], bytearray(raw[y * stride + 1 : (y + 1) * stride])
        for i in range(len(line)):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upper_left = previous[i - channels] if i >= channels else 0
            if filter_type == 1:
                line[i] = (line[i] + left) & 0xFF
            elif filter_type == 2:
                line[i] = (line[i] + up) & 0xFF
            elif filter_type == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else upper_left
                line[i] = (line[i] + pred) & 0xFF
        previous = bytes(line)
        rows.append(previous)
    r, g, b = rows[8][8 * channels : 8 * channels + 3]
    return r > 150 and g < 60 and b < 80
