"""A private instance on many nodes: shared keys (``sigstore keys init``) and a PostgreSQL log."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from attestkit.core.constants import DEV_CA_ORGANIZATION
from attestkit.core.issuers import OidcIssuer
from attestkit.errors import InputError
from attestkit.sigstore.local.keys import KeyStore
from attestkit.sigstore.local.log import LogError, TransparencyLog
from attestkit.sigstore.local.merkle import verify_consistency
from attestkit.sigstore.local.server import LocalSigstore
from tests.fixtures.index_server import PG_URL, pg_admin, pg_database
from tests.fixtures.processes import ak

ISSUER = OidcIssuer("https://gitlab.example.com", "gitlab")


def test_keys_init_creates_a_key_set_once(tmp_path: Path) -> None:
    target = tmp_path / "keys"
    r = ak("sigstore", "keys", "init", str(target), "--ca-name", "Example Corp")
    assert r.returncode == 0, r.stderr
    keys = KeyStore.load(target)
    assert keys.organization == "Example Corp"
    assert (target / "rekor.pem").stat().st_mode & 0o777 == 0o600
    again = ak("sigstore", "keys", "init", str(target))
    assert again.returncode == 2 and "already exists" in again.stderr
    assert KeyStore.load(target).rekor_log_id == keys.rekor_log_id  # untouched
    reserved = ak(
        "sigstore", "keys", "init", str(tmp_path / "k2"), "--ca-name", DEV_CA_ORGANIZATION
    )
    assert reserved.returncode == 2 and "reserved for development" in reserved.stderr
    assert not (tmp_path / "k2").exists()


def test_trust_config_from_the_keys_alone(tmp_path: Path) -> None:
    target = tmp_path / "keys"
    assert ak("sigstore", "keys", "init", str(target)).returncode == 0
    out = tmp_path / "trust.json"
    url = "https://sigstore.example.com"
    r = ak("sigstore", "trust-config", "--keys-dir", str(target), "--url", url, "-o", str(out))
    assert r.returncode == 0, r.stderr
    config = json.loads(out.read_text())
    logs = config["trustedRoot"]["tlogs"]
    assert logs[0]["baseUrl"] == url
    missing = ak("sigstore", "trust-config", "--keys-dir", str(tmp_path / "nope"), "--url", url)
    assert missing.returncode == 2 and "holds no instance keys" in missing.stderr


def test_shared_keys_and_logs_are_for_private_instances(tmp_path: Path) -> None:
    dev_keys = KeyStore.open(tmp_path / "dev")  # a development instance's keys
    with pytest.raises(InputError, match="runs on one node"):
        LocalSigstore.open(
            tmp_path / "a", "http://127.0.0.1:1", development=True, keys_dir=dev_keys.directory
        )
    with pytest.raises(InputError, match="development instance's keys"):
        LocalSigstore.open(
            tmp_path / "b",
            "http://127.0.0.1:1",
            development=False,
            issuers=[ISSUER],
            keys_dir=dev_keys.directory,
        )
    with pytest.raises(InputError, match="holds no instance keys"):
        LocalSigstore.open(
            tmp_path / "c",
            "http://127.0.0.1:1",
            development=False,
            issuers=[ISSUER],
            keys_dir=tmp_path / "nothing",
        )
    with pytest.raises(InputError, match="cannot open the transparency log"):
        LocalSigstore.open(
            tmp_path / "d",
            "http://127.0.0.1:1",
            development=False,
            issuers=[ISSUER],
            log_database_url="postgresql://nobody@127.0.0.1:9/none",
        )


@pytest.fixture
def pg_log_url() -> Iterator[str]:
    if PG_URL is None:
        pytest.skip("needs ATTESTKIT_TEST_DATABASE_URL (CI sets it)")
    name = f"log_{uuid.uuid4().hex[:10]}"
    url = pg_database(name)
    yield url
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_two_logs_on_one_postgresql_database_grow_one_tree(pg_log_url: str, tmp_path: Path) -> None:
    keys = KeyStore.open(tmp_path)
    with (
        TransparencyLog.open(pg_log_url, keys, "origin") as a,
        TransparencyLog.open(pg_log_url, keys, "origin") as b,
    ):
        a.append(b"first")
        early = (a.size(), a.root_hash())

        def work(log: TransparencyLog, tag: str) -> None:
            for i in range(50):
                log.append_concurrent(f"{tag} {i}".encode())

        threads = [
            threading.Thread(target=work, args=(log, f"{name}{t}"))
            for name, log in (("a", a), ("b", b))
            for t in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert a.size() == b.size() == 401
        assert a.root_hash() == b.root_hash() == a.audit() == b.audit()
        indexes = {a.entry(i).body for i in range(401)}
        assert len(indexes) == 401
        proof = b.consistency_proof(early[0])
        assert verify_consistency(early[0], 401, early[1], b.root_hash(), proof)
        # Rekor's duplicate rule holds across the nodes too.
        with pytest.raises(LogError, match="already exists"):
            b.append(b"first")


def test_the_postgresql_log_is_append_only_and_belongs_to_its_keys(
    pg_log_url: str, tmp_path: Path
) -> None:
    import psycopg

    keys = KeyStore.open(tmp_path / "one")
    with TransparencyLog.open(pg_log_url, keys, "origin") as log:
        log.append(b"entry")
    with psycopg.connect(pg_log_url, autocommit=True) as conn:
        for statement in (
            "UPDATE attestkit_tlog.entries SET integrated_time = 0",
            "DELETE FROM attestkit_tlog.nodes",
            "TRUNCATE attestkit_tlog.entries",
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
    other = KeyStore.open(tmp_path / "two")
    with pytest.raises(LogError, match="belongs to another log"):
        TransparencyLog.open(pg_log_url, other, "origin")
    with TransparencyLog.open(pg_log_url, keys, "origin") as log:
        assert log.size() == 1 and log.audit() == log.root_hash()


def test_migrate_moves_a_private_instance_to_shared_keys_and_log(
    pg_log_url: str, tmp_path: Path
) -> None:
    from attestkit.serving.devmode import PRODUCTION, claim_data_dir

    data = tmp_path / "single"
    claim_data_dir(data, PRODUCTION)
    keys = KeyStore.open(data, organization="Example Corp")
    with TransparencyLog.open(data / "log.sqlite3", keys, "attestkit.local") as log:
        log.append_many([b"entry %d" % i for i in range(30)])
        root, checkpoint = log.root_hash(), log.checkpoint()
    target = tmp_path / "shared-keys"
    r = ak(
        "sigstore", "migrate", "--data-dir", str(data),
        "--to-keys-dir", str(target), "--to-log-database-url", pg_log_url,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "30 entries" in r.stdout
    shared = KeyStore.load(target)
    assert shared.rekor_log_id == keys.rekor_log_id and shared.tree_id == keys.tree_id
    with TransparencyLog.open(pg_log_url, shared, "attestkit.local") as log:
        # The same tree: the checkpoint clients saw is still this log's.
        assert log.size() == 30 and log.root_hash() == root
        assert log.checkpoint(30).split("\n\n")[0] == checkpoint.split("\n\n")[0]
        assert log.entry(7).body == b"entry 7"
        log.append(b"after the move")
    again = ak(
        "sigstore", "migrate", "--data-dir", str(data),
        "--to-keys-dir", str(tmp_path / "other"), "--to-log-database-url", pg_log_url,
    )  # fmt: skip
    assert again.returncode == 2 and "not empty" in again.stderr
    assert not (tmp_path / "other").exists()  # nothing half-done
    dev = tmp_path / "dev"
    KeyStore.open(dev)
    from attestkit.serving.devmode import DEVELOPMENT

    claim_data_dir(dev, DEVELOPMENT)
    refused = ak(
        "sigstore", "migrate", "--data-dir", str(dev),
        "--to-keys-dir", str(tmp_path / "k3"), "--to-log-database-url", pg_log_url,
    )  # fmt: skip
    assert refused.returncode == 2 and "development instance" in refused.stderr
