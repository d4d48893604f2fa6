"""management: quotas, recycle bin, auto-enlarge policies, scheduled jobs

Revision ID: 0011_management
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_management"
down_revision = "0001"
branch_labels = ("management",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project_quotas",
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("instances", sa.Integer(), nullable=True),
        sa.Column("volume_gb", sa.Integer(), nullable=True),
        sa.Column("backups", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("project_id"),
    )
    op.create_table(
        "recycle_policies",
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id"),
    )
    op.create_table(
        "recycled_instances",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("datastore_version", sa.String(length=16), nullable=False),
        sa.Column("backup_id", sa.String(length=64), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=False),
        sa.Column("retained_until", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_recycled_instances_project_id", "recycled_instances", ["project_id"])
    op.create_table(
        "auto_enlarge_policies",
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("limit_gb", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["instances.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("instance_id"),
    )
    op.create_table(
        "scheduled_jobs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("instance_name", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("not_before", sa.DateTime(), nullable=False),
        sa.Column("window_end", sa.DateTime(), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_scheduled_jobs_project_id", "scheduled_jobs", ["project_id"])
    op.create_index("ix_scheduled_jobs_instance_id", "scheduled_jobs", ["instance_id"])


def downgrade() -> None:
    for table in (
        "scheduled_jobs",
        "auto_enlarge_policies",
        "recycled_instances",
        "recycle_policies",
        "project_quotas",
    ):
        op.drop_table(table)
