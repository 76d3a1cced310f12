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

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from leger_server.errors import Forbidden, Unauthorized
from leger_server.identity import IdentityClaim
from leger_server.services import Services, services
from leger_server.tokens import TokenClaims

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
    _refuse_cookie_write(request)
    cached = request.scope.get("leger.user")
    if cached is not None:
        return dict(cached)
    token = request_token(request)
    if not token:
        raise Unauthorized(
            "missing bearer token", code="missing_token", action="run: leger auth login"
        )
    svc = services(request)
    claims = svc.tokens.verify(token)
    revoked, user = await run_in_threadpool(token_state, svc, claims)
    if revoked:
        raise Unauthorized(
            "this token was logged out", code="token_revoked", action="run: leger auth login"
        )
    if user is None:
        raise Unauthorized(
            "the account of this token no longer exists", action="run: leger auth login"
        )
    request.scope["leger.user"] = user
    request.scope["leger.claims"] = claims
    return dict(user)


def current_claims(request: Request) -> TokenClaims:
    """The verified claims of this request's token (after :func:`current_user`)."""
    claims: TokenClaims = request.scope["leger.claims"]
    return claims


def token_state(svc: Services, claims: TokenClaims) -> tuple[bool, dict[str, Any] | None]:
    """Whether a verified token was logged out (by itself, or by "log out everywhere", which
    moved the account's token generation past the token's), and its user (None if the account
    is gone). Blocking (database)."""
    user, generation = svc.users.get_with_generation(claims.user_uuid)
    if user is not None and claims.generation != generation:
        return True, user
    return svc.revocations.is_revoked(claims.token_id), user


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
