"""The ``cloud`` secret backend: the logged-in account's secrets on leger-server.

The server keeps the current value of each secret (its version number counts updates), so
``get(name, version)`` answers only the current version; older ones are NotFound."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from leger_core.errors import NotFoundError
from leger_core.models import SecretInfo, SecretValue
from leger_plugin_cloud.client import CloudClient


class CloudSecretBackend:
    def __init__(self, client: CloudClient) -> None:
        self.client = client

    def __repr__(self) -> str:
        return f"CloudSecretBackend({self.client.server_url!r})"

    def get(self, name: str, version: int = 0) -> SecretValue:
        item = self.client.secret(name)
        if version and version != item["version"]:
            raise NotFoundError(
                f"secret {name!r} version {version} not found "
                f"(leger-server keeps the current version, {item['version']})"
            )
        value: SecretValue = item["value"]
        return value

    def get_many(self, names: Sequence[str]) -> dict[str, SecretValue]:
        """One request for the whole account (``include_values``), whatever ``names`` holds."""
        wanted = set(names)
        return {
            item["name"]: item["value"]
            for item in self.client.list_secrets(include_values=True)
            if item["name"] in wanted
        }

    def put(self, name: str, value: SecretValue) -> int:
        version: int = self.client.set_secret(name, value)["version"]
        return version

    def info(self, name: str) -> SecretInfo:
        item = self.client.secret(name)
        return SecretInfo(name=name, versions=(item["version"],), active_version=item["version"])

    def list(self) -> list[SecretInfo]:
        return [
            SecretInfo(name=i["name"], versions=(i["version"],), active_version=i["version"])
            for i in sorted(self.client.list_secrets(), key=lambda i: i["name"])
        ]

    def delete(self, name: str) -> None:
        self.client.delete_secret(name)


def backend_factory(leger: Any) -> CloudSecretBackend:
    from leger_plugin_cloud.session import current_client

    return CloudSecretBackend(current_client(leger))
