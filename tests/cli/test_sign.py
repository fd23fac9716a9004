"""``attestkit sign`` as a process: identity sources, outputs, failures, interruption."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from attestkit import Attestation, Distribution, GitHubIdentity, GitLabIdentity, TrustRoot, Verifier
from tests.conftest import DATA, SDIST, STAGING_WHEEL


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "ACTIONS_", "GITLAB", "SIGSTORE_", "CI", "BUILDKITE"))
    }
    env.update(extra)
    return env


def _sign(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attestkit", "sign", *args],
        capture_output=True,
        text=True,
        env=env or _env(SIGSTORE_OIDC_DISABLE_AMBIENT_PROVIDERS="1"),
        timeout=timeout,
    )


@pytest.fixture
def dists(tmp_path: Path) -> list[Path]:
    for name in (SDIST, STAGING_WHEEL):
        shutil.copy(DATA / name, tmp_path / name)
        (tmp_path / name).chmod(0o644)
    return [tmp_path / SDIST, tmp_path / STAGING_WHEEL]


def _verify(local_sigstore, dist: Path, policy) -> None:
    Verifier(TrustRoot.from_file(local_sigstore.trust_config_path)).verify(
        Attestation.from_file(dist.with_name(dist.name + ".publish.attestation")),
        policy,
        Distribution.from_file(dist),
    )


def test_sign_with_explicit_token(local_sigstore, dists) -> None:
    token = local_sigstore.token(
        "--github", "octo/repo", "--workflow", "release.yml", "--ref", "refs/tags/v1"
    )
    r = _sign("--local", local_sigstore.url, "--identity-token", token, *map(str, dists))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"OK {dists[0]}: wrote {SDIST}.publish.attestation (log index ")
    for d in dists:
        _verify(local_sigstore, d, GitHubIdentity("octo/repo", "release.yml"))


def test_github_actions_ambient_identity(local_sigstore, dists) -> None:
    """The variables a GitHub runner sets; `id` fetches the token from the local instance."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "attestkit",
            "sigstore",
            "token",
            "--data-dir",
            str(local_sigstore.data_dir),
            "--github",
            "octo/ambient",
            "--workflow",
            "publish.yml",
            "--ref",
            "refs/tags/v3",
            "--print-env",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    env = _env(GITHUB_ACTIONS="true", CI="true")
    for line in out.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = value.strip("'")
    r = _sign("--local", local_sigstore.url, str(dists[0]), env=env)
    assert r.returncode == 0, r.stderr
    _verify(
        local_sigstore, dists[0], GitHubIdentity("octo/ambient", "publish.yml", ref="refs/tags/v3")
    )


def test_gitlab_ci_identity_from_variable(local_sigstore, dists) -> None:
    """GitLab CI exposes `id_tokens` as variables: SIGSTORE_ID_TOKEN with aud sigstore."""
    token = local_sigstore.token("--gitlab", "group/proj", "--ref", "main")
    r = _sign(
        "--local",
        local_sigstore.url,
        str(dists[1]),
        env=_env(GITLAB_CI="true", CI="true", SIGSTORE_ID_TOKEN=token),
    )
    assert r.returncode == 0, r.stderr
    _verify(local_sigstore, dists[1], GitLabIdentity("group/proj", ".gitlab-ci.yml"))


def test_no_identity_explains_what_to_set(local_sigstore, dists) -> None:
    r = _sign("--local", local_sigstore.url, "--no-interactive", str(dists[0]))
    assert r.returncode == 2
    assert "permissions: id-token: write" in r.stderr
    assert "id_tokens: SIGSTORE_ID_TOKEN" in r.stderr
    assert "nothing was written" in r.stderr
    assert not list(dists[0].parent.glob("*.attestation"))


def test_existing_attestation_refused_then_overwritten(local_sigstore, dists) -> None:
    existing = dists[0].with_name(dists[0].name + ".publish.attestation")
    existing.write_text("precious")
    token = local_sigstore.token(
        "--github", "octo/repo", "--workflow", "release.yml", "--ref", "refs/tags/v1"
    )
    r = _sign("--local", local_sigstore.url, "--identity-token", token, *map(str, dists))
    assert r.returncode == 2
    assert f"FAIL {dists[0]}: {existing.name} already exists" in r.stderr
    assert existing.read_text() == "precious"
    assert not dists[1].with_name(dists[1].name + ".publish.attestation").exists()
    r = _sign(
        "--local", local_sigstore.url, "--identity-token", token, "--overwrite", *map(str, dists)
    )
    assert r.returncode == 0, r.stderr
    _verify(local_sigstore, dists[0], GitHubIdentity("octo/repo", "release.yml"))


def test_bad_inputs_fail_before_network(dists, tmp_path: Path) -> None:
    (tmp_path / "bad name.tar.gz").write_text("x")
    dead = "http://127.0.0.1:9"  # nothing listens: reaching it would be a different error
    r = _sign(
        "--local",
        dead,
        "--identity-token",
        "a.b.c",
        str(dists[0]),
        str(tmp_path / "nope-1.0.tar.gz"),
        str(tmp_path / "bad name.tar.gz"),
    )
    assert r.returncode == 2
    fails = [line for line in r.stderr.splitlines() if line.startswith("FAIL ")]
    assert len(fails) == 2
    assert "no such file" in fails[0]
    assert "invalid distribution filename" in fails[1]
    assert "cannot reach" not in r.stderr
    assert not list(tmp_path.glob("*.attestation"))


def test_expired_token(local_sigstore, dists) -> None:
    token = local_sigstore.token(
        "--github", "o/r", "--workflow", "w.yml", "--ref", "refs/heads/main", "--lifetime", "-5"
    )
    r = _sign("--local", local_sigstore.url, "--identity-token", token, str(dists[0]))
    assert r.returncode == 2 and "expired at" in r.stderr
    assert not list(dists[0].parent.glob("*.attestation"))


def test_bad_slsa_provenance_file(local_sigstore, dists, tmp_path: Path) -> None:
    (tmp_path / "prov.json").write_text("[1, 2]")
    r = _sign(
        "--local",
        local_sigstore.url,
        "--identity-token",
        "a.b.c",
        "--slsa-provenance",
        str(tmp_path / "prov.json"),
        str(dists[0]),
    )
    assert r.returncode == 2 and "prov.json: SLSA provenance must be a JSON object" in r.stderr


def test_interrupted_run_leaves_no_partial_files(local_sigstore, dists, tmp_path: Path) -> None:
    """SIGTERM while the log hangs: exit 130, no attestation and no temporary file."""
    import json

    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(16)  # accepts connections into the backlog, never answers
    config = json.loads(local_sigstore.trust_config_path.read_text())
    config["signingConfig"]["rekorTlogUrls"][0]["url"] = f"http://127.0.0.1:{hang.getsockname()[1]}"
    tc = tmp_path / "hang.json"
    tc.write_text(json.dumps(config))
    token = local_sigstore.token(
        "--github", "o/r", "--workflow", "w.yml", "--ref", "refs/heads/main"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "attestkit",
            "sign",
            "--trust-config",
            str(tc),
            "--identity-token",
            token,
            "--timeout",
            "120",
            *map(str, dists),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(SIGSTORE_OIDC_DISABLE_AMBIENT_PROVIDERS="1"),
    )
    try:
        time.sleep(2.0)  # certificate issued, log requests hanging
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        hang.close()
    assert proc.returncode == 130, err
    assert "interrupted; nothing was written" in err
    leftovers = sorted(p.name for p in dists[0].parent.iterdir())
    assert leftovers == sorted([SDIST, STAGING_WHEEL, "hang.json"])


def test_interactive_login_signs_as_the_local_user(local_sigstore, dists) -> None:
    """--interactive: the browser flow with the instance's issuer ($BROWSER follows the redirect)."""
    from tests.fixtures.local_sigstore import LOGIN_EMAIL

    env = _env(SIGSTORE_OIDC_DISABLE_AMBIENT_PROVIDERS="1", BROWSER="curl -sL -o /dev/null %s")
    r = _sign("--local", local_sigstore.url, "--interactive", str(dists[0]), env=env)
    assert r.returncode == 0, r.stderr
    from attestkit import Identity

    _verify(local_sigstore, dists[0], Identity(LOGIN_EMAIL, local_sigstore.url))


def _run_in_pty(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    import pty

    output = bytearray()

    def read(fd: int) -> bytes:
        data = os.read(fd, 4096)
        output.extend(data)
        return data

    old = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        status = pty.spawn([sys.executable, "-m", "attestkit", *args], read)
    finally:
        os.environ.clear()
        os.environ.update(old)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_progress_bar_on_a_terminal_only(local_sigstore, tmp_path: Path) -> None:
    paths = []
    for i in range(6):
        p = tmp_path / f"pkg{i}-1.0.tar.gz"
        p.write_bytes(os.urandom(100))
        paths.append(str(p))
    token = local_sigstore.token(
        "--github", "octo/repo", "--workflow", "release.yml", "--ref", "refs/tags/v1"
    )
    args = ["sign", "--local", local_sigstore.url, "--identity-token", token, "--overwrite", *paths]
    code, out = _run_in_pty(args, _env(SIGSTORE_OIDC_DISABLE_AMBIENT_PROVIDERS="1", TERM="xterm"))
    assert code == 0, out
    assert "signing" in out and "6/6" in out  # rich's bar, drawn on the terminal
    code, out = _run_in_pty(
        args, _env(SIGSTORE_OIDC_DISABLE_AMBIENT_PROVIDERS="1", TERM="xterm", CI="true")
    )
    assert code == 0, out
    assert "6/6" not in out  # plain lines in CI logs
    assert re.sub(r"\x1b\[[0-9;]*m", "", out).count("OK ") == 6  # coloured on the terminal
    assert "\x1b[1;32mOK\x1b[0m" in out


def test_interactive_login_without_a_terminal_is_a_usage_error(local_sigstore, dists) -> None:
    """No browser opens and stdin is closed: exit 2 with the reason, never a traceback."""
    env = _env(SIGSTORE_OIDC_DISABLE_AMBIENT_PROVIDERS="1", BROWSER="false")
    r = subprocess.run(
        [sys.executable, "-m", "attestkit", "sign", "--local", local_sigstore.url,
         "--interactive", str(dists[0])],
        capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "no terminal for the login" in r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr


def test_an_unreachable_login_service_is_a_one_line_failure(local_sigstore, dists, tmp_path):
    """The login's discovery cannot connect: exit 1 (a service was unreachable), one line."""
    import json as jsonlib

    import requests

    config = requests.get(f"{local_sigstore.url}/trust-config.json", timeout=30).json()
    for oidc in config["signingConfig"]["oidcUrls"]:
        oidc["url"] = "http://127.0.0.1:9"  # the discard port: nothing listens
    path = tmp_path / "tc.json"
    path.write_text(jsonlib.dumps(config))
    env = _env(SIGSTORE_OIDC_DISABLE_AMBIENT_PROVIDERS="1")
    r = _sign("--trust-config", str(path), "--interactive", str(dists[0]), env=env)
    assert r.returncode == 1, r.stderr
    assert "cannot reach the login service at http://127.0.0.1:9" in r.stderr
    assert "internal error" not in r.stderr
    assert not list(dists[0].parent.glob("*.attestation"))
