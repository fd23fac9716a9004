"""Alembic migrations of the index schema (applied by :func:`attestkit.index.migrate.upgrade`)."""
