"""Which registered Trusted Publisher a verified OIDC token's claims match.

Each provider's claim rules (``core/providers/<kind>.py``) decide whether a
publisher matches; here: pending publishers past their expiry are left out
(and named in the error when they were the only match), a pending publisher
wins over a registered one, and otherwise the most specific match wins.  When
nothing matches, the error names the failed check of the closest publisher
that shares the token's primary identity.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from attestkit.core.providers.base import ClaimRules, Mismatch
from attestkit.index.trusted_publishing.results import MintError, _invalid_publisher
from attestkit.index.upload.auth import as_utc

if TYPE_CHECKING:
    from attestkit.index.db import TrustedPublisher

__all__ = ["select_publisher"]


def select_publisher(
    rules: ClaimRules,
    candidates: Sequence[TrustedPublisher],
    claims: Mapping[str, Any],
    iss: str,
    now: dt.datetime,
) -> TrustedPublisher:
    """The publisher the claims match at ``now``; :class:`MintError` ``invalid-publisher``."""
    expired = [p for p in candidates if _pending_expired(p, now)]
    live = [p for p in candidates if p not in expired]
    try:
        return _select(rules, live, claims, iss)
    except MintError:
        for stale in expired:
            if _claims_match(rules, stale, claims, iss):
                assert stale.expires is not None
                raise _invalid_publisher(
                    f"the pending publisher for {stale.pending_project_name!r} expired at"
                    f" {as_utc(stale.expires).isoformat(timespec='seconds')}; ask the index"
                    " to register it again"
                ) from None
        raise


def _pending_expired(publisher: TrustedPublisher, now: dt.datetime) -> bool:
    """Whether ``publisher`` is pending and past its expiry."""
    return (
        publisher.project_id is None
        and publisher.expires is not None
        and as_utc(publisher.expires) <= now
    )


def _claims_match(
    rules: ClaimRules, candidate: TrustedPublisher, claims: Mapping[str, Any], iss: str
) -> bool:
    """Whether the claims match ``candidate``."""
    try:
        rules.check(candidate.config, claims, iss)
    except Mismatch:
        return False
    return True


def _select(
    rules: ClaimRules,
    candidates: Sequence[TrustedPublisher],
    claims: Mapping[str, Any],
    iss: str,
) -> TrustedPublisher:
    """The publisher the claims match: pending ones first, then the most specific.

    Otherwise raise ``invalid-publisher`` naming the failed check of the
    closest publisher that shares the token's primary identity.
    """
    matched: list[TrustedPublisher] = []
    closest: Mismatch | None = None
    for candidate in candidates:
        try:
            rules.check(candidate.config, claims, iss)
        except Mismatch as exc:
            if closest is None or exc.stage > closest.stage:
                closest = exc
            continue
        matched.append(candidate)
    if matched:
        pending = [p for p in matched if p.project_id is None]
        pool = pending or matched
        return max(pool, key=lambda p: (rules.specificity(p.config), -p.id))
    if closest is None or closest.stage == 0:
        raise _invalid_publisher(
            "Publisher with matching claims was not found: no"
            f" {rules.kind} publisher is registered for {rules.identity_text(claims)}"
        )
    raise _invalid_publisher(closest.reason)
