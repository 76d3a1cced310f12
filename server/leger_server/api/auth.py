"""Login and the account: ``POST /api/auth/cli``, ``POST /api/auth/validate``,
``POST /api/auth/logout``, ``POST /api/auth/logout-all``, ``POST /api/auth/login-code``,
``GET|PATCH /api/me``."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from leger_server.http import ok, read_json_object
from leger_server.identity import rate_limit_key
from leger_server.services import services
from leger_server.session import authorized, current_claims, current_user, log_in


def _client_key(request: Request) -> str:
    return rate_limit_key(request, services(request).verifier)


async def auth_cli(request: Request) -> JSONResponse:
    """Who is logging in comes from the connection (the verifier); the body adds display
    fields, and an identity field in it that disagrees is refused (403)."""
    svc = services(request)
    await svc.auth_limiter.hit(_client_key(request))
    body = await read_json_object(request, svc.settings.max_json_body)
    identity = await svc.verifier.identify(request, body)
    user, token = await run_in_threadpool(log_in, svc, identity)
    return ok({"token": token, "user": user, "expires_in": svc.tokens.lifetime})


async def auth_validate(request: Request) -> JSONResponse:
    limiter, key = services(request).auth_limiter, _client_key(request)
    # Every attempt counts, a bad token too: the limit is checked first, in the same
    # thread hand-off as the session check.
    user = await authorized(request, lambda conn, user: user, first=lambda: limiter.check(key))
    return ok({"user": user})


async def auth_logout(request: Request) -> JSONResponse:
    """Log out the token this request carries: from now on it gets 401 ``token_revoked``.
    The account's other tokens (another machine, the browser) stay logged in."""
    await current_user(request)
    claims = current_claims(request)
    await run_in_threadpool(services(request).revocations.revoke, claims)
    return ok({"logged_out": True})


async def auth_logout_all(request: Request) -> JSONResponse:
    """Log out every token of the account, this one included (a stolen one too): each gets
    401 ``token_revoked`` from now on. Logging in again works as before."""
    user = await current_user(request)
    await run_in_threadpool(services(request).users.log_out_everywhere, user["user_uuid"])
    return ok({"logged_out": True, "everywhere": True})


async def login_code(request: Request) -> JSONResponse:
    """A one-time code (60 s) that logs a browser in to this token's account: the link the
    CLI opens carries the code, never the token."""
    await current_user(request)
    svc = services(request)
    code = await run_in_threadpool(svc.login_codes.create, current_claims(request))
    return ok(
        {"code": code, "path": f"/login/code?code={code}", "expires_in": svc.login_codes.lifetime}
    )


async def me(request: Request) -> JSONResponse:
    return ok(await current_user(request))


async def patch_me(request: Request) -> JSONResponse:
    user = await current_user(request)
    svc = services(request)
    body = await read_json_object(request, svc.settings.max_json_body)
    updated = user
    if "display_name" in body:
        updated = await run_in_threadpool(
            svc.users.set_display_name, user["user_uuid"], body["display_name"]
        )
    return ok(updated)


routes = [
    Route("/api/auth/cli", auth_cli, methods=["POST"]),
    Route("/api/auth/login-code", login_code, methods=["POST"]),
    Route("/api/auth/logout", auth_logout, methods=["POST"]),
    Route("/api/auth/logout-all", auth_logout_all, methods=["POST"]),
    Route("/api/auth/validate", auth_validate, methods=["POST"]),
    Route("/api/me", me, methods=["GET"]),
    Route("/api/me", patch_me, methods=["PATCH"]),
]
