"""Who is calling, and what they may do: principals, access rules and bearer tokens.

Rules are TOML (``access.toml`` in the state directory, or ``--rules FILE``)::

    socket_mode = "0666"          # optional: let other local users connect (rules still apply)

    [[allow]]
    principals = ["user:alice", "uid:1001", "token:ci", "tailscale:bob@example.com", "tag:prod"]
    actions = ["get", "info"]      # get info put create-version activate delete, or "*"
    secrets = ["leger/alice/*"]    # globs; "*" matches "/" too

    [tokens]
    ci = "sha256:<hex of sha256(token)>"   # `legerd token add ci` writes this line

The user legerd runs as has every action on its own Unix socket; everyone else has exactly what
the rules give them. Reads that list (``/api/list``) show only what the caller may ``info``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import pwd
import secrets as pysecrets
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from legerd.errors import StateError

ACTIONS = ("get", "info", "put", "create-version", "activate", "delete")
PRINCIPAL_KINDS = ("uid", "user", "token", "tailscale", "tag")


@dataclass(frozen=True)
class Principal:
    """A caller. ``owner`` is the user legerd runs as, on the Unix socket."""

    kind: str  # unix, token, tailscale, anonymous
    uid: int | None = None
    user: str | None = None  # unix user name or Tailscale login name
    token: str | None = None  # the token's name, never the token
    tags: tuple[str, ...] = ()
    owner: bool = False

    def labels(self) -> list[str]:
        """Every spec this principal answers to (``uid:0``, ``user:root``, ``tag:prod``…)."""
        if self.kind == "unix":
            out = [f"uid:{self.uid}"]
            if self.user:
                out.append(f"user:{self.user}")
            return out
        if self.kind == "token":
            return [f"token:{self.token}"]
        if self.kind == "tailscale":
            return [f"tailscale:{self.user}"] if self.user else list(self.tags)
        return []

    @cached_property
    def label(self) -> str:
        """For the audit log: computed once per principal (i.e. once per connection)."""
        labels = self.labels()
        return ",".join(labels) if labels else "anonymous"

    def __str__(self) -> str:
        return self.label


ANONYMOUS = Principal("anonymous")


def unix_principal(uid: int, owner_uid: int) -> Principal:
    try:
        user: str | None = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = None
    return Principal("unix", uid=uid, user=user, owner=uid == owner_uid)


@dataclass(frozen=True)
class Rule:
    principals: tuple[str, ...]
    actions: tuple[str, ...]
    secrets: tuple[str, ...]


def hash_token(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "legerd_" + pysecrets.token_urlsafe(32)


class AccessRules:
    def __init__(
        self,
        rules: list[Rule] | None = None,
        tokens: dict[str, str] | None = None,
        socket_mode: int | None = None,
        path: Path | None = None,
    ) -> None:
        self.rules = rules or []
        self.tokens = tokens or {}  # name → "sha256:hex"
        self.socket_mode = socket_mode
        self.path = path

    @classmethod
    def load(cls, path: Path) -> AccessRules:
        try:
            doc = tomllib.loads(path.read_text())
        except FileNotFoundError:
            return cls(path=path)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise StateError(f"cannot read access rules {path}: {exc}") from None
        return cls.from_dict(doc, path)

    @classmethod
    def from_dict(cls, doc: dict[str, Any], path: Path | None = None) -> AccessRules:
        where = str(path or "access rules")
        rules = []
        for i, item in enumerate(doc.get("allow", [])):
            if not isinstance(item, dict):
                raise StateError(f"{where}: [[allow]] #{i + 1} must be a table")
            principals = _strings(item, "principals", where, i)
            for p in principals:
                kind = p.partition(":")[0]
                if kind not in PRINCIPAL_KINDS or ":" not in p:
                    raise StateError(
                        f"{where}: unknown principal {p!r}; use "
                        + ", ".join(f"{k}:…" for k in PRINCIPAL_KINDS)
                    )
            actions = _strings(item, "actions", where, i)
            for a in actions:
                if a != "*" and a not in ACTIONS:
                    raise StateError(f"{where}: unknown action {a!r}; known: {', '.join(ACTIONS)}")
            rules.append(Rule(principals, actions, _strings(item, "secrets", where, i)))
        tokens = doc.get("tokens", {})
        if not isinstance(tokens, dict) or not all(
            isinstance(v, str) and v.startswith("sha256:") for v in tokens.values()
        ):
            raise StateError(f'{where}: [tokens] maps a name to "sha256:<hex>"')
        mode = doc.get("socket_mode")
        socket_mode = int(mode, 8) if isinstance(mode, str) else None
        return cls(rules, dict(tokens), socket_mode, path)

    def token_principal(self, token: str) -> Principal | None:
        presented = hash_token(token)
        found = None
        for name, stored in self.tokens.items():
            # Compare every entry, so timing says nothing about which (if any) matched.
            if hmac.compare_digest(presented, stored):
                found = name
        return Principal("token", token=found) if found else None

    def allowed(self, who: Principal, action: str, name: str) -> bool:
        if who.owner:
            return True
        labels = set(who.labels())
        if not labels:
            return False
        for rule in self.rules:
            if not labels.intersection(rule.principals):
                continue
            if "*" not in rule.actions and action not in rule.actions:
                continue
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in rule.secrets):
                return True
        return False

    @property
    def has_remote_auth(self) -> bool:
        return bool(self.tokens)


def _strings(item: dict[str, Any], key: str, where: str, i: int) -> tuple[str, ...]:
    value = item.get(key)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise StateError(f'{where}: [[allow]] #{i + 1} needs {key} = ["…"]')
    return tuple(value)
