"""Tests for attestkit.sigstore.trust: embedded roots, file formats, selection rules, errors.

The key/certificate selection is compared with sigstore-python's own
``TrustedRoot`` (the reference) on the embedded roots and on edited ones.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from attestkit.errors import InputError
from attestkit.sigstore.trust import (
    CLIENT_TRUST_CONFIG_MEDIA_TYPE,
    TRUSTED_ROOT_MEDIA_TYPE,
    TrustRoot,
)

#: sigstore-python (the test oracle) keeps the roots it fetched through TUF here.
SIGSTORE_STORE = Path(importlib.util.find_spec("sigstore").origin or "").parent / "_store"  # type: ignore[union-attr]
PRODUCTION_PATH = (
    SIGSTORE_STORE / quote("https://tuf-repo-cdn.sigstore.dev", safe="") / "trusted_root.json"
)
STAGING_PATH = (
    SIGSTORE_STORE / quote("https://tuf-repo-cdn.sigstage.dev", safe="") / "trusted_root.json"
)


@pytest.mark.parametrize("instance", ["public-good", "staging"])
@pytest.mark.parametrize("filename", ["trusted_root.json", "signing_config.v0.2.json"])
def test_shipped_roots_are_sigstore_pythons(instance: str, filename: str) -> None:
    """The roots attestkit ships are byte-identical to sigstore-python's (refresh: scripts/refresh_roots.py)."""
    from attestkit.sigstore.roots import INSTANCES, read

    theirs = SIGSTORE_STORE / quote(INSTANCES[instance], safe="") / filename
    assert read(instance, filename) == theirs.read_bytes()  # type: ignore[arg-type]


def _production_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(PRODUCTION_PATH.read_text())
    return doc


def _spki(key: Any) -> bytes:
    der: bytes = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def _sigstore_view(root_json: str) -> tuple[set[bytes], set[bytes], list[bytes]]:
    """Rekor key IDs, CT key IDs and Fulcio cert DERs as sigstore-python selects them."""
    from sigstore._internal.trust import KeyringPurpose
    from sigstore.models import TrustedRoot
    from sigstore_models.trustroot.v1 import TrustedRoot as Model

    root = TrustedRoot(Model.from_json(root_json))
    rekor = {bytes(k) for k in root.rekor_keyring(KeyringPurpose.VERIFY)._keyring}
    ct = {bytes(k) for k in root.ct_keyring(KeyringPurpose.VERIFY)._keyring}
    certs = [c.public_bytes(serialization.Encoding.DER) for c in root.get_fulcio_certs()]
    return rekor, ct, certs


def _our_view(root: TrustRoot) -> tuple[set[bytes], set[bytes], list[bytes]]:
    certs = [c.public_bytes(serialization.Encoding.DER) for c in root.fulcio_certs]
    return set(root.rekor_keyring), set(root.ct_keyring), certs


# -- embedded roots -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["production", "staging"])
def test_embedded_roots_match_sigstore(name: str) -> None:
    root = getattr(TrustRoot, name)()
    assert root.name == name
    assert root.fulcio_certs and root.rekor_keyring and root.ct_keyring
    assert root.has_timestamp_authorities  # both public roots list a TSA today
    assert _our_view(root) == _sigstore_view(root.trusted_root_json)
    path = PRODUCTION_PATH if name == "production" else STAGING_PATH
    assert root.trusted_root_json == path.read_text()


def test_embedded_roots_are_cached_and_distinct() -> None:
    assert TrustRoot.production() is TrustRoot.production()
    assert TrustRoot.staging() is TrustRoot.staging()
    assert set(TrustRoot.production().rekor_keyring).isdisjoint(TrustRoot.staging().rekor_keyring)


def test_key_ids_are_sha256_of_spki() -> None:
    root = TrustRoot.production()
    for mapping in (root.rekor_keys, root.ct_keys):
        for key_id, key in mapping.items():
            assert key_id == hashlib.sha256(_spki(key)).digest()
    # The classic Rekor key is the one real PyPI attestations name in logId.
    assert bytes.fromhex("c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d") in (
        root.rekor_keys
    )


def test_store_is_built_once() -> None:
    root = TrustRoot.production()
    assert root.store is root.store


def test_import_is_cheap_and_read_only(tmp_path: Path) -> None:
    """Importing attestkit.sigstore.trust loads neither cryptography nor sigstore; loading writes nothing."""
    code = (
        "import sys\n"
        "import attestkit.sigstore.trust as t\n"
        "assert 'cryptography' not in sys.modules, 'cryptography imported'\n"
        "r = t.TrustRoot.production(); s = t.TrustRoot.staging()\n"
        "assert 'sigstore' not in sys.modules, 'sigstore imported'\n"
        "print(len(r.fulcio_certs), len(s.fulcio_certs))\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    env = dict(
        os.environ,
        HOME=str(home),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_DATA_HOME=str(home / "data"),
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stderr
    assert list(home.iterdir()) == []


# -- file formats --------------------------------------------------------------------


def test_from_file_bare_trusted_root(tmp_path: Path) -> None:
    path = tmp_path / "trusted_root.json"
    path.write_bytes(PRODUCTION_PATH.read_bytes())
    root = TrustRoot.from_file(path)
    assert root.name == str(path)
    assert _our_view(root) == _our_view(TrustRoot.production())


def test_from_file_client_trust_config(tmp_path: Path) -> None:
    config = {
        "mediaType": CLIENT_TRUST_CONFIG_MEDIA_TYPE,
        "trustedRoot": json.loads(STAGING_PATH.read_text()),
        "signingConfig": {"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json"},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    root = TrustRoot.from_file(path)
    assert root.name == str(path)
    assert _our_view(root) == _our_view(TrustRoot.staging())
    # trusted_root_json is the inner TrustedRoot, loadable by sigstore.
    assert json.loads(root.trusted_root_json) == config["trustedRoot"]
    assert _sigstore_view(root.trusted_root_json) == _our_view(root)


def test_snake_case_names_are_accepted() -> None:
    doc = _production_doc()
    doc["media_type"] = doc.pop("mediaType")
    doc["certificate_authorities"] = doc.pop("certificateAuthorities")
    for log in doc["tlogs"]:
        log["public_key"] = log.pop("publicKey")
    root = TrustRoot.from_json(json.dumps(doc))
    assert _our_view(root) == _our_view(TrustRoot.production())


# -- selection rules (differential against sigstore) -------------------------------


def _edited(edit: Any) -> str:
    doc = _production_doc()
    edit(doc)
    return json.dumps(doc)


def _future(doc: dict[str, Any], section: str, index: int) -> None:
    start = (datetime.now(UTC) + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")
    target = doc[section][index]
    target.get("publicKey", target)["validFor"]["start"] = start


def _expired(doc: dict[str, Any]) -> None:
    for section in ("tlogs", "ctlogs"):
        for log in doc[section]:
            log["publicKey"]["validFor"]["end"] = "2001-01-01T00:00:00Z"
    for ca in doc["certificateAuthorities"]:
        ca["validFor"]["end"] = "2001-01-01T00:00:00Z"


def _unsupported_key(doc: dict[str, Any]) -> None:
    doc["tlogs"][0]["publicKey"]["keyDetails"] = "PKIX_RSA_PSS_2048_SHA256"


def _mismatched_key(doc: dict[str, Any]) -> None:
    # An EC key declared as Ed25519: sigstore's Keyring skips it.
    doc["ctlogs"][1]["publicKey"]["keyDetails"] = "PKIX_ED25519"


def _no_valid_for(doc: dict[str, Any]) -> None:
    del doc["tlogs"][0]["publicKey"]["validFor"]


def _duplicate_key(doc: dict[str, Any]) -> None:
    doc["ctlogs"].append(copy.deepcopy(doc["ctlogs"][1]))


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: _future(d, "tlogs", 0),
        lambda d: _future(d, "ctlogs", 1),
        lambda d: _future(d, "certificateAuthorities", 1),
        _expired,
        _unsupported_key,
        _mismatched_key,
        _no_valid_for,
        _duplicate_key,
    ],
    ids=[
        "future-tlog",
        "future-ctlog",
        "future-ca",
        "expired-all",
        "unsupported-key",
        "mismatched-key",
        "no-validFor",
        "duplicate-key",
    ],
)
def test_selection_matches_sigstore(edit: Any) -> None:
    text = _edited(edit)
    ours = _our_view(TrustRoot.from_json(text))
    assert ours == _sigstore_view(text)
    assert ours != _our_view(TrustRoot.production()) or edit in (
        _expired,
        _no_valid_for,
        _duplicate_key,
    )


def test_future_entries_are_excluded_and_expired_kept() -> None:
    root = TrustRoot.from_json(_edited(lambda d: _future(d, "certificateAuthorities", 1)))
    assert len(root.fulcio_certs) == 1  # only the old, expired CA remains
    root = TrustRoot.from_json(_edited(_expired))
    assert len(root.fulcio_certs) == 3
    assert len(root.rekor_keyring) == 2


def test_now_parameter() -> None:
    text = PRODUCTION_PATH.read_text()
    early = TrustRoot.from_json(text, now=datetime(2021, 6, 1, tzinfo=UTC))
    # Before the 2022 CA and CT key and the 2025 Ed25519 log key existed.
    assert len(early.fulcio_certs) == 1
    assert len(early.ct_keyring) == 1
    assert len(early.rekor_keyring) == 1
    assert early.rekor_key_count == 1


def test_unusable_keys_are_skipped_but_counted() -> None:
    root = TrustRoot.from_json(_edited(_unsupported_key))
    assert len(root.rekor_keyring) == 1
    assert root.rekor_key_count == 2


def test_ed25519_and_tsa_flags() -> None:
    root = TrustRoot.production()
    kinds = {type(k.public_key) for k in root.rekor_keyring.values()}
    assert any(issubclass(k, ed25519.Ed25519PublicKey) for k in kinds)
    assert any(issubclass(k, ec.EllipticCurvePublicKey) for k in kinds)
    no_tsa = TrustRoot.from_json(_edited(lambda d: d.pop("timestampAuthorities")))
    assert not no_tsa.has_timestamp_authorities


# -- errors --------------------------------------------------------------------------


def _set(path: str, value: Any) -> Any:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DELETE:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value

    return edit


_DELETE = object()


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (
            _set("mediaType", "application/vnd.dev.sigstore.trustedroot.v0.2+json"),
            "unsupported trusted root format",
        ),
        (_set("mediaType", "application/json"), "unsupported trust root media type"),
        (_set("tlogs", _DELETE), "missing tlogs"),
        (_set("ctlogs", {}), "ctlogs must be an array"),
        (_set("extra", 1), "unknown field 'extra'"),
        (_set("tlogs.0.publicKey.rawBytes", "not base64!"), "not valid standard base64"),
        (_set("tlogs.0.publicKey.keyDetails", "PKIX_NOPE"), "unknown value 'PKIX_NOPE'"),
        (_set("tlogs.0.hashAlgorithm", "MD5"), "hashAlgorithm"),
        (_set("tlogs.0.logId", _DELETE), "missing logId"),
        (_set("certificateAuthorities.0.validFor.start", "2021-03-07T03:20:29"), "no time zone"),
        (_set("certificateAuthorities.0.validFor.start", "yesterday"), "not an RFC 3339"),
        (_set("certificateAuthorities.0.validFor", _DELETE), "missing validFor"),
        (
            _set("certificateAuthorities.0.certChain.certificates", []),
            "missing a certificate in Certificate Authority",
        ),
        (
            _set("certificateAuthorities.0.certChain.certificates.0.rawBytes", "AAAA"),
            "invalid X.509",
        ),
        (_set("certificateAuthorities.0.subject", {"organization": "x"}), "missing commonName"),
        (_set("timestampAuthorities", "none"), "timestampAuthorities must be an array"),
    ],
)
def test_bad_trusted_root(tmp_path: Path, edit: Any, fragment: str) -> None:
    path = tmp_path / "root.json"
    path.write_text(_edited(edit))
    with pytest.raises(InputError) as info:
        TrustRoot.from_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert fragment in message
    assert "\n" not in message
    # sigstore-python refuses every one of these too.
    with pytest.raises(Exception):  # noqa: B017 - any failure is a refusal
        _sigstore_view(path.read_text())


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"{", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "must be a JSON object"),
        (
            json.dumps({"mediaType": CLIENT_TRUST_CONFIG_MEDIA_TYPE}).encode(),
            "trustedRoot must be an object",
        ),
        (
            json.dumps(
                {
                    "mediaType": CLIENT_TRUST_CONFIG_MEDIA_TYPE,
                    "trustedRoot": {"mediaType": TRUSTED_ROOT_MEDIA_TYPE},
                }
            ).encode(),
            "signingConfig must be an object",
        ),
    ],
)
def test_bad_files(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        TrustRoot.from_file(path)
    assert str(info.value).startswith(f"{path}: ")
    assert fragment in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        TrustRoot.from_file(tmp_path / "absent.json")


def test_from_json_names_source() -> None:
    with pytest.raises(InputError) as info:
        TrustRoot.from_json("{}", source="inline")
    assert str(info.value).startswith("inline: ")
