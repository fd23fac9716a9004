"""Exception hierarchy shared by every attestkit component.

Every error attestkit raises on purpose derives from :class:`AttestkitError`, so
callers (and the command line) can tell a clean, reportable failure from a bug.
The message of each error is one line that names the reason, never a traceback.

>>> from attestkit.errors import InputError
>>> str(InputError("not valid JSON", source="a.attestation"))
'a.attestation: not valid JSON'
"""

from __future__ import annotations

__all__ = [
    "AttestkitError",
    "ConversionError",
    "InputError",
    "VerificationError",
]


class AttestkitError(ValueError):
    """Base class of every error attestkit raises deliberately.

    ``source`` optionally names the file or URL the error is about; it is
    prefixed to the message so every report says which input failed.
    """

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


class ConversionError(AttestkitError):
    """A Sigstore bundle cannot be converted to an attestation, or back."""


class VerificationError(AttestkitError):
    """The input is well-formed but does not verify (signature, identity, subject...)."""
