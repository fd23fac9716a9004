"""``attestkit upload`` against a real attestkit index (and a few scripted HTTP servers).

Covers: plain uploads (files appear in the Simple API), ``--skip-existing``,
input errors before any request, attested uploads whose stored provenance equals
what ``twine upload --attestations`` stores, retries with backoff on 5xx,
redirects, credentials from ``.pypirc`` and the environment, and that the
token is never printed.
"""

from __future__ import annotations

import http.server
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

import attestkit
from attestkit.cli import main
from attestkit.index.db import File, Provenance
from attestkit.index.instance import Index
from tests.fixtures.index_server import Server
from tests.fixtures.uploads import (
    SLSA_PREDICATE,
    make_sdist,
    make_wheel,
    publisher_token,
    setup_project,
    sign_with,
    twine,
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ambient credentials: no TWINE_*/ATTESTKIT_* variables, no ~/.pypirc, no keyring."""
    import os

    for key in list(os.environ):
        if key.startswith(("TWINE_", "ATTESTKIT_USERNAME", "ATTESTKIT_PASSWORD", "ATTESTKIT_REPO")):
            monkeypatch.delenv(key)
    monkeypatch.delenv("CI", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")


def run_upload(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["upload", "--non-interactive", *args])
    out, err = capsys.readouterr()
    return code, out, err


def simple_files(server: Server, project: str) -> list[str]:
    response = requests.get(
        f"{server.url}/simple/{project}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        timeout=30,
    )
    response.raise_for_status()
    return sorted(f["filename"] for f in response.json()["files"])


class _Counter:
    """ASGI middleware counting HTTP requests (to prove nothing was sent)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.requests += 1
        await self.app(scope, receive, send)


@pytest.fixture
def counted(index_server: Callable[..., Server]) -> tuple[Server, _Counter]:
    from attestkit.index.app import create_app

    holder: list[_Counter] = []

    def factory(index: Index) -> Any:
        holder.append(_Counter(create_app(index)))
        return holder[0]

    server = index_server(app_factory=factory)
    return server, holder[0]


# -- plain uploads -------------------------------------------------------------------------


def test_upload_wheel_and_sdist(
    index_server: Callable[..., Server], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = index_server()
    token = setup_project(server, "")
    wheel, sdist = make_wheel(tmp_path), make_sdist(tmp_path)
    code, out, err = run_upload(
        capsys, "--repository-url", f"{server.url}/legacy/", "-p", token, str(sdist), str(wheel)
    )
    assert code == 0, out + err
    assert f"OK {wheel}: uploaded" in out and f"OK {sdist}: uploaded" in out
    assert out.index(wheel.name) < out.index(sdist.name)  # wheels first, like twine
    assert simple_files(server, "demo-pkg") == sorted([wheel.name, sdist.name])
    with server.index.session() as s:
        rows = {f.filename: f for f in s.scalars(select(File))}
        assert (rows[wheel.name].packagetype, rows[wheel.name].python_version) == (
            "bdist_wheel",
            "py3",
        )
        assert (rows[sdist.name].packagetype, rows[sdist.name].python_version) == (
            "sdist",
            "source",
        )
    assert token not in out + err


def test_skip_existing(
    index_server: Callable[..., Server], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = index_server()
    token = setup_project(server)
    url = f"{server.url}/legacy/"
    first = make_sdist(tmp_path)
    assert run_upload(capsys, "--repository-url", url, "-p", token, str(first))[0] == 0
    (tmp_path / "x").mkdir()
    other = make_sdist(tmp_path / "x", payload=b"changed\n")

    code, out, err = run_upload(capsys, "--repository-url", url, "-p", token, str(other))
    assert code == 1
    assert f"FAIL {other}: 400 Bad Request: File already exists ('demo_pkg-1.0.tar.gz'" in out
    assert "#file-name-reuse" in out

    code, out, err = run_upload(
        capsys, "--repository-url", url, "-p", token, "--skip-existing", "--json", str(other)
    )
    assert code == 0, out + err
    [result] = json.loads(out)
    assert result["status"] == "skipped" and result["http_status"] == 400
    assert "File already exists" in result["message"]
    assert token not in out + err


def test_input_errors_send_nothing(
    counted: tuple[Server, _Counter], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, counter = counted
    token = setup_project(server)
    wheel, sdist = make_wheel(tmp_path), make_sdist(tmp_path)
    (tmp_path / f"{wheel.name}.publish.attestation").write_text("{}")
    url = f"{server.url}/legacy/"
    code, _out, err = run_upload(
        capsys, "--repository-url", url, "-p", token, "--attestations", str(wheel), str(sdist)
    )
    assert code == 2
    assert f"{sdist}: upload with attestations requested, but no" in err
    assert "nothing was uploaded" in err
    # The wheel's attestation is malformed: reported too.
    assert f"FAIL {wheel}:" in err
    # A stray sidecar whose distribution is not given, and a non-distribution.
    stray = tmp_path / "other-1.0.tar.gz.publish.attestation"
    stray.write_text("{}")
    junk = tmp_path / "notes.txt"
    junk.write_text("x")
    code, _out, err = run_upload(
        capsys, "--repository-url", url, "-p", token, str(stray), str(junk)
    )
    assert code == 2
    assert "its distribution is not among the inputs" in err
    assert "unknown distribution format" in err
    assert counter.requests == 0
    with server.index.session() as s:
        assert s.scalar(select(File)) is None


# -- attestations ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def attested(local_sigstore: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A wheel and an sdist of ``octo-pkg`` with publish (and, for the sdist, SLSA) attestations."""
    base = tmp_path_factory.mktemp("client-attested")
    wheel = make_wheel(base, "octo-pkg", "1.0")
    sdist = make_sdist(base, "octo-pkg", "1.0")
    sign_with(local_sigstore, wheel)
    sign_with(local_sigstore, sdist, slsa_provenance=SLSA_PREDICATE)
    other = base / "other"
    other.mkdir()
    return {
        "dir": base,
        "wheel": wheel,
        "sdist": sdist,
        "trust_config": local_sigstore.trust_config_path,
    }


def _stored_provenance(server: Server) -> dict[str, Any]:
    with server.index.session() as s:
        out: dict[str, Any] = {}
        for row in s.scalars(select(File)):
            provenance = s.get(Provenance, row.id)
            assert provenance is not None, row.filename
            assert row.uploaded_via_trusted_publisher
            out[row.filename] = provenance.provenance
        return out


def test_attested_upload_matches_twine(
    index_server: Callable[..., Server],
    attested: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    roots = (attestkit.TrustRoot.from_file(attested["trust_config"]),)
    with_twine, with_attestkit = index_server(trust_roots=roots), index_server(trust_roots=roots)
    wheel, sdist = attested["wheel"], attested["sdist"]
    attestation_files = sorted(str(p) for p in attested["dir"].glob("*.attestation"))
    assert len(attestation_files) == 3

    proc = twine(
        with_twine.url,
        publisher_token(with_twine),
        "--attestations",
        str(wheel),
        str(sdist),
        *attestation_files,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    token = publisher_token(with_attestkit)
    code, out, err = run_upload(
        capsys,
        "--repository-url",
        f"{with_attestkit.url}/legacy/",
        "-p",
        token,
        "--attestations",
        str(wheel),
        str(sdist),
        *attestation_files,  # given explicitly, like twine: skipped as inputs
    )
    assert code == 0, out + err
    assert f"OK {sdist}: uploaded with 2 attestation(s)" in out
    assert f"OK {wheel}: uploaded with 1 attestation(s)" in out
    expected = _stored_provenance(with_twine)
    assert set(expected) == {wheel.name, sdist.name}
    assert _stored_provenance(with_attestkit) == expected
    assert token not in out + err


def test_attestation_for_another_file_is_refused_locally(
    counted: tuple[Server, _Counter],
    attested: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, counter = counted
    changed = make_sdist(tmp_path, "octo-pkg", "1.0", payload=b"print('changed')\n")
    shutil.copy(
        attested["dir"] / f"{changed.name}.publish.attestation",
        tmp_path / f"{changed.name}.publish.attestation",
    )
    code, _out, err = run_upload(
        capsys,
        "--repository-url",
        f"{server.url}/legacy/",
        "-p",
        "pypi-unused",
        "--attestations",
        str(changed),
    )
    assert code == 2
    assert f"attestation is for {changed.name} (sha256 " in err
    assert counter.requests == 0


# -- retries, redirects ------------------------------------------------------------------------


class _Scripted(http.server.BaseHTTPRequestHandler):
    """Answers POSTs from ``server.script`` (status codes), recording arrival times."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        state: dict[str, Any] = self.server.state  # type: ignore[attr-defined]
        state["times"].append(time.monotonic())
        state["bodies"].append(body)
        state["auth"].append(self.headers.get("Authorization"))
        status = state["script"].pop(0) if state["script"] else 200
        text = b"" if status == 200 else b"try again later"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[tuple[str, dict[str, Any]]]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    state: dict[str, Any] = {"script": [], "times": [], "bodies": [], "auth": []}
    httpd.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/legacy/", state
    httpd.shutdown()
    httpd.server_close()


def test_retries_5xx_with_backoff(
    scripted: tuple[str, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, state = scripted
    state["script"] = [503, 503]
    sdist = make_sdist(tmp_path)
    code, out, err = run_upload(capsys, "--repository-url", url, "-p", "s3cret-token", str(sdist))
    assert code == 0, out + err
    assert len(state["times"]) == 3
    first, second = (b - a for a, b in zip(state["times"], state["times"][1:], strict=False))
    assert 0.45 <= first < 0.9 and 0.95 <= second < 1.5
    assert "503 Service Unavailable: try again later; retry 1 of 5 in 0.5 s" in err
    assert "retry 2 of 5 in 1 s" in err
    # The same form each time (the boundary aside).
    bodies = {body.replace(body[2:34], b"B") for body in state["bodies"]}
    assert len(bodies) == 1
    assert b'name="content"; filename="demo_pkg-1.0.tar.gz"' in bodies.pop()
    assert "s3cret-token" not in out + err


def test_no_retry_on_4xx_and_give_up(
    scripted: tuple[str, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, state = scripted
    state["script"] = [403]
    sdist = make_sdist(tmp_path)
    code, out, _ = run_upload(capsys, "--repository-url", url, "-p", "tok", str(sdist))
    assert code == 1 and len(state["times"]) == 1
    assert "FAIL" in out and "403 Forbidden: try again later" in out
    state["script"] = [500, 502]
    state["times"].clear()
    code, out, _ = run_upload(
        capsys, "--repository-url", url, "-p", "tok", "--retries", "1", str(sdist)
    )
    assert code == 1 and len(state["times"]) == 2
    assert "502 Bad Gateway" in out


def test_redirect_is_an_error(
    index_server: Callable[..., Server], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = index_server()
    token = setup_project(server)
    code, out, _err = run_upload(
        capsys, "--repository-url", f"{server.url}/legacy", "-p", token, str(make_sdist(tmp_path))
    )
    assert code == 1
    assert f"attempted to redirect to {server.url}/legacy/" in out
    assert "missing a trailing slash" in out
    with server.index.session() as s:
        assert s.scalar(select(File)) is None


# -- credentials ------------------------------------------------------------------------------


def test_pypirc_credentials(
    index_server: Callable[..., Server], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = index_server()
    token = setup_project(server)
    rc = tmp_path / "pypirc"
    rc.write_text(
        "[distutils]\nindex-servers =\n    local\n\n"
        f"[local]\nrepository = {server.url}/legacy/\nusername = __token__\npassword = {token}\n"
    )
    sdist = make_sdist(tmp_path)
    code, out, err = run_upload(capsys, "--config-file", str(rc), "-r", "local", str(sdist))
    assert code == 0, out + err
    assert simple_files(server, "demo-pkg") == [sdist.name]
    code, out, err = run_upload(capsys, "--config-file", str(rc), "-r", "nope", str(sdist))
    assert code == 2 and f"Missing 'nope' section from {rc}." in err
    assert token not in out + err


@pytest.mark.parametrize("prefix", ["ATTESTKIT_", "TWINE_"])
def test_environment_credentials(
    index_server: Callable[..., Server],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    prefix: str,
) -> None:
    server = index_server()
    token = setup_project(server)
    monkeypatch.setenv(f"{prefix}REPOSITORY_URL", f"{server.url}/legacy/")
    monkeypatch.setenv(f"{prefix}USERNAME", "__token__")
    monkeypatch.setenv(f"{prefix}PASSWORD", token)
    sdist = make_sdist(tmp_path)
    code, out, err = run_upload(capsys, str(sdist))
    assert code == 0, out + err
    assert simple_files(server, "demo-pkg") == [sdist.name]
    assert token not in out + err


def test_missing_password_non_interactive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_upload(
        capsys, "--repository-url", "http://127.0.0.1:9/legacy/", str(make_sdist(tmp_path))
    )
    assert code == 2
    assert "no API token for http://127.0.0.1:9/legacy/" in err


def test_wrong_token_is_not_printed(
    index_server: Callable[..., Server], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = index_server()
    setup_project(server)
    secret = "pypi-" + "A" * 60
    code, out, err = run_upload(
        capsys, "--repository-url", f"{server.url}/legacy/", "-p", secret, str(make_sdist(tmp_path))
    )
    assert code == 1
    assert "FAIL" in out
    assert secret not in out + err


def _form_fields(body: bytes) -> list[tuple[str, bytes]]:
    boundary = body.split(b"\r\n", 1)[0]
    fields = []
    for part in body.split(boundary)[1:-1]:
        head, _, value = part[2:-2].partition(b"\r\n\r\n")
        name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
        fields.append((name, value))
    return fields


def test_same_form_as_twine(
    scripted: tuple[str, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Field for field, what twine sends for a real wheel and sdist (order of metadata aside)."""
    from tests.conftest import DATA, SDIST, STAGING_WHEEL

    url, state = scripted
    dists = [str(shutil.copy(DATA / n, tmp_path / n)) for n in (STAGING_WHEEL, SDIST)]
    proc = twine(url.removesuffix("/legacy/"), "tok", *dists)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    code, out, err = run_upload(capsys, "--repository-url", url, "-p", "tok", *dists)
    assert code == 0, out + err
    twine_wheel, twine_sdist, ours_wheel, ours_sdist = map(_form_fields, state["bodies"])
    for theirs, ours in ((twine_wheel, ours_wheel), (twine_sdist, ours_sdist)):
        assert sorted(ours) == sorted(theirs)
        assert [n for n, _ in ours][-5:] == [n for n, _ in theirs][-5:]  # digests .. content
    assert state["auth"][0] == state["auth"][-1]


def test_attestations_not_sent_where_unsupported(
    scripted: tuple[str, dict[str, Any]],
    local_sigstore: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An index without PEP 740 (no Simple API 1.3): upload without them, with a warning."""
    url, state = scripted
    sdist = make_sdist(tmp_path)
    sign_with(local_sigstore, sdist)
    code, out, err = run_upload(
        capsys, "--attestations", "--repository-url", url, "-p", "tok", str(sdist)
    )
    assert code == 0, out + err
    assert "does not announce support for PEP 740 attestations" in err
    (body,) = state["bodies"]
    assert b'name="attestations"' not in body
    assert b'name="content"' in body


def test_attestations_sent_to_an_index_that_announces_pep740(
    index_server: Callable[..., Server], local_sigstore: Any, tmp_path: Path
) -> None:
    from attestkit.client.upload import attestations_supported

    server = index_server()
    with requests.Session() as session:
        assert attestations_supported(f"{server.url}/legacy/", session, 10)
        assert attestations_supported("https://upload.pypi.org/legacy/", session, 10)
        assert not attestations_supported("http://127.0.0.1:9/legacy/", session, 2)


def test_a_legacy_attestation_name_is_warned_about_once_at_upload(
    scripted: tuple[str, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``<dist>.attestation`` uploads with attestkit; twine would miss it: one warning, here."""
    from tests.conftest import DATA, SDIST, STAGING_WHEEL

    url, _ = scripted
    dists = []
    for name in (SDIST, STAGING_WHEEL):
        dists.append(str(shutil.copy(DATA / name, tmp_path / name)))
        shutil.copy(DATA / f"{name}.publish.attestation", tmp_path / f"{name}.attestation")
    code, out, err = run_upload(
        capsys, "--repository-url", url, "-p", "tok", "--attestations", *dists
    )
    assert code == 0, out + err
    assert err.count("are named <dist>.attestation") == 1
    assert "2 attestation file(s)" in err
    # verify does not nag about the name (it matters only to twine uploads).
    main(["verify", "attestation", "--staging", "--repository", "https://github.com/x/y",
          dists[1]])  # fmt: skip
    shown = capsys.readouterr()
    assert "FAIL" in shown.out and "twine" not in shown.out + shown.err


def test_json_input_errors_are_a_json_object(tmp_path: Path, capsys) -> None:
    """``--json`` with an input error: one JSON object on stdout, exit 2 (upload and sign)."""
    bad = tmp_path / "not-a-dist.txt"
    bad.write_text("x")
    for command in (
        ["upload", "--non-interactive", "--json", "--repository-url", "http://127.0.0.1:9/"],
        ["sign", "--json", "--no-interactive"],
    ):
        code = main([*command, str(bad)])
        out = capsys.readouterr().out
        doc = json.loads(out)
        assert code == 2, out
        assert doc["ok"] is False and doc["error_kind"] == "input", doc
        assert "not-a-dist.txt" in doc["error"] and doc["errors"][0] == doc["error"]
