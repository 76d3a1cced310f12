"""``/auth?token=…`` (the CLI's browser landing), ``/login``, ``/logout`` and ``/``.

``/auth`` checks the CLI's token, then starts a browser session under a token of its own (so the
token that passed through the URL, and maybe the browser history, is not the cookie's), kept in
an HttpOnly, SameSite=Strict cookie that scripts cannot read and other sites cannot send.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from leger_server.errors import ApiError, Unauthorized
from leger_server.services import services
from leger_server.session import SESSION_COOKIE
from leger_server.web.guard import User, action, session_user
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


async def auth(request: Request) -> Response:
    svc = services(request)
    token = request.query_params.get("token", "")
    if not token:
        return _login_page(
            request, error="This login link has no token. Run the command below.", status=400
        )
    try:
        svc.auth_limiter.check(request.client.host if request.client else "unknown")
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
    user = await run_in_threadpool(svc.users.get, claims.user_uuid)
    if user is None:
        return _login_page(
            request, error="The account of this login link no longer exists.", status=401
        )
    session = svc.tokens.issue(
        user_uuid=claims.user_uuid,
        tailscale_user_id=claims.tailscale_user_id,
        email=claims.email,
        tailnet=claims.tailnet,
    )
    response = redirect("/api-keys")
    response.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=svc.tokens.lifetime,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


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
    response = redirect("/login?logged_out=1")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def home(request: Request) -> Response:
    user: dict[str, Any] | None = await session_user(request)
    return redirect("/api-keys" if user else "/login")


routes = [
    Route("/", home, methods=["GET"]),
    Route("/auth", auth, methods=["GET"]),
    Route("/login", login, methods=["GET"]),
    Route("/logout", logout, methods=["POST"]),
]
