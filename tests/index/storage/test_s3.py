"""The S3-compatible file store against a real S3 server (moto's server mode, its own process)."""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from attestkit.errors import InputError
from attestkit.index import lifecycle
from attestkit.index.db import File
from attestkit.index.storage import StorageConfig, StoreUnavailableError, parse_storage
from attestkit.index.storage.s3 import S3FileStore
from tests.fixtures.index_server import Server
from tests.fixtures.s3_server import S3Server, start_s3_server
from tests.fixtures.uploads import files_in_store, make_wheel, post_upload, setup_project


def _store(s3: S3Server, bucket: str, prefix: str = "pre", **options: object) -> S3FileStore:
    config = parse_storage(f"s3://{bucket}/{prefix}", endpoint_url=s3.url, **options)  # type: ignore[arg-type]
    return S3FileStore(config, lambda key: contextlib.nullcontext())


def test_objects_round_trip_under_the_prefix(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.bucket()
    store = _store(s3_server, bucket)
    big = tmp_path / "big.whl"
    big.write_bytes(b"x" * (17 * 1024 * 1024 + 3))  # above the multipart threshold
    store.put("aa/bb/cc/big.whl", data_path=big)
    store.put("aa/bb/cc/big.whl.metadata", data=b"Metadata-Version: 2.1\n")
    assert store.exists("aa/bb/cc/big.whl") and not store.exists("aa/bb/cc/other.whl")
    assert store.read_bytes("aa/bb/cc/big.whl.metadata") == b"Metadata-Version: 2.1\n"
    assert store.read_bytes("nothing/here") is None
    found = store.download("aa/bb/cc/big.whl")
    assert found is not None and found.chunks is not None and found.size == big.stat().st_size
    assert (
        hashlib.sha256(b"".join(found.chunks)).digest() == hashlib.sha256(big.read_bytes()).digest()
    )
    assert store.download("nothing/here") is None
    # Only keys under the prefix, named relative to it.
    assert sorted(s3_server.keys(bucket)) == [
        "pre/aa/bb/cc/big.whl",
        "pre/aa/bb/cc/big.whl.metadata",
    ]
    assert sorted(r for r, _, _ in store.objects()) == [
        "aa/bb/cc/big.whl",
        "aa/bb/cc/big.whl.metadata",
    ]
    _store(s3_server, bucket, "other").put("x/y", data=b"elsewhere")
    assert len(list(store.objects())) == 2
    store.delete("aa/bb/cc/big.whl")
    store.delete("aa/bb/cc/big.whl")  # absent is fine
    assert not store.exists("aa/bb/cc/big.whl")
    for bad in ("../escape", "/abs", "a//b", "a/./b"):
        with pytest.raises(ValueError):
            store.put(bad, data=b"")


def test_sweep_removes_only_old_unreferenced_objects(s3_server: S3Server) -> None:
    bucket = s3_server.bucket()
    young = _store(s3_server, bucket)  # default grace: an hour
    for name in ("kept", "orphan", "recorded-meanwhile"):
        young.put(f"aa/{name}", data=name.encode())
    assert young.sweep({"aa/kept"}) == []  # everything is younger than the grace period
    old = _store(s3_server, bucket, sweep_grace=0)
    time.sleep(1.1)  # S3 times have one-second resolution
    checked: list[str] = []

    def is_referenced(relative: str) -> bool:
        checked.append(relative)
        return relative == "aa/recorded-meanwhile"  # a concurrent upload committed it

    assert old.sweep({"aa/kept"}, is_referenced) == ["aa/orphan"]
    assert sorted(checked) == ["aa/orphan", "aa/recorded-meanwhile"]
    assert sorted(r for r, _, _ in old.objects()) == ["aa/kept", "aa/recorded-meanwhile"]


def test_an_unusable_bucket_is_one_line_at_start(s3_server: S3Server) -> None:
    with pytest.raises(StoreUnavailableError, match="cannot use bucket 'no-such-bucket'"):
        _store(s3_server, "no-such-bucket")
    config = parse_storage("s3://anything", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(StoreUnavailableError, match=r"at http://127\.0\.0\.1:9"):
        S3FileStore(config, lambda key: contextlib.nullcontext())


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("s3://", "not a valid bucket name"),
        ("s3://UPPER", "not a valid bucket name"),
        ("s3://a_b_c", "not a valid bucket name"),
        ("gs://bucket", "want 'local' or 's3://BUCKET"),
    ],
)
def test_storage_specs_are_checked(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_storage(spec)


def test_storage_spec_forms() -> None:
    assert parse_storage(None) == StorageConfig() and parse_storage("local").is_local
    config = parse_storage("s3://files/a/b/", endpoint_url="http://minio:9000/")
    assert (config.bucket, config.prefix, config.endpoint_url) == (
        "files",
        "a/b/",
        "http://minio:9000",
    )
    assert parse_storage("s3://files").prefix == ""
    with pytest.raises(InputError, match="need an S3 store"):
        parse_storage("local", endpoint_url="http://minio:9000")


@pytest.fixture
def s3_index(
    index_server: Callable[..., Server], s3_server: S3Server
) -> Iterator[Callable[..., tuple[Server, str]]]:
    def start(**options: object) -> tuple[Server, str]:
        bucket = s3_server.bucket()
        storage = parse_storage(f"s3://{bucket}/files", endpoint_url=s3_server.url, **options)  # type: ignore[arg-type]
        return index_server(storage=storage), bucket

    yield start


def test_an_index_on_s3_stores_and_serves_from_the_bucket(
    s3_index: Callable[..., tuple[Server, str]], s3_server: S3Server, tmp_path: Path
) -> None:
    server, bucket = s3_index()
    token = setup_project(server)
    wheel = make_wheel(tmp_path)
    r = post_upload(server.url, token, wheel)
    assert r.status_code == 200, r.text
    keys = s3_server.keys(bucket)
    assert len(keys) == 2 and all(k.startswith("files/") for k in keys)
    assert files_in_store(server.index) == []  # nothing in the node's data directory
    page = requests.get(
        f"{server.url}/simple/demo-pkg/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        timeout=30,
    ).json()
    [entry] = page["files"]
    got = requests.get(entry["url"], timeout=30)
    assert got.status_code == 200 and got.content == wheel.read_bytes()
    assert got.headers["Content-Length"] == str(wheel.stat().st_size)
    assert hashlib.sha256(got.content).hexdigest() == entry["hashes"]["sha256"]
    metadata = requests.get(entry["url"] + ".metadata", timeout=30)
    assert hashlib.sha256(metadata.content).hexdigest() == entry["core-metadata"]["sha256"]
    # Deleting the file removes its objects.
    with server.index.session() as session:
        paths = lifecycle.delete_file(session, "demo-pkg", wheel.name)
    lifecycle.remove_stored(server.index, paths)
    assert s3_server.keys(bucket) == []
    assert requests.get(entry["url"], timeout=30).status_code == 404


def test_downloads_can_redirect_to_presigned_urls(
    s3_index: Callable[..., tuple[Server, str]], tmp_path: Path
) -> None:
    server, _ = s3_index(redirect_downloads=True)
    token = setup_project(server)
    wheel = make_wheel(tmp_path)
    assert post_upload(server.url, token, wheel).status_code == 200
    with server.index.session() as session:
        [path] = [f.path for f in session.query(File)]
    r = requests.get(f"{server.url}/files/{path}", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and "X-Amz-Signature=" in r.headers["Location"]
    assert r.headers["Cache-Control"] == "no-store"
    assert requests.get(r.headers["Location"], timeout=30).content == wheel.read_bytes()
    # pip follows the redirect and checks the hash from the Simple page.
    assert requests.get(f"{server.url}/files/{path}", timeout=30).content == wheel.read_bytes()


def test_an_object_store_outage_is_503_with_retry_after(
    index_server: Callable[..., Server], tmp_path: Path
) -> None:
    s3 = start_s3_server()
    try:
        bucket = s3.bucket()
        storage = parse_storage(f"s3://{bucket}", endpoint_url=s3.url)
        server = index_server(storage=storage)
        token = setup_project(server)
        wheel = make_wheel(tmp_path)
        assert post_upload(server.url, token, wheel).status_code == 200
        with server.index.session() as session:
            [path] = [f.path for f in session.query(File)]
        s3.stop()
        r = requests.get(f"{server.url}/files/{path}", timeout=60)
        assert r.status_code == 503 and r.headers["Retry-After"]
        assert r.text.count("\n") == 1 and "file store" in r.text
        other = make_wheel(tmp_path, version="2.0")
        r = post_upload(server.url, token, other, version="2.0")
        assert r.status_code == 503, (r.status_code, r.text)
        assert r.headers["Retry-After"]
        assert "file store" in r.text
        with server.index.session() as session:  # no row without its file
            assert session.query(File).count() == 1
    finally:
        s3.stop()
