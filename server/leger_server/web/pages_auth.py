"""``/auth?token=…`` (the CLI's browser landing), ``/login``, ``/logout`` and ``/``.

``/auth`` checks the CLI's token, then starts a browser session under a token of its own (so the
token that passed through the URL, and maybe the browser history, is not the cookie's), kept in
an HttpOnly, SameSite=Strict cookie that scripts cannot read and other sites cannot send. The
session never outlives the CLI token it came from, and ``/logout`` logs its token out on the
server (the CLI's token stays logged in).
"""

from __future__ import annotations

import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from leger_server.errors import ApiError, Unauthorized
from leger_server.services import services
from leger_server.session import SESSION_COOKIE, current_claims, token_state
from leger_server.tokens import TokenClaims
from leger_server.web import csrf
from leger_server.web.forms import read_form
from leger_server.web.guard import User, action, error_page, session_user
from leger_server.web.render import redirect, render

LOGIN_COMMAND = "leger auth login --browser"


def _login_page(
    request: Request, *, error: str | None = None, notice: str | None = None, status: int = 200
) -> Response:
    return render(
        request,
        "login.html",
        {"title": "Log in", "command": LOGIN_COMMAND, "error": error, "notice": notice},
        status=status,
    )


async def _check_link(request: Request, token: str) -> tuple[TokenClaims, User] | Response:
    """The claims and user of a login link's token, or the login page saying what is wrong."""
    svc = services(request)
    if not token:
        return _login_page(
            request, error="This login link has no token. Run the command below.", status=400
        )
    try:
        await svc.auth_limiter.hit(request.client.host if request.client else "unknown")
        claims = svc.tokens.verify(token)
    except Unauthorized as exc:
        message = (
            "This login link has expired."
            if exc.code == "token_expired"
            else "This login link is not valid."
        )
        return _login_page(request, error=f"{message} Run the command below.", status=401)
    except ApiError as exc:
        return _login_page(request, error=exc.message, status=exc.status)
    revoked, user = await run_in_threadpool(token_state, svc, claims)
    if revoked:
        return _login_page(
            request,
            error="This login link's token was logged out. Run the command below.",
            status=401,
        )
    if user is None:
        return _login_page(
            request, error="The account of this login link no longer exists.", status=401
        )
    return claims, user


def _start_session(request: Request, claims: TokenClaims) -> Response:
    svc = services(request)
    session = svc.tokens.issue(
        user_uuid=claims.user_uuid,
        tailscale_user_id=claims.tailscale_user_id,
        email=claims.email,
        tailnet=claims.tailnet,
        expires_at=claims.expires_at,  # no longer than the CLI token it came from
    )
    response = redirect("/api-keys")
    response.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=svc.tokens.verify(session).expires_at - int(time.time()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def auth(request: Request) -> Response:
    checked = await _check_link(request, request.query_params.get("token", ""))
    if not isinstance(checked, tuple):
        return checked
    claims, user = checked
    current = await session_user(request)
    if current is not None and current["user_uuid"] != user["user_uuid"]:
        # A link for another account must not silently replace this session: someone could
        # send their own link so that the keys typed next land in *their* account.
        return render(
            request,
            "auth_switch.html",
            {
                "title": "Switch account?",
                "current": current,
                "other": user,
                "token": request.query_params["token"],
            },
            user=current,
        )
    return _start_session(request, claims)


async def auth_switch(request: Request) -> Response:
    """The confirmed account switch: the link's token in the body, the current session's
    CSRF token beside it."""
    try:
        form = await read_form(request)
        csrf.check(request, form.get(csrf.FIELD))
    except ApiError as exc:
        return error_page(request, exc, await session_user(request))
    checked = await _check_link(request, form.get("token", ""))
    if not isinstance(checked, tuple):
        return checked
    return _start_session(request, checked[0])


async def login(request: Request) -> Response:
    notice = None
    if request.query_params.get("expired"):
        notice = "Your session has expired. Log in again from your terminal."
    elif request.query_params.get("logged_out"):
        notice = "You are logged out."
    user = await session_user(request)
    return render(
        request,
        "login.html",
        {"title": "Log in", "command": LOGIN_COMMAND, "notice": notice, "current": user},
    )


@action
async def logout(request: Request, user: User, form: dict[str, str]) -> Response:
    # The session's own token, logged out on the server: a copy of the cookie is useless now.
    await run_in_threadpool(services(request).revocations.revoke, current_claims(request))
    response = redirect("/login?logged_out=1")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def home(request: Request) -> Response:
    user: dict[str, Any] | None = await session_user(request)
    return redirect("/api-keys" if user else "/login")


routes = [
    Route("/", home, methods=["GET"]),
    Route("/auth", auth, methods=["GET"]),
    Route("/auth", auth_switch, methods=["POST"]),
    Route("/login", login, methods=["GET"]),
    Route("/logout", logout, methods=["POST"]),
]
