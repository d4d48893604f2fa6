"""Metadata store: SQLAlchemy models, sessions and Alembic migrations."""
