"""tailscale/setec's HTTP API over a :class:`SecretStore`, as a small ASGI app.

Every API call is a POST with ``Content-Type: application/json`` and the header
``Sec-X-Tailscale-No-Browsers: setec`` (browsers cannot set ``Sec-*`` headers, so no web page
can drive the API). The order of checks is setec's: method, content type, header, caller, body
(decoded as Go's ``encoding/json`` decodes it into setec's request struct); then the access
check comes before anything else about the request is looked at (the name's rules, the version,
whether the secret exists), so a denied caller learns nothing. An unauthenticated caller is
refused before its body is read. Errors are answered like Go's ``http.Error``.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from leger_core import setec_api as wire
from legerd.access import ANONYMOUS, AccessRules, Principal
from legerd.audit import AuditLog
from legerd.errors import BadRequest, Denied, StoreError
from legerd.store import DEFAULT_MAX_VALUE, MAX_NAME_BYTES, MAX_VERSION, SecretStore, check_name
from legerd.tailscale import WhoIsError, whois

INTERNAL_PREFIX = "_internal/"
JSON = wire.CONTENT_TYPE
DEFAULT_REFUSAL_INTERVAL = 60.0  # seconds between audit lines for one anonymous peer
MAX_SUMMARISED_PEERS = 4096


def max_body(max_value: int) -> int:
    """The largest request body read: a maximal value in base64, plus a maximal name with every
    character escaped as ``\\uXXXX``, plus room for the JSON around them."""
    return -(-max_value // 3) * 4 + MAX_NAME_BYTES * 6 + 4096


class RefusalSummary:
    """Anonymous refusals in the audit log: at most one line per peer address per
    ``interval``, and at most ``max_lines`` lines in all per ``interval`` (a peer changing its
    address each time gets no more); the refusals held back are counted, and a peer's count
    goes in its next line as ``"suppressed"``. Memory is bounded: past ``max_peers`` addresses
    the one heard from least recently is forgotten (with its count)."""

    def __init__(
        self, interval: float, max_peers: int = MAX_SUMMARISED_PEERS, max_lines: int = 100
    ) -> None:
        self.interval = interval
        self.max_peers = max_peers
        self.max_lines = max_lines
        self._peers: OrderedDict[str, list[float]] = OrderedDict()  # peer → [logged at, held]
        self._window = (float("-inf"), 0)  # (start, lines written in it)

    def admit(self, peer: str, now: float | None = None) -> int | None:
        """None: hold this refusal back. Else log it, with this many held back before it."""
        now = time.monotonic() if now is None else now
        entry = self._peers.get(peer)
        if entry is None:
            if len(self._peers) >= self.max_peers:
                self._peers.popitem(last=False)
            entry = self._peers[peer] = [float("-inf"), 0]
        else:
            self._peers.move_to_end(peer)
        if now - entry[0] >= self.interval and self._budget(now):
            held = int(entry[1])
            entry[0], entry[1] = now, 0
            return held
        entry[1] += 1
        return None

    def _budget(self, now: float) -> bool:
        start, used = self._window
        if now - start >= self.interval:
            start, used = now, 0
        if used >= self.max_lines:
            return False
        self._window = (start, used + 1)
        return True


@dataclass
class Daemon:
    """What the handlers share; built by :mod:`legerd.server`, one per process."""

    store: SecretStore
    audit: AuditLog
    rules: AccessRules
    tailscale_socket: str | None = None
    max_value: int = DEFAULT_MAX_VALUE
    refusals: RefusalSummary = field(
        default_factory=lambda: RefusalSummary(DEFAULT_REFUSAL_INTERVAL)
    )

    @property
    def max_body(self) -> int:
        return max_body(self.max_value)


def error(message: str, status: int, *, close: bool = False) -> Response:
    """An answer as Go's ``http.Error`` writes it: the message and a newline, as
    ``text/plain; charset=utf-8`` with ``X-Content-Type-Options: nosniff``."""
    headers = {"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"}
    if close:  # the body was not read: end the connection rather than parse what follows
        headers["Connection"] = "close"
    return Response(message + "\n", status, headers=headers)


def _ok(doc: Any) -> Response:
    return Response(json.dumps(doc, separators=(",", ":")), media_type=JSON)


def _loggable(name: str | None) -> str | None:
    """A name as the audit log shows it: JSON escapes control characters; an oversized name
    (refused, but still worth a line) is cut short."""
    if name is not None and len(name) > MAX_NAME_BYTES:
        return name[:256] + "…"
    return name


# --- the request body, decoded as setec's Go server decodes it ---------------------------------

_decoder = json.JSONDecoder()
_BAD = "bad request"


def decode_body(body: bytes) -> dict[str, Any]:
    """Like ``json.NewDecoder(body).Decode(&req)``: the first JSON value counts (what follows
    it is not read); ``null`` leaves every field at its zero value; field names match
    case-insensitively. Anything but an object or ``null`` is a bad request."""
    try:
        text = body.decode()
        doc, _end = _decoder.raw_decode(text, len(text) - len(text.lstrip(" \t\r\n")))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest(_BAD) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise BadRequest(_BAD)
    return {key.lower(): value for key, value in doc.items()}


class Call:
    """One API request: the decoded fields (Go's types: a wrong type is a bad request, before
    the access check, as in setec), the caller, and its audit line."""

    def __init__(self, daemon: Daemon, principal: Principal, body: dict[str, Any]) -> None:
        self.daemon = daemon
        self.principal = principal
        self.body = body
        self.audited = False  # set once this request's line is on disk
        self.name: str | None = None  # for the audit line of a refusal

    def string(self, key: str) -> str:
        value = self.body.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise BadRequest(_BAD)
        return value

    def version(self) -> int:
        value = self.body.get(wire.VERSION.lower())
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VERSION:
            raise BadRequest(_BAD)  # a uint32
        return value

    def flag(self, key: str) -> bool:
        value = self.body.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise BadRequest(_BAD)
        return value

    def value(self) -> bytes:
        raw = self.body.get(wire.VALUE.lower())
        if raw is None:
            return b""  # a Go client's empty []byte is sent as null
        if not isinstance(raw, str):
            raise BadRequest(_BAD)
        try:
            value = base64.b64decode(raw, validate=True)
        except binascii.Error:
            raise BadRequest(_BAD) from None
        if len(value) > self.daemon.max_value:
            raise BadRequest(f"value larger than {self.daemon.max_value} bytes")
        return value

    def secret_name(self) -> str:
        self.name = self.string(wire.NAME.lower())
        return self.name

    def check(self, action: str, name: str, version: int | None, *, nonzero: bool) -> None:
        """The access check first; only an allowed caller learns whether the rest is valid.
        A denial is audited here; the caller audits what it goes on to do."""
        allowed = self.daemon.rules.allowed(self.principal, action, name)
        if allowed and action != "get" and action != "info" and name.startswith(INTERNAL_PREFIX):
            allowed = False  # reserved for legerd itself, whoever asks
        if not allowed:
            raise Denied("access denied")
        check_name(name)
        if nonzero and version == 0:
            raise BadRequest("invalid version")

    async def record(self, action: str, name: str | None, version: int | None) -> None:
        await self.daemon.audit.record(str(self.principal), action, name, version, True)
        self.audited = True

    async def authorize(
        self, action: str, name: str, version: int | None = None, *, nonzero: bool = False
    ) -> None:
        """Check, then audit (fsynced) before the action runs."""
        try:
            self.check(action, name, version, nonzero=nonzero)
        except Denied:
            await self.daemon.audit.record(
                str(self.principal), action, _loggable(name), version, False
            )
            self.audited = True
            raise
        await self.record(action, name, version)


Handler = Callable[[Call], Awaitable[Response]]


async def api_list(call: Call) -> Response:
    rules, principal = call.daemon.rules, call.principal
    store = call.daemon.store
    await call.record("list", None, None)
    infos = [
        _info_doc(name, store) for name in store.names() if rules.allowed(principal, "info", name)
    ]
    return _ok(infos or None)  # setec answers null, not [], when there is nothing


def _info_doc(name: str, store: SecretStore) -> dict[str, Any]:
    secret = store.secret(name)
    return {
        wire.NAME: name,
        wire.VERSIONS: sorted(secret.versions),
        wire.ACTIVE_VERSION: secret.active,
    }


NOT_MODIFIED = {"Content-Type": JSON}


async def api_get(call: Call) -> Response:
    name, version = call.secret_name(), call.version()
    update_if_changed = call.flag("updateifchanged")
    store = call.daemon.store
    if version and update_if_changed:
        # A poll: as in setec, an unchanged answer (304) is neither audited nor synced;
        # a denial, or a new value handed out, is.
        try:
            call.check("get", name, version, nonzero=False)
        except Denied:
            await call.authorize("get", name, version)  # audits the denial, raises
        if store.active_version(name) == version:
            return Response(status_code=304, headers=NOT_MODIFIED)
        await call.record("get", name, version)
        version = 0
    else:
        await call.authorize("get", name, version)
    value, got = store.get(name, version)
    return _ok({wire.VALUE: base64.b64encode(value).decode(), wire.VERSION: got})


async def api_info(call: Call) -> Response:
    name = call.secret_name()
    await call.authorize("info", name)
    return _ok(_info_doc(name, call.daemon.store))


async def api_put(call: Call) -> Response:
    name, value = call.secret_name(), call.value()
    await call.authorize("put", name)
    version = await run_in_threadpool(call.daemon.store.put, name, value)
    return _ok(version)


async def api_create_version(call: Call) -> Response:
    name, version, value = call.secret_name(), call.version(), call.value()
    await call.authorize("create-version", name, version, nonzero=True)
    await run_in_threadpool(call.daemon.store.create_version, name, version, value)
    return _ok({})


async def api_activate(call: Call) -> Response:
    name, version = call.secret_name(), call.version()
    await call.authorize("activate", name, version, nonzero=True)
    await run_in_threadpool(call.daemon.store.activate, name, version)
    return _ok({})


async def api_delete(call: Call) -> Response:
    name = call.secret_name()
    await call.authorize("delete", name)
    await run_in_threadpool(call.daemon.store.delete, name)  # a missing name: done already
    return _ok({})


async def api_delete_version(call: Call) -> Response:
    name, version = call.secret_name(), call.version()
    await call.authorize("delete", name, version, nonzero=True)
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


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The body, never holding more than ``limit`` bytes (a larger Content-Length is refused
    before anything is read)."""
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > limit:
        raise BodyTooLarge
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _peer(request: Request) -> str:
    client = request.scope.get("client")
    return str(client[0]) if client else "unix"


def endpoint(
    daemon: Daemon, action: str, handler: Handler
) -> Callable[[Request], Awaitable[Response]]:
    async def refuse(
        request: Request,
        principal: Principal,
        status: int,
        message: str,
        *,
        why: str | None = None,
        name: str | None = None,
        close: bool = False,
    ) -> Response:
        # Refused before the request could act, but on the record all the same: who tried
        # what, and why it went no further. Never a value. Anonymous callers (on TCP: no token,
        # unknown to WhoIs) are summarised, so a flood cannot grow the log or cost a sync each.
        if principal is ANONYMOUS:
            close = True  # nothing more from an unknown peer on this connection
            peer = _peer(request)
            held = daemon.refusals.admit(peer)
            if held is not None:
                extra = {"peer": peer, "suppressed": held}
                await daemon.audit.record(
                    principal.label, action, None, None, False, why or message, extra
                )
        else:
            await daemon.audit.record(
                str(principal), action, _loggable(name), None, False, why or message
            )
        return error(message, status, close=close)

    async def run(request: Request) -> Response:
        # The caller first (free on the Unix socket), so even a malformed request's line
        # says who sent it; the order of the checks and their answers stay setec's.
        principal = await identify(daemon, request)
        try:
            if request.method != "POST":
                return await refuse(request, principal, 400, "only POST requests allowed")
            if request.headers.get("content-type") != JSON:
                return await refuse(request, principal, 400, "request body must be json")
            if request.headers.get(wire.NO_BROWSERS_HEADER.lower()) != wire.NO_BROWSERS_VALUE:
                return await refuse(request, principal, 403, "access denied")
            if principal is ANONYMOUS:
                # Before the body is read: an unknown peer makes legerd read nothing.
                return await refuse(
                    request, principal, 403, "access denied", why="unauthenticated caller",
                    close=True,
                )  # fmt: skip
            try:
                body = await read_body(request, daemon.max_body)
            except BodyTooLarge:
                return await refuse(
                    request, principal, 400, _BAD,
                    why=f"request body larger than {daemon.max_body} bytes", close=True,
                )  # fmt: skip
            except ClientDisconnect:
                return error(_BAD, 400)  # nobody is left to read it
            call = Call(daemon, principal, {})
            try:
                call.body = decode_body(body)
                return await handler(call)
            except StoreError as exc:
                if not call.audited:  # malformed, or an allowed caller's invalid request
                    return await refuse(request, principal, exc.status, str(exc), name=call.name)
                return error(str(exc), exc.status)
        except OSError as exc:
            # The change (or its audit line) was not written (disk full, I/O error); memory
            # was left as it was. The reason goes to the journal, never a value.
            print(f"legerd: {action}: could not write to disk: {exc}", file=sys.stderr, flush=True)
            return error("internal error", 500)

    return run


class LegerdApp:
    """The ASGI app: setec's paths by exact match (a dict, not a router: this is the hot path),
    ``GET /health``, 400 for any other ``/api/`` path (as setec), and Go's 404 for the rest."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        api: dict[str, Handler] = {
            wire.LIST: api_list,
            wire.GET: api_get,
            wire.INFO: api_info,
            wire.PUT: api_put,
            wire.CREATE_VERSION: api_create_version,
            wire.ACTIVATE: api_activate,
            wire.DELETE: api_delete,
            wire.DELETE_VERSION: api_delete_version,
        }
        self.routes = {
            wire.path(method): endpoint(daemon, method, handler) for method, handler in api.items()
        }
        self.unknown = endpoint(daemon, "unknown", self._unknown)

    @staticmethod
    async def _unknown(call: Call) -> Response:
        raise BadRequest(_BAD)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        request = Request(scope, receive)
        route = self.routes.get(path)
        if route is not None:
            response = await route(request)
        elif path.startswith(wire.API_PREFIX):
            response = await self.unknown(request)
        elif path == wire.HEALTH_PATH and scope["method"] in ("GET", "HEAD"):
            response = _ok({"status": "ok", "secrets_count": len(self.daemon.store)})
        else:
            response = error("404 page not found", 404)
        await response(scope, receive, send)


def create_app(daemon: Daemon) -> LegerdApp:
    return LegerdApp(daemon)
