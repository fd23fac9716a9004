"""attestkit's core: PEP 740 formats and rules, with no network and no server."""
