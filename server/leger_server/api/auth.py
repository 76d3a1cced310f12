"""Login and the account: ``POST /api/auth/cli``, ``POST /api/auth/validate``,
``POST /api/auth/logout``, ``GET|PATCH /api/me``."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from leger_server.http import ok, read_json_object
from leger_server.identity import IdentityClaim
from leger_server.services import services
from leger_server.session import current_claims, current_user


def _client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def auth_cli(request: Request) -> JSONResponse:
    svc = services(request)
    await svc.auth_limiter.hit(_client_key(request))
    body = await read_json_object(request, svc.settings.max_json_body)
    claim = IdentityClaim.parse(body)
    await svc.verifier.verify(claim)
    user = await run_in_threadpool(svc.users.login, claim)
    token = svc.tokens.issue(
        user_uuid=user["user_uuid"],
        tailscale_user_id=claim.user_id,
        email=claim.email,
        tailnet=claim.tailnet,
    )
    return ok({"token": token, "user": user, "expires_in": svc.tokens.lifetime})


async def auth_validate(request: Request) -> JSONResponse:
    await services(request).auth_limiter.hit(_client_key(request))
    user = await current_user(request)
    return ok({"user": user})


async def auth_logout(request: Request) -> JSONResponse:
    """Log out the token this request carries: from now on it gets 401 ``token_revoked``.
    The account's other tokens (another machine, the browser) stay logged in."""
    await current_user(request)
    claims = current_claims(request)
    await run_in_threadpool(services(request).revocations.revoke, claims)
    return ok({"logged_out": True})


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
    Route("/api/auth/logout", auth_logout, methods=["POST"]),
    Route("/api/auth/validate", auth_validate, methods=["POST"]),
    Route("/api/me", me, methods=["GET"]),
    Route("/api/me", patch_me, methods=["PATCH"]),
]
