"""Who is logging in, learned from the connection (never from a claim in the body).

* ``tailscale`` (leger-server listening on the tailnet): the local tailscaled's WhoIs of the TCP
  peer (:mod:`leger_core.tailscale_whois`). The account is the WhoIs user; a tagged node or an
  address tailscaled does not know is refused. Where a Tailscale API key is configured, the
  device must also be authorized and the user not suspended (:mod:`leger_server.tailscale_api`).
* ``tailscale-serve`` (behind ``tailscale serve`` on the same machine): the
  ``Tailscale-User-Login`` / ``Tailscale-User-Name`` headers, believed only when the TCP peer is
  one of the trusted proxies (default loopback only); the server must then listen on loopback.
* ``dev`` believes the body (``device_id, user_id, email, tailnet, hostname``), for development
  and tests only; the server says so loudly at start.

The body may carry ``hostname`` and ``cli_version`` for display. Any identity field it carries
(``user_id``, ``email``, ``device_id``, ``tailnet``) that disagrees with the connection's
identity makes the login fail with 403 ``identity_mismatch``: it is refused, not believed and
not silently ignored, so a forged login is visible as one.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import Request

from leger_core.tailscale_whois import (
    WhoIs,
    WhoIsError,
    WhoIsUnknown,
    format_addr,
    local_status,
    whois,
)
from leger_server.errors import ApiError, Forbidden, InvalidInput, Unauthorized
from leger_server.tailscale_api import TailscaleAPICheck

if TYPE_CHECKING:
    from leger_server.settings import Settings
    from leger_server.users import UserStore

_FIELD_LIMITS = {"device_id": 128, "user_id": 128, "email": 320, "tailnet": 255, "hostname": 255}
_IDENTITY_FIELDS = ("user_id", "email", "device_id", "tailnet")
_TEXT = re.compile(r"[\x21-\x7e][\x20-\x7e]*")  # printable ASCII, no leading space

LOGIN_HEADER = "tailscale-user-login"
NAME_HEADER = "tailscale-user-name"
SERVE_LOGIN_PREFIX = "login:"  # user id of an account first seen through tailscale serve


def _check_text(field: str, value: Any, limit: int) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{field} is required and must be a string")
    if len(value) > limit or not _TEXT.fullmatch(value):
        raise InvalidInput(f"{field} must be printable text of at most {limit} chars")
    return value


@dataclass(frozen=True)
class LoginBody:
    """What a login body says, every field optional and checked for shape only."""

    fields: dict[str, str]
    cli_version: str | None

    @classmethod
    def parse(cls, body: Any) -> LoginBody:
        if not isinstance(body, dict):
            raise InvalidInput("the login body must be a JSON object")
        fields = {
            name: _check_text(name, body[name], limit)
            for name, limit in _FIELD_LIMITS.items()
            if body.get(name) not in (None, "")
        }
        cli_version = body.get("cli_version")
        if cli_version is not None:
            cli_version = _check_text("cli_version", cli_version, 64)
        return cls(fields, cli_version)

    def refuse_disagreement(self, true: dict[str, set[str]]) -> None:
        """403 when a claimed identity field is not among the connection's values for it."""
        for name in _IDENTITY_FIELDS:
            claimed = self.fields.get(name)
            if claimed is None or name not in true:
                continue
            if claimed.casefold() not in {v.casefold() for v in true[name] if v}:
                raise Forbidden(
                    f"the login's {name} is not the identity of this connection",
                    code="identity_mismatch",
                    action="log in from your own device: the server takes who you are from "
                    "Tailscale, not from the request",
                )


@dataclass(frozen=True)
class IdentityClaim:
    """A verified identity: who the account belongs to (``user_id``) and from which device."""

    device_id: str
    user_id: str
    email: str
    tailnet: str
    hostname: str
    cli_version: str | None = None

    @classmethod
    def parse(cls, body: Any) -> IdentityClaim:
        """The body as an identity, every field required (only ``dev`` believes this)."""
        login = LoginBody.parse(body)
        values = dict(login.fields)
        values.setdefault("hostname", "unknown")
        for name in _FIELD_LIMITS:
            if name not in values:
                raise InvalidInput(f"{name} is required and must be a string")
        return cls(cli_version=login.cli_version, **values)


class IdentityVerifier(Protocol):
    name: str

    async def identify(self, request: Request, body: dict[str, Any]) -> IdentityClaim:
        """Who this request's connection is (the body may only add display fields);
        raise :class:`ApiError` (401/403/503) otherwise."""
        ...


class DevVerifier:
    """Trusts the claim. Only ever chosen explicitly (``--identity dev``)."""

    name = "dev"

    async def identify(self, request: Request, body: dict[str, Any]) -> IdentityClaim:
        return IdentityClaim.parse(body)


def _peer(request: Request) -> tuple[str, int]:
    client = request.scope.get("client")
    if not client:
        raise Unauthorized(
            "the server cannot see who is connecting", code="no_peer_address", action=_TS_ACTION
        )
    return str(client[0]), int(client[1])


_TS_ACTION = "connect to the server over Tailscale (its 100.x address or MagicDNS name)"


class TailscaleWhoIsVerifier:
    """``--identity tailscale``: WhoIs of the TCP peer via tailscaled's LocalAPI socket."""

    name = "tailscale"

    def __init__(
        self,
        socket_path: str,
        *,
        api_check: TailscaleAPICheck | None = None,
        tailnet: str | None = None,
    ) -> None:
        self.socket_path = socket_path
        self.api_check = api_check
        self._tailnet = tailnet

    def __repr__(self) -> str:
        return f"TailscaleWhoIsVerifier(socket={self.socket_path!r}, api={self.api_check!r})"

    async def whois(self, request: Request) -> WhoIs:
        """The person at the other end of this connection; 401/403/503 otherwise."""
        host, port = _peer(request)
        try:
            who = await whois(self.socket_path, format_addr(host, port))
        except WhoIsUnknown:
            raise Unauthorized(
                f"{host} is not a Tailscale peer of this server",
                code="not_a_tailnet_peer",
                action=_TS_ACTION,
            ) from None
        except WhoIsError:
            raise ApiError(
                "could not ask tailscaled who is connecting",
                code="tailscale_unavailable",
                status=503,
                action="check that tailscaled runs on the server (tailscale status)",
            ) from None
        if who.tagged:
            raise Forbidden(
                f"the device is a tagged node ({', '.join(who.tags)}), not a person's",
                code="tagged_node",
                action="log in from a device logged in to Tailscale as yourself",
            )
        if not who.user_id or not who.login_name:
            raise Forbidden(
                "tailscaled names no user for this device",
                code="no_tailscale_user",
                action="log in to Tailscale on this device: tailscale up",
            )
        return who

    async def tailnet(self, who: WhoIs) -> str:
        """The tailnet's name as tailscaled reports it (what ``tailscale status`` calls
        CurrentTailnet), else the configured one, else the peer's MagicDNS suffix."""
        if self._tailnet is None:
            try:
                status = await local_status(self.socket_path, peers=False)
                current = status.get("CurrentTailnet") or {}
                name = current.get("Name") if isinstance(current, dict) else None
                self._tailnet = name if isinstance(name, str) and name else ""
            except WhoIsError:
                return who.dns_suffix or "unknown"
        return self._tailnet or who.dns_suffix or "unknown"

    async def identify(self, request: Request, body: dict[str, Any]) -> IdentityClaim:
        who = await self.whois(request)
        login = LoginBody.parse(body)
        tailnet = await self.tailnet(who)
        login.refuse_disagreement(
            {
                "user_id": {who.user_id},
                "email": {who.login_name},
                "device_id": {who.node_id},
                "tailnet": {tailnet, who.dns_suffix},
            }
        )
        if self.api_check is not None:
            await self.api_check.check(
                node_id=who.node_id, user_id=who.user_id, login_name=who.login_name
            )
        return IdentityClaim(
            device_id=who.node_id,
            user_id=who.user_id,
            email=who.login_name,
            tailnet=tailnet,
            hostname=login.fields.get("hostname") or who.hostname or "unknown",
            cli_version=login.cli_version,
        )


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(values: Sequence[str]) -> tuple[Network, ...]:
    """``127.0.0.1``, ``::1``, ``10.0.0.0/8`` … as networks; ValueError names a bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {value!r}") from None
    return tuple(networks)


class TailscaleServeVerifier:
    """``--identity tailscale-serve``: tailscale serve's identity headers, from trusted proxies
    only. ``account_for_login`` maps a login name to the user id and tailnet of an existing
    account (so an account first made by WhoIs is found again), or None."""

    name = "tailscale-serve"

    def __init__(
        self,
        trusted: Sequence[Network],
        account_for_login: Callable[[str], tuple[str, str] | None],
        tailnet: str | None = None,
    ) -> None:
        self.trusted = tuple(trusted)
        self._account_for_login = account_for_login
        self._tailnet = tailnet

    def __repr__(self) -> str:
        return f"TailscaleServeVerifier(trusted={[str(n) for n in self.trusted]})"

    def is_trusted(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    def login_name(self, request: Request) -> tuple[str, str]:
        """(login, display name) from the headers; 401/403 unless a trusted proxy sent them."""
        host, _ = _peer(request)
        login = request.headers.get(LOGIN_HEADER)
        if not self.is_trusted(host):
            if login is not None or request.headers.get(NAME_HEADER) is not None:
                raise Forbidden(
                    "Tailscale identity headers are only believed from the server's own "
                    "tailscale serve",
                    code="untrusted_proxy",
                    action="connect through the server's https://<name>.ts.net address",
                )
            raise Unauthorized(
                "this server takes logins only through tailscale serve",
                code="not_via_tailscale_serve",
                action="connect through the server's https://<name>.ts.net address",
            )
        if not login:
            raise Unauthorized(
                "tailscale serve sent no user (a tagged node, or not a tailnet connection)",
                code="no_tailscale_user",
                action="log in from a device logged in to Tailscale as yourself",
            )
        return _check_text("Tailscale-User-Login", login, 320), request.headers.get(NAME_HEADER, "")

    async def identify(self, request: Request, body: dict[str, Any]) -> IdentityClaim:
        from starlette.concurrency import run_in_threadpool

        login, _ = self.login_name(request)
        parsed = LoginBody.parse(body)
        # The headers carry the login name only: that, and the account it leads to, is checked.
        account = await run_in_threadpool(self._account_for_login, login)
        user_id, tailnet = account or (f"{SERVE_LOGIN_PREFIX}{login.lower()}", "")
        parsed.refuse_disagreement(
            {"email": {login}, **({"user_id": {user_id}} if account else {})}
        )
        return IdentityClaim(
            device_id="tailscale-serve",  # the headers name no device
            user_id=user_id,
            email=login,
            tailnet=self._tailnet or tailnet or "unknown",
            hostname=parsed.fields.get("hostname", "unknown"),
            cli_version=parsed.cli_version,
        )


def rate_limit_key(request: Request, verifier: IdentityVerifier) -> str:
    """Whom the auth rate limit counts for this request: the peer address; behind tailscale
    serve, where every peer is the proxy, the login name the trusted proxy vouches for (else
    all users would share one counter)."""
    host = request.client.host if request.client else "unknown"
    if isinstance(verifier, TailscaleServeVerifier) and verifier.is_trusted(host):
        login = request.headers.get(LOGIN_HEADER)
        if login:
            return f"{SERVE_LOGIN_PREFIX}{login.lower()}"
    return host


def make_verifier(settings: Settings, users: UserStore) -> IdentityVerifier:
    if settings.identity == "dev":
        return DevVerifier()
    if settings.identity == "tailscale":
        api_check = None
        if settings.tailscale_api_key:
            api_check = TailscaleAPICheck(
                settings.tailscale_api_key, settings.tailscale_api_base, settings.tailnet or "-"
            )
        return TailscaleWhoIsVerifier(
            settings.tailscale_socket, api_check=api_check, tailnet=settings.tailnet
        )
    if settings.identity == "tailscale-serve":
        return TailscaleServeVerifier(
            parse_proxies(settings.trusted_proxies), users.account_for_login, settings.tailnet
        )
    raise ValueError(f"unknown identity verifier {settings.identity!r}")
