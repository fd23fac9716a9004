"""Coverage-guided fuzzing of every parser that reads untrusted bytes (atheris, on demand).

Run: ``.venv/bin/pip install atheris`` once, then
``.venv/bin/python -m fuzz.parsers [-max_total_time=600] [corpus_dir]``
(any libFuzzer flag works).

The first byte of each input picks a target; the rest is its input:

0. ``core.encoding.loads_json`` (the one JSON reader for untrusted input);
1. ``Attestation.model_validate_json`` (PEP 740 attestations);
2. ``Provenance.model_validate_json`` (Integrity API objects);
3. ``oidc.jwt.unverified_token`` (JWT headers and claims before any key);
4. ``core.locks`` (pylock.toml, uv.lock, requirements, pip reports);
5. ``index.upload.archives.inspect_archive`` + ``check_wheel`` (uploaded wheels);
6. ``core.convert.attestation_from_bundle`` (Sigstore bundles).

A target may return or raise an :class:`attestkit.errors.AttestkitError` (every
deliberate refusal is one); any other exception is a crash and libFuzzer
stops with the input that caused it.  The hypothesis tests in ``tests/`` run
the same targets on generated inputs in CI, time-bounded.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from attestkit.errors import AttestkitError


def _json(data: bytes) -> None:
    from attestkit.core.encoding import loads_json

    loads_json(data, what="input", max_bytes=1 << 20)


def _attestation(data: bytes) -> None:
    from attestkit.core.models import Attestation

    Attestation.model_validate_json(data)


def _provenance(data: bytes) -> None:
    from attestkit.core.models import Provenance

    Provenance.model_validate_json(data)


def _token(data: bytes) -> None:
    from attestkit.oidc.jwt import unverified_token

    unverified_token(data.decode("utf-8", "replace"))


def _locks(data: bytes) -> None:
    from attestkit.core.locks import load_lock

    with tempfile.TemporaryDirectory() as tmp:
        for name in ("pylock.toml", "uv.lock", "requirements.txt", "report.json"):
            path = Path(tmp) / name
            path.write_bytes(data)
            with contextlib.suppress(AttestkitError):
                load_lock(path)


def _wheel(data: bytes) -> None:
    from packaging.version import Version

    from attestkit.index.reasons import UploadError
    from attestkit.index.upload.archives import check_wheel, inspect_archive

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo_pkg-1.0-py3-none-any.whl"
        path.write_bytes(data)
        try:
            info = inspect_archive(path, path.name, "https://docs.example")
            check_wheel(info, path.name, "demo-pkg", "demo-pkg", Version("1.0"), [])
        except UploadError:
            pass


def _bundle(data: bytes) -> None:
    from attestkit.core.convert import attestation_from_bundle

    attestation_from_bundle(data)


TARGETS: list[Callable[[bytes], None]] = [
    _json,
    _attestation,
    _provenance,
    _token,
    _locks,
    _wheel,
    _bundle,
]


def one_input(data: bytes) -> None:
    """libFuzzer's entry point: run one target on one input."""
    if not data:
        return
    target = TARGETS[data[0] % len(TARGETS)]
    with contextlib.suppress(AttestkitError):
        target(data[1:])


def main() -> None:
    import atheris

    with atheris.instrument_imports():
        import attestkit.core.convert
        import attestkit.core.encoding
        import attestkit.core.locks
        import attestkit.core.models
        import attestkit.index.upload.archives
        import attestkit.oidc.jwt  # noqa: F401
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
