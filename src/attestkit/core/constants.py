"""Named constants: index hosts, predicate types, media types, Fulcio OIDs and issuers.

Hosts are kept here, never spelled out elsewhere, so alternative indexes and
self-managed forges only need a different value, not a code change.
"""

from __future__ import annotations

from typing import Final

#: PyPI's main domain and its file host.
INDEX_HOST: Final = "pypi.org"
FILES_HOST: Final = "files.pythonhosted.org"
TEST_INDEX_HOST: Final = "test.pypi.org"
#: PyPI's Simple API root: what lock checks and the mirror read by default.
PYPI_SIMPLE: Final = f"https://{INDEX_HOST}/simple/"

#: Predicate types PyPI accepts (PEP 740).
PUBLISH_PREDICATE_V1: Final = f"https://docs.{INDEX_HOST}/attestations/publish/v1"
SLSA_PREDICATE_V1: Final = "https://slsa.dev/provenance/v1"
ACCEPTED_PREDICATE_TYPES: Final = frozenset({PUBLISH_PREDICATE_V1, SLSA_PREDICATE_V1})

#: in-toto.
INTOTO_STATEMENT_V1: Final = "https://in-toto.io/Statement/v1"
INTOTO_PAYLOAD_TYPE: Final = "application/vnd.in-toto+json"

#: Sigstore bundle media types, as accepted by sigstore-python 4.5.
BUNDLE_V01: Final = "application/vnd.dev.sigstore.bundle+json;version=0.1"
BUNDLE_V02: Final = "application/vnd.dev.sigstore.bundle+json;version=0.2"
BUNDLE_V03: Final = "application/vnd.dev.sigstore.bundle.v0.3+json"
BUNDLE_V03_ALT: Final = "application/vnd.dev.sigstore.bundle+json;version=0.3"
BUNDLE_MEDIA_TYPES: Final = frozenset({BUNDLE_V01, BUNDLE_V02, BUNDLE_V03, BUNDLE_V03_ALT})

#: Integrity API media type.
INTEGRITY_MEDIA_TYPE: Final = "application/vnd.pypi.integrity.v1+json"

#: OIDC issuers of the Trusted Publisher providers.
GITHUB_ISSUER: Final = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER: Final = "https://gitlab.com"
GOOGLE_ISSUER: Final = "https://accounts.google.com"
CIRCLECI_ISSUER: Final = "https://oidc.circleci.com"
BUILDKITE_ISSUER: Final = "https://agent.buildkite.com"
ACTIVESTATE_ISSUER: Final = "https://platform.activestate.com/api/v1/oauth/oidc"

#: The organization (O=) of the CA certificates of an attestkit development
#: instance, whose identities are simulated; ``attestkit.local`` is what instances
#: created before development mode was fenced used (they all simulated identities).
DEV_CA_ORGANIZATION: Final = "attestkit development instance (simulated identities)"
DEV_CA_ORGANIZATIONS: Final = frozenset({DEV_CA_ORGANIZATION, "attestkit.local"})
#: Default organization of a private (production) attestkit Sigstore CA.
PRIVATE_CA_ORGANIZATION: Final = "attestkit private Sigstore"

#: Forge hosts used to build repository URIs.
GITHUB_URL: Final = "https://github.com"
GITLAB_URL: Final = "https://gitlab.com"

#: Fulcio certificate extension OIDs (``1.3.6.1.4.1.57264.1.N``).
FULCIO_OID_PREFIX: Final = "1.3.6.1.4.1.57264.1."
#: Raw (v1) extensions: the value is the bare UTF-8 string.
FULCIO_RAW_OIDS: Final = {
    1: "issuer_v1",
    2: "github_workflow_trigger",
    3: "github_workflow_sha",
    4: "github_workflow_name",
    5: "github_workflow_repository",
    6: "github_workflow_ref",
}
#: DER UTF8String (v2) extensions.
FULCIO_DER_OIDS: Final = {
    8: "issuer",
    9: "build_signer_uri",
    10: "build_signer_digest",
    11: "runner_environment",
    12: "source_repository_uri",
    13: "source_repository_digest",
    14: "source_repository_ref",
    15: "source_repository_identifier",
    16: "source_repository_owner_uri",
    17: "source_repository_owner_identifier",
    18: "build_config_uri",
    19: "build_config_digest",
    20: "build_trigger",
    21: "run_invocation_uri",
    22: "source_repository_visibility_at_signing",
    23: "deployment_environment",
    24: "token_subject",
}
#: OtherName SAN type id.
FULCIO_OTHERNAME_OID: Final = "1.3.6.1.4.1.57264.1.7"
#: PEP 792 project status markers (the Simple API's ``project-status``).
PROJECT_STATUSES: Final = ("active", "archived", "quarantined", "deprecated")
