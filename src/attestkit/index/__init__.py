"""attestkit's package index: PyPI's upload API with PEP 740 attestations, Simple and
Integrity APIs, Trusted Publishing, and provenance pages.

Modules: :mod:`.db` (SQLAlchemy models and engine; SQLite or PostgreSQL),
:mod:`.storage` (the file store), :mod:`.tokens` (API tokens), :mod:`.admin`
(users, projects, tokens, publishers), and the HTTP surfaces built on them.
"""
