"""Development mode's fence: loopback only, recorded data-directory modes, the HTML banner."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from attestkit.errors import InputError
from attestkit.serving.devmode import (
    BANNER,
    MODE_FILE,
    DevBannerMiddleware,
    claim_data_dir,
    recorded_mode,
    require_loopback,
)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"])
def test_loopback_hosts_are_allowed(host: str) -> None:
    require_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com", ""])
def test_other_hosts_are_refused(host: str) -> None:
    with pytest.raises(InputError, match="loopback addresses only"):
        require_loopback(host)


def test_a_new_directory_records_its_mode(tmp_path: Path) -> None:
    d = tmp_path / "new"
    assert recorded_mode(d) is None
    claim_data_dir(d, "production")
    assert json.loads((d / MODE_FILE).read_text()) == {"mode": "production"}
    assert recorded_mode(d) == "production"
    claim_data_dir(d, "production")  # the same mode again is fine


def test_production_refuses_a_development_directory(tmp_path: Path) -> None:
    claim_data_dir(tmp_path, "development")
    with pytest.raises(InputError, match="belongs to a development instance"):
        claim_data_dir(tmp_path, "production")
    assert recorded_mode(tmp_path) == "development"


def test_development_refuses_a_production_directory(tmp_path: Path) -> None:
    claim_data_dir(tmp_path, "production")
    with pytest.raises(InputError, match="belongs to a production instance"):
        claim_data_dir(tmp_path, "development")


def test_state_from_before_modes_counts_as_development(tmp_path: Path) -> None:
    """Every instance made before modes were recorded simulated identities."""
    (tmp_path / "index").mkdir()
    (tmp_path / "lock").touch()
    assert recorded_mode(tmp_path) == "development"
    with pytest.raises(InputError, match="development instance"):
        claim_data_dir(tmp_path, "production")
    claim_data_dir(tmp_path, "development")
    assert json.loads((tmp_path / MODE_FILE).read_text())["mode"] == "development"


def test_only_lock_and_server_files_do_not_count_as_state(tmp_path: Path) -> None:
    (tmp_path / "lock").touch()
    (tmp_path / "server.json").write_text("{}")
    assert recorded_mode(tmp_path) is None
    claim_data_dir(tmp_path, "production")


def test_a_corrupt_marker_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / MODE_FILE).write_text('{"mode": "staging"}')
    with pytest.raises(InputError, match="unknown mode 'staging'"):
        claim_data_dir(tmp_path, "production")
    (tmp_path / MODE_FILE).write_text("not json")
    with pytest.raises(InputError, match="cannot read the mode"):
        recorded_mode(tmp_path)


# -- the banner -----------------------------------------------------------------------------


def _call(app: Any, method: str = "GET") -> tuple[dict[str, str], bytes]:
    """Run one request through an ASGI app; return (headers, body)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": "/", "headers": []}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return {k.decode(): v.decode() for k, v in start["headers"]}, body


def _app(content_type: bytes, chunks: list[bytes]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        length = str(sum(map(len, chunks))).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", content_type), (b"content-length", length)],
            }
        )
        for i, chunk in enumerate(chunks):
            more = i < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return app


def test_banner_goes_right_after_body_with_a_correct_length() -> None:
    page = [b"<!DOCTYPE html><html><head></head><BODY class='x'>", b"<p>hello</p></body></html>"]
    headers, body = _call(DevBannerMiddleware(_app(b"text/html; charset=utf-8", page)))
    assert body.startswith(b"<!DOCTYPE html><html><head></head><BODY class='x'>\n<div")
    assert BANNER.encode() in body
    assert body.endswith(b"<p>hello</p></body></html>")
    assert int(headers["content-length"]) == len(body)


def test_banner_on_a_page_without_body_tag_comes_first() -> None:
    headers, body = _call(DevBannerMiddleware(_app(b"text/html", [b"<p>x</p>"])))
    assert body.startswith(b'<div role="alert" id="attestkit-dev-banner"')
    assert int(headers["content-length"]) == len(body)


def test_head_announces_the_length_of_the_get() -> None:
    page = [b"<html><body><p>x</p></body></html>"]
    get_headers, get_body = _call(DevBannerMiddleware(_app(b"text/html", page)))

    async def head_app(scope: Any, receive: Any, send: Any) -> None:
        length = str(len(page[0])).encode()
        headers = [(b"content-type", b"text/html"), (b"content-length", length)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    head_headers, head_body = _call(DevBannerMiddleware(head_app), "HEAD")
    assert head_body == b""
    assert head_headers["content-length"] == get_headers["content-length"] == str(len(get_body))


@pytest.mark.parametrize("content_type", [b"application/json", b"application/octet-stream"])
def test_other_responses_pass_untouched(content_type: bytes) -> None:
    data = [b'{"a": "<body>"}']
    headers, body = _call(DevBannerMiddleware(_app(content_type, data)))
    assert body == data[0]
    assert headers["content-length"] == str(len(data[0]))
