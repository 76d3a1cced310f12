"""Logged-out tokens: ``revoked_tokens`` (jti, user, expiry), checked on every request.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column(
            "user_uuid",
            sa.String(36),
            sa.ForeignKey("users.user_uuid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("idx_revoked_tokens_expires", "revoked_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_index("idx_revoked_tokens_expires", "revoked_tokens")
    op.drop_table("revoked_tokens")
