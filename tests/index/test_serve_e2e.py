"""``attestkit serve`` as a real process: the whole publishing flow, and crash safety.

The flow a CI job runs, offline: a pending Trusted Publisher creates the project on
first use; a GitHub-Actions-shaped OIDC token (from the embedded issuer) is
exchanged for an upload token; attestkit signs on the embedded Sigstore; the real
twine uploads with attestations; real pip and uv install from the Simple API; and
pypi-attestations verifies the provenance read from the Integrity API.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

from tests.fixtures.served import Served, trust_file
from tests.fixtures.uploads import make_wheel, twine, twine_env

GH = ["--github", "octo/demo", "--workflow", "release.yml", "--ref", "refs/tags/v1.0"]


def _post_wheel(
    url: str, token: str, wheel: Path, session: requests.Session | None = None
) -> requests.Response:
    """Upload one wheel of demo-pkg with a user token, as twine would (without attestations)."""
    data = wheel.read_bytes()
    return (session or requests).post(
        f"{url}/legacy/",
        auth=("__token__", token),
        timeout=60,
        data={
            ":action": "file_upload",
            "protocol_version": "1",
            "name": "demo-pkg",
            "version": wheel.name.split("-")[1],
            "metadata_version": "2.1",
            "filetype": "bdist_wheel",
            "pyversion": "py3",
            "sha256_digest": hashlib.sha256(data).hexdigest(),
        },
        files={"content": (wheel.name, data, "application/octet-stream")},
    )


def _mint(served: Served) -> str:
    oidc = served.ak(
        "sigstore",
        "token",
        "--data-dir",
        str(served.data_dir / "sigstore"),
        *GH,
        "--audience",
        "attestkit",
    )
    r = requests.post(f"{served.url}/_/oidc/mint-token", json={"token": oidc}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["token"].startswith("pypi-")
    return str(body["token"])


def test_publish_install_and_verify_through_attestkit_serve(tmp_path: Path) -> None:
    served = Served(tmp_path / "data")
    try:
        served.pending_github_publisher()
        dist = tmp_path / "dist"
        dist.mkdir()
        wheel = make_wheel(dist, "demo-pkg", "1.0")
        # Sign on the embedded Sigstore, as the workflow octo/demo release.yml.
        sig_token = served.ak(
            "sigstore", "token", "--data-dir", str(served.data_dir / "sigstore"), *GH
        )
        served.ak("sign", "--local", served.url, "--identity-token", sig_token, str(wheel))
        # Trusted Publishing exchange, then the real twine with --attestations.
        upload = twine(served.url, _mint(served), "--attestations", *map(str, dist.iterdir()))
        assert upload.returncode == 0, upload.stdout + upload.stderr

        # Simple API (JSON): the file with its provenance URL and PEP 658 metadata.
        page = requests.get(
            f"{served.url}/simple/demo-pkg/",
            timeout=30,
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        ).json()
        (entry,) = page["files"]
        assert entry["filename"] == wheel.name
        assert entry["hashes"]["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
        assert entry["core-metadata"] and entry["provenance"]
        provenance = requests.get(entry["provenance"], timeout=30)
        assert provenance.headers["Content-Type"] == "application/vnd.pypi.integrity.v1+json"

        # pypi-attestations reads it and verifies with the instance's trust root.
        from pypi_attestations import Provenance as PAProvenance
        from sigstore.models import ClientTrustConfig
        from sigstore.verify import Verifier as SigstoreVerifier

        prov = PAProvenance.model_validate_json(provenance.content)
        (bundle,) = prov.attestation_bundles
        assert bundle.publisher.kind == "GitHub" and bundle.publisher.repository == "octo/demo"
        trust_config = requests.get(f"{served.url}/trust-config.json", timeout=30).text
        tc = ClientTrustConfig.from_json(trust_config)
        for att in bundle.attestations:
            SigstoreVerifier(trusted_root=tc.trusted_root).verify_dsse(
                att.to_bundle(), bundle.publisher._as_policy()
            )

        # attestkit verifies the downloaded file against the provenance, pinning the signer.
        (tmp_path / "trust.json").write_text(trust_config)
        downloaded = tmp_path / "dl"
        downloaded.mkdir()
        (downloaded / wheel.name).write_bytes(requests.get(entry["url"], timeout=30).content)
        (downloaded / f"{wheel.name}.provenance").write_bytes(provenance.content)
        verified = served.ak(
            "verify",
            "provenance",
            "--trust-config",
            str(tmp_path / "trust.json"),
            "--repository",
            "https://github.com/octo/demo",
            "--workflow",
            "release.yml",
            str(downloaded / wheel.name),
        )
        # A development instance's identity is simulated, and every view says so.
        assert verified.endswith("[SIMULATED identity: development instance]")
        project_page = requests.get(f"{served.url}/project/demo-pkg/", timeout=30).text
        assert "simulated identity (development instance)" in project_page

        # Real installers against the Simple API.
        env = twine_env() | {
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_FIND_LINKS": "",
            "PIP_EXTRA_INDEX_URL": "",
            "UV_NO_CACHE": "1",
        }
        pip = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--no-deps",
                "--no-cache-dir",
                "--disable-pip-version-check",
                "--target",
                str(tmp_path / "pip"),
                "--index-url",
                f"{served.url}/simple/",
                "demo-pkg==1.0",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert pip.returncode == 0, pip.stdout + pip.stderr
        assert (tmp_path / "pip" / "demo_pkg-1.0.dist-info").is_dir()
        uv = Path(sys.executable).with_name("uv")
        uvr = subprocess.run(
            [
                str(uv),
                "pip",
                "install",
                "--no-deps",
                "--python",
                sys.executable,
                "--target",
                str(tmp_path / "uv"),
                "--index-url",
                f"{served.url}/simple/",
                "demo-pkg==1.0",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert uvr.returncode == 0, uvr.stdout + uvr.stderr
        assert (tmp_path / "uv" / "demo_pkg-1.0.dist-info").is_dir()
    finally:
        served.stop()


def test_kill_9_during_uploads_keeps_acknowledged_files(tmp_path: Path) -> None:
    """kill -9 mid-uploads: every acknowledged upload survives intact; nothing else is served."""
    served = Served(tmp_path / "data")
    d = str(served.data_dir)
    served.ak("index", "--data-dir", d, "user", "add", "alice")
    served.ak("index", "--data-dir", d, "project", "add", "demo-pkg", "--owner", "alice")
    token = served.ak("index", "--data-dir", d, "token", "add", "--user", "alice")
    dist = tmp_path / "dist"
    dist.mkdir()
    wheels = [make_wheel(dist, "demo-pkg", f"1.0.{i}") for i in range(400)]
    acked: list[Path] = []
    lock = threading.Lock()
    queue = list(wheels)

    def worker() -> None:
        session = requests.Session()
        while True:
            with lock:
                if not queue:
                    return
                wheel = queue.pop()
            try:
                r = _post_wheel(served.url, token, wheel, session)
            except requests.RequestException:
                return
            if r.status_code == 200:
                with lock:
                    acked.append(wheel)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    served.stop(signal.SIGKILL)
    for t in threads:
        t.join(timeout=60)
    assert len(acked) > 5, "uploads should have been acknowledged before the kill"

    restarted = Served(tmp_path / "data")
    try:
        page: dict[str, Any] = requests.get(
            f"{restarted.url}/simple/demo-pkg/",
            timeout=30,
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        ).json()
        listed = {f["filename"]: f for f in page["files"]}
        for wheel in acked:
            assert wheel.name in listed, wheel.name
            body = requests.get(listed[wheel.name]["url"], timeout=30).content
            assert body == wheel.read_bytes()
        # Files that reached the store without a committed row were swept at start (row 6):
        # the store holds exactly the served files and their metadata, incoming/ nothing.
        store = restarted.data_dir / "index" / "files"
        served_paths = {f["url"].split("/files/", 1)[1] for f in page["files"]}
        left = {str(p.relative_to(store)) for p in store.rglob("*") if p.is_file()}
        assert left == served_paths | {f"{p}.metadata" for p in served_paths}
        assert list((restarted.data_dir / "index" / "incoming").iterdir()) == []
        # And the index keeps working.
        extra = make_wheel(tmp_path, "demo-pkg", "9.9")
        assert twine(restarted.url, token, str(extra)).returncode == 0
        assert json.loads(requests.get(f"{restarted.url}/pypi/demo-pkg/json", timeout=30).text)[
            "info"
        ]
    finally:
        restarted.stop()


def test_several_workers_share_the_index_and_the_log(tmp_path: Path) -> None:
    """--workers 2: concurrent signing (one log across processes) and uploads all land."""
    served = Served(tmp_path / "data", "--workers", "2")
    try:
        d = str(served.data_dir)
        served.ak("index", "--data-dir", d, "user", "add", "alice")
        served.ak("index", "--data-dir", d, "project", "add", "demo-pkg", "--owner", "alice")
        token = served.ak("index", "--data-dir", d, "token", "add", "--user", "alice")
        dist = tmp_path / "dist"
        dist.mkdir()
        wheels = [make_wheel(dist, "demo-pkg", f"2.0.{i}") for i in range(24)]
        sig = served.ak("sigstore", "token", "--data-dir", str(served.data_dir / "sigstore"), *GH)
        served.ak(
            "sign",
            "--local",
            served.url,
            "--identity-token",
            sig,
            "--workers",
            "8",
            *map(str, wheels),
        )
        log = requests.get(f"{served.url}/api/v1/log", timeout=30).json()
        assert log["treeSize"] == len(wheels)

        def upload(wheel: Path) -> int:
            return _post_wheel(served.url, token, wheel).status_code

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(upload, wheels)) == {200}
        page = requests.get(
            f"{served.url}/simple/demo-pkg/",
            timeout=30,
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        ).json()
        assert sorted(f["filename"] for f in page["files"]) == sorted(w.name for w in wheels)
        served.ak(
            "verify",
            "attestation",
            "--trust-config",
            trust_file(served, tmp_path),
            "--repository",
            "https://github.com/octo/demo",
            *map(str, wheels),
        )
    finally:
        served.stop()


def test_the_start_up_sweep_removes_orphans_and_keeps_referenced_files(tmp_path: Path) -> None:
    """Hardening row 6: temp files, uploads without a row and incoming copies go; files stay."""
    served = Served(tmp_path / "data")
    d = str(served.data_dir)
    served.ak("index", "--data-dir", d, "user", "add", "alice")
    token = served.ak("index", "--data-dir", d, "token", "add", "--user", "alice")
    wheel = make_wheel(tmp_path, "demo-pkg", "1.0")
    assert _post_wheel(served.url, token, wheel).status_code == 200
    served.stop()
    index_dir = served.data_dir / "index"
    store = index_dir / "files"
    kept = {str(p.relative_to(store)) for p in store.rglob("*") if p.is_file()}
    orphans = [
        store / "ab" / "cd" / ("ef" * 30) / "demo_pkg-2.0-py3-none-any.whl",
        store / "ab" / "cd" / ("ef" * 30) / ".demo_pkg-2.0-py3-none-any.whl.123.456.tmp",
        index_dir / "incoming" / "upload-xyz.tmp",
    ]
    for orphan in orphans:
        orphan.parent.mkdir(parents=True, exist_ok=True)
        orphan.write_bytes(b"left by a killed server")
    restarted = Served(tmp_path / "data")
    try:
        assert not any(o.exists() for o in orphans)
        assert {str(p.relative_to(store)) for p in store.rglob("*") if p.is_file()} == kept
        page = requests.get(
            f"{restarted.url}/simple/demo-pkg/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
            timeout=30,
        ).json()
        (entry,) = page["files"]
        assert requests.get(entry["url"], timeout=30).content == wheel.read_bytes()
    finally:
        restarted.stop()


def test_a_killed_server_is_not_taken_for_a_running_one(tmp_path: Path) -> None:
    """Hardening row 8: after kill -9, `attestkit sigstore token` does not use its server.json."""
    served = Served(tmp_path / "data")
    sigstore_dir = served.data_dir / "sigstore"
    assert (sigstore_dir / "server.json").exists()
    served.stop(signal.SIGKILL)
    assert (sigstore_dir / "server.json").exists()  # nobody could withdraw it
    out = subprocess.run(
        [sys.executable, "-m", "attestkit", "sigstore", "token", "--data-dir", str(sigstore_dir),
         "--email", "dev@example.test"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2, out.stdout
    assert "no instance is running" in out.stderr
    assert not (sigstore_dir / "server.json").exists()
