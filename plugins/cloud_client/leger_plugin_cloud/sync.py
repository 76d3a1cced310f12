"""``leger secrets sync``: the account's secrets from leger-server into a secret backend (legerd
by default) under ``leger/<user_uuid>/<name>``. Idempotent: an unchanged value makes no new
version. A changed value becomes the active one (the backend contract's ``put``); a name gone
from the account is deleted from the backend (only under the account's prefix)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from leger_core.backends import DEFAULT_BACKEND, plan_for, read_plan
from leger_core.models import SecretValue
from leger_core.paths import account_prefix
from leger_core.strategies import SecretBackend
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


def sync_secrets(cloud: CloudClient, backend: SecretBackend, user_uuid: str) -> SyncReport:
    """Copy every secret of the account into ``backend`` under the prefix."""
    prefix = account_prefix(user_uuid)
    report = SyncReport(prefix=prefix)
    remote = {item["name"]: item["value"] for item in cloud.list_secrets(include_values=True)}
    current = backend.get_many([prefix + name for name in sorted(remote)])
    for name in sorted(remote):
        full = prefix + name
        value: SecretValue = remote[name]
        if full not in current:
            backend.put(full, value)
            report.added.append(name)
        elif current[full] == value:
            report.unchanged.append(name)
        else:
            backend.put(full, value)
            report.updated.append(name)
    for info in backend.list():
        if info.name.startswith(prefix) and info.name[len(prefix) :] not in remote:
            backend.delete(info.name)
            report.removed.append(info.name[len(prefix) :])
    report.removed.sort()
    return report


def inject_podman(
    leger: Any, backend: SecretBackend, report: SyncReport, backend_name: str = DEFAULT_BACKEND
) -> None:
    """After a sync, refresh podman secrets for every known service through the ``podman``
    injector (all of a service's values or none). ``backend`` (named ``backend_name``) is the
    one just synced; a reference naming another backend is read from that one."""
    injector = leger.injector("podman")
    for service in leger.service_names():
        try:
            wanted = leger.service_secrets(service)
            plan = plan_for(((s.env, s.secret) for s in wanted), backend_name)
            with leger.backends() as open_other:
                values = read_plan(plan, lambda n: backend if n == backend_name else open_other(n))
            if not values:
                continue
            result = injector.inject(service, values)
        except Exception as exc:
            report.failed[service] = str(exc)
            continue
        report.injected.append(
            {"service": service, "names": sorted(values), "location": result.location}
        )
