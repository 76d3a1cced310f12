"""Log out everywhere (``users.token_generation``) and one-time login codes (``login_codes``).

Existing users keep their accounts and tokens: their generation starts at 0, which is what
tokens issued before this revision count as.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("token_generation", sa.Integer, nullable=False, server_default="0")
        )
    op.create_table(
        "login_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_uuid",
            sa.String(36),
            sa.ForeignKey("users.user_uuid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session_expires_at", sa.Integer, nullable=False),
        sa.Column("token_generation", sa.Integer, nullable=False),
    )
    op.create_index("idx_login_codes_expires", "login_codes", ["expires_at"])


def downgrade() -> None:
    op.drop_index("idx_login_codes_expires", "login_codes")
    op.drop_table("login_codes")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("token_generation")
