"""``create_app(settings)``: the Starlette app. Routes, middleware and exception handlers are
data; the route table below reads as the API's table of contents.

Another package adds pages by providing ``leger_server.web.routes(settings) -> list[BaseRoute]``
(the web UI); its routes are mounted after the API's. Route modules reach the stores through
:func:`leger_server.services.services` and the session through
:func:`leger_server.session.current_user`.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leger_server import accesslog
from leger_server.api import auth, deployments, health, releases, secrets
from leger_server.db import migrate
from leger_server.errors import ApiError
from leger_server.http import error_response
from leger_server.openapi import openapi_document
from leger_server.services import Services
from leger_server.settings import Settings

log = logging.getLogger("leger_server")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    """The database cannot be reached (down, restarting, refusing connections) or the
    connection broke mid-request: 503 with an action, not a bare 500. Reads have been tried
    once more on a fresh connection already (leger_server.db.retry_read). Only the error's
    type is logged: its message may quote the database's address and settings."""
    log.warning(
        "database unavailable on %s %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
    )
    return error_response(
        ApiError(
            "the database is unavailable",
            code="database_unavailable",
            status=503,
            action="retry in a few seconds; if it persists, the server's operator should "
            "check its database",
        )
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = "not found" if exc.status_code == 404 else str(exc.detail)
    response = error_response(ApiError(message, code=code, status=exc.status_code))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


class CatchAllMiddleware:
    """Answers an unexpected exception with the 500 envelope and logs only its type and where.

    Starlette's own last-resort handler re-raises so the server logs the traceback, whose
    message might quote a request body (and so a value); this one ends it here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.error(
                "internal error on %s %s: %s",
                scope.get("method"),
                scope.get("path"),
                type(exc).__name__,
            )
            if started:
                return  # the response is half sent; the client sees a cut connection
            response = error_response(
                ApiError("internal server error", code="internal_error", status=500)
            )
            await response(scope, receive, send)


async def _openapi(request: Request) -> JSONResponse:
    return JSONResponse(openapi_document())


def web_routes(settings: Settings) -> list[BaseRoute]:
    """The web UI's routes when ``leger_server.web`` is installed, else none."""
    try:
        module: Any = importlib.import_module("leger_server.web")
    except ModuleNotFoundError as exc:
        if exc.name not in ("leger_server.web",):
            raise
        return []
    routes: list[BaseRoute] = module.routes(settings)
    return routes


def api_routes() -> list[BaseRoute]:
    return [
        *health.routes,
        Route("/openapi.json", _openapi, methods=["GET"]),
        *auth.routes,
        *secrets.routes,
        *releases.routes,
        *deployments.routes,
    ]


def create_app(settings: Settings, *, extra_routes: list[BaseRoute] | None = None) -> Starlette:
    svc = Services.build(settings)
    accesslog.install()  # query values (e.g. a login code) never reach the access log

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await run_in_threadpool(migrate, svc.engine)
        await run_in_threadpool(svc.blobs.check)
        # What exists now (modules, routes, the app, pools) lives as long as the process:
        # take it out of the cyclic garbage collector's full collections, which otherwise
        # scan all of it again and again under load (pauses of 100-200 ms seen in the load
        # benchmark, about 40 ms after this). Garbage is still collected as before.
        gc.freeze()
        if settings.identity == "dev":
            log.warning(
                "DEV IDENTITY: every login claim is trusted without asking Tailscale. "
                "Never expose this server to anyone but yourself."
            )
        try:
            yield
        finally:
            svc.engine.dispose()

    app = Starlette(
        routes=[*api_routes(), *(extra_routes or []), *web_routes(settings)],
        middleware=[Middleware(CatchAllMiddleware)],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            sa.exc.OperationalError: _database_unavailable,
            sa.exc.InterfaceError: _database_unavailable,
        },
        lifespan=lifespan,
    )
    app.state.services = svc
    app.state.settings = settings
    return app
