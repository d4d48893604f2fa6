"""storage: an instance's storage (SQLite or PostgreSQL), the ports of its PostgreSQL servers

Revision ID: 0012_storage
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_storage"
down_revision = "0001"
branch_labels = ("storage",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("storage", sa.String(length=16), nullable=False, server_default="sqlite"))
        batch.add_column(sa.Column("monitor_port", sa.Integer(), nullable=True))
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("storage_port", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("storage_port")
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("monitor_port")
        batch.drop_column("storage")
