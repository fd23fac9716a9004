"""Interop with the real twine: what ``attestkit sign`` writes, twine finds and sends.

``attestkit sign --local`` signs the two real dists from tests/data on the
session's local Sigstore instance; then the real ``twine upload --attestations``
posts them to a recording HTTP endpoint on 127.0.0.1 that answers 200.  The
recorded ``attestations`` form field must be exactly the file attestkit wrote,
and must verify with attestkit and with pypi-attestations through
sigstore-python's verifier.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pypi_attestations import Attestation as PAAttestation
from pypi_attestations import GitHubPublisher as PAGitHubPublisher
from sigstore.models import ClientTrustConfig
from sigstore.verify import Verifier as SigstoreVerifier

import attestkit
from tests.conftest import DATA, SDIST, STAGING_WHEEL

REPO = "octo/repo"
WORKFLOW = "release.yml"


@dataclass
class Upload:
    """One recorded request: its method and path, and every form field."""

    method: str
    path: str
    #: name -> list of (filename or None, raw bytes); a field may repeat.
    fields: dict[str, list[tuple[str | None, bytes]]] = field(default_factory=dict)

    def text(self, name: str) -> str:
        """The single value of a plain text field."""
        ((filename, value),) = self.fields[name]
        assert filename is None, f"{name} is a file part"
        return value.decode()


def _parse_form(content_type: str, body: bytes) -> dict[str, list[tuple[str | None, bytes]]]:
    """Parse a multipart/form-data body with the stdlib email parser."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    assert isinstance(message, EmailMessage)
    assert message.is_multipart(), content_type
    fields: dict[str, list[tuple[str | None, bytes]]] = {}
    for part in message.iter_parts():
        assert isinstance(part, EmailMessage)
        name = part.get_param("name", header="content-disposition")
        assert isinstance(name, str), part.get("content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        fields.setdefault(name, []).append((part.get_filename(), payload))
    return fields


class _Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.uploads: list[Upload] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/legacy/"


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        upload = Upload(self.command, self.path)
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            upload.fields = _parse_form(content_type, body)
        with self.server.lock:
            self.server.uploads.append(upload)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    def do_POST(self) -> None:
        self._record()

    def do_GET(self) -> None:
        self._record()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    server = _Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _clean_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWINE_", "GITHUB_", "ACTIONS_", "GITLAB", "SIGSTORE_", "CI"))
    }
    env["SIGSTORE_OIDC_DISABLE_AMBIENT_PROVIDERS"] = "1"
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1"
    return env


@pytest.fixture(scope="module")
def signed(local_sigstore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with both real dists and the ``.publish.attestation`` attestkit wrote."""
    out = tmp_path_factory.mktemp("signed")
    for name in (SDIST, STAGING_WHEEL):
        shutil.copy(DATA / name, out / name)
        (out / name).chmod(0o644)
    token = local_sigstore.token("--github", REPO, "--workflow", WORKFLOW, "--ref", "refs/tags/v1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "attestkit",
            "sign",
            "--local",
            local_sigstore.url,
            "--identity-token",
            token,
            str(out / SDIST),
            str(out / STAGING_WHEEL),
        ],
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            SDIST,
            f"{SDIST}.publish.attestation",
            STAGING_WHEEL,
            f"{STAGING_WHEEL}.publish.attestation",
        ]
    )
    return out


def _twine_upload(url: str, pattern: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "twine",
            "upload",
            "--attestations",
            "--repository-url",
            url,
            "-u",
            "__token__",
            "-p",
            "pypi-fake",
            "--non-interactive",
            "--disable-progress-bar",
            str(pattern),
        ],
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=120,
    )


def test_twine_sends_what_attestkit_signed(local_sigstore, signed: Path, recorder) -> None:
    proc = _twine_upload(recorder.url, signed / "*")
    assert proc.returncode == 0, proc.stdout + proc.stderr

    uploads = recorder.uploads
    assert [(u.method, u.path) for u in uploads] == [("POST", "/legacy/")] * 2
    by_name: dict[str, Upload] = {}
    for u in uploads:
        ((filename, _),) = u.fields["content"]
        assert filename is not None
        by_name[filename] = u
    assert sorted(by_name) == sorted([SDIST, STAGING_WHEEL])

    trust_config_text = local_sigstore.trust_config_path.read_text()
    attestkit_verifier = attestkit.Verifier(
        attestkit.TrustRoot.from_file(local_sigstore.trust_config_path)
    )
    sigstore_verifier = SigstoreVerifier(
        trusted_root=ClientTrustConfig.from_json(trust_config_text).trusted_root
    )
    for name, upload in by_name.items():
        dist = signed / name
        data = dist.read_bytes()
        assert upload.text(":action") == "file_upload"
        assert upload.text("sha256_digest") == hashlib.sha256(data).hexdigest()
        assert upload.fields["content"] == [(name, data)]
        assert upload.text("filetype") == ("sdist" if name == SDIST else "bdist_wheel")

        sent = json.loads(upload.text("attestations"))
        assert isinstance(sent, list)
        assert len(sent) == 1
        (recorded,) = sent
        written = json.loads(dist.with_name(f"{name}.publish.attestation").read_text())
        assert recorded == written

        attestkit_verifier.verify(
            attestkit.Attestation.from_dict(recorded),
            attestkit.GitHubIdentity(REPO, WORKFLOW),
            attestkit.Distribution.from_file(dist),
        )
        pa = PAAttestation.model_validate(recorded)
        sigstore_verifier.verify_dsse(
            pa.to_bundle(), PAGitHubPublisher(repository=REPO, workflow=WORKFLOW)._as_policy()
        )
        # The statement is about this very file (sigstore's verify_dsse does not check that).
        statement = json.loads(pa.envelope.statement)
        assert statement["subject"] == [
            {"name": name, "digest": {"sha256": hashlib.sha256(data).hexdigest()}}
        ]


def test_twine_refuses_a_dist_without_attestation(signed: Path, recorder, tmp_path: Path) -> None:
    """The wheel (uploaded first) is attested, the sdist is not: twine sends nothing."""
    for name in (STAGING_WHEEL, f"{STAGING_WHEEL}.publish.attestation", SDIST):
        shutil.copy(signed / name, tmp_path / name)
    proc = _twine_upload(recorder.url, tmp_path / "*")
    assert proc.returncode != 0
    # rich wraps twine's message at the terminal width: compare without whitespace.
    output = "".join((proc.stdout + proc.stderr).split())
    assert f"{SDIST}hasnoassociatedattestations" in output, proc.stdout + proc.stderr
    assert recorder.uploads == []
