"""The ``initscript`` injector and the work behind ``leger inject initscript``.

The script only names secrets; values stay in legerd until the container starts. Handed values
directly (the :class:`~leger_core.strategies.Injector` protocol), the injector first keeps them in
legerd under ``leger-init/<service>/<ENV>`` and renders a script that fetches those.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from leger_core.errors import NotFoundError
from leger_core.fsutil import atomic_write
from leger_core.models import InjectResult, SecretValue
from leger_plugin_initscript.render import check, render_script

VALUE_PREFIX = "leger-init/"


def scripts_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(base) / "leger" / "initscript"


def script_path(service: str) -> Path:
    return scripts_dir() / f"{service}.sh"


def write_script(service: str, plan: Sequence[tuple[str, str]], path: Path | None = None) -> Path:
    text = render_script(service, plan)
    target = path or script_path(service)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Names only, no values: readable so the container's user (any uid) can run it.
    atomic_write(target, text.encode(), mode=0o755)
    return target


class InitScriptInjector:
    name = "initscript"

    def __init__(self, leger: Any = None, *, client: Any = None) -> None:
        self.leger = leger
        self._client = client

    def __repr__(self) -> str:
        return "InitScriptInjector()"

    @property
    def client(self) -> Any:
        if self._client is None:
            from leger_plugin_setec.client import client_from_config

            self._client = client_from_config(self.leger.config if self.leger else None)
        return self._client

    def inject(self, service: str, secrets: Mapping[str, SecretValue]) -> InjectResult:
        plan = [(env, f"{VALUE_PREFIX}{service}/{env}") for env in secrets]
        check(service, plan)  # everything is checked before legerd or the script changes
        for env, name in plan:
            version = self.client.put(name, secrets[env])
            self.client.activate(name, version)
        path = write_script(service, plan)
        stale = {
            i.name for i in self.client.list() if i.name.startswith(f"{VALUE_PREFIX}{service}/")
        }
        for name in stale - {name for _, name in plan}:
            self.client.delete(name)
        return InjectResult(service, self.name, str(path), names=sorted(secrets))

    def remove(self, service: str) -> None:
        check(service, [])
        with contextlib.suppress(FileNotFoundError):
            script_path(service).unlink()
        for info in self.client.list():
            if info.name.startswith(f"{VALUE_PREFIX}{service}/"):
                with contextlib.suppress(NotFoundError):
                    self.client.delete(info.name)
