"""The one place a request's session is validated, for the API and the web UI alike.

A session is a JWT from ``POST /api/auth/cli``, sent as ``Authorization: Bearer <jwt>`` or,
for browser pages, in the ``leger_session`` cookie. :func:`current_user` returns the user it
belongs to or raises 401; route modules call it first and use only that user's ``user_uuid``.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from leger_server.errors import Unauthorized
from leger_server.services import services

SESSION_COOKIE = "leger_session"


def request_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use Authorization: Bearer <token>", action="run: leger auth login")
        return token.strip()
    return request.cookies.get(SESSION_COOKIE) or None


async def current_user(request: Request) -> dict[str, Any]:
    """The logged-in user of this request (the API's ``user`` object), or 401."""
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
    user = await run_in_threadpool(svc.users.get, claims.user_uuid)
    if user is None:
        raise Unauthorized(
            "the account of this token no longer exists", action="run: leger auth login"
        )
    request.scope["leger.user"] = user
    return dict(user)
