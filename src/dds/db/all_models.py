"""Every table module, imported so Alembic and `create_all` see the whole schema."""

from dds.db import backups, gateway, identity, management, models, parameters  # noqa: F401
from dds.db.models import Base

__all__ = ["Base"]
