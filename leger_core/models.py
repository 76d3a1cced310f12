"""Value types shared by the core and plugins.

``SecretValue`` and ``SecretInfo`` live in :mod:`leger_core.values` (kept cheap to import for
the per-container-start commands) and are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from leger_core.values import SecretInfo, SecretValue

__all__ = ["InjectResult", "SecretInfo", "SecretValue", "ServiceSecret"]


@dataclass(frozen=True)
class ServiceSecret:
    """One secret a service needs: which env var it becomes and the backend name it is read from."""

    env: str
    secret: str
    source: str = "config"  # where this requirement came from: config, manifest, quadlet, …
    # The podman secret a release's quadlet names for it (``Secret=NAME,…``): the contract the
    # podman and driver strategies create; None means ``<service>_<env>``.
    podman_name: str | None = None


@dataclass
class InjectResult:
    """What an injector did, for humans and ``--json``. Never holds values."""

    service: str
    strategy: str
    location: str
    names: list[str] = field(default_factory=list)
    changed: bool = True
    extra: dict[str, str] = field(default_factory=dict)
