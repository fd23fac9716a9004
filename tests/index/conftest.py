"""A real index: ``attestkit.index`` served by uvicorn on 127.0.0.1, SQLite or PostgreSQL.

Set ``ATTESTKIT_TEST_DATABASE_URL=postgresql://user:pw@host/db`` to run every
index test on PostgreSQL as well (CI does); each test then gets a fresh schema.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from attestkit.index.core import Index, IndexConfig

PG_URL = os.environ.get("ATTESTKIT_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@dataclass
class Server:
    """A running index server."""

    url: str
    index: Index
    thread: threading.Thread
    server: Any

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def _pg_admin(statement: str) -> None:
    from sqlalchemy import create_engine, text

    assert PG_URL is not None
    admin = create_engine(
        PG_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(statement))
    admin.dispose()


def _pg_database(name: str) -> str:
    """A fresh PostgreSQL database for one test (dropped when the test ends)."""
    assert PG_URL is not None
    _pg_admin(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_URL.rpartition("/")
    return f"{base}/{name}"


def start_server(index: Index, app_factory: Callable[[Index], Any] | None = None) -> Server:
    """Serve ``index`` with uvicorn in a background thread on a free loopback port.

    ``app_factory(index)`` builds the ASGI app (default: the full index app).
    """
    import uvicorn

    if app_factory is None:
        from attestkit.index.app import create_app

        app_factory = create_app
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app_factory(index), log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("index server did not start")
        time.sleep(0.02)
    return Server(url, index, thread, server)


@pytest.fixture(params=BACKENDS)
def index_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Index]]:
    """Make an :class:`Index` in ``tmp_path`` on the parametrized backend."""
    opened: list[Index] = []
    databases: list[str] = []

    def make(**options: Any) -> Index:
        url = None
        if request.param == "postgresql":
            databases.append(f"t_{uuid.uuid4().hex[:12]}")
            url = _pg_database(databases[-1])
        config = IndexConfig(data_dir=tmp_path / f"index{len(opened)}", database_url=url, **options)
        index = Index.open(config)
        opened.append(index)
        return index

    yield make
    for index in opened:
        index.close()
    for name in databases:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def index_server(index_factory: Callable[..., Index]) -> Iterator[Callable[..., Server]]:
    """Start real index servers: ``index_server(**IndexConfig options)``.

    ``app_factory=`` (optional) builds the ASGI app from the index instead of
    the full index app.
    """
    servers: list[Server] = []

    def start(app_factory: Callable[[Index], Any] | None = None, **options: Any) -> Server:
        server = start_server(index_factory(**options), app_factory)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def get(url: str, **kwargs: Any) -> requests.Response:
    """GET without following redirects (tests look at them)."""
    return requests.get(url, allow_redirects=False, timeout=30, **kwargs)
