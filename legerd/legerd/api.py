"""tailscale/setec's HTTP API over a :class:`SecretStore`, as a Starlette app.

Every API call is a POST with ``Content-Type: application/json`` and the header
``Sec-X-Tailscale-No-Browsers: setec`` (browsers cannot set ``Sec-*`` headers, so no web page
can drive the API). The order of checks is setec's: method, content type, header, caller,
body; then the access check comes before the name is looked up, so a denied caller learns
nothing about what exists.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from legerd.access import ANONYMOUS, AccessRules, Principal
from legerd.audit import AuditLog
from legerd.errors import BadRequest, Denied, StoreError
from legerd.store import MAX_VALUE, SecretStore, check_name, check_version
from legerd.tailscale import WhoIsError, whois

MAX_BODY = MAX_VALUE * 2  # base64 and JSON around a maximal value
INTERNAL_PREFIX = "_internal/"
JSON = "application/json"


@dataclass
class Daemon:
    """What the handlers share; built by :mod:`legerd.server`, one per process."""

    store: SecretStore
    audit: AuditLog
    rules: AccessRules
    tailscale_socket: str | None = None


class Call:
    """One API request after the checks every endpoint shares."""

    def __init__(self, daemon: Daemon, principal: Principal, body: dict[str, Any]) -> None:
        self.daemon = daemon
        self.principal = principal
        # Go's encoding/json (setec's server) matches field names case-insensitively.
        self.body = {key.lower(): value for key, value in body.items()}
        self.audited = False  # set once this request's line is on disk

    def name(self) -> str:
        return check_name(self.body.get("name"))

    def version(self, *, allow_zero: bool = True) -> int:
        return check_version(self.body.get("version", 0), allow_zero=allow_zero)

    def value(self) -> bytes:
        raw = self.body.get("value")
        if raw is None:
            return b""  # a Go client's empty []byte is sent as null
        if not isinstance(raw, str):
            raise BadRequest("Value must be base64 text")
        try:
            value = base64.b64decode(raw, validate=True)
        except binascii.Error:
            raise BadRequest("Value is not valid base64") from None
        if len(value) > MAX_VALUE:
            raise BadRequest(f"Value larger than {MAX_VALUE} bytes")
        return value

    async def authorize(self, action: str, name: str, version: int | None = None) -> None:
        """Audit (fsynced) and then allow, or audit and raise :class:`Denied`."""
        allowed = self.daemon.rules.allowed(self.principal, action, name)
        if allowed and action != "get" and action != "info" and name.startswith(INTERNAL_PREFIX):
            allowed = False  # reserved for legerd itself, whoever asks
        await self.daemon.audit.record(str(self.principal), action, name, version, allowed)
        self.audited = True
        if not allowed:
            raise Denied("access denied")


Handler = Callable[[Call], Awaitable[Any]]


def _ok(doc: Any) -> Response:
    return Response(json.dumps(doc, separators=(",", ":")), media_type=JSON)


async def api_list(call: Call) -> Response:
    rules, principal = call.daemon.rules, call.principal
    store = call.daemon.store
    await call.daemon.audit.record(str(principal), "list", None, None, True)
    call.audited = True
    infos = [
        _info_doc(name, store) for name in store.names() if rules.allowed(principal, "info", name)
    ]
    return _ok(infos or None)  # setec answers null, not [], when there is nothing


def _info_doc(name: str, store: SecretStore) -> dict[str, Any]:
    secret = store.secret(name)
    return {"Name": name, "Versions": sorted(secret.versions), "ActiveVersion": secret.active}


async def api_get(call: Call) -> Response:
    name, version = call.name(), call.version()
    update_if_changed = call.body.get("updateifchanged", False)
    if not isinstance(update_if_changed, bool):
        raise BadRequest("UpdateIfChanged must be true or false")
    await call.authorize("get", name, version)
    store = call.daemon.store
    if version and update_if_changed:
        if store.secret(name).active == version:
            return Response(status_code=304, headers={"Content-Type": JSON})
        version = 0
    value, got = store.get(name, version)
    return _ok({"Value": base64.b64encode(value).decode(), "Version": got})


async def api_info(call: Call) -> Response:
    name = call.name()
    await call.authorize("info", name)
    return _ok(_info_doc(name, call.daemon.store))


async def api_put(call: Call) -> Response:
    name, value = call.name(), call.value()
    await call.authorize("put", name)
    version = await run_in_threadpool(call.daemon.store.put, name, value)
    return _ok(version)


async def api_create_version(call: Call) -> Response:
    name, version, value = call.name(), call.version(allow_zero=False), call.value()
    await call.authorize("create-version", name, version)
    await run_in_threadpool(call.daemon.store.create_version, name, version, value)
    return _ok({})


async def api_activate(call: Call) -> Response:
    name, version = call.name(), call.version(allow_zero=False)
    await call.authorize("activate", name, version)
    await run_in_threadpool(call.daemon.store.activate, name, version)
    return _ok({})


async def api_delete(call: Call) -> Response:
    name = call.name()
    await call.authorize("delete", name)
    await run_in_threadpool(call.daemon.store.delete, name)
    return _ok({})


async def api_delete_version(call: Call) -> Response:
    name, version = call.name(), call.version(allow_zero=False)
    await call.authorize("delete", name, version)
    await run_in_threadpool(call.daemon.store.delete_version, name, version)
    return _ok({})


async def identify(daemon: Daemon, request: Request) -> Principal:
    """The caller: SO_PEERCRED on the Unix socket (set per connection by legerd.server), else a
    bearer token, else tailscaled's WhoIs for the peer address."""
    peer = request.scope.get("legerd.peer")
    if isinstance(peer, Principal):
        return peer
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return daemon.rules.token_principal(auth[7:].strip()) or ANONYMOUS
    client = request.scope.get("client")
    if daemon.tailscale_socket and client:
        host, port = client
        addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            return await whois(daemon.tailscale_socket, addr)
        except WhoIsError:
            return ANONYMOUS
    return ANONYMOUS


async def read_json(request: Request) -> dict[str, Any] | None:
    """The body as a JSON object, or None; never holds more than MAX_BODY bytes in memory."""
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) <= MAX_BODY:
        body = await request.body()
    else:
        chunks, total = [], 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > MAX_BODY:
                return None
            chunks.append(chunk)
        body = b"".join(chunks)
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def _claimed_name(doc: dict[str, Any] | None) -> str | None:
    """The Name a refused request asked for, for its audit line (bounded; None if odd)."""
    name = doc.get("Name", doc.get("name")) if doc else None
    return name if isinstance(name, str) and len(name) <= 256 else None


def endpoint(
    daemon: Daemon, action: str, handler: Handler
) -> Callable[[Request], Awaitable[Response]]:
    async def refuse(
        principal: Principal, doc: dict[str, Any] | None, status: int, message: str
    ) -> Response:
        # Refused before the access check, but on the record all the same: who tried what,
        # and why it went no further, is what an audit log is for. Never a value.
        label = principal.label if principal is ANONYMOUS else str(principal)
        await daemon.audit.record(label, action, _claimed_name(doc), None, False, message)
        return PlainTextResponse(message, status)

    async def run(request: Request) -> Response:
        # The caller first (free on the Unix socket), so even a malformed request's line
        # says who sent it; the order of the checks and their answers stay setec's.
        principal = await identify(daemon, request)
        try:
            if request.method != "POST":
                return await refuse(principal, None, 400, "only POST requests allowed")
            if request.headers.get("content-type") != JSON:
                return await refuse(principal, None, 400, "request body must be json")
            if request.headers.get("sec-x-tailscale-no-browsers") != "setec":
                return await refuse(principal, None, 403, "access denied")
            doc = await read_json(request)
            if principal is ANONYMOUS:
                return await refuse(principal, doc, 403, "access denied: unauthenticated caller")
            if doc is None:
                return await refuse(principal, None, 400, "bad request")
            call = Call(daemon, principal, doc)
            try:
                result: Response = await handler(call)
                return result
            except StoreError as exc:
                if not call.audited:  # a bad name, version or value: refused before the check
                    return await refuse(principal, doc, exc.status, str(exc))
                return PlainTextResponse(str(exc), exc.status)
        except OSError:
            # The change (or its audit line) was not written (disk full, I/O error); memory
            # was left as it was.
            return PlainTextResponse(
                "internal error: could not write to disk; nothing changed", 500
            )

    return run


def create_app(daemon: Daemon) -> Starlette:
    async def health(request: Request) -> Response:
        return _ok({"status": "ok", "secrets_count": len(daemon.store)})

    api: dict[str, Handler] = {
        "/api/list": api_list,
        "/api/get": api_get,
        "/api/info": api_info,
        "/api/put": api_put,
        "/api/create-version": api_create_version,
        "/api/activate": api_activate,
        "/api/delete": api_delete,
        "/api/delete-version": api_delete_version,
    }
    any_method = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    routes = [Route("/health", health, methods=["GET"])] + [
        Route(path, endpoint(daemon, path.removeprefix("/api/"), handler), methods=any_method)
        for path, handler in api.items()
    ]
    return Starlette(routes=routes)
