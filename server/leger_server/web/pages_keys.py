"""``/api-keys``: one section per provider plus custom name/value pairs.

The page never holds a stored value: a saved key shows as a masked row with its last-updated
time. "Show" asks ``POST /api-keys/reveal`` for that one value (same origin, session cookie and
CSRF header), and "Hide" drops it from the page again.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from leger_server.errors import ApiError, InvalidInput, NotFound, Unauthorized
from leger_server.secret_store import NAME_RE
from leger_server.services import services
from leger_server.session import current_user
from leger_server.web import csrf
from leger_server.web.forms import read_form
from leger_server.web.guard import User, action, page
from leger_server.web.providers import BY_SLUG, PROVIDER_KEY_NAMES, PROVIDERS
from leger_server.web.render import SECURITY_HEADERS, redirect, render

CUSTOM = "custom"


async def _render_keys(
    request: Request,
    user: User,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    stored = await run_in_threadpool(services(request).secrets.list, user["user_uuid"])
    by_name = {item["name"]: item for item in stored}  # metadata only: no values
    custom = [item for item in stored if item["name"] not in PROVIDER_KEY_NAMES]
    saved = request.query_params.get("saved")
    deleted = request.query_params.get("deleted")
    message = None
    if saved in BY_SLUG:
        message = f"{BY_SLUG[saved].title} saved."
    elif saved == CUSTOM:
        message = "Custom key saved."
    elif deleted and NAME_RE.fullmatch(deleted):
        message = f"Deleted {deleted}."
    return render(
        request,
        "api_keys.html",
        {
            "title": "API Keys & Integrations",
            "providers": PROVIDERS,
            "stored": by_name,
            "custom": custom,
            "errors": errors or {},
            "message": message,
        },
        status=status,
        user=user,
    )


@page
async def api_keys(request: Request, user: User) -> Response:
    return await _render_keys(request, user)


def _values_to_save(slug: str, form: dict[str, str]) -> list[tuple[str, str]]:
    """(name, value) pairs the section's form asks to store; blank fields keep what is saved."""
    if slug == CUSTOM:
        name = form.get("custom_name", "").strip()
        value = form.get("custom_value", "")
        if not name or not value:
            raise InvalidInput("Enter both a name and a value.")
        if name in PROVIDER_KEY_NAMES:
            raise InvalidInput(f"{name} belongs in its provider's section above.")
        return [(name, value.strip())]
    pairs = []
    for field in BY_SLUG[slug].fields:
        # Pasted keys often carry a trailing newline or space; no provider key contains one.
        value = form.get(field.name, "").strip()
        if value:
            pairs.append((field.name, value))
    if not pairs:
        raise InvalidInput("Enter a new value to save; empty fields keep the saved key.")
    return pairs


@action
async def save_section(request: Request, user: User, form: dict[str, str]) -> Response:
    slug = request.path_params["section"]
    if slug not in BY_SLUG and slug != CUSTOM:
        raise NotFound(f"no section {slug!r}")
    svc = services(request)
    try:
        pairs = _values_to_save(slug, form)
        for name, _value in pairs:
            # Check every name before storing any, so a bad one changes nothing.
            if not NAME_RE.fullmatch(name) or name in (".", ".."):
                raise InvalidInput(
                    "A name uses 1-128 letters, digits, '_', '.' or '-' (no spaces)."
                )
        for name, value in pairs:
            await run_in_threadpool(svc.secrets.put, user["user_uuid"], name, value)
    except ApiError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _render_keys(request, user, errors={slug: exc.message}, status=400)
    return redirect(f"/api-keys?saved={slug}#section-{slug}")


@action
async def delete_key(request: Request, user: User, form: dict[str, str]) -> Response:
    name = form.get("name", "")
    await run_in_threadpool(services(request).secrets.delete, user["user_uuid"], name)
    return redirect(f"/api-keys?deleted={name}")


def _json_error(exc: ApiError) -> JSONResponse:
    return JSONResponse(
        {"success": False, "error": {"code": exc.code, "message": exc.message}},
        status_code=exc.status,
        headers=SECURITY_HEADERS,
    )


async def reveal(request: Request) -> Response:
    """One stored value, for the Show button: POST so it is never cached, bookmarked or
    prefetched, and only with this session's CSRF token."""
    try:
        user = await current_user(request)
        form = await read_form(request)
        csrf.check(request, request.headers.get(csrf.HEADER) or form.get(csrf.FIELD))
        item: dict[str, Any] = await run_in_threadpool(
            services(request).secrets.get, user["user_uuid"], form.get("name", "")
        )
    except (Unauthorized, ApiError) as exc:
        return _json_error(exc)
    return JSONResponse(
        {"success": True, "data": {"name": item["name"], "value": item["value"]}},
        headers=SECURITY_HEADERS,
    )


routes = [
    Route("/api-keys", api_keys, methods=["GET"]),
    Route("/api-keys/reveal", reveal, methods=["POST"]),
    Route("/api-keys/delete", delete_key, methods=["POST"]),
    Route("/api-keys/{section}", save_section, methods=["POST"]),
]
