"""The development instance's interactive login needs the one-time code its server prints.

A real ``attestkit sigstore serve --dev`` process (no ``--login-auto-approve``);
sigstore-python's unmodified browser/PKCE flow, whose "browser" is a script
that fetches the approval page, reads the code from the server's console log
(as the person at the console would) and submits it.  Reaching the port alone
gets a form, never an authorization code.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.fixtures.local_sigstore import LOGIN_EMAIL, Instance, start_instance

CODE_LINE = re.compile(r"login request for (\S+) \(client '([^']*)'\): approval code (\S{4}-\S{4})")


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    inst = start_instance(tmp_path_factory.mktemp("guarded"), auto_approve=False)
    yield inst
    inst.stop()


def _authorize_url(instance: Instance, redirect: str = "http://localhost:1/cb") -> str:
    query = {
        "response_type": "code",
        "client_id": "sigstore",
        "redirect_uri": redirect,
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        "state": "s1",
    }
    return f"{instance.url}/oauth2/authorize?{urllib.parse.urlencode(query)}"


def _codes(instance: Instance) -> list[str]:
    log = (instance.data_dir / "server.log").read_text()
    return [m.group(3) for m in CODE_LINE.finditer(log)]


def test_reaching_the_port_is_not_enough(guarded: Instance) -> None:
    before = len(_codes(guarded))
    page = requests.get(_authorize_url(guarded), allow_redirects=False, timeout=30)
    assert page.status_code == 200, page.text
    assert "approval code" in page.text and LOGIN_EMAIL in page.text
    assert page.headers["x-frame-options"] == "DENY"
    # The approval's redirect goes to the client's loopback URI: form-action allows exactly
    # this page's origin and loopback ones (a browser enforces it on the redirect).
    csp = page.headers["content-security-policy"]
    assert "form-action 'self' http://localhost:* http://127.0.0.1:* http://[::1]:*" in csp
    assert "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert "location" not in page.headers
    # The server printed the code on its console, for whoever runs it.
    assert len(_codes(guarded)) == before + 1
    request = re.search(r'name="request" value="([^"]+)"', page.text)
    assert request is not None
    wrong = requests.post(
        f"{guarded.url}/oauth2/approve",
        data={"request": request.group(1), "code": "0000-0000"},
        allow_redirects=False,
        timeout=30,
    )
    assert wrong.status_code == 403 and "wrong approval code" in wrong.text
    assert "location" not in wrong.headers
    forged = requests.post(
        f"{guarded.url}/oauth2/approve",
        data={"request": "e30.AAAA", "code": _codes(guarded)[-1]},
        allow_redirects=False,
        timeout=30,
    )
    assert forged.status_code == 400
    assert forged.json()["message"] == (
        "login request not issued by this instance: start the login again"
    )


def test_right_code_approves_and_redirects(guarded: Instance) -> None:
    page = requests.get(_authorize_url(guarded), timeout=30)
    request = re.search(r'name="request" value="([^"]+)"', page.text)
    assert request is not None
    ok = requests.post(
        f"{guarded.url}/oauth2/approve",
        data={"request": request.group(1), "code": _codes(guarded)[-1]},
        allow_redirects=False,
        timeout=30,
    )
    assert ok.status_code == 303
    location = urllib.parse.urlsplit(ok.headers["location"])
    assert location.netloc == "localhost:1"
    query = urllib.parse.parse_qs(location.query)
    assert query["state"] == ["s1"] and query["code"]


BROWSER = textwrap.dedent(
    """
    # A person at the browser: opens the page, reads the code on the server's console, types it.
    import re, sys, time, requests
    log, url = sys.argv[1], sys.argv[2]
    page = requests.get(url, timeout=30)
    request = re.search(r'name="request" value="([^"]+)"', page.text).group(1)
    code = re.findall(r"approval code (\\S{4}-\\S{4})", open(log).read())[-1]
    # sigstore-python's loopback page redirected to the issuer: post back to where we landed.
    requests.post(
        page.url.split("/oauth2/")[0] + "/oauth2/approve",
        data={"request": request, "code": code},
        timeout=30,
    )
    """
)


def test_sigstore_python_login_with_the_console_code(guarded: Instance, tmp_path: Path) -> None:
    """sigstore-python's own flow completes once the code is typed; the identity is the login's."""
    browser = tmp_path / "browser.py"
    browser.write_text(BROWSER)
    log = guarded.data_dir / "server.log"
    code = (
        "from sigstore.oidc import Issuer;"
        f"t = Issuer({guarded.url!r}).identity_token(client_id='sigstore', client_secret='');"
        "print(t.identity)"
    )
    env = dict(os.environ, BROWSER=f"{sys.executable} {browser} {log} %s")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == LOGIN_EMAIL
