"""``/settings``: email, tailnet, the devices and what they run (the CLI's deployment reports),
the Leger user id (copyable) and the display name (≤ 32)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from leger_server.errors import InvalidInput
from leger_server.services import services
from leger_server.users import DISPLAY_NAME_MAX
from leger_server.web.guard import User, action, page
from leger_server.web.render import redirect, render


async def _render_settings(
    request: Request,
    user: User,
    *,
    display_name: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    deployments = await run_in_threadpool(services(request).deployments.list, user["user_uuid"])
    return render(
        request,
        "settings.html",
        {
            "title": "Settings",
            "display_name": user["display_name"] if display_name is None else display_name,
            "max_length": DISPLAY_NAME_MAX,
            "error": error,
            "message": "Display name saved." if request.query_params.get("saved") else None,
            "deployments": deployments,
        },
        status=status,
        user=user,
    )


@page
async def settings_page(request: Request, user: User) -> Response:
    return await _render_settings(request, user)


@action
async def save_settings(request: Request, user: User, form: dict[str, str]) -> Response:
    name = form.get("display_name", "")
    try:
        await run_in_threadpool(
            services(request).users.set_display_name, user["user_uuid"], name or None
        )
    except InvalidInput as exc:
        return await _render_settings(
            request, user, display_name=name, error=exc.message, status=400
        )
    return redirect("/settings?saved=1")


routes = [
    Route("/settings", settings_page, methods=["GET"]),
    Route("/settings", save_settings, methods=["POST"]),
]
