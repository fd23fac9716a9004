"""READMEs as safe HTML: reStructuredText, Markdown and plain text, as PyPI renders them."""

from __future__ import annotations

from attestkit.core import readme
from attestkit.core.readme import render_description


def test_rst_is_the_default_and_markdown_follows_the_content_type() -> None:
    html = render_description("Title\n=====\n\nSome *text*.\n", None)
    assert "<em>text</em>" in html
    md = render_description("# Title\n\n*text*", "text/markdown; variant=GFM")
    assert "<h1>Title</h1>" in md and "<em>text</em>" in md


def test_what_does_not_render_is_plain_text() -> None:
    # docutils refuses the raw directive: the text is shown, escaped, as PyPI does.
    html = render_description(".. raw:: html\n\n   <script>x()</script>\n", "text/x-rst")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert render_description("a <b> c", "text/plain") == "a &lt;b&gt; c"
    assert render_description("  \n", "text/markdown") == ""
    assert render_description(None, None) == ""


def test_markdown_is_sanitised() -> None:
    html = render_description(
        '<script>x()</script><img src="a.png" onerror="x()"><a href="javascript:x()">l</a>'
        "\n\n[m](javascript:x())",
        "text/markdown",
    )
    assert (
        "<script" not in html
        and "onerror" not in html
        and "javascript:" not in html.split("[m]")[0]
    )
    assert '<img src="a.png">' in html


def test_huge_descriptions_are_not_rendered_and_the_cache_is_bounded(monkeypatch) -> None:
    big = "*x* " * (readme.MAX_RENDERED // 4 + 1)
    assert "<em>" not in render_description(big, "text/markdown")
    monkeypatch.setattr(readme, "CACHE_BYTES", 4096)
    for i in range(50):
        render_description(f"# heading {i}\n\n" + "word " * 100, "text/markdown")
    assert readme._cached <= 4096
