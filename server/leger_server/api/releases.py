"""``GET|POST /api/releases``, ``GET /api/releases/latest``, ``GET|PUT|DELETE
/api/releases/{id}``, ``GET /api/releases/{version}/download``.

POST with JSON creates a git release; POST with ``Content-Type: application/gzip`` uploads a
bundle, streamed to a staging file (bounded), checked, then stored."""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from leger_server.bundles import StagedBundle, inspect_bundle, stage_stream
from leger_server.errors import ApiError, InvalidInput, UnsupportedMedia
from leger_server.http import check_length, ok, read_json_object
from leger_server.services import services
from leger_server.session import authorized, current_user

GZIP_TYPES = ("application/gzip", "application/x-gzip", "application/x-tar+gzip")


async def list_releases(request: Request) -> JSONResponse:
    name = request.query_params.get("name")
    store = services(request).releases
    items = await authorized(
        request, lambda conn, user: store.list(user["user_uuid"], name=name, conn=conn)
    )
    return ok({"releases": items})


async def create_release(request: Request) -> JSONResponse:
    user = await current_user(request)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in GZIP_TYPES:
        return await _upload_bundle(request, user["user_uuid"])
    if ctype != "application/json":
        raise UnsupportedMedia(
            "POST JSON for a git release or application/gzip for a bundle upload"
        )
    svc = services(request)
    body = await read_json_object(request, svc.settings.max_json_body)
    item = await run_in_threadpool(svc.releases.create_git, user["user_uuid"], body)
    return ok(item, status=201)


async def _upload_bundle(request: Request, user_uuid: str) -> JSONResponse:
    svc = services(request)
    settings = svc.settings
    check_length(request, settings.max_bundle_bytes)
    path, size, sha = await stage_stream(
        request.stream(), settings.data_dir / "staging", limit=settings.max_bundle_bytes
    )
    staged = StagedBundle(path=path, size=size, sha256=sha)
    try:
        if size == 0:
            raise InvalidInput("the bundle is empty", code="invalid_bundle")
        staged.manifest = await run_in_threadpool(
            inspect_bundle,
            path,
            max_files=settings.max_bundle_files,
            max_unpacked=settings.max_bundle_unpacked,
            time_limit=settings.max_bundle_seconds,
        )
        item = await run_in_threadpool(svc.releases.create_bundle, user_uuid, staged)
    finally:
        staged.discard()
    return ok(item, status=201)


async def latest_release(request: Request) -> JSONResponse:
    store = services(request).releases
    item = await authorized(
        request, lambda conn, user: store.get(user["user_uuid"], "latest", conn=conn)
    )
    return ok(item)


async def get_release(request: Request) -> JSONResponse:
    ref = request.path_params["ref"]
    store = services(request).releases
    item = await authorized(
        request, lambda conn, user: store.get(user["user_uuid"], ref, conn=conn)
    )
    return ok(item)


async def update_release(request: Request) -> JSONResponse:
    user = await current_user(request)
    svc = services(request)
    body = await read_json_object(request, svc.settings.max_json_body)
    ref = request.path_params["ref"]
    item = await run_in_threadpool(svc.releases.update_git, user["user_uuid"], ref, body)
    return ok(item)


async def delete_release(request: Request) -> JSONResponse:
    user = await current_user(request)
    ref = request.path_params["ref"]
    await run_in_threadpool(services(request).releases.delete, user["user_uuid"], ref)
    return ok({"deleted": True})


async def download_release(request: Request) -> Response:
    user = await current_user(request)
    svc = services(request)
    ref = request.path_params["ref"]
    release = await run_in_threadpool(svc.releases.blob_of, user["user_uuid"], ref)
    if await run_in_threadpool(svc.blobs.size, release["r2_path"]) is None:
        raise ApiError(
            f"the bundle of release {ref!r} is missing from storage",
            code="bundle_missing",
            status=410,
            action="upload it again",
        )
    chunks = await run_in_threadpool(lambda: svc.blobs.iter_chunks(release["r2_path"]))
    filename = f"{release['deployment_name']}-v{release['version']}.tar.gz"
    return StreamingResponse(
        chunks,
        media_type="application/gzip",
        headers={
            "Content-Length": str(release["bundle_size_bytes"]),
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Leger-Sha256": release["sha256"],
            "X-Leger-Version": str(release["version"]),
        },
        background=BackgroundTask(lambda: getattr(chunks, "close", lambda: None)()),
    )


routes = [
    Route("/api/releases", list_releases, methods=["GET"]),
    Route("/api/releases", create_release, methods=["POST"]),
    Route("/api/releases/latest", latest_release, methods=["GET"]),
    Route("/api/releases/{ref}", get_release, methods=["GET"]),
    Route("/api/releases/{ref}", update_release, methods=["PUT"]),
    Route("/api/releases/{ref}", delete_release, methods=["DELETE"]),
    Route("/api/releases/{ref}/download", download_release, methods=["GET"]),
]
