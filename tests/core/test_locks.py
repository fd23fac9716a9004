"""Lock formats read into pinned files: pylock.toml, uv.lock, requirements with hashes, pip reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attestkit.core.locks import detect_format, load_lock
from attestkit.core.locks.pylock import parse_pylock
from attestkit.core.locks.requirements import parse_requirements_text
from attestkit.core.locks.uvlock import parse_uv_lock
from attestkit.errors import InputError

H1 = "a" * 64
H2 = "b" * 64

PYLOCK = f"""
lock-version = '1.0'
created-by = 'mousebender'

[[packages]]
name = 'attrs'
version = '25.1.0'
index = 'https://pypi.org/simple/'

[[packages.attestation-identities]]
environment = 'release-pypi'
kind = 'GitHub'
repository = 'python-attrs/attrs'
workflow = 'pypi-package.yml'

[[packages.wheels]]
url = 'https://files.pythonhosted.org/packages/fc/30/attrs-25.1.0-py3-none-any.whl'
size = 63152
hashes = {{sha256 = '{H1}'}}

[packages.sdist]
name = 'attrs-25.1.0.tar.gz'
url = 'https://files.pythonhosted.org/packages/49/7c/whatever.tar.gz'
hashes = {{sha256 = '{H2.upper()}'}}

[[packages]]
name = 'Local_Thing'
directory = {{ path = '.', editable = true }}
"""


def test_pylock_files_identities_and_unverifiable() -> None:
    lock = parse_pylock(PYLOCK, source="pylock.toml")
    assert [(f.project, f.version, f.filename) for f in lock.files] == [
        ("attrs", "25.1.0", "attrs-25.1.0.tar.gz"),  # the name key wins over the URL
        ("attrs", "25.1.0", "attrs-25.1.0-py3-none-any.whl"),
    ]
    assert lock.files[0].sha256 == (H2,)  # normalised to lowercase
    assert lock.files[1].size == 63152
    assert lock.identities["attrs"][0]["repository"] == "python-attrs/attrs"
    assert [(u.project, u.where) for u in lock.unverifiable] == [("local-thing", "packages[1]")]
    assert lock.indexes == ["https://pypi.org/simple/"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("lock-version = '1.0'", "lock-version = '2.0'"), "only 1.x"),
        (("created-by = 'mousebender'\n", ""), "missing required key 'created-by'"),
        ((f"hashes = {{sha256 = '{H1}'}}", "hashes = {md5 = 'abc'}"), "no sha256"),
        ((f"hashes = {{sha256 = '{H1}'}}", "hashes = {sha256 = 'xyz'}"), "64 hex digits"),
        (("size = 63152\n", "size = 63152\n["), "not valid TOML"),
    ],
)
def test_pylock_refusals(change: tuple[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_pylock(PYLOCK.replace(*change), source="pylock.toml")


def test_pylock_newer_minor_warns() -> None:
    lock = parse_pylock(PYLOCK.replace("'1.0'", "'1.1'"))
    assert any("newer than 1.0" in w for w in lock.warnings)


UV_LOCK = f"""
version = 1
revision = 3
requires-python = ">=3.11"

[[package]]
name = "Requests"
version = "2.32.3"
source = {{ registry = "https://pypi.org/simple" }}
sdist = {{ url = "https://files.pythonhosted.org/packages/63/requests-2.32.3.tar.gz", hash = "sha256:{H1}", size = 131218 }}
wheels = [
    {{ url = "https://files.pythonhosted.org/packages/f9/requests-2.32.3-py3-none-any.whl", hash = "sha256:{H2}", size = 64928 }},
]

[[package]]
name = "app"
version = "0.1.0"
source = {{ editable = "." }}
"""


def test_uv_lock() -> None:
    lock = parse_uv_lock(UV_LOCK)
    assert [(f.project, f.filename, f.sha256) for f in lock.files] == [
        ("requests", "requests-2.32.3.tar.gz", (H1,)),
        ("requests", "requests-2.32.3-py3-none-any.whl", (H2,)),
    ]
    assert lock.files[0].index == "https://pypi.org/simple"
    assert lock.unverifiable[0].reason == "a editable source has no index file to attest"
    with pytest.raises(InputError, match="unsupported lockfile schema version"):
        parse_uv_lock(UV_LOCK.replace("version = 1\n", "version = 2\n", 1))


REQUIREMENTS = f"""\
--index-url https://pypi.org/simple
# a comment
certifi==2024.8.30 \\
    --hash=sha256:{H1} \\
    --hash=sha256:{H2}
    # via requests
idna==3.10 --hash sha256:{H1}  # trailing comment
loose>=1.0
"""


def test_requirements_with_hashes() -> None:
    lock = parse_requirements_text(REQUIREMENTS)
    assert [(f.project, f.version, f.filename, f.sha256) for f in lock.files] == [
        ("certifi", "2024.8.30", None, (H1, H2)),
        ("idna", "3.10", None, (H1,)),
    ]
    assert lock.indexes == ["https://pypi.org/simple"]
    assert [(u.project, u.reason) for u in lock.unverifiable] == [
        ("loose", "not pinned: needs an exact version (==)")
    ]
    assert lock.files[0].matches({"sha256": H2.upper().lower()})
    assert not lock.files[1].matches({"sha256": H2})


def test_requirements_refuse_weak_hashes() -> None:
    with pytest.raises(InputError, match="allowed hash algorithms"):
        parse_requirements_text("x==1 --hash=md5:0123\n")


def test_requirements_includes(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text(f"idna==3.10 --hash=sha256:{H1}\n")
    (tmp_path / "req.txt").write_text(f"-r base.txt\ncertifi==1 --hash=sha256:{H2}\n")
    lock = load_lock(tmp_path / "req.txt")
    assert [f.project for f in lock.files] == ["idna", "certifi"]
    assert lock.files[0].where.endswith("base.txt:1")


def test_pip_report(tmp_path: Path) -> None:
    report = {
        "version": "1",
        "install": [
            {
                "metadata": {"name": "Idna", "version": "3.10"},
                "download_info": {
                    "url": "https://files.pythonhosted.org/packages/idna-3.10-py3-none-any.whl",
                    "archive_info": {"hashes": {"sha256": H1}},
                },
            },
            {
                "metadata": {"name": "mine", "version": "1"},
                "download_info": {"url": "file:///src/mine", "dir_info": {}},
            },
        ],
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    lock = load_lock(path)
    assert lock.format == "pip-report"
    assert [(f.project, f.filename) for f in lock.files] == [("idna", "idna-3.10-py3-none-any.whl")]
    assert lock.unverifiable[0].project == "mine"


def test_detect_format_and_errors_name_the_file(tmp_path: Path) -> None:
    assert detect_format("pylock.dev.toml", "") == "pylock"
    assert detect_format("uv.lock", "") == "uv.lock"
    assert detect_format("x.txt", "idna==1\n") == "requirements"
    bad = tmp_path / "pylock.toml"
    bad.write_text("lock-version = '9'\ncreated-by='x'\n")
    with pytest.raises(InputError, match=r"pylock\.toml: lock-version 9 is not supported"):
        load_lock(bad)
