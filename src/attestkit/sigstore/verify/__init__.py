"""Verification: Sigstore signatures (engine), and attestations against a distribution."""
