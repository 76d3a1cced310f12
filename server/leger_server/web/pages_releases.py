"""``/releases`` (cards), ``/releases/new`` and ``/releases/{id}`` (the git release form, or a
bundle release's detail). Validation is the release store's; its messages are shown next to the
field they are about."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from leger_server.errors import ApiError, Conflict, NotFound
from leger_server.services import services
from leger_server.web.guard import User, action, page
from leger_server.web.render import redirect, render

FIELDS = ("name", "git_url", "git_branch", "description")


def deploy_command(name: str) -> str:
    return f"leger deploy install {name}"


def runs_on(release: dict[str, Any], deployments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reported deployments of ``release``: those naming it, and for a git release those
    installed straight from its URL."""
    return [
        d
        for d in deployments
        if d["release_name"] == release["name"]
        or (
            d["release_name"] is None
            and release["kind"] == "git"
            and d["source_kind"] == "git"
            and d["source"] == release.get("git_url")
        )
    ]


async def _deployments(request: Request, user: User) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = await run_in_threadpool(
        services(request).deployments.list, user["user_uuid"]
    )
    return items


def _field_of(exc: ApiError) -> str:
    """Which form field an error from the release store is about."""
    if isinstance(exc, Conflict) or exc.code == "invalid_name":
        return "name"
    if exc.code == "invalid_git_url":
        return "git_url"
    for field in ("git_branch", "description"):
        if exc.message.startswith(field):
            return field
    return "form"


def _message_of(exc: ApiError, body: dict[str, Any]) -> str:
    """The store's error in the words of the form (its own messages name JSON fields)."""
    if isinstance(exc, Conflict):
        return f"You already have a release named {body.get('name')}; choose another name."
    if exc.code == "invalid_name":
        return "Use 1-128 letters, digits, '_', '.' or '-' for the name (no spaces)."
    if exc.code == "invalid_git_url":
        return "Enter a git URL: https://…, ssh://…, git://… or git@host:path."
    if exc.message.startswith("git_branch"):
        return "Enter a branch name such as main (no spaces, no '..')."
    return exc.message


def _check_required(body: dict[str, Any]) -> dict[str, str]:
    errors = {}
    if not body["name"]:
        errors["name"] = "Enter a release name."
    if not body["git_url"]:
        errors["git_url"] = "Enter the git repository URL."
    return errors


def _body(form: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {key: form.get(key, "").strip() for key in FIELDS}
    body["git_branch"] = body["git_branch"] or "main"
    body["description"] = body["description"] or None
    return body


async def _render_form(
    request: Request,
    user: User,
    *,
    release: dict[str, Any] | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    saved = request.query_params.get("saved")
    return render(
        request,
        "release_form.html",
        {
            "title": "Edit release" if release else "Create release",
            "release": release,
            "values": values,
            "errors": errors or {},
            "message": {"created": "Release created.", "1": "Release saved."}.get(saved or ""),
            "command": deploy_command(values.get("name") or "release-name"),
            "deployments": runs_on(release, await _deployments(request, user)) if release else [],
        },
        status=status,
        user=user,
    )


@page
async def list_releases(request: Request, user: User) -> Response:
    items = await run_in_threadpool(services(request).releases.list, user["user_uuid"])
    items.sort(key=lambda r: r["updated_at"] or "", reverse=True)
    deployments = await _deployments(request, user)
    message = "Release deleted." if request.query_params.get("deleted") else None
    return render(
        request,
        "releases.html",
        {
            "title": "Releases",
            "releases": [
                {**r, "command": deploy_command(r["name"]), "deployments": runs_on(r, deployments)}
                for r in items
            ],
            "message": message,
        },
        user=user,
    )


@page
async def new_release(request: Request, user: User) -> Response:
    return await _render_form(request, user, release=None, values={"git_branch": "main"})


@action
async def create_release(request: Request, user: User, form: dict[str, str]) -> Response:
    body = _body(form)
    errors = _check_required(body)
    if not errors:
        try:
            item = await run_in_threadpool(
                services(request).releases.create_git, user["user_uuid"], body
            )
        except ApiError as exc:
            errors = {_field_of(exc): _message_of(exc, body)}
        else:
            return redirect(f"/releases/{item['id']}?saved=created")
    return await _render_form(request, user, release=None, values=body, errors=errors, status=400)


async def _secret_names(request: Request, user: User) -> set[str]:
    stored = await run_in_threadpool(services(request).secrets.list, user["user_uuid"])
    return {item["name"] for item in stored}


@page
async def show_release(request: Request, user: User) -> Response:
    release = await run_in_threadpool(
        services(request).releases.get, user["user_uuid"], request.path_params["ref"]
    )
    if release["kind"] == "git":
        return await _render_form(request, user, release=release, values=release)
    manifest = release.get("manifest") or {}
    files = [f for f in manifest.get("files", []) if isinstance(f, dict)]
    services_list = [
        s.get("name", "?") if isinstance(s, dict) else str(s) for s in release["services"]
    ]
    have = await _secret_names(request, user)
    return render(
        request,
        "release_bundle.html",
        {
            "title": f"{release['name']} v{release['version']}",
            "release": release,
            "files": files,
            "services": services_list,
            "secrets": [(name, name in have) for name in release["secrets_required"]],
            "command": deploy_command(release["name"]),
            "deployments": runs_on(release, await _deployments(request, user)),
        },
        user=user,
    )


@action
async def update_release(request: Request, user: User, form: dict[str, str]) -> Response:
    ref = request.path_params["ref"]
    svc = services(request)
    release = await run_in_threadpool(svc.releases.get, user["user_uuid"], ref)
    if release["kind"] != "git":
        raise NotFound("bundle releases cannot be edited; upload a new bundle instead")
    body = _body(form)
    errors = _check_required(body)
    if not errors:
        try:
            await run_in_threadpool(svc.releases.update_git, user["user_uuid"], ref, body)
        except ApiError as exc:
            errors = {_field_of(exc): _message_of(exc, body)}
        else:
            return redirect(f"/releases/{release['id']}?saved=1")
    return await _render_form(
        request, user, release=release, values=body, errors=errors, status=400
    )


@action
async def delete_release(request: Request, user: User, form: dict[str, str]) -> Response:
    await run_in_threadpool(
        services(request).releases.delete, user["user_uuid"], request.path_params["ref"]
    )
    return redirect("/releases?deleted=1")


routes = [
    Route("/releases", list_releases, methods=["GET"]),
    Route("/releases/new", new_release, methods=["GET"]),
    Route("/releases/new", create_release, methods=["POST"]),
    Route("/releases/{ref}", show_release, methods=["GET"]),
    Route("/releases/{ref}", update_release, methods=["POST"]),
    Route("/releases/{ref}/delete", delete_release, methods=["POST"]),
]
