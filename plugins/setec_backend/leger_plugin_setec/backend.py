"""The ``setec`` secret backend: a :class:`SetecClient` with a conditional-get cache.

The cache lives in memory for the life of the backend object only (values never touch disk).
A repeated ``get`` of the active version asks the server "changed since version N?" and the
server answers 304 without sending the value again.
"""

from __future__ import annotations

from leger_core.values import SecretInfo, SecretValue
from leger_plugin_setec.client import SetecClient, client_from_config

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: on the container-start path
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


class SetecBackend:
    def __init__(self, client: SetecClient) -> None:
        self.client = client
        self._cache: dict[str, tuple[int, SecretValue]] = {}

    def __repr__(self) -> str:
        return f"SetecBackend({self.client.address!r})"

    def close(self) -> None:
        self.client.close()

    def get(self, name: str, version: int = 0) -> SecretValue:
        if version:
            return self.client.get(name, version)
        cached = self._cache.get(name)
        if cached is not None:
            fresh = self.client.get_versioned(name, cached[0], update_if_changed=True)
            if fresh is None:
                return cached[1]
        else:
            fresh = self.client.get_versioned(name)
        assert fresh is not None
        value, got = fresh
        self._cache[name] = (got, value)
        return value

    def get_many(self, names: Sequence[str]) -> dict[str, SecretValue]:
        return self.client.get_many(names)

    def put(self, name: str, value: SecretValue) -> int:
        """setec keeps a changed value as a new inactive version; the backend contract means
        "this is the value now", so a new version is activated."""
        version = self.client.put(name, value)
        if self.client.info(name).active_version != version:
            self.client.activate(name, version)
        self._cache.pop(name, None)
        return version

    def info(self, name: str) -> SecretInfo:
        return self.client.info(name)

    def list(self) -> list[SecretInfo]:
        return self.client.list()

    def delete(self, name: str) -> None:
        self._cache.pop(name, None)
        self.client.delete(name)

    def activate(self, name: str, version: int) -> None:
        self._cache.pop(name, None)
        self.client.activate(name, version)

    def delete_version(self, name: str, version: int) -> None:
        self.client.delete_version(name, version)


def backend_factory(leger: Any) -> SetecBackend:
    return SetecBackend(client_from_config(leger.config))
