"""The auth rate limit's counts, shared by every worker: ``auth_rate_limits``.

Revision ID: 0004_auth_rate_limits
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_rate_limits",
        sa.Column("client_key", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.Float, nullable=False),
        sa.Column("hits", sa.Integer, nullable=False),
    )
    op.create_index("idx_auth_rate_limits_window", "auth_rate_limits", ["window_start"])


def downgrade() -> None:
    op.drop_index("idx_auth_rate_limits_window", "auth_rate_limits")
    op.drop_table("auth_rate_limits")
