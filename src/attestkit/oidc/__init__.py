"""OpenID Connect: issuers' signing keys (JWKS) and JWT signature checks."""
