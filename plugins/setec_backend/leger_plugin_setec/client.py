"""A client for legerd or any tailscale/setec server, on a Unix socket or an http(s) URL.

This module runs on every container start (``leger secrets fetch``, ``leger driver lookup``),
so it imports only the standard library's C modules plus leger_core's cheap modules:
``binascii`` rather than ``base64`` (which imports ``re``), :mod:`leger_core.lightjson` rather
than ``json``, and :mod:`leger_core.unixhttp` (on ``_socket``) for HTTP over the Unix socket;
http.client and ssl are imported only for URLs.
"""

from __future__ import annotations

import binascii
import os

from leger_core import lightjson
from leger_core import setec_api as wire
from leger_core.errors import (
    ConflictError,
    DeniedError,
    InvalidInputError,
    LegerError,
    NotFoundError,
    UnavailableError,
)
from leger_core.unixhttp import Closing, Connection, Response
from leger_core.values import SecretInfo, SecretValue

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from leger_core.config import Config


def default_socket() -> str:
    if os.getuid() == 0:
        return "/run/legerd/legerd.sock"
    from leger_core.paths import runtime_base  # imports only os: fine on the container-start path

    return os.path.join(runtime_base(), "legerd.sock")


def legerd_address(config: Config | None = None) -> str:
    """Where legerd is: ``$LEGERD_SOCKET``, else config ``legerd.socket`` or ``legerd.url``,
    else ``$XDG_RUNTIME_DIR/legerd.sock`` (``/run/legerd/legerd.sock`` for root)."""
    env = os.environ.get("LEGERD_SOCKET")
    if env:
        return env
    if config is None:
        from leger_core.config import Config  # only when the environment did not say

        try:
            config = Config.load()
        except LegerError:
            config = None
    if config is not None:
        for key in ("legerd.socket", "legerd.url"):
            value = config.get(key)
            if isinstance(value, str) and value:
                return value
    return default_socket()


def client_from_config(config: Any, *, timeout: float = 5.0) -> SetecClient:
    """A client for the configured legerd; a bearer token comes from ``$LEGERD_TOKEN`` or the
    file named by config ``legerd.token_file`` (never from the config file itself)."""
    token = os.environ.get("LEGERD_TOKEN")
    token_file = config.get("legerd.token_file") if config is not None else None
    if not token and isinstance(token_file, str):
        from leger_core.errors import ConfigError

        try:
            with open(os.path.expanduser(token_file)) as fh:
                token = fh.read().strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read legerd.token_file {token_file}: {exc.strerror}"
            ) from None
    return SetecClient(legerd_address(config), token=token or None, timeout=timeout)


class _URLHTTP(Closing):
    """http(s):// through http.client (imported only here: URLs are not the fast path), with
    :class:`~leger_core.unixhttp.Connection`'s methods."""

    def __init__(self, url: str, timeout: float) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInputError(f"not a setec server address: {url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.conn: Any = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        import http.client

        if self.conn is None:
            cls = (
                http.client.HTTPSConnection
                if self.scheme == "https"
                else http.client.HTTPConnection
            )
            self.conn = cls(self.host, self.port, timeout=self.timeout)
        try:
            self.conn.request(method, self.prefix + target, body=body, headers=headers)
            resp = self.conn.getresponse()
            data: bytes = resp.read()
        except (http.client.HTTPException, OSError):
            self.close()
            raise ConnectionError("request failed") from None
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)

    def request_many(
        self, method: str, target: str, headers: dict[str, str], bodies: list[bytes]
    ) -> list[Response]:
        return [self.request(method, target, headers, body) for body in bodies]


class SetecClient(Closing):
    """setec's API: ``get``, ``get_if_changed``, ``info``, ``list``, ``put``, ``create_version``,
    ``activate``, ``delete``, ``delete_version``. Errors are leger_core's typed errors; no
    message ever holds a value."""

    def __init__(self, address: str, *, token: str | None = None, timeout: float = 5.0) -> None:
        self.address = address
        self._token = token
        self._is_url = address.startswith(("http://", "https://"))
        self._http: Connection | _URLHTTP = (
            _URLHTTP(address, timeout)
            if self._is_url
            else Connection(address, timeout=timeout, host="legerd")
        )

    def __repr__(self) -> str:
        return f"SetecClient({self.address!r})"

    def close(self) -> None:
        self._http.close()

    # --- the API ---------------------------------------------------------------------------

    def get(self, name: str, version: int = 0) -> SecretValue:
        result = self.get_versioned(name, version)
        assert result is not None
        return result[0]

    def get_if_changed(self, name: str, version: int) -> SecretValue | None:
        """The active value, or None (setec's 304) when the active version is ``version``."""
        result = self.get_versioned(name, version, update_if_changed=True)
        return None if result is None else result[0]

    def get_versioned(
        self, name: str, version: int = 0, *, update_if_changed: bool = False
    ) -> tuple[SecretValue, int] | None:
        """(value, version); None only for ``update_if_changed`` when nothing changed."""
        body: dict[str, Any] = {wire.NAME: name, wire.VERSION: version}
        if update_if_changed:
            body["UpdateIfChanged"] = True
        status, data = self._call(wire.GET, body, name, version)
        if status == 304:
            return None
        return self._decode_get(data)

    def get_many(self, names: Sequence[str]) -> dict[str, SecretValue]:
        """The active values of ``names``, all asked for at once (about one round trip on a
        Unix socket, however many names). A name the server does not have is left out of the
        answer; any other refusal raises, as :meth:`get` would."""
        payloads = [lightjson.dumps({wire.NAME: n, wire.VERSION: 0}).encode() for n in names]
        answers = self._exchange(wire.GET, payloads)
        values: dict[str, SecretValue] = {}
        for name, answer in zip(names, answers, strict=True):
            if answer.status == 404:
                continue
            self._check(answer.status, answer.body, wire.GET, name, 0)
            values[name] = self._decode_get(answer.body)[0]
        return values

    def info(self, name: str) -> SecretInfo:
        _, data = self._call(wire.INFO, {wire.NAME: name}, name)
        return self._info(self._json(data))

    def list(self) -> list[SecretInfo]:
        _, data = self._call(wire.LIST, {}, None)
        doc = self._json(data)
        return [self._info(item) for item in doc or []]

    def put(self, name: str, value: SecretValue) -> int:
        _, data = self._call(wire.PUT, {wire.NAME: name, wire.VALUE: self._b64(value)}, name)
        version = self._json(data)
        if not isinstance(version, int):
            raise LegerError(f"unexpected answer from {self.address} to /api/put")
        return version

    def create_version(self, name: str, version: int, value: SecretValue) -> None:
        body = {wire.NAME: name, wire.VERSION: version, wire.VALUE: self._b64(value)}
        self._call(wire.CREATE_VERSION, body, name, version)

    def activate(self, name: str, version: int) -> None:
        self._call(wire.ACTIVATE, {wire.NAME: name, wire.VERSION: version}, name, version)

    def delete(self, name: str) -> None:
        self._call(wire.DELETE, {wire.NAME: name}, name)

    def delete_version(self, name: str, version: int) -> None:
        self._call(wire.DELETE_VERSION, {wire.NAME: name, wire.VERSION: version}, name, version)

    # --- plumbing --------------------------------------------------------------------------

    def _decode_get(self, data: bytes) -> tuple[SecretValue, int]:
        doc = self._json(data)
        try:
            return SecretValue(binascii.a2b_base64(doc[wire.VALUE])), int(doc[wire.VERSION])
        except (KeyError, TypeError, ValueError):
            raise LegerError(f"unexpected answer from {self.address} to /api/get") from None

    @staticmethod
    def _b64(value: SecretValue) -> str:
        return binascii.b2a_base64(value.reveal(), newline=False).decode("ascii")

    def _info(self, doc: Any) -> SecretInfo:
        try:
            return SecretInfo(
                name=str(doc[wire.NAME]),
                versions=tuple(int(v) for v in doc[wire.VERSIONS]),
                active_version=int(doc[wire.ACTIVE_VERSION]),
            )
        except (KeyError, TypeError, ValueError):
            raise LegerError(f"unexpected SecretInfo from {self.address}") from None

    def _json(self, data: bytes) -> Any:
        try:
            return lightjson.loads(data)
        except ValueError:
            raise LegerError(f"{self.address} did not answer JSON") from None

    def _call(
        self, method: str, body: dict[str, Any], name: str | None, version: int = 0
    ) -> tuple[int, bytes]:
        [answer] = self._exchange(method, [lightjson.dumps(body).encode()])
        self._check(answer.status, answer.body, method, name, version)
        return answer.status, answer.body

    def _exchange(self, method: str, payloads: Sequence[bytes]) -> Sequence[Response]:
        """POST each payload to ``/api/METHOD``; transport failures become typed errors."""
        headers = {
            "Content-Type": wire.CONTENT_TYPE,
            wire.NO_BROWSERS_HEADER: wire.NO_BROWSERS_VALUE,
        }
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        target = wire.path(method)
        try:
            if len(payloads) == 1:
                return [self._http.request("POST", target, headers, payloads[0])]
            return self._http.request_many("POST", target, headers, list(payloads))
        except ValueError:  # only the token comes from outside: a line break, or not Latin-1
            raise InvalidInputError(
                "the legerd token cannot be sent in an HTTP header (check LEGERD_TOKEN or "
                "legerd.token_file)"
            ) from None
        except (FileNotFoundError, ConnectionRefusedError):
            raise self._not_running() from None
        except TimeoutError:
            self._http.close()
            raise UnavailableError(f"legerd at {self.address} did not answer in time") from None
        except OSError as exc:
            self._http.close()
            if isinstance(exc, PermissionError):
                raise DeniedError(
                    f"no permission to connect to legerd at {self.address}",
                    hint="ask its owner for access, or run your own legerd",
                ) from None
            raise UnavailableError(
                f"cannot reach legerd at {self.address}: {exc.strerror or exc}"
            ) from None

    def _check(self, status: int, data: bytes, method: str, name: str | None, version: int) -> None:
        if status not in (200, 304):
            self._raise_for(status, data, method, name, version)

    def _not_running(self) -> UnavailableError:
        if self._is_url:
            return UnavailableError(f"the setec server at {self.address} is not reachable")
        return UnavailableError(
            f"legerd is not running at {self.address}",
            hint=f"start it with `legerd serve --socket {self.address}`, "
            "or point LEGERD_SOCKET at the socket of a running legerd",
        )

    def _raise_for(
        self, status: int, data: bytes, method: str, name: str | None, version: int
    ) -> None:
        text = data.decode("utf-8", "replace").strip()[:200]
        what = f"{name!r}" if name else "secrets"
        if version:
            what += f" version {version}"
        if status == 403:
            raise DeniedError(f"legerd denied {method} on {what}: {text}")
        if status == 404:
            raise NotFoundError(f"secret {what} not found at {self.address}")
        if status == 400:
            raise InvalidInputError(f"legerd refused {method} on {what}: {text}")
        if status == 412:
            raise ConflictError(f"secret {what} already exists or was deleted: {text}")
        if status >= 500:
            raise UnavailableError(f"legerd failed {method} on {what}: {status} {text}")
        raise LegerError(f"legerd answered {status} to {method} on {what}: {text}")
