"""Trusted Publishing: OIDC token exchange for short-lived upload tokens."""
