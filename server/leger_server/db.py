"""Tables (SQLAlchemy Core), the engine, and migrations (alembic, in ``migrations/``).

The schema follows the seeds' D1 tables (users, releases, and the future tables, created but
unused), plus ``secrets`` (KV in the seeds). The alembic revisions are the source of truth for
the database; these Table objects must match them (tests/test_server_migrations.py checks).
"""

from __future__ import annotations

import select
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

T = TypeVar("T")

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("user_uuid", sa.String(36), primary_key=True),
    sa.Column("tailscale_user_id", sa.String(128), nullable=False, unique=True),
    sa.Column("tailscale_email", sa.String(320), nullable=False),
    sa.Column("tailnet", sa.String(255), nullable=False),
    sa.Column("display_name", sa.String(64)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_device_id", sa.String(128)),
    sa.Column("last_device_hostname", sa.String(255)),
    sa.Column("cli_version", sa.String(64)),
    sa.Column("total_authentications", sa.Integer, nullable=False, default=0),
    # Bumped by "log out everywhere": tokens carry the value they were issued under ("gen")
    # and are refused once it moved on.
    sa.Column("token_generation", sa.Integer, nullable=False, server_default="0"),
)

secrets = sa.Table(
    "secrets",
    metadata,
    sa.Column("secret_id", sa.String(36), primary_key=True),
    sa.Column(
        "user_uuid",
        sa.String(36),
        sa.ForeignKey("users.user_uuid", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("ciphertext", sa.LargeBinary, nullable=False),  # AES-GCM output incl. the tag
    sa.Column("nonce", sa.LargeBinary, nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("encryption_version", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_accessed", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("user_uuid", "name", name="uq_secret_user_name"),
)

releases = sa.Table(
    "releases",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "user_uuid",
        sa.String(36),
        sa.ForeignKey("users.user_uuid", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("kind", sa.String(16), nullable=False),  # "git" or "bundle"
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    # Set for git releases only: NULLs never collide, so names are unique among git releases.
    sa.Column("git_name", sa.String(128)),
    # Set for bundles only: per-user bundle version numbers, unique.
    sa.Column("bundle_version", sa.Integer),
    sa.Column("git_url", sa.String(2048)),
    sa.Column("git_branch", sa.String(255)),
    sa.Column("description", sa.String(1024)),
    sa.Column("deployment_name", sa.String(128)),
    sa.Column("blob_key", sa.String(512)),
    sa.Column("bundle_size_bytes", sa.BigInteger),
    sa.Column("bundle_sha256", sa.String(64)),
    sa.Column("manifest", sa.JSON),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("user_uuid", "git_name", name="uq_release_user_git_name"),
    sa.UniqueConstraint("user_uuid", "bundle_version", name="uq_release_user_bundle_version"),
)

# Tokens logged out before they expire (``jti`` of the JWT). Every authenticated request
# looks here; a row is useless once its token has expired, and is purged then.
revoked_tokens = sa.Table(
    "revoked_tokens",
    metadata,
    sa.Column("jti", sa.String(64), primary_key=True),
    sa.Column(
        "user_uuid",
        sa.String(36),
        sa.ForeignKey("users.user_uuid", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

# The auth endpoints' rate limit (leger_server.ratelimit): one row per client address (its
# SHA-256) with the start of its current window (unix time) and the attempts in it, here so
# that every worker and server on the database counts together.
auth_rate_limits = sa.Table(
    "auth_rate_limits",
    metadata,
    sa.Column("client_key", sa.String(64), primary_key=True),
    sa.Column("window_start", sa.Float, nullable=False),
    sa.Column("hits", sa.Integer, nullable=False),
)

# One-time login codes (the browser's login): only a hash of the code is stored, so the table
# leaks no usable code; a row is deleted when redeemed, so a code works once across workers.
login_codes = sa.Table(
    "login_codes",
    metadata,
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

# What runs where (migration 0005): one row per account, device and deployment name, written
# by the CLI's report after each install, update, rollback or remove (``POST /api/deployments``).
# ``device_id``/``hostname`` come from the token's login identity, never from the report.
deployments = sa.Table(
    "deployments",
    metadata,
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
    sa.Column("event", sa.String(16), nullable=False),  # install, update, rollback, remove
    sa.Column("release_name", sa.String(128)),
    sa.Column("version", sa.String(128), nullable=False),
    sa.Column("source_kind", sa.String(16), nullable=False),
    sa.Column("source", sa.String(2048), nullable=False),  # never a local path
    sa.Column("units", sa.JSON, nullable=False),  # unit name -> systemd's state
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("user_uuid", "device_id", "name", name="uq_deployment_device_name"),
)

sa.Index("idx_users_tailnet", users.c.tailnet)
sa.Index("idx_deployments_user", deployments.c.user_uuid)
sa.Index("idx_login_codes_expires", login_codes.c.expires_at)
sa.Index("idx_release_user", releases.c.user_uuid)
sa.Index("idx_revoked_tokens_expires", revoked_tokens.c.expires_at)
sa.Index("idx_auth_rate_limits_window", auth_rate_limits.c.window_start)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


# Connections each worker keeps. SQLAlchemy's default (5 kept, 10 more opened and closed per
# use) made a busy server open a new connection for about one request in four: a new
# PostgreSQL backend process each time. Requests past POOL_SIZE wait for a free connection
# instead (pool_timeout, 30 s). 20 per worker leaves PostgreSQL's default max_connections
# (100) room for 4 workers and a migration.
POOL_SIZE = 20


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.endswith(":memory:") and url != "sqlite://":
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", 0)
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
            **kwargs,
        )

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        return engine
    # hide_parameters: a database error must never quote a statement's values in a log.
    # No pool_pre_ping: it cost a round trip (SELECT 1) per checkout, about a third of a
    # request's database time. _drop_closed_connections finds what it found (connections
    # PostgreSQL closed: a restart, a terminated backend) without one; a connection that dies
    # after that check fails its statement, and a read is then retried once (retry_read).
    # pool_recycle replaces connections before a firewall or proxy forgets them while idle.
    kwargs.setdefault("pool_recycle", POOL_RECYCLE_SECONDS)
    engine = sa.create_engine(url, hide_parameters=True, **kwargs)
    sa.event.listen(engine, "checkout", _drop_closed_connections)
    return engine


# Connections older than this are replaced at their next checkout.
POOL_RECYCLE_SECONDS = 1800


def _drop_closed_connections(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled PostgreSQL connection whose server side is gone, without a round trip.

    An idle connection has nothing to read: no request of ours is in flight, and the server
    sends nothing unasked (no LISTEN here). When PostgreSQL restarts or ends the backend it
    sends a FATAL notice and closes the socket, so the socket is readable (or hung up) from
    then on. Raising DisconnectionError makes the pool discard it and open another."""
    if dbapi_conn.closed:
        raise sa.exc.DisconnectionError("connection closed")
    poller = select.poll()
    poller.register(dbapi_conn.fileno(), _READABLE_OR_GONE)
    if poller.poll(0):
        raise sa.exc.DisconnectionError("the server closed the connection while it was idle")


_READABLE_OR_GONE = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP


def is_lost_connection(exc: BaseException) -> bool:
    """Whether ``exc`` is a database error that lost the connection (SQLAlchemy has then
    invalidated it, and the pool replaces it): a read may simply be tried again."""
    return isinstance(exc, sa.exc.DBAPIError) and bool(exc.connection_invalidated)


def retry_read(engine: Engine, work: Callable[[sa.Connection], T]) -> T:
    """``work(conn)`` on a :func:`read_connection`, tried once more on a fresh connection
    when the first one turns out to be lost (PostgreSQL restarted since it was pooled).

    Only for reads: a read done twice does no harm. ``work`` must not write."""
    try:
        with read_connection(engine) as conn:
            return work(conn)
    except sa.exc.DBAPIError as exc:
        if not is_lost_connection(exc):
            raise
    with read_connection(engine) as conn:
        return work(conn)


def read_connection(engine: Engine) -> sa.Connection:
    """A connection for reads (``with read_connection(engine) as conn: ...``), never writes.

    On PostgreSQL it runs in autocommit: psycopg then sends no ``BEGIN`` before the first
    statement and no ``ROLLBACK`` when the connection goes back to the pool, two of the four
    round trips a pooled one-statement read otherwise costs. Each statement still sees one
    consistent snapshot. (SQLite's driver begins no transaction for a SELECT anyway.)"""
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (idempotent)."""
    from alembic import command

    command.upgrade(_alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        rev: str | None = MigrationContext.configure(conn).get_current_revision()
        return rev
