"""``attestkit index``: users, projects, tokens and Trusted Publishers, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from attestkit.index.db import ApiToken, TrustedPublisher
from attestkit.index.instance import Index, IndexConfig, OidcIssuer
from attestkit.index.tokens import matches, parse_token
from attestkit.index.trusted_publishing import exchange as oidc
from tests.fixtures.cli_runner import run_process
from tests.fixtures.index_server import BACKENDS, pg_admin, pg_database


@pytest.fixture(params=BACKENDS)
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    """``--data-dir`` (and ``--database-url`` on PostgreSQL) of a fresh index."""
    args = ["--data-dir", str(tmp_path / "index")]
    name = None
    if request.param == "postgresql":
        name = f"t_{uuid.uuid4().hex[:12]}"
        args += ["--database-url", pg_database(name)]
    yield args
    if name is not None:
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def index(cli, where):
    """Run ``attestkit index <where> ...`` in-process."""

    created = cli("index", *where, "init")
    assert created.code == 0, created.err

    def run(*args: str):
        return cli("index", *where, *args)

    return run


def test_a_directory_without_an_index_is_refused_not_created(cli, tmp_path: Path) -> None:
    """A typo in --data-dir must not print "(none)" from a new, empty index."""
    typo = tmp_path / "tpyo"
    result = cli("index", "--data-dir", str(typo), "user", "list")
    assert one_error_line(result).startswith(f"no index in {typo / 'index'}: check --data-dir")
    assert not typo.exists()
    assert cli("index", "--data-dir", str(typo), "init").code == 0
    assert cli("index", "--data-dir", str(typo), "user", "list").code == 0


def open_index(where: list[str]) -> Index:
    data_dir = Path(where[1]) / "index"
    url = where[3] if len(where) > 2 else None
    return Index.open(IndexConfig(data_dir=data_dir, database_url=url))


def one_error_line(result) -> str:
    assert result.code == 2, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("attestkit index: error: ")
    return lines[0].removeprefix("attestkit index: error: ")


# -- users and projects -------------------------------------------------------------------


def test_users(index) -> None:
    result = index("user", "add", "alice", "--email", "alice@example.com")
    assert result.code == 0, result.err
    assert result.out == "created user alice (id 1)\n"
    assert index("user", "add", "bob").code == 0
    assert one_error_line(index("user", "add", "alice")) == "user 'alice' already exists"
    assert one_error_line(index("user", "add", "no good")) == "invalid username 'no good'"

    listed = json.loads(index("user", "list", "--json").out)
    assert [(u["username"], u["email"]) for u in listed] == [
        ("alice", "alice@example.com"),
        ("bob", None),
    ]
    text = index("user", "list").out.splitlines()
    assert text[0].split() == ["ID", "USERNAME", "EMAIL", "CREATED"]
    assert text[2].split()[:3] == ["2", "bob", "-"]


def test_projects(index) -> None:
    index("user", "add", "alice")
    assert index("project", "add", "Demo.Pkg", "--owner", "alice").out == (
        "created project Demo.Pkg (owner alice)\n"
    )
    assert one_error_line(index("project", "add", "demo-pkg", "--owner", "alice")) == (
        "project 'demo-pkg' already exists"
    )
    assert one_error_line(index("project", "add", "other", "--owner", "carol")).startswith(
        "no user 'carol'"
    )
    listed = json.loads(index("project", "list", "--json").out)
    assert listed == [
        {
            "name": "Demo.Pkg",
            "normalized_name": "demo-pkg",
            "owners": ["alice"],
            "serial": 0,
            "total_size": 0,
            "created": listed[0]["created"],
        }
    ]
    assert "Demo.Pkg  alice" in index("project", "list").out
    # --project is required
    assert index("project", "add", "x").code == 2


def test_roles_and_removing_users(index) -> None:
    for name in ("alice", "bob", "carol"):
        index("user", "add", name)
    index("project", "add", "demo", "--owner", "alice")
    assert index("role", "add", "demo", "bob").out == "bob is now Maintainer of demo\n"
    assert index("role", "add", "demo", "carol", "--role", "owner").out == (
        "carol is now Owner of demo\n"
    )
    assert json.loads(index("role", "list", "demo", "--json").out) == [
        {"user": "alice", "role": "Owner"},
        {"user": "carol", "role": "Owner"},
        {"user": "bob", "role": "Maintainer"},
    ]
    assert one_error_line(index("role", "add", "demo", "bob", "--role", "admin")) == (
        "unknown role 'admin' (one of Owner, Maintainer)"
    )
    assert index("role", "remove", "demo", "carol").code == 0
    assert one_error_line(index("role", "remove", "demo", "alice")) == (
        "'alice' is the last Owner of 'demo'; add another Owner first"
    )
    assert one_error_line(index("role", "add", "demo", "alice", "--role", "Maintainer")) == (
        "'alice' is the last Owner of 'demo'; add another Owner first"
    )

    # Removing a user: their tokens go; never a project's only Owner.
    index("token", "add", "--user", "alice")
    index("token", "add", "--user", "bob", "--description", "bob's")
    mine = json.loads(index("token", "list", "--user", "bob", "--json").out)
    assert [t["description"] for t in mine] == ["bob's"]
    assert one_error_line(index("user", "remove", "alice")).endswith("add --yes")
    assert one_error_line(index("user", "remove", "alice", "--yes")) == (
        "'alice' is the only Owner of demo: add another Owner or delete the project first"
    )
    assert index("user", "remove", "bob", "--yes").out == (
        "removed user bob and their tokens (left demo)\n"
    )
    assert [t["user"] for t in json.loads(index("token", "list", "--json").out)] == ["alice"]
    assert [r["user"] for r in json.loads(index("role", "list", "demo", "--json").out)] == ["alice"]
    assert one_error_line(index("token", "list", "--user", "bob")).startswith("no user 'bob'")


def test_project_status(index) -> None:
    index("user", "add", "alice")
    index("project", "add", "demo", "--owner", "alice")
    done = index("project", "status", "demo", "archived", "--reason", "see demo2")
    assert done.out == "demo is now archived: see demo2\n"
    assert index("project", "status", "demo", "active").out == "demo is now active\n"
    assert index("project", "status", "demo", "gone").code == 2  # argparse choices
    assert one_error_line(index("project", "status", "nope", "archived")) == "no project 'nope'"


def test_pending_publishers_expire(index) -> None:
    index("user", "add", "alice")
    added = index(
        "publisher", "add", "--pending", "soon", "--owner", "alice",
        "--github", "o/r", "--workflow", "r.yml", "--expires-in", "2d",
    )  # fmt: skip
    assert added.code == 0, added.err
    assert "pending project soon, until 20" in added.out
    listed = json.loads(index("publisher", "list", "--json").out)
    assert listed[0]["expires"] is not None and listed[0]["expired"] is False
    bad = index(
        "publisher", "add", "--pending", "x", "--owner", "alice",
        "--github", "o/r", "--workflow", "r.yml", "--expires-in", "-3",
    )  # fmt: skip
    assert bad.code == 2 and "not a positive duration" in bad.err


# -- tokens ----------------------------------------------------------------------------------


def test_tokens(index, where) -> None:
    index("user", "add", "alice")
    index("user", "add", "bob")
    index("project", "add", "demo", "--owner", "alice")
    result = index(
        "token", "add", "--user", "alice", "--project", "demo", "--expires-in", "3600",
        "--description", "ci upload",
    )  # fmt: skip
    assert result.code == 0, result.err
    token = result.out.strip()
    assert result.out == token + "\n"  # the token alone on stdout
    assert token.startswith("pypi-")
    assert "it is shown only once" in result.err
    assert token not in result.err

    parsed = parse_token(token)
    assert parsed is not None
    opened = open_index(where)
    try:
        with opened.session() as session:
            row = session.get(ApiToken, parsed[0])
            assert row is not None and matches(row.secret_sha256, parsed[1])
            assert row.description == "ci upload"
            assert row.expires is not None
            assert row.project_id is not None
    finally:
        opened.close()

    assert one_error_line(index("token", "add", "--user", "bob", "--project", "demo")) == (
        "user 'bob' has no role on project 'demo'"
    )
    zero = index("token", "add", "--user", "alice", "--expires-in", "0")
    assert zero.code == 2 and "'0' is not a positive duration" in zero.err
    unscoped = index("token", "add", "--user", "bob").out.strip()

    listed = json.loads(index("token", "list", "--json").out)
    assert [(t["user"], t["project"], t["expired"]) for t in listed] == [
        ("alice", "demo", False),
        ("bob", None, False),
    ]
    assert listed[0]["id"] == parsed[0]
    assert token not in index("token", "list").out

    assert one_error_line(index("token", "revoke", "abc")).startswith("give the token id")
    assert one_error_line(index("token", "revoke", "ffffffffff")).startswith("no token")
    assert index("token", "revoke", parsed[0][:8]).out == f"revoked token {parsed[0]}\n"
    remaining = json.loads(index("token", "list", "--json").out)
    parsed_unscoped = parse_token(unscoped)
    assert parsed_unscoped is not None
    assert [t["id"] for t in remaining] == [parsed_unscoped[0]]


# -- publishers ----------------------------------------------------------------------------------


def test_publishers_of_every_kind(index) -> None:
    index("user", "add", "alice")
    index("project", "add", "demo", "--owner", "alice")
    adds = [
        ["--github", "octo/repo", "--workflow", ".github/workflows/release.yml",
         "--environment", "pypi", "--repository-owner-id", "42"],
        ["--gitlab", "group/sub/proj", "--workflow", "ci/release.yml",
         "--issuer-url", "https://gitlab.example.com/"],
        ["--google", "svc@proj.iam.gserviceaccount.com", "--sub", "1234"],
        ["--circleci", "pid", "--pipeline-definition-id", "pdid", "--vcs-origin", "github.com/o/r"],
        ["--activestate", "acme/widget", "--actor-id", "a-1", "--actor", "alice"],
    ]  # fmt: skip
    for i, args in enumerate(adds, 1):
        result = index("publisher", "add", "--project", "demo", *args)
        assert result.code == 0, result.err
        assert result.out.startswith(
            f"added {result.out.split()[1]} publisher {i} for project demo"
        )
    listed = json.loads(index("publisher", "list", "--json").out)
    assert [(p["kind"], p["project"], p["config"]) for p in listed] == [
        (
            "GitHub",
            "demo",
            {
                "repository": "octo/repo",
                "workflow": "release.yml",
                "environment": "pypi",
                "repository_owner_id": "42",
            },
        ),
        (
            "GitLab",
            "demo",
            {
                "repository": "group/sub/proj",
                "workflow_filepath": "ci/release.yml",
                "issuer_url": "https://gitlab.example.com",
            },
        ),
        ("Google", "demo", {"email": "svc@proj.iam.gserviceaccount.com", "sub": "1234"}),
        (
            "CircleCI",
            "demo",
            {"project_id": "pid", "pipeline_definition_id": "pdid", "vcs_origin": "github.com/o/r"},
        ),
        (
            "ActiveState",
            "demo",
            {"organization": "acme", "project": "widget", "actor_id": "a-1", "actor": "alice"},
        ),
    ]
    text = index("publisher", "list").out
    assert "octo/repo workflow release.yml, environment pypi, repository_owner_id 42" in text

    removed = index("publisher", "remove", "1")
    assert removed.out.startswith("removed GitHub publisher 1: octo/repo workflow release.yml")
    assert [p["id"] for p in json.loads(index("publisher", "list", "--json").out)] == [2, 3, 4, 5]
    assert one_error_line(index("publisher", "remove", "1")).startswith("no publisher 1")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--project", "demo", "--github", "octo/repo"], "a GitHub publisher needs --workflow FILE"),
        (["--project", "demo", "--github", "octo", "--workflow", "r.yml"], "--github must be OWNER/REPO"),
        (["--project", "demo", "--github", "o/r", "--workflow", "ci/r.yml"], "--workflow must be a workflow file name"),
        (["--project", "demo", "--github", "o/r", "--workflow", "r.txt"], "--workflow must be a workflow file name"),
        (["--project", "demo", "--gitlab", "proj", "--workflow", "x.yml"], "--gitlab must be GROUP/PROJECT"),
        (["--project", "demo", "--google", "svc@x", "--workflow", "r.yml"], "--workflow does not apply to Google publishers"),
        (["--project", "demo", "--google", "not-an-email"], "--google must be a service account email"),
        (["--project", "demo", "--circleci", "pid"], "a CircleCI publisher needs --pipeline-definition-id"),
        (["--project", "demo", "--activestate", "acme/widget"], "an ActiveState publisher needs --actor-id"),
        (["--project", "demo", "--github", "o/r", "--workflow", "r.yml", "--sub", "x"], "--sub does not apply to GitHub publishers"),
        (["--project", "nope", "--google", "svc@x"], "no project 'nope'"),
        (["--pending", "newp", "--google", "svc@x"], "--pending needs --owner USER"),
        (["--pending", "demo", "--owner", "alice", "--google", "svc@x"], "project 'demo' exists: add the publisher to it instead"),
        (["--pending", "bad name", "--owner", "alice", "--google", "svc@x"], "invalid project name 'bad name'"),
    ],
)  # fmt: skip
def test_publisher_add_errors(index, args: list[str], message: str) -> None:
    index("user", "add", "alice")
    index("project", "add", "demo", "--owner", "alice")
    assert one_error_line(index("publisher", "add", *args)).startswith(message)
    assert json.loads(index("publisher", "list", "--json").out) == []


def test_duplicate_publisher(index) -> None:
    index("user", "add", "alice")
    index("project", "add", "demo", "--owner", "alice")
    args = ["--github", "octo/repo", "--workflow", "release.yml"]
    assert index("publisher", "add", "--project", "demo", *args).code == 0
    assert one_error_line(index("publisher", "add", "--project", "demo", *args)) == (
        "the same publisher is already registered (id 1)"
    )
    # The same identity for another (pending) project is fine.
    assert index("publisher", "add", "--pending", "other", "--owner", "alice", *args).code == 0


def test_kind_and_target_are_required(index) -> None:
    assert index("publisher", "add", "--project", "demo").code == 2
    assert index("publisher", "add", "--google", "svc@x").code == 2
    assert (
        index("publisher", "add", "--project", "d", "--pending", "e", "--google", "svc@x").code == 2
    )


def test_pending_publisher_from_the_cli_mints(index, where, tmp_path: Path) -> None:
    """A publisher registered with the CLI is what Trusted Publishing matches."""
    from attestkit.core.constants import GOOGLE_ISSUER
    from attestkit.sigstore.local.keys import KeyStore
    from attestkit.sigstore.local.oidc import Issuer, google_claims

    index("user", "add", "alice")
    email = "svc@proj.iam.gserviceaccount.com"
    result = index("publisher", "add", "--pending", "Fresh", "--owner", "alice", "--google", email)
    assert result.out.startswith("added Google publisher 1 for pending project Fresh")
    issuer = Issuer(KeyStore.open(tmp_path / "keys"), "http://local")
    data_dir = Path(where[1]) / "index"
    url = where[3] if len(where) > 2 else None
    opened = Index.open(
        IndexConfig(
            data_dir=data_dir,
            database_url=url,
            oidc_issuers=(OidcIssuer(GOOGLE_ISSUER, "google", jwks=issuer.jwks()),),
        )
    )
    try:
        service = oidc.TrustedPublishing(opened)
        body = json.dumps({"token": issuer.mint(google_claims(email), audience="attestkit")})
        result_ = service.mint(body.encode())
        assert result_.status == 200, result_.body
        assert result_.body["expires"] >= int(time.time()) + 890
        with opened.session() as session:
            publisher = session.get(TrustedPublisher, 1)
            assert publisher is not None and publisher.project_id is not None
    finally:
        opened.close()
    projects = json.loads(index("project", "list", "--json").out)
    assert [(p["name"], p["owners"]) for p in projects] == [("Fresh", ["alice"])]
    tokens = json.loads(index("token", "list", "--json").out)
    assert [(t["owner"], t["project"], t["user"]) for t in tokens] == [
        ("publisher 1", "Fresh", None)
    ]


# -- process, options and errors ---------------------------------------------------------------


def test_real_process_and_option_positions(tmp_path: Path) -> None:
    data = str(tmp_path / "idx")
    assert run_process("index", "--data-dir", data, "init").code == 0
    result = run_process("index", "--data-dir", data, "user", "add", "alice")
    assert (result.code, result.out) == (0, "created user alice (id 1)\n")
    # --data-dir is also accepted after the action.
    result = run_process("index", "user", "list", "--json", "--data-dir", data)
    assert result.code == 0, result.err
    assert [u["username"] for u in json.loads(result.out)] == ["alice"]
    result = run_process("index", "--data-dir", data, "user", "add", "alice")
    assert result.code == 2
    assert result.err == "attestkit index: error: user 'alice' already exists\n"


def test_default_data_dir(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --data-dir: the same directory `attestkit serve` uses ($ATTESTKIT_DATA_DIR)."""
    monkeypatch.setenv("ATTESTKIT_DATA_DIR", str(tmp_path / "default"))
    assert cli("index", "init").code == 0
    assert cli("index", "user", "add", "alice").code == 0
    assert (tmp_path / "default" / "index" / "index.sqlite3").exists()


def test_unreachable_database_is_one_line(cli, tmp_path: Path) -> None:
    result = cli(
        "index", "--data-dir", str(tmp_path), "--database-url",
        "postgresql://nobody:pw@127.0.0.1:9/none", "user", "list",
    )  # fmt: skip
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1
    assert result.err.startswith("attestkit index: error: cannot open the index in ")


def test_publisher_with_a_custom_issuer(index) -> None:
    """--issuer (alias --issuer-url) for GitHub Enterprise Server and self-managed GitLab."""
    assert index("user", "add", "alice").code == 0
    assert index("project", "add", "corp-app", "--owner", "alice").code == 0
    ghes = "https://ghe.corp.example/_services/token"
    r = index(
        "publisher", "add", "--project", "corp-app", "--github", "corp/app",
        "--workflow", "release.yml", "--issuer", ghes,
    )  # fmt: skip
    assert r.code == 0, r.err
    r = index(
        "publisher", "add", "--project", "corp-app", "--gitlab", "corp/app",
        "--workflow", ".gitlab-ci.yml", "--issuer-url", "https://git.corp.example/",
    )  # fmt: skip
    assert r.code == 0, r.err
    listing = index("publisher", "list").out
    assert f"issuer_url {ghes}" in listing
    assert "issuer_url https://git.corp.example" in listing
    r = index(
        "publisher", "add", "--project", "corp-app", "--gitlab", "corp/x",
        "--workflow", ".gitlab-ci.yml", "--issuer", "http://git.corp.example",
    )  # fmt: skip
    assert r.code == 2 and "http" in r.err and "loopback" in r.err
    r = index(
        "publisher", "add", "--project", "corp-app", "--google", "a@b.iam.gserviceaccount.com",
        "--issuer", ghes,
    )  # fmt: skip
    assert r.code == 2 and "--issuer does not apply to Google publishers" in r.err
