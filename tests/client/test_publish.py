"""``attestkit publish``: a CI job simulated end to end against ``attestkit serve``.

GitHub Actions: the runner environment comes from ``attestkit sigstore token
--print-env`` (``id`` then requests tokens from the embedded issuer for any
audience); GitLab CI: ``GITLAB_CI``, ``SIGSTORE_ID_TOKEN`` and
``ATTESTKIT_ID_TOKEN``.  Token refresh is tested at the library level against
an in-process index with a 2-second minted-token lifetime.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from attestkit.client.publish import (
    AudienceError,
    claim_lines,
    index_origin,
    publish,
    reusable_workflow_warning,
)
from tests.fixtures.index_server import Server
from tests.fixtures.served import AK, Served, trust_file
from tests.fixtures.uploads import make_sdist, make_wheel

_CI_PREFIXES = ("GITHUB_", "ACTIONS_", "GITLAB", "SIGSTORE_", "BUILDKITE", "CIRCLECI", "GOOGLE_")


def _clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any CI or identity variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_CI_PREFIXES) and not k.endswith("_ID_TOKEN") and k != "CI"
    }
    return env | {"NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"} | extra


def _runner_env(served: Served, repo: str = "octo/demo", workflow: str = "release.yml") -> dict:
    """The variables a GitHub runner sets for a job with ``id-token: write``."""
    text = served.ak(
        "sigstore",
        "token",
        "--data-dir",
        str(served.data_dir / "sigstore"),
        "--url",
        served.url,
        "--github",
        repo,
        "--workflow",
        workflow,
        "--ref",
        "refs/tags/v1",
        "--print-env",
    )
    env: dict[str, str] = {}
    for line in text.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0]
    return env


def _gitlab_token(served: Served, project: str, audience: str) -> str:
    return served.ak(
        "sigstore",
        "token",
        "--data-dir",
        str(served.data_dir / "sigstore"),
        "--gitlab",
        project,
        "--audience",
        audience,
    )


def _publish(served: Served, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AK, "publish", "--repository-url", f"{served.url}/legacy/", "--local", served.url, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )


def _simple(served: Served, project: str) -> dict[str, Any]:
    response = requests.get(
        f"{served.url}/simple/{project}/",
        timeout=30,
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    if response.status_code == 404:
        return {"files": []}
    result: dict[str, Any] = response.json()
    return result


def _dists(tmp_path: Path, name: str = "demo-pkg", version: str = "1.0") -> list[Path]:
    dist = tmp_path / "dist"
    dist.mkdir(exist_ok=True)
    return [make_wheel(dist, name, version), make_sdist(dist, name, version)]


def test_github_actions_publish_verify_and_republish(tmp_path: Path) -> None:
    served = Served(tmp_path / "data")
    try:
        served.pending_github_publisher()
        wheel, sdist = _dists(tmp_path)
        env = _clean_env(**_runner_env(served))
        proc = _publish(served, env, str(tmp_path / "dist" / "*"))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        lines = proc.stdout.splitlines()
        assert len(lines) == 2
        for path in (wheel, sdist):
            url = f"{served.url}/integrity/demo-pkg/1.0/{path.name}/provenance"
            assert f"OK {path}: uploaded; provenance {url}" in lines
            assert requests.get(url, timeout=30).status_code == 200
        assert "ACTIONS_ID_TOKEN_REQUEST_TOKEN" not in proc.stdout + proc.stderr
        assert env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] not in proc.stdout + proc.stderr

        # Simple JSON and Integrity API; the downloaded files verify against the repository.
        files = {f["filename"]: f for f in _simple(served, "demo-pkg")["files"]}
        assert set(files) == {wheel.name, sdist.name}
        downloaded = tmp_path / "dl"
        downloaded.mkdir()
        for name, entry in files.items():
            assert entry["provenance"]
            (downloaded / name).write_bytes(requests.get(entry["url"], timeout=30).content)
            provenance = requests.get(entry["provenance"], timeout=30).json()
            (bundle,) = provenance["attestation_bundles"]
            assert bundle["publisher"]["repository"] == "octo/demo"
            (attestation,) = bundle["attestations"]
            (downloaded / f"{name}.publish.attestation").write_text(json.dumps(attestation))
        served.ak(
            "verify",
            "attestation",
            "--trust-config",
            trust_file(served, tmp_path),
            "--repository",
            "https://github.com/octo/demo",
            *(str(downloaded / name) for name in files),
        )

        # A second publish in the same job signs nothing; the index accepts identical files.
        before = {p: p.read_bytes() for p in (tmp_path / "dist").glob("*.attestation")}
        assert len(before) == 2
        proc = _publish(served, env, "--json", str(wheel), str(sdist))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "signed 0 attestation(s); kept 2 that verify" in proc.stderr
        assert {p: p.read_bytes() for p in before} == before
        # A rebuilt sdist with the same name: refused, or skipped with --skip-existing.
        rebuilt_dir = tmp_path / "rebuilt"
        rebuilt_dir.mkdir()
        rebuilt = make_sdist(rebuilt_dir, "demo-pkg", "1.0", payload=b"print('rebuilt')\n")
        assert rebuilt.name == sdist.name
        proc = _publish(served, env, str(rebuilt))
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert proc.stdout.startswith(f"FAIL {rebuilt}: 400")
        proc = _publish(served, env, "--skip-existing", "--json", str(rebuilt))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        report = json.loads(proc.stdout)
        assert [f["status"] for f in report["files"]] == ["skipped"]
        assert report["files"][0]["provenance"] is None
        assert report["mints"] == 1
        files = _simple(served, "demo-pkg")["files"]
        assert len(files) == 2
        served_sdist = next(f for f in files if f["filename"] == sdist.name)
        assert requests.get(served_sdist["url"], timeout=30).content == sdist.read_bytes()
    finally:
        served.stop()


def test_gitlab_ci_publish_and_failures(tmp_path: Path) -> None:
    served = Served(tmp_path / "data")
    try:
        d = str(served.data_dir)
        served.ak("index", "--data-dir", d, "user", "add", "alice")
        served.ak("index", "--data-dir", d, "project", "add", "gl-pkg", "--owner", "alice")
        served.ak(
            "index",
            "--data-dir",
            d,
            "publisher",
            "add",
            "--project",
            "gl-pkg",
            "--gitlab",
            "group/demo",
            "--workflow",
            ".gitlab-ci.yml",
        )
        wheel, sdist = _dists(tmp_path, "gl-pkg", "2.0")

        # No CI environment: exit 2, per-CI guidance, nothing uploaded.
        proc = _publish(served, _clean_env(), str(wheel), str(sdist))
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "no OIDC credentials for audience 'attestkit'" in proc.stderr
        assert "permissions: id-token: write" in proc.stderr
        assert "id_tokens: ATTESTKIT_ID_TOKEN: aud: attestkit" in proc.stderr
        assert "nothing was uploaded" in proc.stderr
        # GitLab without the variable: id's error, plus the guidance.
        proc = _publish(served, _clean_env(GITLAB_CI="true"), str(wheel))
        assert proc.returncode == 2
        assert "ATTESTKIT_ID_TOKEN not found" in proc.stderr

        # A token from another project: exit 1, the failed claim and the claims, no JWT.
        other = _gitlab_token(served, "group/other", "attestkit")
        env = _clean_env(
            GITLAB_CI="true",
            ATTESTKIT_ID_TOKEN=other,
            SIGSTORE_ID_TOKEN=_gitlab_token(served, "group/other", "sigstore"),
        )
        proc = _publish(served, env, str(wheel), str(sdist))
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "invalid-publisher" in proc.stderr
        assert "project_path" in proc.stderr.split("The token")[0]
        assert "  project_path: group/other" in proc.stderr
        assert "  environment: MISSING" in proc.stderr
        assert other not in proc.stdout + proc.stderr
        assert other.split(".")[1] not in proc.stdout + proc.stderr
        assert not list((tmp_path / "dist").glob("*.attestation"))  # nothing signed either

        # A GitHub job with no publisher for its repository.
        proc = _publish(served, _clean_env(**_runner_env(served, "octo/unknown")), str(wheel))
        assert proc.returncode == 1
        assert "invalid-publisher" in proc.stderr
        assert "  repository: octo/unknown" in proc.stderr
        assert _simple(served, "gl-pkg")["files"] == []

        # The right project: published.
        env = _clean_env(
            GITLAB_CI="true",
            ATTESTKIT_ID_TOKEN=_gitlab_token(served, "group/demo", "attestkit"),
            SIGSTORE_ID_TOKEN=_gitlab_token(served, "group/demo", "sigstore"),
        )
        proc = _publish(served, env, str(wheel), str(sdist))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"OK {wheel}: uploaded; provenance {served.url}/integrity/gl-pkg/2.0/" in proc.stdout
        files = _simple(served, "gl-pkg")["files"]
        assert sorted(f["filename"] for f in files) == sorted([wheel.name, sdist.name])
        assert all(f["provenance"] for f in files)
    finally:
        served.stop()


def test_bad_input_contacts_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-dist.txt"
    bad.write_text("x")
    proc = subprocess.run(
        [*AK, "publish", "--repository-url", "http://127.0.0.1:9/legacy/", str(bad)],
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("FAIL ")
    assert "nothing was uploaded" in proc.stderr


# -- library level ------------------------------------------------------------------------


def test_helpers() -> None:
    assert index_origin("https://upload.pypi.org/legacy/") == "https://pypi.org"
    assert index_origin("https://test.pypi.org/legacy/") == "https://test.pypi.org"
    assert index_origin("http://127.0.0.1:8080/legacy/") == "http://127.0.0.1:8080"
    same = {"workflow_ref": "o/r/.github/workflows/a.yml@refs/tags/v1"}
    assert reusable_workflow_warning(same | {"job_workflow_ref": same["workflow_ref"]}) is None
    warning = reusable_workflow_warning(
        same | {"job_workflow_ref": "o/shared/.github/workflows/pypi.yml@refs/heads/main"}
    )
    assert warning is not None and "'pypi.yml', not 'a.yml'" in warning
    assert claim_lines({"sub": "s", "project_path": "g/p"})[:2] == ["sub: s", "project_path: g/p"]


def test_audience_disabled(index_server: Callable[..., Server], tmp_path: Path) -> None:
    from tests.fixtures.tp_app import oidc_app

    server = index_server(app_factory=oidc_app)  # no issuers: Trusted Publishing is off
    wheel = make_wheel(tmp_path, "demo-pkg", "1.0")
    with pytest.raises(AudienceError, match="trusted publishing is disabled on 127.0.0.1"):
        publish([wheel], repository_url=f"{server.url}/legacy/", token_source=lambda a: None)


def _github_index(
    index_server: Callable[..., Server],
    local_sigstore: Any,
    monkeypatch: pytest.MonkeyPatch,
    **options: Any,
) -> Server:
    """An index with a GitHub publisher for demo-pkg, and this process set up as its runner."""
    import attestkit
    from attestkit.core.constants import GITHUB_ISSUER
    from attestkit.index import admin
    from attestkit.index.instance import OidcIssuer
    from attestkit.sigstore.local.keys import KeyStore
    from attestkit.sigstore.local.oidc import Issuer

    jwks = Issuer(KeyStore.open(local_sigstore.data_dir), "http://local").jwks()
    server = index_server(
        trust_roots=(attestkit.TrustRoot.from_file(str(local_sigstore.trust_config_path)),),
        oidc_issuers=(OidcIssuer(GITHUB_ISSUER, "github", jwks=jwks),),
        **options,
    )
    with server.index.session() as s:
        alice = admin.create_user(s, "alice", "alice@example.test")
        project = admin.create_project(s, "demo-pkg", alice)
        admin.add_publisher(
            s,
            "GitHub",
            {"repository": "octo/demo", "workflow": "release.yml"},
            project=project,
            added_by=alice,
        )
    for key in set(os.environ) - set(_clean_env()):
        monkeypatch.delenv(key)
    runner = local_sigstore.token(
        "--github", "octo/demo", "--workflow", "release.yml", "--ref", "refs/tags/v1", "--print-env"
    )
    for line in runner.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        monkeypatch.setenv(name, shlex.split(value)[0])
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    return server


def test_minted_token_is_refreshed_before_each_file(
    index_server: Callable[..., Server],
    local_sigstore: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import attestkit

    server = _github_index(index_server, local_sigstore, monkeypatch, minted_token_lifetime=2)

    dist = tmp_path / "dist"
    dist.mkdir()
    wheels = [make_wheel(dist, "demo-pkg", f"1.0.{i}") for i in range(3)]
    services = attestkit.SigningServices.from_file(str(local_sigstore.trust_config_path))
    events: list[str] = []
    # Minted tokens live 2 s: with a 300 s margin, every file needs a fresh one.
    report = publish(
        wheels,
        repository_url=f"{server.url}/legacy/",
        services=services,
        refresh_margin=300,
        on_event=events.append,
    )
    assert [r.status for r in report.results] == ["uploaded"] * 3, report.results
    assert report.mints == 1 + len(wheels)
    assert sum("refreshed the upload token" in e for e in events) == len(wheels)
    assert all(r.provenance_url for r in report.results)
    with server.index.session() as s:
        from sqlalchemy import func, select

        from attestkit.index.db import ApiToken

        assert s.scalar(select(func.count()).select_from(ApiToken)) == report.mints


def test_publish_hashes_each_file_once_and_uses_one_session(
    index_server: Callable[..., Server],
    local_sigstore: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Metadata and digests are computed once per file; one HTTP session serves every request."""
    import hashlib
    import threading

    import attestkit

    server = _github_index(index_server, local_sigstore, monkeypatch)
    dist = tmp_path / "dist"
    dist.mkdir()
    wheels = [make_wheel(dist, "demo-pkg", f"1.0.{i}") for i in range(3)]
    services = attestkit.SigningServices.from_file(str(local_sigstore.trust_config_path))

    # Only this thread publishes; the index answers on its own threads.
    publisher = threading.get_ident()
    blake2b = hashlib.blake2b
    digests = 0  # the upload's BLAKE2b-256: computed where the file is planned, and only there
    sessions = 0
    real_session_init = requests.Session.__init__

    def counting_blake2b(*args: Any, **kwargs: Any) -> Any:
        nonlocal digests
        if threading.get_ident() == publisher:
            digests += 1
        return blake2b(*args, **kwargs)

    def counting_session_init(self: requests.Session) -> None:
        nonlocal sessions
        if threading.get_ident() == publisher:
            sessions += 1
        real_session_init(self)

    monkeypatch.setattr(hashlib, "blake2b", counting_blake2b)
    monkeypatch.setattr(requests.Session, "__init__", counting_session_init)
    report = publish(wheels, repository_url=f"{server.url}/legacy/", services=services)
    assert [r.status for r in report.results] == ["uploaded"] * len(wheels), report.results
    assert digests == len(wheels)
    assert sessions == 1


def test_cli_help() -> None:
    out = subprocess.run([*AK, "publish", "--help"], capture_output=True, text=True, check=True)
    assert "--skip-existing" in out.stdout and "Trusted Publishing" in out.stdout


def test_names_the_index_would_refuse_stop_everything_before_any_request(tmp_path: Path) -> None:
    """A setuptools-style sdist name (not PEP 625): nothing is signed or sent; dist/* default."""
    dist = tmp_path / "dist"
    dist.mkdir()
    make_wheel(dist, "hello-ux", "1.1.0")
    make_sdist(dist, "hello-ux", "1.1.0", filename="hello-ux-1.1.0.tar.gz")
    proc = subprocess.run(
        [*AK, "publish", "--repository-url", "http://127.0.0.1:9/legacy/"],  # no DIST: dist/*
        capture_output=True, text=True, env=_clean_env(), timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "hello-ux-1.1.0.tar.gz: the index would refuse it: Filename" in proc.stderr
    assert "should be 'hello_ux-1.1.0.tar.gz'" in proc.stderr
    assert "nothing was uploaded" in proc.stderr
    assert not list(dist.glob("*.attestation"))  # nothing signed either


class _Recorder:
    """A recording reverse proxy in front of the index: every request's method and path."""

    def __init__(self, upstream: str) -> None:
        import http.server
        import threading

        seen: list[tuple[str, str]] = []
        self.seen = seen

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self) -> None:
                seen.append((self.command, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                r = requests.request(
                    self.command, upstream + self.path, data=body, headers=headers,
                    allow_redirects=False, timeout=60,
                )  # fmt: skip
                self.send_response(r.status_code)
                for key, value in r.headers.items():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


def test_dry_run_does_everything_but_the_upload(tmp_path: Path) -> None:
    served = Served(tmp_path / "data")
    recorder = _Recorder(served.url)
    try:
        served.pending_github_publisher()
        wheel, sdist = _dists(tmp_path)
        summary = tmp_path / "summary.md"
        env = _clean_env(**_runner_env(served), GITHUB_STEP_SUMMARY=str(summary))
        proc = subprocess.run(
            [*AK, "publish", "--dry-run", "--repository-url", f"{recorder.url}/legacy/",
             "--local", served.url, str(tmp_path / "dist" / "*")],
            capture_output=True, text=True, env=env, timeout=180,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.splitlines() == [
            f"OK {wheel}: ready (dry run: not uploaded)",
            f"OK {sdist}: ready (dry run: not uploaded)",
        ]
        paths = [path for _, path in recorder.seen]
        assert "/_/oidc/audience" in paths and "/_/oidc/mint-token" in paths  # exchanged
        assert not [p for p in paths if p.startswith("/legacy")]  # never uploaded
        assert _simple(served, "demo-pkg")["files"] == []
        assert not list((tmp_path / "dist").glob("*.attestation"))  # signed a discarded copy
        assert "dry run: signed 2 file(s)" in proc.stderr
        # On GitHub Actions: a job summary of what was done.
        text = summary.read_text()
        assert "### attestkit publish to http://127.0.0.1:" in text and "(dry run)" in text
        assert f"| {wheel.name} | checked |  |" in text

        # A set that would fail: 1 (the exchange refused) or 2 (input), with the reason.
        stranger = _clean_env(**_runner_env(served, repo="octo/other"))
        refused = subprocess.run(
            [*AK, "publish", "--dry-run", "--repository-url", f"{recorder.url}/legacy/",
             "--local", served.url, str(tmp_path / "dist" / "*")],
            capture_output=True, text=True, env=stranger, timeout=180,
        )  # fmt: skip
        assert refused.returncode == 1, refused.stderr
        assert "nothing was uploaded" in refused.stderr
        assert refused.stdout.startswith("::error title=attestkit::")  # an annotation
        input_error = subprocess.run(
            [*AK, "publish", "--dry-run", "-r", "nowhere", str(tmp_path / "dist" / "*")],
            capture_output=True, text=True, env=env, timeout=180,
        )  # fmt: skip
        assert input_error.returncode == 2 and "Missing 'nowhere' section" in input_error.stderr
    finally:
        recorder.close()
        served.stop()
