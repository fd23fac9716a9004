"""``attestkit serve --ssl-certfile/--ssl-keyfile``: HTTPS for pip, uv and twine, no proxy needed."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import subprocess
import sys
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.fixtures.processes import ak, start_server
from tests.fixtures.uploads import make_wheel, twine_env


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA, and a server certificate it issued for 127.0.0.1 and localhost: the CA
    file, the server's certificate file and its key file."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attestkit test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = (directory / n for n in ("ca.pem", "cert.pem", "key.pem"))
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_pem_key(key))
    return ca_path, cert_path, key_path


def test_https_for_uploads_and_installs(tmp_path: Path) -> None:
    ca, cert, key = _certificate(tmp_path)
    served = start_server(
        ["serve", "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)], tmp_path / "d"
    )
    try:
        assert served.url.startswith("https://127.0.0.1:")
        assert requests.get(f"{served.url}/simple/", verify=str(ca), timeout=30).ok
        d = str(tmp_path / "d")
        ak("index", "--data-dir", d, "user", "add", "alice")
        token = ak("index", "--data-dir", d, "token", "add", "--user", "alice").stdout.strip()
        dist = tmp_path / "dist"
        dist.mkdir()
        make_wheel(dist, "demo-pkg", "1.0")
        env = {**os.environ, "SSL_CERT_FILE": str(ca), "UV_NO_CACHE": "1"}
        uv = str(Path(sys.executable).with_name("uv"))
        published = subprocess.run(
            [uv, "publish", "--publish-url", f"{served.url}/legacy/", "--token", token,
             f"{dist}/*"],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert published.returncode == 0, published.stdout + published.stderr
        # The machine's CA settings (PIP_CERT, CURL_CA_BUNDLE...) would win over --cert.
        pip_env = {
            k: v
            for k, v in twine_env().items()
            if k not in ("PIP_CERT", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
        } | {"PIP_CONFIG_FILE": os.devnull, "PIP_EXTRA_INDEX_URL": ""}
        installed = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir",
             "--disable-pip-version-check", "--cert", str(ca), "--target",
             str(tmp_path / "t"), "--index-url", f"{served.url}/simple/", "demo-pkg"],
            capture_output=True, text=True, env=pip_env, timeout=300,
        )  # fmt: skip
        assert installed.returncode == 0, installed.stderr
        assert (tmp_path / "t" / "demo_pkg-1.0.dist-info").is_dir()
    finally:
        served.stop()


def test_a_key_that_does_not_match_is_refused_in_one_line(tmp_path: Path) -> None:
    _, cert, _ = _certificate(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, _, wrong_key = _certificate(other)
    out = ak("serve", "--data-dir", str(tmp_path / "d"), "--ssl-certfile", str(cert),
             "--ssl-keyfile", str(wrong_key))  # fmt: skip
    assert out.returncode == 2 and "cannot use" in out.stderr
    assert out.stderr.strip().count("\n") == 0


def test_uv_trusted_publishing_over_tls_with_attestations(tmp_path: Path) -> None:
    """uv's Trusted Publishing: audience, the CI's OIDC token, mint-token, upload, all https."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    ca, cert, key = _certificate(tmp_path)
    data = tmp_path / "d"
    served = start_server(
        ["serve", "--dev", "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)], data
    )
    actions = None
    try:
        d = str(data)
        ak("index", "--data-dir", d, "user", "add", "alice")
        pending = ak("index", "--data-dir", d, "publisher", "add", "--pending", "demo-pkg",
                     "--owner", "alice", "--github", "octo/demo", "--workflow", "release.yml")  # fmt: skip
        assert pending.returncode == 0, pending.stderr
        identity = ["--github", "octo/demo", "--workflow", "release.yml", "--ref", "refs/tags/v1"]
        sigstore = ["sigstore", "token", "--data-dir", str(data / "sigstore"), *identity]
        oidc = ak(*sigstore, "--audience", "attestkit").stdout.strip()
        signing = ak(*sigstore).stdout.strip()
        dist = tmp_path / "dist"
        dist.mkdir()
        wheel = make_wheel(dist, "demo-pkg", "1.0")
        tls_env = {**os.environ, "REQUESTS_CA_BUNDLE": str(ca), "SSL_CERT_FILE": str(ca)}
        signed = ak("sign", "--local", served.url, "--identity-token", signing, str(wheel),
                    env=tls_env)  # fmt: skip
        assert signed.returncode == 0, signed.stderr

        asked: list[str] = []

        class Actions(BaseHTTPRequestHandler):
            """GitHub Actions' ID-token endpoint, as uv calls it."""

            def do_GET(self) -> None:
                asked.append(self.path)
                ok = self.headers.get("Authorization", "").lower() == "bearer request-token"
                body = json.dumps({"value": oidc} if ok else {"message": "no"}).encode()
                self.send_response(200 if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        actions = ThreadingHTTPServer(("127.0.0.1", 0), Actions)
        threading.Thread(target=actions.serve_forever, daemon=True).start()
        env = {
            **tls_env,
            "UV_NO_CACHE": "1",
            "GITHUB_ACTIONS": "true",
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"http://127.0.0.1:{actions.server_port}/token?v=1",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
        }
        uv = str(Path(sys.executable).with_name("uv"))
        published = subprocess.run(
            [uv, "publish", "--trusted-publishing", "always", "--publish-url",
             f"{served.url}/legacy/", f"{dist}/*"],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert published.returncode == 0, published.stdout + published.stderr
        assert asked and "audience=attestkit" in asked[0]  # the index's audience, over https
        json_accept = {"Accept": "application/vnd.pypi.simple.v1+json"}
        page = requests.get(
            f"{served.url}/simple/demo-pkg/", headers=json_accept, verify=str(ca), timeout=30
        ).json()
        (entry,) = page["files"]
        assert entry["filename"] == wheel.name and entry["provenance"]
        provenance = requests.get(entry["provenance"], verify=str(ca), timeout=30).json()
        assert provenance["attestation_bundles"][0]["publisher"]["repository"] == "octo/demo"
    finally:
        if actions is not None:
            actions.shutdown()
        served.stop()
