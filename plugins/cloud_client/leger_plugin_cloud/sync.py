"""``leger secrets sync``: the account's secrets from leger-server into legerd under
``leger/<user_uuid>/<name>``. Idempotent: an unchanged value makes no new version. A changed
value becomes a new version that is then activated; a name gone from the account is deleted
from legerd (only under the account's prefix)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from leger_core.errors import NotFoundError
from leger_core.models import SecretValue
from leger_plugin_cloud.client import CloudClient


@dataclass
class SyncReport:
    prefix: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    injected: list[dict[str, Any]] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "injected": self.injected,
            "failed": self.failed,
        }


def account_prefix(user_uuid: str) -> str:
    return f"leger/{user_uuid}/"


def sync_secrets(cloud: CloudClient, setec: Any, user_uuid: str) -> SyncReport:
    """Copy every secret of the account into ``setec`` (a SetecClient) under the prefix."""
    prefix = account_prefix(user_uuid)
    report = SyncReport(prefix=prefix)
    remote = {item["name"]: item["value"] for item in cloud.list_secrets(include_values=True)}
    for name in sorted(remote):
        full = prefix + name
        value: SecretValue = remote[name]
        try:
            current, _version = setec.get_versioned(full)
        except NotFoundError:
            setec.put(full, value)  # a secret's first version is active at once
            report.added.append(name)
            continue
        if current == value:
            report.unchanged.append(name)
            continue
        version = setec.put(full, value)
        setec.activate(full, version)
        report.updated.append(name)
    for info in setec.list():
        if info.name.startswith(prefix) and info.name[len(prefix) :] not in remote:
            setec.delete(info.name)
            report.removed.append(info.name[len(prefix) :])
    report.removed.sort()
    return report


def inject_podman(leger: Any, backend: Any, report: SyncReport) -> None:
    """After a sync, refresh podman secrets for every known service through the ``podman``
    injector (all of a service's values or none)."""
    injector = leger.injector("podman")
    for service in leger.service_names():
        try:
            wanted = leger.service_secrets(service)
            values = {item.env: backend.get(item.secret) for item in wanted}
            if not values:
                continue
            result = injector.inject(service, values)
        except Exception as exc:
            report.failed[service] = str(exc)
            continue
        report.injected.append(
            {"service": service, "names": sorted(values), "location": result.location}
        )
