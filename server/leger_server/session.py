"""The one place a request's session is validated, for the API and the web UI alike.

A session is a JWT from ``POST /api/auth/cli``, sent as ``Authorization: Bearer <jwt>`` or,
for browser pages, in the ``leger_session`` cookie. :func:`current_user` returns the user it
belongs to or raises 401; route modules call it first and use only that user's ``user_uuid``.

The cookie is sent by the browser on its own, so a page on another site could make it carry a
write. The web UI's own posts are guarded by a CSRF token (:mod:`leger_server.web.csrf`); the
JSON API has none, so there the cookie only reads (GET/HEAD, e.g. the bundle download link) and
writes need the bearer header, which no other site can make a browser send.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from leger_server.db import retry_read, revoked_tokens, users
from leger_server.errors import Forbidden, Unauthorized
from leger_server.identity import IdentityClaim
from leger_server.services import Services, services
from leger_server.tokens import TokenClaims
from leger_server.users import public_user

T = TypeVar("T")

SESSION_COOKIE = "leger_session"
API_PREFIX = "/api/"
COOKIE_METHODS = frozenset({"GET", "HEAD"})


def request_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use Authorization: Bearer <token>", action="run: leger auth login")
        return token.strip()
    return request.cookies.get(SESSION_COOKIE) or None


def _refuse_cookie_write(request: Request) -> None:
    """403 for a JSON API write authenticated by the cookie alone (see the module docstring)."""
    if request.method in COOKIE_METHODS or not request.scope["path"].startswith(API_PREFIX):
        return
    if request.headers.get("authorization") or not request.cookies.get(SESSION_COOKIE):
        return
    raise Forbidden(
        "the session cookie only reads the API; writes need Authorization: Bearer <token>",
        code="cookie_write_refused",
        action="use the web UI's pages, or send the token from: leger auth login",
    )


async def current_user(request: Request) -> dict[str, Any]:
    """The logged-in user of this request (the API's ``user`` object), 401 without one, 403
    for a cookie-only write to the JSON API."""
    cached = request.scope.get("leger.user")
    if cached is not None:
        _refuse_cookie_write(request)
        return dict(cached)
    return await authorized(request, lambda conn, user: user)


async def authorized(
    request: Request,
    work: Callable[[sa.Connection, dict[str, Any]], T],
    *,
    first: Callable[[], None] | None = None,
) -> T:
    """Authenticate this request and run ``work(conn, user)`` for it: the session check and
    the route's reads in one thread hand-off, on one pooled read connection (a route's whole
    database part, instead of one hand-off and one checkout for each step). ``first`` runs
    before anything else, in the same hand-off (a rate limit that counts every attempt).

    ``work`` runs in a worker thread and reads through ``conn`` (autocommit); a write must
    open its own transaction and be harmless to repeat: when the connection turns out to be
    lost (PostgreSQL restarted), the session check and ``work`` are tried once more on a
    fresh one. Raises what :func:`current_user` does and whatever ``work`` raises."""
    svc = services(request)

    def run() -> tuple[dict[str, Any], TokenClaims, T]:
        if first is not None:
            first()
        _refuse_cookie_write(request)
        token = request_token(request)
        if not token:
            raise Unauthorized(
                "missing bearer token", code="missing_token", action="run: leger auth login"
            )
        claims = svc.tokens.verify(token)

        def read(conn: sa.Connection) -> tuple[dict[str, Any], TokenClaims, T]:
            user = session_user(conn, claims)
            return user, claims, work(conn, dict(user))

        return retry_read(svc.engine, read)

    user, claims, result = await run_in_threadpool(run)
    request.scope["leger.user"] = user
    request.scope["leger.claims"] = claims
    return result


def current_claims(request: Request) -> TokenClaims:
    """The verified claims of this request's token (after :func:`current_user`)."""
    claims: TokenClaims = request.scope["leger.claims"]
    return claims


# The session check, one statement: the token's account with its token generation, and
# whether the token itself was logged out. Built once; only the parameters change.
_SESSION_QUERY = sa.select(
    users,
    sa.exists().where(revoked_tokens.c.jti == sa.bindparam("jti")).label("token_revoked"),
).where(users.c.user_uuid == sa.bindparam("user_uuid"))


def session_user(conn: sa.Connection, claims: TokenClaims) -> dict[str, Any]:
    """The user of a verified token, read now (never cached: a logout, or "log out
    everywhere", which moves the account's token generation past the token's, ends the
    session at the very next request). Raises 401 for a logged-out token or a deleted
    account. Blocking (database)."""
    row = (
        conn.execute(_SESSION_QUERY, {"jti": claims.token_id, "user_uuid": claims.user_uuid})
        .mappings()
        .first()
    )
    if row is None:
        raise Unauthorized(
            "the account of this token no longer exists", action="run: leger auth login"
        )
    if row["token_revoked"] or claims.generation != int(row["token_generation"] or 0):
        raise Unauthorized(
            "this token was logged out", code="token_revoked", action="run: leger auth login"
        )
    return public_user(row)


def issue_for(
    svc: Services,
    user: dict[str, Any],
    generation: int,
    *,
    expires_at: int | None = None,
    identity: IdentityClaim | None = None,
) -> str:
    """A token for ``user`` (the API's user object) under the account's current generation;
    a login's token also names the device of ``identity`` (what deployment reports use)."""
    return svc.tokens.issue(
        user_uuid=user["user_uuid"],
        tailscale_user_id=user["tailscale_user_id"],
        email=user["email"],
        tailnet=user["tailnet"],
        generation=generation,
        expires_at=expires_at,
        device_id=identity.device_id if identity else None,
        hostname=identity.hostname if identity else None,
    )


def log_in(svc: Services, identity: IdentityClaim) -> tuple[dict[str, Any], str]:
    """Create or refresh the account of a verified identity; its user object and a new token.
    Blocking (database)."""
    user = svc.users.login(identity)
    _, generation = svc.users.get_with_generation(user["user_uuid"])
    return user, issue_for(svc, user, generation, identity=identity)
