"""The secrets database: versions in memory, the whole of it sealed on disk after each change.

One file, ``secrets.db``: a magic header, a 96-bit nonce and the AES-256-GCM sealed JSON of
every secret. The associated data binds the bytes to what they are (a legerd database, format
1), so a data key file or an audit log pasted in its place fails authentication.

Changes are copy-on-write: the new state is built beside the old, sealed, written crash-safely,
and only then swapped in. A failed write leaves memory and disk as they were, and the caller
gets an error. Readers never take the lock; they see either the old or the new state.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from leger_core.fsutil import atomic_write
from legerd.errors import BadRequest, NotFound, StateError, VersionExists
from legerd.keys import KeyFiles

MAGIC = b"LEGERDB\x01"
DB_AD = MAGIC + b"|secrets.db|format=1"
MAX_NAME_BYTES = 4096  # UTF-8 bytes; setec has no bound, legerd keeps names loggable
DEFAULT_MAX_VALUE = 1 << 20  # 1 MiB: a secret, not a file store (``--max-value-bytes``)
MAX_VERSION = 2**32 - 1  # setec's SecretVersion is a uint32


# Unicode category Cc: C0, DEL and C1. A newline, a tab or an escape sequence in a name would
# forge lines or colours wherever the name is shown (a trailing "\n" included: search, not $).
CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")


def check_name(name: object) -> str:
    """Every name setec accepts (any text: spaces, non-ASCII, ``a//b``, ``/lead``, ``q?x#y``…)
    except what cannot be stored and shown safely: empty, a control character, text that is
    not valid Unicode (a lone surrogate), or more than :data:`MAX_NAME_BYTES` bytes of UTF-8.
    Stricter rules (env var names, podman secret names, file names) belong where a name is
    mapped to one of those, not here."""
    if not isinstance(name, str) or not name:
        raise BadRequest("a secret name is required")
    if CONTROL_RE.search(name):
        raise BadRequest("secret names cannot contain control characters")
    try:
        size = len(name.encode())
    except UnicodeEncodeError:
        raise BadRequest("secret names must be valid Unicode text") from None
    if size > MAX_NAME_BYTES:
        raise BadRequest(f"secret name longer than {MAX_NAME_BYTES} bytes")
    return name


def check_version(version: object, *, allow_zero: bool = True) -> int:
    if isinstance(version, bool) or not isinstance(version, int):
        raise BadRequest("Version must be a whole number")
    if version < 0 or version > MAX_VERSION or (version == 0 and not allow_zero):
        raise BadRequest("invalid version")
    return version


@dataclass(frozen=True)
class Secret:
    """One secret. Treated as immutable: a change makes a new one."""

    versions: dict[int, bytes]
    active: int
    deleted: frozenset[int] = field(default_factory=frozenset)

    @property
    def latest(self) -> int:
        return max(self.versions)

    @property
    def highest_used(self) -> int:
        # Deleted numbers count: a deleted version number is never handed out again.
        return max(self.versions.keys() | self.deleted)

    def to_json(self) -> dict[str, Any]:
        return {
            "versions": {str(v): base64.b64encode(b).decode() for v, b in self.versions.items()},
            "active": self.active,
            "deleted": sorted(self.deleted),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Secret:
        versions = {int(v): base64.b64decode(b) for v, b in doc["versions"].items()}
        return cls(versions, int(doc["active"]), frozenset(int(v) for v in doc["deleted"]))


class SecretStore:
    """The database of one state directory (open it with :meth:`open`)."""

    def __init__(self, path: Path, data_key: bytes, secrets: dict[str, Secret]) -> None:
        self.path = path
        self._aead = AESGCM(data_key)
        self._secrets = secrets
        # Each secret's encoded JSON, kept so a change re-encodes one secret, not all of them.
        self._fragments = {name: _fragment(name, s) for name, s in secrets.items()}
        self._lock = threading.Lock()

    # --- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, state_dir: Path) -> SecretStore:
        data_key, _fp = KeyFiles(state_dir).load_data_key()
        path = state_dir / "secrets.db"
        for stale in state_dir.glob(".secrets.db.*.tmp"):
            stale.unlink()  # a write cut short by a crash; never acknowledged
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise StateError(
                f"{path} is missing but the keys exist; restore it from a backup, or run "
                "`legerd init` to start an empty database"
            ) from None
        return cls(path, data_key, cls._decode(path, data_key, raw))

    @staticmethod
    def _decode(path: Path, data_key: bytes, raw: bytes) -> dict[str, Secret]:
        if not raw.startswith(MAGIC) or len(raw) < len(MAGIC) + 12 + 16:
            raise StateError(f"{path} is not a legerd database; legerd refuses to start")
        nonce = raw[len(MAGIC) : len(MAGIC) + 12]
        try:
            plain = AESGCM(data_key).decrypt(nonce, raw[len(MAGIC) + 12 :], DB_AD)
        except InvalidTag:
            raise StateError(
                f"{path} failed authentication: it was tampered with, damaged, or sealed with "
                "another key; legerd refuses to start and changed nothing"
            ) from None
        doc = json.loads(plain)
        return {name: Secret.from_json(s) for name, s in doc["secrets"].items()}

    @staticmethod
    def create_empty(state_dir: Path, data_key: bytes) -> None:
        SecretStore(state_dir / "secrets.db", data_key, {})._write({})

    # --- reading (no lock: the dict is replaced, never changed in place) --------------------

    def __len__(self) -> int:
        return len(self._secrets)

    def names(self) -> list[str]:
        return sorted(self._secrets)

    def secret(self, name: str) -> Secret:
        try:
            return self._secrets[name]
        except KeyError:
            raise NotFound("not found") from None

    def active_version(self, name: str) -> int | None:
        secret = self._secrets.get(name)
        return None if secret is None else secret.active

    def get(self, name: str, version: int = 0) -> tuple[bytes, int]:
        secret = self.secret(name)
        version = version or secret.active
        try:
            return secret.versions[version], version
        except KeyError:
            raise NotFound("not found") from None

    # --- changing ---------------------------------------------------------------------------

    def put(self, name: str, value: bytes) -> int:
        with self._lock:
            old = self._secrets.get(name)
            if old is None:
                self._commit(name, Secret({1: value}, 1))
                return 1
            if old.versions[old.latest] == value:
                return old.latest  # nothing new: no write, no new version
            version = old.highest_used + 1
            self._commit(name, Secret({**old.versions, version: value}, old.active, old.deleted))
            return version

    def put_many(self, items: dict[str, bytes]) -> dict[str, int]:
        """:meth:`put` for many secrets with one write (imports, benchmarks); all or nothing."""
        with self._lock:
            new = dict(self._secrets)
            versions: dict[str, int] = {}
            for name, value in items.items():
                check_name(name)
                old = new.get(name)
                if old is None:
                    new[name], versions[name] = Secret({1: value}, 1), 1
                elif old.versions[old.latest] == value:
                    versions[name] = old.latest
                else:
                    version = old.highest_used + 1
                    new[name] = Secret({**old.versions, version: value}, old.active, old.deleted)
                    versions[name] = version
            fragments = dict(self._fragments)
            for name in items:
                fragments[name] = _fragment(name, new[name])
            self._write(fragments)
            self._secrets, self._fragments = new, fragments
            return versions

    def create_version(self, name: str, version: int, value: bytes) -> None:
        with self._lock:
            old = self._secrets.get(name)
            if old is None:
                self._commit(name, Secret({version: value}, version))
                return
            if version in old.versions or version in old.deleted:
                raise VersionExists("version already set")
            self._commit(name, Secret({**old.versions, version: value}, version, old.deleted))

    def activate(self, name: str, version: int) -> None:
        with self._lock:
            old = self.secret(name)
            if version not in old.versions:
                raise NotFound("not found")
            if old.active != version:
                self._commit(name, Secret(old.versions, version, old.deleted))

    def delete(self, name: str) -> bool:
        """Remove every version; a name that does not exist is already deleted (setec answers
        200 for it too), so nothing is written. Returns whether there was something to remove."""
        with self._lock:
            if name not in self._secrets:
                return False
            self._commit(name, None)
            return True

    def delete_version(self, name: str, version: int) -> None:
        with self._lock:
            old = self.secret(name)
            if version not in old.versions:
                raise NotFound("not found")
            if version == old.active:
                raise BadRequest("cannot delete the active version")
            versions = {v: b for v, b in old.versions.items() if v != version}
            self._commit(name, Secret(versions, old.active, old.deleted | {version}))

    def _commit(self, name: str, secret: Secret | None) -> None:
        new, fragments = dict(self._secrets), dict(self._fragments)
        if secret is None:
            del new[name], fragments[name]
        else:
            new[name], fragments[name] = secret, _fragment(name, secret)
        self._write(fragments)  # raises: memory keeps the old state
        self._secrets, self._fragments = new, fragments

    def _write(self, fragments: dict[str, bytes]) -> None:
        plain = b'{"format":1,"secrets":{' + b",".join(fragments.values()) + b"}}"
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plain, DB_AD)
        atomic_write(self.path, MAGIC + nonce + sealed, mode=0o600)


def _fragment(name: str, secret: Secret) -> bytes:
    return (json.dumps(name) + ":" + json.dumps(secret.to_json(), separators=(",", ":"))).encode()
