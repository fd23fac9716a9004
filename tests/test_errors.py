"""One error hierarchy: every public exception attestkit defines is an ``AttestkitError``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import attestkit
from attestkit.errors import (
    EXIT_INPUT,
    EXIT_VERIFICATION,
    AttestkitError,
    InputError,
    ServiceError,
    VerificationError,
)


def _public_exceptions() -> list[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for info in pkgutil.walk_packages(attestkit.__path__, "attestkit."):
        if info.name.endswith("__main__") or ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__.startswith("attestkit")
                and not name.startswith("_")
            ):
                found.add(obj)
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def test_every_public_error_is_an_attestkit_error() -> None:
    classes = _public_exceptions()
    names = {c.__qualname__ for c in classes}
    # The walk really finds the errors of every component.
    assert {"TokenError", "CAError", "MintError", "UploadError", "UsageError"} <= names
    outside = [
        f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, AttestkitError)
    ]
    assert outside == []


def test_service_errors_carry_an_http_status() -> None:
    from attestkit.index.reasons import UploadError
    from attestkit.index.trusted_publishing.exchange import MintError
    from attestkit.sigstore.local.ca import CAError
    from attestkit.sigstore.local.oidc import TokenError

    assert TokenError("bad", status=401).status == 401
    assert CAError(400, "bad").status == 400
    assert MintError("invalid-token", "bad").status == 422
    assert UploadError(403, "bad").status == 403
    assert all(issubclass(c, ServiceError) for c in (TokenError, CAError, MintError, UploadError))


@pytest.mark.parametrize(
    ("error", "code"),
    [(InputError("x"), EXIT_INPUT), (VerificationError("x"), EXIT_VERIFICATION)],
)
def test_exit_codes(error: AttestkitError, code: int) -> None:
    assert error.exit_code == code
