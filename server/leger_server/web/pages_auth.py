"""``/login`` and its one-time codes, ``/login/tailscale``, ``/logout``,
``/logout-everywhere`` and ``/``.

No API token ever travels in a URL. The CLI asks the server for a one-time code
(:mod:`leger_server.login_codes`) and opens ``/login/code?code=…``; that page names the account
the code logs into and changes nothing: only its button's POST redeems the code and starts the
session. So a link with someone else's code cannot silently switch a browser to their account
(the page says whose it is, and a cross-site POST is refused, see :func:`_same_site_post`).

With ``--identity tailscale`` (or ``tailscale-serve``) the login page also offers "Sign in with
Tailscale", which asks tailscaled who the browser's connection is: no CLI needed.

The session cookie holds a token of its own (HttpOnly, SameSite=Strict), never longer-lived
than the CLI token the code came from; ``/logout`` logs it out on the server, and
``/logout-everywhere`` every token of the account (a stolen one too).
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from leger_server.errors import ApiError, Forbidden
from leger_server.identity import rate_limit_key
from leger_server.login_codes import LoginGrant, normalize
from leger_server.services import Services, services
from leger_server.session import SESSION_COOKIE, current_claims, issue_for, log_in
from leger_server.web.forms import read_form
from leger_server.web.guard import User, action, session_user
from leger_server.web.render import redirect, render

LOGIN_COMMAND = "leger auth login --browser"
_CODE_MAX = 16


def _login_page(
    request: Request,
    *,
    error: str | None = None,
    notice: str | None = None,
    current: User | None = None,
    status: int = 200,
) -> Response:
    svc = services(request)
    return render(
        request,
        "login.html",
        {
            "title": "Log in",
            "command": LOGIN_COMMAND,
            "error": error,
            "notice": notice,
            "current": current,
            "tailscale_button": svc.settings.identity in ("tailscale", "tailscale-serve"),
        },
        status=status,
    )


def _same_site_post(request: Request) -> None:
    """Refuse a POST another site made the browser send. These posts come before any session,
    so the session's CSRF token cannot guard them; the browser's own Fetch Metadata can:
    ``Sec-Fetch-Site: same-origin`` (sent by current browsers whatever the Referrer-Policy,
    which here turns ``Origin`` into ``null``), or else an ``Origin`` naming this site."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site == "same-origin":
            return
    else:
        origin = request.headers.get("origin", "")
        expected = f"{request.url.scheme}://{request.url.netloc}"
        if origin and hmac.compare_digest(origin.encode(), expected.encode()):
            return
    raise Forbidden("a login must be confirmed on this site's own page", code="csrf_failed")


def _start_session(request: Request, svc: Services, token: str) -> Response:
    response = redirect("/api-keys")
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=svc.tokens.verify(token).expires_at - int(time.time()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _grant_session(svc: Services, grant: LoginGrant) -> str | None:
    """A session token for a redeemed code, unless the account is gone or was logged out
    everywhere since the code was made. Blocking (database)."""
    user, generation = svc.users.get_with_generation(grant.user_uuid)
    if user is None or generation != grant.generation:
        return None
    return issue_for(svc, user, generation, expires_at=grant.session_expires_at)


_BAD_CODE = (
    "This code is not valid: it was used already, has expired (codes last 60 seconds), or was "
    "mistyped. Run the command below for a new one."
)


async def login_code_page(request: Request) -> Response:
    """GET: which account this code logs into, and a button to confirm. Starts nothing."""
    svc = services(request)
    code = normalize(request.query_params.get("code", ""))
    current = await session_user(request)
    if not code:
        return _login_page(request, error="Enter the code the CLI printed.", status=400)
    try:
        await svc.auth_limiter.hit(rate_limit_key(request, svc.verifier))
    except ApiError as exc:
        return _login_page(request, error=exc.message, status=exc.status)
    user_uuid = None
    if len(code) <= _CODE_MAX:
        user_uuid = await run_in_threadpool(svc.login_codes.peek, code)
    account = await run_in_threadpool(svc.users.get, user_uuid) if user_uuid else None
    if account is None:
        return _login_page(request, error=_BAD_CODE, current=current, status=401)
    return render(
        request,
        "login_code.html",
        {"title": "Confirm login", "account": account, "code": code, "current": current},
        user=current,
    )


async def redeem_login_code(request: Request) -> Response:
    """POST from the confirmation page: use the code up and start the session."""
    svc = services(request)
    try:
        _same_site_post(request)
        await svc.auth_limiter.hit(rate_limit_key(request, svc.verifier))
        form = await read_form(request)
    except ApiError as exc:
        return _login_page(request, error=exc.message, status=exc.status)
    code = normalize(form.get("code", ""))
    grant = None
    if code and len(code) <= _CODE_MAX:
        grant = await run_in_threadpool(svc.login_codes.redeem, code)
    token = await run_in_threadpool(_grant_session, svc, grant) if grant else None
    if token is None:
        return _login_page(request, error=_BAD_CODE, status=401)
    return _start_session(request, svc, token)


async def login_with_tailscale(request: Request) -> Response:
    """POST "Sign in with Tailscale": the identity of this browser's connection (WhoIs, or
    tailscale serve's headers from a trusted proxy), as for a CLI login."""
    svc = services(request)
    try:
        _same_site_post(request)
    except ApiError as exc:
        return _login_page(request, error=exc.message, status=exc.status)
    if svc.settings.identity not in ("tailscale", "tailscale-serve"):
        return _login_page(request, error="This server does not use Tailscale logins.", status=404)
    try:
        await svc.auth_limiter.hit(rate_limit_key(request, svc.verifier))
        identity = await svc.verifier.identify(request, {})
    except ApiError as exc:
        message = exc.message + (f" ({exc.action})" if exc.action else "")
        return _login_page(request, error=message, status=exc.status)
    _, token = await run_in_threadpool(log_in, svc, identity)
    return _start_session(request, svc, token)


async def login(request: Request) -> Response:
    notice = None
    if request.query_params.get("expired"):
        notice = "Your session has expired. Log in again."
    elif request.query_params.get("logged_out") == "everywhere":
        notice = "You are logged out everywhere: every token of your account stopped working."
    elif request.query_params.get("logged_out"):
        notice = "You are logged out."
    return _login_page(request, notice=notice, current=await session_user(request))


def _logged_out(target: str) -> Response:
    response = redirect(target)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@action
async def logout(request: Request, user: User, form: dict[str, str]) -> Response:
    # The session's own token, logged out on the server: a copy of the cookie is useless now.
    await run_in_threadpool(services(request).revocations.revoke, current_claims(request))
    return _logged_out("/login?logged_out=1")


@action
async def logout_everywhere(request: Request, user: User, form: dict[str, str]) -> Response:
    await run_in_threadpool(services(request).users.log_out_everywhere, user["user_uuid"])
    return _logged_out("/login?logged_out=everywhere")


async def home(request: Request) -> Response:
    user: dict[str, Any] | None = await session_user(request)
    return redirect("/api-keys" if user else "/login")


routes = [
    Route("/", home, methods=["GET"]),
    Route("/login", login, methods=["GET"]),
    Route("/login/code", login_code_page, methods=["GET"]),
    Route("/login/code", redeem_login_code, methods=["POST"]),
    Route("/login/tailscale", login_with_tailscale, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/logout-everywhere", logout_everywhere, methods=["POST"]),
]
