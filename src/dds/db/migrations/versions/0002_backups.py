"""backups

Revision ID: 0002_backups
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_backups"
down_revision = "0001"
branch_labels = ("backups",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backups",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("instance_name", sa.String(length=64), nullable=False),
        sa.Column("instance_mode", sa.String(length=16), nullable=False),
        sa.Column("datastore_type", sa.String(length=32), nullable=False),
        sa.Column("datastore_version", sa.String(length=16), nullable=False),
        sa.Column("volume_gb", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("store", sa.String(length=16), nullable=False),
        sa.Column("object_key", sa.String(length=255), nullable=False),
        sa.Column("file_name", sa.String(length=128), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(), nullable=True),
        sa.Column("begin_time", sa.DateTime(), nullable=False),
        sa.Column("end_time", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_backups_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_backups_instance_id"), ["instance_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_backups_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_backups_begin_time"), ["begin_time"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_backups_begin_time"))
        batch_op.drop_index(batch_op.f("ix_backups_status"))
        batch_op.drop_index(batch_op.f("ix_backups_instance_id"))
        batch_op.drop_index(batch_op.f("ix_backups_project_id"))
    op.drop_table("backups")
