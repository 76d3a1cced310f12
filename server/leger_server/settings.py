"""Server settings: where data lives, which identity verifier, keys and limits.

Keys (JWT signing secret, AES-256 master keys) come from the environment:

* ``LEGER_SERVER_JWT_SECRET`` – at least 32 bytes of text.
* ``LEGER_SERVER_ENCRYPTION_KEYS`` – ``id:base64key[,id:base64key…]`` (32-byte keys).
* ``LEGER_SERVER_ACTIVE_KEY`` – the id new writes use (default: the last listed).

When they are missing, dev identity generates them into ``<data-dir>/keys.json`` (0600);
any other identity refuses to start, because keys that silently appear on disk in production
would be lost with the machine.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leger_server.errors import SettingsError

KEYS_FILE = "keys.json"
IDENTITIES = ("tailscale", "tailscale-serve", "dev")
DEFAULT_TAILSCALE_SOCKET = "/var/run/tailscale/tailscaled.sock"
DEFAULT_TRUSTED_PROXIES = ("127.0.0.1", "::1")
MiB = 1024 * 1024


@dataclass
class KeySet:
    """The JWT secret and the AES master keys by id. ``source`` is the keys file when the keys
    live in one (so rotate-key can add a key and running servers can re-read it)."""

    jwt_secret: bytes
    encryption_keys: dict[str, bytes]
    active_key: str
    source: Path | None = None

    def __repr__(self) -> str:
        return f"KeySet(active_key={self.active_key!r}, keys={sorted(self.encryption_keys)})"

    def to_json(self) -> dict[str, Any]:
        return {
            "jwt_secret": base64.b64encode(self.jwt_secret).decode(),
            "active_key": self.active_key,
            "encryption_keys": {
                k: base64.b64encode(v).decode() for k, v in self.encryption_keys.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], source: Path | None = None) -> KeySet:
        try:
            keys = {k: base64.b64decode(v) for k, v in data["encryption_keys"].items()}
            keyset = cls(
                jwt_secret=base64.b64decode(data["jwt_secret"]),
                encryption_keys=keys,
                active_key=str(data["active_key"]),
                source=source,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SettingsError(f"invalid keys file {source}: {type(exc).__name__}") from None
        keyset.check()
        return keyset

    def check(self) -> None:
        if len(self.jwt_secret) < 32:
            raise SettingsError("the JWT secret must be at least 32 bytes")
        if not self.encryption_keys:
            raise SettingsError("no encryption key configured")
        for key_id, key in self.encryption_keys.items():
            if len(key) != 32:
                raise SettingsError(f"encryption key {key_id!r} must be 32 bytes (AES-256)")
        if self.active_key not in self.encryption_keys:
            raise SettingsError(f"active key {self.active_key!r} is not among the keys")

    @classmethod
    def generate(cls, source: Path | None = None) -> KeySet:
        return cls(
            jwt_secret=secrets.token_bytes(32),
            encryption_keys={"k1": secrets.token_bytes(32)},
            active_key="k1",
            source=source,
        )

    def save(self) -> None:
        from leger_core.fsutil import atomic_write

        assert self.source is not None
        self.source.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.source, json.dumps(self.to_json(), indent=2).encode(), mode=0o600)


def keys_from_env(env: dict[str, str] | os._Environ[str]) -> KeySet | None:
    jwt_secret = env.get("LEGER_SERVER_JWT_SECRET")
    raw_keys = env.get("LEGER_SERVER_ENCRYPTION_KEYS")
    if not jwt_secret and not raw_keys:
        return None
    if not jwt_secret or not raw_keys:
        raise SettingsError(
            "set both LEGER_SERVER_JWT_SECRET and LEGER_SERVER_ENCRYPTION_KEYS, or neither"
        )
    keys: dict[str, bytes] = {}
    order: list[str] = []
    for part in raw_keys.split(","):
        key_id, sep, b64 = part.strip().partition(":")
        if not sep or not key_id:
            raise SettingsError("LEGER_SERVER_ENCRYPTION_KEYS must be id:base64key[,…]")
        try:
            keys[key_id] = base64.b64decode(b64, validate=True)
        except ValueError:
            raise SettingsError(f"encryption key {key_id!r} is not valid base64") from None
        order.append(key_id)
    keyset = KeySet(
        jwt_secret=jwt_secret.encode(),
        encryption_keys=keys,
        active_key=env.get("LEGER_SERVER_ACTIVE_KEY") or order[-1],
    )
    keyset.check()
    return keyset


@dataclass
class Settings:
    """Everything :func:`leger_server.app.create_app` needs. Build with :meth:`build`."""

    data_dir: Path
    database_url: str
    blobs_url: str
    identity: str  # "tailscale", "tailscale-serve" or "dev"
    keys: KeySet
    tailscale_api_key: str | None = None
    tailscale_api_base: str = "https://api.tailscale.com"
    tailscale_socket: str = DEFAULT_TAILSCALE_SOCKET
    tailnet: str | None = None  # the tailnet's name, else tailscaled's own CurrentTailnet
    trusted_proxies: tuple[str, ...] = DEFAULT_TRUSTED_PROXIES  # for tailscale-serve
    max_json_body: int = 256 * 1024
    max_secret_value: int = 64 * 1024
    max_bundle_bytes: int = 200 * MiB
    max_bundle_files: int = 1000
    max_bundle_unpacked: int = 500 * MiB  # tar headers and padding count too
    max_bundle_seconds: float = 30.0  # wall time to inspect one upload
    auth_rate_limit: int = 20  # requests per window per client address
    auth_rate_window: float = 60.0
    token_days: int = 30
    auto_migrate: bool = True
    environment: str = "production"
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"Settings(data_dir={str(self.data_dir)!r}, identity={self.identity!r}, "
            f"database={_redact_url(self.database_url)!r}, blobs={self.blobs_url!r})"
        )

    @classmethod
    def build(
        cls,
        *,
        data_dir: str | os.PathLike[str],
        database_url: str | None = None,
        blobs_url: str | None = None,
        identity: str = "tailscale",
        env: dict[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        environ = os.environ if env is None else env
        if identity not in IDENTITIES:
            raise SettingsError(
                f"unknown identity {identity!r}; use tailscale, tailscale-serve or dev"
            )
        data = Path(data_dir).resolve()
        secure_data_dir(data)
        keys = keys_from_env(environ)
        if keys is None:
            keys_path = data / KEYS_FILE
            if keys_path.exists():
                keys = KeySet.from_json(json.loads(keys_path.read_text()), source=keys_path)
            elif identity == "dev":
                keys = KeySet.generate(source=keys_path)
                keys.save()
            else:
                raise SettingsError(
                    "no keys: set LEGER_SERVER_JWT_SECRET and LEGER_SERVER_ENCRYPTION_KEYS "
                    f"(or put {KEYS_FILE} in the data dir); only --identity dev generates them"
                )
        api_key = overrides.pop("tailscale_api_key", None) or environ.get(
            "LEGER_SERVER_TAILSCALE_API_KEY"
        )
        api_base = overrides.pop("tailscale_api_base", None) or environ.get(
            "LEGER_SERVER_TAILSCALE_API_BASE", "https://api.tailscale.com"
        )
        for env_name, key, conv in _ENV_OVERRIDES:
            if key not in overrides and environ.get(env_name):
                try:
                    overrides[key] = conv(environ[env_name])
                except ValueError:
                    raise SettingsError(f"{env_name} must be a number") from None
        socket = overrides.pop("tailscale_socket", None) or environ.get(
            "LEGER_SERVER_TAILSCALE_SOCKET", DEFAULT_TAILSCALE_SOCKET
        )
        tailnet = overrides.pop("tailnet", None) or environ.get("LEGER_SERVER_TAILNET") or None
        proxies = overrides.pop("trusted_proxies", None) or tuple(
            p.strip()
            for p in environ.get("LEGER_SERVER_TRUSTED_PROXIES", "").split(",")
            if p.strip()
        )
        proxies = tuple(proxies) or DEFAULT_TRUSTED_PROXIES
        from leger_server.identity import parse_proxies

        try:
            parse_proxies(proxies)
        except ValueError as exc:
            raise SettingsError(f"trusted proxies: {exc}") from None
        return cls(
            data_dir=data,
            database_url=database_url or f"sqlite:///{data / 'leger.db'}",
            blobs_url=blobs_url or str(data / "blobs"),
            identity=identity,
            keys=keys,
            tailscale_api_key=api_key,
            tailscale_api_base=api_base,
            tailscale_socket=socket,
            tailnet=tailnet,
            trusted_proxies=proxies,
            environment="development" if identity == "dev" else "production",
            **overrides,
        )


# What the server writes into its data dir: the database and its journal, keys, blobs.
PRIVATE_FILES = (KEYS_FILE, "leger.db", "leger.db-wal", "leger.db-shm", "leger.db-journal")


def secure_data_dir(data: Path) -> None:
    """Create the data dir 0700, or make an existing one 0700 (and the files the server keeps
    there 0600, ``blobs/`` 0700): it holds the database of encrypted secrets, and SQLite creates
    the database and its WAL with the process umask's mode (0644 under the usual 022). A data
    dir of another user is refused rather than taken over."""
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = data.stat()
    if info.st_uid != os.geteuid():
        raise SettingsError(
            f"the data dir {data} belongs to uid {info.st_uid}, not to this user "
            f"(uid {os.geteuid()}): run leger-server as its owner, or chown it"
        )
    if info.st_mode & 0o077:
        data.chmod(0o700)
    for name in PRIVATE_FILES:
        path = data / name
        if path.is_file() and not path.is_symlink() and path.stat().st_mode & 0o077:
            path.chmod(0o600)
    blobs = data / "blobs"
    if blobs.is_dir() and not blobs.is_symlink() and blobs.stat().st_mode & 0o077:
        blobs.chmod(0o700)


_ENV_OVERRIDES: list[tuple[str, str, Any]] = [
    ("LEGER_SERVER_AUTH_RATE_LIMIT", "auth_rate_limit", int),
    ("LEGER_SERVER_AUTH_RATE_WINDOW", "auth_rate_window", float),
    ("LEGER_SERVER_MAX_BUNDLE_BYTES", "max_bundle_bytes", int),
    ("LEGER_SERVER_MAX_BUNDLE_FILES", "max_bundle_files", int),
    ("LEGER_SERVER_MAX_BUNDLE_UNPACKED", "max_bundle_unpacked", int),
    ("LEGER_SERVER_MAX_BUNDLE_SECONDS", "max_bundle_seconds", float),
]


def _redact_url(url: str) -> str:
    """A database URL without its password, for logs and reprs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable url>"
