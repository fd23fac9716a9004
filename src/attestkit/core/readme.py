"""A release's long description (its README): safe HTML as PyPI renders it, and whether
PyPI would accept it (:func:`description_problem`, for ``attestkit check`` and ``publish``).

``readme-renderer`` comes with the ``server`` and ``check`` extras; without it
the client reports that the README was not checked.

The description and its ``Description-Content-Type`` come from the upload's
metadata.  PyPI renders with ``readme_renderer``: reStructuredText (the
default when no type is given) with docutils, Markdown with cmark-gfm, plain
text escaped in a ``<pre>``; whatever fails to render is shown as plain text.
Here Markdown goes through ``markdown-it-py`` (CommonMark plus GFM tables and
strikethrough; already installed with ``rich``) instead of cmark-gfm, which
would be a compiled dependency for the same result, and every HTML result is
passed through ``readme_renderer.clean`` (an ``nh3`` allowlist: no scripts, no
event handlers, no ``javascript:`` links) before it reaches a page.

Rendering is memoised by the description's digest (at most
:data:`CACHE_BYTES` of HTML kept, least recently used first out), so a popular
project page costs one rendering per process.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from email.message import Message

__all__ = ["CACHE_BYTES", "MAX_RENDERED", "description_problem", "render_description"]

#: The ``Description-Content-Type`` values PyPI accepts (warehouse's forklift rules).
CONTENT_TYPES = ("text/plain", "text/x-rst", "text/markdown")
MARKDOWN_VARIANTS = ("GFM", "CommonMark")

#: Most rendered HTML (characters) kept in memory.
CACHE_BYTES = 8 * 1024 * 1024
_cache: OrderedDict[str, str] = OrderedDict()
_cached = 0
_lock = threading.Lock()

#: Descriptions longer than this (characters) are shown as plain text, unrendered.
MAX_RENDERED = 512 * 1024


def _content_type(value: str | None) -> tuple[str, dict[str, str]]:
    message = Message()
    message["content-type"] = value or "text/x-rst"
    params = {k.lower(): str(v) for k, v in message.get_params(failobj=[])[1:]}
    return message.get_content_type(), params


def _plain(text: str) -> str:
    from readme_renderer.txt import render

    return render(text) or ""


def _markdown(text: str) -> str | None:
    from markdown_it import MarkdownIt
    from readme_renderer.clean import clean

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    # GitHub (and PyPI's cmark-gfm) write strikethrough as <del>, which the allowlist keeps.
    md.add_render_rule("s_open", lambda *args: "<del>")
    md.add_render_rule("s_close", lambda *args: "</del>")
    return clean(md.render(text))


def _rst(text: str) -> str | None:
    from readme_renderer.rst import render

    return render(text)  # already cleaned; None when docutils reports errors


def _render(text: str, content_type: str | None) -> str:
    kind, _params = _content_type(content_type)
    if len(text) > MAX_RENDERED:
        return _plain(text)
    html: str | None
    if kind == "text/markdown":
        html = _markdown(text)
    elif kind == "text/x-rst":
        html = _rst(text)
    else:
        html = None
    return html if html else _plain(text)


def render_description(text: str | None, content_type: str | None) -> str:
    """Safe HTML for a description (empty for none); plain text when it does not render."""
    if not text or not text.strip():
        return ""
    global _cached
    digest = hashlib.sha256(f"{content_type}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()
    with _lock:
        html = _cache.get(digest)
        if html is not None:
            _cache.move_to_end(digest)
            return html
    html = _render(text, content_type)
    with _lock:
        if digest not in _cache and len(html) <= CACHE_BYTES // 4:
            _cache[digest] = html
            _cached += len(html)
            while _cached > CACHE_BYTES:
                _, old = _cache.popitem(last=False)
                _cached -= len(old)
    return html


def description_problem(text: str | None, content_type: str | None) -> str | None:
    """Why PyPI would refuse (or fail to render) this README, or None if it is fine.

    PyPI refuses an unknown ``Description-Content-Type``, a charset other than
    UTF-8 and an unknown Markdown variant; reStructuredText that docutils reports
    errors in is not rendered (PyPI shows it as plain text and twine check fails it).
    Raises ``ImportError`` when readme-renderer is not installed.
    """
    kind, params = _content_type(content_type)
    if kind not in CONTENT_TYPES:
        return (
            f"Description-Content-Type {content_type!r} is not one PyPI accepts"
            f" ({', '.join(CONTENT_TYPES)})"
        )
    charset = params.get("charset", "utf-8").lower()
    if charset != "utf-8":
        return f"the README's charset must be UTF-8, not {charset!r}"
    variant = params.get("variant")
    if kind == "text/markdown" and variant is not None and variant not in MARKDOWN_VARIANTS:
        return f"unknown Markdown variant {variant!r} (PyPI knows {', '.join(MARKDOWN_VARIANTS)})"
    if kind == "text/x-rst" and text and text.strip():
        import io

        from readme_renderer.rst import render

        messages = io.StringIO()
        if render(text, stream=messages) is None:
            first = (messages.getvalue().strip().splitlines() or ["docutils reported errors"])[0]
            return f"the reStructuredText README does not render on PyPI: {first}"
    return None
