"""Users: upserted at every login; ``user_uuid`` = UUIDv5 of the Tailscale user id."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, RowMapping

from leger_server.db import read_connection, users
from leger_server.errors import InvalidInput, NotFound
from leger_server.identity import IdentityClaim

# Fixed forever: changing it would give every user a new account.
USER_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "users.leger.run")
DISPLAY_NAME_MAX = 32


def user_uuid_for(tailscale_user_id: str) -> str:
    return str(uuid.uuid5(USER_NAMESPACE, tailscale_user_id))


def now() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z``; SQLite hands back naive datetimes, which are UTC here."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def public_user(row: RowMapping | dict[str, Any]) -> dict[str, Any]:
    """What the API shows of a user (the seeds' ``user`` object plus account fields)."""
    return {
        "user_uuid": row["user_uuid"],
        "email": row["tailscale_email"],
        "display_name": row["display_name"],
        "tailnet": row["tailnet"],
        "tailscale_user_id": row["tailscale_user_id"],
        "created_at": iso(row["created_at"]),
        "last_seen": iso(row["last_seen"]),
        "last_device_id": row["last_device_id"],
        "last_device_hostname": row["last_device_hostname"],
        "cli_version": row["cli_version"],
        "total_authentications": row["total_authentications"],
    }


class UserStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def login(self, claim: IdentityClaim) -> dict[str, Any]:
        """Create the user on first login, else refresh last_seen/device; count the login."""
        user_uuid = user_uuid_for(claim.user_id)
        ts = now()
        with self.engine.begin() as conn:
            row = (
                conn.execute(sa.select(users).where(users.c.user_uuid == user_uuid))
                .mappings()
                .first()
            )
            if row is None:
                try:
                    # A savepoint: on PostgreSQL a failed INSERT would abort the transaction.
                    with conn.begin_nested():
                        conn.execute(
                            users.insert().values(
                                user_uuid=user_uuid,
                                tailscale_user_id=claim.user_id,
                                tailscale_email=claim.email,
                                tailnet=claim.tailnet,
                                display_name=None,
                                created_at=ts,
                                last_seen=ts,
                                last_device_id=claim.device_id,
                                last_device_hostname=claim.hostname,
                                cli_version=claim.cli_version,
                                total_authentications=1,
                            )
                        )
                except sa.exc.IntegrityError:
                    pass  # a concurrent first login won; fall through to the update
                else:
                    return self._get(conn, user_uuid)
            conn.execute(
                users.update()
                .where(users.c.user_uuid == user_uuid)
                .values(
                    tailscale_email=claim.email,
                    tailnet=claim.tailnet,
                    last_seen=ts,
                    last_device_id=claim.device_id,
                    last_device_hostname=claim.hostname,
                    cli_version=claim.cli_version,
                    total_authentications=users.c.total_authentications + 1,
                )
            )
            return self._get(conn, user_uuid)

    def account_for_login(self, login_name: str) -> tuple[str, str] | None:
        """The Tailscale user id and tailnet of the one account with this login name, if there
        is exactly one (tailscale serve's headers carry the login name, not the user id)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(users.c.tailscale_user_id, users.c.tailnet).where(
                    sa.func.lower(users.c.tailscale_email) == login_name.lower()
                )
            ).all()
        return (str(rows[0][0]), str(rows[0][1])) if len(rows) == 1 else None

    def get_with_generation(self, user_uuid: str) -> tuple[dict[str, Any] | None, int]:
        """The user (None when gone) and its current token generation."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(users).where(users.c.user_uuid == user_uuid))
                .mappings()
                .first()
            )
        if row is None:
            return None, 0
        return public_user(row), int(row["token_generation"] or 0)

    def log_out_everywhere(self, user_uuid: str) -> int:
        """Invalidate every token of the account issued so far; returns the new generation."""
        with self.engine.begin() as conn:
            conn.execute(
                users.update()
                .where(users.c.user_uuid == user_uuid)
                .values(token_generation=users.c.token_generation + 1)
            )
            generation = conn.execute(
                sa.select(users.c.token_generation).where(users.c.user_uuid == user_uuid)
            ).scalar_one()
        return int(generation)

    def get(self, user_uuid: str) -> dict[str, Any] | None:
        with read_connection(self.engine) as conn:
            row = (
                conn.execute(sa.select(users).where(users.c.user_uuid == user_uuid))
                .mappings()
                .first()
            )
            return public_user(row) if row else None

    def set_display_name(self, user_uuid: str, display_name: str | None) -> dict[str, Any]:
        if display_name is not None:
            if not isinstance(display_name, str):
                raise InvalidInput("display_name must be a string or null")
            display_name = display_name.strip()
            if len(display_name) > DISPLAY_NAME_MAX:
                raise InvalidInput(f"display_name must be at most {DISPLAY_NAME_MAX} characters")
            if any(ord(c) < 32 or ord(c) == 127 for c in display_name):
                raise InvalidInput("display_name must not contain control characters")
            display_name = display_name or None
        with self.engine.begin() as conn:
            result = conn.execute(
                users.update()
                .where(users.c.user_uuid == user_uuid)
                .values(display_name=display_name)
            )
            if result.rowcount == 0:
                raise NotFound("user not found")
            return self._get(conn, user_uuid)

    @staticmethod
    def _get(conn: sa.Connection, user_uuid: str) -> dict[str, Any]:
        row = conn.execute(sa.select(users).where(users.c.user_uuid == user_uuid)).mappings().one()
        return public_user(row)
