"""``attestkit monitor`` against real local instances (processes on 127.0.0.1).

* An entry signed by the watched identity and never uploaded is reported, once;
  one whose file the index serves with its provenance is not; another identity's
  is ignored.
* A forked log (two instances with the same keys and different trees behind one
  address) is reported as a split view.
* A monitor killed with SIGKILL in the middle of a long log resumes from its
  saved progress and reports every finding exactly once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from attestkit.core.models import Attestation
from tests.fixtures.balancer import Balancer
from tests.fixtures.local_sigstore import Instance, start_instance
from tests.fixtures.processes import ak
from tests.fixtures.served import Served
from tests.fixtures.uploads import make_wheel, twine

REPO = "https://github.com/octo/demo"
GH = ["--github", "octo/demo", "--workflow", "release.yml", "--ref", "refs/tags/v1.0"]


def _monitor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attestkit", "monitor", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def _sign(served: Served, wheel: Path, *who: str) -> Attestation:
    token = served.ak("sigstore", "token", "--data-dir", str(served.data_dir / "sigstore"), *who)
    served.ak("sign", "--local", served.url, "--identity-token", token, str(wheel))
    [path] = wheel.parent.glob(f"{wheel.name}.*.attestation")
    return Attestation.from_file(path)


def test_an_unpublished_signature_is_reported_once_and_a_published_one_is_not(
    tmp_path: Path,
) -> None:
    served = Served(tmp_path / "data")
    try:
        served.pending_github_publisher()
        trust = tmp_path / "trust.json"
        trust.write_text(requests.get(f"{served.url}/trust-config.json", timeout=30).text)
        published, unpublished, other = (tmp_path / d for d in ("pub", "unpub", "other"))
        for d in (published, unpublished, other):
            d.mkdir()
        _sign(served, make_wheel(published, "demo-pkg", "1.0"), *GH)
        token = served.ak("sigstore", "token", "--data-dir", str(served.data_dir / "sigstore"),
                          *GH, "--audience", "attestkit")  # fmt: skip
        minted = requests.post(f"{served.url}/_/oidc/mint-token", json={"token": token}, timeout=30)
        r = twine(served.url, minted.json()["token"], "--attestations",
                  *map(str, published.iterdir()))  # fmt: skip
        assert r.returncode == 0, r.stdout + r.stderr
        stray = _sign(served, make_wheel(unpublished, "demo-pkg", "2.0"), *GH)
        _sign(served, make_wheel(other, "demo-pkg", "3.0"),
              "--github", "octo/other", "--workflow", "release.yml", "--ref", "refs/tags/v1")  # fmt: skip
        [stray_entry] = stray.verification_material.log_entries()
        args = [
            "--state", str(tmp_path / "state.json"), "--report", str(tmp_path / "report.jsonl"),
            "--log", f"{served.url}/api/v1/tiles", "--trust-config", str(trust),
            "--repository", REPO, "--project", "demo-pkg", "--index", f"{served.url}/simple/",
            "--json",
        ]  # fmt: skip
        # Within the grace period nothing is reported yet.
        first = _monitor(*args)
        assert first.returncode == 0 and first.stdout == "", first.stdout + first.stderr
        report = _monitor(*args, "--grace", "0")
        assert report.returncode == 1, report.stderr
        [finding] = [json.loads(line) for line in report.stdout.splitlines()]
        assert finding["kind"] == "unpublished" and finding["index"] == stray_entry.log_index
        assert "octo/demo" in finding["identity"]
        again = _monitor(*args, "--grace", "0")
        assert again.returncode == 0 and again.stdout == ""  # reported once
        lines = (tmp_path / "report.jsonl").read_text().splitlines()
        assert [json.loads(line)["index"] for line in lines] == [stray_entry.log_index]
        # Several identities from a --watch file: both strays, each under its identity.
        watch = tmp_path / "watch.toml"
        watch.write_text(
            '[[identity]]\nrepository = "https://github.com/octo/demo"\n'
            'workflow = "release.yml"\nprojects = ["demo-pkg"]\n'
            '[[identity]]\nrepository = "https://github.com/octo/other"\n'
            'projects = ["other-pkg"]\n'
        )
        both = _monitor(
            "--state", str(tmp_path / "state2.json"), "--watch", str(watch), "--grace", "0",
            "--log", f"{served.url}/api/v1/tiles", "--trust-config", str(trust),
            "--index", f"{served.url}/simple/", "--json",
        )  # fmt: skip
        assert both.returncode == 1, both.stderr
        found = sorted(json.loads(line)["identity"] for line in both.stdout.splitlines())
        assert len(found) == 2 and "octo/demo" in found[0] and "octo/other" in found[1]
        watch.write_text('[[identity]]\nrepo = "x"\n')
        bad = _monitor("--state", str(tmp_path / "s3.json"), "--watch", str(watch),
                       "--log", served.url)  # fmt: skip
        assert bad.returncode == 2 and "unknown key 'repo'" in bad.stderr
        assert bad.stderr.count("\n") == 1
    finally:
        served.stop()


def _append(url: str, body: dict[str, Any]) -> None:
    r = requests.post(f"{url}/api/v1/log/entries", json=body, timeout=30)
    assert r.status_code == 201, r.text


def test_a_forked_log_is_a_split_view(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    from attestkit.serving.devmode import DEVELOPMENT, claim_data_dir
    from attestkit.sigstore.local.keys import KeyStore
    from tests.fixtures.logutil import hashedrekord_request, self_signed

    # Two development instances with the same keys (one copied into the other's data
    # directory) and different entries: one log identity, two trees.
    first = tmp_path / "a"
    KeyStore.open(first)
    claim_data_dir(first, DEVELOPMENT)
    second = tmp_path / "b"
    second.mkdir()
    import shutil

    shutil.copytree(first / "keys", second / "keys")
    claim_data_dir(second, DEVELOPMENT)
    a, b = start_instance(first), start_instance(second)
    balancer = Balancer()
    try:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self_signed(key)
        for i in range(5):
            _append(a.url, hashedrekord_request(key, cert, b"shared %d" % i))
            _append(b.url, hashedrekord_request(key, cert, b"shared %d" % i))
        _append(a.url, hashedrekord_request(key, cert, b"only in A"))
        _append(b.url, hashedrekord_request(key, cert, b"only in B"))
        balancer.targets = [_address(a)]
        args = [
            "--state", str(tmp_path / "state.json"), "--log", f"{balancer.url}/api/v1/tiles",
            "--trust-config", str(a.trust_config_path), "--identity", "x@example.com",
            "--issuer", "https://issuer.example", "--project", "demo",
            "--index", f"{balancer.url}/simple/",
        ]  # fmt: skip
        assert _monitor(*args).returncode == 0
        balancer.targets = [_address(b)]  # the same address now shows the other tree
        forked = _monitor(*args)
        assert forked.returncode == 1, forked.stdout + forked.stderr
        assert "split view" in forked.stdout and "two different trees of size 6" in forked.stdout
        _append(b.url, hashedrekord_request(key, cert, b"B grows"))
        grown = _monitor(*args)
        assert grown.returncode == 1 and "do not hash to the signed root" in grown.stdout
    finally:
        balancer.close()
        a.stop()
        b.stop()


def _address(instance: Instance) -> tuple[str, int]:
    host, port = instance.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _hashedrekord(der: bytes, n: int) -> bytes:
    pem = (
        b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"
    )
    return json.dumps(
        {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {
                    "hash": {"algorithm": "sha256", "value": hashlib.sha256(b"%d" % n).hexdigest()}
                },
                "signature": {
                    "content": base64.b64encode(b"sig %d" % n).decode(),
                    "publicKey": {"content": base64.b64encode(pem).decode()},
                },
            },
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


@pytest.mark.slow
def test_a_killed_monitor_resumes_without_missing_or_repeating(tmp_path: Path) -> None:
    from attestkit.sigstore.local.keys import KeyStore
    from attestkit.sigstore.local.log import TransparencyLog

    data = tmp_path / "instance"
    instance = start_instance(data)
    dist = tmp_path / "dist"
    dist.mkdir()
    wheel = make_wheel(dist, "demo-pkg", "1.0")
    token = instance.token(*GH)
    r = ak("sign", "--local", instance.url, "--identity-token", token, str(wheel))
    assert r.returncode == 0, r.stderr
    [path] = dist.glob("*.attestation")
    watched = Attestation.from_file(path).verification_material.certificate
    token = instance.token("--github", "octo/other", "--workflow", "r.yml", "--ref", "main")
    wheel2 = make_wheel(dist, "other-pkg", "1.0")
    assert (
        ak("sign", "--local", instance.url, "--identity-token", token, str(wheel2)).returncode == 0
    )
    [path2] = dist.glob("other*.attestation")
    unwatched = Attestation.from_file(path2).verification_material.certificate
    instance.stop()
    # 40,000 more entries; every 4,000th is the watched identity's.
    keys = KeyStore.open(data)
    watched_at = {4000 * k + 3 for k in range(10)}
    with TransparencyLog.open(data / "log.sqlite3", keys, "attestkit.local") as log:
        base = log.size()
        log.bulk_load_for_benchmark(
            _hashedrekord(watched if i in watched_at else unwatched, i) for i in range(40_000)
        )
    expected = {base + i for i in watched_at} | {0}  # the first signature was never uploaded
    instance = start_instance(data)
    try:
        state, report = tmp_path / "state.json", tmp_path / "report.jsonl"
        args = [
            sys.executable, "-m", "attestkit", "monitor", "--state", str(state),
            "--report", str(report), "--log", f"{instance.url}/api/v1/tiles",
            "--trust-config", str(instance.trust_config_path), "--repository", REPO,
            "--project", "demo-pkg", "--index", f"{instance.url}/simple/", "--grace", "0",
        ]  # fmt: skip
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        progress = 0
        while time.monotonic() < deadline and proc.poll() is None:
            if state.exists():
                ranges: dict[str, Any] = json.loads(state.read_text())["progress"]
                progress = max((int(r["size"]) for r in ranges.values()), default=0)
                if progress >= 8192:
                    break
            time.sleep(0.01)
        assert proc.poll() is None, "the monitor finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        saved = json.loads(state.read_text())
        assert 0 < next(iter(saved["progress"].values()))["size"] < base + 40_000
        assert not saved["verified"]  # the pass was not complete
        done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode in (0, 1), done.stderr  # no index here: findings or none
        final = json.loads(state.read_text())
        assert next(iter(final["verified"].values()))["size"] == base + 40_000
        # Reported exactly once each (the index at this URL has nothing published).
        lines = [json.loads(line) for line in report.read_text().splitlines()]
        assert sorted(line["index"] for line in lines) == sorted(expected)
    finally:
        instance.stop()


def test_a_rekor_v1_log_can_be_followed_from_its_head(tmp_path: Path) -> None:
    """``--from-head``: the first pass starts at the newest checkpoint (its compact range
    from the last entry's inclusion proof), so a huge public log is followed from now."""
    instance = start_instance(tmp_path / "instance")
    try:
        dist = tmp_path / "dist"
        dist.mkdir()
        for version in ("1.0", "1.1", "1.2"):  # before the monitor starts: never reported
            wheel = make_wheel(dist, "demo-pkg", version)
            token = instance.token(*GH)
            assert ak("sign", "--local", instance.url, "--identity-token", token,
                      str(wheel)).returncode == 0  # fmt: skip
        args = [
            "--state", str(tmp_path / "state.json"), "--rekor-v1", instance.url, "--from-head",
            "--trust-config", str(instance.trust_config_path), "--repository", REPO,
            "--project", "demo-pkg", "--index", f"{instance.url}/simple/", "--grace", "0",
            "--json",
        ]  # fmt: skip
        first = _monitor(*args)
        assert first.returncode == 0 and first.stdout == "", first.stdout + first.stderr
        state = json.loads((tmp_path / "state.json").read_text())
        assert next(iter(state["verified"].values()))["size"] == 3
        wheel = make_wheel(dist, "demo-pkg", "2.0")
        token = instance.token(*GH)
        assert ak("sign", "--local", instance.url, "--identity-token", token,
                  str(wheel)).returncode == 0  # fmt: skip
        second = _monitor(*args)
        assert second.returncode == 1, second.stderr
        [finding] = [json.loads(line) for line in second.stdout.splitlines()]
        assert finding["kind"] == "unpublished" and finding["index"] == 3
    finally:
        instance.stop()
