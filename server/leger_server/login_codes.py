"""One-time login codes: how a browser gets a session without an API token in a URL.

The CLI (authenticated by its token) asks for a code; the code is short enough to type
(``ABCD-EFGH``, ~40 bits from an alphabet without look-alikes), lives 60 seconds, works once,
and is bound to the token's account, generation and expiry (a session never outlives the token
it came from, and "log out everywhere" kills unredeemed codes too). Only its SHA-256 is stored,
in the database, so every worker and host sees it; redeeming deletes the row, and only the one
request whose DELETE removed it gets the session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from leger_server.db import login_codes
from leger_server.tokens import TokenClaims

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
CODE_LENGTH = 8
LIFETIME = 60


def normalize(code: str) -> str:
    """What the user typed, as stored: upper case, without spaces and dashes."""
    return "".join(c for c in code.upper() if c not in " -\t")


def _hash(code: str) -> str:
    return hashlib.sha256(normalize(code).encode()).hexdigest()


@dataclass(frozen=True)
class LoginGrant:
    """What a redeemed code allows: a session for this account, until ``session_expires_at``."""

    user_uuid: str
    session_expires_at: int
    generation: int


class LoginCodes:
    def __init__(self, engine: Engine, lifetime: int = LIFETIME) -> None:
        self.engine = engine
        self.lifetime = lifetime

    def __repr__(self) -> str:
        return f"LoginCodes(lifetime={self.lifetime})"

    def create(self, claims: TokenClaims) -> str:
        """A new code for the account of ``claims`` (a verified, current token)."""
        raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(sa.delete(login_codes).where(login_codes.c.expires_at < now))
            conn.execute(
                sa.insert(login_codes).values(
                    code_hash=_hash(raw),
                    user_uuid=claims.user_uuid,
                    expires_at=now + timedelta(seconds=self.lifetime),
                    session_expires_at=claims.expires_at,
                    token_generation=claims.generation,
                )
            )
        return f"{raw[:4]}-{raw[4:]}"

    def peek(self, code: str) -> str | None:
        """The account a live code would log into (the code stays usable), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(login_codes.c.user_uuid, login_codes.c.expires_at).where(
                    login_codes.c.code_hash == _hash(code)
                )
            ).first()
        if row is None or _aware(row.expires_at) <= datetime.now(UTC):
            return None
        return str(row.user_uuid)

    def redeem(self, code: str) -> LoginGrant | None:
        """Use the code up: its grant if it was live, else None. Works once, ever."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(login_codes).where(login_codes.c.code_hash == _hash(code))
            ).first()
            if row is None:
                return None
            deleted = conn.execute(
                sa.delete(login_codes).where(login_codes.c.code_hash == row.code_hash)
            )
        if deleted.rowcount != 1 or _aware(row.expires_at) <= datetime.now(UTC):
            return None  # another request redeemed it first, or it had expired
        return LoginGrant(
            user_uuid=str(row.user_uuid),
            session_expires_at=int(row.session_expires_at),
            generation=int(row.token_generation),
        )


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes, which are UTC here."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
