"""Initial schema: the seeds' users and releases, secrets, and the future tables.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _user_fk() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "user_uuid",
        sa.String(36),
        sa.ForeignKey("users.user_uuid", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_uuid", sa.String(36), primary_key=True),
        sa.Column("tailscale_user_id", sa.String(128), nullable=False, unique=True),
        sa.Column("tailscale_email", sa.String(320), nullable=False),
        sa.Column("tailnet", sa.String(255), nullable=False),
        sa.Column("display_name", sa.String(64)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("last_device_id", sa.String(128)),
        sa.Column("last_device_hostname", sa.String(255)),
        sa.Column("cli_version", sa.String(64)),
        sa.Column("total_authentications", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("idx_users_tailnet", "users", ["tailnet"])
    op.create_table(
        "secrets",
        sa.Column("secret_id", sa.String(36), primary_key=True),
        _user_fk(),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("nonce", sa.LargeBinary, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("encryption_version", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("last_accessed", TS),
        sa.UniqueConstraint("user_uuid", "name", name="uq_secret_user_name"),
    )
    op.create_table(
        "releases",
        sa.Column("id", sa.String(36), primary_key=True),
        _user_fk(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("git_name", sa.String(128)),
        sa.Column("bundle_version", sa.Integer),
        sa.Column("git_url", sa.String(2048)),
        sa.Column("git_branch", sa.String(255)),
        sa.Column("description", sa.String(1024)),
        sa.Column("deployment_name", sa.String(128)),
        sa.Column("blob_key", sa.String(512)),
        sa.Column("bundle_size_bytes", sa.BigInteger),
        sa.Column("bundle_sha256", sa.String(64)),
        sa.Column("manifest", sa.JSON),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("user_uuid", "git_name", name="uq_release_user_git_name"),
        sa.UniqueConstraint("user_uuid", "bundle_version", name="uq_release_user_bundle_version"),
    )
    op.create_index("idx_release_user", "releases", ["user_uuid"])
    # The seeds' future tables: created now so later versions only add behaviour.
    op.create_table(
        "configurations",
        sa.Column("id", sa.String(36), primary_key=True),
        _user_fk(),
        sa.Column("config_data", sa.JSON, nullable=False),
        sa.Column("schema_version", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "configuration_versions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "configuration_id",
            sa.String(36),
            sa.ForeignKey("configurations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("config_data", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "schemas",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("schema_data", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_schema_name_version"),
    )
    op.create_table(
        "rendered_quadlets",
        sa.Column("id", sa.String(36), primary_key=True),
        _user_fk(),
        sa.Column("configuration_id", sa.String(36)),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("blob_prefix", sa.String(512), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(36), primary_key=True),
        _user_fk(),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("release_id", sa.String(36)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "deployments",
        "rendered_quadlets",
        "schemas",
        "configuration_versions",
        "configurations",
        "releases",
        "secrets",
        "users",
    ):
        op.drop_table(table)
