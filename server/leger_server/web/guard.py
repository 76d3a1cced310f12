"""Wrappers that make a page handler require a session (and, for posts, a valid CSRF token).

A page without a valid session sends the browser to ``/login`` (``?expired=1`` when the token
ran out, so the page can say so). A post with a missing or foreign CSRF token gets 403 and the
handler never runs, so nothing changes.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from leger_server.errors import ApiError, Forbidden, Unauthorized
from leger_server.session import current_user
from leger_server.web import csrf
from leger_server.web.forms import read_form
from leger_server.web.render import redirect, render

log = logging.getLogger("leger_server.web")

User = dict[str, Any]
PageHandler = Callable[[Request, User], Awaitable[Response]]
FormHandler = Callable[[Request, User, dict[str, str]], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


async def session_user(request: Request) -> User | None:
    """The logged-in user, or None (also for an expired or forged session)."""
    try:
        return await current_user(request)
    except Unauthorized:
        return None


def login_redirect(exc: Unauthorized) -> Response:
    target = "/login?expired=1" if exc.code == "token_expired" else "/login"
    return redirect(target)


def error_page(request: Request, exc: ApiError, user: User | None) -> Response:
    title = {403: "Not allowed", 404: "Not found"}.get(exc.status, "Something went wrong")
    return render(
        request,
        "error.html",
        {"title": title, "message": exc.message, "status": exc.status},
        status=exc.status,
        user=user,
    )


def page(handler: PageHandler) -> Endpoint:
    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            user = await current_user(request)
        except Unauthorized as exc:
            return login_redirect(exc)
        try:
            return await handler(request, user)
        except ApiError as exc:
            return error_page(request, exc, user)

    return endpoint


def action(handler: FormHandler) -> Endpoint:
    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            user = await current_user(request)
        except Unauthorized as exc:
            return login_redirect(exc)
        try:
            form = await read_form(request)
            csrf.check(request, form.get(csrf.FIELD))
        except Forbidden as exc:
            # The path only: the form may hold a value.
            log.warning("refused a form post to %s: %s", request.url.path, exc.code)
            return error_page(request, exc, user)
        except ApiError as exc:
            return error_page(request, exc, user)
        try:
            return await handler(request, user, form)
        except ApiError as exc:
            # Handlers re-render their own form for input errors; what reaches here is a
            # missing thing or a refusal, shown as a page rather than the API's JSON.
            return error_page(request, exc, user)

    return endpoint
