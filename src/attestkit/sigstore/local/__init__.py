"""An embedded Sigstore instance: OIDC issuer, Fulcio-compatible CA, Rekor v1-compatible log.

Everything a signer and a verifier need, without the public Sigstore services:
offline machines, air-gapped companies and attestkit's own tests.  The
unmodified sigstore-python client signs and verifies against it, given the
ClientTrustConfig from :func:`attestkit.sigstore.local.trustconfig.client_trust_config`.

Modules: :mod:`.keys` (persisted keys and CA certificates), :mod:`.oidc` (token
issuer), :mod:`.ca` (certificate authority), :mod:`.merkle` and :mod:`.log`
(the transparency log), :mod:`.rekor` (Rekor entry admission and responses),
:mod:`.trustconfig`, :mod:`.server` (the HTTP application).
"""
