"""Exception hierarchy shared by every attestkit component.

Every error attestkit raises on purpose derives from :class:`AttestkitError`, so
callers (and the command line) can tell a clean, reportable failure from a bug.
The message of each error is one line that names the reason, never a traceback.

>>> from attestkit.errors import InputError
>>> str(InputError("not valid JSON", source="a.attestation"))
'a.attestation: not valid JSON'
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "EXIT_INPUT",
    "EXIT_VERIFICATION",
    "AttestkitError",
    "ConversionError",
    "InputError",
    "MissingExtraError",
    "NotFoundError",
    "ServiceError",
    "VerificationError",
    "require_sigstore",
]

#: Exit code of a verification that failed.
EXIT_VERIFICATION = 1
#: Exit code of a usage or input error (and of any other deliberate refusal).
EXIT_INPUT = 2


class AttestkitError(ValueError):
    """Base class of every error attestkit raises deliberately.

    ``source`` optionally names the file or URL the error is about; it is
    prefixed to the message so every report says which input failed.
    ``exit_code`` is the command line's exit code for it (stable, documented in
    the README: 1 verification failed, 2 usage or input error).
    """

    exit_code: ClassVar[int] = EXIT_INPUT

    def __init__(self, reason: str, *, source: str | None = None) -> None:
        self.reason = " ".join(reason.split()) if "\n" in reason else reason
        self.source = source
        super().__init__(f"{source}: {self.reason}" if source else self.reason)

    def with_source(self, source: str) -> AttestkitError:
        """Return a copy of this error that names ``source`` (kept if already set)."""
        if self.source:
            return self
        return type(self)(self.reason, source=source)


class InputError(AttestkitError):
    """The input cannot be used: unreadable, not JSON, wrong schema, bad filename."""


class NotFoundError(InputError):
    """The named object (project, release, file, user) does not exist (HTTP 404)."""


class MissingExtraError(AttestkitError):
    """An optional feature's dependencies are not installed; the message says what to install."""

    def __init__(self, feature: str, extra: str, package: str = "sigstore-python") -> None:
        super().__init__(f"{feature} needs {package}: pip install 'attestkit[{extra}]'")


def require_sigstore(feature: str) -> None:
    """Raise :class:`MissingExtraError` unless sigstore-python is importable (it is optional)."""
    import importlib.util

    if importlib.util.find_spec("sigstore") is None:
        raise MissingExtraError(feature, "login")


class ConversionError(AttestkitError):
    """A Sigstore bundle cannot be converted to an attestation, or back."""


class VerificationError(AttestkitError):
    """The input is well-formed but does not verify (signature, identity, subject...)."""

    exit_code: ClassVar[int] = EXIT_VERIFICATION


class ServiceError(AttestkitError):
    """A refusal by one of attestkit's HTTP services (index, Trusted Publishing, the local
    Sigstore's issuer and CA): ``status`` is the HTTP status to answer with."""

    status: int = 400
