"""``GET /health``: public, no auth."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from leger_server import __version__
from leger_server.services import services


async def health(request: Request) -> JSONResponse:
    svc = services(request)
    return JSONResponse(
        {
            "status": "healthy",
            "service": "leger-server",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "version": __version__,
            "environment": svc.settings.environment,
            "identity": svc.settings.identity,
        }
    )


routes = [Route("/health", health, methods=["GET"])]
