"""``POST /api/deployments`` (a device reports one of its deployments; bearer token only) and
``GET /api/deployments`` (the account's, every device; ``?release=NAME`` narrows)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from leger_server.http import ok, read_json_object
from leger_server.services import services
from leger_server.session import current_claims, current_user


async def list_deployments(request: Request) -> JSONResponse:
    user = await current_user(request)
    release = request.query_params.get("release")
    items = await run_in_threadpool(
        services(request).deployments.list, user["user_uuid"], release_name=release
    )
    return ok({"deployments": items})


async def report_deployment(request: Request) -> JSONResponse:
    user = await current_user(request)  # a cookie alone cannot write here (403)
    claims = current_claims(request)
    svc = services(request)
    body = await read_json_object(request, svc.settings.max_json_body)
    item = await run_in_threadpool(
        svc.deployments.report, user["user_uuid"], claims.device_id, claims.hostname, body
    )
    return ok(item)


routes = [
    Route("/api/deployments", list_deployments, methods=["GET"]),
    Route("/api/deployments", report_deployment, methods=["POST"]),
]
