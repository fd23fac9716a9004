"""attestkit: PyPI package attestations (PEP 740) end to end."""

from attestkit._version import __version__

__all__ = ["__version__"]
