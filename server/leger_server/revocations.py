"""Logged-out tokens. A JWT stays valid until its ``exp`` unless its ``jti`` is recorded here:
``leger auth logout`` and the web UI's logout record theirs, and :func:`current_user
<leger_server.session.current_user>` refuses a recorded one. Rows of expired tokens are purged
whenever a token is logged out, so the table holds at most the tokens of the last 30 days."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from leger_server.db import read_connection, revoked_tokens
from leger_server.tokens import TokenClaims


class TokenRevocations:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __repr__(self) -> str:
        return "TokenRevocations()"

    def revoke(self, claims: TokenClaims) -> None:
        """Log this token out (idempotent); forget tokens that have expired anyway."""
        now = datetime.now(UTC)
        expires = datetime.fromtimestamp(claims.expires_at, UTC)
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.delete(revoked_tokens).where(revoked_tokens.c.expires_at < now))
                conn.execute(
                    sa.insert(revoked_tokens).values(
                        jti=claims.token_id, user_uuid=claims.user_uuid, expires_at=expires
                    )
                )
        except sa.exc.IntegrityError:
            pass  # logged out already (twice, or two logouts at once): nothing more to do

    def is_revoked(self, token_id: str) -> bool:
        with read_connection(self.engine) as conn:
            row = conn.execute(
                sa.select(revoked_tokens.c.jti).where(revoked_tokens.c.jti == token_id)
            ).first()
        return row is not None
