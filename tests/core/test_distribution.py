"""Distribution filenames, equivalence (PyPI's parsed comparison) and digests."""

from __future__ import annotations

import hashlib

import pytest

from attestkit import Distribution
from attestkit.errors import InputError
from tests.conftest import DATA, SDIST

D = "ab" * 32


@pytest.mark.parametrize(
    ("subject", "other", "equal"),
    [
        ("x-1.0.tar.gz", "x-1.0.zip", True),
        ("x-1.0.tar.gz", "x-1.0.0.tar.gz", True),
        ("x-1.0a1.tar.gz", "x-1.0.alpha1.tar.gz", True),
        ("x-1.0.tar.gz", "x-1.0+local.tar.gz", False),
        ("Foo_Bar-1.0.tar.gz", "foo-bar-1.0.tar.gz", True),
        ("pkg-1.0-py2.py3-none-any.whl", "pkg-1.0-py3.py2-none-any.whl", True),
        ("pkg-1.0-py3-none-any.whl", "pkg-1.0-py3-none-ANY.whl", True),
        ("pkg-1.0-1-py3-none-any.whl", "pkg-1.0-py3-none-any.whl", False),
        ("pkg-1.0-py3-none-any.whl", "pkg-1.0.tar.gz", False),
        ("pkg-1.0-py3-none-any.whl", "pkg-1.1-py3-none-any.whl", False),
        ("pkg-1.0-py3-none-any.whl", "other-1.0-py3-none-any.whl", False),
    ],
)
def test_equivalence_matches_pypi(subject: str, other: str, equal: bool) -> None:
    assert Distribution(subject, D).equivalent_name(other) is equal


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("foo.tar.bz2", "unknown distribution format"),
        ("foo.egg", "unknown distribution format"),
        ("foo-1.0.TAR.GZ", "unknown distribution format"),
        ("foo.whl", "wrong number of parts"),
        ("a/b-1.0.tar.gz", "path separator"),
        ("foo-bar-1.0-py3-none-any.whl", "invalid"),
    ],
)
def test_invalid_filenames(name: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        Distribution(name, D)


def test_digest_validated_and_case_insensitive() -> None:
    d = Distribution("x-1.0.tar.gz", D.upper())
    assert d.digest == D
    assert d.matches_digest(D.upper())
    assert not d.matches_digest("zz" * 32)
    assert not d.matches_digest(D[:-2])
    with pytest.raises(InputError, match="64 hex digits"):
        Distribution("x-1.0.tar.gz", "abc")


def test_from_file_hashes_and_names(tmp_path) -> None:
    d = Distribution.from_file(DATA / SDIST)
    assert d.name == SDIST
    assert d.digest == hashlib.sha256((DATA / SDIST).read_bytes()).hexdigest()
    with pytest.raises(InputError, match="no such file"):
        Distribution.from_file(tmp_path / SDIST)
    (tmp_path / "notadist.exe").write_bytes(b"x")
    with pytest.raises(InputError, match="unknown distribution format"):
        Distribution.from_file(tmp_path / "notadist.exe")
