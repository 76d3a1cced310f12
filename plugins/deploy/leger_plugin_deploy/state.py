"""Where deployments live and what Leger remembers about them.

    <quadlet_dir>/<name>/…                          the installed files
    $XDG_STATE_HOME/leger/deployments/<name>/state.json
    $XDG_STATE_HOME/leger/deployments/<name>/backups/<id>/…   the files the last change replaced

``state.json`` records the source, the version (a commit, a release version), the sha256 of
every installed file, the units and services, and the state before the last change (with the
id of its backup) so that ``leger deploy rollback`` can restore it byte for byte.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from leger_core.config import Config
from leger_core.errors import ConfigError, ConflictError, InvalidInputError, NotFoundError
from leger_core.fsutil import atomic_write
from leger_core.paths import state_dir

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
SCHEMA = 1


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or name.endswith("."):
        raise InvalidInputError(
            f"invalid deployment name {name!r}: use 1-64 letters, digits, '_', '.' and '-', "
            "not starting with '.' or '-'"
        )
    return name


def quadlet_dir(config: Config) -> Path:
    """``$LEGER_QUADLET_DIR``, else config ``[deploy] quadlet_dir``, else podman's own:
    ``$XDG_CONFIG_HOME/containers/systemd`` for a user, ``/etc/containers/systemd`` for root."""
    value = os.environ.get("LEGER_QUADLET_DIR") or config.get("deploy.quadlet_dir")
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"deploy.quadlet_dir in {config.path} must be a path")
    if value:
        return Path(value).expanduser()
    if os.geteuid() == 0:
        return Path("/etc/containers/systemd")
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "containers" / "systemd"


def user_scope(config: Config) -> bool:
    """Whether units are the user's (``systemctl --user``): config ``[deploy] systemd_scope``
    (``user`` or ``system``), else everyone but root."""
    scope = os.environ.get("LEGER_SYSTEMD_SCOPE") or config.get("deploy.systemd_scope")
    if scope is None:
        return os.geteuid() != 0
    if scope not in ("user", "system"):
        raise ConfigError(f"deploy.systemd_scope must be 'user' or 'system', not {scope!r}")
    return bool(scope == "user")


def deployments_dir() -> Path:
    return state_dir() / "deployments"


@dataclass
class Deployment:
    name: str
    source: dict[str, Any]  # {"kind": "git", "location": …, "options": {"branch": …}}
    version: str
    installed_at: str
    files: dict[str, str]  # relative path → sha256
    units: dict[str, str] = field(default_factory=dict)  # quadlet path → service unit
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    asset_units: dict[str, list[str]] = field(default_factory=dict)
    manifest: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    backup: str | None = None  # set on a "previous" entry: where its files are kept
    previous: Deployment | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["previous"] = self.previous.to_json() if self.previous else None
        return {"schema": SCHEMA, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        data = dict(data)
        data.pop("schema", None)
        previous = data.pop("previous", None)
        known = {f for f in cls.__dataclass_fields__ if f != "previous"}
        dep = cls(**{k: v for k, v in data.items() if k in known})
        dep.previous = cls.from_json(previous) if previous else None
        return dep

    @property
    def short_version(self) -> str:
        return short(self.version)


def short(version: str) -> str:
    return version[:12] if re.fullmatch(r"[0-9a-f]{40,64}", version) else version


class Store:
    """The deployments' state files and backups."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or deployments_dir()

    def dir(self, name: str) -> Path:
        return self.root / check_name(name)

    def state_path(self, name: str) -> Path:
        return self.dir(name) / "state.json"

    def backups(self, name: str) -> Path:
        return self.dir(name) / "backups"

    def load(self, name: str) -> Deployment | None:
        path = self.state_path(name)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return Deployment.from_json(json.loads(raw))
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"deployment state {path} is unreadable: {exc}") from None

    def get(self, name: str) -> Deployment:
        dep = self.load(name)
        if dep is None:
            known = ", ".join(self.names()) or "none installed"
            raise NotFoundError(f"no deployment named {name!r}; installed: {known}")
        return dep

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name for p in self.root.glob("*/state.json"))

    def all(self) -> list[Deployment]:
        return [d for d in (self.load(n) for n in self.names()) if d is not None]

    def save(self, dep: Deployment) -> None:
        path = self.state_path(dep.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(dep.to_json(), indent=2, sort_keys=True).encode() + b"\n"
        atomic_write(path, data, mode=0o600)


@contextlib.contextmanager
def deploy_lock() -> Iterator[None]:
    """One change to deployments at a time (install, update, rollback, remove)."""
    path = state_dir() / "deploy.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConflictError(
                "another leger deploy command is changing deployments; try again when it ends"
            ) from None
        yield
    finally:
        os.close(fd)
