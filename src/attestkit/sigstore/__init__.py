"""Sigstore: trust roots, the verification engine and the embedded local instance."""
