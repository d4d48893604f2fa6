"""pitr: incremental backup (continuous archiving) switch per instance

Revision ID: 0004_pitr
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_pitr"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incremental_backup", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_column("incremental_backup")
