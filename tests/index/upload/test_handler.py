"""The legacy upload API against a real server: twine end to end, and every refusal rule.

Each refusal test posts one upload that breaks exactly one rule and checks the
status and PyPI's message (the ``text/plain`` body; with stock uvicorn the
reason phrase is the standard one, see ``attestkit.index.reasons``).
Attestation tests sign real attestations on the session's local Sigstore.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import tarfile
import threading
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

import attestkit
from attestkit.index import admin
from attestkit.index.db import ApiToken, File, Project, Provenance, Release, Role, utcnow
from attestkit.index.instance import Index
from tests.conftest import DATA, SDIST, STAGING_WHEEL
from tests.fixtures.index_server import Server
from tests.fixtures.uploads import (
    CORE_METADATA,
    PUBLISH,
    SLSA_PREDICATE,
    docs_url,
    files_in_store,
    form,
    help_url,
    make_sdist,
    make_wheel,
    message,
    pkg_info,
    post,
    publisher_token,
    refused,
    setup_project,
    sign_with,
    twine,
)

# -- building distributions ---------------------------------------------------------


# -- uploading ------------------------------------------------------------------------


@pytest.fixture
def server(index_server: Callable[..., Server]) -> Server:
    return index_server()


# -- success ----------------------------------------------------------------------------


def test_twine_upload_stores_files_and_metadata(server: Server, tmp_path: Path) -> None:
    for name in (SDIST, STAGING_WHEEL):
        shutil.copy(DATA / name, tmp_path / name)
    token = setup_project(server, "")  # a user token; the projects are created on upload
    proc = twine(server.url, token, str(tmp_path / SDIST), str(tmp_path / STAGING_WHEEL))
    assert proc.returncode == 0, proc.stdout + proc.stderr

    with server.index.session() as s:
        rows = {f.filename: f for f in s.scalars(select(File))}
        assert set(rows) == {SDIST, STAGING_WHEEL}
        for filename, row in rows.items():
            data = (DATA / filename).read_bytes()
            assert row.sha256 == hashlib.sha256(data).hexdigest()
            assert row.md5 == hashlib.md5(data).hexdigest()
            assert row.blake2_256 == hashlib.blake2b(data, digest_size=32).hexdigest()
            assert row.size == len(data)
            assert row.path == server.index.store.relative_path(row.blake2_256, filename)
            assert server.index.store.read_bytes(row.path) == data
            assert not row.uploaded_via_trusted_publisher
        sdist, wheel = rows[SDIST], rows[STAGING_WHEEL]
        assert (sdist.packagetype, sdist.python_version) == ("sdist", "source")
        assert (wheel.packagetype, wheel.python_version) == ("bdist_wheel", "py3")
        assert sdist.metadata_sha256 is None
        metadata = server.index.store.read_bytes(wheel.path + ".metadata")
        with zipfile.ZipFile(DATA / STAGING_WHEEL) as zf:
            assert metadata == zf.read("rfc8785-0.1.2.dist-info/METADATA")
        assert wheel.metadata_sha256 == hashlib.sha256(metadata).hexdigest()
        projects = {p.normalized_name: p for p in s.scalars(select(Project))}
        assert set(projects) == {"pypi-attestations", "rfc8785"}
        for project in projects.values():
            assert project.serial == 1
            assert project.total_size == sum(
                r.size for r in rows.values() if r.release.project_id == project.id
            )
            role = s.scalar(select(Role).where(Role.project_id == project.id))
            assert role is not None and role.role == "Owner"
        release = s.scalar(select(Release).where(Release.version == "0.0.19"))
        assert release is not None and release.canonical_version == "0.0.19"
        token_row = s.scalar(select(ApiToken))
        assert token_row is not None and token_row.last_used is not None
    assert not list((Path(server.index.config.data_dir) / "incoming").iterdir())


def test_second_file_bumps_serial_and_size(server: Server, tmp_path: Path) -> None:
    token = setup_project(server)
    sdist, wheel = make_sdist(tmp_path), make_wheel(tmp_path)
    assert post(server, token, sdist).status_code == 200
    response = post(server, token, wheel)
    assert response.status_code == 200, response.text
    assert response.text == ""
    with server.index.session() as s:
        project = admin.find_project(s, "demo-pkg")
        assert project is not None
        assert project.serial == 2
        assert project.total_size == sdist.stat().st_size + wheel.stat().st_size
        assert s.scalar(select(func.count()).select_from(Release)) == 1


@pytest.mark.parametrize("scheme", ["token", "bearer", "basic-padded"])
def test_token_schemes_are_accepted(server: Server, tmp_path: Path, scheme: str) -> None:
    token = setup_project(server)
    sdist = make_sdist(tmp_path)
    if scheme == "basic-padded":
        response = requests.post(
            f"{server.url}/legacy/",
            data=form(sdist),
            files={"content": (sdist.name, sdist.read_bytes(), "application/octet-stream")},
            auth=("__token__", f"  {token}\n"),
            timeout=60,
        )
    else:
        response = post(server, None, sdist, headers={"Authorization": f"{scheme} {token}"})
    assert response.status_code == 200, response.text


def test_user_token_creates_project_with_owner(server: Server, tmp_path: Path) -> None:
    token = setup_project(server, "")
    response = post(
        server, token, make_sdist(tmp_path, "Brand.New", "2.0"), name="Brand.New", version="2.0"
    )
    assert response.status_code == 200, response.text
    with server.index.session() as s:
        project = admin.find_project(s, "brand-new")
        assert project is not None and project.name == "Brand.New"
        user = admin.find_user(s, "alice")
        assert user is not None
        assert (
            s.scalar(
                select(Role.role).where(Role.project_id == project.id, Role.user_id == user.id)
            )
            == "Owner"
        )


# -- routing ------------------------------------------------------------------------------


def test_legacy_without_slash_redirects(server: Server) -> None:
    response = requests.post(
        f"{server.url}/legacy?:action=file_upload",
        data={"a": "b"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 308
    assert response.headers["location"] == f"{server.url}/legacy/?:action=file_upload"
    assert message(response) == (
        "An upload was attempted to /legacy but the expected upload URL is /legacy/ (with a trailing slash)"
    )


@pytest.mark.parametrize(
    ("action", "text"),
    [
        (
            "submit",
            "Project pre-registration is no longer required or supported, upload your files instead.",
        ),
        (
            "submit_pkg_info",
            "Project pre-registration is no longer required or supported, upload your files instead.",
        ),
        (
            "doc_upload",
            "Uploading documentation is no longer supported, we recommend using https://readthedocs.org/.",
        ),
    ],
)
def test_removed_actions_are_gone(server: Server, action: str, text: str) -> None:
    in_body = requests.post(f"{server.url}/legacy/", files={":action": (None, action)}, timeout=30)
    refused(in_body, 410, text)
    in_query = requests.post(
        f"{server.url}/legacy/?:action={action}", files={"x": (None, "y")}, timeout=30
    )
    refused(in_query, 410, text)


# -- authentication -----------------------------------------------------------------------


def test_no_credentials(server: Server, tmp_path: Path) -> None:
    refused(
        post(server, None, make_sdist(tmp_path)),
        403,
        f"Invalid or non-existent authentication information. See {help_url(server)}#invalid-auth for more information.",
    )


def test_password_login_refused(server: Server, tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path)
    response = requests.post(
        f"{server.url}/legacy/",
        data=form(sdist),
        files={"content": (sdist.name, sdist.read_bytes(), "application/octet-stream")},
        auth=("alice", "hunter2"),
        timeout=30,
    )
    h = help_url(server)
    refused(
        response,
        403,
        "Username/Password authentication is no longer supported. Migrate to API Tokens or Trusted"
        f" Publishers instead. See {h}#apitoken and {h}#trusted-publishers",
    )


@pytest.mark.parametrize("kind", ["malformed", "unknown", "deleted"])
def test_invalid_token(server: Server, tmp_path: Path, kind: str) -> None:
    token = setup_project(server)
    if kind == "malformed":
        token = "pypi-not-a-token"
    elif kind == "unknown":
        token = setup_project(server)[:-4] + "AAAA"
    else:
        with server.index.session() as s:
            for row in s.scalars(select(ApiToken)):
                s.delete(row)
    refused(
        post(server, token, make_sdist(tmp_path)),
        403,
        f"Invalid or non-existent authentication information. See {help_url(server)}#invalid-auth for more information.",
    )


def test_expired_token(server: Server, tmp_path: Path) -> None:
    token = setup_project(server, expires=utcnow() - dt.timedelta(seconds=1))
    response = post(server, token, make_sdist(tmp_path))
    assert response.status_code == 403
    assert message(response).startswith("Invalid API Token: token is expired (it expired at ")
    assert "create a new API token and upload again" in message(response)


def test_expiry_is_judged_at_arrival(server: Server, tmp_path: Path) -> None:
    """A token that expires while the body is still being sent is accepted."""
    token = setup_project(server, expires=utcnow() + dt.timedelta(seconds=1))
    sdist = make_sdist(tmp_path)
    body = requests.Request(
        "POST",
        f"{server.url}/legacy/",
        data=form(sdist),
        files={"content": (sdist.name, sdist.read_bytes(), "application/octet-stream")},
        auth=("__token__", token),
    ).prepare()
    assert isinstance(body.body, bytes)
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        head = f"POST /legacy/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v!s}\r\n" for k, v in body.headers.items()) + "\r\n"
        sock.sendall(head.encode() + body.body[:100])
        time.sleep(1.5)  # the token expires mid-upload
        sock.sendall(body.body[100:])
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200"), reply


def test_project_scoped_token_for_another_project(server: Server, tmp_path: Path) -> None:
    with server.index.session() as s:
        user = admin.create_user(s, "alice")
        admin.create_project(s, "demo-pkg", owner=user)
        other = admin.create_project(s, "other-pkg", owner=user)
        token, _ = admin.create_token(s, user=user, project=other)
    refused(
        post(server, token, make_sdist(tmp_path)),
        403,
        "Invalid API Token: project-scoped token is not valid for project: 'demo-pkg'",
    )


def test_publisher_token_for_another_project(server: Server, tmp_path: Path) -> None:
    with server.index.session() as s:
        admin.create_project(s, "demo-pkg")
        other = admin.create_project(s, "other-pkg")
        tp = admin.add_publisher(
            s, "GitHub", {"repository": "octo/repo", "workflow": "release.yml"}, project=other
        )
        token, _ = admin.create_token(s, publisher=tp, expires=utcnow() + dt.timedelta(minutes=15))
    refused(
        post(server, token, make_sdist(tmp_path)),
        403,
        "Invalid API Token: OIDC scoped token is not valid for project 'demo-pkg'",
    )


def test_publisher_token_covers_every_project_of_that_publisher(
    server: Server, tmp_path: Path
) -> None:
    """A monorepo: two projects register the same publisher; one minted token serves both."""
    config = {"repository": "octo/mono", "workflow": "release.yml"}
    with server.index.session() as s:
        first = admin.create_project(s, "first-pkg")
        second = admin.create_project(s, "demo-pkg")
        tp = admin.add_publisher(s, "GitHub", config, project=first)
        admin.add_publisher(s, "GitHub", dict(config), project=second)
        admin.create_project(s, "unrelated-pkg")
        token, _ = admin.create_token(s, publisher=tp, expires=utcnow() + dt.timedelta(minutes=15))
    response = post(server, token, make_sdist(tmp_path))
    assert response.status_code == 200, message(response)
    refused(
        post(server, token, make_sdist(tmp_path, name="unrelated-pkg"), name="unrelated-pkg"),
        403,
        "Invalid API Token: OIDC scoped token is not valid for project 'unrelated-pkg'",
    )


def test_non_user_cannot_create_project(server: Server, tmp_path: Path) -> None:
    with server.index.session() as s:
        other = admin.create_project(s, "other-pkg")
        tp = admin.add_publisher(
            s, "GitHub", {"repository": "octo/repo", "workflow": "release.yml"}, project=other
        )
        token, _ = admin.create_token(s, publisher=tp, expires=utcnow() + dt.timedelta(minutes=15))
    refused(
        post(server, token, make_sdist(tmp_path)),
        400,
        "Non-user identities cannot create new projects. This was probably caused by successfully"
        " using a pending publisher but specifying the project name incorrectly (either in the"
        " publisher or in your project's metadata). Please ensure that both match. See:"
        f" {docs_url(server)}/trusted-publishers/troubleshooting/",
    )


def test_user_without_role(server: Server, tmp_path: Path) -> None:
    setup_project(server)
    token = setup_project(server, "", username="bob")
    refused(
        post(server, token, make_sdist(tmp_path)),
        403,
        f"The user 'bob' isn't allowed to upload to project 'demo-pkg'. See {help_url(server)}#project-name for more information.",
    )


# -- form and metadata ------------------------------------------------------------------------


def test_unknown_protocol_version(server: Server, tmp_path: Path) -> None:
    refused(
        post(server, setup_project(server), make_sdist(tmp_path), protocol_version="2"),
        400,
        "Unknown protocol version.",
    )


def test_stray_file_part(server: Server, tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path)
    response = requests.post(
        f"{server.url}/legacy/",
        data=form(sdist),
        files={
            "content": (sdist.name, sdist.read_bytes(), "application/octet-stream"),
            "summary": ("summary.txt", b"x", "text/plain"),
        },
        auth=("__token__", setup_project(server)),
        timeout=30,
    )
    refused(response, 400, "summary: Should not be a tuple.")


def test_bad_name(server: Server, tmp_path: Path) -> None:
    refused(
        post(server, setup_project(server), make_sdist(tmp_path), name="demo-"),
        400,
        "'demo-' is an invalid value for Name. Error: Start and end with a letter or numeral"
        f" containing only ASCII numeric and '.', '_' and '-'. {CORE_METADATA}",
    )


def test_bad_version(server: Server, tmp_path: Path) -> None:
    refused(
        post(server, setup_project(server), make_sdist(tmp_path), version="dog"),
        400,
        f"'dog' is invalid for 'version'. {CORE_METADATA}",
    )


def test_local_version(server: Server, tmp_path: Path) -> None:
    refused(
        post(server, setup_project(server), make_sdist(tmp_path), version="1.0+local"),
        400,
        "The use of local versions in '1.0+local' is not allowed. See"
        " https://packaging.python.org/specifications/version-specifiers/#local-version-identifiers"
        " for more information.",
    )


def test_missing_metadata_version(server: Server, tmp_path: Path) -> None:
    refused(
        post(server, setup_project(server), make_sdist(tmp_path), metadata_version=None),
        400,
        f"None is not a valid metadata version. {CORE_METADATA}",
    )


def test_summary_too_long(server: Server, tmp_path: Path) -> None:
    refused(
        post(server, setup_project(server), make_sdist(tmp_path), summary="A" * 513),
        400,
        f"'summary' field must be 512 characters or less. {CORE_METADATA}",
    )


def test_unknown_filetype(server: Server, tmp_path: Path) -> None:
    refused(
        post(server, setup_project(server), make_sdist(tmp_path), filetype="bdist_egg"),
        400,
        "Invalid value for filetype. Error: Use a known file type.",
    )


def test_sdist_pyversion(server: Server, tmp_path: Path) -> None:
    refused(
        post(server, setup_project(server), make_sdist(tmp_path), pyversion="py3"),
        400,
        "Error: Use 'source' as Python version for an sdist.",
    )


def test_missing_digest(server: Server, tmp_path: Path) -> None:
    refused(
        post(
            server,
            setup_project(server),
            make_sdist(tmp_path),
            sha256_digest=None,
            blake2_256_digest=None,
        ),
        400,
        "Error: Include at least one message digest.",
    )


@pytest.mark.parametrize(
    ("field", "text"),
    [
        (
            "sha256_digest",
            "Invalid value for sha256_digest. Error: Use a valid, hex-encoded, SHA256 message digest.",
        ),
        (
            "blake2_256_digest",
            "Invalid value for blake2_256_digest. Error: Use a valid, hex-encoded, BLAKE2 message digest.",
        ),
    ],
)
def test_bad_digest_format(server: Server, tmp_path: Path, field: str, text: str) -> None:
    refused(
        post(
            server,
            setup_project(server),
            make_sdist(tmp_path),
            **dict[str, Any]({field: "zz" * 32}),
        ),
        400,
        text,
    )


@pytest.mark.parametrize("field", ["md5_digest", "sha256_digest", "blake2_256_digest"])
def test_digest_mismatch(server: Server, tmp_path: Path, field: str) -> None:
    wrong = "0" * (32 if field == "md5_digest" else 64)
    refused(
        post(server, setup_project(server), make_sdist(tmp_path), **dict[str, Any]({field: wrong})),
        400,
        "The digest supplied does not match a digest calculated from the uploaded file.",
    )


def test_upper_case_digest_accepted(server: Server, tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path)
    upper = hashlib.sha256(sdist.read_bytes()).hexdigest().upper()
    response = post(
        server, setup_project(server), sdist, sha256_digest=upper, blake2_256_digest=None
    )
    assert response.status_code == 200, response.text


def test_no_content(server: Server) -> None:
    refused(
        post(server, setup_project(server), None, sha256_digest="ab" * 32),
        400,
        "Upload payload does not have a file.",
    )


# -- filenames ------------------------------------------------------------------------------


def test_bad_extension(server: Server, tmp_path: Path) -> None:
    token = setup_project(server)
    sdist = make_sdist(tmp_path)
    refused(
        post(server, token, sdist, filename="demo_pkg-1.0.tar.bz2"),
        400,
        "Invalid file extension: Use .tar.gz, .whl or .zip extension. See"
        " https://www.python.org/dev/peps/pep-0527 and https://peps.python.org/pep-0715/ for more information",
    )
    refused(
        post(server, token, sdist, filename="demo_pkg-1.0-py3-none-any.whl"),
        400,
        "Invalid file extension: Extension .whl is invalid for filetype sdist. See"
        " https://www.python.org/dev/peps/pep-0527 for more information.",
    )


def test_non_printable_filename(server: Server, tmp_path: Path) -> None:
    refused(
        post(
            server, setup_project(server), make_sdist(tmp_path), filename="demo_pkg-1.0\x7f.tar.gz"
        ),
        400,
        "Cannot upload a file with non-printable characters (ordinals 0-31) or the DEL character"
        " (ordinal 127) in the name.",
    )


def test_slash_in_filename(server: Server, tmp_path: Path) -> None:
    refused(
        post(
            server, setup_project(server), make_sdist(tmp_path), filename="x\\demo_pkg-1.0.tar.gz"
        ),
        400,
        "Cannot upload a file with '/' or '\\' in the name.",
    )


def test_image_content_type(server: Server, tmp_path: Path) -> None:
    refused(
        post(server, setup_project(server), make_sdist(tmp_path), content_type="image/png"),
        400,
        "Invalid distribution file.",
    )


def test_sdist_name_not_pep625(server: Server, tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path, filename="demo-pkg-1.0.tar.gz")
    refused(
        post(server, setup_project(server), sdist),
        400,
        "Filename 'demo-pkg-1.0.tar.gz' is invalid, should be 'demo_pkg-1.0.tar.gz'.",
    )


def test_sdist_for_another_project(server: Server, tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path, "other-pkg")
    refused(
        post(server, setup_project(server), sdist),
        400,
        "Start filename for 'demo-pkg' with 'demo_pkg'.",
    )


def test_wheel_name_mismatch(server: Server, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "other-pkg")
    refused(
        post(server, setup_project(server), wheel),
        400,
        "Start filename for 'demo-pkg' with 'demo_pkg'.",
    )


def test_wheel_name_not_normalized(server: Server, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, filename="Demo_Pkg-1.0-py3-none-any.whl", dist="Demo_Pkg-1.0")
    refused(
        post(server, setup_project(server), wheel),
        400,
        "Filename 'Demo_Pkg-1.0-py3-none-any.whl' should contain the normalized project name 'demo_pkg', not 'Demo_Pkg'.",
    )


def test_wheel_version_mismatch(server: Server, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, version="1.1")
    refused(
        post(server, setup_project(server), wheel),
        400,
        "Version in filename should be '1.0' not '1.1'.",
    )


def test_wheel_filename_unparseable(server: Server, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, filename="demo_pkg-1.0-py3-none-any-extra-x.whl")
    response = post(server, setup_project(server), wheel)
    # The archive check (step 19) cannot find the dist-info directory first.
    refused(
        response,
        400,
        "Invalid distribution file. Unable to parse name and version from wheel filename",
    )


def test_bad_platform_tag(server: Server, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, tag="cp312-cp312-linux_x86_64")
    refused(
        post(server, setup_project(server), wheel, pyversion="cp312"),
        400,
        "Binary wheel 'demo_pkg-1.0-cp312-cp312-linux_x86_64.whl' has an unsupported platform tag 'linux_x86_64'.",
    )


def test_allowed_platform_tag(server: Server, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, tag="cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64")
    assert post(server, setup_project(server), wheel, pyversion="cp312").status_code == 200


def test_filename_too_long(server: Server, tmp_path: Path) -> None:
    long_name = f"demo_pkg-1.0-1{'b' * 219}-py3-none-any.whl"  # 250 + len('.metadata') > 255
    wheel = make_wheel(tmp_path, filename=long_name)
    refused(post(server, setup_project(server), wheel), 400, f"Filename is too long: {long_name!r}")
    _no_stray_files(server, [])


# -- duplicates, releases, sizes ---------------------------------------------------------------


def test_duplicate_different_file(server: Server, tmp_path: Path) -> None:
    token = setup_project(server)
    assert post(server, token, make_sdist(tmp_path)).status_code == 200
    (tmp_path / "x").mkdir()
    other = make_sdist(tmp_path / "x", payload=b"changed\n")
    b2 = hashlib.blake2b(other.read_bytes(), digest_size=32).hexdigest()
    refused(
        post(server, token, other),
        400,
        f"File already exists ('demo_pkg-1.0.tar.gz', with blake2_256 hash '{b2}'). See {help_url(server)}#file-name-reuse for more information.",
    )


def test_identical_reupload_is_a_no_op(server: Server, tmp_path: Path) -> None:
    token = setup_project(server)
    sdist = make_sdist(tmp_path)
    assert post(server, token, sdist).status_code == 200
    again = post(server, token, sdist)
    assert again.status_code == 200
    assert "already uploaded with identical contents" in again.text
    assert "NOT examined" not in again.text
    with_attestations = post(server, token, sdist, attestations="[]")
    assert with_attestations.status_code == 200
    assert "attestations sent with this upload were NOT examined" in with_attestations.text
    with server.index.session() as s:
        project = admin.find_project(s, "demo-pkg")
        assert project is not None and project.serial == 1
        assert s.scalar(select(func.count()).select_from(File)) == 1


def test_second_sdist(server: Server, tmp_path: Path) -> None:
    token = setup_project(server)
    assert post(server, token, make_sdist(tmp_path)).status_code == 200
    zipped = tmp_path / "demo_pkg-1.0.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("demo_pkg-1.0/PKG-INFO", pkg_info("demo-pkg", "1.0"))
    refused(
        post(server, token, zipped, filetype="sdist", pyversion="source"),
        400,
        "Only one sdist may be uploaded per release.",
    )


def test_old_release(server: Server, tmp_path: Path) -> None:
    token = setup_project(server)
    assert post(server, token, make_wheel(tmp_path)).status_code == 200
    with server.index.session() as s:
        for release in s.scalars(select(Release)):
            release.created = utcnow() - dt.timedelta(days=15)
    refused(
        post(server, token, make_sdist(tmp_path)),
        400,
        "Uploading new files to releases older than 14 days is not allowed.",
    )


def test_file_too_large(index_server: Callable[..., Server], tmp_path: Path) -> None:
    server = index_server(max_file_size=200)
    sdist = make_sdist(tmp_path, payload=os.urandom(400))
    refused(
        post(server, setup_project(server), sdist),
        400,
        f"File too large. Limit for project 'demo-pkg' is 200 bytes. See {docs_url(server)}/project-management/storage-limits#requesting-a-file-size-limit-increase for more information.",
    )
    assert files_in_store(server.index) == []


def test_project_too_large(index_server: Callable[..., Server], tmp_path: Path) -> None:
    server = index_server(max_project_size=1000)
    token = setup_project(server)
    sdist = make_sdist(tmp_path, payload=os.urandom(600))
    assert post(server, token, sdist).status_code == 200
    wheel = make_wheel(tmp_path)
    with zipfile.ZipFile(wheel, "a") as zf:
        zf.writestr("demo_pkg/blob.bin", os.urandom(600))
    refused(
        post(server, token, wheel),
        400,
        f"Project size too large. Limit for project 'demo-pkg' total size is 1000 bytes. See {docs_url(server)}/project-management/storage-limits#requesting-a-project-size-limit-increase",
    )


# -- archives -------------------------------------------------------------------------------------


def test_wheel_not_a_zip(server: Server, tmp_path: Path) -> None:
    wheel = tmp_path / "demo_pkg-1.0-py3-none-any.whl"
    wheel.write_bytes(b"not a zip file at all")
    refused(
        post(server, setup_project(server), wheel),
        400,
        "Invalid distribution file. File is not a zipfile",
    )


def test_sdist_not_a_tar(server: Server, tmp_path: Path) -> None:
    sdist = tmp_path / "demo_pkg-1.0.tar.gz"
    sdist.write_bytes(gzip.compress(b"plain text, not tar"))
    refused(
        post(server, setup_project(server), sdist),
        400,
        "Invalid distribution file. File is not a tarfile",
    )


def test_sdist_missing_pkg_info(server: Server, tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path, pkg_info_at="pkg/PKG-INFO")
    refused(
        post(server, setup_project(server), sdist),
        400,
        "Invalid distribution file. PKG-INFO not found at demo_pkg-1.0/PKG-INFO",
    )


def test_sdist_two_top_level_directories(server: Server, tmp_path: Path) -> None:
    sdist = tmp_path / "demo_pkg-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tf:
        for member in ("a/PKG-INFO", "b/PKG-INFO"):
            info = tarfile.TarInfo(member)
            tf.addfile(info, io.BytesIO(b""))
    refused(
        post(server, setup_project(server), sdist),
        400,
        "Invalid distribution file. Incorrect number of top-level directories in sdist",
    )


def test_wheel_missing_wheel_file(server: Server, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, omit=("WHEEL",))
    refused(
        post(server, setup_project(server), wheel),
        400,
        "Invalid distribution file. WHEEL not found at demo_pkg-1.0.dist-info/WHEEL",
    )


def test_wheel_missing_record(server: Server, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, omit=("RECORD",))
    refused(
        post(server, setup_project(server), wheel),
        400,
        "Wheel 'demo_pkg-1.0-py3-none-any.whl' does not contain the required RECORD file: demo_pkg-1.0.dist-info/RECORD",
    )


def test_wheel_missing_metadata(server: Server, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, omit=("METADATA",))
    refused(
        post(server, setup_project(server), wheel),
        400,
        "Wheel 'demo_pkg-1.0-py3-none-any.whl' does not contain the required METADATA file: demo_pkg-1.0.dist-info/METADATA",
    )


def test_zip_duplicate_members(server: Server, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path)
    with pytest.warns(UserWarning), zipfile.ZipFile(wheel, "a") as zf:
        zf.writestr("demo_pkg/__init__.py", b"evil = True\n")
    response = post(server, setup_project(server), wheel)
    assert response.status_code == 400
    assert message(response).startswith(
        "Invalid distribution file. ZIP archive not accepted: Duplicate filename in archive: 'demo_pkg/__init__.py'."
    )


# -- error transport --------------------------------------------------------------------------------


def test_twine_shows_the_message(server: Server, tmp_path: Path) -> None:
    """Stock uvicorn sends the standard reason phrase; twine --verbose prints the body."""
    token = setup_project(server)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert post(server, token, make_sdist(tmp_path / "a")).status_code == 200
    conflicting = make_sdist(tmp_path / "b", payload=b"different\n")
    proc = twine(server.url, token, "--verbose", str(conflicting))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1
    assert "400 Bad Request" in output
    assert "File already exists ('demo_pkg-1.0.tar.gz', with blake2_256 hash" in " ".join(
        output.split()
    )


def test_reason_phrase_with_h11_protocol(
    index_factory: Callable[..., Index], tmp_path: Path
) -> None:
    """With ReasonPhraseH11Protocol the message is the reason phrase, as on PyPI."""
    import uvicorn

    from attestkit.index.app import create_app
    from attestkit.index.reasons import ReasonPhraseH11Protocol

    index = index_factory()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    config = uvicorn.Config(
        create_app(index), log_level="warning", lifespan="off", http=ReasonPhraseH11Protocol
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not uv.started:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = Server(url, index, thread, uv)
        token = setup_project(server, expires=utcnow() - dt.timedelta(seconds=1))
        sdist = make_sdist(tmp_path)
        response = post(server, token, sdist)
        assert response.status_code == 403
        assert response.reason.startswith("Invalid API Token: token is expired (it expired at ")
        assert response.reason == message(response)
        # Text outside Latin-1 is replaced in the phrase (the body is UTF-8).
        response = post(server, setup_project(server), sdist, name="dé€-")
        assert response.status_code == 400
        assert message(response).startswith("'dé€-' is an invalid value for Name.")
        assert response.reason.startswith("'dé?-' is an invalid value for Name.")
        proc = twine(
            url, setup_project(server), str(make_wheel(tmp_path, tag="py3-none-linux_x86_64"))
        )
        output = " ".join((proc.stdout + proc.stderr).split())
        assert proc.returncode == 1
        assert "has an unsupported platform tag 'linux_x86_64'" in output  # without --verbose
        # Successful responses keep the standard phrase.
        ok = post(server, setup_project(server), sdist)
        assert (ok.status_code, ok.reason) == (200, "OK")
    finally:
        uv.should_exit = True
        thread.join(timeout=30)


def test_reason_phrase_is_one_latin1_line() -> None:
    from attestkit.index.reasons import reason_phrase

    assert reason_phrase("Malformed attestations: 2 errors\n  first\r\n\tsecond €") == (
        b"Malformed attestations: 2 errors first second ?"
    )


# -- concurrency ---------------------------------------------------------------------------------


def _concurrent_posts(server: Server, token: str, paths: list[Path]) -> list[requests.Response]:
    barrier = threading.Barrier(len(paths))

    def one(path: Path) -> requests.Response:
        barrier.wait()
        return post(server, token, path)

    with ThreadPoolExecutor(len(paths)) as pool:
        return list(pool.map(one, paths))


def _no_stray_files(server: Server, expected: list[str]) -> None:
    assert files_in_store(server.index) == sorted(expected)
    assert not list((Path(server.index.config.data_dir) / "incoming").iterdir())


def test_concurrent_identical_uploads(server: Server, tmp_path: Path) -> None:
    token = setup_project(server)
    wheel = make_wheel(tmp_path)
    responses = _concurrent_posts(server, token, [wheel] * 20)
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
    with server.index.session() as s:
        rows = list(s.scalars(select(File)))
        assert len(rows) == 1
        project = admin.find_project(s, "demo-pkg")
        assert project is not None
        assert (project.serial, project.total_size) == (1, wheel.stat().st_size)
    _no_stray_files(server, [rows[0].path, rows[0].path + ".metadata"])


def test_concurrent_conflicting_uploads(server: Server, tmp_path: Path) -> None:
    token = setup_project(server)
    paths = []
    for i in range(10):
        (tmp_path / str(i)).mkdir()
        paths.append(make_sdist(tmp_path / str(i), payload=f"print({i})\n".encode()))
    responses = _concurrent_posts(server, token, paths)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * 9, [r.text for r in responses]
    for r in responses:
        if r.status_code == 400:
            assert message(r).startswith(
                "File already exists ('demo_pkg-1.0.tar.gz', with blake2_256 hash"
            )
    with server.index.session() as s:
        rows = list(s.scalars(select(File)))
    assert len(rows) == 1
    _no_stray_files(server, [rows[0].path])


def test_concurrent_new_project(server: Server, tmp_path: Path) -> None:
    """Two files of a new project at once: both land (the loser of the creation race retries)."""
    token = setup_project(server, "")
    sdist, wheel = make_sdist(tmp_path), make_wheel(tmp_path)
    responses = _concurrent_posts(server, token, [sdist, wheel])
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    with server.index.session() as s:
        assert s.scalar(select(func.count()).select_from(File)) == 2
        assert s.scalar(select(func.count()).select_from(Release)) == 1
        project = admin.find_project(s, "demo-pkg")
        assert project is not None and project.serial == 2


def test_body_larger_than_any_upload(index_server: Callable[..., Server]) -> None:
    """A body the size limit rules out is refused from its headers, before it is read."""
    server = index_server(max_file_size=1000)
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST /legacy/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 999999999\r\n\r\n"
        )
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert reply.endswith(
        b"Request body too large: files are limited to 1000 bytes on this index.\n"
    )


def test_database_failure_discards_the_stored_file(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed transaction leaves no unreferenced file behind and answers 503, not 500."""
    from sqlalchemy.exc import OperationalError

    from attestkit.index.upload.store import Recorder

    token = setup_project(server)

    def fail(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("INSERT", {}, Exception("the database went away"))

    monkeypatch.setattr(Recorder, "_transaction", fail)
    response = post(server, token, make_wheel(tmp_path))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert message(response) == "The index's database is temporarily unavailable; try again."
    _no_stray_files(server, [])


# -- attestations ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signed(local_sigstore: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real attestations for small dists of project ``octo-pkg``, signed as octo/repo release.yml."""
    base = tmp_path_factory.mktemp("attested")
    good, other_identity, changed = (base / "good", base / "other", base / "changed")
    for d in (good, other_identity, changed):
        d.mkdir()
    sdist = make_sdist(good, "octo-pkg", "1.0")
    sign_with(local_sigstore, sdist, slsa_provenance=SLSA_PREDICATE)
    publish = json.loads((good / f"{sdist.name}.publish.attestation").read_text())
    slsa = json.loads((good / f"{sdist.name}.slsa.attestation").read_text())
    # A second publish attestation for the same file.
    second_dir = base / "second"
    second_dir.mkdir()
    shutil.copy(sdist, second_dir / sdist.name)
    sign_with(local_sigstore, second_dir / sdist.name)
    publish2 = json.loads((second_dir / f"{sdist.name}.publish.attestation").read_text())
    # The same file signed by another repository.
    shutil.copy(sdist, other_identity / sdist.name)
    sign_with(local_sigstore, other_identity / sdist.name, repo="octo/other")
    foreign = json.loads((other_identity / f"{sdist.name}.publish.attestation").read_text())
    # A different file with the same name.
    different = make_sdist(changed, "octo-pkg", "1.0", payload=b"print('changed')\n")
    return {
        "sdist": sdist,
        "different": different,
        "publish": publish,
        "publish2": publish2,
        "slsa": slsa,
        "foreign": foreign,
        "trust_config": local_sigstore.trust_config_path,
    }


def _attested_server(
    index_server: Callable[..., Server], signed: dict[str, Any], **options: Any
) -> Server:
    roots = (attestkit.TrustRoot.from_file(signed["trust_config"]),)
    return index_server(trust_roots=roots, **options)


def _attest(server: Server, token: str, path: Path, attestations: Any) -> requests.Response:
    text = attestations if isinstance(attestations, str) else json.dumps(attestations)
    return post(server, token, path, name="octo-pkg", attestations=text)


def _invalid(response: requests.Response, detail: str) -> None:
    refused(response, 400, f"Invalid attestations supplied during upload: {detail}")


def test_twine_upload_with_attestations(
    index_server: Callable[..., Server], signed: dict[str, Any], tmp_path: Path
) -> None:
    server = _attested_server(index_server, signed)
    token = publisher_token(server)
    dist = tmp_path / signed["sdist"].name
    shutil.copy(signed["sdist"], dist)
    publish = tmp_path / f"{dist.name}.publish.attestation"
    slsa = tmp_path / f"{dist.name}.slsa.attestation"
    publish.write_text(json.dumps(signed["publish"]))
    slsa.write_text(json.dumps(signed["slsa"]))
    proc = twine(server.url, token, "--attestations", str(dist), str(publish), str(slsa))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with server.index.session() as s:
        row = s.scalar(select(File))
        assert row is not None
        assert row.uploaded_via_trusted_publisher
        assert row.publisher_url == "https://github.com/octo/repo/commit/0123abcd"
        provenance = s.get(Provenance, row.id)
        assert provenance is not None
        uploaded = json.loads(provenance.uploaded_json)
        assert sorted(map(json.dumps, uploaded)) == sorted(
            map(json.dumps, [signed["publish"], signed["slsa"]])
        )
        assert provenance.provenance == {
            "version": 1,
            "attestation_bundles": [
                {
                    "publisher": {
                        "kind": "GitHub",
                        "repository": "octo/repo",
                        "workflow": "release.yml",
                        "environment": None,
                    },
                    "attestations": uploaded,
                }
            ],
        }
    parsed = attestkit.Provenance.from_dict(provenance.provenance)
    dist_obj = attestkit.Distribution.from_file(dist)
    verifier = attestkit.Verifier(attestkit.TrustRoot.from_file(signed["trust_config"]))
    assert len(verifier.verify_provenance(parsed, dist_obj).results) == 2


def test_attestations_with_user_token(
    index_server: Callable[..., Server], signed: dict[str, Any]
) -> None:
    server = _attested_server(index_server, signed)
    token = setup_project(server, "octo-pkg")
    _invalid(
        _attest(server, token, signed["sdist"], [signed["publish"]]),
        "Attestations are only supported when using Trusted Publishing (this upload used an API"
        " token: upload from a Trusted Publisher, or drop the attestations)",
    )


def test_attestations_with_activestate_publisher(
    index_server: Callable[..., Server], signed: dict[str, Any]
) -> None:
    server = _attested_server(index_server, signed)
    token = publisher_token(
        server, "ActiveState", {"organization": "org", "project": "proj", "actor_id": "42"}
    )
    _invalid(
        _attest(server, token, signed["sdist"], [signed["publish"]]),
        "Attestations are not currently supported with ActiveState publishers",
    )


@pytest.mark.parametrize(
    ("field", "detail"),
    [
        ("", "Malformed attestations: not valid JSON"),
        ("{}", "Malformed attestations: expected a JSON array of attestations, got dict"),
        ("[1]", "Malformed attestations: attestations[0] must be an object, got"),
        ('[{"version": 2}]', "Malformed attestations: attestations[0]: unsupported version 2"),
    ],
)
def test_malformed_attestations(
    index_server: Callable[..., Server], signed: dict[str, Any], field: str, detail: str
) -> None:
    server = _attested_server(index_server, signed)
    response = _attest(server, publisher_token(server), signed["sdist"], field)
    assert response.status_code == 400
    assert message(response).startswith(f"Invalid attestations supplied during upload: {detail}")


def test_empty_attestations(index_server: Callable[..., Server], signed: dict[str, Any]) -> None:
    server = _attested_server(index_server, signed)
    _invalid(
        _attest(server, publisher_token(server), signed["sdist"], []),
        "Malformed attestations: an empty attestation set is not permitted",
    )


def test_three_attestations(index_server: Callable[..., Server], signed: dict[str, Any]) -> None:
    server = _attested_server(index_server, signed)
    _invalid(
        _attest(
            server,
            publisher_token(server),
            signed["sdist"],
            [signed["publish"], signed["slsa"], signed["publish2"]],
        ),
        "A maximum of 2 attestations per file are supported",
    )


def test_attestation_from_another_identity(
    index_server: Callable[..., Server], signed: dict[str, Any]
) -> None:
    server = _attested_server(index_server, signed)
    response = _attest(
        server, publisher_token(server), signed["sdist"], [signed["slsa"], signed["foreign"]]
    )
    assert response.status_code == 400
    text = message(response)
    prefix = (
        "Invalid attestations supplied during upload: Could not verify the uploaded artifact using"
        " the included attestation: Verification failed: "
    )
    assert text.startswith(prefix)
    assert "octo/other" in text
    assert text.endswith("(attestation 2 of 2)")
    with server.index.session() as s:
        assert s.scalar(select(func.count()).select_from(File)) == 0
    assert files_in_store(server.index) == []


def test_attestation_for_another_file(
    index_server: Callable[..., Server], signed: dict[str, Any]
) -> None:
    server = _attested_server(index_server, signed)
    _invalid(
        _attest(server, publisher_token(server), signed["different"], [signed["publish"]]),
        "Could not verify the uploaded artifact using the included attestation: Verification"
        " failed: subject does not match distribution digest",
    )


def test_repeated_predicate_type(
    index_server: Callable[..., Server], signed: dict[str, Any]
) -> None:
    server = _attested_server(index_server, signed)
    _invalid(
        _attest(
            server,
            publisher_token(server),
            signed["sdist"],
            [signed["publish"], signed["publish2"]],
        ),
        f"Multiple attestations for the same file with the same predicate type ({PUBLISH}) are not supported",
    )


def test_attestations_without_trust_root(server: Server, signed: dict[str, Any]) -> None:
    response = _attest(server, publisher_token(server), signed["sdist"], [signed["publish"]])
    assert response.status_code == 400
    assert message(response).startswith(
        "Invalid attestations supplied during upload: Could not verify the uploaded artifact using"
        " the included attestation: this index has no Sigstore trust root configured"
    )


def test_attested_upload_over_http(
    index_server: Callable[..., Server], signed: dict[str, Any]
) -> None:
    """Both predicate types at once, posted directly; the provenance is stored as sent."""
    server = _attested_server(index_server, signed)
    response = _attest(
        server, publisher_token(server), signed["sdist"], [signed["slsa"], signed["publish"]]
    )
    assert response.status_code == 200, response.text
    with server.index.session() as s:
        provenance = s.scalar(select(Provenance))
        assert provenance is not None
        assert provenance.provenance["attestation_bundles"][0]["attestations"] == [
            signed["slsa"],
            signed["publish"],
        ]
        assert json.loads(provenance.uploaded_json) == [signed["slsa"], signed["publish"]]


def _lying_wheel(directory: Path, inflated: int, declared: int) -> Path:
    """A wheel whose METADATA says ``declared`` bytes in both headers but inflates to ``inflated``."""
    import struct

    wheel = make_wheel(directory)
    member = "demo_pkg-1.0.dist-info/METADATA"
    with zipfile.ZipFile(wheel) as zf:
        others = {i.filename: zf.read(i) for i in zf.infolist() if i.filename != member}
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in others.items():
            zf.writestr(name, data)
        zf.writestr(member, b"Metadata-Version: 2.1\nName: demo-pkg\n" + b"\0" * inflated)
    raw = bytearray(wheel.read_bytes())
    with zipfile.ZipFile(wheel) as zf:
        info = zf.getinfo(member)
    # Local header: uncompressed size at +22; central directory entry: at +24.
    struct.pack_into("<I", raw, info.header_offset + 22, declared)
    encoded = member.encode()
    central = raw.index(b"PK\x01\x02", 0)
    while raw[central + 46 : central + 46 + len(encoded)] != encoded:
        central = raw.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", raw, central + 24, declared)
    wheel.write_bytes(bytes(raw))
    return wheel


def test_a_member_lying_about_its_size_is_refused_cleanly(server: Server, tmp_path: Path) -> None:
    """Hardening row 2: a few hundred KB that inflate to 100 MB are a 400, not memory and a 500."""
    wheel = _lying_wheel(tmp_path, inflated=100 * 1024 * 1024, declared=100)
    assert wheel.stat().st_size < 1024 * 1024
    response = post(server, setup_project(server), wheel)
    assert response.status_code == 400
    assert message(response) == (
        "Invalid distribution file. demo_pkg-1.0.dist-info/METADATA cannot be read"
        " (corrupt or inconsistent archive)"
    )


def test_a_member_over_the_read_limit_is_refused(server: Server, tmp_path: Path) -> None:
    """An honest METADATA over 8 MiB (ratio under PyPI's threshold) is refused by the read cap."""
    wheel = _lying_wheel(tmp_path, inflated=9 * 1024 * 1024, declared=9 * 1024 * 1024 + 38)
    refused(
        post(server, setup_project(server), wheel),
        400,
        "Invalid distribution file. demo_pkg-1.0.dist-info/METADATA is larger than 8 MiB",
    )
