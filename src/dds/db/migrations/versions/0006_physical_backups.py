"""physical backups: the mongodump-layout export beside each archive, stop requests, download policy

Revision ID: 0006_physical_backups
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_physical_backups"
down_revision = "0001"
branch_labels = None
depends_on = "0002_backups"  # alters the backups table


def upgrade() -> None:
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stop_requested", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("export_key", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("export_file_name", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("export_size_bytes", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("export_sha256", sa.String(length=64), nullable=True))
    op.create_table(
        "backup_download_policies",
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("project_id"),
        sa.UniqueConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("backup_download_policies")
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.drop_column("export_sha256")
        batch_op.drop_column("export_size_bytes")
        batch_op.drop_column("export_file_name")
        batch_op.drop_column("export_key")
        batch_op.drop_column("stop_requested")
