"""Which secrets the services of installed deployments need (``leger_service_secrets``).

Read from the state files written at install time — the quadlets' ``Secret=`` lines and the
manifest's ``services[].secrets_required`` — so answering costs a few small JSON reads.
"""

from __future__ import annotations

from leger_core.config import Config
from leger_core.models import ServiceSecret
from leger_core.paths import secret_prefix
from leger_plugin_deploy.state import Store


def service_secrets(service: str, config: Config) -> list[ServiceSecret] | None:
    found = False
    result: dict[str, ServiceSecret] = {}
    prefix: str | None = None
    for dep in Store().all():
        info = dep.services.get(service)
        if info is None:
            continue
        found = True
        if prefix is None:
            prefix = secret_prefix(config)
        for item in info.get("secrets", []):
            env, name = item.get("env"), item.get("name")
            if isinstance(env, str) and isinstance(name, str):
                source = item.get("from", "deploy")
                podman = name if source == "quadlet" else None
                first = result.setdefault(
                    env, ServiceSecret(env=env, secret=prefix + name, source=source)
                )
                if podman is not None and first.podman_name is None:
                    result[env] = ServiceSecret(
                        env=env, secret=first.secret, source=first.source, podman_name=podman
                    )
    if not found:
        return None
    return sorted(result.values(), key=lambda s: s.env)


def service_names() -> list[str]:
    return sorted({svc for dep in Store().all() for svc in dep.services})
