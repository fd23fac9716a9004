"""The provider registry is complete and consistent: each provider is wired everywhere it must be."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import attestkit.core.providers as providers_pkg
from attestkit.core.providers import (
    PROVIDERS,
    by_fulcio_type,
    by_issuer,
    by_kind,
    by_publisher_kind,
    publisher_class,
)
from attestkit.core.providers.base import ClaimRules, FulcioProfile, Provider
from attestkit.index.trusted_publishing.exchange import BUILTIN_ISSUERS
from attestkit.serving.config import ISSUER_KINDS
from attestkit.sigstore.local.ca import ISSUER_TYPES, KIND_TYPES


def test_every_provider_module_is_registered() -> None:
    modules = [m.name for m in pkgutil.iter_modules(providers_pkg.__path__) if m.name != "base"]
    registered = {
        importlib.import_module(f"attestkit.core.providers.{m}").PROVIDER.kind for m in modules
    }
    assert registered == set(PROVIDERS)


@pytest.mark.parametrize("provider", PROVIDERS.values(), ids=lambda p: p.kind)
def test_provider_is_consistent(provider: Provider) -> None:
    assert by_kind(provider.kind) is provider
    assert provider.issuer and by_issuer(provider.issuer) is provider
    if provider.publisher_kind:
        cls = publisher_class(provider.publisher_kind)
        assert cls is not None and cls.kind == provider.publisher_kind
        assert by_publisher_kind(provider.publisher_kind) is provider
        required, _optional = provider.registration
        assert required, "a Trusted Publisher needs registration fields"
        assert set(required) <= set(cls.field_names())
    if provider.rules is not None:
        assert isinstance(provider.rules, ClaimRules)
        assert provider.rules.kind == provider.publisher_kind
        assert BUILTIN_ISSUERS[provider.issuer] == provider.kind
    if provider.profile is not None:
        assert isinstance(provider.profile, FulcioProfile)
        assert by_fulcio_type(provider.fulcio_type) is provider
    if provider.fulcio_type:
        assert ISSUER_TYPES[provider.issuer] == provider.fulcio_type
        assert KIND_TYPES[provider.kind] == provider.fulcio_type
        assert provider.kind in ISSUER_KINDS


def test_circleci_org_issuers_resolve() -> None:
    provider = by_issuer("https://oidc.circleci.com/org/1234")
    assert provider is not None and provider.kind == "circleci"
    assert by_issuer("https://evil.example") is None
