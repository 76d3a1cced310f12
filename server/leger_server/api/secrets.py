"""``GET /api/secrets[?include_values=true]``, ``GET|POST|DELETE /api/secrets/{name}``."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from leger_server.errors import InvalidInput
from leger_server.http import ok, read_json_object
from leger_server.services import services
from leger_server.session import authorized, current_user


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0", ""):
        raise InvalidInput(f"{name} must be true or false")
    return raw in ("true", "1")


async def list_secrets(request: Request) -> JSONResponse:
    include = _flag(request, "include_values")
    store = services(request).secrets
    # With values, the store stamps last_accessed in a transaction of its own: harmless to
    # repeat if authorized() retries after a lost connection.
    items = await authorized(
        request,
        lambda conn, user: store.list(user["user_uuid"], include_values=include, conn=conn),
    )
    return ok({"secrets": items})


async def get_secret(request: Request) -> JSONResponse:
    user = await current_user(request)
    name = request.path_params["name"]
    item = await run_in_threadpool(services(request).secrets.get, user["user_uuid"], name)
    return ok(item)


async def put_secret(request: Request) -> JSONResponse:
    user = await current_user(request)
    svc = services(request)
    # A value is at most max_secret_value bytes; JSON escaping can triple it, plus slack.
    body = await read_json_object(request, svc.settings.max_secret_value * 6 + 1024)
    if "value" not in body:
        raise InvalidInput('send {"value": "..."}', code="invalid_value")
    name = request.path_params["name"]
    item = await run_in_threadpool(svc.secrets.put, user["user_uuid"], name, body["value"])
    return ok(item, status=201 if item["changed"] and item["version"] == 1 else 200)


async def delete_secret(request: Request) -> JSONResponse:
    user = await current_user(request)
    name = request.path_params["name"]
    await run_in_threadpool(services(request).secrets.delete, user["user_uuid"], name)
    return ok({"deleted": True, "name": name})


routes = [
    Route("/api/secrets", list_secrets, methods=["GET"]),
    Route("/api/secrets/{name}", get_secret, methods=["GET"]),
    Route("/api/secrets/{name}", put_secret, methods=["POST", "PUT"]),
    Route("/api/secrets/{name}", delete_secret, methods=["DELETE"]),
]
