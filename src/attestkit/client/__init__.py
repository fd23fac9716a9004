"""The client side: find an identity, sign, upload and publish."""
