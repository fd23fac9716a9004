"""Slow clients cannot take ``attestkit serve`` offline (hardening row 1).

A real server process limited to 1,024 file descriptors; 1,100 connections that
trickle header lines (slowloris), then 300 that trickle a request body.  A probe
request keeps getting its answer within 3 seconds all along, the slow
connections are closed by the server, and the server is still up at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow

LIMIT = 1024


def _serve(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    def limit_fds() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))

    proc = subprocess.Popen(
        [sys.executable, "-m", "attestkit", "serve", "--port", "0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=limit_fds,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "serving" in line, line
    return proc, line.split("serving ", 1)[1].split(" ", 1)[0]


async def _trickle(host: str, port: int, first: bytes, drip: bytes, seconds: float) -> bool:
    """Send ``first``, then ``drip`` every 2 s; True if the server closed the connection."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return True  # refused or reset at once also counts as "not held"
    try:
        writer.write(first)
        await writer.drain()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                data = await asyncio.wait_for(reader.read(1024), timeout=2)
            except TimeoutError:
                writer.write(drip)
                await writer.drain()
                continue
            if not data:
                return True  # closed by the server
        return False
    except (ConnectionError, OSError):
        return True
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _probe(url: str, at: float) -> float:
    """Seconds the probe took at ``at`` seconds into the attack (raises on failure)."""
    await asyncio.sleep(at)
    start = time.monotonic()
    response = await asyncio.to_thread(requests.get, f"{url}/simple/", timeout=3)
    assert response.status_code == 200
    return time.monotonic() - start


async def _attack(url: str, count: int, first: bytes, drip: bytes, seconds: float) -> None:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    slow = [
        asyncio.create_task(_trickle(host, int(port), first, drip, seconds)) for _ in range(count)
    ]
    probes = [asyncio.create_task(_probe(url, at)) for at in (3, 8, 13)]
    for taken in await asyncio.gather(*probes):
        assert taken < 3
    closed = await asyncio.gather(*slow)
    assert sum(closed) == count, f"{count - sum(closed)} slow connections were never closed"


def test_slow_headers_and_slow_bodies_do_not_take_the_server_down(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4096:
        pytest.skip(f"the test client needs 4096 file descriptors (hard limit {hard})")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), hard))
    proc, url = _serve(tmp_path / "d")
    try:
        header = b"GET /simple/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        asyncio.run(_attack(url, 1100, header, b"X-Slow: 1\r\n", 16))
        body = (
            b"POST /legacy/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 100000\r\n\r\n"
        )
        asyncio.run(_attack(url, 300, body, b"x", 16))
        assert proc.poll() is None, "the server died"
        assert requests.get(f"{url}/simple/", timeout=3).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
