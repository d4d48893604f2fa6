"""gateway api: audit policy, client networks, kill-op rules

Revision ID: 0008_gateway_api
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_gateway_api"
down_revision = "0001"
branch_labels = ("gateway_api",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connection_policies",
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("audit_keep_days", sa.Integer(), nullable=False),
        sa.Column("audit_types", sa.JSON(), nullable=False),
        sa.Column("audit_scope", sa.String(length=1024), nullable=False),
        sa.Column("client_networks", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["instances.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("instance_id"),
    )
    op.create_table(
        "kill_op_rules",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("operation_types", sa.JSON(), nullable=False),
        sa.Column("namespaces", sa.JSON(), nullable=False),
        sa.Column("client_ips", sa.JSON(), nullable=False),
        sa.Column("plan_summary", sa.String(length=64), nullable=False),
        sa.Column("max_concurrency", sa.Integer(), nullable=False),
        sa.Column("secs_running", sa.Integer(), nullable=False),
        sa.Column("node_type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["instances.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("kill_op_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kill_op_rules_instance_id"), ["instance_id"], unique=False)


def downgrade() -> None:
    op.drop_table("kill_op_rules")
    op.drop_table("connection_policies")
