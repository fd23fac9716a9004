"""Hostile requests to a real ``attestkit sigstore serve``: each a 4xx with a reason, never a 500.

Hardening row 3: deep JSON, wrong shapes, non-ASCII digits, oversized bodies and
absurd token times, against the CA, the log and the search endpoints.
"""

from __future__ import annotations

import pytest
import requests

from tests.fixtures.local_sigstore import Instance

DEEP = b"[" * 1000 + b"]" * 1000
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("path", "body", "status", "fragment"),
    [
        ("/api/v2/signingCert", DEEP, 400, "not valid JSON"),
        ("/api/v1/log/entries", DEEP, 400, "not valid JSON"),
        ("/api/v1/log/entries/retrieve", DEEP, 400, "not valid JSON"),
        ("/api/v1/log/entries", b'{"kind": NaN}', 400, "not valid JSON"),
        ("/api/v1/log/entries/retrieve", b'{"logIndexes": 5}', 400, "must be an array"),
        ("/api/v1/log/entries/retrieve", b'{"entryUUIDs": "abc"}', 400, "must be an array"),
        ("/api/v1/log/entries/retrieve", b'{"logIndexes": [' + b"0," * 50 + b"0]}", 422, "more than"),
        ("/api/v2/signingCert", b"x" * (20 * 1024 * 1024), 413, "larger than"),
        ("/api/v1/log/entries", b"x" * (20 * 1024 * 1024), 413, "larger than"),
    ],
    ids=["cert-deep", "entry-deep", "retrieve-deep", "nan", "indexes-int", "uuids-str",
         "too-many", "cert-20MB", "entry-20MB"],
)  # fmt: skip
def test_hostile_bodies(
    instance: Instance, path: str, body: bytes, status: int, fragment: str
) -> None:
    r = requests.post(f"{instance.url}{path}", data=body, headers=JSON, timeout=60)
    assert r.status_code == status, r.text
    assert fragment in r.json()["message"]


@pytest.mark.parametrize("value", ["²", "１", "-1", "1e3", "9" * 40])
def test_numbers_are_ascii_digits_only(instance: Instance, value: str) -> None:
    r = requests.get(f"{instance.url}/api/v1/log/entries", params={"logIndex": value}, timeout=30)
    assert r.status_code == 400, r.text
    proof = requests.get(
        f"{instance.url}/api/v1/log/proof", params={"firstSize": value, "lastSize": "1"}, timeout=30
    )
    assert proof.status_code == 400, proof.text


def test_a_token_expiring_after_the_end_of_time_is_refused(instance: Instance) -> None:
    token = instance.token(
        "--github", "octo/repo", "--workflow", "release.yml", "--ref", "refs/tags/v1",
        "--lifetime", str(10**20),
    )  # fmt: skip
    r = requests.post(
        f"{instance.url}/api/v2/signingCert",
        json={"credentials": {"oidcIdentityToken": token}},
        timeout=30,
    )
    assert r.status_code == 401, r.text
    assert "'exp' is not a Unix time" in r.json()["message"]
