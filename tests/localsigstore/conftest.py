"""A real local Sigstore instance, started as a subprocess on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests


@dataclass
class Instance:
    """A running ``attestkit sigstore serve`` process."""

    url: str
    data_dir: Path
    proc: subprocess.Popen[str]
    trust_config_path: Path

    @property
    def trust_config(self) -> dict[str, Any]:
        return json.loads(self.trust_config_path.read_text())

    def token(self, *args: str) -> str:
        """Mint a token with ``attestkit sigstore token`` (a real CLI call)."""
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "attestkit",
                "sigstore",
                "token",
                "--data-dir",
                str(self.data_dir),
                "--url",
                self.url,
                *args,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return out.stdout.strip()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)


LOGIN_EMAIL = "maintainer@example.test"


def start_instance(data_dir: Path, port: int = 0, *, auto_approve: bool = True) -> Instance:
    """Start the server, wait until it answers, and write its trust config.

    ``auto_approve`` lets interactive logins through without the one-time code
    (tests of the code itself pass False and read it from ``server.log``).
    """
    env = dict(os.environ, SIGSTORE_OIDC_DISABLE_AMBIENT_PROVIDERS="1")
    data_dir.mkdir(parents=True, exist_ok=True)
    # stderr goes to a file: an undrained pipe could fill up and block the server.
    stderr = (data_dir / "server.log").open("a")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "attestkit",
            "sigstore",
            "serve",
            "--dev",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--login-email",
            LOGIN_EMAIL,
            *(["--login-auto-approve"] if auto_approve else []),
        ],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=env,
    )
    stderr.close()
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=10)
        raise RuntimeError(f"server failed to start: {(data_dir / 'server.log').read_text()}")
    url = line.split("serving ", 1)[1].split(" ", 1)[0]
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=2).ok:
                break
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("server did not become healthy")
        time.sleep(0.05)
    tc = data_dir / "trust-config.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "attestkit",
            "sigstore",
            "trust-config",
            "--data-dir",
            str(data_dir),
            "-o",
            str(tc),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return Instance(url, data_dir, proc, tc)


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    inst = start_instance(tmp_path_factory.mktemp("sigstore"))
    yield inst
    inst.stop()
