"""Both servers start and stop through one bootstrap: server.json appears, and goes on a clean stop."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import requests

from attestkit.serving.bootstrap import announce, default_data_dir, withdraw
from tests.fixtures.processes import start_server


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize(
    ("command", "announced"),
    [
        (["serve", "--dev"], ["server.json", "sigstore/server.json"]),
        (["sigstore", "serve", "--dev"], ["server.json"]),
    ],
    ids=["index", "sigstore"],
)
def test_server_json_is_withdrawn_on_a_clean_stop(
    tmp_path: Path, command: list[str], announced: list[str], sig: int
) -> None:
    server = start_server(command, tmp_path / "data")
    assert requests.get(server.url + "/healthz", timeout=10).status_code in (200, 404)
    for name in announced:
        info = json.loads((server.data_dir / name).read_text())
        assert info["url"] == server.url
        assert info["pid"] == server.proc.pid
    server.stop(sig)
    # SIGTERM is a clean stop; SIGINT is reported as an interruption (exit 130).
    expected = 0 if sig == signal.SIGTERM else 130
    assert server.proc.returncode == expected, server.log.read_text()
    for name in announced:
        assert not (server.data_dir / name).exists(), name


def test_withdraw_leaves_another_servers_file(tmp_path: Path) -> None:
    (tmp_path / "server.json").write_text(json.dumps({"url": "http://x", "pid": 1}))
    withdraw([tmp_path])
    assert (tmp_path / "server.json").exists()
    announce([tmp_path], "http://127.0.0.1:1")
    withdraw([tmp_path])
    assert not (tmp_path / "server.json").exists()


def test_default_data_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ATTESTKIT_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_data_dir("ATTESTKIT_DATA_DIR") == tmp_path / "attestkit"
    assert default_data_dir("ATTESTKIT_X", "sigstore") == tmp_path / "attestkit" / "sigstore"
    monkeypatch.setenv("ATTESTKIT_DATA_DIR", "/elsewhere")
    assert default_data_dir("ATTESTKIT_DATA_DIR") == Path("/elsewhere")
