"""The seeds' JSON envelope and bounded request bodies, shared by every route module."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from leger_server.errors import ApiError, InvalidInput, TooLarge, UnsupportedMedia


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse({"success": True, "data": data}, status_code=status)


def error_response(exc: ApiError) -> JSONResponse:
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.action:
        error["action"] = exc.action
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse({"success": False, "error": error}, status_code=exc.status, headers=headers)


def check_length(request: Request, limit: int) -> None:
    """Refuse early when the client announces a body over ``limit``."""
    raw = request.headers.get("content-length")
    if raw is None:
        return
    try:
        length = int(raw)
    except ValueError:
        raise InvalidInput("invalid Content-Length") from None
    if length > limit:
        raise TooLarge(f"request body over the limit of {limit} bytes")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, read chunk by chunk and refused as soon as it passes ``limit``."""
    check_length(request, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"request body over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int) -> Any:
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if ctype not in ("application/json", ""):
        raise UnsupportedMedia("send a JSON body (Content-Type: application/json)")
    body = await read_body(request, limit)
    if not body:
        raise InvalidInput("a JSON body is required")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the body is not valid JSON", code="invalid_json") from None


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    data = await read_json(request, limit)
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    return data
