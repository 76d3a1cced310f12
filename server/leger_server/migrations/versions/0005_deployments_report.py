"""What runs where: ``deployments`` gets the shape the CLI's reports fill (it was created in
0001 and never used, so it is recreated rather than altered: no row is lost).

One row per account, device and deployment name (upserted by ``POST /api/deployments``).

Revision ID: 0005_deployments_report
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.drop_table("deployments")
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "user_uuid",
            sa.String(36),
            sa.ForeignKey("users.user_uuid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("release_name", sa.String(128)),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(2048), nullable=False),
        sa.Column("units", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("user_uuid", "device_id", "name", name="uq_deployment_device_name"),
    )
    op.create_index("idx_deployments_user", "deployments", ["user_uuid"])


def downgrade() -> None:
    op.drop_index("idx_deployments_user", "deployments")
    op.drop_table("deployments")
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "user_uuid",
            sa.String(36),
            sa.ForeignKey("users.user_uuid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("release_id", sa.String(36)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
