"""The ``envfile`` injector: the same file ``leger secrets fetch`` writes, from given values."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from leger_core.models import InjectResult, SecretValue
from leger_plugin_envfile.envformat import ensure_private_dir, render, write_private
from leger_plugin_envfile.fetch import clean, env_file_path


class EnvFileInjector:
    name = "envfile"

    def __init__(self, leger: Any = None) -> None:
        self.leger = leger

    def __repr__(self) -> str:
        return "EnvFileInjector()"

    def inject(self, service: str, secrets: Mapping[str, SecretValue]) -> InjectResult:
        path = env_file_path(service)
        # Every value is checked before anything is written: all or nothing.
        data = render((env, env, value.reveal()) for env, value in secrets.items())
        ensure_private_dir(os.path.dirname(path))
        write_private(path, data)
        return InjectResult(service=service, strategy=self.name, location=path, names=list(secrets))

    def remove(self, service: str) -> None:
        clean(service)
